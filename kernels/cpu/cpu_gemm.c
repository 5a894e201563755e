// cpu_gemm.c — the one fp32 matrix multiply behind every matmul of the CPU backend.
//
// The classic packed scheme (Goto/BLIS): the output is cut into MC×NC tiles, one tile per
// task, tasks spread over the OpenMP team. For each block of KC inner indices a task packs
// its slice of A into MR-row panels and its slice of B into NR-column panels (contiguous,
// in the order the micro-kernel reads them), then the micro-kernel keeps an MR×NR block of
// C in vector registers while it streams the two panels, one FMA per element per k.
//
// Bits: every output element is summed over k from 0 upwards within each KC block, starting
// from zero, and the block sums are added to the element in block order. MC and NC (which
// may shrink to give every thread work) change who computes an element, never how, so the
// result depends on K alone: not on the thread count, nor on M or N (a row gives the same
// bits alone or inside a batch).
#include "kernels/cpu/cpu.h"

#if CPU_VL == 16
#define MR 8  // 8×32 tile: 16 accumulators of the 32 AVX-512 registers
#define NV 2
#elif CPU_VL == 8
#define MR 6  // 6×16 tile: 12 accumulators of the 16 AVX2 registers
#define NV 2
#else
#define MR 4
#define NV 2
#endif
#define NR (NV * CPU_VL)
#define KC 256       // inner block: fixed, it decides the bits
#define MC_MAX (MR * 16)
#define NC_MAX (NR * 8)

static inline int imin(int a, int b) { return a < b ? a : b; }

// Packs rows [i0, i0+mc) × inner [k0, k0+kc) of A into panels of MR rows: panel p holds
// element (i0 + p*MR + i, k0 + k) at [p*MR*kc + k*MR + i]. Rows past mc are not read by
// the micro-kernel, so they are left as they are.
static void pack_a(gemm_view A, int i0, int mc, int k0, int kc, float *restrict Ap) {
    for (int ir = 0; ir < mc; ir += MR) {
        int mr = imin(MR, mc - ir);
        float *restrict dst = Ap + (size_t)ir * kc;
        const float *src = A.p + (ptrdiff_t)(i0 + ir) * A.rs + (ptrdiff_t)k0 * A.cs;
        if (A.cs == 1) {
            for (int i = 0; i < mr; i++) {
                const float *s = src + i * A.rs;
                for (int k = 0; k < kc; k++) dst[k * MR + i] = s[k];
            }
        } else if (A.rs == 1) {
            for (int k = 0; k < kc; k++) {
                const float *s = src + k * A.cs;
                for (int i = 0; i < mr; i++) dst[k * MR + i] = s[i];
            }
        } else {
            for (int k = 0; k < kc; k++)
                for (int i = 0; i < mr; i++) dst[k * MR + i] = src[i * A.rs + k * A.cs];
        }
    }
}

// Packs inner [k0, k0+kc) × columns [j0, j0+nc) of B into panels of NR columns: panel p
// holds element (k0 + k, j0 + p*NR + j) at [p*NR*kc + k*NR + j]; columns past nc are zero
// (the micro-kernel computes them and throws them away).
static void pack_b(gemm_view B, int k0, int kc, int j0, int nc, float *restrict Bp) {
    for (int jr = 0; jr < nc; jr += NR) {
        int nr = imin(NR, nc - jr);
        float *restrict dst = Bp + (size_t)jr * kc;
        const float *src = B.p + (ptrdiff_t)k0 * B.rs + (ptrdiff_t)(j0 + jr) * B.cs;
        if (B.cs == 1) {
            for (int k = 0; k < kc; k++) {
                const float *s = src + k * B.rs;
                for (int j = 0; j < nr; j++) dst[k * NR + j] = s[j];
            }
        } else if (B.rs == 1) {
            for (int j = 0; j < nr; j++) {
                const float *s = src + j * B.cs;
                for (int k = 0; k < kc; k++) dst[k * NR + j] = s[k];
            }
        } else {
            for (int k = 0; k < kc; k++)
                for (int j = 0; j < nr; j++) dst[k * NR + j] = src[k * B.rs + j * B.cs];
        }
        if (nr < NR)
            for (int k = 0; k < kc; k++)
                for (int j = nr; j < NR; j++) dst[k * NR + j] = 0;
    }
}

// C[0:mr, 0:nr] (=|+=) Ap·Bp over kc, for a compile-time mr (always inlined, so each row
// count gets its own register-resident copy).
static inline __attribute__((always_inline)) void micro_kernel(const int mr, int kc, const float *restrict Ap,
                                                               const float *restrict Bp, float *restrict Cp,
                                                               ptrdiff_t ldc, int nr, int overwrite) {
    vfloat acc[MR][NV];
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = (vfloat){0};
    for (int k = 0; k < kc; k++) {
        vfloat b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) b[v] = vload(Bp + (size_t)k * NR + v * CPU_VL);
#pragma GCC unroll 8
        for (int i = 0; i < mr; i++) {
            vfloat a = vbroadcast(Ap[(size_t)k * MR + i]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = vfma(a, b[v], acc[i][v]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
        float *c = Cp + i * ldc;
        if (nr == NR) {
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                vfloat x = acc[i][v];
                if (!overwrite) x += vload(c + v * CPU_VL);
                vstore(c + v * CPU_VL, x);
            }
        } else {
            float t[NR];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) vstore(t + v * CPU_VL, acc[i][v]);
            if (overwrite)
                for (int j = 0; j < nr; j++) c[j] = t[j];
            else
                for (int j = 0; j < nr; j++) c[j] += t[j];
        }
    }
}

static void micro(int mr, int kc, const float *Ap, const float *Bp, float *Cp, ptrdiff_t ldc, int nr, int overwrite) {
    switch (mr) {
#define CASE(m) \
    case m: micro_kernel(m, kc, Ap, Bp, Cp, ldc, nr, overwrite); break;
        CASE(1)
        CASE(2)
        CASE(3)
        CASE(4)
#if MR > 4
        CASE(5)
        CASE(6)
#endif
#if MR > 6
        CASE(7)
        CASE(8)
#endif
#undef CASE
    default: die("cpu_gemm: micro-kernel row count %d out of range", mr);
    }
}

static void epilogue(const gemm_epilogue *ep, float *Cm, ptrdiff_t ldc, int i0, int mc, int j0, int nc) {
    for (int i = i0; i < i0 + mc; i++) {
        float *c = Cm + i * ldc + j0;
        int j;
        if (ep->bias) {
            const float *b = ep->bias + j0;
            for (j = 0; j < nc; j++) c[j] += b[j];
        }
        if (ep->gelu_out) {
            float *g = ep->gelu_out + i * ldc + j0;
            for (j = 0; j + CPU_VL <= nc; j += CPU_VL) vstore(g + j, vgelu(vload(c + j)));
            for (; j < nc; j++) g[j] = cpu_gelu(c[j]);
        }
        if (ep->gelu_grad_at) {
            const float *x = ep->gelu_grad_at + i * ldc + j0;
            for (j = 0; j + CPU_VL <= nc; j += CPU_VL) vstore(c + j, vload(c + j) * vgelu_grad(vload(x + j)));
            for (; j < nc; j++) c[j] *= cpu_gelu_grad(x[j]);
        }
    }
}

void cpu_gemm_packed(kb_ctx *ctx, int M, int N, int K, gemm_view A, gemm_view B, float *Cm, ptrdiff_t ldc,
                     int accumulate, const gemm_epilogue *ep) {
    if (M <= 0 || N <= 0) return;
    int threads = cpu_threads();
    // Smaller tiles when the big ones would leave threads idle; the bits do not change.
    int mc = MC_MAX, nc = NC_MAX;
#define NTASKS() (((M + mc - 1) / mc) * ((N + nc - 1) / nc))
    while (NTASKS() < 2 * threads && nc > NR) nc = ((nc / 2 + NR - 1) / NR) * NR;
    while (NTASKS() < 2 * threads && mc > MR) mc = ((mc / 2 + MR - 1) / MR) * MR;
    int tiles_m = (M + mc - 1) / mc, ntasks = NTASKS();
#undef NTASKS
    int team = imin(threads, ntasks);
    size_t per_thread = cpu_round64(((size_t)MC_MAX * KC + (size_t)KC * NC_MAX) * sizeof(float));
    char *scratch = cpu_scratch(ctx, per_thread * team);

#pragma omp parallel num_threads(team) if (team > 1)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < ntasks; task++) {
            float *Ap = (float *)(scratch + per_thread * omp_get_thread_num());
            float *Bp = Ap + (size_t)MC_MAX * KC;
            int i0 = (task % tiles_m) * mc, j0 = (task / tiles_m) * nc;
            int tm = imin(mc, M - i0), tn = imin(nc, N - j0);
            // One pass even when K == 0, so the tile is still written (as zeros) when overwriting.
            for (int k0 = 0; k0 == 0 || k0 < K; k0 += KC) {
                int kc = imin(KC, K - k0);
                pack_a(A, i0, tm, k0, kc, Ap);
                pack_b(B, k0, kc, j0, tn, Bp);
                int overwrite = !accumulate && k0 == 0;
                for (int jr = 0; jr < tn; jr += NR)
                    for (int ir = 0; ir < tm; ir += MR)
                        micro(imin(MR, tm - ir), kc, Ap + (size_t)ir * kc, Bp + (size_t)jr * kc,
                              Cm + (ptrdiff_t)(i0 + ir) * ldc + j0 + jr, ldc, imin(NR, tn - jr), overwrite);
            }
            if (ep) epilogue(ep, Cm, ldc, i0, tm, j0, tn);
        }
        CPU_FTZ_END
    }
}

// ---- few rows: matrix-vector path ------------------------------------------------------------
// Decoding multiplies one or a few rows by a weight W (OC, C) viewed as B(k, j) = W[j][k]
// (B.rs == 1). The packed path would repack all of W on every call, more work than the
// multiply itself when M is small. Here each task takes CPU_VL output columns: their W rows
// are read CPU_VL at a time along k, transposed in registers so that one vector holds
// B(k, j0 .. j0+CPU_VL) for one k, and every row's accumulator takes one FMA per k. The sum
// of each element runs exactly as in the packed micro-kernel (over k from zero within each
// KC block, block sums added to the element in order), so both paths give the same bits
// and a row's result does not depend on which path its batch size selected.
#if CPU_VL == 16
#define SM_MR 8  // rows per pass: 16 transposed columns + 8 accumulators of 32 registers
#else
#define SM_MR 4
#endif
// One pass of rows; above it the packed path is as fast (tests/bench/RESULTS.md).
int cpu_gemm_small_rows = SM_MR;

static inline __attribute__((always_inline)) void small_m_block(const int mr, gemm_view A, int i0, int k0, int kc,
                                                                const float *const *wrow, int nc, vfloat *acc) {
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) acc[i] = (vfloat){0};
    for (int k = k0; k < k0 + kc; k += CPU_VL) {
        int kk = imin(CPU_VL, k0 + kc - k);
        vfloat r[CPU_VL];
        if (kk == CPU_VL) {
#pragma GCC unroll 16
            for (int t = 0; t < CPU_VL; t++) r[t] = t < nc ? vload(wrow[t] + k) : (vfloat){0};
        } else {
            for (int t = 0; t < CPU_VL; t++) {
                float tmp[CPU_VL] = {0};
                if (t < nc) memcpy(tmp, wrow[t] + k, (size_t)kk * sizeof(float));
                r[t] = vload(tmp);
            }
        }
        vtranspose(r);  // r[d] = B(k + d, j0 .. j0+CPU_VL)
        const float *a = A.p + (ptrdiff_t)i0 * A.rs + (ptrdiff_t)k * A.cs;
        if (kk == CPU_VL) {
#pragma GCC unroll 16
            for (int d = 0; d < CPU_VL; d++)
#pragma GCC unroll 8
                for (int i = 0; i < mr; i++) acc[i] = vfma(vbroadcast(a[i * A.rs + d * A.cs]), r[d], acc[i]);
        } else {
            for (int d = 0; d < kk; d++)
#pragma GCC unroll 8
                for (int i = 0; i < mr; i++) acc[i] = vfma(vbroadcast(a[i * A.rs + d * A.cs]), r[d], acc[i]);
        }
    }
}

static void small_m_rows(int mr, gemm_view A, int i0, int k0, int kc, const float *const *wrow, int nc, vfloat *acc) {
    switch (mr) {
#define CASE(m) \
    case m: small_m_block(m, A, i0, k0, kc, wrow, nc, acc); break;
        CASE(1)
        CASE(2)
        CASE(3)
        CASE(4)
#if SM_MR > 4
        CASE(5)
        CASE(6)
        CASE(7)
        CASE(8)
#endif
#undef CASE
    default: die("cpu_gemm: matrix-vector row count %d out of range", mr);
    }
}

static void gemm_small_m(int M, int N, int K, gemm_view A, gemm_view B, float *Cm, ptrdiff_t ldc, int accumulate,
                         const gemm_epilogue *ep) {
    int tiles = (N + CPU_VL - 1) / CPU_VL;
    int team = imin(cpu_threads(), tiles);
#pragma omp parallel num_threads(team) if (team > 1 && (double)M * N * K > 65536)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int tile = 0; tile < tiles; tile++) {
            int j0 = tile * CPU_VL, nc = imin(CPU_VL, N - j0);
            const float *wrow[CPU_VL];
            for (int t = 0; t < CPU_VL; t++) wrow[t] = t < nc ? B.p + (ptrdiff_t)(j0 + t) * B.cs : NULL;
            for (int i0 = 0; i0 < M; i0 += SM_MR) {
                int mr = imin(SM_MR, M - i0);
                for (int k0 = 0; k0 < K; k0 += KC) {
                    vfloat acc[SM_MR];
                    small_m_rows(mr, A, i0, k0, imin(KC, K - k0), wrow, nc, acc);
                    int overwrite = !accumulate && k0 == 0;
                    for (int i = 0; i < mr; i++) {
                        float *c = Cm + (ptrdiff_t)(i0 + i) * ldc + j0;
                        float t[CPU_VL];
                        vstore(t, acc[i]);
                        if (overwrite)
                            for (int j = 0; j < nc; j++) c[j] = t[j];
                        else
                            for (int j = 0; j < nc; j++) c[j] = t[j] + c[j];
                    }
                }
                if (ep) epilogue(ep, Cm, ldc, i0, mr, j0, nc);
            }
        }
        CPU_FTZ_END
    }
}

void cpu_gemm(kb_ctx *ctx, int M, int N, int K, gemm_view A, gemm_view B, float *Cm, ptrdiff_t ldc, int accumulate,
              const gemm_epilogue *ep) {
    if (M > 0 && M <= cpu_gemm_small_rows && M <= SM_MR && N > 0 && K > 0 && B.rs == 1)
        gemm_small_m(M, N, K, A, B, Cm, ldc, accumulate, ep);
    else
        cpu_gemm_packed(ctx, M, N, K, A, B, Cm, ldc, accumulate, ep);
}
