// cpu.h — internals shared by the CPU backend's files (kernels/cpu/*.c).
//
// On this backend kb_act is float, device memory is host memory, and every op runs on the
// calling thread plus an OpenMP team. Determinism: each output element is computed by one
// thread in an order that depends only on the op's sizes, never on the thread count, so
// 1 thread and 16 threads give the same bits. Rows are also independent of the batch they
// sit in (a row's result does not depend on how many other rows were passed).
#pragma once
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/backend.h"

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

// Activation pointers are plain floats here.
#define FP(p) ((float *)(p))
#define CFP(p) ((const float *)(p))

// ---- context state --------------------------------------------------------------------------

typedef struct cpu_impl {
    void *scratch;  // per-call working memory shared by the ops (never live across calls)
    size_t scratch_bytes;
} cpu_impl;

// Returns at least `bytes` of 64-byte aligned scratch owned by the context. It grows only
// when a larger size is asked for (the first call at a new largest shape), so steady-state
// steps allocate nothing.
void *cpu_scratch(kb_ctx *ctx, size_t bytes);
// Threads an op may use now (OpenMP's current setting).
static inline int cpu_threads(void) { return omp_get_max_threads(); }
static inline size_t cpu_round64(size_t n) { return (n + 63) & ~(size_t)63; }

// ---- subnormals ---------------------------------------------------------------------------------
// Every parallel region of an op runs with flush-to-zero and denormals-are-zero set on each
// of its threads, and puts the caller's mode back at the end. Gradients scaled by 1/(B·T)
// reach the subnormal range, and x86 cores take a microcode assist per subnormal operand:
// without this a small-model training step ran 5x slower. Every thread doing op work has
// the same mode, so results still do not depend on the thread count; only values below
// 1.2e-38 change (to zero), as on the CUDA backend (--use_fast_math flushes too).
// Use: #pragma omp parallel ... { CPU_FTZ_BEGIN  #pragma omp for ...  CPU_FTZ_END }
#if defined(__SSE__)
#include <xmmintrin.h>
#define CPU_FTZ_BEGIN                           \
    unsigned int cpu_saved_csr_ = _mm_getcsr(); \
    _mm_setcsr(cpu_saved_csr_ | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
#define CPU_FTZ_END _mm_setcsr(cpu_saved_csr_);
#else
#define CPU_FTZ_BEGIN
#define CPU_FTZ_END
#endif

// ---- vectors --------------------------------------------------------------------------------
// Explicit vectors for the hot loops: the build is -O2 and ISO C (no FP contraction), so
// we spell out the vector width and the FMAs instead of hoping the compiler finds them.
#if defined(__AVX512F__)
#define CPU_VL 16
#elif defined(__AVX__)
#define CPU_VL 8
#else
#define CPU_VL 4
#endif
typedef float vfloat __attribute__((vector_size(CPU_VL * sizeof(float))));

static inline vfloat vload(const float *p) {
    vfloat v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void vstore(float *p, vfloat v) { memcpy(p, &v, sizeof v); }
static inline vfloat vbroadcast(float x) {
#if defined(__AVX512F__)
    return (vfloat)_mm512_set1_ps(x);
#elif defined(__AVX__)
    return (vfloat)_mm256_set1_ps(x);
#else
    return (vfloat){x, x, x, x};
#endif
}
// a * b + c, fused where the ISA has it.
static inline vfloat vfma(vfloat a, vfloat b, vfloat c) {
#if defined(__AVX512F__)
    return (vfloat)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__FMA__)
    return (vfloat)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}
// Lanes summed in a fixed order.
static inline float vsum(vfloat v) {
    float s = 0;
    for (int i = 0; i < CPU_VL; i++) s += v[i];
    return s;
}

// Dot product of n floats: CPU_VL lanes, then the tail, in a fixed order.
static inline float cpu_dot(const float *a, const float *b, int n) {
    vfloat acc = {0};
    int i = 0;
    for (; i + CPU_VL <= n; i += CPU_VL) acc = vfma(vload(a + i), vload(b + i), acc);
    float s = vsum(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// y[i] += a * x[i]
static inline void cpu_axpy(float *y, float a, const float *x, int n) {
    vfloat va = vbroadcast(a);
    int i = 0;
    for (; i + CPU_VL <= n; i += CPU_VL) vstore(y + i, vfma(va, vload(x + i), vload(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

// ---- register transpose -------------------------------------------------------------------------
// Transposes the CPU_VL×CPU_VL matrix whose row i is r[i], in place (r[i][l] <-> r[l][i]).
// Stage s swaps the off-diagonal s×s sub-blocks of every 2s×2s block: lane l of row i takes
// row i+s's lane l-s where bit s of l is set (and row i+s the converse); after the stages
// for every bit, row and lane indices have traded places. Used where an op needs keys or
// weight rows as columns (one vector per channel) without a scalar transposing copy.
typedef int32_t vint __attribute__((vector_size(CPU_VL * sizeof(int32_t))));
#if CPU_VL == 16
#define CPU_LANES(F, s) \
    {F(0, s), F(1, s), F(2, s), F(3, s), F(4, s), F(5, s), F(6, s), F(7, s), F(8, s), F(9, s), F(10, s), F(11, s), F(12, s), F(13, s), F(14, s), F(15, s)}
#elif CPU_VL == 8
#define CPU_LANES(F, s) {F(0, s), F(1, s), F(2, s), F(3, s), F(4, s), F(5, s), F(6, s), F(7, s)}
#else
#define CPU_LANES(F, s) {F(0, s), F(1, s), F(2, s), F(3, s)}
#endif
#define CPU_TLO(l, s) (((l) & (s)) ? CPU_VL + (l) - (s) : (l))
#define CPU_THI(l, s) (((l) & (s)) ? CPU_VL + (l) : (l) + (s))
#define CPU_TSTAGE(r, s)                                                       \
    do {                                                                       \
        const vint lo_ = CPU_LANES(CPU_TLO, s), hi_ = CPU_LANES(CPU_THI, s);   \
        _Pragma("GCC unroll 16") for (int i_ = 0; i_ < CPU_VL; i_++) {         \
            if (i_ & (s)) continue;                                            \
            vfloat a_ = r[i_], b_ = r[i_ + (s)];                               \
            r[i_] = __builtin_shuffle(a_, b_, lo_);                            \
            r[i_ + (s)] = __builtin_shuffle(a_, b_, hi_);                      \
        }                                                                      \
    } while (0)
static inline __attribute__((always_inline)) void vtranspose(vfloat r[CPU_VL]) {
    CPU_TSTAGE(r, 1);
    CPU_TSTAGE(r, 2);
#if CPU_VL >= 8
    CPU_TSTAGE(r, 4);
#endif
#if CPU_VL >= 16
    CPU_TSTAGE(r, 8);
#endif
}

// ---- elementwise math on vectors ----------------------------------------------------------------
// Written on vfloat so the hot loops stay vectorised without libm calls. The scalar forms
// run the same vector code on one lane, so a loop's tail gives the same bits as its body.

typedef uint32_t vuint __attribute__((vector_size(CPU_VL * sizeof(float))));

// mask ? a : b, lane by lane (mask lanes are all ones or all zeros, as comparisons give).
static inline vfloat vselect(vuint mask, vfloat a, vfloat b) {
    return (vfloat)((mask & (vuint)a) | (~mask & (vuint)b));
}
static inline vfloat vmax(vfloat a, vfloat b) { return vselect((vuint)(a > b), a, b); }

static inline vfloat vsqrt(vfloat x) {
#if defined(__AVX512F__)
    return (vfloat)_mm512_sqrt_ps((__m512)x);
#elif defined(__AVX__)
    return (vfloat)_mm256_sqrt_ps((__m256)x);
#else
    vfloat y;
    for (int i = 0; i < CPU_VL; i++) y[i] = sqrtf(x[i]);
    return y;
#endif
}

// exp(x) in fp32: x = n·ln2 + r with |r| <= ln2/2, e^r by the Cephes minimax polynomial
// (about 1 ulp), 2^n built in the exponent bits. Inputs below -87.9 give 0 (the true
// result is subnormal); above 88.3 they are clamped to exp(88.3). NaN stays NaN.
static inline vfloat vexp(vfloat x) {
    const vfloat lo = vbroadcast(-87.9f), hi = vbroadcast(88.3f);
    const float round_magic = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer
    vfloat xc = vselect((vuint)(x < lo), lo, vselect((vuint)(x > hi), hi, x));
    vfloat t = xc * 1.44269504088896341f + round_magic;
    vfloat n = t - round_magic;
    vfloat r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vfloat p = vbroadcast(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    // The low bits of t hold n; n + 127 in the exponent field is 2^n (n = -127 gives 0).
    vuint scale_bits = ((vuint)t - 0x4B400000u + 127u) << 23;
    vfloat y = p * (vfloat)scale_bits;
    return vselect((vuint)(x != x), x, y);
}

// tanh via exp: 1 - 2/(e^{2u}+1); saturates cleanly to ±1.
static inline vfloat vtanh(vfloat u) { return 1.0f - 2.0f / (vexp(2.0f * u) + 1.0f); }

#define CPU_GELU_K 0.7978845608028654f  // sqrt(2/pi)
#define CPU_GELU_C 0.044715f

// gelu_tanh(x) = 0.5·x·(1 + tanh(k·(x + c·x³)))
static inline vfloat vgelu(vfloat x) {
    vfloat t = vtanh(CPU_GELU_K * (x + CPU_GELU_C * x * x * x));
    return 0.5f * x * (1.0f + t);
}
// d gelu_tanh(x) / dx
static inline vfloat vgelu_grad(vfloat x) {
    vfloat t = vtanh(CPU_GELU_K * (x + CPU_GELU_C * x * x * x));
    vfloat du = CPU_GELU_K * (1.0f + 3.0f * CPU_GELU_C * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

static inline float cpu_expf(float x) { return vexp(vbroadcast(x))[0]; }
static inline float cpu_gelu(float x) { return vgelu(vbroadcast(x))[0]; }
static inline float cpu_gelu_grad(float x) { return vgelu_grad(vbroadcast(x))[0]; }

// ---- GEMM (cpu_gemm.c) ------------------------------------------------------------------------

// A strided matrix view: element (i, j) is p[i*rs + j*cs].
typedef struct gemm_view {
    const float *p;
    ptrdiff_t rs, cs;
} gemm_view;

// What happens to each finished output element x (after the full K sum) at (i, j).
typedef struct gemm_epilogue {
    const float *bias;          // x += bias[j]
    float *gelu_out;            // gelu_out[i*ldc + j] = gelu(x) (x itself stays in C)
    const float *gelu_grad_at;  // x *= gelu'(gelu_grad_at[i*ldc + j])
} gemm_epilogue;

// Cm(M,N) (row stride ldc) = [Cm +] A(M,K)·B(K,N), then the epilogue (may be NULL).
// Each element's sum runs over k in blocks of a fixed size, each block summed from zero
// and added to the element in block order: the bits depend only on K.
// A few rows against a weight stored as rows of W (B.rs == 1: decoding's matmuls) take a
// matrix-vector path that skips packing; it sums in the same order, so it gives the bits of
// the packed path.
void cpu_gemm(kb_ctx *ctx, int M, int N, int K, gemm_view A, gemm_view B, float *Cm, ptrdiff_t ldc,
              int accumulate, const gemm_epilogue *ep);
// Rows up to which cpu_gemm takes the matrix-vector path (at most 8 with AVX-512, 4
// otherwise). Only speed depends on it, never bits; benchmarks set 0 to time the packed path.
extern int cpu_gemm_small_rows;
// The packed path alone (whatever M): what cpu_gemm runs for larger M, exposed so that tests
// and benchmarks can compare the two paths.
void cpu_gemm_packed(kb_ctx *ctx, int M, int N, int K, gemm_view A, gemm_view B, float *Cm, ptrdiff_t ldc,
                     int accumulate, const gemm_epilogue *ep);

// ---- ops, by file -------------------------------------------------------------------------------

// cpu_encoder.c
void cpu_encoder_forward(kb_ctx *, kb_act *, const int32_t *, const int32_t *, const kb_act *, const kb_act *, int,
                         int, int);
void cpu_encoder_backward(kb_ctx *, float *, float *, const kb_act *, const int32_t *, int, int, int, int);
void cpu_gather_rows(kb_ctx *, kb_act *, const kb_act *, const int32_t *, int, int);
// cpu_layernorm.c
void cpu_layernorm_forward(kb_ctx *, kb_act *, float *, float *, const kb_act *, const kb_act *, const kb_act *, int,
                           int);
void cpu_residual_layernorm_forward(kb_ctx *, kb_act *, kb_act *, float *, float *, const kb_act *, const kb_act *,
                                    const kb_act *, const kb_act *, int, int);
void cpu_layernorm_backward(kb_ctx *, kb_act *, float *, float *, const kb_act *, const kb_act *, const kb_act *,
                            const float *, const float *, int, int);
void cpu_residual_forward(kb_ctx *, kb_act *, const kb_act *, const kb_act *, size_t);
// cpu_matmul.c
void cpu_matmul_forward(kb_ctx *, kb_act *, kb_act *, const kb_act *, const kb_act *, const kb_act *, int, int, int);
void cpu_matmul_backward(kb_ctx *, kb_act *, float *, float *, const kb_act *, const kb_act *, const kb_act *,
                         const kb_act *, int, int, int);
// cpu_attention.c
void cpu_attention_forward(kb_ctx *, kb_act *, float *, const kb_act *, int, int, int, int);
void cpu_attention_backward(kb_ctx *, kb_act *, const kb_act *, const kb_act *, const kb_act *, const float *, int,
                            int, int, int);
// cpu_classifier.c
void cpu_classifier(kb_ctx *, kb_act *, float *, float *, const int32_t *, const float *, float, float, int, int, int,
                    int);
// cpu_rl_loss.c
void cpu_pg_loss(kb_ctx *, kb_act *, const kb_pg_params *, const kb_pg_rows *, int, int, int, int);
void cpu_head_loss(kb_ctx *, kb_act *, float *, const kb_act *, const float *, const float *, const float *,
                   kb_head_kind, float, float, int, int, int);
// cpu_optimizer.c
void cpu_sum(kb_ctx *, float *, const float *, size_t, int);
void cpu_norm_squared(kb_ctx *, float *, const float *, size_t, int);
void cpu_adamw(kb_ctx *, float *, kb_act *, const float *, float *, float *, size_t, float, float, float, float, float,
               int, const float *, float);
void cpu_scale_f32(kb_ctx *, float *, float, size_t);
// cpu_decode.c
void cpu_kv_write(kb_ctx *, kb_act *, kb_act *, const kb_act *, const int32_t *, int, int, int, int);
void cpu_kv_copy_blocks(kb_ctx *, kb_act *, kb_act *, const int32_t *, const int32_t *, int, int, int);
void cpu_paged_attention(kb_ctx *, kb_act *, float *, const kb_act *, const kb_act *, const kb_act *, const int32_t *,
                         int, const int32_t *, const int32_t *, int, int, int, int);
void cpu_prefix_attention(kb_ctx *, kb_act *, float *, const kb_act *, const kb_act *, const kb_act *, const int32_t *,
                          int, const int32_t *, const int32_t *, const int32_t *, int, int, int, int);
void cpu_attention_merge(kb_ctx *, kb_act *, float *, const kb_act *, const float *, const kb_act *, const float *, int,
                         int, int);
void cpu_sample(kb_ctx *, int32_t *, float *, const kb_act *, const uint64_t *, const uint64_t *, int, int, int, float,
                int, float);
