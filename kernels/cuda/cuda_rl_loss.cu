// cuda_rl_loss.cu — the policy-gradient loss fused into the classifier pass, and the scalar
// heads' losses (kernels.h, "RL losses"). One block per row, as the classifier: pass 1 reduces
// the row (online max / Σe / Σe·z, merged in a fixed order), thread 0 evaluates the objective
// (kernels/rl_objective.h, shared with the CPU backend), pass 2 writes the gradient in place.
// With the row staged in shared memory the logits are read from device memory once.
#include <math.h>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_softmax_row.cuh"
#include "kernels/rl_objective.h"

template <bool SMEM>
__global__ void __launch_bounds__(ROW_THREADS) pg_loss_kernel(bf16 *logits, kb_pg_params p, kb_pg_rows rows, int V,
                                                                  int Vp, int want_grad) {
    extern __shared__ __align__(16) bf16 srow[];
    __shared__ msz red[ROW_THREADS / 32];
    __shared__ msz total;
    __shared__ pg_row obj;
    const int row = blockIdx.x;
    bf16 *x = logits + (size_t)row * Vp;
    const int tgt = rows.targets[row];
    if (tgt < 0) {
        if (threadIdx.x == 0) {
            if (rows.logp) rows.logp[row] = 0.f;
            if (rows.entropy) rows.entropy[row] = 0.f;
            if (rows.loss) rows.loss[row] = 0.f;
            if (rows.clipped) rows.clipped[row] = 0.f;
            if (rows.ratio) rows.ratio[row] = 0.f;
        }
        if (want_grad)
            for (int i = threadIdx.x * 8; i < Vp; i += ROW_THREADS * 8) {
                float z[8] = {0};
                store8(x + i, z);
            }
        return;
    }
    msz a = SMEM ? msz_row_partial_staged(x, srow, V, Vp, p.inv_temp) : msz_row_partial(x, V, p.inv_temp);
    msz_block_merge(a, red, &total);
    const float lse = total.m + row_log_sum(total.s);
    if (threadIdx.x == 0) {
        float zt = row_z(__bfloat162float(SMEM ? srow[tgt] : x[tgt]), p.inv_temp);
        float logp = -row_nll(total.m, total.s, zt), entropy = lse - total.sz / total.s;
        obj = pg_objective(&p, logp, entropy, rows.weight[row], rows.adv[row], rows.lp_old[row],
                           rows.lp_behav ? rows.lp_behav + row : NULL, rows.lp_ref ? rows.lp_ref + row : NULL);
        if (rows.logp) rows.logp[row] = obj.logp;
        if (rows.entropy) rows.entropy[row] = obj.entropy;
        if (rows.loss) rows.loss[row] = obj.loss;
        if (rows.clipped) rows.clipped[row] = obj.clipped;
        if (rows.ratio) rows.ratio[row] = obj.ratio;
    }
    __syncthreads();  // obj, and x[tgt] read before pass 2 overwrites it
    if (!want_grad) return;
    // d/dz_j = c_lp·([j = a] − p_j) − c_h·p_j·(log p_j + H), log p_j = z_j − lse; × inv_temp.
    const float sc = p.dscale * p.inv_temp, k0 = obj.c_lp + obj.c_h * (obj.entropy - lse), ch = obj.c_h;
    for (int i = threadIdx.x * 8; i < Vp; i += ROW_THREADS * 8) {
        float f[8];
        load8(SMEM ? srow + i : x + i, f);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            int c = i + j;
            float z = row_z(f[j], p.inv_temp), pj = c < V ? __expf(z - lse) : 0.f;
            f[j] = (-pj * (k0 + ch * z) + (c == tgt ? obj.c_lp : 0.f)) * sc;
        }
        store8(x + i, f);
    }
}

#define PG_SMEM_MAX (200 * 1024)

void cuda_pg_loss(kb_ctx *ctx, kb_act *logits, const kb_pg_params *p, const kb_pg_rows *rows, int N, int V, int Vp,
                  int want_grad) {
    if (Vp % 8) die("cuda pg loss: padded vocabulary %d must be a multiple of 8", Vp);
    if (N == 0) return;
    size_t smem = (size_t)Vp * sizeof(bf16);
    if (want_grad && smem <= PG_SMEM_MAX) {
        CUDA_CHECK(cudaFuncSetAttribute(pg_loss_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        pg_loss_kernel<true><<<N, ROW_THREADS, smem, STREAM(ctx)>>>((bf16 *)logits, *p, *rows, V, Vp, 1);
    } else {
        pg_loss_kernel<false><<<N, ROW_THREADS, 0, STREAM(ctx)>>>((bf16 *)logits, *p, *rows, V, Vp, want_grad);
    }
    LAUNCH_CHECK();
}

__global__ void head_loss_kernel(bf16 *dheads, float *loss, const bf16 *heads, const float *labels, const float *weight,
                                 const float *old, kb_head_kind kind, float clip, float dscale, int N, int H, int h) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    float w = weight[i], l = 0.f, g = 0.f;
    if (w != 0.f) {
        head_objective(kind, __bfloat162float(heads[(size_t)i * H + h]), labels[i], old ? old[i] : 0.f, clip, &l, &g);
        l *= w, g *= w * dscale;
    }
    if (loss) loss[i] = l;
    if (dheads)
        for (int k = 0; k < H; k++) dheads[(size_t)i * H + k] = __float2bfloat16(k == h ? g : 0.f);
}

void cuda_head_loss(kb_ctx *ctx, kb_act *dheads, float *loss, const kb_act *heads, const float *labels,
                    const float *weight, const float *old, kb_head_kind kind, float clip, float dscale, int N, int H,
                    int h) {
    if (N == 0) return;
    head_loss_kernel<<<cdiv(N, 256), 256, 0, STREAM(ctx)>>>((bf16 *)dheads, loss, (const bf16 *)heads, labels, weight, old,
                                                            kind, clip, dscale, N, H, h);
    LAUNCH_CHECK();
}
