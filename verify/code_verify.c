// code_verify.c — the code verifier: answer extraction and batched sandbox checks.
#include <stdlib.h>
#include <string.h>

#include "verify/code.h"
#include "shards/task_format.h"

static const char *find(const char *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    if (m > n) return NULL;
    return memmem(hay, n, needle, m);
}

int code_extract(const char *text, size_t len, const char **src, size_t *src_len, char *why, size_t whycap) {
    const char *eot = find(text, len, BERRY_EOT);
    if (eot) len = (size_t)(eot - text);
    const char *mark = find(text, len, BERRY_ANSWER);
    if (!mark) {
        snprintf(why, whycap, "no answer marker");
        return -1;
    }
    size_t markers = 0;
    for (const char *p = text; (p = find(p, len - (size_t)(p - text), BERRY_ANSWER)); p += strlen(BERRY_ANSWER))
        markers++;
    if (markers > 1) {
        snprintf(why, whycap, "%zu answer markers", markers);
        return -1;
    }
    const char *s = mark + strlen(BERRY_ANSWER), *end = text + len;
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++;
    if (s == end) {
        snprintf(why, whycap, "empty answer");
        return -1;
    }
    if ((size_t)(end - s) > CODE_MAX_SOURCE) {
        snprintf(why, whycap, "answer of %zu bytes exceeds the %d-byte limit", (size_t)(end - s), CODE_MAX_SOURCE);
        return -1;
    }
    if (memchr(s, 0, (size_t)(end - s))) {
        snprintf(why, whycap, "answer contains a NUL byte");
        return -1;
    }
    *src = s;
    *src_len = (size_t)(end - s);
    return 0;
}

int code_check_batch(sandbox *sb, const code_item *items, size_t n, const sandbox_limits *limits, code_verdict *out,
                     berr *e) {
    sandbox_job *jobs = xcalloc(n ? n : 1, sizeof *jobs);
    size_t *slot = xcalloc(n ? n : 1, sizeof *slot);
    size_t nj = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const problem_rec *p = items[i].problem;
        memset(&out[i], 0, sizeof out[i]);
        if (p->task != TASK_CODE || !p->tests || !p->tests[0]) {
            rc = berr_set(e, "code verifier: problem %llu is %s", (unsigned long long)p->id,
                          p->task != TASK_CODE ? "not a code task" : "a code task without tests");
            goto done;
        }
        const char *src;
        size_t src_len;
        char why[128];
        if (code_extract(items[i].completion, items[i].len, &src, &src_len, why, sizeof why)) {
            out[i].outcome = OUTCOME_FAIL;
            snprintf(out[i].detail, sizeof out[i].detail, "%s", why);
            continue;
        }
        jobs[nj] = (sandbox_job){src, src_len, p->tests, strlen(p->tests), limits};
        slot[nj++] = i;
    }
    sandbox_result *res = xcalloc(nj ? nj : 1, sizeof *res);
    if (nj && sandbox_run(sb, jobs, nj, res, e)) {
        for (size_t k = 0; k < nj; k++)
            if (res[k].outcome == SANDBOX_OUTCOME_ERROR) {
                berr_wrap(e, "code verifier: problem %llu", (unsigned long long)items[slot[k]].problem->id);
                break;
            }
        rc = -1;
    } else {
        for (size_t k = 0; k < nj; k++) {
            code_verdict *v = &out[slot[k]];
            v->outcome = res[k].outcome;
            v->tests_passed = res[k].tests_passed;
            v->tests_total = res[k].tests_total;
            v->cpu_seconds = (float)res[k].cpu_seconds;
            v->judge_cpu_seconds = (float)res[k].judge_cpu_seconds;
            snprintf(v->detail, sizeof v->detail, "%s", res[k].detail);
        }
    }
    free(res);
done:
    free(jobs);
    free(slot);
    return rc;
}
