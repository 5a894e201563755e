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
    float cpu_seconds;  // CPU spent on the check (math: this thread; code: the candidate process
                        // and the judge together)
    char detail[512];
} check_verdict;

// sb may be NULL when no item is a code task. Returns -1 (e names the problem) when a
// problem cannot be checked at all (bad reference answer, unusable tests) or the pool fails.
int check_batch(sandbox *sb, const sandbox_limits *limits, const check_item *items, size_t n, check_verdict *out,
                berr *e);

// A stream of checks with verdicts in input order: code checks go to the pool one by one
// as they are added, so a slow one holds a single worker while the rest go on; verdicts
// of later items wait in the stream until the earlier ones are in. Nothing else may use
// the pool while the stream has checks pending.
typedef struct check_stream check_stream;
check_stream *check_stream_open(sandbox *sb, const sandbox_limits *limits);
// Adds an item (its problem and completion must stay valid until its verdict is taken).
// -1 (e names the problem) as check_batch.
int check_stream_add(check_stream *cs, const check_item *it, berr *e);
// The next verdict in input order: 1 with *v; 0 when none is pending, or (wait == 0) when
// the next is not in yet; -1 as check_batch.
int check_stream_next(check_stream *cs, int wait, check_verdict *v, berr *e);
size_t check_stream_pending(const check_stream *cs);  // added, verdict not taken
void check_stream_close(check_stream *cs);            // waits for checks still in the pool

#ifdef __cplusplus
}
#endif
