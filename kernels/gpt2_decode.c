// gpt2_decode.c — GPT-2 over a paged KV cache; see gpt2_decode.h.
#include "kernels/gpt2_decode.h"

#include "kernels/gpt2_block.h"

#include <stdlib.h>
#include <string.h>

static kb_act *Wt(const gpt2 *m, int t, size_t i) { return kb_at(m->ctx, m->wact, m->off[t] + i); }

size_t gpt2_kv_block_bytes(const gpt2 *m, int bs) {
    return (size_t)m->cfg.L * 2 * m->cfg.C * bs * kb_act_size(m->ctx);
}

int gpt2_kv_alloc(gpt2_kv *kv, gpt2 *m, size_t budget_bytes, int bs, berr *e) {
    memset(kv, 0, sizeof *kv);
    if (bs < 1 || bs > 256) return berr_set(e, "KV block size %d must be in [1, 256]", bs);
    size_t per = gpt2_kv_block_bytes(m, bs);
    size_t nb = budget_bytes / per;
    if (nb < 2)
        return berr_set(e, "a KV budget of %.1f MiB holds %zu blocks of %d positions (%.2f MiB each); at least 2 are needed",
                        budget_bytes / 1048576.0, nb, bs, per / 1048576.0);
    if (nb > (size_t)INT32_MAX / bs) nb = (size_t)INT32_MAX / bs;
    kv->nblocks = (int)nb;
    kv->bs = bs;
    kv->L = m->cfg.L;
    kv->k = xcalloc(kv->L, sizeof *kv->k);
    kv->v = xcalloc(kv->L, sizeof *kv->v);
    size_t pool = nb * m->cfg.C * bs * kb_act_size(m->ctx);
    for (int l = 0; l < kv->L; l++) {
        kv->k[l] = kb_alloc(m->ctx, pool);
        kv->v[l] = kb_alloc(m->ctx, pool);
    }
    kv->bytes = 2 * pool * kv->L;
    return 0;
}

void gpt2_kv_free(gpt2_kv *kv, gpt2 *m) {
    for (int l = 0; l < kv->L; l++) {
        kb_free(m->ctx, kv->k[l]);
        kb_free(m->ctx, kv->v[l]);
    }
    free(kv->k);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

// The input mirror is one contiguous block (host and device alike), so a call's inputs
// travel in a single upload.
typedef struct io_layout {
    size_t tokens, positions, slots, kv_start, kv_end, block_table, logit_rows, prefix_table, prefix_len, row_off,
        group_rows, seeds, counters, total;
} io_layout;

static io_layout layout_io(int n, int mb, int mg) {
    io_layout o;
    size_t off = 0;
#define FIELD(f, bytes) o.f = off, off += ((bytes) + 63) / 64 * 64
    FIELD(seeds, (size_t)n * 8);
    FIELD(counters, (size_t)n * 8);
    FIELD(tokens, (size_t)n * 4);
    FIELD(positions, (size_t)n * 4);
    FIELD(slots, (size_t)n * 4);
    FIELD(kv_start, (size_t)n * 4);
    FIELD(kv_end, (size_t)n * 4);
    FIELD(logit_rows, (size_t)n * 4);
    FIELD(group_rows, (size_t)n * 4);
    FIELD(prefix_len, (size_t)mg * 4);
    FIELD(row_off, (size_t)(mg + 1) * 4);
    FIELD(prefix_table, (size_t)mg * mb * 4);
    FIELD(block_table, (size_t)n * mb * 4);
#undef FIELD
    o.total = off;
    return o;
}

static void point_io(gpt2_dec_host *h, char *base, const io_layout *o) {
    h->seeds = (uint64_t *)(base + o->seeds);
    h->counters = (uint64_t *)(base + o->counters);
    h->tokens = (int32_t *)(base + o->tokens);
    h->positions = (int32_t *)(base + o->positions);
    h->slots = (int32_t *)(base + o->slots);
    h->kv_start = (int32_t *)(base + o->kv_start);
    h->kv_end = (int32_t *)(base + o->kv_end);
    h->logit_rows = (int32_t *)(base + o->logit_rows);
    h->group_rows = (int32_t *)(base + o->group_rows);
    h->prefix_len = (int32_t *)(base + o->prefix_len);
    h->row_off = (int32_t *)(base + o->row_off);
    h->prefix_table = (int32_t *)(base + o->prefix_table);
    h->block_table = (int32_t *)(base + o->block_table);
}

void gpt2_dec_init(gpt2_decoder *d, gpt2 *m, gpt2_kv *kv, int max_n, int max_blocks, int max_groups) {
    memset(d, 0, sizeof *d);
    if (max_n < 1 || max_blocks < 1 || max_groups < 0) die("gpt2_dec_init: bad sizes %d/%d/%d", max_n, max_blocks, max_groups);
    d->m = m;
    d->kv = kv;
    d->max_n = max_n;
    d->max_blocks = max_blocks;
    d->max_groups = max_groups;
    kb_ctx *ctx = m->ctx;
    io_layout o = layout_io(max_n, max_blocks, max_groups);
    char *hb = xcalloc(1, o.total);
    char *db = kb_alloc(ctx, o.total);
    kb_zero(ctx, db, o.total);
    point_io(&d->h, hb, &o);
    point_io(&d->d, db, &o);
    size_t as = kb_act_size(ctx), n = max_n, C = m->cfg.C;
    d->x = kb_alloc(ctx, n * C * as);
    d->ln = kb_alloc(ctx, n * C * as);
    d->qkv = kb_alloc(ctx, n * 3 * C * as);
    d->att = kb_alloc(ctx, n * C * as);
    d->att2 = kb_alloc(ctx, n * C * as);
    d->proj = kb_alloc(ctx, n * C * as);
    d->fch = kb_alloc(ctx, n * 4 * C * as);
    d->fch_gelu = kb_alloc(ctx, n * 4 * C * as);
    d->logits = kb_alloc(ctx, n * m->cfg.Vp * as);
    d->lse = kb_alloc(ctx, n * m->cfg.NH * 4);
    d->lse2 = kb_alloc(ctx, n * m->cfg.NH * 4);
    d->tok_out = kb_alloc(ctx, n * 4);
    d->lp_out = kb_alloc(ctx, n * 4);
    d->tok_host = xcalloc(n, 4);
    d->lp_host = xcalloc(n, 4);
}

void gpt2_dec_free(gpt2_decoder *d) {
    kb_ctx *ctx = d->m->ctx;
    free(d->h.seeds);  // the host mirror's base
    kb_free(ctx, d->d.seeds);
    void *bufs[] = {d->x, d->ln, d->qkv, d->att, d->att2, d->proj, d->fch, d->fch_gelu, d->logits, d->lse, d->lse2,
                    d->tok_out, d->lp_out};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) kb_free(ctx, bufs[i]);
    free(d->tok_host);
    free(d->lp_host);
    for (int i = 0; i < d->ncaptures; i++) free(d->captures[i]);
    memset(d, 0, sizeof *d);
}

int gpt2_dec_trash_slot(const gpt2_decoder *d) { return (d->kv->nblocks - 1) * d->kv->bs; }

void gpt2_dec_upload(gpt2_decoder *d, const gpt2_dec_call *c) {
    if (c->n < 0 || c->n > d->max_n || c->n_logits < 0 || c->n_logits > c->n || c->groups < 0 || c->groups > d->max_groups)
        die("gpt2_dec_upload: call of %d tokens / %d logit rows / %d groups exceeds the decoder's %d / %d groups", c->n,
            c->n_logits, c->groups, d->max_n, d->max_groups);
    io_layout o = layout_io(d->max_n, d->max_blocks, d->max_groups);
    kb_upload(d->m->ctx, d->d.seeds, d->h.seeds, o.total);
}

// Decoding attention: each row over its own sequence's positions in the paged KV cache (and
// a shared prefix read once per group), after writing its own K and V there.
typedef struct dec_attend {
    gpt2_decoder *d;
    const gpt2_dec_call *c;
} dec_attend;

static void attend_paged(void *arg, int l, const kb_act *qkv, kb_act *att) {
    dec_attend *t = arg;
    gpt2_decoder *d = t->d;
    const gpt2_dec_call *c = t->c;
    kb_ctx *ctx = d->m->ctx;
    const int C = d->m->cfg.C, NH = d->m->cfg.NH, n = c->n, bs = d->kv->bs;
    const gpt2_dec_host *in = &d->d;
    kb_kv_write(ctx, d->kv->k[l], d->kv->v[l], qkv, in->slots, n, C, NH, bs);
    if (c->groups)
        kb_prefix_attention(ctx, d->att2, d->lse2, qkv, d->kv->k[l], d->kv->v[l], in->prefix_table, d->max_blocks,
                            in->prefix_len, in->row_off, in->group_rows, c->groups, C, NH, bs, c->prefix_keys);
    kb_paged_attention(ctx, att, d->lse, qkv, d->kv->k[l], d->kv->v[l], in->block_table, d->max_blocks, in->kv_start,
                       in->kv_end, n, C, NH, bs, c->keys);
    if (c->groups) kb_attention_merge(ctx, att, d->lse, att, d->lse, d->att2, d->lse2, n, C, NH);
}

void gpt2_dec_forward(gpt2_decoder *d, const gpt2_dec_call *c) {
    gpt2 *m = d->m;
    kb_ctx *ctx = m->ctx;
    const int C = m->cfg.C, L = m->cfg.L, n = c->n;
    const gpt2_dec_host *in = &d->d;
    if (m->role[0]) kb_set_stage(ctx, m->role);
    kb_encoder_forward(ctx, d->x, in->tokens, in->positions, Wt(m, GPT2_WTE, 0), Wt(m, GPT2_WPE, 0), n, m->cfg.maxT, C);
    kb_layernorm_forward(ctx, d->ln, NULL, NULL, d->x, Wt(m, GPT2_LN1W, 0), Wt(m, GPT2_LN1B, 0), n, C);
    // The residual stream stays in x and every layernorm output in ln (in place, one token's
    // worth of activations per row).
    gpt2_block_bufs b = {.x = d->x, .ln1 = d->ln, .qkv = d->qkv, .att = d->att, .proj = d->proj, .resid2 = d->x,
                         .ln2 = d->ln, .fch = d->fch, .fch_gelu = d->fch_gelu, .resid3 = d->x, .ln_next = d->ln};
    dec_attend da = {d, c};
    for (int l = 0; l < L; l++) gpt2_block_forward(m, l, n, &b, attend_paged, &da);
    if (!c->n_logits) return;
    kb_gather_rows(ctx, d->att, d->ln, in->logit_rows, c->n_logits, C);
    kb_matmul_forward(ctx, d->logits, NULL, d->att, Wt(m, GPT2_WTE, 0), NULL, c->n_logits, C, m->cfg.Vp);
    if (c->sample)
        kb_sample(ctx, d->tok_out, d->lp_out, d->logits, in->seeds, in->counters, c->n_logits, m->cfg.V, m->cfg.Vp,
                  c->temperature, c->top_k, c->top_p);
}

void gpt2_dec_fetch(gpt2_decoder *d, int n_logits) {
    kb_download(d->m->ctx, d->tok_host, d->tok_out, (size_t)n_logits * 4);
    kb_download(d->m->ctx, d->lp_host, d->lp_out, (size_t)n_logits * 4);
}

typedef struct capture_arg {
    gpt2_decoder *d;
    gpt2_dec_call *c;
} capture_arg;

static void run_captured(void *p) {
    capture_arg *a = p;
    gpt2_dec_forward(a->d, a->c);
}

kb_graph *gpt2_dec_capture(gpt2_decoder *d, gpt2_dec_call *c) {
    // The argument block must outlive the graph (a CPU replay calls run_captured again): the
    // decoder owns it.
    if (d->ncaptures == GPT2_DEC_MAX_GRAPHS) die("gpt2_dec_capture: more than %d captured graphs", GPT2_DEC_MAX_GRAPHS);
    capture_arg *a = xmalloc(sizeof *a);
    a->d = d;
    a->c = c;
    d->captures[d->ncaptures++] = a;
    return kb_graph_capture(d->m->ctx, run_captured, a);
}

void gpt2_dec_replay(gpt2_decoder *d, kb_graph *g, int64_t keys, int64_t prefix_keys) {
    kb_ctx *ctx = d->m->ctx;
    const int C = d->m->cfg.C, NH = d->m->cfg.NH, bs = d->kv->bs;
    kb_graph_launch(ctx, g);
    // Zero rows, the given key counts: exactly the key-dependent part of each layer's charge.
    kb_set_dry_run(ctx, 1);
    for (int l = 0; l < d->m->cfg.L; l++) {
        kb_paged_attention(ctx, d->att, d->lse, d->qkv, d->kv->k[l], d->kv->v[l], d->d.block_table, d->max_blocks,
                           d->d.kv_start, d->d.kv_end, 0, C, NH, bs, keys);
        if (prefix_keys)
            kb_prefix_attention(ctx, d->att2, d->lse2, d->qkv, d->kv->k[l], d->kv->v[l], d->d.prefix_table,
                                d->max_blocks, d->d.prefix_len, d->d.row_off, d->d.group_rows, 0, C, NH, bs,
                                prefix_keys);
    }
    kb_set_dry_run(ctx, 0);
}
