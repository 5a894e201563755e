// cuda_common.cuh — shared by the CUDA backend's files: error checks, bf16 helpers, the
// backend's private context state, and the entry points each file provides to the op table.
#pragma once
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/backend.h"

typedef __nv_bfloat16 bf16;

#define CUDA_CHECK(call)                                                                          \
    do {                                                                                          \
        cudaError_t err_ = (call);                                                                \
        if (err_ != cudaSuccess) die("CUDA error at %s:%d: %s (%s)", __FILE__, __LINE__,          \
                                     cudaGetErrorString(err_), #call);                            \
    } while (0)
#define CUBLAS_CHECK(call)                                                                        \
    do {                                                                                          \
        cublasStatus_t st_ = (call);                                                              \
        if (st_ != CUBLAS_STATUS_SUCCESS) die("cuBLASLt error %d at %s:%d (%s)", (int)st_,         \
                                              __FILE__, __LINE__, #call);                         \
    } while (0)
// After a launch: catches bad configurations at once (asynchronous faults surface at the
// next sync, which names the op when profiling).
#define LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())

#define STAGE_SLOTS 16
#define STAGE_SLOT_BYTES (2u << 20)

typedef struct cuda_alloc_rec {
    void *p;
    size_t bytes;
} cuda_alloc_rec;

typedef struct cuda_state {
    int device;
    cuda_alloc_rec *allocs;  // live allocations (kb_free reports their size)
    size_t nallocs, cap_allocs;
    void *mm;                // the matmul plans (cuda_matmul.cu)
    int sm_count;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *lt_workspace;
    size_t lt_workspace_bytes;
    // pinned staging ring for asynchronous small uploads
    char *stage;
    cudaEvent_t stage_ev[STAGE_SLOTS];
    int stage_next;
    // device scratch for deterministic reductions (grown only at start-up sizes)
    float *partials;
    size_t partials_floats;
    // encoder backward: radix-sort workspace
    void *sort_tmp;
    size_t sort_tmp_bytes;
    int32_t *sort_buf;  // keys in, keys out, values in, values out: 4 * sort_cap ints
    int sort_cap;
} cuda_state;

static inline cuda_state *CS(kb_ctx *ctx) { return (cuda_state *)ctx->impl; }
static inline cudaStream_t STREAM(kb_ctx *ctx) { return CS(ctx)->stream; }

// Device-side scratch of at least n floats for reductions (allocated once, on first use at
// the sizes the run uses; the model's first step triggers it, before timing starts).
float *cuda_partials(kb_ctx *ctx, size_t n);

static inline unsigned cdiv(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }

// ---- entry points (one file each) ---------------------------------------------------------------
void cuda_matmul_init(kb_ctx *ctx);
void cuda_matmul_shutdown(kb_ctx *ctx);
void cuda_matmul_forward(kb_ctx *, kb_act *, kb_act *, const kb_act *, const kb_act *, const kb_act *, int, int, int);
void cuda_matmul_backward(kb_ctx *, kb_act *, float *, float *, const kb_act *, const kb_act *, const kb_act *,
                          const kb_act *, int, int, int);
void cuda_attention_forward(kb_ctx *, kb_act *, float *, const kb_act *, int, int, int, int);
void cuda_attention_backward(kb_ctx *, kb_act *, const kb_act *, const kb_act *, const kb_act *, const float *, int,
                             int, int, int);
void cuda_layernorm_forward(kb_ctx *, kb_act *, float *, float *, const kb_act *, const kb_act *, const kb_act *, int,
                            int);
void cuda_residual_layernorm_forward(kb_ctx *, kb_act *, kb_act *, float *, float *, const kb_act *, const kb_act *,
                                     const kb_act *, const kb_act *, int, int);
void cuda_layernorm_backward(kb_ctx *, kb_act *, float *, float *, const kb_act *, const kb_act *, const kb_act *,
                             const float *, const float *, int, int);
void cuda_classifier(kb_ctx *, kb_act *, float *, float *, const int32_t *, const float *, float, float, int, int, int,
                     int);
void cuda_pg_loss(kb_ctx *, kb_act *, const kb_pg_params *, const kb_pg_rows *, int, int, int, int);
void cuda_head_loss(kb_ctx *, kb_act *, float *, const kb_act *, const float *, const float *, const float *,
                    kb_head_kind, float, float, int, int, int);
void cuda_encoder_forward(kb_ctx *, kb_act *, const int32_t *, const int32_t *, const kb_act *, const kb_act *, int,
                          int, int);
void cuda_encoder_backward(kb_ctx *, float *, float *, const kb_act *, const int32_t *, int, int, int, int);
void cuda_residual_forward(kb_ctx *, kb_act *, const kb_act *, const kb_act *, size_t);
void cuda_sum(kb_ctx *, float *, const float *, size_t, int);
void cuda_norm_squared(kb_ctx *, float *, const float *, size_t, int);
void cuda_adamw(kb_ctx *, float *, kb_act *, const float *, float *, float *, size_t, float, float, float, float, float,
                int, const float *, float);
void cuda_scale_f32(kb_ctx *, float *, float, size_t);
void cuda_gather_rows(kb_ctx *, kb_act *, const kb_act *, const int32_t *, int, int);
void cuda_f32_to_act(kb_ctx *, kb_act *, const float *, size_t);
void cuda_encoder_free(kb_ctx *ctx);
#ifdef BERRY_CUDNN
extern "C" int cuda_cudnn_attention_forward(kb_ctx *, kb_act *, float *, const kb_act *, int, int, int, int);
extern "C" int cuda_cudnn_attention_backward(kb_ctx *, kb_act *, const kb_act *, const kb_act *, const kb_act *,
                                             const float *, int, int, int, int);
extern "C" void cuda_cudnn_attention_close(kb_ctx *);
#endif
void cuda_kv_write(kb_ctx *, kb_act *, kb_act *, const kb_act *, const int32_t *, int, int, int, int);
void cuda_kv_copy_blocks(kb_ctx *, kb_act *, kb_act *, const int32_t *, const int32_t *, int, int, int);
void cuda_paged_attention(kb_ctx *, kb_act *, float *, const kb_act *, const kb_act *, const kb_act *, const int32_t *,
                          int, const int32_t *, const int32_t *, int, int, int, int);
void cuda_prefix_attention(kb_ctx *, kb_act *, float *, const kb_act *, const kb_act *, const kb_act *, const int32_t *,
                           int, const int32_t *, const int32_t *, const int32_t *, int, int, int, int);
void cuda_attention_merge(kb_ctx *, kb_act *, float *, const kb_act *, const float *, const kb_act *, const float *, int,
                          int, int);
void cuda_sample(kb_ctx *, int32_t *, float *, const kb_act *, const uint64_t *, const uint64_t *, int, int, int, float,
                 int, float);
void *cuda_graph_capture(kb_ctx *, void (*)(void *), void *);
void cuda_graph_launch(kb_ctx *, void *);
void cuda_graph_free(kb_ctx *, void *);

// ---- small device helpers ------------------------------------------------------------------------
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// 16-byte vector of 8 bf16
struct __align__(16) bf16x8 {
    __nv_bfloat162 h[4];
};
__device__ __forceinline__ void load8(const bf16 *p, float *f) {
    bf16x8 v = *(const bf16x8 *)p;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 t = __bfloat1622float2(v.h[i]);
        f[2 * i] = t.x;
        f[2 * i + 1] = t.y;
    }
}
__device__ __forceinline__ void store8(bf16 *p, const float *f) {
    bf16x8 v;
#pragma unroll
    for (int i = 0; i < 4; i++) v.h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
    *(bf16x8 *)p = v;
}

// GELU, tanh approximation (as GPT-2), and its derivative.
__device__ __forceinline__ float gelu_f(float x) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    float u = k * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + tanhf(u));
}
__device__ __forceinline__ float gelu_grad_f(float x) {
    const float k = 0.7978845608028654f;
    float x2 = x * x;
    float u = k * (x + 0.044715f * x2 * x);
    float t = tanhf(u);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * x2);
}
