// train_eval.c — validation metrics of a reward model during training (see train.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reward/metrics.h"
#include "reward/train.h"

void rw_evaluate(gpt2 *m, comm *c, const rw_examples *val, int kind, int targets, int B, int T, rw_eval *out) {
    memset(out, 0, sizeof *out);
    int rank = comm_rank(c), world = comm_world(c);
    size_t *first = xmalloc((val->n + 1) * sizeof *first);
    size_t P = 0;
    for (size_t i = 0; i < val->n; i++) first[i] = P, P += val->ex[i].nlab;
    first[val->n] = P;
    double *logit = xcalloc(P ? P : 1, sizeof *logit);
    int32_t *tok = xmalloc((size_t)B * T * sizeof *tok);
    float *host = xmalloc((size_t)B * T * sizeof *host);
    char role[sizeof m->role];
    memcpy(role, m->role, sizeof role);
    gpt2_set_role(m, "reward.eval");
    size_t *rows = xmalloc((size_t)B * sizeof *rows);
    size_t k = (size_t)rank;
    while (k < val->n) {
        int nb = 0, len = 1;
        for (; nb < B && k < val->n; k += (size_t)world) {
            rows[nb++] = k;
            const rw_example *ex = &val->ex[k];
            int need = (int)ex->pos[ex->nlab - 1] + 1;
            len = need > len ? need : len;
        }
        len = (len + 31) / 32 * 32;
        if (len > T) len = T;
        for (int r = 0; r < nb; r++) {
            const rw_example *ex = &val->ex[rows[r]];
            for (int i = 0; i < len; i++) tok[(size_t)r * len + i] = i < (int)ex->n ? (int32_t)ex->ids[i] : 0;
        }
        gpt2_heads_forward(m, tok, nb, len, host);
        for (int r = 0; r < nb; r++) {
            const rw_example *ex = &val->ex[rows[r]];
            for (uint32_t j = 0; j < ex->nlab; j++) logit[first[rows[r]] + j] = host[(size_t)r * len + ex->pos[j]];
        }
    }
    gpt2_set_role(m, role[0] ? role : NULL);
    for (size_t at = 0; at < P;) {  // the host collective takes an int count
        int n = P - at > (1u << 30) ? 1 << 30 : (int)(P - at);
        comm_allreduce_host_f64(c, logit + at, n);
        at += (size_t)n;
    }

    // Metrics at the owned positions (each labeled once), and per path for the first error.
    float *score = xmalloc((P ? P : 1) * sizeof *score);
    uint8_t *hard = xmalloc(P ? P : 1);
    size_t n = 0, correct = 0, paths_err = 0, fe_ok = 0;
    double loss = 0;
    for (size_t i = 0; i < val->n; i++) {
        const rw_example *ex = &val->ex[i];
        for (uint32_t j = 0; j < ex->nlab; j++) {
            if (!ex->own[j]) continue;
            double v = logit[first[i] + j];
            double y = targets == RW_TARGET_HARD ? ex->hard[j] : ex->soft[j];
            loss += (v > 0 ? v + log1p(exp(-v)) : log1p(exp(v))) - y * v;
            score[n] = rw_sigmoid((float)v);
            hard[n] = ex->hard[j];
            correct += (score[n] >= 0.5f) == (hard[n] != 0);
            n++;
        }
    }
    out->rows = val->n;
    out->labels = n;
    out->loss = n ? loss / (double)n : NAN;
    out->auc = rw_auc(score, hard, n);
    out->acc = n ? (double)correct / (double)n : NAN;
    out->first_error = NAN;
    out->error_paths = NAN;
    if (kind == RW_PRM && val->n) {
        float *ps = xmalloc(sizeof *ps);
        size_t cap = 1;
        for (size_t i = 0; i < val->n; i++) {
            const rw_example *ex = &val->ex[i];
            if (ex->nlab > cap) cap = ex->nlab, ps = xrealloc(ps, cap * sizeof *ps);
            for (uint32_t j = 0; j < ex->nlab; j++) ps[j] = rw_sigmoid((float)logit[first[i] + j]);
            size_t truth;
            fe_ok += rw_first_error_match(ps, ex->hard, ex->nlab, 0.5f, &truth, NULL);
            paths_err += truth < ex->nlab;
        }
        free(ps);
        out->first_error = (double)fe_ok / (double)val->n;
        out->error_paths = (double)paths_err / (double)val->n;
    }
    free(score), free(hard), free(rows), free(tok), free(host), free(logit), free(first);
}
