// check_batch.c — routes completions to the math or the code verifier, and returns their
// verdicts in input order (a stream: code checks run over the pool one by one, so a slow
// check costs only its own worker's time).
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verify/check.h"
#include "verify/math.h"

static double thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct cs_slot {
    int done;
    uint64_t problem;
    check_verdict v;
} cs_slot;

// Slots in input order: a ring holding items head_seq .. head_seq + n - 1.
struct check_stream {
    sandbox *sb;
    const sandbox_limits *limits;
    cs_slot *ring;
    size_t cap, head, n;
    uint64_t head_seq;
};

check_stream *check_stream_open(sandbox *sb, const sandbox_limits *limits) {
    check_stream *cs = xcalloc(1, sizeof *cs);
    cs->sb = sb;
    cs->limits = limits;
    return cs;
}

size_t check_stream_pending(const check_stream *cs) { return cs->n; }

static cs_slot *slot_of(check_stream *cs, uint64_t seq) {
    if (seq < cs->head_seq || seq - cs->head_seq >= cs->n) return NULL;
    return &cs->ring[(cs->head + (size_t)(seq - cs->head_seq)) % cs->cap];
}

static cs_slot *push_slot(check_stream *cs, uint64_t *seq) {
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? 2 * cs->cap : 256;
        cs_slot *r = xcalloc(cap, sizeof *r);
        for (size_t i = 0; i < cs->n; i++) r[i] = cs->ring[(cs->head + i) % cs->cap];
        free(cs->ring);
        cs->ring = r, cs->cap = cap, cs->head = 0;
    }
    *seq = cs->head_seq + cs->n;
    cs_slot *s = &cs->ring[(cs->head + cs->n++) % cs->cap];
    memset(s, 0, sizeof *s);
    return s;
}

int check_stream_add(check_stream *cs, const check_item *it, berr *e) {
    const problem_rec *p = it->problem;
    if (p->task == TASK_CODE) {
        if (!p->tests || !p->tests[0])
            return berr_set(e, "code verifier: problem %llu is a code task without tests", (unsigned long long)p->id);
        if (!cs->sb) return berr_set(e, "check: a code completion (problem %llu) but no sandbox pool", (unsigned long long)p->id);
    }
    uint64_t seq;
    cs_slot *s = push_slot(cs, &seq);
    s->problem = p->id;
    if (p->task != TASK_CODE) {
        math_verdict mv;
        double t0 = thread_cpu();
        if (math_check(it->completion, it->len, p, &mv)) {
            cs->n--;
            return berr_set(e, "math verifier: problem %llu cannot be checked: %s", (unsigned long long)p->id, mv.detail);
        }
        s->done = 1;
        s->v.outcome = mv.outcome;
        s->v.cpu_seconds = (float)(thread_cpu() - t0);
        snprintf(s->v.detail, sizeof s->v.detail, "%s", mv.detail);
        return 0;
    }
    const char *src;
    size_t src_len;
    char why[128];
    if (code_extract(it->completion, it->len, &src, &src_len, why, sizeof why)) {
        s->done = 1;
        s->v.outcome = OUTCOME_FAIL;
        snprintf(s->v.detail, sizeof s->v.detail, "%s", why);
        return 0;
    }
    sandbox_job job = {src, src_len, p->tests, strlen(p->tests), cs->limits};
    if (sandbox_submit(cs->sb, &job, seq, e)) {
        cs->n--;
        return -1;
    }
    return 0;
}

int check_stream_next(check_stream *cs, int wait, check_verdict *v, berr *e) {
    if (!cs->n) return 0;
    while (!cs->ring[cs->head].done) {
        uint64_t tag;
        sandbox_result r;
        int k = sandbox_next(cs->sb, wait, &tag, &r, e);
        if (k < 0) return -1;
        if (k == 0) {
            if (wait) return berr_set(e, "check: the sandbox pool lost %zu pending checks", cs->n);
            return 0;
        }
        cs_slot *s = slot_of(cs, tag);
        if (!s || s->done) return berr_set(e, "check: the sandbox pool returned an unknown check %llu", (unsigned long long)tag);
        if (r.outcome == SANDBOX_OUTCOME_ERROR)
            return berr_set(e, "code verifier: problem %llu: %s", (unsigned long long)s->problem, r.detail);
        s->done = 1;
        s->v.outcome = r.outcome;
        s->v.cpu_seconds = (float)(r.cpu_seconds + r.judge_cpu_seconds);
        memcpy(s->v.detail, r.detail, sizeof s->v.detail);
    }
    *v = cs->ring[cs->head].v;
    cs->head = (cs->head + 1) % cs->cap;
    cs->head_seq++;
    cs->n--;
    return 1;
}

void check_stream_close(check_stream *cs) {
    if (!cs) return;
    if (cs->sb) {  // leave the pool with nothing pending
        uint64_t tag;
        sandbox_result r;
        berr e;
        while (sandbox_next(cs->sb, 1, &tag, &r, &e) == 1) {}
    }
    free(cs->ring);
    free(cs);
}

int check_batch(sandbox *sb, const sandbox_limits *limits, const check_item *items, size_t n, check_verdict *out,
                berr *e) {
    check_stream *cs = check_stream_open(sb, limits);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) rc = check_stream_add(cs, &items[i], e);
    for (size_t i = 0; i < n && !rc; i++) {
        int k = check_stream_next(cs, 1, &out[i], e);
        if (k < 0) rc = -1;
        else if (k == 0) rc = berr_set(e, "check: verdict %zu of %zu is missing", i + 1, n);
    }
    check_stream_close(cs);
    return rc;
}
