// test_cuda_decode.c — the decoding ops (paged KV cache writes and copies, paged and
// shared-prefix attention, merge, sampling) on CUDA against the CPU reference; the sampled
// log-prob (<= 0, minus the CUDA classifier's nll bit for bit, close to the CPU's); then the
// GPT-2 decoder: graph replay equals direct runs, and greedy decoding on CUDA gives the CPU
// backend's tokens on a small trained model. Device only.
#include <stdlib.h>

#include "kernels/gpt2_decode.h"
#include "tests/device/dev_util.h"

static void test_kv_and_paged(int C, int NH, int bs, int nblocks, int N, int max_blocks) {
    printf("paged attention C=%d NH=%d bs=%d blocks=%d rows=%d\n", C, NH, bs, nblocks, N);
    size_t pool = (size_t)nblocks * C * bs;
    float *kp = rnd(pool, 1), *vp = rnd(pool, 1), *qkv = rnd((size_t)N * 3 * C, 1);
    int32_t *slots = xmalloc(N * 4), *table = xmalloc((size_t)N * max_blocks * 4), *ks = xmalloc(N * 4), *ke = xmalloc(N * 4);
    int32_t *src = xmalloc(8 * 4), *dst = xmalloc(8 * 4);
    int64_t keys = 0;
    // distinct slots (rows writing one slot would race on the GPU): a random injection
    int nslots = nblocks * bs;
    int32_t *perm = xmalloc(nslots * 4);
    for (int i = 0; i < nslots; i++) perm[i] = i;
    for (int i = nslots - 1; i > 0; i--) {
        int j = (int)(rng_next(&g_rng) % (i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    for (int i = 0; i < N; i++) {
        slots[i] = perm[i];
        for (int b = 0; b < max_blocks; b++) table[(size_t)i * max_blocks + b] = (int32_t)(rng_next(&g_rng) % nblocks);
        int len = (int)(rng_next(&g_rng) % (max_blocks * bs + 1));
        ks[i] = i % 5 == 0 ? 0 : (int)(rng_next(&g_rng) % (len + 1));
        ke[i] = i % 13 == 7 ? ks[i] : len;  // some empty ranges
        keys += ke[i] - ks[i];
    }
    for (int i = 0; i < 8; i++) src[i] = i, dst[i] = nblocks - 1 - i;
    kb_ctx *cs[2] = {CPU, GPU};
    float *res[2][4];
    for (int k = 0; k < 2; k++) {
        kb_ctx *c = cs[k];
        kb_act *K = act_of(c, kp, pool), *Vv = act_of(c, vp, pool), *Q = act_of(c, qkv, (size_t)N * 3 * C);
        kb_act *O = act_nan(c, (size_t)N * C);
        float *LS = f32_nan(c, (size_t)N * NH);
        int32_t *SL = i32_of(c, slots, N), *TB = i32_of(c, table, (size_t)N * max_blocks), *KS = i32_of(c, ks, N),
                *KE = i32_of(c, ke, N), *SR = i32_of(c, src, 8), *DS = i32_of(c, dst, 8);
        kb_kv_copy_blocks(c, K, Vv, SR, DS, 8, C, bs);
        kb_kv_write(c, K, Vv, Q, SL, N, C, NH, bs);
        res[k][0] = get_act(c, K, pool);
        res[k][1] = get_act(c, Vv, pool);
        kb_paged_attention(c, O, LS, Q, K, Vv, TB, max_blocks, KS, KE, N, C, NH, bs, keys);
        res[k][2] = get_act(c, O, (size_t)N * C);
        res[k][3] = get_f32(c, LS, (size_t)N * NH);
        void *bufs[] = {K, Vv, Q, O, LS, SL, TB, KS, KE, SR, DS};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) kb_free(c, bufs[i]);
    }
    dev_compare("kv copy + write: K pool", res[1][0], res[0][0], pool, 0);
    dev_compare("kv copy + write: V pool", res[1][1], res[0][1], pool, 0);
    dev_compare("paged attention out", res[1][2], res[0][2], (size_t)N * C, K_OUT);
    dev_check_catches("paged attention out", res[1][2], res[0][2], (size_t)N * C, K_OUT);
    // lse of empty ranges is -inf on both: compare finite ones, and that infinities agree
    int inf_ok = 1;
    for (size_t i = 0; i < (size_t)N * NH; i++)
        if (isinf(res[0][3][i]) != isinf(res[1][3][i])) inf_ok = 0;
        else if (isinf(res[0][3][i])) res[0][3][i] = res[1][3][i] = 0;
    CHECK(inf_ok, "empty key ranges: -inf lse differs between backends");
    dev_compare("paged attention lse", res[1][3], res[0][3], (size_t)N * NH, DEV_K(1e-3));
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 4; j++) free(res[k][j]);
    free(kp), free(vp), free(qkv), free(slots), free(table), free(ks), free(ke), free(src), free(dst), free(perm);
}

static void test_prefix(int C, int NH, int bs, int G) {
    printf("prefix attention + merge C=%d NH=%d bs=%d groups=%d\n", C, NH, bs, G);
    int nblocks = 64, mb = 16, N = 0;
    int32_t *row_off = xmalloc((G + 1) * 4), *plen = xmalloc(G * 4), *ptab = xmalloc((size_t)G * mb * 4);
    row_off[0] = 0;
    int64_t keys = 0;
    for (int g = 0; g < G; g++) {
        int rows = g == 1 ? 70 : 1 + (int)(rng_next(&g_rng) % 9);  // one group wider than a 64-row tile
        plen[g] = g == 2 ? 0 : (int)(rng_next(&g_rng) % (mb * bs));
        for (int b = 0; b < mb; b++) ptab[g * mb + b] = (int32_t)(rng_next(&g_rng) % nblocks);
        N += rows;
        row_off[g + 1] = N;
        keys += (int64_t)plen[g] * rows;
    }
    int32_t *rows = xmalloc(N * 4);
    for (int i = 0; i < N; i++) rows[i] = (i * 7919) % N;  // a permutation
    size_t pool = (size_t)nblocks * C * bs;
    float *kp = rnd(pool, 1), *vp = rnd(pool, 1), *qkv = rnd((size_t)N * 3 * C, 1), *ob = rnd((size_t)N * C, 1);
    float *lb = rnd((size_t)N * NH, 2);
    kb_ctx *cs[2] = {CPU, GPU};
    float *res[2][4];
    for (int k = 0; k < 2; k++) {
        kb_ctx *c = cs[k];
        kb_act *K = act_of(c, kp, pool), *Vv = act_of(c, vp, pool), *Q = act_of(c, qkv, (size_t)N * 3 * C);
        kb_act *O = act_nan(c, (size_t)N * C), *OB = act_of(c, ob, (size_t)N * C);
        float *LS = f32_nan(c, (size_t)N * NH), *LB = f32_of(c, lb, (size_t)N * NH);
        int32_t *RO = i32_of(c, row_off, G + 1), *PL = i32_of(c, plen, G), *PT = i32_of(c, ptab, (size_t)G * mb),
                *RW = i32_of(c, rows, N);
        kb_prefix_attention(c, O, LS, Q, K, Vv, PT, mb, PL, RO, RW, G, C, NH, bs, keys);
        res[k][0] = get_act(c, O, (size_t)N * C);
        res[k][1] = get_f32(c, LS, (size_t)N * NH);
        kb_attention_merge(c, O, LS, O, LS, OB, LB, N, C, NH);
        res[k][2] = get_act(c, O, (size_t)N * C);
        res[k][3] = get_f32(c, LS, (size_t)N * NH);
        void *bufs[] = {K, Vv, Q, O, OB, LS, LB, RO, PL, PT, RW};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) kb_free(c, bufs[i]);
    }
    dev_compare("prefix attention out", res[1][0], res[0][0], (size_t)N * C, K_OUT);
    for (size_t i = 0; i < (size_t)N * NH; i++)
        if (isinf(res[0][1][i]) && isinf(res[1][1][i])) res[0][1][i] = res[1][1][i] = 0;
    dev_compare("prefix attention lse", res[1][1], res[0][1], (size_t)N * NH, DEV_K(1e-3));
    dev_compare("merge out", res[1][2], res[0][2], (size_t)N * C, K_OUT);
    dev_compare("merge lse", res[1][3], res[0][3], (size_t)N * NH, DEV_K(1e-3));
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 4; j++) free(res[k][j]);
    free(row_off), free(plen), free(ptab), free(rows), free(kp), free(vp), free(qkv), free(ob), free(lb);
}

static void test_sample(int N, int V, int Vp, float temp, int top_k, float top_p) {
    printf("sampling N=%d V=%d temp=%.2f top_k=%d top_p=%.2f\n", N, V, temp, top_k, top_p);
    float *lg = rnd((size_t)N * Vp, 3);
    for (int i = 0; i < N; i += 17) lg[(size_t)i * Vp + 5] = lg[(size_t)i * Vp + 9] = 8.0f;  // exact ties
    uint64_t *seeds = xmalloc(N * 8), *ctr = xmalloc(N * 8);
    for (int i = 0; i < N; i++) seeds[i] = mix64(99, i), ctr[i] = (uint64_t)i * 3;
    kb_ctx *cs[2] = {CPU, GPU};
    int32_t *tok[2];
    float *lp[2];
    for (int k = 0; k < 2; k++) {
        kb_ctx *c = cs[k];
        kb_act *L = act_of(c, lg, (size_t)N * Vp);
        uint64_t *S = kb_alloc(c, N * 8), *Ct = kb_alloc(c, N * 8);
        kb_upload(c, S, seeds, N * 8);
        kb_upload(c, Ct, ctr, N * 8);
        int32_t *T = kb_alloc(c, N * 4);
        float *P = f32_nan(c, N);
        kb_sample(c, T, P, L, S, Ct, N, V, Vp, temp, top_k, top_p);
        tok[k] = xmalloc(N * 4);
        kb_download(c, tok[k], T, N * 4);
        lp[k] = get_f32(c, P, N);
        void *bufs[] = {L, S, Ct, T, P};
        for (int i = 0; i < 5; i++) kb_free(c, bufs[i]);
    }
    int same = 0, valid = 1;
    for (int i = 0; i < N; i++) {
        same += tok[0][i] == tok[1][i];
        valid &= tok[1][i] >= 0 && tok[1][i] < V;
    }
    printf("  tokens equal %d/%d\n", same, N);
    CHECK(valid, "sampled ids out of range");
    // An inverse-CDF draw that lands within rounding of a boundary between two tokens may differ.
    CHECK(same >= N - 1 - N / 100, "only %d of %d sampled tokens equal the CPU's", same, N);
    for (int i = 0; i < N; i++)
        if (tok[0][i] != tok[1][i]) lp[1][i] = lp[0][i];  // compare log-probs where the token agrees
    dev_compare("log-probs of the sampled tokens", lp[1], lp[0], N, DEV_K(1e-4));
    free(tok[0]), free(tok[1]), free(lp[0]), free(lp[1]), free(lg), free(seeds), free(ctr);
}

// Issue 20: the sampled token's log-prob is finite and <= 0, also where one token has
// probability ≈ 1; on CUDA it is minus the CUDA classifier's nll for that token bit for bit
// (without the gradient, and with it: the shared-memory kernel), and close to the CPU
// classifier's. Half the rows are peaked (the rest of the mass near one ulp of 1, at large
// and small logit magnitudes), half ordinary.
static void test_sample_logprob_classifier(float temp, int top_k, float top_p) {
    const int N = 256, V = 997, Vp = 1024;
    printf("sampled log-prob vs classifier temp=%.1f top_k=%d top_p=%.1f\n", temp, top_k, top_p);
    float zt = temp > 0 ? temp : 1.0f, inv = temp > 0 ? 1.0f / temp : 1.0f;
    const float base[] = {0.0f, 3.7f, -41.3f, 117.9f, 1003.1f, -0.6f};
    float *lg = xmalloc((size_t)N * Vp * 4);
    for (int i = 0; i < N; i++) {
        float *x = lg + (size_t)i * Vp, b = i % 2 ? base[(i / 2) % 6] : 0.0f;
        float gap = 14.0f + 20.0f * (float)i / (float)N;  // in z units
        for (int j = 0; j < Vp; j++) x[j] = bf16_round(j < V ? b + (i % 2 ? 0.5f * zt : 2.0f) * rng_normal(&g_rng) : 0.0f);
        if (i % 2) x[(i * 37) % V] = bf16_round(b + gap * zt);
    }
    uint64_t *seeds = xmalloc(N * 8), *ctr = xmalloc(N * 8);
    for (int i = 0; i < N; i++) seeds[i] = mix64(20, i), ctr[i] = (uint64_t)i * 7;
    kb_act *L = act_of(GPU, lg, (size_t)N * Vp);
    uint64_t *S = kb_alloc(GPU, N * 8), *Ct = kb_alloc(GPU, N * 8);
    kb_upload(GPU, S, seeds, N * 8);
    kb_upload(GPU, Ct, ctr, N * 8);
    int32_t *T = kb_alloc(GPU, N * 4);
    float *P = f32_nan(GPU, N);
    kb_sample(GPU, T, P, L, S, Ct, N, V, Vp, temp, top_k, top_p);
    int32_t *tok = xmalloc(N * 4);
    kb_download(GPU, tok, T, N * 4);
    float *lp = get_f32(GPU, P, N);
    // the classifier on the GPU (no gradient, then with it: logits overwritten) and on the CPU
    float *nll_g[2], *nll_c;
    for (int g = 0; g < 2; g++) {
        kb_act *Lc = act_of(GPU, lg, (size_t)N * Vp);
        float *NL = f32_nan(GPU, N);
        kb_classifier(GPU, Lc, NL, NULL, T, NULL, 1.0f, inv, N, V, Vp, g);
        nll_g[g] = get_f32(GPU, NL, N);
        kb_free(GPU, Lc), kb_free(GPU, NL);
    }
    {
        kb_act *Lc = act_of(CPU, lg, (size_t)N * Vp);
        int32_t *Tc = i32_of(CPU, tok, N);
        float *NL = f32_nan(CPU, N);
        kb_classifier(CPU, Lc, NL, NULL, Tc, NULL, 1.0f, inv, N, V, Vp, 0);
        nll_c = get_f32(CPU, NL, N);
        kb_free(CPU, Lc), kb_free(CPU, Tc), kb_free(CPU, NL);
    }
    int bad = -1, near_one = 0, diff[2] = {-1, -1};
    double maxd = 0, sumd = 0;
    for (int i = 0; i < N; i++) {
        if (bad < 0 && !(isfinite(lp[i]) && lp[i] <= 0)) bad = i;
        near_one += lp[i] > -1e-6f;
        for (int g = 0; g < 2; g++) {
            float neg = -nll_g[g][i];
            if (diff[g] < 0 && memcmp(&lp[i], &neg, 4) != 0) diff[g] = i;
        }
        double d = fabs((double)lp[i] + nll_c[i]);
        maxd = fmax(maxd, d), sumd += d;
    }
    printf("  log-prob vs CPU classifier: mean |diff| %.2e, max %.2e; %d rows of probability within 1e-6 of 1\n",
           sumd / N, maxd, near_one);
    CHECK(bad < 0, "temp %.1f k=%d p=%.1f: row %d got the log-prob %.9g: not finite and <= 0", temp, top_k, top_p, bad,
          bad >= 0 ? (double)lp[bad] : 0.0);
    CHECK(near_one >= N / 4, "temp %.1f: only %d rows near probability 1: not the case the test is for", temp, near_one);
    CHECK(diff[0] < 0, "temp %.1f k=%d p=%.1f: row %d: sampled log-prob %.9g, CUDA classifier -nll %.9g: not bit-identical",
          temp, top_k, top_p, diff[0], diff[0] >= 0 ? (double)lp[diff[0]] : 0.0,
          diff[0] >= 0 ? -(double)nll_g[0][diff[0]] : 0.0);
    CHECK(diff[1] < 0, "temp %.1f k=%d p=%.1f: row %d: sampled log-prob %.9g, CUDA classifier (with gradient) -nll %.9g: "
          "not bit-identical", temp, top_k, top_p, diff[1], diff[1] >= 0 ? (double)lp[diff[1]] : 0.0,
          diff[1] >= 0 ? -(double)nll_g[1][diff[1]] : 0.0);
    CHECK(maxd <= 1e-4, "temp %.1f k=%d p=%.1f: sampled log-probs differ from the CPU classifier's by up to %.3e", temp,
          top_k, top_p, maxd);
    void *bufs[] = {L, S, Ct, T, P};
    for (int i = 0; i < 5; i++) kb_free(GPU, bufs[i]);
    free(lg), free(seeds), free(ctr), free(tok), free(lp), free(nll_g[0]), free(nll_g[1]), free(nll_c);
}

// A small model trained on the device on a deterministic pattern, then greedy decoding of
// continuations on both backends through the paged decoder; graph replay checked too.
static void test_greedy_decoding(void) {
    printf("greedy decoding, CUDA vs CPU, small trained model\n");
    int V = 96, T = 64, B = 8;
    gpt2_config cfg = gpt2_config_depth(2, V, 128);
    cfg.C = 128;
    cfg.NH = 2;
    gpt2 mg;
    gpt2_build(&mg, GPU, &cfg, B, T, 1);
    gpt2_init(&mg, 3);
    gpt2_opt o = {0.9f, 0.95f, 1e-8f, 0.0f, 1.0f};
    int N = B * T;
    int32_t *tok = xmalloc((N + 1) * 4);
    for (int s = 0; s < 300; s++) {
        // sequence b counts up from a random start in steps of 1..3: learnable, deterministic
        for (int i = 0; i <= N; i++) tok[i] = ((i / T) * 5 + (i % T) * ((i / T) % 3 + 1)) % V;
        gpt2_zero_grad(&mg);
        gpt2_forward_backward(&mg, tok, tok + 1, B, T, 1.0f / N, 0);
        gpt2_update(&mg, &o, 3e-3f);
    }
    double ls;
    gpt2_read_stats(&mg, &ls, NULL);
    printf("  trained: loss %.4f\n", ls / N);
    float *p = xmalloc(mg.n_params * 4);
    gpt2_get_params(&mg, p);
    for (size_t i = 0; i < mg.n_params; i++) p[i] = bf16_round(p[i]);
    gpt2 mi[2];
    kb_ctx *cs[2] = {CPU, GPU};
    int steps = 40, nseq = 4, plen = 6;
    int32_t out[2][4][40];
    float lps[2][4][40];
    for (int k = 0; k < 2; k++) {
        gpt2_build(&mi[k], cs[k], &cfg, 1, 64, 0);
        gpt2_set_params(&mi[k], p);
        gpt2_kv kv;
        berr e;
        if (gpt2_kv_alloc(&kv, &mi[k], 64 * gpt2_kv_block_bytes(&mi[k], 16), 16, &e)) die("%s", e.msg);
        gpt2_decoder d;
        gpt2_dec_init(&d, &mi[k], &kv, 64, 8, 0);
        // sequence s uses blocks 8s..8s+7; prefill plen prompt tokens each, then decode
        gpt2_dec_call c = {0};
        c.n = nseq * plen;
        c.n_logits = nseq;
        c.sample = 1;
        c.temperature = 0;
        c.top_p = 1;
        for (int s = 0; s < nseq; s++)
            for (int t = 0; t < plen; t++) {
                int i = s * plen + t;
                d.h.tokens[i] = (s * 5 + t * (s % 3 + 1)) % V;
                d.h.positions[i] = t;
                d.h.slots[i] = (8 * s) * 16 + t;
                d.h.kv_start[i] = 0;
                d.h.kv_end[i] = t + 1;
                for (int b = 0; b < 8; b++) d.h.block_table[i * 8 + b] = 8 * s + b;
                c.keys += t + 1;
            }
        for (int s = 0; s < nseq; s++) d.h.logit_rows[s] = s * plen + plen - 1;
        gpt2_dec_upload(&d, &c);
        gpt2_dec_forward(&d, &c);
        gpt2_dec_fetch(&d, nseq);
        // decode steps: one token per sequence; the GPU replays a captured graph
        gpt2_dec_call dc = {0};
        dc.n = nseq;
        dc.n_logits = nseq;
        dc.sample = 1;
        dc.top_p = 1;
        kb_graph *g = gpt2_dec_capture(&d, &dc);
        for (int st = 0; st < steps; st++) {
            dc.keys = 0;
            for (int s = 0; s < nseq; s++) {
                out[k][s][st] = d.tok_host[s];
                lps[k][s][st] = d.lp_host[s];
                int pos = plen + st;
                d.h.tokens[s] = d.tok_host[s];
                d.h.positions[s] = pos;
                d.h.slots[s] = (8 * s + pos / 16) * 16 + pos % 16;
                d.h.kv_start[s] = 0;
                d.h.kv_end[s] = pos + 1;
                for (int b = 0; b < 8; b++) d.h.block_table[s * 8 + b] = 8 * s + b;
                d.h.logit_rows[s] = s;
                dc.keys += pos + 1;
            }
            gpt2_dec_upload(&d, &dc);
            kb_graph_launch(cs[k], g);
            gpt2_dec_fetch(&d, nseq);
        }
        kb_graph_free(cs[k], g);
        gpt2_dec_free(&d);
        gpt2_kv_free(&kv, &mi[k]);
        gpt2_free(&mi[k]);
    }
    int same = 0, first_diff = -1;
    double lpd = 0;
    for (int s = 0; s < nseq; s++)
        for (int st = 0; st < steps; st++) {
            if (out[0][s][st] == out[1][s][st]) same++;
            else if (first_diff < 0) first_diff = st;
            lpd = fmax(lpd, fabs(lps[0][s][st] - lps[1][s][st]));
        }
    printf("  greedy tokens equal %d/%d, max log-prob difference %.2e\n", same, nseq * steps, lpd);
    CHECK(same == nseq * steps, "greedy decoding differs from the CPU at step %d", first_diff);
    gpt2_free(&mg);
    free(tok), free(p);
}

int main(void) {
    dev_open();
    test_kv_and_paged(256, 4, 16, 64, 57, 12);
    test_kv_and_paged(768, 12, 16, 40, 33, 8);
    test_kv_and_paged(128, 2, 8, 32, 20, 6);
    test_kv_and_paged(128, 4, 16, 40, 21, 8);   // head 32
    test_kv_and_paged(512, 4, 16, 40, 19, 8);   // head 128
    test_kv_and_paged(384, 4, 16, 40, 17, 8);   // head 96: idle lanes per key
    test_kv_and_paged(96, 4, 16, 40, 15, 8);    // head 24
    test_prefix(256, 4, 16, 5);
    test_prefix(128, 4, 16, 4);
    test_sample(200, 50257, 50304, 1.0f, 0, 1.0f);
    test_sample(200, 50257, 50304, 0.8f, 50, 1.0f);
    test_sample(200, 50257, 50304, 1.0f, 50, 0.9f);
    test_sample(64, 1000, 1024, 0.0f, 0, 1.0f);
    test_sample(64, 1000, 1024, 1.3f, 700, 0.5f);
    const float temps[] = {0.3f, 0.7f, 1.0f, 1.5f};
    for (int t = 0; t < 4; t++) {
        test_sample_logprob_classifier(temps[t], 0, 1.0f);
        test_sample_logprob_classifier(temps[t], 40, 1.0f);
        test_sample_logprob_classifier(temps[t], 40, 0.9f);
    }
    test_sample_logprob_classifier(0.0f, 0, 1.0f);
    test_greedy_decoding();
    kb_close(GPU);
    kb_close(CPU);
    return test_summary();
}
