// dispatch.c — the public kb_* calls: count, (optionally) time, forward to the backend.
//
// FLOPs are model FLOPs: what the op computes mathematically (2 per multiply-add), not
// work a kernel repeats internally (flash-attention's recomputation of scores in backward is
// not counted), which is the convention MFU is defined by. Bytes are minimum traffic.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"

static size_t AS(const kb_ctx *c) { return c->ops->act_size; }

kb_backend kb_default_backend(void) { return kb_cuda_device_count() > 0 ? KB_CUDA : KB_CPU; }

kb_ctx *kb_open(kb_backend backend, int device, berr *e) {
    kb_ctx *ctx = xcalloc(1, sizeof *ctx);
    ctx->backend = backend;
    ctx->ops = backend == KB_CUDA ? &kb_cuda_ops : &kb_cpu_ops;
    if (ctx->ops->open(ctx, device, e)) {
        free(ctx);
        return NULL;
    }
    kb_set_stage(ctx, "default");
    return ctx;
}

void kb_close(kb_ctx *ctx) {
    if (!ctx) return;
    ctx->ops->close(ctx);
    free(ctx);
}

kb_backend kb_backend_of(const kb_ctx *ctx) { return ctx->backend; }
const char *kb_backend_name(const kb_ctx *ctx) { return ctx->ops->name; }
const char *kb_device_name(const kb_ctx *ctx) { return ctx->device_name; }
size_t kb_act_size(const kb_ctx *ctx) { return ctx->ops->act_size; }
double kb_peak_flops(const kb_ctx *ctx) { return ctx->peak_flops; }
kb_act *kb_at(const kb_ctx *ctx, const kb_act *base, size_t i) { return (kb_act *)((char *)base + i * AS(ctx)); }

// ---- memory ---------------------------------------------------------------------------------

void *kb_alloc(kb_ctx *ctx, size_t bytes) {
    berr e = {{0}};
    void *p = ctx->ops->alloc(ctx, bytes, &e);
    if (!p)
        die("%s: cannot allocate %.3f GiB of device memory (%.3f GiB already allocated): %s", ctx->ops->name,
            bytes / 1073741824.0, ctx->bytes_allocated / 1073741824.0, e.msg);
    ctx->bytes_allocated += bytes;
    if (ctx->bytes_allocated > ctx->peak_bytes) ctx->peak_bytes = ctx->bytes_allocated;
    return p;
}

void kb_free(kb_ctx *ctx, void *p) {
    if (p) ctx->bytes_allocated -= ctx->ops->free(ctx, p);
}
size_t kb_bytes_allocated(const kb_ctx *ctx) { return ctx->bytes_allocated; }
size_t kb_peak_bytes(const kb_ctx *ctx) { return ctx->peak_bytes; }
size_t kb_device_mem_in_use(kb_ctx *ctx) { return ctx->ops->mem_in_use ? ctx->ops->mem_in_use(ctx) : 0; }
void kb_device_resources(kb_ctx *ctx, kb_resources *r) {
    memset(r, 0, sizeof *r);
    if (ctx->ops->resources) ctx->ops->resources(ctx, r);
}

void kb_zero(kb_ctx *ctx, void *p, size_t bytes) { ctx->ops->zero(ctx, p, bytes); }
void kb_upload(kb_ctx *ctx, void *dst, const void *src, size_t bytes) { ctx->ops->upload(ctx, dst, src, bytes); }
void kb_download(kb_ctx *ctx, void *dst, const void *src, size_t bytes) { ctx->ops->download(ctx, dst, src, bytes); }
void kb_copy(kb_ctx *ctx, void *dst, const void *src, size_t bytes) { ctx->ops->copy(ctx, dst, src, bytes); }
void kb_upload_act(kb_ctx *ctx, kb_act *dst, const float *src, size_t n) { ctx->ops->upload_act(ctx, dst, src, n); }
void kb_download_act(kb_ctx *ctx, float *dst, const kb_act *src, size_t n) { ctx->ops->download_act(ctx, dst, src, n); }
void kb_sync(kb_ctx *ctx) { ctx->ops->sync(ctx); }

// ---- counters -------------------------------------------------------------------------------

static const char *class_names[KB_NCLASSES] = {"matmul", "attention", "norm", "classifier", "optimizer", "other"};
static const char *phase_names[KB_NPHASES] = {"fwd", "bwd", "opt"};
const char *kb_class_name(kb_op_class c) { return class_names[c]; }
const char *kb_phase_name(kb_phase p) { return phase_names[p]; }

void kb_set_stage(kb_ctx *ctx, const char *stage) {
    for (int i = 0; i < ctx->nstages; i++)
        if (strcmp(ctx->stage_names[i], stage) == 0) {
            ctx->stage = i;
            return;
        }
    if (ctx->nstages == KB_MAX_STAGES) die("kb_set_stage: more than %d stage names", KB_MAX_STAGES);
    if (strlen(stage) >= KB_STAGE_NAME) die("kb_set_stage: stage name '%s' is too long", stage);
    strcpy(ctx->stage_names[ctx->nstages], stage);
    ctx->stage = ctx->nstages++;
}

const kb_counts *kb_counts_of(const kb_ctx *ctx, const char *stage) {
    for (int i = 0; i < ctx->nstages; i++)
        if (strcmp(ctx->stage_names[i], stage) == 0) return &ctx->counts[i];
    return NULL;
}

void kb_counts_reset(kb_ctx *ctx) { memset(ctx->counts, 0, sizeof ctx->counts); }

double kb_counts_total_flops(const kb_counts *c) {
    double t = 0;
    for (int p = 0; p < KB_NPHASES; p++)
        for (int k = 0; k < KB_NCLASSES; k++) t += c->flops[p][k];
    return t;
}

void kb_counts_json(const kb_ctx *ctx, FILE *f) {
    fputc('{', f);
    for (int s = 0; s < ctx->nstages; s++) {
        const kb_counts *c = &ctx->counts[s];
        fprintf(f, "%s\"%s\":{", s ? "," : "", ctx->stage_names[s]);
        for (int p = 0; p < KB_NPHASES; p++) {
            fprintf(f, "%s\"%s\":{", p ? "," : "", phase_names[p]);
            for (int k = 0; k < KB_NCLASSES; k++)
                fprintf(f, "%s\"%s\":{\"flops\":%.17g,\"bytes\":%.17g,\"calls\":%llu}", k ? "," : "",
                        class_names[k], c->flops[p][k], c->bytes[p][k], (unsigned long long)c->calls[p][k]);
            fputc('}', f);
        }
        fputc('}', f);
    }
    fputc('}', f);
}

void kb_set_profiling(kb_ctx *ctx, int on) { ctx->profiling = on; }
void kb_set_dry_run(kb_ctx *ctx, int on) { ctx->dry_run = on; }

// Charges an op and runs it; with profiling on, brackets it with syncs to time it alone.
#define RUN(ctx, phase, cls, FL_, BY_, call)                                  \
    do {                                                                          \
        kb_counts *c_ = &(ctx)->counts[(ctx)->stage];                             \
        double t0_ = 0;                                                           \
        if ((ctx)->profiling) {                                                   \
            (ctx)->ops->sync(ctx);                                                \
            t0_ = now_sec();                                                      \
        }                                                                         \
        if (!(ctx)->dry_run) call;                                                \
        if ((ctx)->profiling) {                                                   \
            (ctx)->ops->sync(ctx);                                                \
            c_->seconds[phase][cls] += now_sec() - t0_;                           \
        }                                                                         \
        c_->flops[phase][cls] += (FL_);                                           \
        c_->bytes[phase][cls] += (BY_);                                           \
        c_->calls[phase][cls] += 1;                                               \
    } while (0)

void kb_f32_to_act(kb_ctx *ctx, kb_act *dst, const float *src, size_t n) {
    RUN(ctx, KB_FWD, KB_OTHER, 0, (double)n * (4 + AS(ctx)), ctx->ops->f32_to_act(ctx, dst, src, n));
}

// ---- GPT-2 ops ------------------------------------------------------------------------------

void kb_encoder_forward(kb_ctx *ctx, kb_act *out, const int32_t *tokens, const int32_t *positions, const kb_act *wte,
                        const kb_act *wpe, int N, int T, int C) {
    double nc = (double)N * C;
    RUN(ctx, KB_FWD, KB_OTHER, nc, 3 * nc * AS(ctx) + N * 4.0 * (positions ? 2 : 1),
        ctx->ops->encoder_forward(ctx, out, tokens, positions, wte, wpe, N, T, C));
}

void kb_encoder_backward(kb_ctx *ctx, float *dwte, float *dwpe, const kb_act *dout, const int32_t *tokens, int N,
                         int T, int C, int V) {
    double nc = (double)N * C;
    RUN(ctx, KB_BWD, KB_OTHER, 2 * nc, nc * AS(ctx) + 4.0 * N + 8.0 * nc + 8.0 * T * C,
        ctx->ops->encoder_backward(ctx, dwte, dwpe, dout, tokens, N, T, C, V));
}

void kb_layernorm_forward(kb_ctx *ctx, kb_act *out, float *mean, float *rstd, const kb_act *inp, const kb_act *w,
                          const kb_act *b, int N, int C) {
    double nc = (double)N * C;
    RUN(ctx, KB_FWD, KB_NORM, 7 * nc, (2 * nc + 2.0 * C) * AS(ctx) + (mean ? 8.0 * N : 0),
        ctx->ops->layernorm_forward(ctx, out, mean, rstd, inp, w, b, N, C));
}

void kb_residual_layernorm_forward(kb_ctx *ctx, kb_act *resid_out, kb_act *out, float *mean, float *rstd,
                                   const kb_act *a, const kb_act *b, const kb_act *w, const kb_act *bias, int N,
                                   int C) {
    double nc = (double)N * C;
    RUN(ctx, KB_FWD, KB_NORM, 8 * nc, (4 * nc + 2.0 * C) * AS(ctx) + (mean ? 8.0 * N : 0),
        ctx->ops->residual_layernorm_forward(ctx, resid_out, out, mean, rstd, a, b, w, bias, N, C));
}

void kb_layernorm_backward(kb_ctx *ctx, kb_act *dinp, float *dw, float *db, const kb_act *dout, const kb_act *inp,
                           const kb_act *w, const float *mean, const float *rstd, int N, int C) {
    double nc = (double)N * C;
    RUN(ctx, KB_BWD, KB_NORM, 14 * nc, (4 * nc + C) * AS(ctx) + 8.0 * N + 16.0 * C,
        ctx->ops->layernorm_backward(ctx, dinp, dw, db, dout, inp, w, mean, rstd, N, C));
}

void kb_matmul_forward(kb_ctx *ctx, kb_act *out, kb_act *pre_gelu, const kb_act *inp, const kb_act *w,
                       const kb_act *bias, int N, int C, int OC) {
    double mm = 2.0 * N * C * OC, no = (double)N * OC;
    double flops = mm + (bias ? no : 0) + (pre_gelu ? 8 * no : 0);
    double bytes = ((double)N * C + (double)OC * C + (bias ? OC : 0) + no * (pre_gelu ? 2 : 1)) * AS(ctx);
    RUN(ctx, KB_FWD, KB_MATMUL, flops, bytes,
        ctx->ops->matmul_forward(ctx, out, pre_gelu, inp, w, bias, N, C, OC));
}

void kb_matmul_backward(kb_ctx *ctx, kb_act *dinp, float *dw, float *db, const kb_act *dout, const kb_act *inp,
                        const kb_act *w, const kb_act *gelu_in, int N, int C, int OC) {
    double mm = 2.0 * N * C * OC, nc = (double)N * C, no = (double)N * OC;
    double flops = mm + (dinp ? mm : 0) + (db ? no : 0) + (dinp && gelu_in ? 10 * nc : 0);
    double bytes = (no + nc + (double)OC * C) * AS(ctx) + 8.0 * OC * C + (db ? 8.0 * OC : 0) +
                   (dinp ? nc * AS(ctx) * (gelu_in ? 2 : 1) : 0);
    RUN(ctx, KB_BWD, KB_MATMUL, flops, bytes,
        ctx->ops->matmul_backward(ctx, dinp, dw, db, dout, inp, w, gelu_in, N, C, OC));
}

// Causal: each head of each sequence scores T(T+1)/2 (query, key) pairs; forward does two
// matmuls over them (QKᵀ, PV), backward four (dV, dP, dQ, dK).
static double attn_pairs(int B, int T, int NH) { return (double)B * NH * T * (T + 1.0) / 2.0; }

void kb_attention_forward(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, int B, int T, int C, int NH) {
    double hs = (double)C / NH, btc = (double)B * T * C;
    RUN(ctx, KB_FWD, KB_ATTENTION, 4.0 * attn_pairs(B, T, NH) * hs, 4 * btc * AS(ctx) + 4.0 * B * NH * T,
        ctx->ops->attention_forward(ctx, out, lse, qkv, B, T, C, NH));
}

void kb_attention_backward(kb_ctx *ctx, kb_act *dqkv, const kb_act *dout, const kb_act *qkv, const kb_act *out,
                           const float *lse, int B, int T, int C, int NH) {
    double hs = (double)C / NH, btc = (double)B * T * C;
    RUN(ctx, KB_BWD, KB_ATTENTION, 8.0 * attn_pairs(B, T, NH) * hs, 8 * btc * AS(ctx) + 4.0 * B * NH * T,
        ctx->ops->attention_backward(ctx, dqkv, dout, qkv, out, lse, B, T, C, NH));
}

// Adds counts without running anything (the forward part of a fused forward+backward op).
static void charge(kb_ctx *ctx, kb_phase phase, kb_op_class cls, double flops, double bytes) {
    kb_counts *c = &ctx->counts[ctx->stage];
    c->flops[phase][cls] += flops;
    c->bytes[phase][cls] += bytes;
}

// The classifier's forward (softmax, loss: 5 FLOPs a logit) is charged as forward even when
// its gradient is fused into the same pass (2 more FLOPs a logit, charged as backward), so a
// stage's forward:backward ratio means what it says.
void kb_classifier(kb_ctx *ctx, kb_act *logits, float *nll, float *entropy, const int32_t *targets,
                   const float *row_scale, float dscale, float inv_temp, int N, int V, int Vp, int want_grad) {
    double nv = (double)N * V, rd = (double)N * Vp * AS(ctx);
    double bytes = rd + 8.0 * N + (entropy ? 4.0 * N : 0);
    if (want_grad) charge(ctx, KB_FWD, KB_CLASSIFIER, 5 * nv, bytes);
    RUN(ctx, want_grad ? KB_BWD : KB_FWD, KB_CLASSIFIER, want_grad ? 2 * nv : 5 * nv, want_grad ? rd : bytes,
        ctx->ops->classifier(ctx, logits, nll, entropy, targets, row_scale, dscale, inv_temp, N, V, Vp,
                             want_grad));
}

void kb_pg_loss(kb_ctx *ctx, kb_act *logits, const kb_pg_params *p, const kb_pg_rows *rows, int N, int V, int Vp,
                int want_grad) {
    double nv = (double)N * V, rd = (double)N * Vp * AS(ctx), bytes = rd + 4.0 * N * 10;
    // As kb_classifier: the forward part (6 FLOPs a logit with the entropy) is forward, the
    // fused gradient (4 more) backward.
    if (want_grad) charge(ctx, KB_FWD, KB_CLASSIFIER, 6 * nv, bytes);
    RUN(ctx, want_grad ? KB_BWD : KB_FWD, KB_CLASSIFIER, want_grad ? 4 * nv : 6 * nv, want_grad ? rd : bytes,
        ctx->ops->pg_loss(ctx, logits, p, rows, N, V, Vp, want_grad));
}

void kb_head_loss(kb_ctx *ctx, kb_act *dheads, float *loss, const kb_act *heads, const float *labels,
                  const float *weight, const float *old, kb_head_kind kind, float clip, float dscale, int N, int H,
                  int h) {
    if (h < 0 || h >= H) die("kb_head_loss: head %d of %d", h, H);
    double bytes = (double)N * H * AS(ctx) * (dheads ? 2 : 1) + 4.0 * N * (3 + (old != NULL) + (loss != NULL));
    RUN(ctx, dheads ? KB_BWD : KB_FWD, KB_CLASSIFIER, 8.0 * N, bytes,
        ctx->ops->head_loss(ctx, dheads, loss, heads, labels, weight, old, kind, clip, dscale, N, H, h));
}

void kb_residual_forward(kb_ctx *ctx, kb_act *out, const kb_act *a, const kb_act *b, size_t n) {
    RUN(ctx, KB_FWD, KB_OTHER, (double)n, 3.0 * n * AS(ctx), ctx->ops->residual_forward(ctx, out, a, b, n));
}

void kb_sum(kb_ctx *ctx, float *out, const float *x, size_t n, int accumulate) {
    RUN(ctx, KB_FWD, KB_OTHER, (double)n, 4.0 * n, ctx->ops->sum(ctx, out, x, n, accumulate));
}

void kb_norm_squared(kb_ctx *ctx, float *out, const float *g, size_t n, int accumulate) {
    RUN(ctx, KB_OPT, KB_OPTIMIZER, 2.0 * n, 4.0 * n, ctx->ops->norm_squared(ctx, out, g, n, accumulate));
}

void kb_adamw(kb_ctx *ctx, float *params, kb_act *params_act, const float *grads, float *m, float *v, size_t n,
              float lr, float beta1, float beta2, float eps, float weight_decay, int t, const float *norm_sq,
              float clip) {
    double w = (params_act && (void *)params_act != (void *)params) ? AS(ctx) : 0;
    RUN(ctx, KB_OPT, KB_OPTIMIZER, 14.0 * n, n * (16.0 + 12.0 + w),
        ctx->ops->adamw(ctx, params, params_act, grads, m, v, n, lr, beta1, beta2, eps, weight_decay, t, norm_sq,
                        clip));
}

void kb_scale_f32(kb_ctx *ctx, float *x, float s, size_t n) {
    RUN(ctx, KB_OPT, KB_OTHER, (double)n, 8.0 * n, ctx->ops->scale_f32(ctx, x, s, n));
}

void kb_gather_rows(kb_ctx *ctx, kb_act *out, const kb_act *inp, const int32_t *rows, int N, int C) {
    RUN(ctx, KB_FWD, KB_OTHER, 0, 2.0 * N * C * AS(ctx) + 4.0 * N,
        ctx->ops->gather_rows(ctx, out, inp, rows, N, C));
}

// ---- decoding ------------------------------------------------------------------------------------

void kb_kv_write(kb_ctx *ctx, kb_act *kpool, kb_act *vpool, const kb_act *qkv, const int32_t *slots, int N, int C,
                 int NH, int bs) {
    RUN(ctx, KB_FWD, KB_OTHER, 0, 4.0 * N * C * AS(ctx) + 4.0 * N,
        ctx->ops->kv_write(ctx, kpool, vpool, qkv, slots, N, C, NH, bs));
}

void kb_kv_copy_blocks(kb_ctx *ctx, kb_act *kpool, kb_act *vpool, const int32_t *src, const int32_t *dst, int n, int C,
                       int bs) {
    RUN(ctx, KB_FWD, KB_OTHER, 0, 4.0 * n * C * bs * AS(ctx) + 8.0 * n,
        ctx->ops->kv_copy_blocks(ctx, kpool, vpool, src, dst, n, C, bs));
}

void kb_paged_attention(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, const kb_act *kpool,
                        const kb_act *vpool, const int32_t *block_table, int max_blocks, const int32_t *kv_start,
                        const int32_t *kv_end, int N, int C, int NH, int bs, int64_t total_keys) {
    // QKᵀ and PV over each row's keys: 4·keys·C; bytes: the keys' K and V once per row.
    double keys = (double)total_keys;
    RUN(ctx, KB_FWD, KB_ATTENTION, 4.0 * keys * C, (2.0 * keys * C + 2.0 * N * C) * AS(ctx) + 4.0 * N * NH,
        ctx->ops->paged_attention(ctx, out, lse, qkv, kpool, vpool, block_table, max_blocks, kv_start, kv_end, N, C,
                                  NH, bs));
}

void kb_prefix_attention(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, const kb_act *kpool,
                         const kb_act *vpool, const int32_t *prefix_table, int max_blocks, const int32_t *prefix_len,
                         const int32_t *row_off, const int32_t *rows, int G, int C, int NH, int bs,
                         int64_t total_keys) {
    // FLOPs as if each row attended alone; bytes count the shared prefix once per group,
    // which the caller cannot know without the lengths: charge the row side only.
    double keys = (double)total_keys;
    RUN(ctx, KB_FWD, KB_ATTENTION, 4.0 * keys * C, 0,
        ctx->ops->prefix_attention(ctx, out, lse, qkv, kpool, vpool, prefix_table, max_blocks, prefix_len, row_off,
                                   rows, G, C, NH, bs));
}

int kb_prefix_attention_supported(const kb_ctx *ctx, int head_size) {
    return ctx->backend == KB_CPU || head_size == 32 || head_size == 64;
}

void kb_attention_merge(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *out_a, const float *lse_a,
                        const kb_act *out_b, const float *lse_b, int N, int C, int NH) {
    RUN(ctx, KB_FWD, KB_ATTENTION, 4.0 * N * C, 3.0 * N * C * AS(ctx) + 12.0 * N * NH,
        ctx->ops->attention_merge(ctx, out, lse, out_a, lse_a, out_b, lse_b, N, C, NH));
}

float kb_uniform(uint64_t seed, uint64_t counter) { return (float)(mix64(seed, counter) >> 40) * (1.0f / 16777216.0f); }

void kb_sample(kb_ctx *ctx, int32_t *tokens, float *logprobs, const kb_act *logits, const uint64_t *seeds,
               const uint64_t *counters, int N, int V, int Vp, float temperature, int top_k, float top_p) {
    RUN(ctx, KB_FWD, KB_CLASSIFIER, 6.0 * N * V, (double)N * Vp * AS(ctx) + 24.0 * N,
        ctx->ops->sample(ctx, tokens, logprobs, logits, seeds, counters, N, V, Vp, temperature, top_k, top_p));
}

// ---- graphs ----------------------------------------------------------------------------------------

struct kb_graph {
    void (*fn)(void *);
    void *arg;
    void *impl;       // backend graph, NULL where replay means calling fn again
    int stage;
    kb_counts delta;  // what one replay charges
};

kb_graph *kb_graph_capture(kb_ctx *ctx, void (*fn)(void *), void *arg) {
    kb_graph *g = xcalloc(1, sizeof *g);
    g->fn = fn;
    g->arg = arg;
    g->stage = ctx->stage;
    if (!ctx->ops->graph_capture) return g;
    kb_counts before = ctx->counts[ctx->stage];
    int prof = ctx->profiling;
    ctx->profiling = 0;  // no syncs while capturing
    g->impl = ctx->ops->graph_capture(ctx, fn, arg);
    ctx->profiling = prof;
    kb_counts *now = &ctx->counts[ctx->stage];
    for (int p = 0; p < KB_NPHASES; p++)
        for (int k = 0; k < KB_NCLASSES; k++) {
            g->delta.flops[p][k] = now->flops[p][k] - before.flops[p][k];
            g->delta.bytes[p][k] = now->bytes[p][k] - before.bytes[p][k];
            g->delta.calls[p][k] = now->calls[p][k] - before.calls[p][k];
        }
    *now = before;  // capturing executed nothing
    return g;
}

void kb_graph_launch(kb_ctx *ctx, kb_graph *g) {
    if (!g->impl) {
        g->fn(g->arg);
        return;
    }
    ctx->ops->graph_launch(ctx, g->impl);
    kb_counts *c = &ctx->counts[g->stage];
    for (int p = 0; p < KB_NPHASES; p++)
        for (int k = 0; k < KB_NCLASSES; k++) {
            c->flops[p][k] += g->delta.flops[p][k];
            c->bytes[p][k] += g->delta.bytes[p][k];
            c->calls[p][k] += g->delta.calls[p][k];
        }
}

void kb_graph_free(kb_ctx *ctx, kb_graph *g) {
    if (!g) return;
    if (g->impl) ctx->ops->graph_free(ctx, g->impl);
    free(g);
}
