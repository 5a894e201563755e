// check.h — one entry point for both verifiers: each completion goes to the math verifier
// (verify/math.h) or the code verifier (verify/code.h) by its problem's task kind; the
// code checks of a batch run in parallel over the sandbox pool.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "verify/code.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct check_item {
    const problem_rec *problem;
    const char *completion;  // model text after the prompt (any bytes)
    size_t len;
} check_item;

typedef struct check_verdict {
    uint32_t outcome;   // enum verdict_outcome
    float cpu_seconds;  // CPU spent on the check (math: this thread; code: the candidate process)
    char detail[512];
} check_verdict;

// sb may be NULL when no item is a code task. Returns -1 (e names the problem) when a
// problem cannot be checked at all (bad reference answer, unusable tests) or the pool fails.
int check_batch(sandbox *sb, const sandbox_limits *limits, const check_item *items, size_t n, check_verdict *out,
                berr *e);

#ifdef __cplusplus
}
#endif
