// cpu_attention.c — causal multi-head self-attention, forward and backward, without a
// (T,T) matrix: forward keeps one row of scores per thread; backward recomputes each
// probability from q, k and the row's log-sum-exp saved by forward.
//
// qkv is (B,T,3C) laid out [q | k | v]; head h of position t uses channels h*hs .. h*hs+hs
// of each third. Scores are (q·k)/√hs; out = softmax(scores)·v; lse = log Σ exp(scores).
//
// Keys (and values) are first transposed per head to (hs, Tp), so a query's scores against
// a run of keys are vector FMAs across keys (no horizontal sums). Each score is the same
// FMA chain over the head's channels wherever it is computed, so the bits depend neither
// on the thread count nor on the other rows of the batch.
#include "kernels/cpu/cpu_attn_rows.h"

static inline const float *qkv_at(const float *qkv, int b, int t, int which, int h, int T, int C, int hs) {
    return qkv + ((size_t)b * T + t) * 3 * C + (size_t)which * C + (size_t)h * hs;
}

// dst (hs, ld): dst[d*ld + t] = part `which` of head h of sequence b at position t, d.
// Columns T..ld are zeroed so full-block loads past the last key read zeros.
static void transpose_head(float *dst, size_t ld, const float *qkv, int b, int h, int which, int T, int C, int hs) {
    for (int t = 0; t < T; t++) {
        const float *src = qkv_at(qkv, b, t, which, h, T, C, hs);
        for (int d = 0; d < hs; d++) dst[(size_t)d * ld + t] = src[d];
    }
    for (int d = 0; d < hs; d++)
        for (size_t t = T; t < ld; t++) dst[(size_t)d * ld + t] = 0;
}

// y[d] = Σ_{j<n} w[j]·rows[j*stride + d] for d < hs, j ascending. Four vectors of y stay
// in registers while the rows stream by; leftover channels are summed one by one.
static void weighted_rows(float *y, const float *w, int n, const float *rows, size_t stride, int hs) {
    int d0 = 0;
    for (; d0 + SB <= hs; d0 += SB) {
        vfloat a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int j = 0; j < n; j++) {
            vfloat wj = vbroadcast(w[j]);
            const float *r = rows + j * stride + d0;
            a0 = vfma(wj, vload(r), a0);
            a1 = vfma(wj, vload(r + CPU_VL), a1);
            a2 = vfma(wj, vload(r + 2 * CPU_VL), a2);
            a3 = vfma(wj, vload(r + 3 * CPU_VL), a3);
        }
        vstore(y + d0, a0);
        vstore(y + d0 + CPU_VL, a1);
        vstore(y + d0 + 2 * CPU_VL, a2);
        vstore(y + d0 + 3 * CPU_VL, a3);
    }
    for (; d0 + CPU_VL <= hs; d0 += CPU_VL) {
        vfloat a = {0};
        for (int j = 0; j < n; j++) a = vfma(vbroadcast(w[j]), vload(rows + j * stride + d0), a);
        vstore(y + d0, a);
    }
    for (; d0 < hs; d0++) {
        float a = 0;
        for (int j = 0; j < n; j++) a += w[j] * rows[j * stride + d0];
        y[d0] = a;
    }
}

// One query row per task (keys of all heads transposed first, into shared scratch).
void cpu_attention_forward(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, int B, int T, int C, int NH) {
    const float *x = CFP(qkv);
    int hs = C / NH, heads = B * NH, team = cpu_threads();
    float scale = 1.0f / sqrtf((float)hs);
    size_t ld = padded(T), head_floats = (size_t)hs * ld;
    size_t per_thread = ld + cpu_round64((size_t)hs * sizeof(float)) / sizeof(float);
    float *kt = cpu_scratch(ctx, (head_floats * heads + per_thread * team) * sizeof(float));
    float *rows_scratch = kt + head_floats * heads;
    long rows = (long)heads * T;
    int parallel = team > 1 && (double)rows * T * hs > 65536;

#pragma omp parallel num_threads(team) if (parallel)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int bh = 0; bh < heads; bh++) transpose_head(kt + head_floats * bh, ld, x, bh / NH, bh % NH, 1, T, C, hs);
        CPU_FTZ_END
    }

#pragma omp parallel num_threads(team) if (parallel)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(dynamic, 16)
        for (long r = 0; r < rows; r++) {
            int t = (int)(r % T), bh = (int)(r / T), b = bh / NH, h = bh % NH, n = t + 1;
            float *score = rows_scratch + per_thread * omp_get_thread_num(), *acc = score + ld;
            const float *q = qkv_at(x, b, t, 0, h, T, C, hs);
            for (size_t j0 = 0; j0 < (size_t)n; j0 += SB) dot_block(score, q, kt + head_floats * bh, ld, hs, j0);
            float m, l = softmax_row(score, n, scale, &m);  // scale, max, exp, sum over keys 0..t
            weighted_rows(acc, score, n, qkv_at(x, b, 0, 2, h, T, C, hs), (size_t)3 * C, hs);
            float inv = 1.0f / l, *o = FP(out) + ((size_t)b * T + t) * C + (size_t)h * hs;
            for (int d = 0; d < hs; d++) o[d] = acc[d] * inv;
            if (lse) lse[(size_t)bh * T + t] = m + logf(l);
        }
        CPU_FTZ_END
    }
}

// One (sequence, head) per task, so the key/value gradients, which sum over queries, are
// each added by one thread in query order. With p = exp(s - lse), D_t = dout_t·out_t:
//   ds_tj = p_tj·(dout_t·v_j - D_t)·scale,  dq_t = Σ_j ds_tj·k_j,
//   dk_j += ds_tj·q_t,  dv_j += p_tj·dout_t.
// dk and dv accumulate transposed (hs, Tp) in scratch, vectorised across keys, QB queries
// per pass over them (still added one query after another, so the bits are as if one).
#define QB 4

// Rows p and ds of query t (keys 0..t; zero from t+1 up to `upto`).
static void probs_row(float *p, float *ds, const float *q, const float *g, const float *o, float row_lse,
                      const float *kt, const float *vt, size_t ld, int hs, float scale, int t, int upto) {
    int n = t + 1, j = 0;
    float D = cpu_dot(g, o, hs);
    for (size_t j0 = 0; j0 < (size_t)n; j0 += SB) {
        dot_block(p, q, kt, ld, hs, j0);   // p <- q·k
        dot_block(ds, g, vt, ld, hs, j0);  // ds <- dout·v
    }
    vfloat vlse = vbroadcast(row_lse), vD = vbroadcast(D);
    for (; j + CPU_VL <= n; j += CPU_VL) {
        vfloat pj = vexp(vload(p + j) * scale - vlse);
        vstore(p + j, pj);
        vstore(ds + j, pj * (vload(ds + j) - vD) * scale);
    }
    for (; j < n; j++) {
        p[j] = cpu_expf(p[j] * scale - row_lse);
        ds[j] = p[j] * (ds[j] - D) * scale;
    }
    for (; j < upto; j++) p[j] = ds[j] = 0;  // keys after t: no contribution
}

void cpu_attention_backward(kb_ctx *ctx, kb_act *dqkv, const kb_act *dout, const kb_act *qkv, const kb_act *out,
                            const float *lse, int B, int T, int C, int NH) {
    const float *x = CFP(qkv), *dy = CFP(dout), *y = CFP(out);
    float *dx = FP(dqkv);
    int hs = C / NH, heads = B * NH, team = cpu_threads();
    float scale = 1.0f / sqrtf((float)hs);
    size_t ld = padded(T), head_floats = (size_t)hs * ld, per_thread = 4 * head_floats + 2 * QB * ld;
    float *scratch = cpu_scratch(ctx, per_thread * team * sizeof(float));

#pragma omp parallel num_threads(team) if (team > 1 && (double)heads * T * T * hs > 65536)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(dynamic, 1)
        for (int bh = 0; bh < heads; bh++) {
            int b = bh / NH, h = bh % NH;
            float *kt = scratch + per_thread * omp_get_thread_num(), *vt = kt + head_floats;
            float *dkt = vt + head_floats, *dvt = dkt + head_floats, *p = dvt + head_floats, *ds = p + QB * ld;
            transpose_head(kt, ld, x, b, h, 1, T, C, hs);
            transpose_head(vt, ld, x, b, h, 2, T, C, hs);
            memset(dkt, 0, 2 * head_floats * sizeof(float));
            for (int t0 = 0; t0 < T; t0 += QB) {
                int nq = T - t0 < QB ? T - t0 : QB;
                int nvec = (t0 + nq + CPU_VL - 1) / CPU_VL * CPU_VL;  // keys of the block's last query, whole vectors
                const float *q[QB], *g[QB];
                for (int i = 0; i < nq; i++) {
                    int t = t0 + i;
                    q[i] = qkv_at(x, b, t, 0, h, T, C, hs);
                    g[i] = dy + ((size_t)b * T + t) * C + (size_t)h * hs;
                    probs_row(p + i * ld, ds + i * ld, q[i], g[i], y + ((size_t)b * T + t) * C + (size_t)h * hs,
                              lse[(size_t)bh * T + t], kt, vt, ld, hs, scale, t, nvec);
                    weighted_rows((float *)qkv_at(dx, b, t, 0, h, T, C, hs), ds + i * ld, t + 1,
                                  qkv_at(x, b, 0, 1, h, T, C, hs), (size_t)3 * C, hs);
                }
                for (int d = 0; d < hs; d++) {
                    float *dk = dkt + (size_t)d * ld, *dv = dvt + (size_t)d * ld;
                    vfloat qd[QB], gd[QB];
                    for (int i = 0; i < nq; i++) qd[i] = vbroadcast(q[i][d]), gd[i] = vbroadcast(g[i][d]);
                    for (int j = 0; j < nvec; j += CPU_VL) {
                        vfloat ak = vload(dk + j), av = vload(dv + j);
                        for (int i = 0; i < nq; i++) {
                            ak = vfma(qd[i], vload(ds + i * ld + j), ak);
                            av = vfma(gd[i], vload(p + i * ld + j), av);
                        }
                        vstore(dk + j, ak);
                        vstore(dv + j, av);
                    }
                }
            }
            for (int t = 0; t < T; t++) {
                float *dk = (float *)qkv_at(dx, b, t, 1, h, T, C, hs), *dv = (float *)qkv_at(dx, b, t, 2, h, T, C, hs);
                for (int d = 0; d < hs; d++) {
                    dk[d] = dkt[(size_t)d * ld + t];
                    dv[d] = dvt[(size_t)d * ld + t];
                }
            }
        }
        CPU_FTZ_END
    }
}
