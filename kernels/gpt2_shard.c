// gpt2_shard.c — ZeRO-1 for the GPT-2 model: AdamW moments for one rank's range of the
// parameter buffer, the update over that range, and checkpoint IO of whole host arrays so a
// sharded run writes (and reads) the same file format as a single-process one.
#include <stdlib.h>
#include <string.h>

#include "kernels/gpt2.h"

static void *alloc_zeroed(kb_ctx *ctx, size_t floats) {
    void *p = kb_alloc(ctx, (floats ? floats : 1) * sizeof(float));
    kb_zero(ctx, p, (floats ? floats : 1) * sizeof(float));
    return p;
}

// A new device buffer of n_pad floats holding the first n of old (the tail zeroed).
static float *regrow(kb_ctx *ctx, float *old, size_t n, size_t n_pad) {
    float *p = alloc_zeroed(ctx, n_pad);
    kb_copy(ctx, p, old, n * sizeof(float));
    kb_free(ctx, old);
    return p;
}

void gpt2_set_shard(gpt2 *m, const gpt2_shard *s) {
    if (!m->training) die("gpt2_set_shard: the model was built for inference only");
    if (s->n_pad < m->n_params || s->off > m->n_params || s->len > m->n_params - s->off)
        die("gpt2_set_shard: shard [%zu, +%zu) padded to %zu does not fit %zu parameters", s->off, s->len, s->n_pad,
            m->n_params);
    kb_ctx *ctx = m->ctx;
    kb_free(ctx, m->m);
    kb_free(ctx, m->v);
    m->m = alloc_zeroed(ctx, s->len);
    m->v = alloc_zeroed(ctx, s->len);
    if (s->n_pad > m->n_params) {
        int aliased = (void *)m->wact == (void *)m->params;  // CPU backend: working copy = masters
        m->params = regrow(ctx, m->params, m->n_params, s->n_pad);
        if (aliased) m->wact = (kb_act *)m->params;
        m->grads = regrow(ctx, m->grads, m->n_params, s->n_pad);
    }
}

// AdamW over parameters [a, b) of the shard s (moments indexed from s->off), split where the
// decayed (2-D) parameters end.
static void adamw_range(gpt2 *m, const gpt2_shard *s, size_t a, size_t b, const gpt2_opt *o, float lr,
                        const float *nsq) {
    kb_ctx *ctx = m->ctx;
    kb_act *wa = (void *)m->wact == (void *)m->params ? NULL : m->wact;
    size_t cut = m->n_decay < a ? a : m->n_decay > b ? b : m->n_decay;
    if (cut > a)
        kb_adamw(ctx, m->params + a, wa ? kb_at(ctx, wa, a) : NULL, m->grads + a, m->m + (a - s->off), m->v + (a - s->off),
                 cut - a, lr, o->beta1, o->beta2, o->eps, o->weight_decay, m->step, nsq, o->grad_clip);
    if (b > cut)
        kb_adamw(ctx, m->params + cut, wa ? kb_at(ctx, wa, cut) : NULL, m->grads + cut, m->m + (cut - s->off),
                 m->v + (cut - s->off), b - cut, lr, o->beta1, o->beta2, o->eps, 0.0f, m->step, nsq, o->grad_clip);
}

// The parameters that train when layers below train_from are frozen: each per-layer tensor's
// upper layers, the final layernorm and the heads (the embeddings freeze with the first layer).
static int trainable_ranges(const gpt2 *m, size_t lo[GPT2_NTENSORS], size_t hi[GPT2_NTENSORS]) {
    int n = 0;
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        size_t a = m->off[t], b = m->off[t] + m->size[t];
        if (t == GPT2_WTE || t == GPT2_WPE) continue;
        if (t != GPT2_HEADW && t != GPT2_HEADB && t != GPT2_LNFW && t != GPT2_LNFB)
            a += m->size[t] / (size_t)m->cfg.L * (size_t)m->train_from;
        if (b > a) lo[n] = a, hi[n++] = b;
    }
    return n;
}

void gpt2_update_shard(gpt2 *m, const gpt2_shard *s, const gpt2_opt *o, float lr, const float *norm_sq) {
    if (!m->training) die("gpt2_update_shard: the model was built for inference only");
    m->step++;
    const float *nsq = o->grad_clip > 0 ? norm_sq : NULL;
    size_t off = s->off, end = s->off + s->len;
    if (m->train_from == 0) {
        if (end > off) adamw_range(m, s, off, end, o, lr, nsq);
        return;
    }
    size_t lo[GPT2_NTENSORS], hi[GPT2_NTENSORS];
    int n = trainable_ranges(m, lo, hi);
    for (int i = 0; i < n; i++) {
        size_t a = lo[i] > off ? lo[i] : off, b = hi[i] < end ? hi[i] : end;
        if (b > a) adamw_range(m, s, a, b, o, lr, nsq);
    }
}

void gpt2_refresh_working(gpt2 *m) {
    if ((void *)m->wact != (void *)m->params) kb_f32_to_act(m->ctx, m->wact, m->params, m->n_params);
}

void gpt2_get_moments(gpt2 *m, const gpt2_shard *s, float *host_m, float *host_v) {
    if (!s->len) return;
    kb_download(m->ctx, host_m, m->m, s->len * sizeof(float));
    kb_download(m->ctx, host_v, m->v, s->len * sizeof(float));
}

void gpt2_set_moments(gpt2 *m, const gpt2_shard *s, const float *host_m, const float *host_v) {
    if (!s->len) return;
    kb_upload(m->ctx, m->m, host_m, s->len * sizeof(float));
    kb_upload(m->ctx, m->v, host_v, s->len * sizeof(float));
    kb_sync(m->ctx);  // the caller may free the host arrays at once
}

// The checkpoint code reads and writes a model's buffers through its context. A model "view"
// whose buffers are host arrays on a CPU context lets it do the same for host data, so the
// format has exactly one implementation (gpt2_ckpt.c).
static int host_view(gpt2 *view, kb_ctx **cpu, const gpt2_config *cfg, berr *e) {
    *cpu = kb_open(KB_CPU, 0, e);
    if (!*cpu) return -1;
    memset(view, 0, sizeof *view);
    view->cfg = *cfg;
    view->ctx = *cpu;
    view->n_params = gpt2_param_count(cfg);
    return 0;
}

int gpt2_save_host(const gpt2_config *cfg, int step, const float *params, const float *m_, const float *v_,
                   const void *extra, size_t extra_len, const char *path, berr *e) {
    if ((m_ == NULL) != (v_ == NULL)) return berr_set(e, "gpt2_save_host: %s: give both moments or neither", path);
    gpt2 view;
    kb_ctx *cpu;
    if (gpt2_config_check(cfg, e) || host_view(&view, &cpu, cfg, e)) return -1;
    view.params = (float *)params;
    view.wact = (kb_act *)view.params;
    view.m = (float *)m_;
    view.v = (float *)v_;
    view.training = m_ != NULL;
    view.step = step;
    int rc = gpt2_save(&view, path, m_ != NULL, extra, extra_len, e);
    kb_close(cpu);
    return rc;
}

int gpt2_load_host(const char *path, gpt2_ckpt_info *info, float **params, float **m_, float **v_, void **extra,
                   size_t *extra_len, berr *e) {
    *params = *m_ = *v_ = NULL;
    if (gpt2_ckpt_info_read(path, info, e)) return -1;
    gpt2 view;
    kb_ctx *cpu;
    if (host_view(&view, &cpu, &info->cfg, e)) return -1;
    size_t n = view.n_params;
    view.params = xmalloc(n * sizeof(float));
    view.wact = (kb_act *)view.params;
    if (info->has_opt) {
        view.m = xmalloc(n * sizeof(float));
        view.v = xmalloc(n * sizeof(float));
        view.training = 1;
    }
    int rc = gpt2_load(&view, path, info->has_opt, extra, extra_len, e);
    kb_close(cpu);
    if (rc) {
        free(view.params);
        free(view.m);
        free(view.v);
        return -1;
    }
    *params = view.params;
    *m_ = view.m;
    *v_ = view.v;
    return 0;
}
