// cuda_softmax_row.cuh — one logits row's softmax statistics (max, Σ exp(z − max),
// Σ exp(z − max)·z), reduced by one block of ROW_THREADS, and the nll made from them. The
// classifier kernels (cuda_classifier.cu, what the trainer computes) and the sampler
// (cuda_decode.cu, what rollout records) share it: for the same row and temperature they
// reduce the same values in the same order, so the sampler's log-prob is exactly minus the
// classifier's nll, and the nll is >= 0 by construction.
#pragma once
#include "kernels/cuda/cuda_common.cuh"

#define ROW_THREADS 512

// A scaled logit, z = x·inv as a rounded product (__fmul_rn is never fused into a later
// add), so the row's max and a token's z are the same value wherever they are computed.
__device__ __forceinline__ float row_z(float x, float inv) { return __fmul_rn(x, inv); }

struct msz {
    float m, s, sz;  // running max, sum of exp(z-m), sum of exp(z-m)·z
};
// The side holding the max keeps weight 1 exactly (not __expf(0)): every partial that has
// seen a value has s >= 1, and so has the row's total.
__device__ __forceinline__ msz msz_merge(msz a, msz b) {
    if (a.m == -INFINITY) return b;
    if (b.m == -INFINITY) return a;
    float m = fmaxf(a.m, b.m), ea = a.m == m ? 1.f : __expf(a.m - m), eb = b.m == m ? 1.f : __expf(b.m - m);
    msz r = {m, a.s * ea + b.s * eb, a.sz * ea + b.sz * eb};
    return r;
}
__device__ __forceinline__ void msz_add(msz &a, float z) {
    if (z > a.m) {
        float e = a.m == -INFINITY ? 0.f : __expf(a.m - z);
        a.s = a.s * e + 1.f;
        a.sz = a.sz * e + z;
        a.m = z;
    } else {
        float e = __expf(z - a.m);
        a.s += e;
        a.sz += e * z;
    }
}
// Adds columns i..i+7 (those below V) of a row, f holding their logits, in column order.
__device__ __forceinline__ void msz_add8(msz &a, const float *f, int i, int V, float inv) {
#pragma unroll
    for (int j = 0; j < 8; j++)
        if (i + j < V) msz_add(a, row_z(f[j], inv));
}
// This thread's partial over a row of V columns in device memory (16-byte aligned): chunks
// of 8 columns at threadIdx.x·8 + k·ROW_THREADS·8. A chunk may reach into the padding
// (columns V..Vp, Vp % 8 == 0), which is read but not added.
__device__ __forceinline__ msz msz_row_partial(const bf16 *x, int V, float inv) {
    msz a = {-INFINITY, 0.f, 0.f};
    for (int i = threadIdx.x * 8; i < V; i += ROW_THREADS * 8) {
        float f[8];
        load8(x + i, f);
        msz_add8(a, f, i, V, inv);
    }
    return a;
}

// The same partial, with the row staged into shared memory srow (Vp columns) on the way: one
// read of the logits from device memory for kernels that pass over the row twice.
__device__ __forceinline__ msz msz_row_partial_staged(const bf16 *x, bf16 *srow, int V, int Vp, float inv) {
    msz a = {-INFINITY, 0.f, 0.f};
    for (int i = threadIdx.x * 8; i < Vp; i += ROW_THREADS * 8) {
        bf16x8 v = *(const bf16x8 *)(x + i);
        *(bf16x8 *)(srow + i) = v;
        float f[8];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            float2 t = __bfloat1622float2(v.h[j]);
            f[2 * j] = t.x, f[2 * j + 1] = t.y;
        }
        if (i < V) msz_add8(a, f, i, V, inv);  // msz_row_partial's order
    }
    return a;
}

// Merges every thread's partial into *total (shared; all threads see it on return): warp
// then block, in a fixed order, so the result does not depend on scheduling.
__device__ __forceinline__ void msz_block_merge(msz a, msz *red, msz *total) {
    for (int o = 16; o > 0; o >>= 1) {
        msz b = {__shfl_xor_sync(0xffffffffu, a.m, o), __shfl_xor_sync(0xffffffffu, a.s, o),
                 __shfl_xor_sync(0xffffffffu, a.sz, o)};
        a = msz_merge(a, b);
    }
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = a;
    __syncthreads();
    if (threadIdx.x == 0) {
        msz t = red[0];
        for (int w = 1; w < ROW_THREADS / 32; w++) t = msz_merge(t, red[w]);
        *total = t;
    }
    __syncthreads();
}

// log s for s >= 1, never below 0. log1pf(s − 1), not logf(s): --use_fast_math makes logf
// __logf, whose absolute error near 1 (about 2^-21) goes below 0 — a token of probability
// ≈ 1 then got a log-prob a hair above 0 (issue 20). log1pf keeps its accuracy (and s − 1
// is exact for s in [1, 2]).
__device__ __forceinline__ float row_log_sum(float s) { return log1pf(s - 1.f); }

// −log p of the token of scaled logit zt in a row of max m and sum s: (m − zt) + log s.
// Both terms are >= 0 (zt <= m, and a rounded difference keeps its sign; s >= 1), so the
// nll is >= 0 and the log-prob −nll <= 0 whatever the rounding.
__device__ __forceinline__ float row_nll(float m, float s, float zt) { return (m - zt) + row_log_sum(s); }
