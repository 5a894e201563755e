// sample.c — batched sampling by recompute (see sample.h).
#include "pretrain/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int pt_sample_logits(const float *logits, int V, double temperature, double u) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (temperature <= 0) return best;
    double mx = logits[best], sum = 0;
    for (int i = 0; i < V; i++) sum += exp(((double)logits[i] - mx) / temperature);
    double target = u * sum, acc = 0;
    for (int i = 0; i < V; i++) {
        acc += exp(((double)logits[i] - mx) / temperature);
        if (acc > target) return i;
    }
    return best;  // u·sum rounded up to the total: the last mass belongs to the maximum's side
}

void pt_generate(gpt2 *m, pt_gen *g, int n, int max_new, double temperature, int stop) {
    const int maxB = m->B, maxT = m->T, V = m->cfg.V, Vp = m->cfg.Vp;
    int32_t *tokens = xmalloc((size_t)maxB * maxT * sizeof(int32_t));
    int32_t *rows = xmalloc((size_t)maxB * sizeof(int32_t));
    float *logits = xmalloc((size_t)maxB * Vp * sizeof(float));
    int *len = xmalloc((size_t)n * sizeof(int)), *active = xmalloc((size_t)n * sizeof(int));
    uint32_t **seq = xmalloc((size_t)n * sizeof(uint32_t *));
    for (int i = 0; i < n; i++) {
        if (g[i].n_prompt < 1 || g[i].n_prompt > maxT)
            die("pt_generate: prompt %d has %d tokens; it must have 1 to %d", i, g[i].n_prompt, maxT);
        seq[i] = xmalloc((size_t)maxT * sizeof(uint32_t));
        memcpy(seq[i], g[i].prompt, (size_t)g[i].n_prompt * sizeof(uint32_t));
        len[i] = g[i].n_prompt;
        g[i].stopped = 0;
        active[i] = max_new > 0 && len[i] < maxT;
    }
    for (int first = 0;;) {
        // The next batch: up to maxB active sequences, from the lowest index.
        while (first < n && !active[first]) first++;
        if (first >= n) break;
        int idx[4096], nb = 0, Tc = 0;
        for (int i = first; i < n && nb < maxB && nb < 4096; i++)
            if (active[i]) {
                idx[nb++] = i;
                if (len[i] > Tc) Tc = len[i];
            }
        for (int b = 0; b < nb; b++) {
            int i = idx[b];
            for (int t = 0; t < Tc; t++) tokens[(size_t)b * Tc + t] = t < len[i] ? (int32_t)seq[i][t] : 0;
            rows[b] = b * Tc + len[i] - 1;
        }
        gpt2_logits(m, tokens, nb, Tc, rows, nb, logits);
        for (int b = 0; b < nb; b++) {
            int i = idx[b];
            uint64_t s = mix64(g[i].seed, (uint64_t)len[i]);
            int tok = pt_sample_logits(logits + (size_t)b * Vp, V, temperature, rng_uniform(&s));
            if (tok == stop) {
                g[i].stopped = 1;
                active[i] = 0;
                continue;
            }
            seq[i][len[i]++] = (uint32_t)tok;
            if (len[i] - g[i].n_prompt >= max_new || len[i] >= maxT) active[i] = 0;
        }
    }
    for (int i = 0; i < n; i++) {
        g[i].n_out = len[i] - g[i].n_prompt;
        g[i].out = xmalloc(((size_t)g[i].n_out + 1) * sizeof(uint32_t));
        memcpy(g[i].out, seq[i] + g[i].n_prompt, (size_t)g[i].n_out * sizeof(uint32_t));
        free(seq[i]);
    }
    free(seq), free(len), free(active), free(tokens), free(rows), free(logits);
}
