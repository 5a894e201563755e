// cuda_decode.cu — what rollout needs beyond training: writing K/V into a paged cache,
// block copies (copy-on-write), attention over paged keys (one CTA per row and head, warps
// splitting the keys, merged by log-sum-exp), shared-prefix attention that reads a prefix
// once for all the rows that share it (tensor-core tiles of 64 rows × 64 keys), merging of
// partial attentions, and sampling (temperature, top-k, top-p) with a counter-based RNG.
#include <math.h>
#include <stdint.h>

#include "kernels/cuda/cuda_softmax_row.cuh"

// ---- cache writes --------------------------------------------------------------------------------
__global__ void kv_write_kernel(bf16 *kp, bf16 *vp, const bf16 *qkv, const int32_t *slots, int N, int C, int NH, int bs) {
    size_t idx = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (idx >= (size_t)N * C) return;
    int i = (int)(idx / C), c = (int)(idx % C), hs = C / NH, h = c / hs, d = c % hs;
    int s = slots[i], blk = s / bs, pos = s % bs;
    size_t dst = (((size_t)blk * NH + h) * bs + pos) * hs + d;
    const bf16 *row = qkv + (size_t)i * 3 * C;
    *(bf16x8 *)(kp + dst) = *(const bf16x8 *)(row + C + c);
    *(bf16x8 *)(vp + dst) = *(const bf16x8 *)(row + 2 * C + c);
}

void cuda_kv_write(kb_ctx *ctx, kb_act *kpool, kb_act *vpool, const kb_act *qkv, const int32_t *slots, int N, int C,
                   int NH, int bs) {
    if (!N) return;
    if ((C / NH) % 8) die("cuda kv_write: head size %d must be a multiple of 8", C / NH);
    kv_write_kernel<<<cdiv((size_t)N * C / 8, 256), 256, 0, STREAM(ctx)>>>((bf16 *)kpool, (bf16 *)vpool,
                                                                           (const bf16 *)qkv, slots, N, C, NH, bs);
    LAUNCH_CHECK();
}

__global__ void kv_copy_kernel(bf16 *kp, bf16 *vp, const int32_t *src, const int32_t *dst, int n, size_t per) {
    size_t idx = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (idx >= (size_t)n * per) return;
    int i = (int)(idx / per);
    size_t o = idx % per, s = (size_t)src[i] * per + o, d = (size_t)dst[i] * per + o;
    *(bf16x8 *)(kp + d) = *(const bf16x8 *)(kp + s);
    *(bf16x8 *)(vp + d) = *(const bf16x8 *)(vp + s);
}

void cuda_kv_copy_blocks(kb_ctx *ctx, kb_act *kpool, kb_act *vpool, const int32_t *src, const int32_t *dst, int n,
                         int C, int bs) {
    if (!n) return;
    size_t per = (size_t)C * bs;
    kv_copy_kernel<<<cdiv((size_t)n * per / 8, 256), 256, 0, STREAM(ctx)>>>((bf16 *)kpool, (bf16 *)vpool, src, dst, n,
                                                                            per);
    LAUNCH_CHECK();
}

// ---- attention over paged keys ------------------------------------------------------------------
// One CTA (4 warps) per (row, head). Decode attention is a stream of K and V rows, so the
// kernel is written for memory-level parallelism: a lane holds 8 dims of the query and reads
// 16-byte pieces of K and V rows, LPK = head/8 lanes cover one key, a warp takes 32/LPK keys at
// once and U = 4 such slices per iteration (16 keys at head 64: a block), all loads issued
// before any is used (a head that is not a power of two leaves the last lanes of each key
// idle). Warps interleave their iterations over the key range and keep online
// softmaxes that are merged at the end (warp partials across key groups, then across warps).
#define PA_WARPS 4
#define PA_U 4
__host__ __device__ constexpr int pa_lanes(int hs) { return hs <= 8 ? 1 : 2 * pa_lanes((hs + 1) / 2); }
template <int HS>
__global__ void __launch_bounds__(PA_WARPS * 32) paged_attn_kernel(bf16 *out, float *lse, const bf16 *qkv,
                                                                   const bf16 *kp, const bf16 *vp,
                                                                   const int32_t *table, int max_blocks,
                                                                   const int32_t *kstart, const int32_t *kend,
                                                                   const int32_t *row_group, int C, int NH, int bs,
                                                                   float scale) {
    constexpr int LPK = pa_lanes(HS), KPW = 32 / LPK, STEP = PA_U * KPW;
    static_assert(HS % 8 == 0 && LPK <= 32, "head size: a multiple of 8 up to 256");
    __shared__ float sm[PA_WARPS], sl[PA_WARPS], so[PA_WARPS][HS];
    const int row = blockIdx.x, h = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int sub = lane % LPK, grp = lane / LPK;  // dims [8·sub, 8·sub+8) of key `grp` in a slice
    const bool act = sub * 8 < HS;
    float q[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (act) load8(qkv + (size_t)row * 3 * C + h * HS + sub * 8, q);
#pragma unroll
    for (int j = 0; j < 8; j++) q[j] *= scale;
    // prefix mode: the row reads its group's table and [0, kend[group])
    const int trow = row_group ? row_group[row] : row;
    const int k0 = row_group ? 0 : kstart[row], k1 = kend[trow];
    const int32_t *tb = table + (size_t)trow * max_blocks;
    const size_t head_off = (size_t)h * bs * HS + sub * 8, blk_stride = (size_t)NH * bs * HS;
    float m = -INFINITY, l = 0, o[8];
#pragma unroll
    for (int j = 0; j < 8; j++) o[j] = 0;
    for (int c0 = k0 + warp * STEP; c0 < k1; c0 += PA_WARPS * STEP) {
        bf16x8 kr[PA_U], vr[PA_U];
        bool ok[PA_U];
#pragma unroll
        for (int u = 0; u < PA_U; u++) {
            int k = c0 + u * KPW + grp;
            ok[u] = k < k1;
            if (ok[u] && act) {
                size_t a = (size_t)tb[k / bs] * blk_stride + head_off + (size_t)(k % bs) * HS;
                kr[u] = *(const bf16x8 *)(kp + a);
                vr[u] = *(const bf16x8 *)(vp + a);
            }
        }
        float sc[PA_U], cm = -INFINITY;
#pragma unroll
        for (int u = 0; u < PA_U; u++) {
            float acc = 0;
            if (ok[u] && act) {
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    float2 t = __bfloat1622float2(kr[u].h[i]);
                    acc += t.x * q[2 * i] + t.y * q[2 * i + 1];
                }
            }
#pragma unroll
            for (int off = 1; off < LPK; off <<= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
            sc[u] = ok[u] ? acc : -INFINITY;
            cm = fmaxf(cm, sc[u]);
        }
#pragma unroll
        for (int off = LPK; off < 32; off <<= 1) cm = fmaxf(cm, __shfl_xor_sync(0xffffffffu, cm, off));
        const float mn = fmaxf(m, cm), corr = m == -INFINITY ? 0.f : __expf(m - mn);
        l *= corr;
#pragma unroll
        for (int j = 0; j < 8; j++) o[j] *= corr;
#pragma unroll
        for (int u = 0; u < PA_U; u++) {
            if (!ok[u]) continue;
            float pu = __expf(sc[u] - mn);
            l += pu;
            if (!act) continue;
#pragma unroll
            for (int i = 0; i < 4; i++) {
                float2 t = __bfloat1622float2(vr[u].h[i]);
                o[2 * i] += pu * t.x;
                o[2 * i + 1] += pu * t.y;
            }
        }
        m = mn;
    }
    // the warp's key groups hold partial sums under the same running max: add them up
#pragma unroll
    for (int off = LPK; off < 32; off <<= 1) {
        l += __shfl_xor_sync(0xffffffffu, l, off);
#pragma unroll
        for (int j = 0; j < 8; j++) o[j] += __shfl_xor_sync(0xffffffffu, o[j], off);
    }
    if (lane == 0) {
        sm[warp] = m;
        sl[warp] = l;
    }
    if (lane < LPK && act) {
#pragma unroll
        for (int j = 0; j < 8; j++) so[warp][sub * 8 + j] = o[j];
    }
    __syncthreads();
    if (warp == 0 && lane < LPK && act) {
        float M = -INFINITY;
        for (int w = 0; w < PA_WARPS; w++) M = fmaxf(M, sm[w]);
        float L = 0, acc[8];
#pragma unroll
        for (int j = 0; j < 8; j++) acc[j] = 0;
        for (int w = 0; w < PA_WARPS; w++) {
            float f = sm[w] == -INFINITY ? 0.f : __expf(sm[w] - M);
            L += sl[w] * f;
#pragma unroll
            for (int j = 0; j < 8; j++) acc[j] += so[w][sub * 8 + j] * f;
        }
#pragma unroll
        for (int j = 0; j < 8; j++) acc[j] = L > 0 ? acc[j] / L : 0.f;
        store8(out + (size_t)row * C + h * HS + sub * 8, acc);
        if (lane == 0) lse[(size_t)row * NH + h] = L > 0 ? M + logf(L) : -INFINITY;
    }
}

static void launch_paged(kb_ctx *ctx, bf16 *out, float *lse, const bf16 *qkv, const bf16 *kp, const bf16 *vp,
                         const int32_t *table, int max_blocks, const int32_t *ks, const int32_t *ke,
                         const int32_t *row_group, int N, int C, int NH, int bs) {
    int HS = C / NH;
    float scale = 1.0f / sqrtf((float)HS);
    dim3 grid(N, NH);
    cudaStream_t st = STREAM(ctx);
    if (HS % 8 || HS > 256) die("cuda paged attention: head size %d must be a multiple of 8 up to 256", HS);
    switch (HS / 8) {
#define CASE(k) case k: paged_attn_kernel<8 * k><<<grid, PA_WARPS * 32, 0, st>>>(out, lse, qkv, kp, vp, table, max_blocks, ks, ke, row_group, C, NH, bs, scale); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12) CASE(13)
        CASE(14) CASE(15) CASE(16) CASE(17) CASE(18) CASE(19) CASE(20) CASE(21) CASE(22) CASE(23) CASE(24) CASE(25)
        CASE(26) CASE(27) CASE(28) CASE(29) CASE(30) CASE(31) CASE(32)
#undef CASE
    }
    LAUNCH_CHECK();
}

void cuda_paged_attention(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, const kb_act *kpool,
                          const kb_act *vpool, const int32_t *block_table, int max_blocks, const int32_t *kv_start,
                          const int32_t *kv_end, int N, int C, int NH, int bs) {
    if (!N) return;
    launch_paged(ctx, (bf16 *)out, lse, (const bf16 *)qkv, (const bf16 *)kpool, (const bf16 *)vpool, block_table,
                 max_blocks, kv_start, kv_end, NULL, N, C, NH, bs);
}

// ---- shared-prefix attention ---------------------------------------------------------------------
// For head sizes 32/64/128 and blocks of >= 16 positions: per (group, head) CTA, the group's
// rows in tiles of 64 (queries gathered), the prefix in tiles of 64 keys gathered from its
// blocks; tensor-core MMAs, online softmax. Each prefix tile is read once per row tile.
#define PX_BM 64
#define PX_BN 64
#define PX_PAD 8
__device__ __forceinline__ void px_mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void px_ldsm(uint32_t r[4], const bf16 *p, bool trans) {
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    if (trans)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}
__device__ __forceinline__ uint32_t px_pack(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *(uint32_t *)&v;
}

template <int HS>
__global__ void __launch_bounds__(128) prefix_attn_kernel(bf16 *out, float *lse, const bf16 *qkv, const bf16 *kp,
                                                          const bf16 *vp, const int32_t *table, int max_blocks,
                                                          const int32_t *plen, const int32_t *row_off,
                                                          const int32_t *rows, int C, int NH, int bs, float scale_log2) {
    constexpr int LD = HS + PX_PAD;
    __shared__ __align__(16) bf16 sQ[PX_BM * LD], sK[PX_BN * LD], sV[PX_BN * LD];
    const int g = blockIdx.x, h = blockIdx.y;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gr = lane / 4, t4 = lane % 4;
    const int r0 = row_off[g], r1 = row_off[g + 1], P = plen[g];
    const int32_t *tb = table + (size_t)g * max_blocks;
    for (int rt = r0; rt < r1; rt += PX_BM) {
        // gather the tile's queries (zero rows past the group)
        for (int i = threadIdx.x; i < PX_BM * HS / 8; i += 128) {
            int r = i / (HS / 8), c = (i % (HS / 8)) * 8;
            bf16x8 v = {};
            if (rt + r < r1) v = *(const bf16x8 *)(qkv + (size_t)rows[rt + r] * 3 * C + h * HS + c);
            *(bf16x8 *)(sQ + r * LD + c) = v;
        }
        __syncthreads();
        uint32_t qf[HS / 16][4];
#pragma unroll
        for (int kk = 0; kk < HS / 16; kk++) px_ldsm(qf[kk], sQ + (warp * 16 + lane % 16) * LD + kk * 16 + (lane / 16) * 8, false);
        float o[HS / 8][4];
#pragma unroll
        for (int i = 0; i < HS / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0;
        float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0, 0};
        for (int k0 = 0; k0 < P; k0 += PX_BN) {
            __syncthreads();  // previous tile fully consumed
            for (int i = threadIdx.x; i < PX_BN * HS / 8; i += 128) {
                int r = i / (HS / 8), c = (i % (HS / 8)) * 8, k = k0 + r;
                bf16x8 kv = {}, vv = {};
                if (k < P) {
                    size_t base = (((size_t)tb[k / bs] * NH + h) * bs + k % bs) * HS + c;
                    kv = *(const bf16x8 *)(kp + base);
                    vv = *(const bf16x8 *)(vp + base);
                }
                *(bf16x8 *)(sK + r * LD + c) = kv;
                *(bf16x8 *)(sV + r * LD + c) = vv;
            }
            __syncthreads();
            float s[8][4];
#pragma unroll
            for (int i = 0; i < 8; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0;
#pragma unroll
            for (int kk = 0; kk < HS / 16; kk++)
#pragma unroll
                for (int n2 = 0; n2 < 4; n2++) {
                    uint32_t b[4];
                    px_ldsm(b, sK + (n2 * 16 + (lane % 8) + (lane / 16) * 8) * LD + kk * 16 + ((lane / 8) % 2) * 8, false);
                    px_mma(s[2 * n2], qf[kk], b[0], b[1]);
                    px_mma(s[2 * n2 + 1], qf[kk], b[2], b[3]);
                }
            float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int nt = 0; nt < 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int k = k0 + nt * 8 + 2 * t4 + (e & 1);
                    float x = k < P ? s[nt][e] * scale_log2 : -INFINITY;
                    s[nt][e] = x;
                    mx[e >> 1] = fmaxf(mx[e >> 1], x);
                }
#pragma unroll
            for (int r = 0; r < 2; r++) {
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
                float mn = fmaxf(mrow[r], mx[r]);
                float corr = mrow[r] == -INFINITY ? 0.f : exp2f(mrow[r] - mn);
                mrow[r] = mn;
                lrow[r] *= corr;
#pragma unroll
                for (int i = 0; i < HS / 8; i++) o[i][2 * r] *= corr, o[i][2 * r + 1] *= corr;
            }
#pragma unroll
            for (int nt = 0; nt < 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float mm = mrow[e >> 1];
                    float p = mm == -INFINITY ? 0.f : exp2f(s[nt][e] - mm);
                    s[nt][e] = p;
                    lrow[e >> 1] += p;
                }
#pragma unroll
            for (int kk = 0; kk < 4; kk++) {
                uint32_t a[4] = {px_pack(s[2 * kk][0], s[2 * kk][1]), px_pack(s[2 * kk][2], s[2 * kk][3]),
                                 px_pack(s[2 * kk + 1][0], s[2 * kk + 1][1]), px_pack(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
                for (int n2 = 0; n2 < HS / 16; n2++) {
                    uint32_t b[4];
                    px_ldsm(b, sV + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * LD + n2 * 16 + (lane / 16) * 8, true);
                    px_mma(o[2 * n2], a, b[0], b[1]);
                    px_mma(o[2 * n2 + 1], a, b[2], b[3]);
                }
            }
        }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            lrow[r] += __shfl_xor_sync(0xffffffffu, lrow[r], 1);
            lrow[r] += __shfl_xor_sync(0xffffffffu, lrow[r], 2);
        }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            int ri = rt + warp * 16 + gr + 8 * r;
            if (ri >= r1) continue;
            int row = rows[ri];
            float inv = lrow[r] > 0 ? 1.0f / lrow[r] : 0.f;
            bf16 *og = out + (size_t)row * C + h * HS;
#pragma unroll
            for (int i = 0; i < HS / 8; i++)
                *(__nv_bfloat162 *)(og + i * 8 + 2 * t4) = __floats2bfloat162_rn(o[i][2 * r] * inv, o[i][2 * r + 1] * inv);
            if (t4 == 0) lse[(size_t)row * NH + h] = lrow[r] > 0 ? (mrow[r] + log2f(lrow[r])) / 1.4426950408889634f : -INFINITY;
        }
        __syncthreads();
    }
}

void cuda_prefix_attention(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, const kb_act *kpool,
                           const kb_act *vpool, const int32_t *prefix_table, int max_blocks, const int32_t *prefix_len,
                           const int32_t *row_off, const int32_t *rows, int G, int C, int NH, int bs) {
    if (!G) return;
    int HS = C / NH;
    float scale = 1.0f / sqrtf((float)HS), sl2 = scale * 1.4426950408889634f;
    dim3 grid(G, NH);
    cudaStream_t st = STREAM(ctx);
    bf16 *o = (bf16 *)out;
    const bf16 *x = (const bf16 *)qkv, *kp = (const bf16 *)kpool, *vp = (const bf16 *)vpool;
    switch (HS) {
    case 32: prefix_attn_kernel<32><<<grid, 128, 0, st>>>(o, lse, x, kp, vp, prefix_table, max_blocks, prefix_len, row_off, rows, C, NH, bs, sl2); LAUNCH_CHECK(); return;
    case 64: prefix_attn_kernel<64><<<grid, 128, 0, st>>>(o, lse, x, kp, vp, prefix_table, max_blocks, prefix_len, row_off, rows, C, NH, bs, sl2); LAUNCH_CHECK(); return;
    }
    die("cuda prefix attention: head size %d is not supported (32 or 64)", HS);
}

// ---- merge -------------------------------------------------------------------------------------
__global__ void merge_kernel(bf16 *out, float *lse, const bf16 *oa, const float *la, const bf16 *ob, const float *lb,
                             int N, int C, int NH) {
    int row = blockIdx.x, hs = C / NH;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        int h = c / hs;
        float a = la[(size_t)row * NH + h], b = lb[(size_t)row * NH + h];
        float m = fmaxf(a, b), r;
        float wa = a == -INFINITY ? 0.f : __expf(a - m), wb = b == -INFINITY ? 0.f : __expf(b - m);
        float den = wa + wb;
        size_t i = (size_t)row * C + c;
        r = den > 0 ? (wa * __bfloat162float(oa[i]) + wb * __bfloat162float(ob[i])) / den : 0.f;
        out[i] = __float2bfloat16_rn(r);
    }
    // One head per thread for the new lse, written only after every thread has read the
    // old values (out/lse may alias the a side).
    float nl = 0;
    int h = threadIdx.x;
    if (h < NH) {
        float a = la[(size_t)row * NH + h], b = lb[(size_t)row * NH + h];
        float m = fmaxf(a, b);
        float den = (a == -INFINITY ? 0.f : __expf(a - m)) + (b == -INFINITY ? 0.f : __expf(b - m));
        nl = den > 0 ? m + logf(den) : -INFINITY;
    }
    __syncthreads();
    if (h < NH) lse[(size_t)row * NH + h] = nl;
}

void cuda_attention_merge(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *out_a, const float *lse_a,
                          const kb_act *out_b, const float *lse_b, int N, int C, int NH) {
    if (!N) return;
    if (NH > 256) die("cuda attention merge: %d heads above 256", NH);
    merge_kernel<<<N, 256, 0, STREAM(ctx)>>>((bf16 *)out, lse, (const bf16 *)out_a, lse_a, (const bf16 *)out_b, lse_b, N,
                                             C, NH);
    LAUNCH_CHECK();
}

// ---- sampling -----------------------------------------------------------------------------------
__device__ __forceinline__ uint64_t d_rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
// Same as kb_uniform (dispatch.c) / mix64 (base.c).
__device__ __forceinline__ float d_uniform(uint64_t seed, uint64_t counter) {
    uint64_t s = seed * 0xD6E8FEB86659FD93ull ^ (counter + 0x9E3779B97F4A7C15ull);
    d_rng_next(&s);
    return (float)(d_rng_next(&s) >> 40) * (1.0f / 16777216.0f);
}
// Order-preserving key: larger float -> larger unsigned.
__device__ __forceinline__ uint32_t fkey(float f) {
    uint32_t u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

#define SM_THREADS ROW_THREADS  // one block per row: the classifier's reduction
#define SM_MAXK 1024

__global__ void __launch_bounds__(SM_THREADS) sample_kernel(int32_t *tokens, float *logprobs, const bf16 *logits,
                                                            const uint64_t *seeds, const uint64_t *counters, int V,
                                                            int Vp, float inv, int greedy, int top_k,
                                                            float top_p) {
    __shared__ msz red[SM_THREADS / 32];
    __shared__ msz total;
    __shared__ int red_i[SM_THREADS / 32];
    __shared__ unsigned hist[256];
    __shared__ uint32_t s_prefix;
    __shared__ int s_need;
    __shared__ float cz[SM_MAXK];
    __shared__ int cid[SM_MAXK];
    __shared__ float chunk_sum[SM_THREADS];
    const int row = blockIdx.x, tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
    const bf16 *x = logits + (size_t)row * Vp;
    // pass 1: the max M and S = Σ exp(z − M) of the full softmax of z, by the classifier's
    // reduction (cuda_softmax_row.cuh): the log-prob below is exactly minus its nll
    msz_block_merge(msz_row_partial(x, V, inv), red, &total);
    const float M = total.m, S = total.s;
    if (greedy) {
        // greedy (z at temperature 1: inv is 1): the lowest id whose z is the max
        int am = 0x7fffffff;
        for (int i = tid; i < V; i += SM_THREADS)
            if (row_z(__bfloat162float(x[i]), inv) == M) {
                am = i;
                break;
            }
        for (int o = 16; o > 0; o >>= 1) am = min(am, __shfl_xor_sync(0xffffffffu, am, o));
        if (lane == 0) red_i[warp] = am;
        __syncthreads();
        if (tid == 0) {
            int A = red_i[0];
            for (int w = 1; w < SM_THREADS / 32; w++) A = min(A, red_i[w]);
            if (A == 0x7fffffff) A = 0;  // no logit is a number (NaN everywhere): so is the log-prob
            tokens[row] = A;
            logprobs[row] = -row_nll(M, S, row_z(__bfloat162float(x[A]), inv));
        }
        return;
    }
    const float u = d_uniform(seeds[row], counters[row]);
    if (top_k <= 0 || top_k >= V) {
        // no truncation (top_p must be 1 here): inverse CDF in id order over contiguous chunks
        int per = (V + SM_THREADS - 1) / SM_THREADS, a = tid * per, b = min(V, a + per);
        float cs = 0;
        for (int i = a; i < b; i++) cs += __expf(row_z(__bfloat162float(x[i]), inv) - M);
        chunk_sum[tid] = cs;
        __syncthreads();
        if (tid == 0) {
            float mass = 0;  // draw against the chunks' own total, as the CPU does
            for (int t = 0; t < SM_THREADS; t++) mass += chunk_sum[t];
            float target = u * mass, acc = 0;
            int t = 0;
            for (; t < SM_THREADS - 1 && acc + chunk_sum[t] <= target; t++) acc += chunk_sum[t];
            int i0 = t * per, i1 = min(V, i0 + per), pick = -1;
            for (int i = i0; i < i1; i++) {
                acc += __expf(row_z(__bfloat162float(x[i]), inv) - M);
                if (acc > target) {
                    pick = i;
                    break;
                }
            }
            // rounding ran past the end: the last token with nonzero probability (as the CPU)
            for (int i = V - 1; pick < 0 && i >= 0; i--)
                if (__expf(row_z(__bfloat162float(x[i]), inv) - M) > 0.f) pick = i;
            if (pick < 0) pick = 0;  // no logit is a number: so is the log-prob
            tokens[row] = pick;
            logprobs[row] = -row_nll(M, S, row_z(__bfloat162float(x[pick]), inv));
        }
        return;
    }
    // top-k: radix-select the k-th largest key, 8 bits at a time
    uint32_t prefix = 0;
    int need = top_k;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = tid; i < 256; i += SM_THREADS) hist[i] = 0;
        __syncthreads();
        uint32_t hmask = shift == 24 ? 0u : (0xFFFFFFFFu << (shift + 8));
        for (int i = tid; i < V; i += SM_THREADS) {
            uint32_t k = fkey(row_z(__bfloat162float(x[i]), inv));
            if ((k & hmask) == (prefix & hmask)) atomicAdd(&hist[(k >> shift) & 255], 1u);
        }
        __syncthreads();
        if (tid == 0) {
            int acc = 0, bin = 255;
            for (; bin > 0; bin--) {
                if (acc + (int)hist[bin] >= need) break;
                acc += hist[bin];
            }
            s_prefix = prefix | ((uint32_t)bin << shift);
            s_need = need - acc;
        }
        __syncthreads();
        prefix = s_prefix;
        need = s_need;
    }
    // `prefix` is the k-th largest key. Candidates: every key above it, and the `need`
    // lowest ids equal to it; compacted in id order (each thread a contiguous chunk of ids,
    // chunk offsets from an exclusive scan in thread order).
    const uint32_t kth = prefix;
    int per = (V + SM_THREADS - 1) / SM_THREADS, a = tid * per, b = min(V, a + per);
    int ngt = 0, neq = 0;
    for (int i = a; i < b; i++) {
        uint32_t k = fkey(row_z(__bfloat162float(x[i]), inv));
        ngt += k > kth;
        neq += k == kth;
    }
    __shared__ int sg[SM_THREADS], se[SM_THREADS];
    sg[tid] = ngt;
    se[tid] = neq;
    __syncthreads();
    if (tid == 0) {
        int g = 0, e = 0;
        for (int t = 0; t < SM_THREADS; t++) {
            int a1 = sg[t], b1 = se[t];
            sg[t] = g, se[t] = e;
            g += a1, e += b1;
        }
    }
    __syncthreads();
    {
        int g = sg[tid], e = se[tid];
        for (int i = a; i < b; i++) {
            float z = row_z(__bfloat162float(x[i]), inv);
            uint32_t k = fkey(z);
            if (k > kth) {
                int slot = g + min(e, need);  // candidates with lower ids come first
                cz[slot] = z;
                cid[slot] = i;
                g++;
            } else if (k == kth) {
                if (e < need) {
                    cz[g + e] = z;
                    cid[g + e] = i;
                }
                e++;
            }
        }
    }
    __syncthreads();
    const int K = top_k;
    // the top-p cut needs the order (z desc, id asc): bitonic sort of a copy
    __shared__ float sz[SM_MAXK];
    __shared__ int sid[SM_MAXK];
    __shared__ float s_zcut;
    __shared__ int s_idcut;
    if (top_p < 1.0f) {
        int P2 = 1;
        while (P2 < K) P2 <<= 1;
        for (int j = tid; j < P2; j += SM_THREADS) {
            sz[j] = j < K ? cz[j] : -INFINITY;
            sid[j] = j < K ? cid[j] : 0x7fffffff;
        }
        __syncthreads();
        for (int size = 2; size <= P2; size <<= 1)
            for (int stride = size >> 1; stride > 0; stride >>= 1) {
                for (int j = tid; j < P2; j += SM_THREADS) {
                    int p2 = j ^ stride;
                    if (p2 > j) {
                        bool desc = (j & size) == 0;  // this half sorts "first" = (z desc, id asc)
                        bool j_first = sz[j] > sz[p2] || (sz[j] == sz[p2] && sid[j] < sid[p2]);
                        if (desc != j_first) {
                            float tz = sz[j]; sz[j] = sz[p2]; sz[p2] = tz;
                            int ti = sid[j]; sid[j] = sid[p2]; sid[p2] = ti;
                        }
                    }
                }
                __syncthreads();
            }
        if (tid == 0) {
            float total = 0;
            for (int j = 0; j < K; j++) total += __expf(sz[j] - M);
            float mass = 0;
            int r = 0;
            for (; r < K; r++) {
                mass += __expf(sz[r] - M);
                if (mass >= top_p * total) break;
            }
            if (r == K) r = K - 1;
            s_zcut = sz[r];
            s_idcut = sid[r];
        }
        __syncthreads();
    } else if (tid == 0) {
        s_zcut = -INFINITY;
        s_idcut = 0x7fffffff;
    }
    if (tid == 0) {
        // draw in id order among the kept: (z, id) at or before the cut in the sorted order
        float zc = s_zcut, mass = 0;
        int ic = s_idcut;
        for (int j = 0; j < K; j++)
            if (cz[j] > zc || (cz[j] == zc && cid[j] <= ic)) mass += __expf(cz[j] - M);
        float target = u * mass, acc = 0;
        int pick = -1;
        for (int j = 0; j < K; j++) {
            if (!(cz[j] > zc || (cz[j] == zc && cid[j] <= ic))) continue;
            acc += __expf(cz[j] - M);
            pick = j;
            if (acc > target) break;
        }
        tokens[row] = cid[pick];
        logprobs[row] = -row_nll(M, S, cz[pick]);  // cz holds row_z values
    }
}

void cuda_sample(kb_ctx *ctx, int32_t *tokens, float *logprobs, const kb_act *logits, const uint64_t *seeds,
                 const uint64_t *counters, int N, int V, int Vp, float temperature, int top_k, float top_p) {
    if (V < 1 || Vp < V || Vp % 8) die("cuda sampling: vocabulary %d with padded width %d (a multiple of 8)", V, Vp);
    if (!(temperature >= 0) || isinf(temperature) || (temperature > 0 && isinf(1.0f / temperature)))
        die("cuda sampling: temperature %g must be 0 (greedy) or a finite number whose inverse is finite", temperature);
    if (top_k < 0) die("cuda sampling: top_k %d must be >= 0 (0: no top-k)", top_k);
    if (!(top_p >= 0 && top_p <= 1)) die("cuda sampling: top_p %g must be in [0, 1]", top_p);
    if (!N) return;
    if (top_k > SM_MAXK) die("cuda sampling: top_k %d above %d", top_k, SM_MAXK);
    if (top_p < 1.0f && (top_k <= 0 || top_k >= V))
        die("cuda sampling: top_p < 1 needs top_k in [1, %d]", SM_MAXK);
    // 1/temperature on the host, as the trainer computes the classifier's inv_temp (device
    // division is approximate under --use_fast_math): the same z, so the same log-prob
    float inv = temperature > 0 ? 1.0f / temperature : 1.0f;
    sample_kernel<<<N, SM_THREADS, 0, STREAM(ctx)>>>(tokens, logprobs, (const bf16 *)logits, seeds, counters, V, Vp, inv,
                                                     temperature == 0, top_k, top_p);
    LAUNCH_CHECK();
}

// ---- graphs --------------------------------------------------------------------------------------
void *cuda_graph_capture(kb_ctx *ctx, void (*fn)(void *), void *arg) {
    cudaStream_t st = STREAM(ctx);
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CUDA_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    fn(arg);
    CUDA_CHECK(cudaStreamEndCapture(st, &graph));
    CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    CUDA_CHECK(cudaGraphDestroy(graph));
    return (void *)exec;
}
void cuda_graph_launch(kb_ctx *ctx, void *g) { CUDA_CHECK(cudaGraphLaunch((cudaGraphExec_t)g, STREAM(ctx))); }
void cuda_graph_free(kb_ctx *ctx, void *g) { CUDA_CHECK(cudaGraphExecDestroy((cudaGraphExec_t)g)); }
