// answers.c — answer equivalence classes for majority vote (see answers.h).
#include "reward/answers.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/base.h"
#include "shards/task_format.h"
#include "verify/math.h"

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// The answer of one completion as a NUL-terminated string (malloc'd), or NULL.
static char *answer_of(const problem_rec *p, const char *text, size_t len) {
    if (p->task == TASK_CODE) {
        const char *m = memmem(text, len, BERRY_ANSWER, strlen(BERRY_ANSWER));
        if (!m) return NULL;
        const char *b = m + strlen(BERRY_ANSWER), *end = text + len;
        const char *eot = memmem(b, (size_t)(end - b), BERRY_EOT, strlen(BERRY_EOT));
        if (eot) end = eot;
        char *out = xmalloc((size_t)(end - b) + 1);
        size_t o = 0;
        int space = 0;
        for (const char *q = b; q < end; q++) {
            if (is_ws(*q)) {
                space = o > 0;
                continue;
            }
            if (space) out[o++] = ' ';
            space = 0;
            out[o++] = *q;
        }
        out[o] = 0;
        if (!o) {
            free(out);
            return NULL;
        }
        return out;
    }
    const char *a;
    size_t n;
    char why[128];
    if (math_extract_answer(text, len, &a, &n, why, sizeof why)) return NULL;
    if (p->task == TASK_LINEAR && n && a[0] == 'x') {  // "x = 5" is 5
        size_t i = 1;
        while (i < n && (a[i] == ' ' || a[i] == '\t')) i++;
        if (i < n && a[i] == '=') {
            i++;
            while (i < n && (a[i] == ' ' || a[i] == '\t')) i++;
            a += i, n -= i;
        }
    }
    if (!n || n > MATH_MAX_ANSWER) return NULL;
    char *out = xmalloc(n + 1);
    memcpy(out, a, n);
    out[n] = 0;
    return out;
}

static int same(const problem_rec *p, const char *a, const char *rep) {
    if (p->task == TASK_CODE) return strcmp(a, rep) == 0;
    math_verdict v;
    if (math_compare(a, strlen(a), rep, p->task, &v) == 0) return v.outcome == OUTCOME_PASS;
    return strcmp(a, rep) == 0;  // the representative is neither a number nor an expression
}

void rw_answer_clusters(const problem_rec *p, char *const *texts, const size_t *lens, uint32_t n, int *cluster) {
    char **ans = xcalloc(n ? n : 1, sizeof *ans);
    int *reps = xmalloc((n ? n : 1) * sizeof *reps);
    int nrep = 0;
    for (uint32_t i = 0; i < n; i++) {
        ans[i] = answer_of(p, texts[i], lens[i]);
        cluster[i] = -1;
        if (!ans[i]) continue;
        for (int r = 0; r < nrep && cluster[i] < 0; r++)
            if (same(p, ans[i], ans[reps[r]])) cluster[i] = reps[r];
        if (cluster[i] < 0) cluster[i] = (int)i, reps[nrep++] = (int)i;
    }
    for (uint32_t i = 0; i < n; i++) free(ans[i]);
    free(ans);
    free(reps);
}
