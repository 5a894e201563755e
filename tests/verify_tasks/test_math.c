// test_math.c — the math verifier: bounded big integers, answer extraction, tricky
// numeric answers, algebraic equivalence, problems that cannot be checked, and a fuzz run
// (random bytes, random expressions, hostile expressions) with a bound on time per check.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/base.h"
#include "tests/test.h"
#include "verify/math.h"
#include "verify/math_expr.h"
#include "verify/math_num.h"

// ---- big integers ----------------------------------------------------------------------------

static void dec(const mb_int *a, char *buf, size_t cap) {
    if (mb_to_decimal(a, buf, cap) < 0) snprintf(buf, cap, "<too long>");
}

static void test_bigint(void) {
    uint64_t g = 42;
    char got[512], want[64];
    // Against __int128 for random 62-bit operands.
    for (int i = 0; i < 20000; i++) {
        int64_t a = (int64_t)(rng_next(&g) >> 2) * ((rng_next(&g) & 1) ? -1 : 1) >> (rng_next(&g) % 62);
        int64_t b = (int64_t)(rng_next(&g) >> 2) * ((rng_next(&g) & 1) ? -1 : 1) >> (rng_next(&g) % 62);
        mb_int x, y, r;
        mb_set_i64(&x, a);
        mb_set_i64(&y, b);
        __int128 want_v[3] = {(__int128)a + b, (__int128)a - b, (__int128)a * b};
        for (int op = 0; op < 3; op++) {
            int rc = op == 0 ? mb_add(&r, &x, &y) : op == 1 ? mb_sub(&r, &x, &y) : mb_mul(&r, &x, &y);
            __int128 v = want_v[op];
            unsigned __int128 m = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
            char tmp[64];
            int n = 0;
            do {
                tmp[n++] = (char)('0' + (int)(m % 10));
                m /= 10;
            } while (m);
            int o = 0;
            if (v < 0) want[o++] = '-';
            while (n) want[o++] = tmp[--n];
            want[o] = 0;
            dec(&r, got, sizeof got);
            EXPECT(rc == 0 && strcmp(got, want) == 0, "op %d on %lld, %lld: got %s (rc %d), want %s", op, (long long)a,
                   (long long)b, got, rc, want);
        }
        EXPECT(mb_cmp(&x, &y) == (a < b ? -1 : a > b), "cmp %lld %lld", (long long)a, (long long)b);
    }
    CHECK_EXPECTED("add, sub, mul and cmp of 20000 random 62-bit pairs against __int128");
    // Beyond 128 bits.
    mb_int a, b, r;
    CHECK(mb_from_decimal(&a, "12345678901234567890", 20) == 0, "parse");
    CHECK(mb_mul(&r, &a, &a) == 0, "square");
    dec(&r, got, sizeof got);
    CHECK(!strcmp(got, "152415787532388367501905199875019052100"), "20-digit square: %s", got);
    CHECK(mb_from_decimal(&a, "98765432109876543210987654321", 29) == 0, "parse 29 digits");
    a.neg = 1;
    CHECK(mb_from_decimal(&b, "123456789012345678901234567890", 30) == 0, "parse 30 digits");
    CHECK(mb_mul(&r, &a, &b) == 0, "mul");
    dec(&r, got, sizeof got);
    CHECK(!strcmp(got, "-12193263113702179522618503273362292333223746380111126352690"), "59-digit product: %s", got);
    // Capacity: 2^1279 fits, 2^1280 does not; repeated squaring hits the cap with an error.
    mq_rat two, p;
    mq_set_i64(&two, 2);
    CHECK(mq_pow(&p, &two, 64) == MQ_OK, "2^64");
    mq_rat big = p;
    int rc = MQ_OK, steps = 0;
    while (rc == MQ_OK && steps < 10) {
        rc = mq_mul(&big, &big, &big);
        steps++;
    }
    CHECK(rc == MQ_OVERFLOW && steps == 5, "squaring 2^64 overflows at the 5th step (2^2048), rc %d steps %d", rc, steps);
    // Rationals: 1/2 == 2/4 == 0.5; -0 == 0; division by zero reported.
    mq_rat h1, h2, z, n0;
    char err[128];
    CHECK(math_parse_number("1/2", 3, &h1, err, sizeof err) == 0, "1/2");
    CHECK(math_parse_number("2/4", 3, &h2, err, sizeof err) == 0, "2/4");
    CHECK(mq_eq(&h1, &h2), "1/2 == 2/4");
    CHECK(math_parse_number("-0", 2, &n0, err, sizeof err) == 0 && mq_is_zero(&n0), "-0 is zero");
    mq_set_i64(&z, 0);
    CHECK(mq_div(&p, &h1, &z) == MQ_DIVZERO, "x/0");
    CHECK(mq_pow(&p, &z, -1) == MQ_DIVZERO, "0^-1");
    mq_rat one;
    mq_set_i64(&one, 1);
    CHECK(mq_pow(&p, &z, 0) == MQ_OK && mq_eq(&p, &one), "0^0 = 1");
}

// ---- extraction ------------------------------------------------------------------------------

static void expect_extract(const char *text, const char *want, const char *why_sub) {
    const char *ans;
    size_t n;
    char why[128] = "";
    int rc = math_extract_answer(text, strlen(text), &ans, &n, why, sizeof why);
    if (want) {
        CHECK(rc == 0 && n == strlen(want) && !memcmp(ans, want, n), "extract from '%s': rc %d, got '%.*s' (%s)", text, rc, rc ? 0 : (int)n, rc ? "" : ans, why);
    } else {
        CHECK(rc != 0 && strstr(why, why_sub), "extract from '%s' should fail with '%s', got rc %d '%s'", text, why_sub, rc, why);
    }
}

static void test_extract(void) {
    expect_extract("<|step|>1 + 1 = 2\n<|answer|>2\n", "2", NULL);
    expect_extract("<|answer|>  -7/3  \n<|endoftext|>", "-7/3", NULL);
    expect_extract("<|answer|>42", "42", NULL);                                 // no newline: up to the end
    expect_extract("<|answer|>42<|endoftext|>junk", "42", NULL);                // up to end-of-text
    expect_extract("<|answer|>42\nmore text that is ignored\n", "42", NULL);    // the answer line only
    expect_extract("<|answer|>\t5\r\n", "5", NULL);
    expect_extract("<|answer|>5<|endoftext|><|answer|>6", "5", NULL);           // after end-of-text: not the model's
    expect_extract("the answer is 5\n", NULL, "no answer marker");
    expect_extract("", NULL, "no answer marker");
    expect_extract("<|answer|>5\n<|answer|>6\n", NULL, "2 answer markers");
    expect_extract("<|answer|><|answer|><|answer|>", NULL, "3 answer markers");
    expect_extract("<|answer|>   \n5", NULL, "empty answer");
    expect_extract("<|answer|>\n", NULL, "empty answer");
    expect_extract("<|answer|", NULL, "no answer marker");  // a cut-off marker
    char long_text[600];
    strcpy(long_text, "<|answer|>");
    memset(long_text + 10, '1', 300);
    long_text[310] = 0;
    expect_extract(long_text, NULL, "answer too long");
    // NUL bytes inside the completion do not stop the scan (explicit length).
    const char with_nul[] = "a\0b<|answer|>9\n";
    const char *ans;
    size_t n;
    char why[64];
    CHECK(math_extract_answer(with_nul, sizeof with_nul - 1, &ans, &n, why, sizeof why) == 0 && n == 1 && ans[0] == '9', "NUL before the marker");
}

// ---- numeric and algebraic comparisons ---------------------------------------------------------

typedef struct cmp_case {
    const char *cand, *ref;
    uint32_t task;
    int pass;
} cmp_case;

static const cmp_case CASES[] = {
    // integers, signs, spaces, leading zeros
    {"52", "52", TASK_ARITH, 1},
    {"51", "52", TASK_ARITH, 0},
    {"-0", "0", TASK_ARITH, 1},
    {"+0", "0", TASK_ARITH, 1},
    {"0", "-0", TASK_ARITH, 1},
    {"-5", "5", TASK_ARITH, 0},
    {"+5", "5", TASK_ARITH, 1},
    {"- 5", "-5", TASK_ARITH, 1},
    {"\xe2\x88\x92" "5", "-5", TASK_ARITH, 1},  // U+2212 MINUS SIGN
    {"\xe2\x80\x93" "5", "-5", TASK_ARITH, 0},  // an en dash is not a minus
    {"007", "7", TASK_ARITH, 1},
    {"-007", "-7", TASK_ARITH, 1},
    {"  12  ", "12", TASK_ARITH, 1},
    {"1 2", "12", TASK_ARITH, 0},
    {"--5", "5", TASK_ARITH, 0},
    {"5-", "5", TASK_ARITH, 0},
    // decimals and fractions
    {"3.0", "3", TASK_ARITH, 1},
    {"3.", "3", TASK_ARITH, 1},
    {"3.000000000000000000000000000000000000001", "3", TASK_ARITH, 0},
    {"0.5", "1/2", TASK_LINEAR, 1},
    {".5", "1/2", TASK_LINEAR, 1},
    {"1/2", "0.5", TASK_LINEAR, 1},
    {"2/4", "1/2", TASK_LINEAR, 1},
    {"-1/2", "1/-2", TASK_LINEAR, 1},
    {"1 / 2", "1/2", TASK_LINEAR, 1},
    {"-7/3", "-7/3", TASK_LINEAR, 1},
    {"7/-3", "-7/3", TASK_LINEAR, 1},
    {"-2.333", "-7/3", TASK_LINEAR, 0},
    {"-2.3333333333333333333333", "-7/3", TASK_LINEAR, 0},
    {"14/6", "7/3", TASK_LINEAR, 1},
    {"1/0", "1", TASK_LINEAR, 0},
    {"0/5", "0", TASK_LINEAR, 1},
    {"1/2/3", "1/6", TASK_LINEAR, 0},
    {"x = -7/3", "-7/3", TASK_LINEAR, 1},
    {"x=4", "4", TASK_LINEAR, 1},
    {"x = 4", "4", TASK_ARITH, 0},  // the "x =" prefix belongs to linear equations only
    {"y = 4", "4", TASK_LINEAR, 0},
    // thousands separators
    {"1,234", "1234", TASK_ARITH, 1},
    {"-1,234,567", "-1234567", TASK_ARITH, 1},
    {"12,345.5", "24691/2", TASK_ARITH, 1},
    {"1,23", "123", TASK_ARITH, 0},
    {"1234,567", "1234567", TASK_ARITH, 0},
    {",123", "123", TASK_ARITH, 0},
    {"1,2345", "12345", TASK_ARITH, 0},
    // huge numbers
    {"1234567890123456789012345678901234567890", "1234567890123456789012345678901234567890", TASK_ARITH, 1},
    {"1234567890123456789012345678901234567891", "1234567890123456789012345678901234567890", TASK_ARITH, 0},
    {"0001234567890123456789012345678901234567890.000", "1234567890123456789012345678901234567890", TASK_ARITH, 1},
    {"-99999999999999999999999999999999999999999999999999999999999999999999999999999999",
     "-99999999999999999999999999999999999999999999999999999999999999999999999999999999", TASK_ARITH, 1},
    {"340282366920938463463374607431768211456", "340282366920938463463374607431768211455", TASK_ARITH, 0},
    // not numbers
    {"5 apples", "5", TASK_ARITH, 0},
    {"five", "5", TASK_ARITH, 0},
    {"2+3", "5", TASK_ARITH, 0},  // a number is required, not an expression to evaluate
    {"5e0", "5", TASK_ARITH, 0},
    {"\\frac{1}{2}", "1/2", TASK_LINEAR, 0},
    // algebraic answers: equivalence by exact evaluation
    {"2x+2", "2(x+1)", TASK_ALGEBRA, 1},
    {"2(x+1)", "2x + 2", TASK_ALGEBRA, 1},
    {"x^2", "2x", TASK_ALGEBRA, 0},
    {"x**2 + 5x + 6", "(x+2)(x+3)", TASK_ALGEBRA, 1},
    {"x^2 + 5x + 7", "(x+2)(x+3)", TASK_ALGEBRA, 0},
    {"(x - 1)(x + 1)", "x^2 - 1", TASK_ALGEBRA, 1},
    {"x(x+2)", "x^2 + 2x", TASK_ALGEBRA, 1},
    {"-x^2 + 1", "1 - x*x", TASK_ALGEBRA, 1},
    {"(-x)^2", "x^2", TASK_ALGEBRA, 1},
    {"-x^2", "x^2", TASK_ALGEBRA, 0},
    {"x/2 + 1/2", "(x+1)/2", TASK_ALGEBRA, 1},
    {"0.5x + 0.5", "(x+1)/2", TASK_ALGEBRA, 1},
    {"(x^2 - 1)/(x - 1)", "x + 1", TASK_ALGEBRA, 1},  // equal wherever both are defined
    {"(x+1)^3", "x^3 + 3x^2 + 3x + 1", TASK_ALGEBRA, 1},
    {"(x+1)^3", "x^3 + 3x^2 + 3x + 2", TASK_ALGEBRA, 0},
    {"x^-1", "1/x", TASK_ALGEBRA, 1},
    {"x^(-2)", "1/(x x)", TASK_ALGEBRA, 1},
    {"(x-2)(x-3)(x+2)(x+3) + x^2", "x^4 - 12x^2 + 36", TASK_ALGEBRA, 1},
    // a candidate built to agree with the reference at many small points still fails
    {"x + (x-2)(x+2)(x-3)(x+3)(x-4)(x+4)(x-5)(x+5)(x-6)(x+6)", "x", TASK_ALGEBRA, 0},
    {"\xe2\x88\x92x + 1", "1 - x", TASK_ALGEBRA, 1},
    {"5", "x + 1", TASK_ALGEBRA, 0},
    {"x + 1", "5", TASK_ARITH, 0},
    {"2x^2^3", "2x^8", TASK_ALGEBRA, 0},  // ambiguous chain: rejected
    {"x2", "2x", TASK_ALGEBRA, 0},
    {"2^x", "2x", TASK_ALGEBRA, 0},
    {"1/(x - x)", "1", TASK_ALGEBRA, 0},
    {"1/(x-x) + x", "x", TASK_ALGEBRA, 0},
    {"((x+1)", "x+1", TASK_ALGEBRA, 0},
    {"(x+1))", "x+1", TASK_ALGEBRA, 0},
    {"", "x", TASK_ALGEBRA, 0},
    {"y + 1", "x + 1", TASK_ALGEBRA, 0},
};

static void test_compare(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const cmp_case *c = &CASES[i];
        math_verdict v;
        int rc = math_compare(c->cand, strlen(c->cand), c->ref, c->task, &v);
        CHECK(rc == 0 && (v.outcome == OUTCOME_PASS) == c->pass && v.detail[0] != 0,
              "'%s' vs '%s' (task %u): rc %d, expected %s, got %s, with detail '%s'", c->cand, c->ref, c->task, rc,
              c->pass ? "pass" : "fail", v.outcome == OUTCOME_PASS ? "pass" : "fail", v.detail);
    }
}

static void expect_detail(const char *completion, const char *ref, uint32_t task, const char *sub) {
    problem_rec p = {.id = 1, .task = task, .answer = (char *)ref};
    math_verdict v;
    int rc = math_check(completion, strlen(completion), &p, &v);
    CHECK(rc == 0 && v.outcome == OUTCOME_FAIL && strstr(v.detail, sub), "'%s': expected a fail mentioning '%s', got rc %d %s: %s", completion, sub, rc,
          v.outcome == OUTCOME_PASS ? "pass" : "fail", v.detail);
}

static void test_check(void) {
    problem_rec p = {.id = 7, .task = TASK_ARITH, .answer = "52", .prompt = "Compute (12 + 7) * 3 - 5.\n", .tests = "", .solution = ""};
    math_verdict v;
    const char *good = "<|step|>12 + 7 = 19\n<|step|>19 * 3 = 57\n<|step|>57 - 5 = 52\n<|answer|>52\n<|endoftext|>";
    CHECK(math_check(good, strlen(good), &p, &v) == 0 && v.outcome == OUTCOME_PASS, "worked example passes: %s", v.detail);
    expect_detail("<|step|>so 52\n", "52", TASK_ARITH, "no answer marker");
    expect_detail("<|answer|>52\n<|answer|>52\n", "52", TASK_ARITH, "2 answer markers");
    expect_detail("<|answer|>fifty-two\n", "52", TASK_ARITH, "cannot parse 'fifty-two' as a number");
    expect_detail("<|answer|>53\n", "52", TASK_ARITH, "is not the reference");
    expect_detail("<|answer|>x^2\n", "2x", TASK_ALGEBRA, "not equivalent");
    expect_detail("<|answer|>x^2^2\n", "x^4", TASK_ALGEBRA, "cannot parse");
    expect_detail("<|answer|>1/(x-x)\n", "x", TASK_ALGEBRA, "undefined");
    expect_detail("<|answer|>x^64 * x^64\n", "x", TASK_ALGEBRA, "degree too high");
    expect_detail("<|answer|>(99999999999999999999999999999999999999999999999999)^64\n", "x", TASK_ALGEBRA, "too large");
    // Problems that cannot be checked are reported as such.
    problem_rec code = {.id = 3, .task = TASK_CODE, .answer = ""};
    CHECK(math_check("<|answer|>1", 11, &code, &v) == -1 && v.outcome == OUTCOME_FAIL && strstr(v.detail, "not a math task"), "code task: %s", v.detail);
    problem_rec bad = {.id = 4, .task = TASK_ALGEBRA, .answer = "x +"};
    CHECK(math_check("<|answer|>1", 11, &bad, &v) == -1 && strstr(v.detail, "reference answer"), "bad reference: %s", v.detail);
    problem_rec none = {.id = 5, .task = TASK_ARITH, .answer = ""};
    CHECK(math_check("<|answer|>1", 11, &none, &v) == -1 && strstr(v.detail, "no reference answer"), "no reference: %s", v.detail);
}

// ---- expression parser -------------------------------------------------------------------------

static void test_parser_limits(void) {
    mx_expr *x = malloc(sizeof *x);
    char err[160], buf[2048];
    // Nesting: 32 levels parse, 33 do not.
    for (int depth = 32; depth <= 33; depth++) {
        int n = 0;
        for (int i = 0; i < depth; i++) buf[n++] = '(';
        buf[n++] = 'x';
        for (int i = 0; i < depth; i++) buf[n++] = ')';
        int rc = mx_parse(x, buf, (size_t)n, err, sizeof err);
        CHECK(depth == 32 ? rc == 0 : rc != 0 && strstr(err, "nesting"), "depth %d: rc %d %s", depth, rc, err);
    }
    // Nodes: a long sum runs into the node cap with a reason.
    int n = 0;
    for (int i = 0; i < 200; i++) n += snprintf(buf + n, sizeof buf - (size_t)n, "%s1", i ? "+" : "");
    CHECK(mx_parse(x, buf, (size_t)n, err, sizeof err) != 0 && (strstr(err, "too large") || strstr(err, "too many numbers")), "long sum: %s", err);
    // Degree bounds: x^32 parses, x^33 does not; (x^8)^4 parses, (x^8)^5 does not.
    CHECK(mx_parse(x, "x^32", 4, err, sizeof err) == 0, "x^32: %s", err);
    CHECK(mx_parse(x, "x^33", 4, err, sizeof err) != 0 && strstr(err, "degree"), "x^33: %s", err);
    CHECK(mx_parse(x, "(x^8)^4", 7, err, sizeof err) == 0, "(x^8)^4: %s", err);
    CHECK(mx_parse(x, "(x^8)^5", 7, err, sizeof err) != 0, "(x^8)^5");
    CHECK(mx_parse(x, "x^65", 4, err, sizeof err) != 0 && strstr(err, "exponent too large"), "x^65: %s", err);
    CHECK(mx_parse(x, "2^1.5", 5, err, sizeof err) != 0 && strstr(err, "integer"), "2^1.5: %s", err);
    CHECK(mx_parse(x, "3x", 2, err, sizeof err) == 0 && x->n == 3, "3x is 3 * x");
    CHECK(mx_parse(x, "x y", 3, err, sizeof err) != 0 && strstr(err, "offset 2"), "x y names the offset: %s", err);
    free(x);
}

// ---- fuzz ----------------------------------------------------------------------------------------

static double worst = 0;

static void fuzz_one(const char *text, size_t len, const problem_rec *p) {
    math_verdict v;
    double t0 = now_sec();
    int rc = math_check(text, len, p, &v);
    double dt = now_sec() - t0;
    if (dt > worst) worst = dt;
    EXPECT(rc == 0 && (v.outcome == OUTCOME_PASS || v.outcome == OUTCOME_FAIL) && strnlen(v.detail, sizeof v.detail) < sizeof v.detail,
           "fuzz: bad verdict rc %d outcome %u", rc, v.outcome);
}

static void test_fuzz(void) {
    uint64_t g = 2024;
    static const char *const refs[] = {"52", "-7/3", "x^2 - 5x - 36", "0", "1234567890123456789012345678901234567890", "-9x^2 - 129x + 115"};
    static const uint32_t tasks[] = {TASK_ARITH, TASK_LINEAR, TASK_ALGEBRA, TASK_ARITH, TASK_ARITH, TASK_ALGEBRA};
    static const char alphabet[] = "0123456789x+-*/^().,= \t\n";
    static const char *const pieces[] = {"<|answer|>", "<|step|>", "<|endoftext|>", "\xe2\x88\x92", "(x+1)", "^64", "^-64", "**", "9999999999",
                                         "/(x-x)", "(", ")", "x", ".", ","};
    char buf[1024];
    int checks = 0;
    double t0 = now_sec();
    for (int it = 0; it < 60000; it++) {
        int r = it % 6;
        problem_rec p = {.id = (uint64_t)it, .task = tasks[r], .answer = (char *)refs[r]};
        size_t n = 0;
        int mode = (int)(rng_next(&g) % 3);
        size_t len = rng_next(&g) % 400;
        if (mode == 0) {  // random bytes, with a marker somewhere half of the time
            for (size_t i = 0; i < len; i++) buf[n++] = (char)(rng_next(&g) & 0xff);
            if (rng_next(&g) & 1) {
                size_t at = n ? rng_next(&g) % n : 0;
                memmove(buf + at + 10, buf + at, n - at);
                memcpy(buf + at, "<|answer|>", 10);
                n += 10;
            }
        } else if (mode == 1) {  // an answer line from the expression alphabet
            memcpy(buf, "<|answer|>", 10);
            n = 10;
            for (size_t i = 0; i < len % 300; i++) buf[n++] = alphabet[rng_next(&g) % (sizeof alphabet - 1)];
        } else {  // hostile pieces glued together
            memcpy(buf, "<|answer|>", 10);
            n = 10;
            while (n < 10 + len % 300) {
                const char *s = pieces[rng_next(&g) % (sizeof pieces / sizeof pieces[0])];
                size_t k = strlen(s);
                if (n + k >= sizeof buf) break;
                memcpy(buf + n, s, k);
                n += k;
            }
        }
        fuzz_one(buf, n, &p);
        checks++;
    }
    // Worst cases by construction: maximum degree with divisions, big powers of big numbers.
    static const char *const hostile[] = {
        "<|answer|>(x+1)^32/(x^16+1)^2 - (x-1)^32/(x^16+1)^2\n",
        "<|answer|>((((((((((x+1)^2)^2)^2)^2)^2)))))\n",
        "<|answer|>(123456789012345678901234567890x+987654321098765432109876543210)^32\n",
        "<|answer|>1/x^32 + 1/(x-1)^32\n",
        "<|answer|>(0.0000000000000000000000000000001x)^64\n",
        "<|answer|>x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x\n",
        "<|answer|>(((((((((((((((((((((((((((((((((x)))))))))))))))))))))))))))))))))\n",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        for (int r = 0; r < 6; r++) {
            problem_rec p = {.id = 1, .task = tasks[r], .answer = (char *)refs[r]};
            fuzz_one(hostile[i], strlen(hostile[i]), &p);
            checks++;
        }
    double total = now_sec() - t0;
    printf("fuzz: %d checks in %.2f s, worst %.3f ms per check\n", checks, total, worst * 1e3);
    CHECK_EXPECTED("fuzz: every one of %d checks gives a pass or fail verdict with a terminated detail", checks);
    CHECK(worst < 0.25, "a single check took %.3f s (bound 0.25 s)", worst);
}

int main(void) {
    test_bigint();
    test_extract();
    test_compare();
    test_check();
    test_parser_limits();
    test_fuzz();
    return test_summary();
}
