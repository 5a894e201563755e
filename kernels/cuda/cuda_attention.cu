// cuda_attention.cu — causal self-attention, flash style: tiles of 64 queries × 64 keys in
// shared memory, bf16 tensor-core MMAs (mma.sync m16n8k16), online softmax in fp32, and only
// the per-row log-sum-exp kept for backward. No (T, T) matrix ever reaches device memory.
//
// Backward is deterministic (no atomics): one kernel owns a block of keys and accumulates
// dK, dV over the query blocks that see it; a second owns a block of queries and accumulates
// dQ over its key blocks. Scores are recomputed in both (more FLOPs than an atomic dQ, same
// bits every run).
//
// Head sizes 16/32/64/128 take the tensor-core path; any other head size (<= 256) takes a
// simple warp-per-row path.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels/cuda/cuda_common.cuh"

#define BM 64
#define BN 64
#define PAD 8
#define NTHREADS 128
static const float LOG2E = 1.4426950408889634f;

// ---- PTX wrappers -------------------------------------------------------------------------------
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const bf16 *p) {
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t r[4], const bf16 *p) {
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}
__device__ __forceinline__ void cp_async16(bf16 *dst, const bf16 *src, bool valid) {
    uint32_t d = (uint32_t)__cvta_generic_to_shared(dst);
    int n = valid ? 16 : 0;  // 0: zero-fill, nothing read
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *(uint32_t *)&v;
}

// Loads rows [r0, r0+64) of one head (HS columns, row stride `stride` elements) into a
// padded shared tile; rows >= T are zero-filled.
template <int HS, int ROWS = 64, int THREADS = NTHREADS>
__device__ __forceinline__ void load_tile(bf16 *s, const bf16 *g, int r0, int T, size_t stride) {
    constexpr int CH = HS / 8;  // 16-byte chunks per row
    for (int i = threadIdx.x; i < ROWS * CH; i += THREADS) {
        int r = i / CH, c = (i % CH) * 8;
        bool ok = r0 + r < T;
        cp_async16(s + r * (HS + PAD) + c, g + (size_t)(ok ? r0 + r : 0) * stride + c, ok);
    }
}

// A-operand fragments of a warp's 16 rows (rows warp*16.., all HS columns) from a tile.
template <int HS>
__device__ __forceinline__ void load_afrag(uint32_t f[HS / 16][4], const bf16 *s, int warp, int lane) {
#pragma unroll
    for (int kk = 0; kk < HS / 16; kk++) ldsm_x4(f[kk], s + (warp * 16 + (lane % 16)) * (HS + PAD) + kk * 16 + (lane / 16) * 8);
}

// acc(16×8NT) += A(16×HS) · Xᵀ where X is a (8NT × HS) tile [row][col]: B[k=col][n=row].
template <int HS, int NT = 8>
__device__ __forceinline__ void mma_abt(float acc[NT][4], const uint32_t a[HS / 16][4], const bf16 *x, int lane) {
#pragma unroll
    for (int kk = 0; kk < HS / 16; kk++)
#pragma unroll
        for (int n2 = 0; n2 < NT / 2; n2++) {
            uint32_t b[4];
            ldsm_x4(b, x + (n2 * 16 + (lane % 8) + (lane / 16) * 8) * (HS + PAD) + kk * 16 + ((lane / 8) % 2) * 8);
            mma16816(acc[2 * n2], a[kk], b[0], b[1]);
            mma16816(acc[2 * n2 + 1], a[kk], b[2], b[3]);
        }
}

// acc(16×HS) += P(16×8NT, fp32 accumulator layout) · X where X is a (8NT × HS) tile [k][n].
template <int HS, int NT = 8>
__device__ __forceinline__ void mma_pv(float acc[HS / 8][4], const float p[NT][4], const bf16 *x, int lane) {
#pragma unroll
    for (int kk = 0; kk < NT / 2; kk++) {
        uint32_t a[4] = {pack_bf16(p[2 * kk][0], p[2 * kk][1]), pack_bf16(p[2 * kk][2], p[2 * kk][3]),
                         pack_bf16(p[2 * kk + 1][0], p[2 * kk + 1][1]), pack_bf16(p[2 * kk + 1][2], p[2 * kk + 1][3])};
#pragma unroll
        for (int n2 = 0; n2 < HS / 16; n2++) {
            uint32_t b[4];
            ldsm_x4_t(b, x + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * (HS + PAD) + n2 * 16 + (lane / 16) * 8);
            mma16816(acc[2 * n2], a, b[0], b[1]);
            mma16816(acc[2 * n2 + 1], a, b[2], b[3]);
        }
    }
}

// ---- forward ----------------------------------------------------------------------------------
// NW warps, 16 query rows each: a CTA owns 16·NW queries and streams 64-key tiles.
template <int HS, int NW>
__global__ void __launch_bounds__(NW * 32) flash_fwd(bf16 *out, float *lse, const bf16 *qkv, int T, int C, int NH,
                                                     float scale_log2) {
    constexpr int LD = HS + PAD, FBM = 16 * NW, TH = NW * 32;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16 *sQ = (bf16 *)smem_raw, *sK = sQ + FBM * LD, *sV = sK + 2 * BN * LD;
    const int qb = gridDim.x - 1 - blockIdx.x;  // longest rows first
    const int b = blockIdx.y / NH, h = blockIdx.y % NH;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;
    const size_t stride = 3 * (size_t)C;
    const bf16 *qg = qkv + (size_t)b * T * stride + h * HS, *kg = qg + C, *vg = qg + 2 * C;
    const int q0 = qb * FBM;
    const int nkv = min((T + BN - 1) / BN, (q0 + FBM - 1) / BN + 1);

    load_tile<HS, FBM, TH>(sQ, qg, q0, T, stride);
    load_tile<HS, BN, TH>(sK, kg, 0, T, stride);
    load_tile<HS, BN, TH>(sV, vg, 0, T, stride);
    cp_commit();
    cp_wait_all();
    __syncthreads();
    uint32_t qf[HS / 16][4];
    load_afrag<HS>(qf, sQ, warp, lane);

    float o[HS / 8][4];
#pragma unroll
    for (int i = 0; i < HS / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};
    const int qrow[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};

    for (int j = 0; j < nkv; j++) {
        const int cur = j & 1;
        if (j + 1 < nkv) {
            load_tile<HS, BN, TH>(sK + (cur ^ 1) * BN * LD, kg, (j + 1) * BN, T, stride);
            load_tile<HS, BN, TH>(sV + (cur ^ 1) * BN * LD, vg, (j + 1) * BN, T, stride);
            cp_commit();
        }
        float s[8][4];
#pragma unroll
        for (int i = 0; i < 8; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
        mma_abt<HS, 8>(s, qf, sK + cur * BN * LD, lane);

        const bool edge = (j + 1) * BN > q0 + warp * 16 || (j + 1) * BN > T;
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float x = s[nt][e] * scale_log2;
                if (edge) {
                    int key = j * BN + nt * 8 + 2 * t4 + (e & 1);
                    if (key > qrow[e >> 1] || key >= T) x = -INFINITY;
                }
                s[nt][e] = x;
                mx[e >> 1] = fmaxf(mx[e >> 1], x);
            }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            float mnew = fmaxf(mrow[r], mx[r]);
            float corr = mrow[r] == -INFINITY ? 0.f : exp2f(mrow[r] - mnew);
            mrow[r] = mnew;
            lrow[r] *= corr;
#pragma unroll
            for (int i = 0; i < HS / 8; i++) {
                o[i][2 * r] *= corr;
                o[i][2 * r + 1] *= corr;
            }
        }
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float m = mrow[e >> 1];
                float p = m == -INFINITY ? 0.f : exp2f(s[nt][e] - m);
                s[nt][e] = p;
                lrow[e >> 1] += p;
            }
        mma_pv<HS, 8>(o, s, sV + cur * BN * LD, lane);
        cp_wait_all();
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        lrow[r] += __shfl_xor_sync(0xffffffffu, lrow[r], 1);
        lrow[r] += __shfl_xor_sync(0xffffffffu, lrow[r], 2);
    }
    bf16 *og = out + (size_t)b * T * C + h * HS;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int q = qrow[r];
        if (q >= T) continue;
        float inv = 1.0f / lrow[r];
#pragma unroll
        for (int i = 0; i < HS / 8; i++)
            *(__nv_bfloat162 *)(og + (size_t)q * C + i * 8 + 2 * t4) =
                __floats2bfloat162_rn(o[i][2 * r] * inv, o[i][2 * r + 1] * inv);
        if (t4 == 0) lse[((size_t)b * NH + h) * T + q] = (mrow[r] + log2f(lrow[r])) / LOG2E;
    }
}

// ---- backward -----------------------------------------------------------------------------------
// D[b,h,t] = sum_d dO·O (the softmax-gradient row term). One warp per (b, t, h).
__global__ void attn_bwd_dot(float *D, const bf16 *dout, const bf16 *out, int B, int T, int C, int NH) {
    int w = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
    if (w >= B * T * NH) return;
    int h = w % NH, bt = w / NH, b = bt / T, t = bt % T, HS = C / NH;
    const bf16 *a = dout + (size_t)bt * C + h * HS, *o = out + (size_t)bt * C + h * HS;
    float s = 0;
    for (int d = lane; d < HS; d += 32) s += __bfloat162float(a[d]) * __bfloat162float(o[d]);
    s = warp_sum(s);
    if (lane == 0) D[((size_t)b * NH + h) * T + t] = s;
}

// dK, dV for 64 keys (16 per warp), looping over every query block (BQ queries) at or
// after the keys. BQ = 32 keeps fewer scores live than 64, for 3 CTAs per SM.
template <int HS, int BQ>
__global__ void __launch_bounds__(NTHREADS, HS <= 64 ? 3 : 2) flash_bwd_dkdv(bf16 *dqkv, const bf16 *qkv, const bf16 *dout,
                                                              const float *lse, const float *D, int T, int C, int NH,
                                                              float scale, float scale_log2) {
    constexpr int LD = HS + PAD, NT = BQ / 8;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16 *sK = (bf16 *)smem_raw, *sV = sK + BN * LD, *sQ = sV + BN * LD, *sO = sQ + 2 * BQ * LD;
    float *sL = (float *)(sO + 2 * BQ * LD), *sD = sL + 2 * BQ;
    const int kb = blockIdx.x, b = blockIdx.y / NH, h = blockIdx.y % NH;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;
    const size_t stride = 3 * (size_t)C;
    const bf16 *qg = qkv + (size_t)b * T * stride + h * HS, *kg = qg + C, *vg = qg + 2 * C;
    const bf16 *dog = dout + (size_t)b * T * C + h * HS;
    const float *lg = lse + ((size_t)b * NH + h) * T, *dg = D + ((size_t)b * NH + h) * T;
    const int k0 = kb * BN, nq = (T + BQ - 1) / BQ, qstart = k0 / BQ;

    auto load_q = [&](int buf, int qb) {
        load_tile<HS, BQ>(sQ + buf * BQ * LD, qg, qb * BQ, T, stride);
        load_tile<HS, BQ>(sO + buf * BQ * LD, dog, qb * BQ, T, C);
        for (int i = threadIdx.x; i < BQ; i += NTHREADS) {
            int q = qb * BQ + i;
            sL[buf * BQ + i] = q < T ? lg[q] * LOG2E : 0.f;
            sD[buf * BQ + i] = q < T ? dg[q] : 0.f;
        }
    };
    load_tile<HS>(sK, kg, k0, T, stride);
    load_tile<HS>(sV, vg, k0, T, stride);
    load_q(0, qstart);
    cp_commit();
    cp_wait_all();
    __syncthreads();
    uint32_t kf[HS / 16][4], vf[HS / 16][4];
    load_afrag<HS>(kf, sK, warp, lane);
    load_afrag<HS>(vf, sV, warp, lane);

    float dk[HS / 8][4], dv[HS / 8][4];
#pragma unroll
    for (int i = 0; i < HS / 8; i++)
#pragma unroll
        for (int e = 0; e < 4; e++) dk[i][e] = dv[i][e] = 0.f;
    const int krow[2] = {k0 + warp * 16 + g, k0 + warp * 16 + g + 8};

    for (int qb = qstart; qb < nq; qb++) {
        const int cur = (qb - qstart) & 1;
        __syncthreads();  // the other buffer (read last iteration) is rewritten below
        if (qb + 1 < nq) {
            load_q(cur ^ 1, qb + 1);
            cp_commit();
        }
        const bf16 *q_s = sQ + cur * BQ * LD, *o_s = sO + cur * BQ * LD;
        const float *l_s = sL + cur * BQ, *d_s = sD + cur * BQ;
        // Sᵀ = K Qᵀ (16 keys × BQ queries), then Pᵀ
        float p[NT][4];
#pragma unroll
        for (int i = 0; i < NT; i++) p[i][0] = p[i][1] = p[i][2] = p[i][3] = 0.f;
        mma_abt<HS, NT>(p, kf, q_s, lane);
        const bool edge = qb * BQ < k0 + warp * 16 + 16 || (qb + 1) * BQ > T || k0 + BN > T;
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int qi = nt * 8 + 2 * t4 + (e & 1), q = qb * BQ + qi;
                float x = exp2f(p[nt][e] * scale_log2 - l_s[qi]);
                if (edge && (q < krow[e >> 1] || q >= T || krow[e >> 1] >= T)) x = 0.f;
                p[nt][e] = x;
            }
        // dV += Pᵀ dO
        mma_pv<HS, NT>(dv, p, o_s, lane);
        // dPᵀ = V dOᵀ, dSᵀ = Pᵀ ∘ (dPᵀ − D)
        float dp[NT][4];
#pragma unroll
        for (int i = 0; i < NT; i++) dp[i][0] = dp[i][1] = dp[i][2] = dp[i][3] = 0.f;
        mma_abt<HS, NT>(dp, vf, o_s, lane);
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) dp[nt][e] = p[nt][e] * (dp[nt][e] - d_s[nt * 8 + 2 * t4 + (e & 1)]);
        // dK += dSᵀ Q
        mma_pv<HS, NT>(dk, dp, q_s, lane);
        cp_wait_all();
    }
    bf16 *dkg = dqkv + (size_t)b * T * stride + C + h * HS, *dvg = dkg + C;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int k = krow[r];
        if (k >= T) continue;
#pragma unroll
        for (int i = 0; i < HS / 8; i++) {
            *(__nv_bfloat162 *)(dkg + (size_t)k * stride + i * 8 + 2 * t4) =
                __floats2bfloat162_rn(dk[i][2 * r] * scale, dk[i][2 * r + 1] * scale);
            *(__nv_bfloat162 *)(dvg + (size_t)k * stride + i * 8 + 2 * t4) =
                __floats2bfloat162_rn(dv[i][2 * r], dv[i][2 * r + 1]);
        }
    }
}

// dQ for 64 queries (16 per warp), looping over the key blocks (BK keys) they see.
template <int HS, int BK>
__global__ void __launch_bounds__(NTHREADS, HS <= 64 ? 3 : 2) flash_bwd_dq(bf16 *dqkv, const bf16 *qkv, const bf16 *dout,
                                                            const float *lse, const float *D, int T, int C, int NH,
                                                            float scale, float scale_log2) {
    constexpr int LD = HS + PAD, NT = BK / 8;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16 *sQ = (bf16 *)smem_raw, *sO = sQ + BM * LD, *sK = sO + BM * LD, *sV = sK + 2 * BK * LD;
    const int qb = gridDim.x - 1 - blockIdx.x, b = blockIdx.y / NH, h = blockIdx.y % NH;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;
    const size_t stride = 3 * (size_t)C;
    const bf16 *qg = qkv + (size_t)b * T * stride + h * HS, *kg = qg + C, *vg = qg + 2 * C;
    const bf16 *dog = dout + (size_t)b * T * C + h * HS;
    const float *lg = lse + ((size_t)b * NH + h) * T, *dg = D + ((size_t)b * NH + h) * T;
    const int q0 = qb * BM, nkv = min((T + BK - 1) / BK, (q0 + BM - 1) / BK + 1);

    load_tile<HS>(sQ, qg, q0, T, stride);
    load_tile<HS>(sO, dog, q0, T, C);
    load_tile<HS, BK>(sK, kg, 0, T, stride);
    load_tile<HS, BK>(sV, vg, 0, T, stride);
    cp_commit();
    cp_wait_all();
    __syncthreads();
    uint32_t qf[HS / 16][4], of[HS / 16][4];
    load_afrag<HS>(qf, sQ, warp, lane);
    load_afrag<HS>(of, sO, warp, lane);
    const int qrow[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
    float lrow[2], drow[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        lrow[r] = qrow[r] < T ? lg[qrow[r]] * LOG2E : 0.f;
        drow[r] = qrow[r] < T ? dg[qrow[r]] : 0.f;
    }
    float dq[HS / 8][4];
#pragma unroll
    for (int i = 0; i < HS / 8; i++) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;

    for (int j = 0; j < nkv; j++) {
        const int cur = j & 1;
        if (j + 1 < nkv) {
            load_tile<HS, BK>(sK + (cur ^ 1) * BK * LD, kg, (j + 1) * BK, T, stride);
            load_tile<HS, BK>(sV + (cur ^ 1) * BK * LD, vg, (j + 1) * BK, T, stride);
            cp_commit();
        }
        const bf16 *k_s = sK + cur * BK * LD, *v_s = sV + cur * BK * LD;
        float p[NT][4], dp[NT][4];
#pragma unroll
        for (int i = 0; i < NT; i++)
#pragma unroll
            for (int e = 0; e < 4; e++) p[i][e] = dp[i][e] = 0.f;
        mma_abt<HS, NT>(p, qf, k_s, lane);
        mma_abt<HS, NT>(dp, of, v_s, lane);
        const bool edge = (j + 1) * BK > q0 + warp * 16 || (j + 1) * BK > T;
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int key = j * BK + nt * 8 + 2 * t4 + (e & 1);
                float x = exp2f(p[nt][e] * scale_log2 - lrow[e >> 1]);
                if (edge && (key > qrow[e >> 1] || key >= T)) x = 0.f;
                dp[nt][e] = x * (dp[nt][e] - drow[e >> 1]);
            }
        mma_pv<HS, NT>(dq, dp, k_s, lane);
        cp_wait_all();
        __syncthreads();
    }
    bf16 *dqg = dqkv + (size_t)b * T * stride + h * HS;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int q = qrow[r];
        if (q >= T) continue;
#pragma unroll
        for (int i = 0; i < HS / 8; i++)
            *(__nv_bfloat162 *)(dqg + (size_t)q * stride + i * 8 + 2 * t4) =
                __floats2bfloat162_rn(dq[i][2 * r] * scale, dq[i][2 * r + 1] * scale);
    }
}

// ---- simple path (any head size <= 256): one warp per row --------------------------------------
#define SMAX 8  // head size / 32, rounded up
__global__ void naive_fwd(bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH, float scale) {
    int w = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
    if (w >= B * T * NH) return;
    int h = w % NH, bt = w / NH, b = bt / T, t = bt % T, HS = C / NH;
    size_t st = 3 * (size_t)C;
    const bf16 *q = qkv + (size_t)bt * st + h * HS;
    float qv[SMAX], o[SMAX];
    for (int i = 0; i < SMAX; i++) {
        int d = lane + 32 * i;
        qv[i] = d < HS ? __bfloat162float(q[d]) : 0.f;
        o[i] = 0.f;
    }
    float m = -INFINITY, l = 0;
    for (int j = 0; j <= t; j++) {
        const bf16 *k = qkv + ((size_t)b * T + j) * st + C + h * HS, *v = k + C;
        float s = 0;
        for (int i = 0; i < SMAX; i++) {
            int d = lane + 32 * i;
            if (d < HS) s += qv[i] * __bfloat162float(k[d]);
        }
        s = warp_sum(s) * scale;
        float mn = fmaxf(m, s), corr = m == -INFINITY ? 0.f : expf(m - mn), p = expf(s - mn);
        l = l * corr + p;
        for (int i = 0; i < SMAX; i++) {
            int d = lane + 32 * i;
            o[i] = o[i] * corr + (d < HS ? p * __bfloat162float(v[d]) : 0.f);
        }
        m = mn;
    }
    bf16 *og = out + (size_t)bt * C + h * HS;
    for (int i = 0; i < SMAX; i++) {
        int d = lane + 32 * i;
        if (d < HS) og[d] = __float2bfloat16_rn(o[i] / l);
    }
    if (lane == 0) lse[((size_t)b * NH + h) * T + t] = m + logf(l);
}

// mode 0: dQ rows (one warp per query); mode 1: dK, dV rows (one warp per key).
__global__ void naive_bwd(bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D, int B,
                          int T, int C, int NH, float scale, int mode) {
    int w = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
    if (w >= B * T * NH) return;
    int h = w % NH, bt = w / NH, b = bt / T, t = bt % T, HS = C / NH;
    size_t st = 3 * (size_t)C;
    const float *lg = lse + ((size_t)b * NH + h) * T, *dg = D + ((size_t)b * NH + h) * T;
    float acc1[SMAX] = {0}, acc2[SMAX] = {0}, mine[SMAX], mine2[SMAX];
    const bf16 *row = qkv + (size_t)bt * st + h * HS;  // this row's q (mode 0) or k (mode 1)
    for (int i = 0; i < SMAX; i++) {
        int d = lane + 32 * i;
        mine[i] = d < HS ? __bfloat162float(row[(mode ? C : 0) + d]) : 0.f;
        mine2[i] = d < HS ? __bfloat162float(mode ? row[2 * C + d] : dout[(size_t)bt * C + h * HS + d]) : 0.f;
    }
    int j0 = mode ? t : 0, j1 = mode ? T - 1 : t;
    for (int j = j0; j <= j1; j++) {
        // the other row: key j (mode 0) or query j (mode 1)
        const bf16 *orow = qkv + ((size_t)b * T + j) * st + h * HS;
        const bf16 *odo = dout + ((size_t)b * T + j) * C + h * HS;
        float s = 0, dp = 0;
        for (int i = 0; i < SMAX; i++) {
            int d = lane + 32 * i;
            if (d >= HS) continue;
            if (mode == 0) {
                s += mine[i] * __bfloat162float(orow[C + d]);         // q · k_j
                dp += mine2[i] * __bfloat162float(orow[2 * C + d]);   // dO · v_j
            } else {
                s += __bfloat162float(orow[d]) * mine[i];             // q_j · k
                dp += __bfloat162float(odo[d]) * mine2[i];            // dO_j · v
            }
        }
        s = warp_sum(s) * scale;
        dp = warp_sum(dp);
        int q = mode ? j : t;
        float p = expf(s - lg[q]), ds = p * (dp - dg[q]);
        for (int i = 0; i < SMAX; i++) {
            int d = lane + 32 * i;
            if (d >= HS) continue;
            if (mode == 0) acc1[i] += ds * __bfloat162float(orow[C + d]);
            else {
                acc1[i] += ds * __bfloat162float(orow[d]);
                acc2[i] += p * __bfloat162float(odo[d]);
            }
        }
    }
    bf16 *drow = dqkv + (size_t)bt * st + h * HS;
    for (int i = 0; i < SMAX; i++) {
        int d = lane + 32 * i;
        if (d >= HS) continue;
        if (mode == 0) drow[d] = __float2bfloat16_rn(acc1[i] * scale);
        else {
            drow[C + d] = __float2bfloat16_rn(acc1[i] * scale);
            drow[2 * C + d] = __float2bfloat16_rn(acc2[i]);
        }
    }
}

// ---- entry points -------------------------------------------------------------------------------
// Forward variants: BERRY_ATTN_FWD=4 or 8 warps per CTA (64 or 128 queries).
static int fwd_warps(void) {
    static int v = 0;
    if (!v) {
        const char *e = getenv("BERRY_ATTN_FWD");
        v = e && !strcmp(e, "8") ? 8 : 4;
    }
    return v;
}

template <int HS, int NW>
static void launch_fwd_v(kb_ctx *ctx, bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH, float sl2) {
    size_t smem = (size_t)(16 * NW + 4 * BN) * (HS + PAD) * sizeof(bf16);
    static bool attr = false;
    if (!attr) {
        CUDA_CHECK(cudaFuncSetAttribute(flash_fwd<HS, NW>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        attr = true;
    }
    dim3 grid((T + 16 * NW - 1) / (16 * NW), B * NH);
    flash_fwd<HS, NW><<<grid, NW * 32, smem, STREAM(ctx)>>>(out, lse, qkv, T, C, NH, sl2);
    LAUNCH_CHECK();
}

template <int HS>
static void launch_fwd(kb_ctx *ctx, bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH, float sl2) {
    if (fwd_warps() == 8) launch_fwd_v<HS, 8>(ctx, out, lse, qkv, B, T, C, NH, sl2);
    else launch_fwd_v<HS, 4>(ctx, out, lse, qkv, B, T, C, NH, sl2);
}

// Backward tile variants (BERRY_ATTN_BWD=0..3 picks one; default from measurements in
// tests/bench/RESULTS.md): dK/dV query tile BQ and dQ key tile BK.
static int bwd_variant(void) {
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("BERRY_ATTN_BWD");
        v = e && *e >= '0' && *e <= '3' ? *e - '0' : 0;
    }
    return v;
}

template <int HS, int BQ, int BK>
static void launch_bwd_v(kb_ctx *ctx, bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D,
                         int B, int T, int C, int NH, float scale, float sl2) {
    size_t smem1 = (size_t)(2 * BN + 4 * BQ) * (HS + PAD) * sizeof(bf16) + 4 * BQ * sizeof(float);
    size_t smem2 = (size_t)(2 * BM + 4 * BK) * (HS + PAD) * sizeof(bf16);
    static bool attr = false;
    if (!attr) {
        CUDA_CHECK(cudaFuncSetAttribute(flash_bwd_dkdv<HS, BQ>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem1));
        CUDA_CHECK(cudaFuncSetAttribute(flash_bwd_dq<HS, BK>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem2));
        attr = true;
    }
    dim3 grid1((T + BN - 1) / BN, B * NH), grid2((T + BM - 1) / BM, B * NH);
    flash_bwd_dkdv<HS, BQ><<<grid1, NTHREADS, smem1, STREAM(ctx)>>>(dqkv, qkv, dout, lse, D, T, C, NH, scale, sl2);
    LAUNCH_CHECK();
    flash_bwd_dq<HS, BK><<<grid2, NTHREADS, smem2, STREAM(ctx)>>>(dqkv, qkv, dout, lse, D, T, C, NH, scale, sl2);
    LAUNCH_CHECK();
}

template <int HS>
static void launch_bwd(kb_ctx *ctx, bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D,
                       int B, int T, int C, int NH, float scale, float sl2) {
    switch (bwd_variant()) {
    case 0: launch_bwd_v<HS, 64, 64>(ctx, dqkv, qkv, dout, lse, D, B, T, C, NH, scale, sl2); break;
    case 1: launch_bwd_v<HS, 32, 64>(ctx, dqkv, qkv, dout, lse, D, B, T, C, NH, scale, sl2); break;
    case 2: launch_bwd_v<HS, 64, 32>(ctx, dqkv, qkv, dout, lse, D, B, T, C, NH, scale, sl2); break;
    default: launch_bwd_v<HS, 32, 32>(ctx, dqkv, qkv, dout, lse, D, B, T, C, NH, scale, sl2); break;
    }
}

void cuda_attention_forward(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, int B, int T, int C, int NH) {
    int HS = C / NH;
    float scale = 1.0f / sqrtf((float)HS), sl2 = scale * LOG2E;
    bf16 *o = (bf16 *)out;
    const bf16 *x = (const bf16 *)qkv;
    switch (HS) {
    case 16: launch_fwd<16>(ctx, o, lse, x, B, T, C, NH, sl2); return;
    case 32: launch_fwd<32>(ctx, o, lse, x, B, T, C, NH, sl2); return;
    case 64: launch_fwd<64>(ctx, o, lse, x, B, T, C, NH, sl2); return;
    case 128: launch_fwd<128>(ctx, o, lse, x, B, T, C, NH, sl2); return;
    }
    if (HS > 32 * SMAX) die("cuda attention: head size %d is above %d", HS, 32 * SMAX);
    size_t warps = (size_t)B * T * NH;
    naive_fwd<<<cdiv(warps * 32, 256), 256, 0, STREAM(ctx)>>>(o, lse, x, B, T, C, NH, scale);
    LAUNCH_CHECK();
}

void cuda_attention_backward(kb_ctx *ctx, kb_act *dqkv, const kb_act *dout, const kb_act *qkv, const kb_act *out,
                             const float *lse, int B, int T, int C, int NH) {
    int HS = C / NH;
    float scale = 1.0f / sqrtf((float)HS), sl2 = scale * LOG2E;
    size_t rows = (size_t)B * T * NH;
    float *D = cuda_partials(ctx, rows);
    attn_bwd_dot<<<cdiv(rows * 32, 256), 256, 0, STREAM(ctx)>>>(D, (const bf16 *)dout, (const bf16 *)out, B, T, C, NH);
    LAUNCH_CHECK();
    bf16 *d = (bf16 *)dqkv;
    const bf16 *x = (const bf16 *)qkv, *g = (const bf16 *)dout;
    switch (HS) {
    case 16: launch_bwd<16>(ctx, d, x, g, lse, D, B, T, C, NH, scale, sl2); return;
    case 32: launch_bwd<32>(ctx, d, x, g, lse, D, B, T, C, NH, scale, sl2); return;
    case 64: launch_bwd<64>(ctx, d, x, g, lse, D, B, T, C, NH, scale, sl2); return;
    case 128: launch_bwd<128>(ctx, d, x, g, lse, D, B, T, C, NH, scale, sl2); return;
    }
    if (HS > 32 * SMAX) die("cuda attention: head size %d is above %d", HS, 32 * SMAX);
    naive_bwd<<<cdiv(rows * 32, 256), 256, 0, STREAM(ctx)>>>(d, x, g, lse, D, B, T, C, NH, scale, 0);
    LAUNCH_CHECK();
    naive_bwd<<<cdiv(rows * 32, 256), 256, 0, STREAM(ctx)>>>(d, x, g, lse, D, B, T, C, NH, scale, 1);
    LAUNCH_CHECK();
}
