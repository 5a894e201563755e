// cuda_layernorm.cu — layernorm forward (optionally fused with the residual add before it)
// and backward, one warp per row with the row held in registers. Weight/bias gradients are
// reduced deterministically: per-block partials in a fixed grid, then summed in order.
#include <math.h>

#include "kernels/cuda/cuda_common.cuh"

#define LN_EPS 1e-5f
#define LN_WARPS 8

// resid_out = a + b (if b), out = layernorm(resid or a). NCH: chunks of 8 per lane.
template <int NCH>
__global__ void __launch_bounds__(LN_WARPS * 32) ln_fwd(bf16 *resid_out, bf16 *out, float *mean, float *rstd,
                                                        const bf16 *a, const bf16 *b, const bf16 *w,
                                                        const bf16 *bias, int N, int C) {
    int row = blockIdx.x * LN_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const int nv = C / 8;
    size_t base = (size_t)row * C;
    float x[NCH][8];
    float s = 0;
#pragma unroll
    for (int k = 0; k < NCH; k++) {
        int i = lane + 32 * k;
        if (i >= nv) break;
        load8(a + base + i * 8, x[k]);
        if (b) {
            float y[8];
            load8(b + base + i * 8, y);
#pragma unroll
            for (int j = 0; j < 8; j++) x[k][j] = __bfloat162float(__float2bfloat16_rn(x[k][j] + y[j]));
            store8(resid_out + base + i * 8, x[k]);
        }
#pragma unroll
        for (int j = 0; j < 8; j++) s += x[k][j];
    }
    float mu = warp_sum(s) / C, v = 0;
#pragma unroll
    for (int k = 0; k < NCH; k++) {
        if (lane + 32 * k >= nv) break;
#pragma unroll
        for (int j = 0; j < 8; j++) v += (x[k][j] - mu) * (x[k][j] - mu);
    }
    float rs = rsqrtf(warp_sum(v) / C + LN_EPS);
#pragma unroll
    for (int k = 0; k < NCH; k++) {
        int i = lane + 32 * k;
        if (i >= nv) break;
        float wv[8], bv[8], y[8];
        load8(w + i * 8, wv);
        load8(bias + i * 8, bv);
#pragma unroll
        for (int j = 0; j < 8; j++) y[j] = (x[k][j] - mu) * rs * wv[j] + bv[j];
        store8(out + base + i * 8, y);
    }
    if (lane == 0 && mean) {
        mean[row] = mu;
        rstd[row] = rs;
    }
}

// Rows wider than 2048: the same computation re-reading global memory each pass.
__global__ void ln_fwd_wide(bf16 *resid_out, bf16 *out, float *mean, float *rstd, const bf16 *a, const bf16 *b,
                            const bf16 *w, const bf16 *bias, int N, int C) {
    int row = blockIdx.x * LN_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    size_t base = (size_t)row * C;
    const bf16 *src = a;
    if (b) {
        for (int c = lane; c < C; c += 32)
            resid_out[base + c] = __float2bfloat16_rn(__bfloat162float(a[base + c]) + __bfloat162float(b[base + c]));
        __syncwarp();
        src = resid_out;
    }
    float s = 0;
    for (int c = lane; c < C; c += 32) s += __bfloat162float(src[base + c]);
    float mu = warp_sum(s) / C, v = 0;
    for (int c = lane; c < C; c += 32) {
        float d = __bfloat162float(src[base + c]) - mu;
        v += d * d;
    }
    float rs = rsqrtf(warp_sum(v) / C + LN_EPS);
    for (int c = lane; c < C; c += 32)
        out[base + c] = __float2bfloat16_rn((__bfloat162float(src[base + c]) - mu) * rs * __bfloat162float(w[c]) +
                                            __bfloat162float(bias[c]));
    if (lane == 0 && mean) {
        mean[row] = mu;
        rstd[row] = rs;
    }
}

static void launch_fwd(kb_ctx *ctx, bf16 *resid_out, bf16 *out, float *mean, float *rstd, const bf16 *a,
                       const bf16 *b, const bf16 *w, const bf16 *bias, int N, int C) {
    if (C % 8) die("cuda layernorm: C=%d must be a multiple of 8 (16-byte rows)", C);
    dim3 grid(cdiv(N, LN_WARPS)), block(LN_WARPS * 32);
    cudaStream_t st = STREAM(ctx);
    int nch = (C / 8 + 31) / 32;
    switch (nch) {
#define CASE(k) case k: ln_fwd<k><<<grid, block, 0, st>>>(resid_out, out, mean, rstd, a, b, w, bias, N, C); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default: ln_fwd_wide<<<grid, block, 0, st>>>(resid_out, out, mean, rstd, a, b, w, bias, N, C);
    }
    LAUNCH_CHECK();
}

void cuda_layernorm_forward(kb_ctx *ctx, kb_act *out, float *mean, float *rstd, const kb_act *inp, const kb_act *w,
                            const kb_act *b, int N, int C) {
    launch_fwd(ctx, NULL, (bf16 *)out, mean, rstd, (const bf16 *)inp, NULL, (const bf16 *)w, (const bf16 *)b, N, C);
}

void cuda_residual_layernorm_forward(kb_ctx *ctx, kb_act *resid_out, kb_act *out, float *mean, float *rstd,
                                     const kb_act *a, const kb_act *b, const kb_act *w, const kb_act *bias, int N,
                                     int C) {
    launch_fwd(ctx, (bf16 *)resid_out, (bf16 *)out, mean, rstd, (const bf16 *)a, (const bf16 *)b, (const bf16 *)w,
               (const bf16 *)bias, N, C);
}

// ---- backward ----------------------------------------------------------------------------------
// A fixed grid of LN_BWD_BLOCKS blocks strides over rows; each block leaves partial dw/db
// sums (2·C floats) that ln_bwd_reduce adds in block order.
#define LN_BWD_BLOCKS 1024

// Each warp accumulates its rows' dw/db for its columns in registers; at the end the warps
// add their sums into shared memory one after another (fixed order), and the block writes
// its partial.
template <int NCH>
__global__ void __launch_bounds__(LN_WARPS * 32) ln_bwd(bf16 *dinp, float *part, const bf16 *dout, const bf16 *inp,
                                                        const bf16 *w, const float *mean, const float *rstd, int N,
                                                        int C) {
    extern __shared__ float sacc[];  // 2*C: dw then db
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nv = C / 8;
    float aw[NCH][8], ab[NCH][8];
#pragma unroll
    for (int k = 0; k < NCH; k++)
#pragma unroll
        for (int j = 0; j < 8; j++) aw[k][j] = ab[k][j] = 0.f;
    for (int row = blockIdx.x * LN_WARPS + warp; row < N; row += gridDim.x * LN_WARPS) {
        size_t base = (size_t)row * C;
        float mu = mean[row], rs = rstd[row];
        // every load of the row is issued up front: one memory round trip per row
        float xh[NCH][8], dy[NCH][8], di[NCH][8];
#pragma unroll
        for (int k = 0; k < NCH; k++) {
            int i = lane + 32 * k;
            if (i >= nv) break;
            load8(inp + base + i * 8, xh[k]);
            load8(dout + base + i * 8, dy[k]);
            load8(dinp + base + i * 8, di[k]);
        }
        float sd = 0, sdx = 0;
#pragma unroll
        for (int k = 0; k < NCH; k++) {
            int i = lane + 32 * k;
            if (i >= nv) break;
            float wv[8];
            load8(w + i * 8, wv);
#pragma unroll
            for (int j = 0; j < 8; j++) {
                xh[k][j] = (xh[k][j] - mu) * rs;
                float dxh = dy[k][j] * wv[j];
                sd += dxh;
                sdx += dxh * xh[k][j];
            }
        }
        sd = warp_sum(sd) / C;
        sdx = warp_sum(sdx) / C;
#pragma unroll
        for (int k = 0; k < NCH; k++) {
            int i = lane + 32 * k;
            if (i >= nv) break;
            float wv[8];
            load8(w + i * 8, wv);
#pragma unroll
            for (int j = 0; j < 8; j++) {
                di[k][j] += rs * (dy[k][j] * wv[j] - sd - xh[k][j] * sdx);
                aw[k][j] += dy[k][j] * xh[k][j];
                ab[k][j] += dy[k][j];
            }
            store8(dinp + base + i * 8, di[k]);
        }
    }
    for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) sacc[c] = 0.f;
    __syncthreads();
    for (int w8 = 0; w8 < LN_WARPS; w8++) {
        if (warp == w8) {
#pragma unroll
            for (int k = 0; k < NCH; k++) {
                int i = lane + 32 * k;
                if (i >= nv) break;
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    sacc[i * 8 + j] += aw[k][j];
                    sacc[C + i * 8 + j] += ab[k][j];
                }
            }
        }
        __syncthreads();
    }
    for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) part[(size_t)blockIdx.x * 2 * C + c] = sacc[c];
}

// Rows wider than 2048: one warp of the block works at a time, accumulating straight into
// shared memory (correct, not fast).
__global__ void ln_bwd_wide(bf16 *dinp, float *part, const bf16 *dout, const bf16 *inp, const bf16 *w,
                            const float *mean, const float *rstd, int N, int C) {
    extern __shared__ float sacc[];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) sacc[c] = 0.f;
    __syncthreads();
    for (int w8 = 0; w8 < LN_WARPS; w8++) {
        if (warp == w8) {
            for (int row = blockIdx.x * LN_WARPS + warp; row < N; row += gridDim.x * LN_WARPS) {
                size_t base = (size_t)row * C;
                float mu = mean[row], rs = rstd[row], sd = 0, sdx = 0;
                for (int c = lane; c < C; c += 32) {
                    float xh = (__bfloat162float(inp[base + c]) - mu) * rs;
                    float dxh = __bfloat162float(dout[base + c]) * __bfloat162float(w[c]);
                    sd += dxh;
                    sdx += dxh * xh;
                }
                sd = warp_sum(sd) / C;
                sdx = warp_sum(sdx) / C;
                for (int c = lane; c < C; c += 32) {
                    float xh = (__bfloat162float(inp[base + c]) - mu) * rs, dy = __bfloat162float(dout[base + c]);
                    float di = __bfloat162float(dinp[base + c]) + rs * (dy * __bfloat162float(w[c]) - sd - xh * sdx);
                    dinp[base + c] = __float2bfloat16_rn(di);
                    sacc[c] += dy * xh;
                    sacc[C + c] += dy;
                }
            }
        }
        __syncthreads();
    }
    for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) part[(size_t)blockIdx.x * 2 * C + c] = sacc[c];
}

__global__ void ln_bwd_reduce(float *dw, float *db, const float *part, int nblocks, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= 2 * C) return;
    float s = 0;
    for (int k = 0; k < nblocks; k++) s += part[(size_t)k * 2 * C + c];
    if (c < C) dw[c] += s;
    else db[c - C] += s;
}

template <typename K>
static void set_smem(K kernel, size_t smem) {
    if (smem > 48 * 1024) CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
}

void cuda_layernorm_backward(kb_ctx *ctx, kb_act *dinp, float *dw, float *db, const kb_act *dout, const kb_act *inp,
                             const kb_act *w, const float *mean, const float *rstd, int N, int C) {
    if (C % 8) die("cuda layernorm: C=%d must be a multiple of 8 (16-byte rows)", C);
    size_t smem = (size_t)2 * C * sizeof(float);
    cudaStream_t st = STREAM(ctx);
    bf16 *di = (bf16 *)dinp;
    const bf16 *dy = (const bf16 *)dout, *x = (const bf16 *)inp, *wv = (const bf16 *)w;
    int nch = (C / 8 + 31) / 32;
    // The grid is what the GPU holds at once (one wave, no tail), capped by the rows; it
    // depends only on the GPU and C, so the partial sums — and the bits — are reproducible.
    int per_sm = 1;
    switch (nch) {
#define OCC(k) case k: set_smem(ln_bwd<k>, smem); CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, ln_bwd<k>, LN_WARPS * 32, smem)); break;
        OCC(1) OCC(2) OCC(3) OCC(4) OCC(5) OCC(6) OCC(7) OCC(8)
#undef OCC
    default: set_smem(ln_bwd_wide, smem); break;
    }
    int nblocks = CS(ctx)->sm_count * (per_sm > 0 ? per_sm : 1);
    if (nblocks > LN_BWD_BLOCKS) nblocks = LN_BWD_BLOCKS;
    if (nblocks > (int)cdiv(N, LN_WARPS)) nblocks = (int)cdiv(N, LN_WARPS);
    float *part = cuda_partials(ctx, (size_t)nblocks * 2 * C);
    switch (nch) {
#define CASE(k) case k: ln_bwd<k><<<nblocks, LN_WARPS * 32, smem, st>>>(di, part, dy, x, wv, mean, rstd, N, C); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default:
        ln_bwd_wide<<<nblocks, LN_WARPS * 32, smem, st>>>(di, part, dy, x, wv, mean, rstd, N, C);
    }
    LAUNCH_CHECK();
    ln_bwd_reduce<<<cdiv(2 * C, 256), 256, 0, st>>>(dw, db, part, nblocks, C);
    LAUNCH_CHECK();
}
