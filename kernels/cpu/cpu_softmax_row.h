// cpu_softmax_row.h — the softmax statistics of one logits row and the log-prob made from
// them, shared by the classifier (cpu_classifier.c, what the trainer computes) and the
// sampler (cpu_decode.c, what rollout records). One definition serves both, so a sampled
// token's log-prob is, bit for bit, minus the nll the trainer computes for it at the same
// temperature (tests/kernels/test_cpu_decode.c checks the bits).
#pragma once
#include "kernels/cpu/cpu.h"

// max over j < V of x[j]·inv (vector lanes, then the lanes, then the tail).
static inline float row_max(const float *x, float inv, int V) {
    vfloat vit = vbroadcast(inv), vmx = vbroadcast(-INFINITY);
    int j = 0;
    for (; j + CPU_VL <= V; j += CPU_VL) vmx = vmax(vmx, vload(x + j) * vit);
    float m = -INFINITY;
    for (int l = 0; l < CPU_VL; l++) m = vmx[l] > m ? vmx[l] : m;
    for (; j < V; j++) m = x[j] * inv > m ? x[j] * inv : m;
    return m;
}

// Σ e_j over j < V, e_j = exp(x[j]·inv − m), in a fixed order. e (may be NULL, may be x
// itself: each element is read before it is written) receives the e_j; dev (may be NULL)
// receives Σ e_j·(m − z_j), the entropy's numerator. The term of the maximum is exp(0) = 1
// exactly (vexp is exact there), so the sum is >= 1.
static inline float row_sum_exp(const float *x, float inv, float m, int V, float *e, float *dev) {
    vfloat vit = vbroadcast(inv), vm = vbroadcast(m), acc_e = {0}, acc_d = {0};
    int j = 0;
    for (; j + CPU_VL <= V; j += CPU_VL) {
        vfloat zj = vload(x + j) * vit, ej = vexp(zj - vm);
        acc_e += ej;
        if (dev) acc_d = vfma(ej, vm - zj, acc_d);
        if (e) vstore(e + j, ej);
    }
    float sum = vsum(acc_e), d = dev ? vsum(acc_d) : 0;
    for (; j < V; j++) {
        float zj = x[j] * inv, ej = cpu_expf(zj - m);
        sum += ej;
        if (dev) d += ej * (m - zj);
        if (e) e[j] = ej;
    }
    if (dev) *dev = d;
    return sum;
}

// −log p of the token whose scaled logit is zt, in a row of max m and sum s = Σ exp(z − m):
// (m − zt) + log s. Both terms are >= 0 (zt <= m, and a rounded difference keeps its sign;
// s >= 1, so log s >= 0), so the nll is >= 0 and the log-prob −nll <= 0 whatever the
// rounding: a token of probability ≈ 1 gets 0 or a hair below, never a hair above.
static inline float row_nll(float m, float s, float zt) { return (m - zt) + logf(s); }
