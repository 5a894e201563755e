// gpt2.c — the GPT-2 model on the kernel library (one definition, any backend).
#include "kernels/gpt2.h"

#include "kernels/gpt2_block.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *tensor_names[GPT2_NTENSORS] = {
    "wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw", "headw", "ln1w", "ln1b", "qkvb",
    "attprojb", "ln2w", "ln2b", "fcb", "fcprojb", "lnfw", "lnfb", "headb"};
const char *gpt2_tensor_name(int t) { return t >= 0 && t < GPT2_NTENSORS ? tensor_names[t] : "?"; }

gpt2_config gpt2_config_depth(int depth, int V, int maxT) {
    gpt2_config c = {0};
    c.L = depth;
    // GPT-2's own sizes where they exist (124M, 350M, 774M, 1558M); otherwise 64 channels a layer.
    switch (depth) {
    case 12: c.C = 768, c.NH = 12; break;
    case 24: c.C = 1024, c.NH = 16; break;
    case 36: c.C = 1280, c.NH = 20; break;
    case 48: c.C = 1600, c.NH = 25; break;
    default: c.C = 64 * depth, c.NH = depth; break;
    }
    c.V = V;
    c.Vp = (V + 127) / 128 * 128;
    c.maxT = maxT;
    return c;
}

int gpt2_config_check(const gpt2_config *c, berr *e) {
    if (c->L < 1 || c->L > 256) return berr_set(e, "layers L=%d must be in [1, 256]", c->L);
    if (c->C < 8 || c->C > 16384) return berr_set(e, "channels C=%d must be in [8, 16384]", c->C);
    if (c->NH < 1 || c->C % c->NH) return berr_set(e, "heads NH=%d must divide channels C=%d", c->NH, c->C);
    if (c->C / c->NH > 256) return berr_set(e, "head size C/NH=%d is above 256", c->C / c->NH);
    if (c->C % 8) return berr_set(e, "channels C=%d must be a multiple of 8", c->C);
    if (c->V < 2 || c->V > (1 << 24)) return berr_set(e, "vocabulary V=%d must be in [2, 16777216]", c->V);
    if (c->Vp < c->V || c->Vp % 128) return berr_set(e, "padded vocabulary Vp=%d must be >= V=%d and a multiple of 128", c->Vp, c->V);
    if (c->Vp - c->V >= 128) return berr_set(e, "padded vocabulary Vp=%d pads V=%d by more than 127", c->Vp, c->V);
    if (c->maxT < 1 || c->maxT > 65536) return berr_set(e, "context length maxT=%d must be in [1, 65536]", c->maxT);
    if (c->n_scalar < 0 || c->n_scalar > 64) return berr_set(e, "scalar heads n_scalar=%d must be in [0, 64]", c->n_scalar);
    return 0;
}

// ---- layout -----------------------------------------------------------------------------------

static void layout(gpt2 *m) {
    const gpt2_config *c = &m->cfg;
    size_t L = c->L, C = c->C, H = c->n_scalar;
    size_t sz[GPT2_NTENSORS] = {
        [GPT2_WTE] = (size_t)c->Vp * C, [GPT2_WPE] = (size_t)c->maxT * C, [GPT2_QKVW] = L * 3 * C * C,
        [GPT2_ATTPROJW] = L * C * C, [GPT2_FCW] = L * 4 * C * C, [GPT2_FCPROJW] = L * 4 * C * C,
        [GPT2_HEADW] = H * C, [GPT2_LN1W] = L * C, [GPT2_LN1B] = L * C, [GPT2_QKVB] = L * 3 * C,
        [GPT2_ATTPROJB] = L * C, [GPT2_LN2W] = L * C, [GPT2_LN2B] = L * C, [GPT2_FCB] = L * 4 * C,
        [GPT2_FCPROJB] = L * C, [GPT2_LNFW] = C, [GPT2_LNFB] = C, [GPT2_HEADB] = H};
    size_t off = 0;
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        m->off[t] = off;
        m->size[t] = sz[t];
        off += sz[t];
        if (t == GPT2_HEADW) m->n_decay = off;
    }
    m->n_params = off;
}

void gpt2_layout(const gpt2_config *c, size_t off[GPT2_NTENSORS], size_t size[GPT2_NTENSORS]) {
    gpt2 tmp = {0};
    tmp.cfg = *c;
    layout(&tmp);
    memcpy(off, tmp.off, sizeof tmp.off);
    memcpy(size, tmp.size, sizeof tmp.size);
}

size_t gpt2_param_count(const gpt2_config *c) {
    gpt2 tmp = {0};
    tmp.cfg = *c;
    layout(&tmp);
    return tmp.n_params;
}

// ---- activations --------------------------------------------------------------------------------

typedef struct acts {
    kb_act *encoded;                                                      // (BT, C)
    kb_act *ln1, *qkv, *atty, *resid2, *ln2, *fch, *fch_gelu, *resid3;    // per layer (1 layer if inference)
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd, *att_lse;           // per layer
    kb_act *scratch;                                                      // (BT, C) attention / MLP projection out
    kb_act *lnf;
    float *lnf_mean, *lnf_rstd;
    kb_act *logits;                                                       // (chunk, Vp)
    kb_act *dresid, *dC, *d4C, *dqkv, *dtmp;                              // backward scratch
} acts;

#define A(m) ((acts *)(m)->acts)

// Element offset of layer l's slice of a per-layer buffer that holds `per` elements a layer.
static size_t lay(const gpt2 *m, int l, size_t per) { return m->training ? (size_t)l * per : 0; }
static kb_act *at(const gpt2 *m, const kb_act *p, size_t i) { return kb_at(m->ctx, p, i); }
// Every public entry point that runs ops charges them to the model's role, if it has one.
static void enter(const gpt2 *m) {
    if (m->role[0]) kb_set_stage(m->ctx, m->role);
}

void gpt2_set_role(gpt2 *m, const char *role) {
    if (role && strlen(role) >= sizeof m->role) die("gpt2_set_role: role name '%s' is too long", role);
    snprintf(m->role, sizeof m->role, "%s", role ? role : "");
}

static kb_act *W(const gpt2 *m, int t, size_t i) { return kb_at(m->ctx, m->wact, m->off[t] + i); }
static float *G(const gpt2 *m, int t, size_t i) { return m->grads + m->off[t] + i; }

void gpt2_build(gpt2 *m, kb_ctx *ctx, const gpt2_config *cfg, int B, int T, int training) {
    berr e;
    if (gpt2_config_check(cfg, &e)) die("gpt2_build: %s", e.msg);
    if (B < 1 || T < 1 || T > cfg->maxT) die("gpt2_build: micro-batch %dx%d does not fit context %d", B, T, cfg->maxT);
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->ctx = ctx;
    m->B = B;
    m->T = T;
    m->training = training;
    layout(m);

    size_t as = kb_act_size(ctx), np = m->n_params;
    size_t BT = (size_t)B * T, C = cfg->C, L = training ? cfg->L : 1, NH = cfg->NH;
    m->params = kb_alloc(ctx, np * 4);
    m->wact = as == 4 ? (kb_act *)m->params : kb_alloc(ctx, np * as);
    if (training) {
        m->grads = kb_alloc(ctx, np * 4);
        m->m = kb_alloc(ctx, np * 4);
        m->v = kb_alloc(ctx, np * 4);
        kb_zero(ctx, m->grads, np * 4);
        kb_zero(ctx, m->m, np * 4);
        kb_zero(ctx, m->v, np * 4);
    }
    m->chunk = (int)(BT < 8192 ? BT : 8192);

    acts *a = xcalloc(1, sizeof *a);
    m->acts = a;
    a->encoded = kb_alloc(ctx, BT * C * as);
    a->ln1 = kb_alloc(ctx, L * BT * C * as);
    a->qkv = kb_alloc(ctx, L * BT * 3 * C * as);
    a->atty = kb_alloc(ctx, L * BT * C * as);
    a->resid2 = kb_alloc(ctx, L * BT * C * as);
    a->ln2 = kb_alloc(ctx, L * BT * C * as);
    a->fch = kb_alloc(ctx, L * BT * 4 * C * as);
    a->fch_gelu = kb_alloc(ctx, L * BT * 4 * C * as);
    a->resid3 = kb_alloc(ctx, L * BT * C * as);
    a->ln1_mean = kb_alloc(ctx, L * BT * 4);
    a->ln1_rstd = kb_alloc(ctx, L * BT * 4);
    a->ln2_mean = kb_alloc(ctx, L * BT * 4);
    a->ln2_rstd = kb_alloc(ctx, L * BT * 4);
    a->att_lse = kb_alloc(ctx, L * BT * NH * 4);
    a->scratch = kb_alloc(ctx, BT * C * as);
    a->lnf = kb_alloc(ctx, BT * C * as);
    a->lnf_mean = kb_alloc(ctx, BT * 4);
    a->lnf_rstd = kb_alloc(ctx, BT * 4);
    a->logits = kb_alloc(ctx, (size_t)m->chunk * cfg->Vp * as);
    if (training) {
        a->dresid = kb_alloc(ctx, BT * C * as);
        a->dC = kb_alloc(ctx, BT * C * as);
        a->d4C = kb_alloc(ctx, BT * 4 * C * as);
        a->dqkv = kb_alloc(ctx, BT * 3 * C * as);
        if (cfg->n_scalar) a->dtmp = kb_alloc(ctx, BT * C * as);
    }
    m->tokens = kb_alloc(ctx, BT * 4);
    m->targets = kb_alloc(ctx, BT * 4);
    m->losses = kb_alloc(ctx, BT * 4);
    m->stats = kb_alloc(ctx, 4 * 4);
    kb_zero(ctx, m->stats, 4 * 4);
    m->rl_out = kb_alloc(ctx, 5 * BT * 4);
    if (training) m->rl_in = kb_alloc(ctx, 5 * BT * 4);
    if (cfg->n_scalar) {
        m->head_out = kb_alloc(ctx, BT * cfg->n_scalar * as);
        if (training) m->dhead = kb_alloc(ctx, BT * cfg->n_scalar * as);
    }
}

void gpt2_free(gpt2 *m) {
    kb_ctx *ctx = m->ctx;
    acts *a = A(m);
    if (a) {
        void *bufs[] = {a->encoded, a->ln1, a->qkv, a->atty, a->resid2, a->ln2, a->fch, a->fch_gelu, a->resid3,
                        a->ln1_mean, a->ln1_rstd, a->ln2_mean, a->ln2_rstd, a->att_lse, a->scratch, a->lnf,
                        a->lnf_mean, a->lnf_rstd, a->logits, a->dresid, a->dC, a->d4C, a->dqkv, a->dtmp};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) kb_free(ctx, bufs[i]);
        free(a);
    }
    if ((void *)m->wact != (void *)m->params) kb_free(ctx, m->wact);
    void *bufs[] = {m->params, m->grads, m->m, m->v, m->tokens, m->targets, m->losses, m->stats, m->head_out, m->dhead,
                    m->rl_in, m->rl_out};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) kb_free(ctx, bufs[i]);
    memset(m, 0, sizeof *m);
}

// ---- parameters ---------------------------------------------------------------------------------

static void refresh_working_copy(gpt2 *m) {
    if ((void *)m->wact != (void *)m->params) kb_f32_to_act(m->ctx, m->wact, m->params, m->n_params);
}

void gpt2_set_params(gpt2 *m, const float *host) {
    kb_upload(m->ctx, m->params, host, m->n_params * 4);
    refresh_working_copy(m);
}

void gpt2_get_params(gpt2 *m, float *host) { kb_download(m->ctx, host, m->params, m->n_params * 4); }

void gpt2_init(gpt2 *m, uint64_t seed) {
    const gpt2_config *c = &m->cfg;
    float *p = xmalloc(m->n_params * 4);
    float resid_std = 0.02f / sqrtf(2.0f * c->L);
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        float *w = p + m->off[t];
        size_t n = m->size[t];
        uint64_t s = mix64(seed, (uint64_t)t);  // per-tensor stream: init does not depend on layout order
        float std = 0;
        int ones = 0;
        switch (t) {
        case GPT2_WTE: case GPT2_QKVW: case GPT2_FCW: case GPT2_HEADW: std = 0.02f; break;
        case GPT2_WPE: std = 0.01f; break;
        case GPT2_ATTPROJW: case GPT2_FCPROJW: std = resid_std; break;
        case GPT2_LN1W: case GPT2_LN2W: case GPT2_LNFW: ones = 1; break;
        default: break;  // biases: zero
        }
        for (size_t i = 0; i < n; i++) w[i] = ones ? 1.0f : std ? std * rng_normal(&s) : 0.0f;
    }
    // Padding rows of the embedding are never a target or an input: keep them zero.
    memset(p + m->off[GPT2_WTE] + (size_t)c->V * c->C, 0, (size_t)(c->Vp - c->V) * c->C * 4);
    gpt2_set_params(m, p);
    free(p);
    m->step = 0;
}

// ---- forward ------------------------------------------------------------------------------------

static void upload_batch(gpt2 *m, const int32_t *tokens, const int32_t *targets, int B, int T) {
    enter(m);
    if (B < 1 || T < 1 || B * T > m->B * m->T || T > m->T)
        die("gpt2: micro-batch %dx%d exceeds the built size %dx%d", B, T, m->B, m->T);
    size_t n = (size_t)B * T;
    for (size_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= m->cfg.V)
            die("gpt2: input token %d at position %zu is outside the vocabulary [0, %d)", tokens[i], i, m->cfg.V);
        if (targets && targets[i] >= m->cfg.V)
            die("gpt2: target %d at position %zu is outside the vocabulary [0, %d)", targets[i], i, m->cfg.V);
    }
    kb_upload(m->ctx, m->tokens, tokens, n * 4);
    if (targets) kb_upload(m->ctx, m->targets, targets, n * 4);
    m->last_B = B;
    m->last_T = T;
}

void gpt2_block_forward(gpt2 *m, int l, int N, const gpt2_block_bufs *b, gpt2_attend_fn attend, void *arg) {
    kb_ctx *ctx = m->ctx;
    const int C = m->cfg.C, L = m->cfg.L;
    const size_t lC = (size_t)l * C;
    kb_matmul_forward(ctx, b->qkv, NULL, b->ln1, W(m, GPT2_QKVW, lC * 3 * C), W(m, GPT2_QKVB, lC * 3), N, C, 3 * C);
    attend(arg, l, b->qkv, b->att);
    kb_matmul_forward(ctx, b->proj, NULL, b->att, W(m, GPT2_ATTPROJW, lC * C), W(m, GPT2_ATTPROJB, lC), N, C, C);
    kb_residual_layernorm_forward(ctx, b->resid2, b->ln2, b->ln2_mean, b->ln2_rstd, b->x, b->proj, W(m, GPT2_LN2W, lC),
                                  W(m, GPT2_LN2B, lC), N, C);
    kb_matmul_forward(ctx, b->fch_gelu, b->fch, b->ln2, W(m, GPT2_FCW, lC * 4 * C), W(m, GPT2_FCB, lC * 4), N, C, 4 * C);
    kb_matmul_forward(ctx, b->proj, NULL, b->fch_gelu, W(m, GPT2_FCPROJW, lC * 4 * C), W(m, GPT2_FCPROJB, lC), N, 4 * C,
                      C);
    // The residual add is fused with the next layernorm: the next block's ln1, or lnf.
    const kb_act *nw = l + 1 < L ? W(m, GPT2_LN1W, lC + C) : W(m, GPT2_LNFW, 0);
    const kb_act *nb = l + 1 < L ? W(m, GPT2_LN1B, lC + C) : W(m, GPT2_LNFB, 0);
    kb_residual_layernorm_forward(ctx, b->resid3, b->ln_next, b->next_mean, b->next_rstd, b->resid2, b->proj, nw, nb, N,
                                  C);
}

// Training attention: causal over each of the B sequences of T tokens.
typedef struct train_attend {
    gpt2 *m;
    int B, T;
} train_attend;

static void attend_causal(void *arg, int l, const kb_act *qkv, kb_act *att) {
    train_attend *t = arg;
    gpt2 *m = t->m;
    const size_t BTn = (size_t)m->B * m->T;
    kb_attention_forward(m->ctx, att, A(m)->att_lse + lay(m, l, BTn * m->cfg.NH), qkv, t->B, t->T, m->cfg.C, m->cfg.NH);
}

// The trunk: embeddings, L blocks, final layernorm into lnf; the scalar heads on lnf.
static void trunk_forward(gpt2 *m, int B, int T) {
    kb_ctx *ctx = m->ctx;
    acts *a = A(m);
    const int C = m->cfg.C, L = m->cfg.L, N = B * T;
    const size_t BTC = (size_t)m->B * m->T * C, BTn = (size_t)m->B * m->T;

    kb_encoder_forward(ctx, a->encoded, m->tokens, NULL, W(m, GPT2_WTE, 0), W(m, GPT2_WPE, 0), N, T, C);
    kb_layernorm_forward(ctx, a->ln1, a->ln1_mean, a->ln1_rstd, a->encoded, W(m, GPT2_LN1W, 0), W(m, GPT2_LN1B, 0),
                         N, C);
    train_attend ta = {m, B, T};
    for (int l = 0; l < L; l++) {
        int last = l + 1 == L;
        gpt2_block_bufs b = {
            .x = l == 0 ? a->encoded : at(m, a->resid3, lay(m, l - 1, BTC)),
            .ln1 = at(m, a->ln1, lay(m, l, BTC)),
            .qkv = at(m, a->qkv, lay(m, l, 3 * BTC)),
            .att = at(m, a->atty, lay(m, l, BTC)),
            .proj = a->scratch,
            .resid2 = at(m, a->resid2, lay(m, l, BTC)),
            .ln2 = at(m, a->ln2, lay(m, l, BTC)),
            .fch = at(m, a->fch, lay(m, l, 4 * BTC)),
            .fch_gelu = at(m, a->fch_gelu, lay(m, l, 4 * BTC)),
            .resid3 = at(m, a->resid3, lay(m, l, BTC)),
            .ln_next = last ? a->lnf : at(m, a->ln1, lay(m, l + 1, BTC)),
            .ln2_mean = a->ln2_mean + lay(m, l, BTn),
            .ln2_rstd = a->ln2_rstd + lay(m, l, BTn),
            .next_mean = last ? a->lnf_mean : a->ln1_mean + lay(m, l + 1, BTn),
            .next_rstd = last ? a->lnf_rstd : a->ln1_rstd + lay(m, l + 1, BTn),
        };
        gpt2_block_forward(m, l, N, &b, attend_causal, &ta);
    }
    if (m->cfg.n_scalar)
        kb_matmul_forward(ctx, m->head_out, NULL, a->lnf, W(m, GPT2_HEADW, 0), W(m, GPT2_HEADB, 0), N, C, m->cfg.n_scalar);
}

// The vocabulary classifier in row chunks: the logits of one chunk at a time, then the loss
// over them (the cross-entropy of kb_classifier, or with pg the fused policy-gradient loss of
// kb_pg_loss). With want_grad the gradient wrt lnf lands in dC and wte's gradient is
// accumulated, chunk by chunk, so the logits buffer holds one chunk only.
typedef struct chunk_loss {
    float dscale, inv_temp;
    float *entropy;            // per-row entropies (cross-entropy only; NULL: not wanted)
    const kb_pg_params *pg;    // NULL: cross-entropy
} chunk_loss;

static void classifier_chunks(gpt2 *m, int N, const chunk_loss *cl, int want_grad) {
    kb_ctx *ctx = m->ctx;
    acts *a = A(m);
    const int C = m->cfg.C, V = m->cfg.V, Vp = m->cfg.Vp;
    const size_t BT = (size_t)m->B * m->T;
    for (int r0 = 0; r0 < N; r0 += m->chunk) {
        int n = N - r0 < m->chunk ? N - r0 : m->chunk;
        kb_act *lnf = at(m, a->lnf, (size_t)r0 * C);
        kb_matmul_forward(ctx, a->logits, NULL, lnf, W(m, GPT2_WTE, 0), NULL, n, C, Vp);
        if (cl->pg) {
            const float *in = m->rl_in;
            float *out = m->rl_out;
            kb_pg_rows rows = {m->targets + r0, in + r0, in + BT + r0, in + 2 * BT + r0,
                               cl->pg->is_cap > 0 ? in + 3 * BT + r0 : NULL, cl->pg->kl_coef != 0 ? in + 4 * BT + r0 : NULL,
                               out + r0, out + BT + r0, out + 2 * BT + r0, out + 3 * BT + r0, out + 4 * BT + r0};
            kb_pg_loss(ctx, a->logits, cl->pg, &rows, n, V, Vp, want_grad);
        } else {
            kb_classifier(ctx, a->logits, m->losses + r0, cl->entropy ? cl->entropy + r0 : NULL, m->targets + r0, NULL,
                          cl->dscale, cl->inv_temp, n, V, Vp, want_grad);
        }
        if (want_grad)
            kb_matmul_backward(ctx, at(m, a->dC, (size_t)r0 * C), G(m, GPT2_WTE, 0), NULL, a->logits, lnf,
                               W(m, GPT2_WTE, 0), NULL, n, C, Vp);
    }
    kb_sum(ctx, m->stats, cl->pg ? m->rl_out + 2 * BT : m->losses, (size_t)N, 1);
}

void gpt2_forward(gpt2 *m, const int32_t *tokens, const int32_t *targets, int B, int T) {
    upload_batch(m, tokens, targets, B, T);
    trunk_forward(m, B, T);
    chunk_loss cl = {.dscale = 1.0f, .inv_temp = 1.0f};
    if (targets) classifier_chunks(m, B * T, &cl, 0);
}

void gpt2_logits(gpt2 *m, const int32_t *tokens, int B, int T, const int32_t *rows, int nrows, float *host) {
    kb_ctx *ctx = m->ctx;
    acts *a = A(m);
    const int C = m->cfg.C, Vp = m->cfg.Vp, N = B * T;
    for (int i = 0; i < nrows; i++)
        if (rows[i] < 0 || rows[i] >= N) die("gpt2_logits: row %d is outside the batch of %d", rows[i], N);
    upload_batch(m, tokens, NULL, B, T);
    trunk_forward(m, B, T);
    // The row indices travel in the targets buffer (unused without a loss).
    for (int r0 = 0; r0 < nrows; r0 += m->chunk) {
        int n = nrows - r0 < m->chunk ? nrows - r0 : m->chunk;
        kb_upload(ctx, m->targets, rows + r0, (size_t)n * 4);
        kb_gather_rows(ctx, a->scratch, a->lnf, m->targets, n, C);
        kb_matmul_forward(ctx, a->logits, NULL, a->scratch, W(m, GPT2_WTE, 0), NULL, n, C, Vp);
        kb_download_act(ctx, host + (size_t)r0 * Vp, a->logits, (size_t)n * Vp);
    }
}

// ---- backward -----------------------------------------------------------------------------------

// Where the gradient wrt lnf comes from: the classifier alone (in dC), the classifier plus the
// heads' gradient in dhead, or the heads alone (no classifier ran).
enum { HEADS_NONE, HEADS_ADD, HEADS_ONLY };

static void trunk_backward(gpt2 *m, int B, int T, int heads) {
    kb_ctx *ctx = m->ctx;
    acts *a = A(m);
    const int C = m->cfg.C, NH = m->cfg.NH, L = m->cfg.L, N = B * T;
    const size_t BTC = (size_t)m->B * m->T * C, BTn = (size_t)m->B * m->T;

    if (heads != HEADS_NONE && m->cfg.n_scalar) {
        kb_matmul_backward(ctx, heads == HEADS_ONLY ? a->dC : a->dtmp, G(m, GPT2_HEADW, 0), G(m, GPT2_HEADB, 0), m->dhead,
                           a->lnf, W(m, GPT2_HEADW, 0), NULL, N, C, m->cfg.n_scalar);
        if (heads == HEADS_ADD) kb_residual_forward(ctx, a->dC, a->dC, a->dtmp, (size_t)N * C);
    }
    // dC holds dL/dlnf; the residual stream's gradient accumulates into dresid.
    kb_zero(ctx, a->dresid, (size_t)N * C * kb_act_size(ctx));
    kb_act *last = at(m, a->resid3, lay(m, L - 1, BTC));
    kb_layernorm_backward(ctx, a->dresid, G(m, GPT2_LNFW, 0), G(m, GPT2_LNFB, 0), a->dC, last, W(m, GPT2_LNFW, 0),
                          a->lnf_mean, a->lnf_rstd, N, C);
    for (int l = L - 1; l >= m->train_from; l--) {  // frozen layers below train_from need no gradient
        kb_act *x = l == 0 ? a->encoded : at(m, a->resid3, lay(m, l - 1, BTC));
        kb_act *ln1 = at(m, a->ln1, lay(m, l, BTC)), *qkv = at(m, a->qkv, lay(m, l, 3 * BTC));
        kb_act *atty = at(m, a->atty, lay(m, l, BTC)), *resid2 = at(m, a->resid2, lay(m, l, BTC));
        kb_act *ln2 = at(m, a->ln2, lay(m, l, BTC)), *fch = at(m, a->fch, lay(m, l, 4 * BTC));
        kb_act *fch_gelu = at(m, a->fch_gelu, lay(m, l, 4 * BTC));
        float *lse = a->att_lse + lay(m, l, BTn * NH);
        size_t lC = (size_t)l * C;

        // MLP: resid3 = resid2 + fcproj(gelu(fc(ln2(resid2))))
        kb_matmul_backward(ctx, a->d4C, G(m, GPT2_FCPROJW, lC * 4 * C), G(m, GPT2_FCPROJB, lC), a->dresid, fch_gelu,
                           W(m, GPT2_FCPROJW, lC * 4 * C), fch, N, 4 * C, C);
        kb_matmul_backward(ctx, a->dC, G(m, GPT2_FCW, lC * 4 * C), G(m, GPT2_FCB, lC * 4), a->d4C, ln2,
                           W(m, GPT2_FCW, lC * 4 * C), NULL, N, C, 4 * C);
        kb_layernorm_backward(ctx, a->dresid, G(m, GPT2_LN2W, lC), G(m, GPT2_LN2B, lC), a->dC, resid2,
                              W(m, GPT2_LN2W, lC), a->ln2_mean + lay(m, l, BTn), a->ln2_rstd + lay(m, l, BTn), N, C);
        // attention: resid2 = x + attproj(attention(qkv(ln1(x))))
        kb_matmul_backward(ctx, a->dC, G(m, GPT2_ATTPROJW, lC * C), G(m, GPT2_ATTPROJB, lC), a->dresid, atty,
                           W(m, GPT2_ATTPROJW, lC * C), NULL, N, C, C);
        kb_attention_backward(ctx, a->dqkv, a->dC, qkv, atty, lse, B, T, C, NH);
        kb_matmul_backward(ctx, a->dC, G(m, GPT2_QKVW, lC * 3 * C), G(m, GPT2_QKVB, lC * 3), a->dqkv, ln1,
                           W(m, GPT2_QKVW, lC * 3 * C), NULL, N, C, 3 * C);
        kb_layernorm_backward(ctx, a->dresid, G(m, GPT2_LN1W, lC), G(m, GPT2_LN1B, lC), a->dC, x, W(m, GPT2_LN1W, lC),
                              a->ln1_mean + lay(m, l, BTn), a->ln1_rstd + lay(m, l, BTn), N, C);
    }
    if (m->train_from == 0)
        kb_encoder_backward(ctx, G(m, GPT2_WTE, 0), G(m, GPT2_WPE, 0), a->dresid, m->tokens, N, T, C, m->cfg.V);
}

void gpt2_forward_backward(gpt2 *m, const int32_t *tokens, const int32_t *targets, int B, int T, float dscale,
                           int use_dhead) {
    if (!m->training) die("gpt2_forward_backward: the model was built for inference only");
    if (!targets) die("gpt2_forward_backward: targets are required");
    upload_batch(m, tokens, targets, B, T);
    trunk_forward(m, B, T);
    chunk_loss cl = {.dscale = dscale, .inv_temp = 1.0f};
    classifier_chunks(m, B * T, &cl, 1);
    trunk_backward(m, B, T, use_dhead ? HEADS_ADD : HEADS_NONE);
}

// ---- RL ---------------------------------------------------------------------------------------------

void gpt2_token_logprobs(gpt2 *m, const int32_t *tokens, const int32_t *targets, int B, int T, float temperature,
                         float *logp, float *entropy) {
    if (!targets) die("gpt2_token_logprobs: targets are required");
    if (!(temperature >= 0) || !isfinite(temperature)) die("gpt2_token_logprobs: temperature %g", temperature);
    upload_batch(m, tokens, targets, B, T);
    trunk_forward(m, B, T);
    const size_t n = (size_t)B * T, BT = (size_t)m->B * m->T;
    chunk_loss cl = {.dscale = 1.0f, .inv_temp = temperature > 0 ? 1.0f / temperature : 1.0f,
                     .entropy = entropy ? m->rl_out + BT : NULL};
    classifier_chunks(m, (int)n, &cl, 0);
    kb_download(m->ctx, logp, m->losses, n * sizeof(float));
    for (size_t i = 0; i < n; i++) logp[i] = targets[i] < 0 ? 0.0f : -logp[i];  // rows < 0 hold 0 already
    if (entropy) kb_download(m->ctx, entropy, m->rl_out + BT, n * sizeof(float));
}

void gpt2_pg_forward_backward(gpt2 *m, const gpt2_pg_batch *b, int B, int T, const kb_pg_params *p) {
    if (!m->training) die("gpt2_pg_forward_backward: the model was built for inference only");
    if (!b->tokens || !b->targets || !b->weight || !b->adv || !b->lp_old)
        die("gpt2_pg_forward_backward: tokens, targets, weight, adv and lp_old are required");
    if (p->is_cap > 0 && !b->lp_behav) die("gpt2_pg_forward_backward: is_cap needs behaviour log-probs");
    if (p->kl_coef != 0 && !b->lp_ref) die("gpt2_pg_forward_backward: kl_coef needs reference log-probs");
    upload_batch(m, b->tokens, b->targets, B, T);
    const size_t n = (size_t)B * T, BT = (size_t)m->B * m->T;
    const float *src[5] = {b->weight, b->adv, b->lp_old, b->lp_behav, b->lp_ref};
    for (int k = 0; k < 5; k++)
        if (src[k]) kb_upload(m->ctx, m->rl_in + k * BT, src[k], n * sizeof(float));
    trunk_forward(m, B, T);
    chunk_loss cl = {.pg = p};
    classifier_chunks(m, (int)n, &cl, 1);
    trunk_backward(m, B, T, HEADS_NONE);
}

void gpt2_pg_read(gpt2 *m, float *logp, float *entropy, float *loss, float *clipped, float *ratio) {
    const size_t n = (size_t)m->last_B * m->last_T, BT = (size_t)m->B * m->T;
    float *dst[5] = {logp, entropy, loss, clipped, ratio};
    for (int k = 0; k < 5; k++)
        if (dst[k]) kb_download(m->ctx, dst[k], m->rl_out + k * BT, n * sizeof(float));
}

void gpt2_heads_forward(gpt2 *m, const int32_t *tokens, int B, int T, float *host) {
    if (!m->cfg.n_scalar) die("gpt2_heads_forward: the model has no scalar heads");
    upload_batch(m, tokens, NULL, B, T);
    trunk_forward(m, B, T);
    if (host) kb_download_act(m->ctx, host, m->head_out, (size_t)B * T * m->cfg.n_scalar);
}

void gpt2_head_forward_backward(gpt2 *m, const int32_t *tokens, const float *labels, const float *weight,
                                const float *old, int B, int T, kb_head_kind kind, float clip, float dscale, int h) {
    if (!m->training) die("gpt2_head_forward_backward: the model was built for inference only");
    if (h < 0 || h >= m->cfg.n_scalar) die("gpt2_head_forward_backward: head %d of a model with %d", h, m->cfg.n_scalar);
    if (clip > 0 && kind == KB_HEAD_MSE && !old) die("gpt2_head_forward_backward: a clipped MSE needs the old values");
    upload_batch(m, tokens, NULL, B, T);
    const size_t n = (size_t)B * T, BT = (size_t)m->B * m->T;
    kb_upload(m->ctx, m->rl_in, labels, n * sizeof(float));
    kb_upload(m->ctx, m->rl_in + BT, weight, n * sizeof(float));
    if (old) kb_upload(m->ctx, m->rl_in + 2 * BT, old, n * sizeof(float));
    trunk_forward(m, B, T);
    kb_head_loss(m->ctx, m->dhead, m->rl_out + 2 * BT, m->head_out, m->rl_in, m->rl_in + BT, old ? m->rl_in + 2 * BT : NULL,
                 kind, clip, dscale, (int)n, m->cfg.n_scalar, h);
    kb_sum(m->ctx, m->stats, m->rl_out + 2 * BT, n, 1);
    trunk_backward(m, B, T, HEADS_ONLY);
}

void gpt2_set_trainable(gpt2 *m, int first_layer) {
    if (first_layer < 0 || first_layer >= m->cfg.L)
        die("gpt2_set_trainable: first layer %d of a model with %d layers", first_layer, m->cfg.L);
    m->train_from = first_layer;
}

void gpt2_zero_grad(gpt2 *m) {
    if (m->training) kb_zero(m->ctx, m->grads, m->n_params * 4);
    gpt2_reset_loss(m);
}

void gpt2_reset_loss(gpt2 *m) { kb_zero(m->ctx, m->stats, 4); }

void gpt2_update(gpt2 *m, const gpt2_opt *o, float lr) {
    kb_ctx *ctx = m->ctx;
    if (!m->training) die("gpt2_update: the model was built for inference only");
    enter(m);
    kb_norm_squared(ctx, m->stats + 1, m->grads, m->n_params, 0);
    gpt2_shard whole = {0, m->n_params, m->n_params};  // the moments cover every parameter
    gpt2_update_shard(m, &whole, o, lr, m->stats + 1);
}

void gpt2_read_stats(gpt2 *m, double *loss_sum, double *grad_norm) {
    float s[2];
    kb_download(m->ctx, s, m->stats, sizeof s);
    if (loss_sum) *loss_sum = s[0];
    if (grad_norm) *grad_norm = sqrt((double)s[1]);
}

double gpt2_flops_per_token_rule(const gpt2 *m, int T) {
    double N = (double)(m->n_params - m->size[GPT2_HEADW] - m->size[GPT2_HEADB]);
    return 6.0 * N + 6.0 * m->cfg.L * m->cfg.C * (double)T;
}
