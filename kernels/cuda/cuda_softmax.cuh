// cuda_softmax.cuh — the row reduction of the classifier-style kernels (one block per row):
// an online (max, Σ exp(z − max), Σ exp(z − max)·z) per thread, merged warp then block in a
// fixed order, so a row's result does not depend on scheduling.
#pragma once
#include "kernels/cuda/cuda_common.cuh"

#define SOFTMAX_THREADS 512

struct msz {
    float m, s, sz;  // running max, sum of exp(z-m), sum of exp(z-m)·z
};
__device__ __forceinline__ msz msz_merge(msz a, msz b) {
    if (a.m == -INFINITY) return b;
    if (b.m == -INFINITY) return a;
    float m = fmaxf(a.m, b.m), ea = __expf(a.m - m), eb = __expf(b.m - m);
    msz r = {m, a.s * ea + b.s * eb, a.sz * ea + b.sz * eb};
    return r;
}

// Merges every thread's partial into *total (shared; all threads see it on return).
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
        for (int w = 1; w < SOFTMAX_THREADS / 32; w++) t = msz_merge(t, red[w]);
        *total = t;
    }
    __syncthreads();
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
