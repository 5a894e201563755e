// math.h — the math verifier: extracts the final answer from a completion and compares it
// exactly with the problem's reference answer. Rules in verify/TASKS.md ("Math verifier").
//
//   math_verdict v;
//   if (math_check(text, len, &problem, &v) != 0) { /* the problem is unusable: v.detail */ }
//   v.outcome is OUTCOME_PASS or OUTCOME_FAIL (records.h), v.detail says why.
//
// Never crashes on any input bytes and does bounded work per call: answers longer than
// MATH_MAX_ANSWER bytes, numbers beyond ~385 digits, and expressions beyond 128 nodes or
// degree 32 are a `fail` with a reason. Thread-safe (no global state).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "shards/records.h"
#include "verify/math_num.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MATH_MAX_ANSWER 256  // bytes of the answer after trimming
#define MATH_DETAIL_MAX 256

typedef struct math_verdict {
    uint32_t outcome;  // enum verdict_outcome: OUTCOME_PASS or OUTCOME_FAIL
    char detail[MATH_DETAIL_MAX];
} math_verdict;

// Checks a completion (the model's text after the prompt; any bytes, not NUL-terminated)
// against p->answer. Returns 0 with a verdict; -1 when the problem itself cannot be checked
// (a code task, or a reference answer that does not parse) — then v->outcome is
// OUTCOME_FAIL and v->detail says what is wrong with the problem.
int math_check(const char *completion, size_t len, const problem_rec *p, math_verdict *v);

// The same comparison on an already extracted answer: cand[0..n) against the reference
// text ref (NUL-terminated); task is the problem's enum task_kind (TASK_LINEAR accepts an
// "x =" prefix).
int math_compare(const char *cand, size_t n, const char *ref, uint32_t task, math_verdict *v);

// Finds the answer in a completion: the text after the only answer marker, up to the next
// newline, end-of-text marker or the end, with surrounding whitespace removed. Text after
// the first end-of-text marker is ignored. Returns 0 and the span, or -1 with a reason in
// why ("no answer marker", "2 answer markers", "empty answer", "answer too long ...").
int math_extract_answer(const char *text, size_t len, const char **ans, size_t *ans_len, char *why, size_t whycap);

// Parses a plain number — [sign] digits [. digits] [/ [sign] digits [. digits]], with
// optional 1,234,567 thousands separators, spaces around the sign and '/', and U+2212 as a
// minus — into an exact rational. Returns 0, or -1 with a reason in err.
int math_parse_number(const char *s, size_t n, mq_rat *out, char *err, size_t errcap);

#ifdef __cplusplus
}
#endif
