// code.h — the code verifier: the Python function a completion ends with, run against the
// problem's hidden tests inside the sandbox (verify/sandbox.h). Pass only if every test
// passes within the limits; the detail says how many did.
//
// A completion for a code task is the model's text after the prompt, in the step format of
// verify/task_format.h: reasoning steps, then the answer marker, then the function, up to
// the end-of-text marker:
//
//   <|step|>Try every pair ...\n<|answer|>def pair_count(xs):\n    ...\n<|endoftext|>
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"
#include "shards/records.h"
#include "verify/sandbox.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CODE_MAX_SOURCE (64 * 1024)  // longest candidate source accepted, bytes

typedef struct code_verdict {
    uint32_t outcome;  // enum verdict_outcome
    uint32_t tests_passed, tests_total;
    float cpu_seconds;        // candidate process CPU (0 when nothing ran)
    float judge_cpu_seconds;  // the judge's CPU on this check
    char detail[512];
} code_verdict;

// Finds the candidate source: the text after the only answer marker, up to the first
// end-of-text marker (text after it is ignored) or the end, leading whitespace removed.
// Returns 0 and the span, or -1 with a reason in why ("no answer marker", "2 answer
// markers", "empty answer", "answer of N bytes exceeds ...").
int code_extract(const char *text, size_t len, const char **src, size_t *src_len, char *why, size_t whycap);

typedef struct code_item {
    const problem_rec *problem;  // a TASK_CODE problem with non-empty tests
    const char *completion;      // model text after the prompt (any bytes)
    size_t len;
} code_item;

// Checks n completions over the sandbox pool (in parallel across its workers). A
// completion without a usable answer is a `fail` without running anything. Returns -1 (with
// e naming the problem) only for unusable problems: not a code task, no tests, tests that
// are not valid Python, or a pool failure.
int code_check_batch(sandbox *sb, const code_item *items, size_t n, const sandbox_limits *limits, code_verdict *out,
                     berr *e);

#ifdef __cplusplus
}
#endif
