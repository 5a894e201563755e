// cpu_attention.c — causal multi-head self-attention, forward and backward, without a
// (T,T) matrix: forward keeps one row of scores per thread; backward recomputes each
// probability from q, k and the row's log-sum-exp saved by forward.
//
// qkv is (B,T,3C) laid out [q | k | v]; head h of position t uses channels h*hs .. h*hs+hs
// of each third. Scores are (q·k)/√hs; out = softmax(scores)·v; lse = log Σ exp(scores).
#include "kernels/cpu/cpu.h"

static inline const float *qkv_at(const float *qkv, int b, int t, int which, int h, int T, int C, int hs) {
    return qkv + ((size_t)b * T + t) * 3 * C + (size_t)which * C + (size_t)h * hs;
}

// One query row per task: scores of keys 0..t into a per-thread row, softmax, weighted sum
// of values. Every row is computed the same way whatever B, T or the thread count.
void cpu_attention_forward(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, int B, int T, int C, int NH) {
    const float *x = CFP(qkv);
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    int team = cpu_threads();
    size_t row_floats = cpu_round64((size_t)T * sizeof(float)) / sizeof(float);
    size_t per_thread = row_floats + cpu_round64((size_t)hs * sizeof(float)) / sizeof(float);
    float *scratch = cpu_scratch(ctx, per_thread * team * sizeof(float));
    long rows = (long)B * NH * T;

#pragma omp parallel for schedule(dynamic, 16) num_threads(team) if (team > 1 && (double)rows * T * hs > 65536)
    for (long r = 0; r < rows; r++) {
        int t = (int)(r % T), h = (int)(r / T % NH), b = (int)(r / ((long)T * NH));
        float *score = scratch + per_thread * omp_get_thread_num(), *acc = score + row_floats;
        const float *q = qkv_at(x, b, t, 0, h, T, C, hs);
        float m = -INFINITY;
        for (int j = 0; j <= t; j++) {
            float s = cpu_dot(q, qkv_at(x, b, j, 1, h, T, C, hs), hs) * scale;
            score[j] = s;
            m = s > m ? s : m;
        }
        vfloat vm = vbroadcast(m), vl = {0};
        int j = 0;
        for (; j + CPU_VL <= t + 1; j += CPU_VL) {
            vfloat e = vexp(vload(score + j) - vm);
            vstore(score + j, e);
            vl += e;
        }
        float l = vsum(vl);
        for (; j <= t; j++) {
            score[j] = cpu_expf(score[j] - m);
            l += score[j];
        }
        for (int d = 0; d < hs; d++) acc[d] = 0;
        for (j = 0; j <= t; j++) cpu_axpy(acc, score[j], qkv_at(x, b, j, 2, h, T, C, hs), hs);
        float inv = 1.0f / l, *o = FP(out) + ((size_t)b * T + t) * C + (size_t)h * hs;
        for (int d = 0; d < hs; d++) o[d] = acc[d] * inv;
        if (lse) lse[((size_t)b * NH + h) * T + t] = m + logf(l);
    }
}

// One (sequence, head) per task, so the key/value gradients, which sum over queries, are
// each added by one thread in query order. With p = exp(s - lse), D = dout·out:
//   dv_j += p_tj·dout_t,  ds_tj = p_tj·(dout_t·v_j - D_t),
//   dq_t = scale·Σ_j ds_tj·k_j,  dk_j += scale·ds_tj·q_t.
void cpu_attention_backward(kb_ctx *ctx, kb_act *dqkv, const kb_act *dout, const kb_act *qkv, const kb_act *out,
                            const float *lse, int B, int T, int C, int NH) {
    const float *x = CFP(qkv), *dy = CFP(dout), *y = CFP(out);
    float *dx = FP(dqkv);
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    int heads = B * NH;

#pragma omp parallel for schedule(dynamic, 1) if ((double)heads * T * T * hs > 65536)
    for (int bh = 0; bh < heads; bh++) {
        int b = bh / NH, h = bh % NH;
        for (int t = 0; t < T; t++) {
            memset((float *)qkv_at(dx, b, t, 1, h, T, C, hs), 0, (size_t)hs * sizeof(float));
            memset((float *)qkv_at(dx, b, t, 2, h, T, C, hs), 0, (size_t)hs * sizeof(float));
        }
        for (int t = 0; t < T; t++) {
            const float *q = qkv_at(x, b, t, 0, h, T, C, hs);
            const float *g = dy + ((size_t)b * T + t) * C + (size_t)h * hs;
            const float *o = y + ((size_t)b * T + t) * C + (size_t)h * hs;
            float *dq = (float *)qkv_at(dx, b, t, 0, h, T, C, hs);
            float row_lse = lse[(size_t)bh * T + t], D = cpu_dot(g, o, hs);
            memset(dq, 0, (size_t)hs * sizeof(float));
            for (int j = 0; j <= t; j++) {
                const float *k = qkv_at(x, b, j, 1, h, T, C, hs), *v = qkv_at(x, b, j, 2, h, T, C, hs);
                float p = cpu_expf(cpu_dot(q, k, hs) * scale - row_lse);
                float ds = p * (cpu_dot(g, v, hs) - D) * scale;
                cpu_axpy((float *)qkv_at(dx, b, j, 2, h, T, C, hs), p, g, hs);
                cpu_axpy((float *)qkv_at(dx, b, j, 1, h, T, C, hs), ds, q, hs);
                cpu_axpy(dq, ds, k, hs);
            }
        }
    }
}
