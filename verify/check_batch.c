// check_batch.c — routes completions to the math or the code verifier.
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

int check_batch(sandbox *sb, const sandbox_limits *limits, const check_item *items, size_t n, check_verdict *out,
                berr *e) {
    code_item *code = xcalloc(n ? n : 1, sizeof *code);
    size_t *slot = xcalloc(n ? n : 1, sizeof *slot), nc = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const problem_rec *p = items[i].problem;
        memset(&out[i], 0, sizeof out[i]);
        if (p->task == TASK_CODE) {
            code[nc] = (code_item){p, items[i].completion, items[i].len};
            slot[nc++] = i;
            continue;
        }
        math_verdict v;
        double t0 = thread_cpu();
        if (math_check(items[i].completion, items[i].len, p, &v)) {
            rc = berr_set(e, "math verifier: problem %llu cannot be checked: %s", (unsigned long long)p->id, v.detail);
            break;
        }
        out[i].outcome = v.outcome;
        out[i].cpu_seconds = (float)(thread_cpu() - t0);
        snprintf(out[i].detail, sizeof out[i].detail, "%s", v.detail);
    }
    if (!rc && nc) {
        if (!sb) {
            rc = berr_set(e, "check: %zu code completions but no sandbox pool", nc);
        } else {
            code_verdict *cv = xcalloc(nc, sizeof *cv);
            rc = code_check_batch(sb, code, nc, limits, cv, e);
            for (size_t k = 0; k < nc && !rc; k++) {
                check_verdict *o = &out[slot[k]];
                o->outcome = cv[k].outcome;
                o->cpu_seconds = cv[k].cpu_seconds;
                memcpy(o->detail, cv[k].detail, sizeof o->detail);
            }
            free(cv);
        }
    }
    free(code);
    free(slot);
    return rc;
}
