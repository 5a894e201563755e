// cuda_backend.cu — the CUDA backend's lifecycle, memory and transfers, and its op table.
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_common.cuh"

// Every allocation carries its size in the context's table so kb_free can report it (per
// context: several contexts, and several models on one, never share state).
static void remember(kb_ctx *ctx, void *p, size_t bytes) {
    cuda_state *s = CS(ctx);
    if (s->nallocs == s->cap_allocs) {
        s->cap_allocs = s->cap_allocs ? 2 * s->cap_allocs : 256;
        s->allocs = (cuda_alloc_rec *)xrealloc(s->allocs, s->cap_allocs * sizeof *s->allocs);
    }
    s->allocs[s->nallocs].p = p;
    s->allocs[s->nallocs].bytes = bytes;
    s->nallocs++;
}
static size_t forget(kb_ctx *ctx, void *p) {
    cuda_state *s = CS(ctx);
    for (size_t i = 0; i < s->nallocs; i++)
        if (s->allocs[i].p == p) {
            size_t b = s->allocs[i].bytes;
            s->allocs[i] = s->allocs[--s->nallocs];
            return b;
        }
    die("kb_free: %p was not allocated by this CUDA context", p);
}

extern "C" cudaStream_t cuda_stream_of(kb_ctx *ctx) { return STREAM(ctx); }

extern "C" int kb_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

static int cu_open(kb_ctx *ctx, int device, berr *e) {
    int n = kb_cuda_device_count();
    if (n == 0) return berr_set(e, "no CUDA GPU is visible (cudaGetDeviceCount found none)");
    if (device < 0 || device >= n) return berr_set(e, "CUDA device %d requested but only %d present", device, n);
    CUDA_CHECK(cudaSetDevice(device));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    if (prop.major < 8) return berr_set(e, "GPU %s has compute capability %d.%d; berry's CUDA backend needs 8.0+ (bf16)", prop.name, prop.major, prop.minor);
    cuda_state *s = (cuda_state *)xcalloc(1, sizeof *s);
    ctx->impl = s;
    s->device = device;
    s->sm_count = prop.multiProcessorCount;
    snprintf(ctx->device_name, sizeof ctx->device_name, "%s", prop.name);
    // Dense bf16 tensor-core rate: 4096 FLOP/clock/SM on Hopper, 2048 on Ampere/Ada. The
    // H100/H200 SXM datasheet figure (989 TFLOP/s) is used where the name says so.
    int clock_khz = 0;
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device);
    double per_clk = prop.major >= 9 ? 4096.0 : 2048.0;
    ctx->peak_flops = per_clk * prop.multiProcessorCount * clock_khz * 1e3;
    if (strstr(prop.name, "H100") || strstr(prop.name, "H200")) ctx->peak_flops = strstr(prop.name, "PCIe") ? 756e12 : 989e12;
    CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasLtCreate(&s->lt));
    // Large enough for split-K on the weight-gradient GEMMs (k = B·T, few output tiles).
    s->lt_workspace_bytes = 256u << 20;
    CUDA_CHECK(cudaMalloc(&s->lt_workspace, s->lt_workspace_bytes));

    CUDA_CHECK(cudaMallocHost((void **)&s->stage, (size_t)STAGE_SLOTS * STAGE_SLOT_BYTES));
    for (int i = 0; i < STAGE_SLOTS; i++) CUDA_CHECK(cudaEventCreateWithFlags(&s->stage_ev[i], cudaEventDisableTiming));
    cuda_matmul_init(ctx);
    return 0;
}

static void cu_close(kb_ctx *ctx) {
    cuda_state *s = CS(ctx);
    if (!s) return;
    cudaStreamSynchronize(s->stream);
    cuda_matmul_shutdown(ctx);
    cuda_encoder_free(ctx);
#ifdef BERRY_CUDNN
    cuda_cudnn_attention_close(ctx);
#endif
    for (int i = 0; i < STAGE_SLOTS; i++) cudaEventDestroy(s->stage_ev[i]);
    cudaFreeHost(s->stage);
    cudaFree(s->lt_workspace);

    cudaFree(s->partials);
    cublasLtDestroy(s->lt);
    cudaStreamDestroy(s->stream);
    free(s->allocs);
    free(s);
    ctx->impl = NULL;
}

float *cuda_partials(kb_ctx *ctx, size_t n) {
    cuda_state *s = CS(ctx);
    if (n > s->partials_floats) {
        CUDA_CHECK(cudaStreamSynchronize(s->stream));
        cudaFree(s->partials);
        CUDA_CHECK(cudaMalloc(&s->partials, n * sizeof(float)));
        s->partials_floats = n;
    }
    return s->partials;
}

static void *cu_alloc(kb_ctx *ctx, size_t bytes, berr *e) {
    void *p = NULL;
    cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
    if (err != cudaSuccess) {
        cudaGetLastError();
        size_t fr = 0, tot = 0;
        cudaMemGetInfo(&fr, &tot);
        berr_set(e, "%s (GPU has %.2f GiB free of %.2f GiB)", cudaGetErrorString(err), fr / 1073741824.0, tot / 1073741824.0);
        return NULL;
    }
    remember(ctx, p, bytes);
    return p;
}

static size_t cu_free(kb_ctx *ctx, void *p) {
    CUDA_CHECK(cudaStreamSynchronize(STREAM(ctx)));
    size_t b = forget(ctx, p);
    CUDA_CHECK(cudaFree(p));
    return b;
}

static void cu_zero(kb_ctx *ctx, void *p, size_t bytes) { CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, STREAM(ctx))); }

// Small uploads go through a pinned ring so they are truly asynchronous and the caller's
// buffer is free at once; a slot is reused only after its previous copy has executed.
static void cu_upload(kb_ctx *ctx, void *dst, const void *src, size_t bytes) {
    cuda_state *s = CS(ctx);
    if (bytes == 0) return;
    if (bytes > STAGE_SLOT_BYTES) {
        CUDA_CHECK(cudaStreamSynchronize(s->stream));
        CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
        return;
    }
    int slot = s->stage_next;
    s->stage_next = (slot + 1) % STAGE_SLOTS;
    CUDA_CHECK(cudaEventSynchronize(s->stage_ev[slot]));
    char *buf = s->stage + (size_t)slot * STAGE_SLOT_BYTES;
    memcpy(buf, src, bytes);
    CUDA_CHECK(cudaMemcpyAsync(dst, buf, bytes, cudaMemcpyHostToDevice, s->stream));
    CUDA_CHECK(cudaEventRecord(s->stage_ev[slot], s->stream));
}

static void cu_download(kb_ctx *ctx, void *dst, const void *src, size_t bytes) {
    CUDA_CHECK(cudaStreamSynchronize(STREAM(ctx)));
    CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

static void cu_copy(kb_ctx *ctx, void *dst, const void *src, size_t bytes) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, STREAM(ctx)));
}

static void cu_upload_act(kb_ctx *ctx, kb_act *dst, const float *src, size_t n) {
    bf16 *h = (bf16 *)xmalloc(n * sizeof(bf16));
    for (size_t i = 0; i < n; i++) h[i] = __float2bfloat16_rn(src[i]);
    CUDA_CHECK(cudaStreamSynchronize(STREAM(ctx)));
    CUDA_CHECK(cudaMemcpy(dst, h, n * sizeof(bf16), cudaMemcpyHostToDevice));
    free(h);
}

static void cu_download_act(kb_ctx *ctx, float *dst, const kb_act *src, size_t n) {
    bf16 *h = (bf16 *)xmalloc(n * sizeof(bf16));
    cu_download(ctx, h, src, n * sizeof(bf16));
    for (size_t i = 0; i < n; i++) dst[i] = __bfloat162float(h[i]);
    free(h);
}

static void cu_sync(kb_ctx *ctx) { CUDA_CHECK(cudaStreamSynchronize(STREAM(ctx))); }

static size_t cu_mem_in_use(kb_ctx *ctx) {
    size_t fr = 0, tot = 0;
    CUDA_CHECK(cudaMemGetInfo(&fr, &tot));
    return tot - fr;
}

static void cu_resources(kb_ctx *ctx, kb_resources *r) {
    (void)ctx;
    CUDA_CHECK(cudaMemGetInfo(&r->mem_free, &r->mem_total));
    r->threads = 0;
}

static kb_ops make_ops(void) {
    kb_ops o;
    memset(&o, 0, sizeof o);
    o.name = "cuda";
    o.act_size = 2;
    o.open = cu_open;
    o.close = cu_close;
    o.alloc = cu_alloc;
    o.free = cu_free;
    o.zero = cu_zero;
    o.upload = cu_upload;
    o.download = cu_download;
    o.copy = cu_copy;
    o.upload_act = cu_upload_act;
    o.download_act = cu_download_act;
    o.f32_to_act = cuda_f32_to_act;
    o.sync = cu_sync;
    o.mem_in_use = cu_mem_in_use;
    o.resources = cu_resources;
    o.encoder_forward = cuda_encoder_forward;
    o.encoder_backward = cuda_encoder_backward;
    o.layernorm_forward = cuda_layernorm_forward;
    o.residual_layernorm_forward = cuda_residual_layernorm_forward;
    o.layernorm_backward = cuda_layernorm_backward;
    o.matmul_forward = cuda_matmul_forward;
    o.matmul_backward = cuda_matmul_backward;
    o.attention_forward = cuda_attention_forward;
    o.attention_backward = cuda_attention_backward;
    o.classifier = cuda_classifier;
    o.pg_loss = cuda_pg_loss;
    o.head_loss = cuda_head_loss;
    o.residual_forward = cuda_residual_forward;
    o.sum = cuda_sum;
    o.norm_squared = cuda_norm_squared;
    o.adamw = cuda_adamw;
    o.scale_f32 = cuda_scale_f32;
    o.gather_rows = cuda_gather_rows;
    o.kv_write = cuda_kv_write;
    o.kv_copy_blocks = cuda_kv_copy_blocks;
    o.paged_attention = cuda_paged_attention;
    o.prefix_attention = cuda_prefix_attention;
    o.attention_merge = cuda_attention_merge;
    o.sample = cuda_sample;
    o.graph_capture = cuda_graph_capture;
    o.graph_launch = cuda_graph_launch;
    o.graph_free = cuda_graph_free;
    return o;
}

extern "C" const kb_ops kb_cuda_ops = make_ops();
