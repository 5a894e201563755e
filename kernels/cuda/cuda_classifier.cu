// cuda_classifier.cu — softmax, cross-entropy, entropy and the logits gradient in one
// kernel, one block per row: pass 1 reads the row once (online max / sum / sum·z), pass 2
// writes the gradient over the logits in place. No fp32 logits tensor exists. Pass 1 and
// the nll are cuda_softmax_row.cuh's, which the sampler shares: both kernels here and the
// sampler reduce a row in the same order, so the nll is the same with or without the
// gradient, and a sampled token's log-prob is exactly minus it.
#include <math.h>

#include "kernels/cuda/cuda_softmax_row.cuh"

#define CLS_THREADS ROW_THREADS

__global__ void __launch_bounds__(CLS_THREADS) classifier_kernel(bf16 *logits, float *nll, float *entropy,
                                                                 const int32_t *targets, const float *row_scale,
                                                                 float dscale, float inv_temp, int V, int Vp,
                                                                 int want_grad) {
    __shared__ msz red[CLS_THREADS / 32];
    __shared__ msz total;
    const int row = blockIdx.x;
    bf16 *x = logits + (size_t)row * Vp;
    const int tgt = targets[row];
    if (tgt < 0) {  // ignored row: zero loss, zero gradient
        if (threadIdx.x == 0) {
            nll[row] = 0.f;
            if (entropy) entropy[row] = 0.f;
        }
        if (want_grad)
            for (int i = threadIdx.x * 8; i < Vp; i += CLS_THREADS * 8) {
                float z[8] = {0};
                store8(x + i, z);
            }
        return;
    }
    msz_block_merge(msz_row_partial(x, V, inv_temp), red, &total);
    const float lse = total.m + row_log_sum(total.s);
    if (threadIdx.x == 0) {
        nll[row] = row_nll(total.m, total.s, row_z(__bfloat162float(x[tgt]), inv_temp));
        if (entropy) entropy[row] = lse - total.sz / total.s;
    }
    __syncthreads();  // x[tgt] is read above before pass 2 overwrites it
    if (!want_grad) return;
    const float sc = dscale * (row_scale ? row_scale[row] : 1.f) * inv_temp;
    for (int i = threadIdx.x * 8; i < Vp; i += CLS_THREADS * 8) {
        float f[8];
        load8(x + i, f);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            int c = i + j;
            float p = c < V ? __expf(f[j] * inv_temp - lse) : 0.f;
            f[j] = (p - (c == tgt ? 1.f : 0.f)) * sc;
        }
        store8(x + i, f);
    }
}

// The same with the row staged in shared memory: one read of the logits from device memory
// instead of two (the row, up to ~100K columns, fits in a block's shared memory).
__global__ void __launch_bounds__(CLS_THREADS) classifier_smem_kernel(bf16 *logits, float *nll, float *entropy,
                                                                      const int32_t *targets, const float *row_scale,
                                                                      float dscale, float inv_temp, int V, int Vp) {
    extern __shared__ __align__(16) bf16 srow[];
    __shared__ msz red[CLS_THREADS / 32];
    __shared__ msz total;
    const int row = blockIdx.x;
    bf16 *x = logits + (size_t)row * Vp;
    const int tgt = targets[row];
    if (tgt < 0) {
        if (threadIdx.x == 0) {
            nll[row] = 0.f;
            if (entropy) entropy[row] = 0.f;
        }
        for (int i = threadIdx.x * 8; i < Vp; i += CLS_THREADS * 8) {
            float z[8] = {0};
            store8(x + i, z);
        }
        return;
    }
    msz a = msz_row_partial_staged(x, srow, V, Vp, inv_temp);
    msz_block_merge(a, red, &total);
    const float lse = total.m + row_log_sum(total.s);
    if (threadIdx.x == 0) {
        nll[row] = row_nll(total.m, total.s, row_z(__bfloat162float(srow[tgt]), inv_temp));
        if (entropy) entropy[row] = lse - total.sz / total.s;
    }
    const float sc = dscale * (row_scale ? row_scale[row] : 1.f) * inv_temp;
    for (int i = threadIdx.x * 8; i < Vp; i += CLS_THREADS * 8) {
        float f[8];
        load8(srow + i, f);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            int c = i + j;
            float p = c < V ? __expf(f[j] * inv_temp - lse) : 0.f;
            f[j] = (p - (c == tgt ? 1.f : 0.f)) * sc;
        }
        store8(x + i, f);
    }
}

#define CLS_SMEM_MAX (200 * 1024)

void cuda_classifier(kb_ctx *ctx, kb_act *logits, float *nll, float *entropy, const int32_t *targets,
                     const float *row_scale, float dscale, float inv_temp, int N, int V, int Vp, int want_grad) {
    if (Vp % 8) die("cuda classifier: padded vocabulary %d must be a multiple of 8", Vp);
    if (N == 0) return;
    size_t smem = (size_t)Vp * sizeof(bf16);
    if (want_grad && smem <= CLS_SMEM_MAX) {
        static size_t attr = 0;
        if (smem > attr) {
            CUDA_CHECK(cudaFuncSetAttribute(classifier_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
            attr = smem;
        }
        classifier_smem_kernel<<<N, CLS_THREADS, smem, STREAM(ctx)>>>((bf16 *)logits, nll, entropy, targets, row_scale,
                                                                      dscale, inv_temp, V, Vp);
        LAUNCH_CHECK();
        return;
    }
    classifier_kernel<<<N, CLS_THREADS, 0, STREAM(ctx)>>>((bf16 *)logits, nll, entropy, targets, row_scale, dscale,
                                                           inv_temp, V, Vp, want_grad);
    LAUNCH_CHECK();
}
