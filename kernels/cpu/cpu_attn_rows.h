// cpu_attn_rows.h — the per-row attention arithmetic that training attention
// (cpu_attention.c) and decode attention over the paged cache (cpu_decode.c) share. One
// definition serves both, so a token decoded through the cache gets the bits the trainer
// recomputes for it (tests/kernels/test_cpu_decode.c checks them).
#pragma once
#include "kernels/cpu/cpu.h"

#define SB (4 * CPU_VL)  // keys per block of score accumulators (4 vector registers)

// Row length of a transposed head: n rounded up to whole blocks, plus one vector so that
// rows are not a power of two apart (which would map a block's loads to one cache set).
static inline size_t padded(int n) { return ((size_t)n + SB - 1) / SB * SB + CPU_VL; }

// out[j0 .. j0+SB) = Σ_d x[d]·Mt[d*ld + j], in order d = 0, 1, ...
static inline void dot_block(float *out, const float *x, const float *Mt, size_t ld, int hs, size_t j0) {
    vfloat a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int d = 0; d < hs; d++) {
        vfloat xd = vbroadcast(x[d]);
        const float *m = Mt + (size_t)d * ld + j0;
        a0 = vfma(xd, vload(m), a0);
        a1 = vfma(xd, vload(m + CPU_VL), a1);
        a2 = vfma(xd, vload(m + 2 * CPU_VL), a2);
        a3 = vfma(xd, vload(m + 3 * CPU_VL), a3);
    }
    vstore(out + j0, a0);
    vstore(out + j0 + CPU_VL, a1);
    vstore(out + j0 + 2 * CPU_VL, a2);
    vstore(out + j0 + 3 * CPU_VL, a3);
}

// score[0..n) (n >= 1) becomes exp(score·scale − m), m = max of score·scale (vector body,
// then the same arithmetic per lane); returns Σ of the exps, and m through *max.
static inline float softmax_row(float *score, int n, float scale, float *max) {
    vfloat vmx = vbroadcast(-INFINITY);
    int j = 0;
    for (; j + CPU_VL <= n; j += CPU_VL) {
        vfloat s = vload(score + j) * scale;
        vstore(score + j, s);
        vmx = vmax(vmx, s);
    }
    float m = -INFINITY;
    for (int l = 0; l < CPU_VL; l++) m = vmx[l] > m ? vmx[l] : m;
    for (; j < n; j++) {
        score[j] *= scale;
        m = score[j] > m ? score[j] : m;
    }
    vfloat vm = vbroadcast(m), vl = {0};
    for (j = 0; j + CPU_VL <= n; j += CPU_VL) {
        vfloat e = vexp(vload(score + j) - vm);
        vstore(score + j, e);
        vl += e;
    }
    float l = vsum(vl);
    for (; j < n; j++) {
        score[j] = cpu_expf(score[j] - m);
        l += score[j];
    }
    *max = m;
    return l;
}
