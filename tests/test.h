// test.h — the tiny harness every C test uses. Each check prints a line on failure; the
// program ends with "N passed, M failed" and exits non-zero if anything failed.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int t_passed, t_failed;

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

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}
