// test.h — the tiny harness every C test uses. Each check prints a line on failure; the
// program ends with "N passed, M failed" and exits non-zero if anything failed (or if it
// checked nothing at all).
//
//   CHECK(cond, fmt, ...)    one counted check: a scenario or a property, not an inner iteration
//   EXPECT(cond, fmt, ...)   an assertion inside a loop or a helper: a failure prints (the first
//                            few) and is remembered, a pass counts nothing; the next
//   CHECK_EXPECTED(fmt, ...) records one check for everything EXPECTed since the last one
//   REQUIRE(cond, fmt, ...)  a precondition of the test itself (a temporary directory, a setup
//                            the later checks rely on): not counted as a pass; when it does not
//                            hold the program reports one failure and ends
//   test_seed(dflt)          the seed of a randomised test: BERRY_TEST_SEED when set, else dflt
//                            (0: a fresh one); printed, so a failure can be replayed
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int t_passed, t_failed, t_expect_failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            t_passed++;                                                    \
        } else {                                                           \
            t_failed++;                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

// Relative error check: |a-b| <= tol * max(|b|, floor)
#define CHECK_CLOSE(a, b, tol, ...) CHECK(fabs((double)(a) - (double)(b)) <= (tol) * fmax(fabs((double)(b)), 1e-30) || (a) == (b), __VA_ARGS__)

#define EXPECT(cond, ...)                                                          \
    do {                                                                           \
        if (!(cond) && t_expect_failed++ < 5) {                                    \
            fprintf(stderr, "  expected at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
        }                                                                          \
    } while (0)

#define CHECK_EXPECTED(...)                                                                 \
    do {                                                                                    \
        int n_exp_ = t_expect_failed;                                                       \
        t_expect_failed = 0;                                                                \
        CHECK(n_exp_ == 0, __VA_ARGS__);                                                    \
        if (n_exp_) fprintf(stderr, "  (%d expectation%s above failed)\n", n_exp_, n_exp_ > 1 ? "s" : ""); \
    } while (0)

static inline int test_summary(void);

#define REQUIRE(cond, ...)                                                                  \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "FAIL %s:%d: precondition %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fputc('\n', stderr);                                                            \
            t_failed++;                                                                     \
            exit(test_summary());                                                           \
        }                                                                                   \
    } while (0)

static inline uint64_t test_seed(uint64_t dflt) {
    const char *s = getenv("BERRY_TEST_SEED");
    uint64_t seed = dflt;
    if (s && *s) {
        char *end;
        seed = strtoull(s, &end, 0);
        if (*end) {
            fprintf(stderr, "BERRY_TEST_SEED=%s is not a number\n", s);
            exit(2);
        }
    } else if (!seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
        seed = seed % 1000000000u + 1;  // short enough to type
    }
    printf("seed %llu (replay with BERRY_TEST_SEED=%llu)\n", (unsigned long long)seed, (unsigned long long)seed);
    return seed;
}

static inline int test_summary(void) {
    if (t_expect_failed) {  // EXPECTs never closed by a CHECK_EXPECTED
        fprintf(stderr, "FAIL: %d expectation(s) failed outside any CHECK_EXPECTED\n", t_expect_failed);
        t_failed++;
        t_expect_failed = 0;
    }
    if (t_passed == 0 && t_failed == 0) {
        fprintf(stderr, "FAIL: the program checked nothing\n");
        t_failed = 1;
    }
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}
