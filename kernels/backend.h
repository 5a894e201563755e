// backend.h — what a backend provides behind kernels.h (internal to kernels/).
//
// dispatch.c implements the public kb_* calls: it charges FLOPs/bytes to the counters,
// brackets ops with timing while profiling, and forwards to the backend's table. A backend
// implements each entry with exactly the public signature and semantics.
#pragma once
#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kb_ops {
    const char *name;
    size_t act_size;
    // lifecycle and memory
    int (*open)(kb_ctx *ctx, int device, berr *e);  // fills ctx->impl, device_name, peak_flops
    void (*close)(kb_ctx *ctx);
    void *(*alloc)(kb_ctx *ctx, size_t bytes, berr *e);
    size_t (*free)(kb_ctx *ctx, void *p);  // returns the size that was allocated
    void (*zero)(kb_ctx *ctx, void *p, size_t bytes);
    void (*upload)(kb_ctx *ctx, void *dst, const void *src, size_t bytes);
    void (*download)(kb_ctx *ctx, void *dst, const void *src, size_t bytes);
    void (*copy)(kb_ctx *ctx, void *dst, const void *src, size_t bytes);
    void (*upload_act)(kb_ctx *ctx, kb_act *dst, const float *src, size_t n);
    void (*download_act)(kb_ctx *ctx, float *dst, const kb_act *src, size_t n);
    void (*f32_to_act)(kb_ctx *ctx, kb_act *dst, const float *src, size_t n);
    void (*sync)(kb_ctx *ctx);
    size_t (*mem_in_use)(kb_ctx *ctx);  // optional
    void (*resources)(kb_ctx *ctx, kb_resources *r);  // optional (zeros when absent)
    // ops
    void (*encoder_forward)(kb_ctx *, kb_act *, const int32_t *, const int32_t *, const kb_act *, const kb_act *,
                            int, int, int);
    void (*encoder_backward)(kb_ctx *, float *, float *, const kb_act *, const int32_t *, int, int, int, int);
    void (*layernorm_forward)(kb_ctx *, kb_act *, float *, float *, const kb_act *, const kb_act *, const kb_act *,
                              int, int);
    void (*residual_layernorm_forward)(kb_ctx *, kb_act *, kb_act *, float *, float *, const kb_act *,
                                       const kb_act *, const kb_act *, const kb_act *, int, int);
    void (*layernorm_backward)(kb_ctx *, kb_act *, float *, float *, const kb_act *, const kb_act *,
                               const kb_act *, const float *, const float *, int, int);
    void (*matmul_forward)(kb_ctx *, kb_act *, kb_act *, const kb_act *, const kb_act *, const kb_act *, int, int,
                           int);
    void (*matmul_backward)(kb_ctx *, kb_act *, float *, float *, const kb_act *, const kb_act *, const kb_act *,
                            const kb_act *, int, int, int);
    void (*attention_forward)(kb_ctx *, kb_act *, float *, const kb_act *, int, int, int, int);
    void (*attention_backward)(kb_ctx *, kb_act *, const kb_act *, const kb_act *, const kb_act *, const float *,
                               int, int, int, int);
    void (*classifier)(kb_ctx *, kb_act *, float *, float *, const int32_t *, const float *, float, float, int, int,
                       int, int);
    void (*pg_loss)(kb_ctx *, kb_act *, const kb_pg_params *, const kb_pg_rows *, int, int, int, int);
    void (*head_loss)(kb_ctx *, kb_act *, float *, const kb_act *, const float *, const float *, const float *,
                      kb_head_kind, float, float, int, int, int);
    void (*residual_forward)(kb_ctx *, kb_act *, const kb_act *, const kb_act *, size_t);
    void (*sum)(kb_ctx *, float *, const float *, size_t, int);
    void (*norm_squared)(kb_ctx *, float *, const float *, size_t, int);
    void (*adamw)(kb_ctx *, float *, kb_act *, const float *, float *, float *, size_t, float, float, float, float,
                  float, int, const float *, float);
    void (*scale_f32)(kb_ctx *, float *, float, size_t);
    void (*gather_rows)(kb_ctx *, kb_act *, const kb_act *, const int32_t *, int, int);
    // decoding (rollout)
    void (*kv_write)(kb_ctx *, kb_act *, kb_act *, const kb_act *, const int32_t *, int, int, int, int);
    void (*kv_copy_blocks)(kb_ctx *, kb_act *, kb_act *, const int32_t *, const int32_t *, int, int, int);
    void (*paged_attention)(kb_ctx *, kb_act *, float *, const kb_act *, const kb_act *, const kb_act *,
                            const int32_t *, int, const int32_t *, const int32_t *, int, int, int, int);
    void (*prefix_attention)(kb_ctx *, kb_act *, float *, const kb_act *, const kb_act *, const kb_act *,
                             const int32_t *, int, const int32_t *, const int32_t *, const int32_t *, int, int, int,
                             int);
    void (*attention_merge)(kb_ctx *, kb_act *, float *, const kb_act *, const float *, const kb_act *,
                            const float *, int, int, int);
    void (*sample)(kb_ctx *, int32_t *, float *, const kb_act *, const uint64_t *, const uint64_t *, int, int, int,
                   float, int, float);
    // graphs (optional: without them, capture records fn and a launch calls it again)
    void *(*graph_capture)(kb_ctx *, void (*)(void *), void *);
    void (*graph_launch)(kb_ctx *, void *);
    void (*graph_free)(kb_ctx *, void *);
} kb_ops;

struct kb_ctx {
    const kb_ops *ops;
    kb_backend backend;
    void *impl;  // backend-private state
    char device_name[128];
    double peak_flops;
    size_t bytes_allocated, peak_bytes;
    // counters
    int nstages, stage;
    char stage_names[KB_MAX_STAGES][KB_STAGE_NAME];
    kb_counts counts[KB_MAX_STAGES];
    int profiling;
    int dry_run;
};

extern const kb_ops kb_cpu_ops;
extern const kb_ops kb_cuda_ops;  // defined by kernels/cuda, or by cuda_absent.c without nvcc
int kb_cuda_device_count(void);   // 0 when no usable GPU or no CUDA build

#ifdef __cplusplus
}
#endif
