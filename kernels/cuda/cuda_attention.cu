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
// simple warp-per-row path. When berry is built with cuDNN, its fused attention runs instead
// wherever it has a (deterministic) plan (cuda_attention_cudnn.cpp; BERRY_ATTN=own keeps these
// kernels); the lse convention is the same, so either backward can follow either forward.
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
// Shared memory is addressed by 32-bit byte addresses computed once per kernel (per-lane
// offsets into a tile), so each ldmatrix in the inner loops is one instruction with a
// constant offset rather than a chain of index arithmetic.
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t r[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
__device__ __forceinline__ void cp_async16(uint32_t dst, const bf16 *src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *(uint32_t *)&v;
}
__device__ __forceinline__ uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

// Per-lane byte offsets into a tile of pitch LD elements: A fragments of a warp's 16 rows,
// B fragments read as-is ("n": X[row][col] with B[k=col][n=row]) and transposed ("t").
template <int LD>
struct lane_offsets {
    uint32_t a, bn, bt;
    __device__ __forceinline__ lane_offsets(int warp, int lane) {
        a = ((warp * 16 + lane % 16) * LD + (lane / 16) * 8) * 2;
        bn = (((lane % 8) + (lane / 16) * 8) * LD + ((lane / 8) % 2) * 8) * 2;
        bt = (((lane % 8) + ((lane / 8) % 2) * 8) * LD + (lane / 16) * 8) * 2;
    }
};

// Loads rows [r0, r0+ROWS) of one head (HS columns, row stride `stride` elements) into a
// padded shared tile at byte address s; rows >= T are zero-filled. Each thread owns fixed
// columns and every (THREADS/(HS/8))-th row, so the addresses are set up once.
template <int HS, int ROWS, int THREADS>
__device__ __forceinline__ void load_tile(uint32_t s, const bf16 *g, int r0, int T, size_t stride) {
    constexpr int CH = HS / 8, RPI = THREADS / CH, LDB = (HS + PAD) * 2;
    static_assert(THREADS % CH == 0, "tile shape");
    const int tr = threadIdx.x / CH, tc = (threadIdx.x % CH) * 8;
    if (RPI > ROWS && tr >= ROWS) return;  // more threads than chunks: the rest sit out
    constexpr int PASSES = RPI > ROWS ? 1 : ROWS / RPI;
    const bf16 *gp = g + (size_t)(r0 + tr) * stride + tc;
    const uint32_t sp = s + tr * LDB + tc * 2;
    if (r0 + ROWS <= T) {
#pragma unroll
        for (int k = 0; k < PASSES; k++) cp_async16(sp + k * RPI * LDB, gp + (size_t)k * RPI * stride, 16);
    } else {
#pragma unroll
        for (int k = 0; k < PASSES; k++) {
            bool ok = r0 + tr + k * RPI < T;
            cp_async16(sp + k * RPI * LDB, ok ? gp + (size_t)k * RPI * stride : g, ok ? 16 : 0);
        }
    }
}

// A-operand fragments of a warp's 16 rows, all HS columns (base: tile + lane_offsets.a).
template <int HS>
__device__ __forceinline__ void load_afrag(uint32_t f[HS / 16][4], uint32_t base) {
#pragma unroll
    for (int kk = 0; kk < HS / 16; kk++) ldsm_x4(f[kk], base + kk * 32);
}

// acc(16×8NT) += A(16×HS) · Xᵀ, X an (8NT × HS) tile [row][col] (xb: tile + lane_offsets.bn).
template <int HS, int NT>
__device__ __forceinline__ void mma_abt(float acc[NT][4], const uint32_t a[HS / 16][4], uint32_t xb) {
    constexpr int LD = HS + PAD;
#pragma unroll
    for (int kk = 0; kk < HS / 16; kk++)
#pragma unroll
        for (int n2 = 0; n2 < NT / 2; n2++) {
            uint32_t b[4];
            ldsm_x4(b, xb + (n2 * 16 * LD + kk * 16) * 2);
            mma16816(acc[2 * n2], a[kk], b[0], b[1]);
            mma16816(acc[2 * n2 + 1], a[kk], b[2], b[3]);
        }
}

// acc(16×HS) += P(16×8NT, accumulator layout) · X, X an (8NT × HS) tile [k][n] (xb: tile +
// lane_offsets.bt).
template <int HS, int NT>
__device__ __forceinline__ void mma_pv(float acc[HS / 8][4], const float p[NT][4], uint32_t xb) {
    constexpr int LD = HS + PAD;
#pragma unroll
    for (int kk = 0; kk < NT / 2; kk++) {
        uint32_t a[4] = {pack_bf16(p[2 * kk][0], p[2 * kk][1]), pack_bf16(p[2 * kk][2], p[2 * kk][3]),
                         pack_bf16(p[2 * kk + 1][0], p[2 * kk + 1][1]), pack_bf16(p[2 * kk + 1][2], p[2 * kk + 1][3])};
#pragma unroll
        for (int n2 = 0; n2 < HS / 16; n2++) {
            uint32_t b[4];
            ldsm_x4_t(b, xb + (kk * 16 * LD + n2 * 16) * 2);
            mma16816(acc[2 * n2], a, b[0], b[1]);
            mma16816(acc[2 * n2 + 1], a, b[2], b[3]);
        }
    }
}

template <int N>
__device__ __forceinline__ void zero4(float a[N][4]) {
#pragma unroll
    for (int i = 0; i < N; i++) a[i][0] = a[i][1] = a[i][2] = a[i][3] = 0.f;
}

// ---- forward ----------------------------------------------------------------------------------
// NW warps, 16 query rows each: a CTA owns 16·NW queries and streams 64-key tiles.
template <int HS, int NW>
__global__ void __launch_bounds__(NW * 32) flash_fwd(bf16 *out, float *lse, const bf16 *qkv, int T, int C, int NH,
                                                     float scale_log2) {
    constexpr int LD = HS + PAD, FBM = 16 * NW, TH = NW * 32, TILE = BN * LD * 2;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const uint32_t sQ = smem_addr(smem_raw), sK = sQ + FBM * LD * 2, sV = sK + 2 * TILE;
    const int qb = gridDim.x - 1 - blockIdx.x;  // longest rows first
    const int b = blockIdx.y / NH, h = blockIdx.y % NH;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;
    const lane_offsets<LD> lo(warp, lane);
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
    load_afrag<HS>(qf, sQ + lo.a);

    float o[HS / 8][4];
    zero4<HS / 8>(o);
    float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};
    const int qrow[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};

    for (int j = 0; j < nkv; j++) {
        const int cur = j & 1;
        if (j + 1 < nkv) {
            load_tile<HS, BN, TH>(sK + (cur ^ 1) * TILE, kg, (j + 1) * BN, T, stride);
            load_tile<HS, BN, TH>(sV + (cur ^ 1) * TILE, vg, (j + 1) * BN, T, stride);
            cp_commit();
        }
        float s[8][4];
        zero4<8>(s);
        mma_abt<HS, 8>(s, qf, sK + cur * TILE + lo.bn);
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[nt][e] *= scale_log2;
        if ((j + 1) * BN > q0 + warp * 16 || (j + 1) * BN > T) {  // a tile on the diagonal or past T
#pragma unroll
            for (int nt = 0; nt < 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int key = j * BN + nt * 8 + 2 * t4 + (e & 1);
                    if (key > qrow[e >> 1] || key >= T) s[nt][e] = -INFINITY;
                }
        }
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < 8; nt++) {
            mx[0] = fmaxf(mx[0], fmaxf(s[nt][0], s[nt][1]));
            mx[1] = fmaxf(mx[1], fmaxf(s[nt][2], s[nt][3]));
        }
        float mb[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            float mnew = fmaxf(mrow[r], mx[r]);
            float corr = mrow[r] == -INFINITY ? 0.f : exp2f(mrow[r] - mnew);
            mrow[r] = mnew;
            mb[r] = mnew == -INFINITY ? 0.f : mnew;  // a fully masked row so far: exp2(-inf - 0) = 0
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
                float p = exp2f(s[nt][e] - mb[e >> 1]);
                s[nt][e] = p;
                lrow[e >> 1] += p;
            }
        mma_pv<HS, 8>(o, s, sV + cur * TILE + lo.bt);
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
// after the keys.
template <int HS, int BQ, int MINB>
__global__ void __launch_bounds__(NTHREADS, MINB) flash_bwd_dkdv(bf16 *dqkv, const bf16 *qkv,
                                                                              const bf16 *dout, const float *lse,
                                                                              const float *D, int T, int C, int NH,
                                                                              float scale, float scale_log2) {
    constexpr int LD = HS + PAD, NT = BQ / 8, QT = BQ * LD * 2;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const uint32_t sK = smem_addr(smem_raw), sV = sK + BN * LD * 2, sQ = sV + BN * LD * 2, sO = sQ + 2 * QT;
    float *sL = (float *)(smem_raw + 2 * BN * LD * 2 + 4 * QT), *sD = sL + 2 * BQ;
    const int kb = blockIdx.x, b = blockIdx.y / NH, h = blockIdx.y % NH;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;
    const lane_offsets<LD> lo(warp, lane);
    const size_t stride = 3 * (size_t)C;
    const bf16 *qg = qkv + (size_t)b * T * stride + h * HS, *kg = qg + C, *vg = qg + 2 * C;
    const bf16 *dog = dout + (size_t)b * T * C + h * HS;
    const float *lg = lse + ((size_t)b * NH + h) * T, *dg = D + ((size_t)b * NH + h) * T;
    const int k0 = kb * BN, nq = (T + BQ - 1) / BQ, qstart = k0 / BQ;

    auto load_q = [&](int buf, int qb) {
        load_tile<HS, BQ, NTHREADS>(sQ + buf * QT, qg, qb * BQ, T, stride);
        load_tile<HS, BQ, NTHREADS>(sO + buf * QT, dog, qb * BQ, T, C);
        for (int i = threadIdx.x; i < BQ; i += NTHREADS) {
            int q = qb * BQ + i;
            sL[buf * BQ + i] = q < T ? lg[q] * LOG2E : 0.f;
            sD[buf * BQ + i] = q < T ? dg[q] : 0.f;
        }
    };
    load_tile<HS, BN, NTHREADS>(sK, kg, k0, T, stride);
    load_tile<HS, BN, NTHREADS>(sV, vg, k0, T, stride);
    load_q(0, qstart);
    cp_commit();
    cp_wait_all();
    __syncthreads();
    uint32_t kf[HS / 16][4], vf[HS / 16][4];
    load_afrag<HS>(kf, sK + lo.a);
    load_afrag<HS>(vf, sV + lo.a);

    float dk[HS / 8][4], dv[HS / 8][4];
    zero4<HS / 8>(dk);
    zero4<HS / 8>(dv);
    const int krow[2] = {k0 + warp * 16 + g, k0 + warp * 16 + g + 8};

    for (int qb = qstart; qb < nq; qb++) {
        const int cur = (qb - qstart) & 1;
        __syncthreads();  // the other buffer (read last iteration) is rewritten below
        if (qb + 1 < nq) {
            load_q(cur ^ 1, qb + 1);
            cp_commit();
        }
        const uint32_t q_s = sQ + cur * QT, o_s = sO + cur * QT;
        const float *l_s = sL + cur * BQ, *d_s = sD + cur * BQ;
        // Sᵀ = K Qᵀ (16 keys × BQ queries), then Pᵀ
        float p[NT][4];
        zero4<NT>(p);
        mma_abt<HS, NT>(p, kf, q_s + lo.bn);
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
            float2 l2 = *(const float2 *)(l_s + nt * 8 + 2 * t4);
            p[nt][0] = exp2f(fmaf(p[nt][0], scale_log2, -l2.x));
            p[nt][1] = exp2f(fmaf(p[nt][1], scale_log2, -l2.y));
            p[nt][2] = exp2f(fmaf(p[nt][2], scale_log2, -l2.x));
            p[nt][3] = exp2f(fmaf(p[nt][3], scale_log2, -l2.y));
        }
        if (qb * BQ < k0 + warp * 16 + 16 || (qb + 1) * BQ > T || k0 + BN > T) {  // diagonal or past T
#pragma unroll
            for (int nt = 0; nt < NT; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int q = qb * BQ + nt * 8 + 2 * t4 + (e & 1);
                    if (q < krow[e >> 1] || q >= T || krow[e >> 1] >= T) p[nt][e] = 0.f;
                }
        }
        // dV += Pᵀ dO
        mma_pv<HS, NT>(dv, p, o_s + lo.bt);
        // dPᵀ = V dOᵀ, dSᵀ = Pᵀ ∘ (dPᵀ − D)
        float dp[NT][4];
        zero4<NT>(dp);
        mma_abt<HS, NT>(dp, vf, o_s + lo.bn);
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
            float2 d2 = *(const float2 *)(d_s + nt * 8 + 2 * t4);
            dp[nt][0] = p[nt][0] * (dp[nt][0] - d2.x);
            dp[nt][1] = p[nt][1] * (dp[nt][1] - d2.y);
            dp[nt][2] = p[nt][2] * (dp[nt][2] - d2.x);
            dp[nt][3] = p[nt][3] * (dp[nt][3] - d2.y);
        }
        // dK += dSᵀ Q
        mma_pv<HS, NT>(dk, dp, q_s + lo.bt);
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
template <int HS, int BK, int MINB>
__global__ void __launch_bounds__(NTHREADS, MINB) flash_bwd_dq(bf16 *dqkv, const bf16 *qkv,
                                                                            const bf16 *dout, const float *lse,
                                                                            const float *D, int T, int C, int NH,
                                                                            float scale, float scale_log2) {
    constexpr int LD = HS + PAD, NT = BK / 8, KT = BK * LD * 2;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const uint32_t sQ = smem_addr(smem_raw), sO = sQ + BM * LD * 2, sK = sO + BM * LD * 2, sV = sK + 2 * KT;
    const int qb = gridDim.x - 1 - blockIdx.x, b = blockIdx.y / NH, h = blockIdx.y % NH;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;
    const lane_offsets<LD> lo(warp, lane);
    const size_t stride = 3 * (size_t)C;
    const bf16 *qg = qkv + (size_t)b * T * stride + h * HS, *kg = qg + C, *vg = qg + 2 * C;
    const bf16 *dog = dout + (size_t)b * T * C + h * HS;
    const float *lg = lse + ((size_t)b * NH + h) * T, *dg = D + ((size_t)b * NH + h) * T;
    const int q0 = qb * BM, nkv = min((T + BK - 1) / BK, (q0 + BM - 1) / BK + 1);

    load_tile<HS, BM, NTHREADS>(sQ, qg, q0, T, stride);
    load_tile<HS, BM, NTHREADS>(sO, dog, q0, T, C);
    load_tile<HS, BK, NTHREADS>(sK, kg, 0, T, stride);
    load_tile<HS, BK, NTHREADS>(sV, vg, 0, T, stride);
    cp_commit();
    cp_wait_all();
    __syncthreads();
    uint32_t qf[HS / 16][4], of[HS / 16][4];
    load_afrag<HS>(qf, sQ + lo.a);
    load_afrag<HS>(of, sO + lo.a);
    const int qrow[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
    float lrow[2], drow[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        lrow[r] = qrow[r] < T ? lg[qrow[r]] * LOG2E : 0.f;
        drow[r] = qrow[r] < T ? dg[qrow[r]] : 0.f;
    }
    float dq[HS / 8][4];
    zero4<HS / 8>(dq);

    for (int j = 0; j < nkv; j++) {
        const int cur = j & 1;
        if (j + 1 < nkv) {
            load_tile<HS, BK, NTHREADS>(sK + (cur ^ 1) * KT, kg, (j + 1) * BK, T, stride);
            load_tile<HS, BK, NTHREADS>(sV + (cur ^ 1) * KT, vg, (j + 1) * BK, T, stride);
            cp_commit();
        }
        const uint32_t k_s = sK + cur * KT, v_s = sV + cur * KT;
        float p[NT][4], dp[NT][4];
        zero4<NT>(p);
        zero4<NT>(dp);
        mma_abt<HS, NT>(p, qf, k_s + lo.bn);
        mma_abt<HS, NT>(dp, of, v_s + lo.bn);
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) p[nt][e] = exp2f(fmaf(p[nt][e], scale_log2, -lrow[e >> 1]));
        if ((j + 1) * BK > q0 + warp * 16 || (j + 1) * BK > T) {  // diagonal or past T
#pragma unroll
            for (int nt = 0; nt < NT; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int key = j * BK + nt * 8 + 2 * t4 + (e & 1);
                    if (key > qrow[e >> 1] || key >= T) p[nt][e] = 0.f;
                }
        }
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) dp[nt][e] = p[nt][e] * (dp[nt][e] - drow[e >> 1]);
        mma_pv<HS, NT>(dq, dp, k_s + lo.bt);
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

// Backward variants (BERRY_ATTN_BWD=0..3; the default is the fastest measured on an H100,
// see tests/bench/RESULTS.md): the dK/dV query tile BQ, the dQ key tile BK, and how many
// CTAs per SM the register budget targets (3 trades a few spills for occupancy).
static int bwd_variant(void) {
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("BERRY_ATTN_BWD");
        v = e && *e >= '0' && *e <= '3' ? *e - '0' : 3;
    }
    return v;
}

template <int HS, int BQ, int BK, int MINB>
static void launch_bwd_v(kb_ctx *ctx, bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D,
                         int B, int T, int C, int NH, float scale, float sl2) {
    size_t smem1 = (size_t)(2 * BN + 4 * BQ) * (HS + PAD) * sizeof(bf16) + 4 * BQ * sizeof(float);
    size_t smem2 = (size_t)(2 * BM + 4 * BK) * (HS + PAD) * sizeof(bf16);
    static bool attr = false;
    if (!attr) {
        CUDA_CHECK(cudaFuncSetAttribute(flash_bwd_dkdv<HS, BQ, MINB>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem1));
        CUDA_CHECK(cudaFuncSetAttribute(flash_bwd_dq<HS, BK, MINB>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem2));
        attr = true;
    }
    dim3 grid1((T + BN - 1) / BN, B * NH), grid2((T + BM - 1) / BM, B * NH);
    flash_bwd_dkdv<HS, BQ, MINB><<<grid1, NTHREADS, smem1, STREAM(ctx)>>>(dqkv, qkv, dout, lse, D, T, C, NH, scale, sl2);
    LAUNCH_CHECK();
    flash_bwd_dq<HS, BK, MINB><<<grid2, NTHREADS, smem2, STREAM(ctx)>>>(dqkv, qkv, dout, lse, D, T, C, NH, scale, sl2);
    LAUNCH_CHECK();
}

template <int HS>
static void launch_bwd(kb_ctx *ctx, bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D,
                       int B, int T, int C, int NH, float scale, float sl2) {
    constexpr int M = HS <= 64 ? 3 : 2;  // large heads cannot fit 3 CTAs without heavy spills
    switch (bwd_variant()) {
    case 0: launch_bwd_v<HS, 64, 64, M>(ctx, dqkv, qkv, dout, lse, D, B, T, C, NH, scale, sl2); break;
    case 1: launch_bwd_v<HS, 64, 64, 2>(ctx, dqkv, qkv, dout, lse, D, B, T, C, NH, scale, sl2); break;
    case 2: launch_bwd_v<HS, 64, 32, M>(ctx, dqkv, qkv, dout, lse, D, B, T, C, NH, scale, sl2); break;
    default: launch_bwd_v<HS, 32, 32, M>(ctx, dqkv, qkv, dout, lse, D, B, T, C, NH, scale, sl2); break;
    }
}

void cuda_attention_forward(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, int B, int T, int C, int NH) {
#ifdef BERRY_CUDNN
    if (cuda_cudnn_attention_forward(ctx, out, lse, qkv, B, T, C, NH) == 0) return;
#endif
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
#ifdef BERRY_CUDNN
    if (cuda_cudnn_attention_backward(ctx, dqkv, dout, qkv, out, lse, B, T, C, NH) == 0) return;
#endif
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
