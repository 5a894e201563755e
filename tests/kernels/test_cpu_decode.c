// test_cpu_decode.c — the decoding ops of the CPU backend (kv_write, kv_copy_blocks,
// paged_attention, prefix_attention, attention_merge, sample), its matrix-vector matmul
// path, and the GPT-2 decoder on top of them.
//
// Each op against a straightforward double-precision loop on random inputs (random block
// tables, empty key ranges, groups of one row and of more than 64, prefix length 0, merge
// in place), outputs poisoned with NaN first. Bit-level properties: paged attention gives
// a row the bits of the training attention; each op gives a row the same bits alone as in a
// batch, and the same bits on 1 thread as on 2; the matrix-vector matmul path gives the
// packed path's bits. Sampling: exact semantics against a double-precision reference draw
// (same uniform), frequencies against the truncated distribution, greedy ties, ties at the
// top-k threshold, the top-p cut, log-probs equal to kb_classifier's -nll bit for bit (also
// finite and <= 0 where one token has probability ≈ 1, at temperatures 0.3 to 1.5), bad
// arguments rejected. The decoder: prefill + decode through the paged cache gives
// gpt2_logits' logits bit for bit; sampled log-probs equal the trainer's recomputed ones bit
// for bit; cascade (shared-prefix) attention is close to, but not bitwise equal to, the
// plain path (see kernels/cpu/README.md).
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/cpu/cpu.h"  // cpu_gemm / cpu_gemm_packed: the two matmul paths
#include "kernels/gpt2_decode.h"
#include "tests/kernels/op_test.h"
#include "tests/test.h"

// ---- paged attention: inputs and the double reference -------------------------------------------

typedef struct paged_case {
    int C, NH, bs, nblocks, N, mb;
    float *kp, *vp, *qkv;      // host: pools (nblocks·C·bs each), queries (N, 3C)
    int32_t *table, *ks, *ke;  // host: (N, mb), N, N
    int64_t keys;
} paged_case;

static size_t pool_at(const paged_case *c, int block, int h, int slot) {
    int hs = c->C / c->NH;
    return (((size_t)block * c->NH + h) * c->bs + slot) * hs;
}

// Random pools and tables; rows with empty ranges, rows starting at 0, one row over the whole
// table, the rest anywhere.
static paged_case make_paged(int C, int NH, int bs, int nblocks, int N, int mb) {
    paged_case c = {C, NH, bs, nblocks, N, mb};
    size_t pool = (size_t)nblocks * C * bs;
    c.kp = host_rand(pool, 1);
    c.vp = host_rand(pool, 1);
    c.qkv = host_rand((size_t)N * 3 * C, 1);
    c.table = xmalloc((size_t)N * mb * 4);
    c.ks = xmalloc((size_t)N * 4);
    c.ke = xmalloc((size_t)N * 4);
    for (int i = 0; i < N; i++) {
        for (int b = 0; b < mb; b++) c.table[(size_t)i * mb + b] = rnd_int(nblocks);
        int len = i == 0 ? mb * bs : rnd_int(mb * bs + 1);
        c.ks[i] = i % 4 == 1 ? 0 : rnd_int(len + 1);
        c.ke[i] = i % 7 == 3 ? c.ks[i] : len;
        c.keys += c.ke[i] - c.ks[i];
    }
    return c;
}
static void free_paged(paged_case *c) { free(c->kp), free(c->vp), free(c->qkv), free(c->table), free(c->ks), free(c->ke); }

// Head h of one query over positions [ks, ke) through a table row: out (hs) and lse.
static void attend_ref(double *out, double *lse, const paged_case *c, const float *q, const int32_t *trow, int ks,
                       int ke, int h) {
    int hs = c->C / c->NH, n = ke - ks;
    double scale = 1 / sqrt((double)hs), m = -INFINITY;
    double *s = dnew(n);
    for (int j = 0; j < n; j++) {
        int p = ks + j;
        const float *k = c->kp + pool_at(c, trow[p / c->bs], h, p % c->bs);
        double a = 0;
        for (int d = 0; d < hs; d++) a += (double)q[d] * k[d];
        s[j] = a * scale;
        m = fmax(m, s[j]);
    }
    double l = 0;
    for (int d = 0; d < hs; d++) out[d] = 0;
    for (int j = 0; j < n; j++) {
        int p = ks + j;
        const float *v = c->vp + pool_at(c, trow[p / c->bs], h, p % c->bs);
        double e = exp(s[j] - m);
        l += e;
        for (int d = 0; d < hs; d++) out[d] += e * v[d];
    }
    for (int d = 0; d < hs; d++) out[d] = n ? out[d] / l : 0;
    *lse = n ? m + log(l) : -INFINITY;
    free(s);
}

static void paged_ref(const paged_case *c, double *out, double *lse) {
    int hs = c->C / c->NH;
    for (int i = 0; i < c->N; i++)
        for (int h = 0; h < c->NH; h++)
            attend_ref(out + (size_t)i * c->C + (size_t)h * hs, lse + (size_t)i * c->NH + h, c,
                       c->qkv + (size_t)i * 3 * c->C + (size_t)h * hs, c->table + (size_t)i * c->mb, c->ks[i], c->ke[i], h);
}

// Runs kb_paged_attention on rows [r0, r0+n) of a case (their own tables and ranges).
static void run_paged_rows(const paged_case *c, int r0, int n, float **out, float **lse) {
    size_t pool = (size_t)c->nblocks * c->C * c->bs;
    kb_act *K = dev_act(c->kp, pool), *V = dev_act(c->vp, pool), *Q = dev_act(c->qkv + (size_t)r0 * 3 * c->C, (size_t)n * 3 * c->C);
    int32_t *T = dev_i32(c->table + (size_t)r0 * c->mb, (size_t)n * c->mb), *S = dev_i32(c->ks + r0, n),
            *E = dev_i32(c->ke + r0, n);
    float *O = dev_nan((size_t)n * c->C), *L = dev_nan((size_t)n * c->NH);
    int64_t keys = 0;
    for (int i = r0; i < r0 + n; i++) keys += c->ke[i] - c->ks[i];
    kb_paged_attention(ctx, (kb_act *)O, L, Q, K, V, T, c->mb, S, E, n, c->C, c->NH, c->bs, keys);
    *out = get_f32(O, (size_t)n * c->C);
    *lse = get_f32(L, (size_t)n * c->NH);
    FREE_DEV(K, V, Q, T, S, E, O, L);
}

static void test_paged_attention(int C, int NH, int bs, int nblocks, int N, int mb) {
    paged_case c = make_paged(C, NH, bs, nblocks, N, mb);
    double *ro = dnew((size_t)N * C), *rl = dnew((size_t)N * NH);
    paged_ref(&c, ro, rl);
    float *o, *l;
    run_paged_rows(&c, 0, N, &o, &l);
    char what[160];
    snprintf(what, sizeof what, "paged attention C=%d NH=%d bs=%d rows=%d: out", C, NH, bs, N);
    check_tensor(what, o, ro, (size_t)N * C, 2e-5);
    snprintf(what, sizeof what, "paged attention C=%d NH=%d bs=%d rows=%d: lse", C, NH, bs, N);
    check_lse(what, l, rl, (size_t)N * NH, 2e-6);
    // batch invariance: each row alone gives the bits it got inside the batch
    int same = 1;
    for (int i = 0; i < N; i++) {
        float *o1, *l1;
        run_paged_rows(&c, i, 1, &o1, &l1);
        same &= memcmp(o1, o + (size_t)i * C, (size_t)C * 4) == 0 && memcmp(l1, l + (size_t)i * NH, (size_t)NH * 4) == 0;
        free(o1), free(l1);
    }
    CHECK(same, "paged attention C=%d NH=%d bs=%d: a row alone differs from the same row in a batch", C, NH, bs);
    free(o), free(l), free(ro), free(rl);
    free_paged(&c);
}

// The paged rows of B sequences of T tokens written through kb_kv_write into random blocks,
// attended with kv_end = t + 1, against kb_attention_forward of the same qkv: bit for bit.
static void test_paged_equals_training(int B, int T, int C, int NH, int bs) {
    int nb = (T + bs - 1) / bs, nblocks = B * nb + 3, N = B * T, hs = C / NH;
    size_t nq = (size_t)N * 3 * C, pool = (size_t)nblocks * C * bs;
    float *hq = host_rand(nq, 1.5f);
    int32_t *perm = xmalloc((size_t)nblocks * 4), *table = xmalloc((size_t)N * nb * 4), *slots = xmalloc((size_t)N * 4);
    int32_t *ks = xcalloc(N, 4), *ke = xmalloc((size_t)N * 4);
    for (int i = 0; i < nblocks; i++) perm[i] = i;
    for (int i = nblocks - 1; i > 0; i--) {
        int j = rnd_int(i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            for (int k = 0; k < nb; k++) table[(size_t)i * nb + k] = perm[b * nb + k];
            slots[i] = perm[b * nb + t / bs] * bs + t % bs;
            ke[i] = t + 1;
        }
    kb_act *Q = dev_act(hq, nq), *TO = (kb_act *)dev_nan((size_t)N * C), *K = (kb_act *)dev_nan(pool),
           *V = (kb_act *)dev_nan(pool);
    float *TL = dev_nan((size_t)N * NH);
    kb_attention_forward(ctx, TO, TL, Q, B, T, C, NH);
    int32_t *S = dev_i32(slots, N);
    kb_kv_write(ctx, K, V, Q, S, N, C, NH, bs);
    float *to = get_f32(TO, (size_t)N * C), *tl = get_f32(TL, (size_t)N * NH);
    float *tl_rows = xmalloc((size_t)N * NH * 4);  // (B, NH, T) -> (N, NH)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) tl_rows[((size_t)b * T + t) * NH + h] = tl[((size_t)b * NH + h) * T + t];
    char what[160];
    // three call shapes: every row (prefill of whole sequences), the second half of each
    // sequence (a later prefill chunk), the last row of each (a decode step)
    for (int shape = 0; shape < 3; shape++) {
        int32_t *rows = xmalloc((size_t)N * 4);
        int n = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                if (shape == 0 || (shape == 1 && t >= T / 2) || (shape == 2 && t == T - 1)) rows[n++] = b * T + t;
        int32_t *tb = xmalloc((size_t)n * nb * 4), *s0 = xmalloc((size_t)n * 4), *e0 = xmalloc((size_t)n * 4);
        int64_t keys = 0;
        for (int i = 0; i < n; i++) {
            memcpy(tb + (size_t)i * nb, table + (size_t)rows[i] * nb, (size_t)nb * 4);
            s0[i] = ks[rows[i]];
            e0[i] = ke[rows[i]];
            keys += e0[i];
        }
        float *hsub = xmalloc((size_t)n * 3 * C * 4);
        for (int i = 0; i < n; i++) memcpy(hsub + (size_t)i * 3 * C, hq + (size_t)rows[i] * 3 * C, (size_t)3 * C * 4);
        kb_act *Qs = dev_act(hsub, (size_t)n * 3 * C), *PO = (kb_act *)dev_nan((size_t)n * C);
        float *PL = dev_nan((size_t)n * NH);
        int32_t *TB = dev_i32(tb, (size_t)n * nb), *KS = dev_i32(s0, n), *KE = dev_i32(e0, n);
        kb_paged_attention(ctx, PO, PL, Qs, K, V, TB, nb, KS, KE, n, C, NH, bs, keys);
        float *po = get_f32(PO, (size_t)n * C), *pl = get_f32(PL, (size_t)n * NH);
        float *wo = xmalloc((size_t)n * C * 4), *wl = xmalloc((size_t)n * NH * 4);
        for (int i = 0; i < n; i++) {
            memcpy(wo + (size_t)i * C, to + (size_t)rows[i] * C, (size_t)C * 4);
            memcpy(wl + (size_t)i * NH, tl_rows + (size_t)rows[i] * NH, (size_t)NH * 4);
        }
        const char *names[3] = {"all rows", "second halves", "last rows"};
        snprintf(what, sizeof what, "paged = training attention B=%d T=%d hs=%d bs=%d, %s: out", B, T, hs, bs, names[shape]);
        CHECK_BITS(what, po, wo, (size_t)n * C);
        snprintf(what, sizeof what, "paged = training attention B=%d T=%d hs=%d bs=%d, %s: lse", B, T, hs, bs, names[shape]);
        CHECK_BITS(what, pl, wl, (size_t)n * NH);
        FREE_DEV(Qs, PO, PL, TB, KS, KE);
        free(rows), free(tb), free(s0), free(e0), free(hsub), free(po), free(pl), free(wo), free(wl);
    }
    FREE_DEV(Q, TO, K, V, TL, S);
    free(hq), free(perm), free(table), free(slots), free(ks), free(ke), free(to), free(tl), free(tl_rows);
}

// ---- cache writes and block copies ----------------------------------------------------------------

static void test_kv_write_copy(int C, int NH, int bs, int nblocks, int N, int ncopies) {
    int hs = C / NH;
    size_t pool = (size_t)nblocks * C * bs, per = (size_t)C * bs;
    float *kp = host_rand(pool, 1), *vp = host_rand(pool, 1), *q = host_rand((size_t)N * 3 * C, 1);
    int32_t *slots = xmalloc((size_t)N * 4), *src = xmalloc((size_t)ncopies * 4), *dst = xmalloc((size_t)ncopies * 4);
    int trash = (nblocks - 1) * bs;
    for (int i = 0; i < N; i++) slots[i] = i % 6 == 5 ? trash : rnd_int((nblocks - 1) * bs);  // padding rows share a slot
    for (int i = 0; i < ncopies; i++) {
        src[i] = rnd_int(nblocks);
        dst[i] = i > 0 && i % 3 == 0 ? src[i - 1] : rnd_int(nblocks);  // a destination that is a later source, and so on
    }
    // reference: copies one after another, then writes row after row (the last row wins)
    float *rk = xmalloc(pool * 4), *rv = xmalloc(pool * 4);
    memcpy(rk, kp, pool * 4);
    memcpy(rv, vp, pool * 4);
    for (int i = 0; i < ncopies; i++) {
        memmove(rk + (size_t)dst[i] * per, rk + (size_t)src[i] * per, per * 4);
        memmove(rv + (size_t)dst[i] * per, rv + (size_t)src[i] * per, per * 4);
    }
    for (int i = 0; i < N; i++)
        for (int h = 0; h < NH; h++)
            for (int d = 0; d < hs; d++) {
                size_t at = (((size_t)(slots[i] / bs) * NH + h) * bs + slots[i] % bs) * hs + d;
                rk[at] = q[(size_t)i * 3 * C + C + h * hs + d];
                rv[at] = q[(size_t)i * 3 * C + 2 * C + h * hs + d];
            }
    kb_act *K = dev_act(kp, pool), *V = dev_act(vp, pool), *Q = dev_act(q, (size_t)N * 3 * C);
    int32_t *SL = dev_i32(slots, N), *SR = dev_i32(src, ncopies), *DS = dev_i32(dst, ncopies);
    kb_kv_copy_blocks(ctx, K, V, SR, DS, ncopies, C, bs);
    kb_kv_write(ctx, K, V, Q, SL, N, C, NH, bs);
    float *gk = get_f32(K, pool), *gv = get_f32(V, pool);
    char what[128];
    snprintf(what, sizeof what, "kv copy + write C=%d NH=%d bs=%d rows=%d copies=%d: K pool", C, NH, bs, N, ncopies);
    CHECK_BITS(what, gk, rk, pool);
    snprintf(what, sizeof what, "kv copy + write C=%d NH=%d bs=%d rows=%d copies=%d: V pool", C, NH, bs, N, ncopies);
    CHECK_BITS(what, gv, rv, pool);
    FREE_DEV(K, V, Q, SL, SR, DS);
    free(kp), free(vp), free(q), free(slots), free(src), free(dst), free(rk), free(rv), free(gk), free(gv);
}

// ---- shared-prefix attention -------------------------------------------------------------------------

typedef struct prefix_case {
    paged_case p;  // pools and queries (p.N rows); p.table/ks/ke unused
    int G;
    int32_t *row_off, *plen, *ptab, *rows;
    int64_t keys;
} prefix_case;

static prefix_case make_prefix(int C, int NH, int bs, int G, const int *group_rows, int mb) {
    prefix_case c = {{0}};
    int N = 0;
    for (int g = 0; g < G; g++) N += group_rows[g];
    c.p = make_paged(C, NH, bs, 40, N, 1);
    c.G = G;
    c.row_off = xmalloc((size_t)(G + 1) * 4);
    c.plen = xmalloc((size_t)G * 4);
    c.ptab = xmalloc((size_t)G * mb * 4);
    c.rows = xmalloc((size_t)N * 4);
    c.p.mb = mb;
    c.row_off[0] = 0;
    for (int g = 0; g < G; g++) {
        c.row_off[g + 1] = c.row_off[g] + group_rows[g];
        c.plen[g] = g % 4 == 2 ? 0 : g % 4 == 3 ? mb * bs : rnd_int(mb * bs + 1);
        for (int b = 0; b < mb; b++) c.ptab[(size_t)g * mb + b] = rnd_int(c.p.nblocks);
        c.keys += (int64_t)c.plen[g] * group_rows[g];
    }
    for (int i = 0; i < N; i++) c.rows[i] = (int32_t)(((int64_t)i * 7919) % N);  // a permutation
    return c;
}
static void free_prefix(prefix_case *c) {
    free_paged(&c->p);
    free(c->row_off), free(c->plen), free(c->ptab), free(c->rows);
}

static void run_prefix(const prefix_case *c, float **out, float **lse) {
    const paged_case *p = &c->p;
    size_t pool = (size_t)p->nblocks * p->C * p->bs;
    kb_act *K = dev_act(p->kp, pool), *V = dev_act(p->vp, pool), *Q = dev_act(p->qkv, (size_t)p->N * 3 * p->C);
    int32_t *RO = dev_i32(c->row_off, c->G + 1), *PL = dev_i32(c->plen, c->G), *PT = dev_i32(c->ptab, (size_t)c->G * p->mb),
            *RW = dev_i32(c->rows, p->N);
    float *O = dev_nan((size_t)p->N * p->C), *L = dev_nan((size_t)p->N * p->NH);
    kb_prefix_attention(ctx, (kb_act *)O, L, Q, K, V, PT, p->mb, PL, RO, RW, c->G, p->C, p->NH, p->bs, c->keys);
    *out = get_f32(O, (size_t)p->N * p->C);
    *lse = get_f32(L, (size_t)p->N * p->NH);
    FREE_DEV(K, V, Q, RO, PL, PT, RW, O, L);
}

static void test_prefix_attention(int C, int NH, int bs) {
    int group_rows[] = {1, 70, 3, 1, 9, 2};  // one group wider than 64 rows; group 2 has prefix 0, group 3 the full table
    int G = 6, mb = 6, hs = C / NH;
    prefix_case c = make_prefix(C, NH, bs, G, group_rows, mb);
    paged_case *p = &c.p;
    float *o, *l;
    run_prefix(&c, &o, &l);
    double *ro = dnew((size_t)p->N * C), *rl = dnew((size_t)p->N * NH);
    for (int g = 0; g < G; g++)
        for (int i = c.row_off[g]; i < c.row_off[g + 1]; i++)
            for (int h = 0; h < NH; h++) {
                int r = c.rows[i];
                attend_ref(ro + (size_t)r * C + (size_t)h * hs, rl + (size_t)r * NH + h, p,
                           p->qkv + (size_t)r * 3 * C + (size_t)h * hs, c.ptab + (size_t)g * mb, 0, c.plen[g], h);
            }
    char what[128];
    snprintf(what, sizeof what, "prefix attention C=%d NH=%d bs=%d: out", C, NH, bs);
    check_tensor(what, o, ro, (size_t)p->N * C, 2e-5);
    snprintf(what, sizeof what, "prefix attention C=%d NH=%d bs=%d: lse", C, NH, bs);
    check_lse(what, l, rl, (size_t)p->N * NH, 2e-6);
    // a row's prefix result is the bits kb_paged_attention gives it over [0, P) alone
    free(p->table), free(p->ks), free(p->ke);
    p->table = xmalloc((size_t)p->N * mb * 4);
    p->ks = xcalloc(p->N, 4);
    p->ke = xmalloc((size_t)p->N * 4);
    for (int g = 0; g < G; g++)
        for (int i = c.row_off[g]; i < c.row_off[g + 1]; i++) {
            memcpy(p->table + (size_t)c.rows[i] * mb, c.ptab + (size_t)g * mb, (size_t)mb * 4);
            p->ke[c.rows[i]] = c.plen[g];
        }
    float *po, *pl;
    run_paged_rows(p, 0, p->N, &po, &pl);
    snprintf(what, sizeof what, "prefix attention C=%d NH=%d bs=%d = paged attention per row: out", C, NH, bs);
    CHECK_BITS(what, o, po, (size_t)p->N * C);
    snprintf(what, sizeof what, "prefix attention C=%d NH=%d bs=%d = paged attention per row: lse", C, NH, bs);
    CHECK_BITS(what, l, pl, (size_t)p->N * NH);
    free(o), free(l), free(ro), free(rl), free(po), free(pl);
    free_prefix(&c);
}

// ---- merge -------------------------------------------------------------------------------------------

static void test_merge(int N, int C, int NH) {
    int hs = C / NH;
    size_t no = (size_t)N * C, nl = (size_t)N * NH;
    float *oa = host_rand(no, 1), *ob = host_rand(no, 1), *la = host_rand(nl, 2), *lb = host_rand(nl, 2);
    for (size_t k = 0; k < nl; k++) {  // empty sides: lse -inf, out 0 (b's out NaN: a side of weight 0 is ignored)
        int kind = (int)(k % 5);
        if (kind == 1 || kind == 3) la[k] = -INFINITY;
        if (kind == 2 || kind == 3) lb[k] = -INFINITY;
        for (int d = 0; d < hs; d++) {
            if (isinf(la[k])) oa[(k / NH) * C + (k % NH) * hs + d] = 0;
            if (isinf(lb[k])) ob[(k / NH) * C + (k % NH) * hs + d] = NAN;
        }
    }
    double *ro = dnew(no), *rl = dnew(nl);
    for (size_t k = 0; k < nl; k++) {
        double a = la[k], b = lb[k], m = fmax(a, b);
        double wa = isinf(a) ? 0 : exp(a - m), wb = isinf(b) ? 0 : exp(b - m), den = wa + wb;
        for (int d = 0; d < hs; d++) {
            size_t i = (k / NH) * C + (k % NH) * hs + d;
            ro[i] = den > 0 ? ((wa ? wa * oa[i] : 0) + (wb ? wb * ob[i] : 0)) / den : 0;
        }
        rl[k] = den > 0 ? m + log(den) : -INFINITY;
    }
    kb_act *OA = dev_act(oa, no), *OB = dev_act(ob, no), *O = (kb_act *)dev_nan(no);
    float *LA = dev_f32(la, nl), *LB = dev_f32(lb, nl), *L = dev_nan(nl);
    kb_attention_merge(ctx, O, L, OA, LA, OB, LB, N, C, NH);
    float *go = get_f32(O, no), *gl = get_f32(L, nl);
    char what[96];
    snprintf(what, sizeof what, "merge N=%d C=%d NH=%d: out", N, C, NH);
    check_tensor(what, go, ro, no, 1e-6);
    snprintf(what, sizeof what, "merge N=%d C=%d NH=%d: lse", N, C, NH);
    check_lse(what, gl, rl, nl, 1e-6);
    // merging with an empty part returns the other part's bits
    int exact = 1;
    for (size_t k = 0; k < nl; k++) {
        if (isinf(la[k]) == isinf(lb[k])) continue;
        const float *keep = isinf(lb[k]) ? oa : ob;
        float keep_l = isinf(lb[k]) ? la[k] : lb[k];
        size_t i0 = (k / NH) * C + (k % NH) * hs;
        exact &= memcmp(go + i0, keep + i0, (size_t)hs * 4) == 0 && memcmp(&gl[k], &keep_l, 4) == 0;
    }
    CHECK(exact, "merge N=%d C=%d NH=%d: merging with an empty part changed the other part's bits", N, C, NH);
    // in place (out/lse alias the a side): the same bits
    kb_attention_merge(ctx, OA, LA, OA, LA, OB, LB, N, C, NH);
    float *io = get_f32(OA, no), *il = get_f32(LA, nl);
    snprintf(what, sizeof what, "merge N=%d C=%d NH=%d in place: out", N, C, NH);
    CHECK_BITS(what, io, go, no);
    snprintf(what, sizeof what, "merge N=%d C=%d NH=%d in place: lse", N, C, NH);
    CHECK_BITS(what, il, gl, nl);
    FREE_DEV(OA, OB, O, LA, LB, L);
    free(oa), free(ob), free(la), free(lb), free(ro), free(rl), free(go), free(gl), free(io), free(il);
}

// Cascade: prefix [0, P) merged with the rest [P, end) against one pass over [0, end): close;
// bitwise equal where one of the parts is empty (P = 0 or P = end).
static void test_cascade_matches_paged(int C, int NH, int bs) {
    int N = 24, mb = 8, hs = C / NH;
    paged_case c = make_paged(C, NH, bs, 30, N, mb);
    int32_t *split = xmalloc((size_t)N * 4);
    for (int i = 0; i < N; i++) {
        for (int b = 0; b < mb; b++) c.table[(size_t)i * mb + b] = c.table[b];  // one sequence's table for all rows
        c.ks[i] = 0;
        c.ke[i] = 1 + rnd_int(mb * bs);
        split[i] = i % 6 == 0 ? 0 : i % 6 == 1 ? c.ke[i] : rnd_int(c.ke[i] + 1);
    }
    float *full_o, *full_l;
    run_paged_rows(&c, 0, N, &full_o, &full_l);
    // prefix part: one group per row (each its own split point), then the private part
    prefix_case pc = {.p = c, .G = N};
    pc.row_off = xmalloc((size_t)(N + 1) * 4);
    pc.plen = split;
    pc.ptab = c.table;
    pc.rows = xmalloc((size_t)N * 4);
    for (int i = 0; i <= N; i++) pc.row_off[i] = i;
    for (int i = 0; i < N; i++) pc.rows[i] = i, pc.keys += split[i];
    float *pre_o, *pre_l, *rest_o, *rest_l;
    run_prefix(&pc, &pre_o, &pre_l);
    int32_t *ks0 = c.ks;
    c.ks = split;
    run_paged_rows(&c, 0, N, &rest_o, &rest_l);
    c.ks = ks0;
    kb_act *A = dev_act(rest_o, (size_t)N * C), *B = dev_act(pre_o, (size_t)N * C);
    float *LA = dev_f32(rest_l, (size_t)N * NH), *LB = dev_f32(pre_l, (size_t)N * NH);
    kb_attention_merge(ctx, A, LA, A, LA, B, LB, N, C, NH);
    float *mo = get_f32(A, (size_t)N * C), *ml = get_f32(LA, (size_t)N * NH);
    double *fo = dnew((size_t)N * C), *fl = dnew((size_t)N * NH);
    for (size_t i = 0; i < (size_t)N * C; i++) fo[i] = full_o[i];
    for (size_t i = 0; i < (size_t)N * NH; i++) fl[i] = full_l[i];
    check_tensor("cascade (prefix + rest, merged) vs one pass: out", mo, fo, (size_t)N * C, 1e-5);
    check_lse("cascade (prefix + rest, merged) vs one pass: lse", ml, fl, (size_t)N * NH, 1e-6);
    int exact = 1;
    for (int i = 0; i < N; i++)
        if (split[i] == 0 || split[i] == c.ke[i])
            exact &= memcmp(mo + (size_t)i * C, full_o + (size_t)i * C, (size_t)C * 4) == 0 &&
                     memcmp(ml + (size_t)i * NH, full_l + (size_t)i * NH, (size_t)NH * 4) == 0;
    CHECK(exact, "cascade with an empty prefix or an empty rest differs from one pass (hs=%d)", hs);
    FREE_DEV(A, B, LA, LB);
    free(full_o), free(full_l), free(pre_o), free(pre_l), free(rest_o), free(rest_l), free(mo), free(ml), free(fo), free(fl);
    free(pc.row_off), free(pc.rows), free(split);
    free_paged(&c);
}

// ---- matmul: the matrix-vector path ---------------------------------------------------------------

static void test_matmul_small_rows(int C, int OC) {
    int Mmax = 40;
    float *hi = host_rand((size_t)Mmax * C, 1), *hw = host_rand((size_t)OC * C, 1), *hb = host_rand(OC, 1);
    kb_act *inp = dev_act(hi, (size_t)Mmax * C), *w = dev_act(hw, (size_t)OC * C), *b = dev_act(hb, OC);
    // the packed path over all Mmax rows, with bias and GELU: the bits every row must get
    float *pre_all = xmalloc((size_t)Mmax * OC * 4), *gel_all = xmalloc((size_t)Mmax * OC * 4);
    gemm_epilogue ep = {.bias = hb, .gelu_out = gel_all};
    cpu_gemm_packed(ctx, Mmax, OC, C, (gemm_view){hi, C, 1}, (gemm_view){hw, 1, C}, pre_all, OC, 0, &ep);
    double *ref = dnew((size_t)Mmax * OC);
    for (int n = 0; n < Mmax; n++)
        for (int o = 0; o < OC; o++) {
            double s = hb[o];
            for (int k = 0; k < C; k++) s += (double)hi[(size_t)n * C + k] * hw[(size_t)o * C + k];
            ref[(size_t)n * OC + o] = s;
        }
    char what[128];
    snprintf(what, sizeof what, "matmul C=%d OC=%d, packed path vs double", C, OC);
    check_tensor(what, pre_all, ref, (size_t)Mmax * OC, 1e-5);
    int Ms[] = {1, 2, 3, 5, 7, 8, 9, 13};
    for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++) {
        int M = Ms[mi], r0 = (int)(mi * 3) % (Mmax - M);
        kb_act *out = (kb_act *)dev_nan((size_t)M * OC), *pre = (kb_act *)dev_nan((size_t)M * OC);
        kb_matmul_forward(ctx, out, pre, kb_at(ctx, inp, (size_t)r0 * C), w, b, M, C, OC);
        float *go = get_f32(out, (size_t)M * OC), *gp = get_f32(pre, (size_t)M * OC);
        snprintf(what, sizeof what, "matmul C=%d OC=%d: %d rows = the same rows in a batch of %d (pre-GELU)", C, OC, M, Mmax);
        CHECK_BITS(what, gp, pre_all + (size_t)r0 * OC, (size_t)M * OC);
        snprintf(what, sizeof what, "matmul C=%d OC=%d: %d rows = the same rows in a batch of %d (GELU)", C, OC, M, Mmax);
        CHECK_BITS(what, go, gel_all + (size_t)r0 * OC, (size_t)M * OC);
        // accumulate (C +=): both paths, from the same random start
        float *c1 = host_rand((size_t)M * OC, 1), *c2 = xmalloc((size_t)M * OC * 4);
        memcpy(c2, c1, (size_t)M * OC * 4);
        gemm_view A = {hi + (size_t)r0 * C, C, 1}, Bv = {hw, 1, C};
        cpu_gemm(ctx, M, OC, C, A, Bv, c1, OC, 1, NULL);
        cpu_gemm_packed(ctx, M, OC, C, A, Bv, c2, OC, 1, NULL);
        snprintf(what, sizeof what, "gemm C=%d OC=%d M=%d accumulate: matrix-vector path = packed path", C, OC, M);
        CHECK_BITS(what, c1, c2, (size_t)M * OC);
        free(go), free(gp), free(c1), free(c2);
        FREE_DEV(out, pre);
    }
    FREE_DEV(inp, w, b);
    free(hi), free(hw), free(hb), free(pre_all), free(gel_all), free(ref);
}

// ---- sampling ---------------------------------------------------------------------------------------

typedef struct sample_out {
    int32_t *tok;
    float *lp;
} sample_out;

static sample_out run_sample(const float *logits, int N, int V, int Vp, const uint64_t *seeds, const uint64_t *ctrs,
                             float temp, int top_k, float top_p) {
    kb_act *L = dev_act(logits, (size_t)N * Vp);
    uint64_t *S = dev_copy(seeds, (size_t)N * 8), *Ct = dev_copy(ctrs, (size_t)N * 8);
    int32_t *poison = xmalloc((size_t)N * 4);
    for (int i = 0; i < N; i++) poison[i] = -1;  // not a token: a row left unwritten shows
    int32_t *T = dev_i32(poison, N);
    free(poison);
    float *P = dev_nan(N);
    kb_sample(ctx, T, P, L, S, Ct, N, V, Vp, temp, top_k, top_p);
    sample_out o = {xmalloc((size_t)N * 4), get_f32(P, N)};
    kb_download(ctx, o.tok, T, (size_t)N * 4);
    int bad = 0;
    for (int i = 0; i < N; i++) bad += o.tok[i] < 0 || o.tok[i] >= V;
    CHECK(bad == 0, "kb_sample (T=%.2f k=%d p=%.2f) left %d of %d tokens outside [0, %d)", temp, top_k, top_p, bad, N, V);
    if (bad)
        for (int i = 0; i < N; i++) o.tok[i] = o.tok[i] < 0 || o.tok[i] >= V ? 0 : o.tok[i];
    FREE_DEV(L, S, Ct, T, P);
    return o;
}

typedef struct zid {
    float z;
    int id;
} zid;
static int cmp_zid(const void *a, const void *b) {  // (z desc, id asc)
    const zid *x = a, *y = b;
    if (x->z != y->z) return x->z > y->z ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

// The semantics in double: the kept set (top-k by (z desc, id asc), then the top-p cut in
// that order), then the first kept id (in id order) whose running mass exceeds u·mass.
// Float rounding may move a draw that lands near a boundary to the neighbouring id, or a
// top-p threshold that lands near a prefix's mass by one id, so the result says how near:
// r->cut and r->draw are the distances (relative to the mass) of the threshold and of u·mass
// from their nearest boundaries, r->consistent whether `got` is kept and u·mass lies within
// 1e-5 of the mass of got's own interval of the CDF. p (V) receives the kept ids'
// renormalised probabilities.
typedef struct ref_draw {
    int pick, consistent;
    double cut, draw;
} ref_draw;

static ref_draw ref_sample(const float *x, int V, float temp, int top_k, float top_p, double u, int got, double *p) {
    ref_draw r = {-1, 0, INFINITY, INFINITY};
    float inv = temp > 0 ? 1.0f / temp : 1.0f;
    double m = -INFINITY;
    int am = 0;
    for (int i = 0; i < V; i++)
        if ((double)(x[i] * inv) > m) m = x[i] * inv, am = i;
    if (temp == 0) {
        for (int i = 0; i < V; i++) p[i] = i == am;
        r.pick = am;
        r.consistent = got == am;
        return r;
    }
    int *order = xmalloc((size_t)V * sizeof(int)), K = top_k == 0 || top_k >= V ? V : top_k;
    zid *zs = xmalloc((size_t)V * sizeof *zs);
    for (int i = 0; i < V; i++) zs[i].z = x[i] * inv, zs[i].id = i;
    if (K < V) qsort(zs, (size_t)V, sizeof *zs, cmp_zid);
    for (int i = 0; i < V; i++) order[i] = zs[i].id;
    free(zs);
    double *e = dnew(V);
    for (int i = 0; i < V; i++) e[i] = exp((double)(x[i] * inv) - m);
    int keep = K;
    if (top_p < 1) {
        double total = 0, run = 0, thr;
        for (int k = 0; k < K; k++) total += e[order[k]];
        thr = top_p * total;
        int k = 0;
        for (; k < K; k++) {
            double before = run;
            run += e[order[k]];
            if (run >= thr) {
                r.cut = fmin(run - thr, k > 0 ? thr - before : INFINITY) / total;
                break;
            }
        }
        keep = (k == K ? K - 1 : k) + 1;
    }
    char *kept = xcalloc(V, 1);
    for (int k = 0; k < keep; k++) kept[order[k]] = 1;
    double mass = 0;
    for (int i = 0; i < V; i++) mass += kept[i] ? e[i] : 0;
    double target = u * mass, run = 0, eps = 1e-5 * mass;
    for (int i = 0; i < V; i++) {
        p[i] = kept[i] ? e[i] / mass : 0;
        if (!kept[i]) continue;
        double before = run;
        run += e[i];
        if (r.pick < 0 && run > target) {
            r.pick = i;
            r.draw = fmin(target - before, run - target) / mass;
        }
        if (i == got) r.consistent = before - eps <= target && target <= run + eps;
    }
    free(order), free(e), free(kept);
    return r;
}

// Semantics: every row's token lies on the double-precision CDF interval of its u (within
// rounding), and equals the reference draw wherever u is not within rounding of a boundary.
// Log-probs against the double-precision log-softmax of z.
static void test_sample_semantics(int N, int V, int Vp, float temp, int top_k, float top_p) {
    float *lg = host_rand((size_t)N * Vp, 2.5f);
    for (int i = 0; i < N; i += 5) lg[(size_t)i * Vp + 3] = lg[(size_t)i * Vp + 11] = 7.5f;  // exact ties at the top
    uint64_t *seeds = xmalloc((size_t)N * 8), *ctr = xmalloc((size_t)N * 8);
    for (int i = 0; i < N; i++) seeds[i] = mix64(41, i / 3), ctr[i] = (uint64_t)i * 5 + 1;
    sample_out o = run_sample(lg, N, V, Vp, seeds, ctr, temp, top_k, top_p);
    double *p = dnew(V);
    int mismatch = 0, inconsistent = 0, exact_rows = 0, first = -1, lp_bad = 0, cut_near = 0;
    for (int i = 0; i < N; i++) {
        const float *x = lg + (size_t)i * Vp;
        ref_draw r = ref_sample(x, V, temp, top_k, top_p, kb_uniform(seeds[i], ctr[i]), o.tok[i], p);
        // log-prob under the full softmax of z
        float inv = temp > 0 ? 1.0f / temp : 1.0f;
        double m = -INFINITY, s = 0;
        for (int j = 0; j < V; j++) m = fmax(m, (double)(x[j] * inv));
        for (int j = 0; j < V; j++) s += exp((double)(x[j] * inv) - m);
        double lp = (double)(x[o.tok[i]] * inv) - m - log(s);
        lp_bad += !(fabs(o.lp[i] - lp) <= 2e-5 * (1 + fabs(lp)));
        if (r.cut < 1e-5) {  // the kept set itself is within rounding: nothing exact to say
            cut_near++;
            continue;
        }
        if (!r.consistent && inconsistent++ == 0 && first < 0) first = i;
        if (r.draw < 1e-5) continue;
        exact_rows++;
        if (o.tok[i] != r.pick && mismatch++ == 0 && first < 0) first = i;
    }
    CHECK(mismatch == 0 && inconsistent == 0,
          "sampling T=%.2f k=%d p=%.2f: %d of %d rows differ from the reference draw, %d off their CDF interval "
          "(first row %d: token %d)", temp, top_k, top_p, mismatch, exact_rows, inconsistent, first,
          first >= 0 ? o.tok[first] : -1);
    CHECK(exact_rows >= N / 2 && cut_near <= N / 50,
          "sampling T=%.2f k=%d p=%.2f: only %d of %d draws clear of rounding (%d top-p cuts within rounding)", temp,
          top_k, top_p, exact_rows, N, cut_near);
    CHECK(lp_bad == 0, "sampling T=%.2f k=%d p=%.2f: %d log-probs differ from the double-precision log-softmax", temp,
          top_k, top_p, lp_bad);
    free(lg), free(seeds), free(ctr), free(o.tok), free(o.lp), free(p);
}

// Frequencies of many draws from one row (counters 0..R-1) against the truncated,
// renormalised distribution: no draw outside the kept set, chi-square over well-filled ids,
// and every id within 6 standard deviations.
static void test_sample_frequencies(const float *row, int V, float temp, int top_k, float top_p, int R) {
    int Vp = (V + 15) / 16 * 16;
    float *lg = xmalloc((size_t)R * Vp * 4);
    for (int i = 0; i < R; i++) memcpy(lg + (size_t)i * Vp, row, (size_t)V * 4);
    uint64_t *seeds = xmalloc((size_t)R * 8), *ctr = xmalloc((size_t)R * 8);
    for (int i = 0; i < R; i++) seeds[i] = 0x5eed + (uint64_t)top_k, ctr[i] = (uint64_t)i;
    sample_out o = run_sample(lg, R, V, Vp, seeds, ctr, temp, top_k, top_p);
    double *p = dnew(V);
    ref_sample(row, V, temp, top_k, top_p, 0.5, -1, p);
    int *count = xcalloc(V, sizeof(int)), outside = 0, dev_bad = -1;
    for (int i = 0; i < R; i++) count[o.tok[i]]++;
    double chi = 0;
    int dof = -1;
    for (int i = 0; i < V; i++) {
        if (p[i] == 0) {
            outside += count[i];
            continue;
        }
        double expct = p[i] * R, sd = sqrt(R * p[i] * (1 - p[i]));
        if (fabs(count[i] - expct) > 6 * sd + 1 && dev_bad < 0) dev_bad = i;
        if (expct >= 5) chi += (count[i] - expct) * (count[i] - expct) / expct, dof++;
    }
    CHECK(outside == 0, "sampling T=%.2f k=%d p=%.2f: %d of %d draws outside the kept set", temp, top_k, top_p, outside, R);
    CHECK(dev_bad < 0, "sampling T=%.2f k=%d p=%.2f: id %d drawn %d times, expected %.1f", temp, top_k, top_p, dev_bad,
          dev_bad >= 0 ? count[dev_bad] : 0, dev_bad >= 0 ? p[dev_bad] * R : 0.0);
    CHECK(dof < 1 || chi <= dof + 6 * sqrt(2.0 * dof), "sampling T=%.2f k=%d p=%.2f: chi-square %.1f with %d degrees of freedom",
          temp, top_k, top_p, chi, dof);
    free(lg), free(seeds), free(ctr), free(o.tok), free(o.lp), free(p), free(count);
}

// The set of ids R draws of one row produce.
static void drawn_set(const float *row, int V, float temp, int top_k, float top_p, int R, char *seen) {
    float *lg = xmalloc((size_t)R * V * 4);
    for (int i = 0; i < R; i++) memcpy(lg + (size_t)i * V, row, (size_t)V * 4);
    uint64_t *seeds = xmalloc((size_t)R * 8), *ctr = xmalloc((size_t)R * 8);
    for (int i = 0; i < R; i++) seeds[i] = 99, ctr[i] = (uint64_t)i;
    sample_out o = run_sample(lg, R, V, V, seeds, ctr, temp, top_k, top_p);
    memset(seen, 0, V);
    for (int i = 0; i < R; i++) seen[o.tok[i]] = 1;
    free(lg), free(seeds), free(ctr), free(o.tok), free(o.lp);
}
static int set_is(const char *seen, int V, const int *ids, int n) {
    for (int i = 0; i < V; i++) {
        int want = 0;
        for (int k = 0; k < n; k++) want |= ids[k] == i;
        if (seen[i] != want) return 0;
    }
    return 1;
}

static void test_sample_cases(void) {
    // greedy: the lowest id among equal maxima; log-prob at temperature 1
    int V = 1000;
    float *row = host_rand(V, 1);
    row[5] = row[9] = row[700] = 4.0f;
    uint64_t s = 1, c = 2;
    sample_out g = run_sample(row, 1, V, V, &s, &c, 0.0f, 0, 1.0f);
    double m = 4.0, sum = 0;
    for (int i = 0; i < V; i++) sum += exp((double)row[i] - m);
    CHECK(g.tok[0] == 5, "greedy with tied maxima at 5, 9, 700 picked %d", g.tok[0]);
    CHECK(fabs(g.lp[0] - (-log(sum))) < 1e-5, "greedy log-prob %.8g, want %.8g", g.lp[0], -log(sum));
    row[0] = 4.0f;
    sample_out g0 = run_sample(row, 1, V, V, &s, &c, 0.0f, 0, 1.0f);
    CHECK(g0.tok[0] == 0, "greedy with a maximum at id 0 picked %d", g0.tok[0]);
    free(g.tok), free(g.lp), free(g0.tok), free(g0.lp), free(row);

    // ties at the top-k threshold: the lower ids go in first
    V = 100;
    row = host_rand(V, 0.3f);
    row[10] = row[20] = 5.0f;
    row[3] = row[7] = row[12] = 4.5f;
    char *seen = xmalloc(V);
    drawn_set(row, V, 1.0f, 4, 1.0f, 3000, seen);
    CHECK(set_is(seen, V, (int[]){3, 7, 10, 20}, 4), "top_k=4 with a 3-way tie at the threshold: wrong set drawn");
    drawn_set(row, V, 1.0f, 3, 1.0f, 3000, seen);
    CHECK(set_is(seen, V, (int[]){3, 10, 20}, 3), "top_k=3 with a 3-way tie at the threshold: wrong set drawn");
    // the top-p order inside a tie is by id: a cut through the tie keeps the lower id
    row[10] = row[20] = 4.5f;  // now 3, 7, 10, 12, 20 tie: p-cut at 2 of 5 keeps 3, 7
    drawn_set(row, V, 1.0f, 5, 0.39f, 3000, seen);
    CHECK(set_is(seen, V, (int[]){3, 7}, 2), "top-p cut through a 5-way tie: wrong set drawn");
    free(row);

    // the top-p cut: probabilities .5, .3, .15, .05 at ids 40, 2, 17, 33 (the rest ~0)
    V = 64;
    row = xmalloc(V * 4);
    for (int i = 0; i < V; i++) row[i] = -40.0f;
    row[40] = logf(0.5f), row[2] = logf(0.3f), row[17] = logf(0.15f), row[33] = logf(0.05f);
    drawn_set(row, V, 1.0f, 10, 0.79f, 4000, seen);
    CHECK(set_is(seen, V, (int[]){2, 40}, 2), "top_p=0.79 over .5/.3/.15/.05: wrong set drawn");
    drawn_set(row, V, 1.0f, 10, 0.81f, 4000, seen);
    CHECK(set_is(seen, V, (int[]){2, 17, 40}, 3), "top_p=0.81 over .5/.3/.15/.05: wrong set drawn");
    drawn_set(row, V, 1.0f, 10, 0.0f, 500, seen);
    CHECK(set_is(seen, V, (int[]){40}, 1), "top_p=0 keeps only the most likely token");
    drawn_set(row, V, 1.0f, 2, 1.0f, 4000, seen);
    CHECK(set_is(seen, V, (int[]){2, 40}, 2), "top_k=2 over .5/.3/.15/.05: wrong set drawn");
    free(row), free(seen);

    // determinism: the token depends on (seed, counter), not on the rest of the batch
    int N = 40;
    V = 300;
    float *lg = host_rand((size_t)N * V, 2);
    uint64_t seeds[40], ctr[40];
    for (int i = 0; i < N; i++) seeds[i] = mix64(5, i), ctr[i] = 17;
    const struct { float t; int k; float p; } cfg[] = {{1, 0, 1}, {0.8f, 20, 1}, {1.2f, 50, 0.9f}, {0, 0, 1}};
    for (int k = 0; k < 4; k++) {
        sample_out all = run_sample(lg, N, V, V, seeds, ctr, cfg[k].t, cfg[k].k, cfg[k].p);
        sample_out again = run_sample(lg, N, V, V, seeds, ctr, cfg[k].t, cfg[k].k, cfg[k].p);
        int same = memcmp(all.tok, again.tok, (size_t)N * 4) == 0 && memcmp(all.lp, again.lp, (size_t)N * 4) == 0;
        for (int i = 0; i < N; i += 7) {
            sample_out one = run_sample(lg + (size_t)i * V, 1, V, V, seeds + i, ctr + i, cfg[k].t, cfg[k].k, cfg[k].p);
            same &= one.tok[0] == all.tok[i] && memcmp(one.lp, all.lp + i, 4) == 0;
            free(one.tok), free(one.lp);
        }
        CHECK(same, "sampling T=%.1f k=%d p=%.1f: a row's draw depends on the call or the batch", cfg[k].t, cfg[k].k, cfg[k].p);
        free(all.tok), free(all.lp), free(again.tok), free(again.lp);
    }
    // different counters give different draws (a 300-way draw at temperature 5 is near uniform)
    for (int i = 0; i < N; i++) seeds[i] = 5, ctr[i] = (uint64_t)i, memcpy(lg + (size_t)i * V, lg, (size_t)V * 4);
    sample_out d = run_sample(lg, N, V, V, seeds, ctr, 5.0f, 0, 1.0f);
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++) dup |= d.tok[j] == d.tok[i];
        distinct += !dup;
    }
    CHECK(distinct >= N / 2, "40 counters gave only %d distinct tokens out of 300", distinct);
    free(d.tok), free(d.lp), free(lg);
}

// The sampled token's log-prob is minus kb_classifier's nll for it at the same temperature,
// bit for bit: what PPO's recomputation gives.
static void test_sample_logprob_equals_classifier(void) {
    int N = 50, V = 1000, Vp = 1024;
    float *lg = host_rand((size_t)N * Vp, 2);
    uint64_t seeds[50], ctr[50];
    for (int i = 0; i < N; i++) seeds[i] = mix64(8, i), ctr[i] = (uint64_t)i;
    const struct { float t; int k; float p; } cfg[] = {{1, 0, 1}, {0.7f, 0, 1}, {1.5f, 40, 0.8f}, {0, 0, 1}};
    for (int k = 0; k < 4; k++) {
        sample_out o = run_sample(lg, N, V, Vp, seeds, ctr, cfg[k].t, cfg[k].k, cfg[k].p);
        kb_act *L = dev_act(lg, (size_t)N * Vp);
        int32_t *T = dev_i32(o.tok, N);
        float *nll = dev_nan(N);
        kb_classifier(ctx, L, nll, NULL, T, NULL, 1.0f, cfg[k].t > 0 ? 1.0f / cfg[k].t : 1.0f, N, V, Vp, 0);
        float *h = get_f32(nll, N);
        for (int i = 0; i < N; i++) h[i] = -h[i];
        char what[96];
        snprintf(what, sizeof what, "sampled log-prob = -classifier nll (T=%.1f k=%d p=%.1f)", cfg[k].t, cfg[k].k, cfg[k].p);
        CHECK_BITS(what, o.lp, h, (size_t)N);
        FREE_DEV(L, T, nll);
        free(o.tok), free(o.lp), free(h);
    }
    free(lg);
}

// Issue 20: rows where one token has probability ≈ 1 (the rest of the mass near or below
// one ulp of 1, at large and small logit magnitudes), at the temperatures people use, with
// top-k and top-p: every sampled log-prob is finite and <= 0, and it is minus the
// classifier's nll at that temperature bit for bit.
static void test_sample_logprob_peaked(void) {
    const int N = 240, V = 997, Vp = 1024;  // V not a multiple of the vector width: a tail
    const float temps[] = {0.3f, 0.7f, 1.0f, 1.5f, 0.0f};
    const struct { int k; float p; } trunc[] = {{0, 1.0f}, {40, 1.0f}, {40, 0.9f}, {2, 0.5f}};
    const float base[] = {0.0f, 3.7f, -41.3f, 117.9f, 1003.1f, -0.6f};
    uint64_t seeds[240], ctr[240];
    for (int i = 0; i < N; i++) seeds[i] = mix64(20, i), ctr[i] = (uint64_t)i * 7;
    for (int t = 0; t < 5; t++)
        for (int c = 0; c < (temps[t] > 0 ? 4 : 1); c++) {
            float T = temps[t], zt = T > 0 ? T : 1.0f;
            float *lg = xmalloc((size_t)N * Vp * sizeof(float));
            for (int i = 0; i < N; i++) {
                float *x = lg + (size_t)i * Vp, b = base[i % 6], gap = 14.0f + 20.0f * (float)i / (float)N;  // z units
                for (int j = 0; j < Vp; j++) x[j] = j < V ? b + 0.5f * zt * rng_normal(&rng) : NAN;  // padding unread
                x[(i * 37) % V] = b + gap * zt;  // the peak, gap/T above the rest once scaled
            }
            sample_out o = run_sample(lg, N, V, Vp, seeds, ctr, T, trunc[c].k, trunc[c].p);
            kb_act *L = dev_act(lg, (size_t)N * Vp);
            int32_t *TG = dev_i32(o.tok, N);
            float *nll = dev_nan(N);
            kb_classifier(ctx, L, nll, NULL, TG, NULL, 1.0f, T > 0 ? 1.0f / T : 1.0f, N, V, Vp, 0);
            float *h = get_f32(nll, N);
            int bad = -1, near_one = 0;
            for (int i = 0; i < N; i++) {
                h[i] = -h[i];
                if (bad < 0 && !(isfinite(o.lp[i]) && o.lp[i] <= 0)) bad = i;
                near_one += o.lp[i] > -1e-6f;
            }
            char what[128];
            snprintf(what, sizeof what, "peaked rows T=%.1f k=%d p=%.1f", T, trunc[c].k, trunc[c].p);
            CHECK(bad < 0, "%s: row %d got the log-prob %.9g (token %d): not finite and <= 0", what, bad,
                  bad >= 0 ? (double)o.lp[bad] : 0.0, bad >= 0 ? o.tok[bad] : -1);
            CHECK(near_one >= N / 2, "%s: only %d of %d rows drew a token of probability within 1e-6 of 1: not the "
                  "case the test is for", what, near_one, N);
            snprintf(what + strlen(what), sizeof what - strlen(what), ": log-prob = -classifier nll");
            CHECK_BITS(what, o.lp, h, (size_t)N);
            FREE_DEV(L, TG, nll);
            free(o.tok), free(o.lp), free(h), free(lg);
        }
}

// ---- bad arguments: each must end the process with a message ---------------------------------------

typedef void (*child_fn)(void);
static int exits_nonzero(child_fn fn) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 2);
        fn();
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) != 0 : -1;
}
static float small_logits[16];
static int32_t small_tok[1];
static float small_lp[1];
static uint64_t small_u64[1];
static void sample_with(float t, int k, float p) {
    kb_sample(ctx, small_tok, small_lp, (kb_act *)small_logits, small_u64, small_u64, 1, 16, 16, t, k, p);
}
static void bad_top_p_without_k(void) { sample_with(1.0f, 0, 0.9f); }
static void bad_top_p_with_full_k(void) { sample_with(1.0f, 16, 0.9f); }
static void bad_temperature(void) { sample_with(-1.0f, 0, 1.0f); }
static void bad_top_p_range(void) { sample_with(1.0f, 4, 1.5f); }
static void good_sample(void) { sample_with(1.0f, 4, 0.5f); }
static void bad_key_range(void) {
    float q[48] = {0}, pool[2 * 16 * 4] = {0}, o[16], l[2];
    int32_t table[2] = {0, 1}, ks = 0, ke = 9;  // 2 blocks of 4 hold 8 positions
    kb_paged_attention(ctx, (kb_act *)o, l, (kb_act *)q, (kb_act *)pool, (kb_act *)pool, table, 2, &ks, &ke, 1, 16, 2, 4, 9);
}
static void bad_block_id(void) {
    float q[48] = {0}, pool[2 * 16 * 4] = {0}, o[16], l[2];
    int32_t table[2] = {0, -1}, ks = 0, ke = 6;
    kb_paged_attention(ctx, (kb_act *)o, l, (kb_act *)q, (kb_act *)pool, (kb_act *)pool, table, 2, &ks, &ke, 1, 16, 2, 4, 6);
}
static void bad_slot(void) {
    float q[48] = {0}, pool[2 * 16 * 4] = {0};
    int32_t slot = -3;
    kb_kv_write(ctx, (kb_act *)pool, (kb_act *)pool, (kb_act *)q, &slot, 1, 16, 2, 4);
}

static void test_bad_arguments(void) {
    for (int i = 0; i < 16; i++) small_logits[i] = (float)i;
    CHECK(exits_nonzero(good_sample) == 0, "a valid kb_sample call did not exit cleanly in a child process");
    CHECK(exits_nonzero(bad_top_p_without_k) == 1, "kb_sample accepted top_p < 1 without top_k");
    CHECK(exits_nonzero(bad_top_p_with_full_k) == 1, "kb_sample accepted top_p < 1 with top_k = V");
    CHECK(exits_nonzero(bad_temperature) == 1, "kb_sample accepted a negative temperature");
    CHECK(exits_nonzero(bad_top_p_range) == 1, "kb_sample accepted top_p = 1.5");
    CHECK(exits_nonzero(bad_key_range) == 1, "kb_paged_attention accepted a key range past the block table");
    CHECK(exits_nonzero(bad_block_id) == 1, "kb_paged_attention accepted a negative block id");
    CHECK(exits_nonzero(bad_slot) == 1, "kb_kv_write accepted a negative slot");
}

// ---- thread-count independence -----------------------------------------------------------------------

// Every decoding op at sizes that take the parallel paths, outputs concatenated.
static float *run_decode_ops(size_t *n) {
    rng = 777;
    bbuf all = {0};
    paged_case c = make_paged(128, 2, 16, 64, 48, 10);
    float *o, *l;
    run_paged_rows(&c, 0, c.N, &o, &l);
    bbuf_put(&all, o, (size_t)c.N * c.C * 4);
    bbuf_put(&all, l, (size_t)c.N * c.NH * 4);
    free(o), free(l);
    free_paged(&c);
    int gr[] = {40, 1, 30};
    prefix_case pc = make_prefix(128, 4, 8, 3, gr, 12);
    run_prefix(&pc, &o, &l);
    bbuf_put(&all, o, (size_t)pc.p.N * 128 * 4);
    bbuf_put(&all, l, (size_t)pc.p.N * 4 * 4);
    free(o), free(l);
    free_prefix(&pc);
    // kv writes + copies, large
    int C = 256, NH = 4, bs = 16, nb = 24, N = 300;
    size_t pool = (size_t)nb * C * bs;
    float *kp = host_rand(pool, 1), *q = host_rand((size_t)N * 3 * C, 1);
    int32_t *slots = xmalloc((size_t)N * 4), src[20], dst[20];
    for (int i = 0; i < N; i++) slots[i] = i % 5 == 0 ? 0 : rnd_int(nb * bs);
    for (int i = 0; i < 20; i++) src[i] = rnd_int(nb), dst[i] = rnd_int(nb);
    kb_act *K = dev_act(kp, pool), *V = dev_act(kp, pool), *Q = dev_act(q, (size_t)N * 3 * C);
    int32_t *SL = dev_i32(slots, N), *SR = dev_i32(src, 20), *DS = dev_i32(dst, 20);
    kb_kv_copy_blocks(ctx, K, V, SR, DS, 20, C, bs);
    kb_kv_write(ctx, K, V, Q, SL, N, C, NH, bs);
    float *gk = get_f32(K, pool), *gv = get_f32(V, pool);
    bbuf_put(&all, gk, pool * 4);
    bbuf_put(&all, gv, pool * 4);
    // merge, large, in place
    float *hl = host_rand((size_t)2 * N * NH, 2);
    float *LA = dev_f32(hl, (size_t)N * NH), *LB = dev_f32(hl + (size_t)N * NH, (size_t)N * NH);
    kb_attention_merge(ctx, Q, LA, Q, LA, kb_at(ctx, Q, (size_t)N * C), LB, N, C, NH);
    float *gq = get_f32(Q, (size_t)N * C), *gl = get_f32(LA, (size_t)N * NH);
    bbuf_put(&all, gq, (size_t)N * C * 4);
    bbuf_put(&all, gl, (size_t)N * NH * 4);
    FREE_DEV(K, V, Q, SL, SR, DS, LA, LB);
    free(kp), free(q), free(slots), free(gk), free(gv), free(gq), free(gl), free(hl);
    // sampling, every mode
    int SN = 64, SV = 1000;
    float *lg = host_rand((size_t)SN * SV, 2);
    uint64_t seeds[64], ctr[64];
    for (int i = 0; i < SN; i++) seeds[i] = (uint64_t)i, ctr[i] = 3;
    const struct { float t; int k; float p; } cfg[] = {{1, 0, 1}, {0.8f, 30, 1}, {1, 200, 0.7f}, {0, 0, 1}};
    for (int k = 0; k < 4; k++) {
        sample_out so = run_sample(lg, SN, SV, SV, seeds, ctr, cfg[k].t, cfg[k].k, cfg[k].p);
        bbuf_put(&all, so.tok, (size_t)SN * 4);
        bbuf_put(&all, so.lp, (size_t)SN * 4);
        free(so.tok), free(so.lp);
    }
    free(lg);
    // matmul, matrix-vector path with a parallel split
    int MC = 384, MO = 1000;
    float *hi = host_rand((size_t)8 * MC, 1), *hw = host_rand((size_t)MO * MC, 1);
    for (int M = 1; M <= 8; M *= 2) {
        float *out = xmalloc((size_t)M * MO * 4);
        cpu_gemm(ctx, M, MO, MC, (gemm_view){hi, MC, 1}, (gemm_view){hw, 1, MC}, out, MO, 0, NULL);
        bbuf_put(&all, out, (size_t)M * MO * 4);
        free(out);
    }
    free(hi), free(hw);
    *n = all.n / 4;
    return (float *)all.p;
}

static void test_thread_count_independence(void) {
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    size_t n1, n2;
    float *a = run_decode_ops(&n1);
    omp_set_num_threads(2);
    float *b = run_decode_ops(&n2);
    omp_set_num_threads(threads);
    CHECK(n1 == n2, "1 and 2 threads produced %zu and %zu floats", n1, n2);
    CHECK_BITS("decoding ops, 1 thread vs 2 threads", a, b, n1 < n2 ? n1 : n2);
    free(a), free(b);
}

// ---- the GPT-2 decoder ---------------------------------------------------------------------------------

typedef struct dec_fixture {
    gpt2 m;
    gpt2_kv kv;
    gpt2_decoder d;
    int bs;
} dec_fixture;

static void fixture_open(dec_fixture *f, const gpt2_config *cfg, int bs, int nblocks, int max_n, int max_blocks,
                         int max_groups) {
    gpt2_build(&f->m, ctx, cfg, 1, cfg->maxT, 0);
    gpt2_init(&f->m, 11);
    // larger-than-init weights so that attention and every layer carry signal
    float *p = xmalloc(f->m.n_params * 4);
    gpt2_get_params(&f->m, p);
    uint64_t r = 23;
    for (size_t i = 0; i < f->m.n_params; i++) p[i] += 0.08f * rng_normal(&r);
    memset(p + f->m.off[GPT2_WTE] + (size_t)cfg->V * cfg->C, 0, (size_t)(cfg->Vp - cfg->V) * cfg->C * 4);
    gpt2_set_params(&f->m, p);
    free(p);
    berr e;
    if (gpt2_kv_alloc(&f->kv, &f->m, (size_t)nblocks * gpt2_kv_block_bytes(&f->m, bs), bs, &e)) die("%s", e.msg);
    gpt2_dec_init(&f->d, &f->m, &f->kv, max_n, max_blocks, max_groups);
    f->bs = bs;
}
static void fixture_close(dec_fixture *f) {
    gpt2_dec_free(&f->d);
    gpt2_kv_free(&f->kv, &f->m);
    gpt2_free(&f->m);
}

// Row i of the next call: token tok at position pos of the sequence whose blocks are
// blocks[0..], attending to [ks, pos + 1).
static void put_row(dec_fixture *f, gpt2_dec_call *c, int i, int tok, int pos, const int32_t *blocks, int ks) {
    gpt2_dec_host *h = &f->d.h;
    int mb = f->d.max_blocks;
    h->tokens[i] = tok;
    h->positions[i] = pos;
    h->slots[i] = blocks[pos / f->bs] * f->bs + pos % f->bs;
    h->kv_start[i] = ks;
    h->kv_end[i] = pos + 1;
    memcpy(h->block_table + (size_t)i * mb, blocks, (size_t)mb * 4);
    h->logit_rows[i] = i;
    c->keys += pos + 1 - ks;
}
static float *call_logits(dec_fixture *f, gpt2_dec_call *c) {
    gpt2_dec_upload(&f->d, c);
    gpt2_dec_forward(&f->d, c);
    size_t n = (size_t)c->n_logits * f->m.cfg.Vp;
    float *h = xmalloc(n * 4);
    kb_download_act(ctx, h, f->d.logits, n);
    return h;
}

// Three sequences prefilled together (chunks of different lengths), then decoded one token
// per step with teacher forcing: each row's logits equal gpt2_logits on the full sequence.
static void test_decoder_equals_full_forward(const gpt2_config *cfg, int bs) {
    enum { S = 3 };
    int len[S] = {41, 23, 57}, prompt[S] = {20, 9, 30};
    int mb = (cfg->maxT + bs - 1) / bs, nblocks = S * mb + 1;
    dec_fixture f;
    fixture_open(&f, cfg, bs, nblocks, 64, mb, 0);
    int32_t tok[S][64], blocks[S][16], perm[64];
    for (int i = 0; i < nblocks - 1; i++) perm[i] = i;
    for (int i = nblocks - 2; i > 0; i--) {
        int j = rnd_int(i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    float *ref[S];
    for (int s = 0; s < S; s++) {
        for (int t = 0; t < len[s]; t++) tok[s][t] = rnd_int(cfg->V);
        for (int b = 0; b < mb; b++) blocks[s][b] = perm[s * mb + b];
        int32_t rows[64];
        for (int t = 0; t < len[s]; t++) rows[t] = t;
        ref[s] = xmalloc((size_t)len[s] * cfg->Vp * 4);
        gpt2_logits(&f.m, tok[s], 1, len[s], rows, len[s], ref[s]);
    }
    int Vp = cfg->Vp, bad = 0, rows_checked = 0;
    // prefill: every prompt in one call, logits of every row
    gpt2_dec_call c = {0};
    for (int s = 0; s < S; s++)
        for (int t = 0; t < prompt[s]; t++) put_row(&f, &c, c.n++, tok[s][t], t, blocks[s], 0);
    c.n_logits = c.n;
    float *lg = call_logits(&f, &c);
    for (int s = 0, i = 0; s < S; s++)
        for (int t = 0; t < prompt[s]; t++, i++, rows_checked++)
            bad += memcmp(lg + (size_t)i * Vp, ref[s] + (size_t)t * Vp, (size_t)Vp * 4) != 0;
    free(lg);
    // decode: one token of every unfinished sequence per call
    for (int t = 0;; t++) {
        gpt2_dec_call dc = {0};
        int which[S];
        for (int s = 0; s < S; s++)
            if (prompt[s] + t < len[s]) {
                which[dc.n] = s;
                put_row(&f, &dc, dc.n++, tok[s][prompt[s] + t], prompt[s] + t, blocks[s], 0);
            }
        if (!dc.n) break;
        dc.n_logits = dc.n;
        lg = call_logits(&f, &dc);
        for (int i = 0; i < dc.n; i++, rows_checked++)
            bad += memcmp(lg + (size_t)i * Vp, ref[which[i]] + (size_t)(prompt[which[i]] + t) * Vp, (size_t)Vp * 4) != 0;
        free(lg);
    }
    CHECK(bad == 0, "decoder C=%d NH=%d bs=%d: %d of %d rows' logits differ from gpt2_logits on the full sequence",
          cfg->C, cfg->NH, bs, bad, rows_checked);
    for (int s = 0; s < S; s++) free(ref[s]);
    fixture_close(&f);
}

// Two branches of one prompt: the prompt's full blocks are shared, the partly filled one
// is copied per branch. Without cascade every logit equals gpt2_logits of the branch's
// whole sequence bit for bit; with the shared blocks as a cascade group the logits are close
// (a merge by log-sum-exp rounds differently from one softmax pass); with a group of
// prefix length 0 they are bitwise those of the plain path.
static void test_decoder_cascade(const gpt2_config *cfg, int bs) {
    int P = 2 * bs + 3, branch = 12, L = P + branch, mb = (L + bs - 1) / bs;
    dec_fixture f;
    fixture_open(&f, cfg, bs, 16, 64, mb, 2);
    int32_t prompt[64], tok[2][64], blocks[2][8];
    for (int t = 0; t < P; t++) prompt[t] = rnd_int(cfg->V);
    for (int b = 0; b < 2; b++) {
        memcpy(tok[b], prompt, (size_t)P * 4);
        for (int t = P; t < L; t++) tok[b][t] = rnd_int(cfg->V);
        for (int k = 0; k < mb; k++) blocks[b][k] = k < P / bs ? k : 4 + b * mb + k;  // shared full blocks, own others
    }
    float *ref[2];
    int32_t rows[64];
    for (int t = 0; t < L; t++) rows[t] = t;
    for (int b = 0; b < 2; b++) {
        ref[b] = xmalloc((size_t)L * cfg->Vp * 4);
        gpt2_logits(&f.m, tok[b], 1, L, rows, L, ref[b]);
    }
    int Vp = cfg->Vp;
    // mode 0: plain paged attention; 1: cascade over the shared full blocks; 2: cascade with prefix 0
    float *out[3][2];
    for (int mode = 0; mode < 3; mode++) {
        // prefill the prompt once into branch 0's blocks, then copy the partly filled block
        gpt2_dec_call c = {0};
        for (int t = 0; t < P; t++) put_row(&f, &c, c.n++, prompt[t], t, blocks[0], 0);
        gpt2_dec_upload(&f.d, &c);
        gpt2_dec_forward(&f.d, &c);
        int32_t src = blocks[0][P / bs], dst = blocks[1][P / bs];
        for (int l = 0; l < cfg->L; l++) {
            int32_t *S = dev_i32(&src, 1), *D = dev_i32(&dst, 1);
            kb_kv_copy_blocks(ctx, f.kv.k[l], f.kv.v[l], S, D, 1, cfg->C, bs);
            FREE_DEV(S, D);
        }
        for (int b = 0; b < 2; b++) out[mode][b] = xmalloc((size_t)branch * Vp * 4);
        int shared = mode == 1 ? (P / bs) * bs : 0;
        for (int t = P; t < L; t++) {
            gpt2_dec_call dc = {0};
            for (int b = 0; b < 2; b++) put_row(&f, &dc, dc.n++, tok[b][t], t, blocks[b], mode ? shared : 0);
            dc.n_logits = 2;
            if (mode) {
                dc.groups = 1;
                f.d.h.prefix_len[0] = shared;
                f.d.h.row_off[0] = 0;
                f.d.h.row_off[1] = 2;
                f.d.h.group_rows[0] = 0;
                f.d.h.group_rows[1] = 1;
                memcpy(f.d.h.prefix_table, blocks[0], (size_t)mb * 4);
                dc.prefix_keys = 2 * (int64_t)shared;
            }
            float *lg = call_logits(&f, &dc);
            for (int b = 0; b < 2; b++) memcpy(out[mode][b] + (size_t)(t - P) * Vp, lg + (size_t)b * Vp, (size_t)Vp * 4);
            free(lg);
        }
    }
    int plain_bits = 1, zero_bits = 1;
    double maxdiff = 0, maxabs = 0;
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < (size_t)branch * Vp; i++) {
            maxdiff = fmax(maxdiff, fabs((double)out[1][b][i] - out[0][b][i]));
            maxabs = fmax(maxabs, fabs((double)out[0][b][i]));
        }
    printf("decoder C=%d bs=%d: cascade vs plain logits: max difference %.3g (largest logit %.3g)\n", cfg->C, bs, maxdiff,
           maxabs);
    for (int b = 0; b < 2; b++) {
        plain_bits &= memcmp(out[0][b], ref[b] + (size_t)P * Vp, (size_t)branch * Vp * 4) == 0;
        zero_bits &= memcmp(out[2][b], out[0][b], (size_t)branch * Vp * 4) == 0;
        double *r = dnew((size_t)branch * Vp);
        for (size_t i = 0; i < (size_t)branch * Vp; i++) r[i] = out[0][b][i];
        check_tensor("decoder: cascade logits vs plain paged logits", out[1][b], r, (size_t)branch * Vp, 1e-4);
        free(r);
    }
    CHECK(plain_bits, "decoder (bs=%d): branches over shared blocks differ from gpt2_logits of each branch", bs);
    CHECK(zero_bits, "decoder (bs=%d): a cascade group of prefix length 0 changed the logits' bits", bs);
    for (int mode = 0; mode < 3; mode++) free(out[mode][0]), free(out[mode][1]);
    free(ref[0]), free(ref[1]);
    fixture_close(&f);
}

// Free-running sampled generation (a captured graph replayed per step), then the trainer's
// view: gpt2_forward with the generated tokens as targets (temperature 1) and kb_classifier
// over gpt2_logits (temperature 0.8 with top-k/top-p): the recorded log-probs equal minus
// the recomputed nll bit for bit.
static void test_decoder_logprobs_equal_trainer(const gpt2_config *cfg, int bs) {
    enum { S = 2, STEPS = 30 };
    int P = 7, mb = (cfg->maxT + bs - 1) / bs;
    const float temps[2] = {1.0f, 0.8f};
    const int topk[2] = {0, 20};
    const float topp[2] = {1.0f, 0.9f};
    for (int mode = 0; mode < 2; mode++) {
        dec_fixture f;
        fixture_open(&f, cfg, bs, S * mb + 1, 32, mb, 0);
        int32_t seq[S][64], blocks[S][16];
        float lps[S][64];
        for (int s = 0; s < S; s++) {
            for (int t = 0; t < P; t++) seq[s][t] = rnd_int(cfg->V);
            for (int b = 0; b < mb; b++) blocks[s][b] = s * mb + b;
        }
        gpt2_dec_call c = {0};
        c.sample = 1;
        c.temperature = temps[mode], c.top_k = topk[mode], c.top_p = topp[mode];
        for (int s = 0; s < S; s++)
            for (int t = 0; t < P; t++) put_row(&f, &c, c.n++, seq[s][t], t, blocks[s], 0);
        for (int s = 0; s < S; s++) {
            f.d.h.logit_rows[s] = s * P + P - 1;
            f.d.h.seeds[s] = mix64(3, s);
            f.d.h.counters[s] = P;
        }
        c.n_logits = S;
        gpt2_dec_upload(&f.d, &c);
        gpt2_dec_forward(&f.d, &c);
        gpt2_dec_fetch(&f.d, S);
        gpt2_dec_call dc = {0};
        dc.sample = 1;
        dc.temperature = temps[mode], dc.top_k = topk[mode], dc.top_p = topp[mode];
        dc.n = dc.n_logits = S;
        kb_graph *g = gpt2_dec_capture(&f.d, &dc);
        for (int st = 0; st < STEPS; st++) {
            int pos = P + st;
            dc.keys = 0;
            for (int s = 0; s < S; s++) {
                seq[s][pos] = f.d.tok_host[s];
                lps[s][pos] = f.d.lp_host[s];
                put_row(&f, &dc, s, seq[s][pos], pos, blocks[s], 0);
                f.d.h.counters[s] = (uint64_t)pos + 1;
            }
            gpt2_dec_upload(&f.d, &dc);
            kb_graph_launch(ctx, g);
            gpt2_dec_fetch(&f.d, S);
        }
        kb_graph_free(ctx, g);
        int T = P + STEPS, bad = 0;
        for (int s = 0; s < S; s++) {
            int32_t targets[64];
            for (int t = 0; t < T - 1; t++) targets[t] = t + 1 >= P ? seq[s][t + 1] : -1;
            targets[T - 1] = -1;
            float *nll = xmalloc((size_t)T * 4);
            if (mode == 0) {
                gpt2_forward(&f.m, seq[s], targets, 1, T);
                kb_download(ctx, nll, f.m.losses, (size_t)T * 4);
            } else {
                int32_t rows[64];
                for (int t = 0; t < T; t++) rows[t] = t;
                float *lg = xmalloc((size_t)T * cfg->Vp * 4);
                gpt2_logits(&f.m, seq[s], 1, T, rows, T, lg);
                kb_act *L = dev_act(lg, (size_t)T * cfg->Vp);
                int32_t *TG = dev_i32(targets, T);
                float *NL = dev_nan(T);
                kb_classifier(ctx, L, NL, NULL, TG, NULL, 1.0f, 1.0f / temps[mode], T, cfg->V, cfg->Vp, 0);
                kb_download(ctx, nll, NL, (size_t)T * 4);
                FREE_DEV(L, TG, NL);
                free(lg);
            }
            for (int t = P - 1; t < T - 1; t++) {
                float want = -nll[t];
                bad += memcmp(&want, &lps[s][t + 1], 4) != 0;
            }
            free(nll);
        }
        CHECK(bad == 0, "decoder (T=%.1f k=%d p=%.1f): %d of %d sampled log-probs differ from the trainer's recomputation",
              temps[mode], topk[mode], topp[mode], bad, S * STEPS);
        fixture_close(&f);
    }
}

int main(void) {
    berr e;
    ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    printf("device: %s\n", kb_device_name(ctx));
    rng = test_seed(20261123);
    double t0 = now_sec();
    test_kv_write_copy(96, 4, 5, 12, 30, 7);
    test_kv_write_copy(256, 4, 16, 24, 300, 20);
    test_paged_attention(256, 4, 16, 40, 45, 12);  // head size 64
    test_paged_attention(96, 4, 7, 30, 33, 9);     // 24: a vector and a tail of channels
    test_paged_attention(16, 2, 1, 100, 20, 70);   // 8, below one vector; blocks of one position
    test_paged_attention(256, 2, 32, 10, 9, 5);    // 128
    test_paged_equals_training(2, 77, 128, 2, 16);
    test_paged_equals_training(3, 40, 72, 3, 5);
    test_paged_equals_training(1, 130, 32, 4, 16);
    test_prefix_attention(256, 4, 16);
    test_prefix_attention(96, 4, 7);
    test_merge(37, 96, 4);
    test_merge(300, 256, 4);
    test_cascade_matches_paged(128, 2, 16);
    test_cascade_matches_paged(96, 4, 5);
    test_matmul_small_rows(300, 70);
    test_matmul_small_rows(520, 133);
    test_matmul_small_rows(16, 16);
    test_matmul_small_rows(5, 3);
    printf("ops checked (%.1f s)\n", now_sec() - t0);
    test_sample_semantics(200, 50257, 50304, 1.0f, 0, 1.0f);
    test_sample_semantics(400, 1000, 1024, 0.7f, 50, 1.0f);
    test_sample_semantics(400, 1000, 1024, 1.3f, 200, 0.8f);
    test_sample_semantics(400, 1000, 1024, 1.0f, 999, 0.5f);
    test_sample_semantics(200, 1000, 1024, 0.0f, 0, 1.0f);
    float row[50];
    for (int i = 0; i < 50; i++) row[i] = 1.5f * rng_normal(&rng);
    test_sample_frequencies(row, 50, 1.0f, 0, 1.0f, 40000);
    test_sample_frequencies(row, 50, 0.6f, 0, 1.0f, 40000);
    test_sample_frequencies(row, 50, 1.0f, 10, 1.0f, 40000);
    test_sample_frequencies(row, 50, 1.3f, 20, 0.8f, 40000);
    test_sample_frequencies(row, 50, 1.0f, 49, 0.5f, 40000);
    test_sample_cases();
    test_sample_logprob_equals_classifier();
    test_sample_logprob_peaked();
    test_bad_arguments();
    printf("sampling checked (%.1f s)\n", now_sec() - t0);
    test_thread_count_independence();
    gpt2_config c1 = {.L = 2, .C = 48, .NH = 2, .V = 100, .Vp = 128, .maxT = 64};  // head size 24
    gpt2_config c2 = {.L = 3, .C = 64, .NH = 4, .V = 300, .Vp = 384, .maxT = 64};  // 16
    test_decoder_equals_full_forward(&c1, 8);
    test_decoder_equals_full_forward(&c2, 5);
    test_decoder_cascade(&c1, 8);
    test_decoder_cascade(&c2, 16);
    test_decoder_logprobs_equal_trainer(&c1, 8);
    test_decoder_logprobs_equal_trainer(&c2, 4);
    printf("decoder checked (%.1f s)\n", now_sec() - t0);
    size_t left = kb_bytes_allocated(ctx);
    CHECK(left == 0, "%zu bytes still allocated at the end: a test leaks device memory", left);
    kb_close(ctx);
    return test_summary();
}
