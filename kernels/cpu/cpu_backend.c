// cpu_backend.c — the CPU backend's lifecycle, memory and op table.
//
// "Device" memory is host memory from aligned_alloc, 64-byte aligned (a cache line and an
// AVX-512 vector). Each block carries a 64-byte header in front holding its size, so free
// can report what it releases without a lookup table.
#include <stdlib.h>
#include <unistd.h>

#include "kernels/cpu/cpu.h"

#define CPU_HEADER 64
#define CPU_HEADER_MAGIC 0x62657272795f6370ull  // "berry_cp": catches frees of foreign pointers

// Rough fp32 peak for MFU: threads × 32 FLOP/cycle × 3 GHz. 32 FLOP/cycle is two 8-wide
// FMA pipes (AVX2 on most x86 cores; Zen 4 runs AVX-512 as two 256-bit halves), and 3 GHz
// a typical all-core clock. It is an estimate for a ratio, not a measurement.
#define CPU_FLOP_PER_CYCLE 32.0
#define CPU_CLOCK_HZ 3.0e9

static int cpu_open(kb_ctx *ctx, int device, berr *e) {
    (void)device;
    cpu_impl *im = calloc(1, sizeof *im);
    if (!im) return berr_set(e, "cpu backend: out of host memory for the context");
    ctx->impl = im;
    int threads = cpu_threads();
    snprintf(ctx->device_name, sizeof ctx->device_name, "cpu (%d thread%s)", threads, threads == 1 ? "" : "s");
    ctx->peak_flops = threads * CPU_FLOP_PER_CYCLE * CPU_CLOCK_HZ;
    return 0;
}

static void cpu_close(kb_ctx *ctx) {
    cpu_impl *im = ctx->impl;
    if (!im) return;
    free(im->scratch);
    free(im);
    ctx->impl = NULL;
}

void *cpu_scratch(kb_ctx *ctx, size_t bytes) {
    cpu_impl *im = ctx->impl;
    if (bytes <= im->scratch_bytes) return im->scratch;
    size_t n = cpu_round64(bytes);
    void *p = aligned_alloc(64, n);
    if (!p) die("cpu backend: out of host memory for %.3f MiB of op scratch space", n / 1048576.0);
    free(im->scratch);
    im->scratch = p;
    im->scratch_bytes = n;
    return p;
}

static void *cpu_alloc(kb_ctx *ctx, size_t bytes, berr *e) {
    if (bytes > SIZE_MAX - 2 * CPU_HEADER) return berr_set(e, "size %zu overflows", bytes), NULL;
    char *base = aligned_alloc(64, CPU_HEADER + cpu_round64(bytes));
    if (!base) return berr_set(e, "out of host memory"), NULL;
    uint64_t hdr[2] = {CPU_HEADER_MAGIC, bytes};
    memcpy(base, hdr, sizeof hdr);
    return base + CPU_HEADER;
}

static size_t cpu_free(kb_ctx *ctx, void *p) {
    char *base = (char *)p - CPU_HEADER;
    uint64_t hdr[2];
    memcpy(hdr, base, sizeof hdr);
    if (hdr[0] != CPU_HEADER_MAGIC) die("cpu backend: kb_free of %p, which kb_alloc did not return (or freed twice)", p);
    hdr[0] = 0;  // so a second free of the same block is caught
    memcpy(base, hdr, sizeof hdr[0]);
    free(base);
    return (size_t)hdr[1];
}

static void cpu_zero(kb_ctx *ctx, void *p, size_t bytes) { memset(p, 0, bytes); }
static void cpu_memcpy(kb_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (dst != src) memmove(dst, src, bytes);
}
static void cpu_act_from_f32(kb_ctx *ctx, kb_act *dst, const float *src, size_t n) {
    cpu_memcpy(ctx, dst, src, n * sizeof(float));
}
static void cpu_act_to_f32(kb_ctx *ctx, float *dst, const kb_act *src, size_t n) {
    cpu_memcpy(ctx, dst, src, n * sizeof(float));
}
static void cpu_sync(kb_ctx *ctx) {}

// Host memory from sysconf (available pages: free plus reclaimable as the kernel counts them;
// 0 where the system does not say) and OpenMP's thread count.
static void cpu_resources(kb_ctx *ctx, kb_resources *r) {
    (void)ctx;
    long page = sysconf(_SC_PAGESIZE), phys = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES);
    r->mem_total = page > 0 && phys > 0 ? (size_t)page * (size_t)phys : 0;
    r->mem_free = page > 0 && avail > 0 ? (size_t)page * (size_t)avail : 0;
    r->threads = cpu_threads();
}

const kb_ops kb_cpu_ops = {
    .name = "cpu",
    .act_size = sizeof(float),
    .open = cpu_open,
    .close = cpu_close,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .zero = cpu_zero,
    .upload = cpu_memcpy,
    .download = cpu_memcpy,
    .copy = cpu_memcpy,
    .upload_act = cpu_act_from_f32,
    .download_act = cpu_act_to_f32,
    .f32_to_act = cpu_act_from_f32,
    .sync = cpu_sync,
    .resources = cpu_resources,
    .encoder_forward = cpu_encoder_forward,
    .encoder_backward = cpu_encoder_backward,
    .layernorm_forward = cpu_layernorm_forward,
    .residual_layernorm_forward = cpu_residual_layernorm_forward,
    .layernorm_backward = cpu_layernorm_backward,
    .matmul_forward = cpu_matmul_forward,
    .matmul_backward = cpu_matmul_backward,
    .attention_forward = cpu_attention_forward,
    .attention_backward = cpu_attention_backward,
    .classifier = cpu_classifier,
    .pg_loss = cpu_pg_loss,
    .head_loss = cpu_head_loss,
    .residual_forward = cpu_residual_forward,
    .sum = cpu_sum,
    .norm_squared = cpu_norm_squared,
    .adamw = cpu_adamw,
    .scale_f32 = cpu_scale_f32,
    .gather_rows = cpu_gather_rows,
    .kv_write = cpu_kv_write,
    .kv_copy_blocks = cpu_kv_copy_blocks,
    .paged_attention = cpu_paged_attention,
    .prefix_attention = cpu_prefix_attention,
    .attention_merge = cpu_attention_merge,
    .sample = cpu_sample,
};
