// test_rl.c — the RL ops and model features on the CPU backend (the reference for CUDA):
//   - kb_pg_loss against an independent double-precision objective and its finite
//     differences: inside and outside the clip range, dual clip, truncated importance
//     weights, KL (k1, k3), the entropy bonus, a temperature; a mutated gradient must fail;
//   - the surrogate with logp = lp_old and zero advantages has exactly zero gradient;
//   - kb_head_loss (MSE, clipped MSE, BCE with soft labels) against finite differences;
//   - gpt2_token_logprobs equals log_softmax(logits / τ) computed independently;
//   - whole-model gradients of the policy-gradient and head losses against finite differences;
//   - a head model built from an LM checkpoint gives the LM's logits unchanged, and its trunk
//     exports back as the same LM; frozen layers do not move;
//   - the same bits for 1 and 2 threads;
//   - learning: a tiny policy trained with the fused loss on a one-step bandit finds the
//     rewarded token.
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/gpt2.h"
#include "tests/test.h"

static kb_ctx *ctx;

// ---- an independent reference of the objective, in double ---------------------------------------

typedef struct ref_row {
    int target;
    double w, adv, lp_old, lp_behav, lp_ref;
} ref_row;

// loss_i of kb_pg_loss for one row of logits x (V columns), in double.
static double ref_pg(const kb_pg_params *p, const float *x, int V, const ref_row *r, int use_behav, int use_ref,
                     double *logp_out, double *ent_out) {
    double m = -1e300;
    for (int j = 0; j < V; j++) m = fmax(m, x[j] * (double)p->inv_temp);
    double s = 0;
    for (int j = 0; j < V; j++) s += exp(x[j] * (double)p->inv_temp - m);
    double lse = m + log(s), H = 0;
    for (int j = 0; j < V; j++) {
        double lpj = x[j] * (double)p->inv_temp - lse;
        H -= exp(lpj) * lpj;
    }
    double logp = x[r->target] * (double)p->inv_temp - lse;
    if (logp_out) *logp_out = logp;
    if (ent_out) *ent_out = H;
    double w_is = 1;
    if (use_behav && p->is_cap > 0) w_is = fmin(exp(r->lp_old - r->lp_behav), p->is_cap);
    double ratio = exp(logp - r->lp_old);
    double rc = fmin(fmax(ratio, 1 - (double)p->clip_low), 1 + (double)p->clip_high);
    double obj = fmin(ratio * r->adv, rc * r->adv);
    if (p->dual_clip > 1 && r->adv < 0) obj = fmax(obj, p->dual_clip * r->adv);
    double kl = 0;
    if (use_ref && p->kl_coef != 0) {
        double d = r->lp_ref - logp;
        kl = p->kl_kind == KB_KL_K1 ? -d : exp(d) - d - 1;
    }
    return r->w * (-w_is * obj + p->kl_coef * kl - p->ent_coef * H);
}

static double rms(const double *g, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += g[i] * g[i];
    return sqrt(s / n);
}

// Per-element comparison of an analytic gradient with finite differences: |a − f| must stay
// within tol·(|f| + rms(f)) everywhere. Returns the worst ratio to that bound (≤ 1 passes).
static double grad_err(const float *an, const double *fd, int n, double tol) {
    double r = rms(fd, n), worst = 0;
    for (int i = 0; i < n; i++) {
        double e = fabs(an[i] - fd[i]) / (tol * (fabs(fd[i]) + r) + 1e-30);
        if (e > worst) worst = e;
    }
    return worst;
}

typedef struct pg_case {
    const char *name;
    kb_pg_params p;
    float ratio_lo, ratio_hi;  // lp_old is chosen so that ratio = exp(logp − lp_old) lies in this range
    int adv_sign;              // +1, −1, 0 (mixed)
    int behav, ref;
    int zero_grad;             // the clip removes every gradient: it must be exactly zero
} pg_case;

// Builds N rows of logits and their per-row inputs for a case; lp_old from the actual logp so
// the ratio lands where the case wants it (away from the clip's kinks).
static void make_rows(const pg_case *c, float *x, int N, int V, int Vp, int32_t *tg, float *w, float *adv, float *old,
                      float *beh, float *ref, uint64_t seed) {
    uint64_t r = seed;
    for (int i = 0; i < N * Vp; i++) x[i] = i % Vp < V ? 1.5f * rng_normal(&r) : 0.0f;
    for (int i = 0; i < N; i++) {
        tg[i] = i == N - 1 ? -1 : (int32_t)(rng_next(&r) % (uint64_t)V);  // the last row is ignored
        w[i] = i == 1 ? 0.0f : 0.2f + rng_uniform(&r);                   // row 1 is masked
        float a = 0.3f + rng_uniform(&r);
        adv[i] = c->adv_sign > 0 ? a : c->adv_sign < 0 ? -a : (i % 2 ? a : -a);
        ref_row rr = {tg[i] < 0 ? 0 : tg[i]};
        double logp;
        kb_pg_params p1 = c->p;
        ref_pg(&p1, x + (size_t)i * Vp, V, &rr, 0, 0, &logp, NULL);
        double ratio = c->ratio_lo + (c->ratio_hi - c->ratio_lo) * rng_uniform(&r);
        old[i] = (float)(logp - log(ratio));
        beh[i] = old[i] + 0.4f * rng_normal(&r);
        ref[i] = (float)logp + 0.5f * rng_normal(&r);
    }
}

static void run_pg_case(const pg_case *c) {
    const int N = 7, V = 37, Vp = 128;
    float *x = xmalloc(sizeof(float) * N * Vp), *x0 = xmalloc(sizeof(float) * N * Vp);
    int32_t tg[7];
    float w[7], adv[7], old[7], beh[7], ref[7], logp[7], ent[7], loss[7], clipped[7], ratio[7];
    make_rows(c, x0, N, V, Vp, tg, w, adv, old, beh, ref, 1000 + (uint64_t)(c->p.clip_high * 1000) + (uint64_t)c->adv_sign);
    memcpy(x, x0, sizeof(float) * N * Vp);
    kb_pg_rows rows = {tg, w, adv, old, c->behav ? beh : NULL, c->ref ? ref : NULL, logp, ent, loss, clipped, ratio};
    kb_pg_loss(ctx, (kb_act *)x, &c->p, &rows, N, V, Vp, 1);

    // values against the double reference
    double worst_v = 0;
    int masked_ok = 1;
    for (int i = 0; i < N; i++) {
        if (tg[i] < 0) {
            masked_ok &= loss[i] == 0 && logp[i] == 0;
            for (int j = 0; j < Vp; j++) masked_ok &= x[(size_t)i * Vp + j] == 0;
            continue;
        }
        ref_row rr = {tg[i], w[i], adv[i], old[i], beh[i], ref[i]};
        double lp, H, L = ref_pg(&c->p, x0 + (size_t)i * Vp, V, &rr, c->behav, c->ref, &lp, &H);
        worst_v = fmax(worst_v, fabs(loss[i] - L) / (fabs(L) + 1e-3));
        worst_v = fmax(worst_v, fabs(logp[i] - lp) / (fabs(lp) + 1e-3));
        worst_v = fmax(worst_v, fabs(ent[i] - H) / (fabs(H) + 1e-3));
        if (w[i] == 0) masked_ok &= loss[i] == 0;
    }
    CHECK(worst_v < 1e-4, "%s: loss, logp and entropy against the double reference: worst relative error %.2e", c->name,
          worst_v);
    CHECK(masked_ok, "%s: ignored and zero-weight rows have zero loss (and ignored rows zero gradient)", c->name);

    // gradient against central differences of the double reference (dscale·d loss / d logits)
    double *fd = xcalloc((size_t)N * Vp, sizeof(double));
    float *an = xcalloc((size_t)N * Vp, sizeof(float));
    int n = 0;
    for (int i = 0; i < N; i++) {
        if (tg[i] < 0) continue;
        ref_row rr = {tg[i], w[i], adv[i], old[i], beh[i], ref[i]};
        float *row = x0 + (size_t)i * Vp;
        for (int j = 0; j < V; j++) {
            float keep = row[j];
            double h = 1e-3;
            row[j] = keep + (float)h;
            double hp = (double)row[j] - keep;
            double lp = ref_pg(&c->p, row, V, &rr, c->behav, c->ref, NULL, NULL);
            row[j] = keep - (float)h;
            double hm = keep - (double)row[j];
            double lm = ref_pg(&c->p, row, V, &rr, c->behav, c->ref, NULL, NULL);
            row[j] = keep;
            fd[n] = c->p.dscale * (lp - lm) / (hp + hm);
            an[n++] = x[(size_t)i * Vp + j];
        }
    }
    double err = grad_err(an, fd, n, 2e-3), nz = rms(fd, n);
    if (c->zero_grad) {
        int exact = 1;
        for (int k = 0; k < n; k++) exact &= an[k] == 0;
        CHECK(exact && nz < 1e-9, "%s: the gradient is exactly zero (finite differences rms %.1e)", c->name, nz);
        free(fd), free(an), free(x), free(x0);
        return;
    }
    CHECK(err <= 1 && nz > 0, "%s: gradient within 2e-3·(|fd| + rms) of finite differences (worst %.2f of the bound, rms %.2e)",
          c->name, err, nz);
    // The comparison must be able to fail: the same gradient scaled by 1.015 does.
    for (int k = 0; k < n; k++) an[k] *= 1.015f;
    CHECK(grad_err(an, fd, n, 2e-3) > 1, "%s: a gradient scaled by 1.015 is caught", c->name);
    free(fd);
    free(an);
    free(x);
    free(x0);
}

static void test_pg_loss(void) {
    kb_pg_params base = {.inv_temp = 1.0f, .clip_low = 0.2f, .clip_high = 0.28f, .dscale = 0.5f};
    pg_case cases[] = {
        {"inside the clip", base, 0.85f, 1.15f, 0, 0, 0},
        {"above the clip, A > 0 (no pg gradient)", base, 1.4f, 1.8f, +1, 0, 0, 1},
        {"below the clip, A < 0 (no pg gradient)", base, 0.4f, 0.7f, -1, 0, 0, 1},
        {"above the clip, A < 0 (unclipped: gradient)", base, 1.4f, 1.8f, -1, 0, 0},
        {"entropy bonus", base, 0.9f, 1.1f, 0, 0, 0},
        {"KL k1", base, 0.9f, 1.1f, 0, 0, 1},
        {"KL k3", base, 0.9f, 1.1f, 0, 0, 1},
        {"dual clip (no pg gradient)", base, 3.5f, 5.0f, -1, 0, 0, 1},
        {"truncated importance weights", base, 0.9f, 1.1f, 0, 1, 0},
        {"temperature 0.7", base, 0.85f, 1.15f, 0, 0, 1},
        {"above the clip, A > 0, with KL and entropy (only their gradient)", base, 1.4f, 1.8f, +1, 0, 1},
        {"dual clip, with entropy (only its gradient)", base, 3.5f, 5.0f, -1, 0, 0},
    };
    cases[4].p.ent_coef = 0.05f;
    cases[5].p.kl_coef = 0.1f, cases[5].p.kl_kind = KB_KL_K1;
    cases[6].p.kl_coef = 0.1f, cases[6].p.kl_kind = KB_KL_K3;
    cases[7].p.dual_clip = 3.0f;
    cases[8].p.is_cap = 2.0f;
    cases[9].p.inv_temp = 1.0f / 0.7f, cases[9].p.kl_coef = 0.05f, cases[9].p.kl_kind = KB_KL_K3, cases[9].p.ent_coef = 0.01f;
    cases[10].p.kl_coef = 0.1f, cases[10].p.kl_kind = KB_KL_K3, cases[10].p.ent_coef = 0.02f;
    cases[11].p.dual_clip = 3.0f, cases[11].p.ent_coef = 0.03f;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) run_pg_case(&cases[k]);

    // The clip flags: every row of the "above, A > 0" case is clipped, none of the inside case.
    const int N = 7, V = 37, Vp = 128;
    float *x = xmalloc(sizeof(float) * N * Vp);
    int32_t tg[7];
    float w[7], adv[7], old[7], beh[7], ref[7], clipped[7];
    int all = 1, none = 1;
    make_rows(&cases[1], x, N, V, Vp, tg, w, adv, old, beh, ref, 5);
    kb_pg_rows r1 = {tg, w, adv, old, NULL, NULL, NULL, NULL, NULL, clipped, NULL};
    kb_pg_loss(ctx, (kb_act *)x, &cases[1].p, &r1, N, V, Vp, 0);
    for (int i = 0; i < N; i++)
        if (tg[i] >= 0 && w[i] != 0) all &= clipped[i] == 1;
    make_rows(&cases[0], x, N, V, Vp, tg, w, adv, old, beh, ref, 6);
    kb_pg_loss(ctx, (kb_act *)x, &cases[0].p, &r1, N, V, Vp, 0);
    for (int i = 0; i < N; i++) none &= clipped[i] == 0;
    CHECK(all && none, "clip flags: all rows above the clip with A > 0 flagged (%d), none inside (%d)", all, none);

    // logp = lp_old and A = 0, no regularisers: the gradient is exactly zero.
    uint64_t s = 9;
    for (int i = 0; i < N * Vp; i++) x[i] = i % Vp < V ? rng_normal(&s) : 0.0f;
    float lp[7], zero[7] = {0};
    for (int i = 0; i < N; i++) tg[i] = (int32_t)(rng_next(&s) % (uint64_t)V), w[i] = 1.0f;
    kb_pg_rows r2 = {tg, w, zero, zero, NULL, NULL, lp, NULL, NULL, NULL, NULL};
    float *x2 = xmalloc(sizeof(float) * N * Vp);
    memcpy(x2, x, sizeof(float) * N * Vp);
    kb_pg_loss(ctx, (kb_act *)x2, &base, &r2, N, V, Vp, 0);  // the current log-probs
    kb_pg_rows r3 = {tg, w, zero, lp, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    kb_pg_loss(ctx, (kb_act *)x, &base, &r3, N, V, Vp, 1);
    int zeros = 1;
    for (int i = 0; i < N * Vp; i++) zeros &= x[i] == 0;
    CHECK(zeros, "logp = lp_old and zero advantages: the gradient is exactly zero");
    free(x);
    free(x2);
}

// ---- scalar heads -----------------------------------------------------------------------------

static double ref_head(kb_head_kind kind, double v, double y, double old, double clip) {
    if (kind == KB_HEAD_BCE) return log1p(exp(-fabs(v))) + fmax(v, 0) - y * v;
    double l = 0.5 * (v - y) * (v - y);
    if (clip > 0) {
        double vc = old + fmin(fmax(v - old, -clip), clip);
        l = fmax(l, 0.5 * (vc - y) * (vc - y));
    }
    return l;
}

static void test_head_loss(void) {
    const int N = 9, H = 3, h = 1;
    struct {
        const char *name;
        kb_head_kind kind;
        float clip;
    } cases[] = {{"MSE", KB_HEAD_MSE, 0}, {"clipped MSE", KB_HEAD_MSE, 0.3f}, {"BCE, soft labels", KB_HEAD_BCE, 0}};
    for (int c = 0; c < 3; c++) {
        uint64_t r = 77 + (uint64_t)c;
        float v[27], d[27], y[9], w[9], old[9], loss[9];
        for (int i = 0; i < N * H; i++) v[i] = 1.5f * rng_normal(&r);
        for (int i = 0; i < N; i++) {
            y[i] = cases[c].kind == KB_HEAD_BCE ? rng_uniform(&r) : rng_normal(&r);
            w[i] = i % 4 == 2 ? 0.0f : 0.5f + rng_uniform(&r);
            // old values both near (clamp inactive) and far (clamp active) from v
            old[i] = v[i * H + h] + (i % 2 ? 0.1f : 0.8f) * (rng_uniform(&r) < 0.5f ? -1 : 1);
        }
        kb_head_loss(ctx, (kb_act *)d, loss, (kb_act *)v, y, w, old, cases[c].kind, cases[c].clip, 0.25f, N, H, h);
        double fd[9], worst_v = 0;
        float an[9];
        int others_zero = 1;
        for (int i = 0; i < N; i++) {
            double x = v[i * H + h], e = 1e-4;
            double L = w[i] * ref_head(cases[c].kind, x, y[i], old[i], cases[c].clip);
            worst_v = fmax(worst_v, fabs(loss[i] - L) / (fabs(L) + 1e-3));
            fd[i] = 0.25 * w[i] *
                    (ref_head(cases[c].kind, x + e, y[i], old[i], cases[c].clip) -
                     ref_head(cases[c].kind, x - e, y[i], old[i], cases[c].clip)) / (2 * e);
            an[i] = d[i * H + h];
            for (int k = 0; k < H; k++) others_zero &= k == h || d[i * H + k] == 0;
        }
        CHECK(worst_v < 1e-5, "%s: loss against the double reference (worst %.2e)", cases[c].name, worst_v);
        CHECK(grad_err(an, fd, N, 1e-3) <= 1 && others_zero, "%s: gradient against finite differences, other heads zero",
              cases[c].name);
        for (int i = 0; i < N; i++) an[i] *= 1.015f;
        CHECK(grad_err(an, fd, N, 1e-3) > 1, "%s: a gradient scaled by 1.015 is caught", cases[c].name);
    }
}

// ---- the model ------------------------------------------------------------------------------------

static gpt2_config tiny(int heads) {
    gpt2_config c = {.L = 2, .C = 32, .NH = 2, .V = 61, .Vp = 128, .maxT = 16, .n_scalar = heads};
    return c;
}

static void perturb(gpt2 *m, float *p, uint64_t seed, float scale) {
    gpt2_get_params(m, p);
    uint64_t r = seed;
    for (size_t i = 0; i < m->n_params; i++) p[i] += scale * rng_normal(&r);
    gpt2_set_params(m, p);
}

static void test_token_logprobs(void) {
    gpt2_config cfg = tiny(0);
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, 2, 16, 0);
    gpt2_init(&m, 11);
    float *p = xmalloc(m.n_params * 4);
    perturb(&m, p, 12, 0.2f);
    const int B = 2, T = 16, N = B * T;
    int32_t tok[32], tg[32], rows[32];
    uint64_t r = 13;
    for (int i = 0; i < N; i++) tok[i] = (int32_t)(rng_next(&r) % 61), tg[i] = i % 7 == 3 ? -1 : (int32_t)(rng_next(&r) % 61), rows[i] = i;
    float *logits = xmalloc(sizeof(float) * N * cfg.Vp);
    gpt2_logits(&m, tok, B, T, rows, N, logits);
    float temps[] = {0.3f, 0.7f, 1.0f, 1.5f, 0.0f};
    for (int k = 0; k < 5; k++) {
        float lp[32], ent[32];
        gpt2_token_logprobs(&m, tok, tg, B, T, temps[k], lp, ent);
        double it = temps[k] > 0 ? 1.0 / temps[k] : 1.0, worst = 0, worst_h = 0;
        int nonpos = 1;
        for (int i = 0; i < N; i++) {
            if (tg[i] < 0) {
                nonpos &= lp[i] == 0;
                continue;
            }
            const float *z = logits + (size_t)i * cfg.Vp;
            double mx = -1e300, s = 0, H = 0;
            for (int j = 0; j < cfg.V; j++) mx = fmax(mx, z[j] * it);
            for (int j = 0; j < cfg.V; j++) s += exp(z[j] * it - mx);
            for (int j = 0; j < cfg.V; j++) H -= exp(z[j] * it - mx - log(s)) * (z[j] * it - mx - log(s));
            double want = z[tg[i]] * it - mx - log(s);
            worst = fmax(worst, fabs(lp[i] - want));
            worst_h = fmax(worst_h, fabs(ent[i] - H));
            nonpos &= lp[i] <= 0 && isfinite(lp[i]);
        }
        CHECK(worst < 2e-5 && worst_h < 2e-5 && nonpos,
              "token log-probs at temperature %g equal log_softmax(logits/τ) (max |Δ| %.2e, entropy %.2e), all ≤ 0",
              temps[k], worst, worst_h);
    }
    free(logits);
    free(p);
    gpt2_free(&m);
}

// Sampled finite-difference check of the model's parameter gradient for an objective f
// evaluated in forward only. Samples `per` random elements of every tensor (the padding rows
// of wte excluded) and asserts the per-element error against tol·(|fd| + rms of the tensor's
// sampled fd).
typedef double (*objective_fn)(gpt2 *m, void *arg);

// Returns the number of tensors off; *msg says which was worst.
static int model_gradcheck(gpt2 *m, float *p, const float *g, objective_fn f, void *arg, int per, double tol,
                           uint64_t seed, char *msg, size_t msg_size) {
    uint64_t r = seed;
    int bad = 0, checked = 0;
    char worst_name[64] = "";
    double worst = 0;
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        size_t off = m->off[t], n = m->size[t];
        if (t == GPT2_WTE) n = (size_t)m->cfg.V * m->cfg.C;
        if (n == 0) continue;
        double fd[64];
        float an[64];
        int k = 0;
        for (; k < per && k < 64; k++) {
            size_t i = off + rng_next(&r) % n;
            float keep = p[i];
            double h = 1e-2;
            p[i] = keep + (float)h;
            gpt2_set_params(m, p);
            double lp = f(m, arg);
            p[i] = keep - (float)h;
            gpt2_set_params(m, p);
            double lm = f(m, arg);
            p[i] = keep;
            fd[k] = (lp - lm) / (2 * h);
            an[k] = g[i];
        }
        gpt2_set_params(m, p);
        double e = grad_err(an, fd, k, tol);
        checked++;
        if (e > 1) bad++;
        if (e > worst) worst = e, snprintf(worst_name, sizeof worst_name, "%s", gpt2_tensor_name(t));
    }
    snprintf(msg, msg_size, "%d of %d tensors off; worst %s at %.2f of the bound", bad, checked, worst_name, worst);
    return bad;
}

typedef struct pg_obj {
    gpt2_pg_batch b;
    kb_pg_params p;
    int B, T;
} pg_obj;

static double pg_objective_of(gpt2 *m, void *arg) {
    pg_obj *o = arg;
    gpt2_zero_grad(m);
    gpt2_pg_forward_backward(m, &o->b, o->B, o->T, &o->p);
    double ls;
    gpt2_read_stats(m, &ls, NULL);
    return ls * o->p.dscale;
}

typedef struct head_obj {
    const int32_t *tok;
    const float *y, *w, *old;
    kb_head_kind kind;
    float clip;
    int B, T, h;
} head_obj;

static double head_objective_of(gpt2 *m, void *arg) {
    head_obj *o = arg;
    gpt2_zero_grad(m);
    gpt2_head_forward_backward(m, o->tok, o->y, o->w, o->old, o->B, o->T, o->kind, o->clip, 1.0f, o->h);
    double ls;
    gpt2_read_stats(m, &ls, NULL);
    return ls;
}

static void test_model_gradients(void) {
    const int B = 2, T = 16, N = B * T;
    uint64_t r = 21;
    int32_t tok[32], tg[32];
    float w[32], adv[32], old[32], beh[32], ref[32], y[32], old_v[32];
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)(rng_next(&r) % 61);
        tg[i] = i % 8 < 3 ? -1 : (int32_t)(rng_next(&r) % 61);  // a "prompt" in every sequence
        w[i] = 1.0f / N;
        adv[i] = rng_normal(&r);
    }
    // policy-gradient loss through the whole model
    {
        gpt2_config cfg = tiny(0);
        gpt2 m;
        gpt2_build(&m, ctx, &cfg, B, T, 1);
        gpt2_init(&m, 22);
        float *p = xmalloc(m.n_params * 4), *g = xmalloc(m.n_params * 4);
        perturb(&m, p, 23, 0.1f);
        float lp[32];
        gpt2_token_logprobs(&m, tok, tg, B, T, 0.7f, lp, NULL);
        for (int i = 0; i < N; i++) {
            old[i] = lp[i] + 0.05f * rng_normal(&r);  // ratios near 1: inside the clip
            beh[i] = old[i] + 0.2f * rng_normal(&r);
            ref[i] = lp[i] + 0.3f * rng_normal(&r);
        }
        pg_obj o = {{tok, tg, w, adv, old, beh, ref},
                    {.inv_temp = 1.0f / 0.7f, .clip_low = 0.2f, .clip_high = 0.2f, .is_cap = 2.0f, .ent_coef = 0.02f,
                     .kl_coef = 0.1f, .kl_kind = KB_KL_K3, .dscale = 1.0f},
                    B, T};
        pg_objective_of(&m, &o);
        kb_download(ctx, g, m.grads, m.n_params * 4);
        char msg[160];
        int bad = model_gradcheck(&m, p, g, pg_objective_of, &o, 6, 5e-2, 24, msg, sizeof msg);
        CHECK(bad == 0, "policy-gradient loss through the model (clip, IS weights, KL k3, entropy): sampled gradients "
                        "within 5e-2·(|fd| + rms): %s", msg);
        free(p);
        free(g);
        gpt2_free(&m);
    }
    // scalar heads without the classifier: a critic (clipped MSE) and a reward model (BCE)
    for (int k = 0; k < 2; k++) {
        gpt2_config cfg = tiny(2);
        gpt2 m;
        gpt2_build(&m, ctx, &cfg, B, T, 1);
        gpt2_init(&m, 30 + (uint64_t)k);
        float *p = xmalloc(m.n_params * 4), *g = xmalloc(m.n_params * 4), *hv = xmalloc(sizeof(float) * N * 2);
        perturb(&m, p, 31 + (uint64_t)k, 0.1f);
        gpt2_heads_forward(&m, tok, B, T, hv);
        for (int i = 0; i < N; i++) {
            y[i] = k ? rng_uniform(&r) : rng_normal(&r);
            old_v[i] = hv[i * 2 + k] + 0.5f * rng_normal(&r);
        }
        float wh[32];
        for (int i = 0; i < N; i++) wh[i] = k && i % T != T - 1 ? 0.0f : 1.0f / N;  // BCE at the last token only
        head_obj o = {tok, y, wh, old_v, k ? KB_HEAD_BCE : KB_HEAD_MSE, k ? 0.0f : 0.4f, B, T, k};
        head_objective_of(&m, &o);
        kb_download(ctx, g, m.grads, m.n_params * 4);
        char msg[160];
        int bad = model_gradcheck(&m, p, g, head_objective_of, &o, 6, 5e-2, 40 + (uint64_t)k, msg, sizeof msg);
        CHECK(bad == 0, "%s through the model: sampled gradients within 5e-2·(|fd| + rms): %s",
              k ? "reward-model head (BCE at the last token)" : "critic head (clipped MSE)", msg);
        free(p);
        free(g);
        free(hv);
        gpt2_free(&m);
    }
}

// A broken model backward must be caught by the model-level check: here the heads' gradient
// is applied at twice its size by running the step twice without zeroing (a classic bug).
static double doubled_head_objective(gpt2 *m, void *arg) { return head_objective_of(m, arg); }

static void test_model_gradcheck_catches(void) {
    const int B = 2, T = 16, N = B * T;
    gpt2_config cfg = tiny(1);
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, B, T, 1);
    gpt2_init(&m, 50);
    float *p = xmalloc(m.n_params * 4), *g = xmalloc(m.n_params * 4);
    perturb(&m, p, 51, 0.1f);
    uint64_t r = 52;
    int32_t tok[32];
    float y[32], w[32];
    for (int i = 0; i < N; i++) tok[i] = (int32_t)(rng_next(&r) % 61), y[i] = rng_normal(&r), w[i] = 1.0f / N;
    head_obj o = {tok, y, w, NULL, KB_HEAD_MSE, 0, B, T, 0};
    gpt2_zero_grad(&m);
    gpt2_head_forward_backward(&m, tok, y, w, NULL, B, T, KB_HEAD_MSE, 0, 1.0f, 0);
    gpt2_head_forward_backward(&m, tok, y, w, NULL, B, T, KB_HEAD_MSE, 0, 1.0f, 0);  // not zeroed: 2× the gradient
    kb_download(ctx, g, m.grads, m.n_params * 4);
    char msg[160];
    int bad = model_gradcheck(&m, p, g, doubled_head_objective, &o, 6, 5e-2, 53, msg, sizeof msg);
    CHECK(bad > 0, "the model-level gradient check fails on a doubled gradient (%s)", msg);
    free(p);
    free(g);
    gpt2_free(&m);
}

static void test_head_model_from_lm(void) {
    char dir[] = "/tmp/berry_test_rl.XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp");
    char *lm_path = xasprintf("%s/lm.bin", dir), *out_path = xasprintf("%s/trunk.bin", dir);
    gpt2_config cfg = tiny(0), hc = tiny(3);
    gpt2 lm, hm, back;
    gpt2_build(&lm, ctx, &cfg, 2, 16, 0);
    gpt2_init(&lm, 60);
    float *p = xmalloc(lm.n_params * 4);
    perturb(&lm, p, 61, 0.05f);
    berr e;
    CHECK(gpt2_save(&lm, lm_path, 0, NULL, 0, &e) == 0, "save the LM: %s", e.msg);
    gpt2_build(&hm, ctx, &hc, 2, 16, 1);
    CHECK(gpt2_load_trunk(&hm, lm_path, 7, &e) == 0, "a 3-head model from the LM checkpoint: %s", e.msg);
    const int N = 32;
    int32_t tok[32], rows[32];
    uint64_t r = 62;
    for (int i = 0; i < N; i++) tok[i] = (int32_t)(rng_next(&r) % 61), rows[i] = i;
    float *a = xmalloc(sizeof(float) * N * cfg.Vp), *b = xmalloc(sizeof(float) * N * cfg.Vp);
    gpt2_logits(&lm, tok, 2, 16, rows, N, a);
    gpt2_logits(&hm, tok, 2, 16, rows, N, b);
    CHECK(memcmp(a, b, sizeof(float) * N * cfg.Vp) == 0, "the head model's logits are the LM's, bit for bit");
    float *hp = xmalloc(hm.n_params * 4);
    gpt2_get_params(&hm, hp);
    double hw = 0;
    for (size_t i = 0; i < hm.size[GPT2_HEADW]; i++) hw += fabs(hp[hm.off[GPT2_HEADW] + i]);
    CHECK(hw > 0, "the heads are initialised (Σ|w| = %.3g)", hw);
    CHECK(gpt2_save_lm(&hm, out_path, NULL, 0, &e) == 0, "export the trunk: %s", e.msg);
    gpt2_ckpt_info info;
    CHECK(gpt2_ckpt_info_read(out_path, &info, &e) == 0 && info.cfg.n_scalar == 0, "the export is a plain LM");
    gpt2_build(&back, ctx, &cfg, 2, 16, 0);
    CHECK(gpt2_load(&back, out_path, 0, NULL, NULL, &e) == 0, "load the export: %s", e.msg);
    float *q = xmalloc(back.n_params * 4);
    gpt2_get_params(&back, q);
    CHECK(memcmp(p, q, back.n_params * 4) == 0, "LM → head model → LM gives the same weights");
    // A checkpoint of another trunk is refused with both shapes named.
    gpt2_config other = cfg;
    other.C = 48, other.NH = 3;
    gpt2 om;
    gpt2_build(&om, ctx, &other, 2, 16, 0);
    CHECK(gpt2_load_trunk(&om, lm_path, 1, &e) != 0 && strstr(e.msg, "C=32") && strstr(e.msg, "C=48"),
          "another trunk refused: %s", e.msg);

    // Freezing: only layers >= 1, lnf and the heads move in a head step.
    gpt2_set_trainable(&hm, 1);
    float y[32], w[32];
    for (int i = 0; i < N; i++) y[i] = rng_normal(&r), w[i] = 1.0f / N;
    float *before = xmalloc(hm.n_params * 4), *after = xmalloc(hm.n_params * 4);
    gpt2_get_params(&hm, before);
    gpt2_zero_grad(&hm);
    gpt2_head_forward_backward(&hm, tok, y, w, NULL, 2, 16, KB_HEAD_MSE, 0, 1.0f, 2);
    gpt2_opt o = {0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    gpt2_update(&hm, &o, 1e-2f);
    gpt2_get_params(&hm, after);
    int frozen_same = 1, upper_moved = 0;
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        size_t n = hm.size[t], per = n / (size_t)hc.L;
        int per_layer = t != GPT2_WTE && t != GPT2_WPE && t != GPT2_HEADW && t != GPT2_HEADB && t != GPT2_LNFW && t != GPT2_LNFB;
        size_t frozen = t == GPT2_WTE || t == GPT2_WPE ? n : per_layer ? per : 0;
        for (size_t i = 0; i < frozen; i++) frozen_same &= before[hm.off[t] + i] == after[hm.off[t] + i];
        for (size_t i = frozen; i < n; i++) upper_moved |= before[hm.off[t] + i] != after[hm.off[t] + i];
    }
    CHECK(frozen_same && upper_moved, "frozen embeddings and layer 0 unchanged (%d), the rest trained (%d)", frozen_same,
          upper_moved);
    free(before), free(after), free(q), free(hp), free(a), free(b), free(p);
    gpt2_free(&om), gpt2_free(&back), gpt2_free(&hm), gpt2_free(&lm);
    unlink(lm_path), unlink(out_path), rmdir(dir);
    free(lm_path), free(out_path);
}

static void test_threads(void) {
    const int N = 64, V = 500, Vp = 512;
    float *x1 = xmalloc(sizeof(float) * N * Vp), *x2 = xmalloc(sizeof(float) * N * Vp);
    int32_t tg[64];
    float w[64], adv[64], old[64], l1[64], l2[64];
    uint64_t r = 70;
    for (int i = 0; i < N * Vp; i++) x1[i] = rng_normal(&r);
    for (int i = 0; i < N; i++)
        tg[i] = (int32_t)(rng_next(&r) % V), w[i] = 1.0f / N, adv[i] = rng_normal(&r), old[i] = -6.0f + rng_normal(&r);
    memcpy(x2, x1, sizeof(float) * N * Vp);
    kb_pg_params p = {.inv_temp = 1.3f, .clip_low = 0.2f, .clip_high = 0.2f, .ent_coef = 0.01f, .dscale = 1.0f};
    kb_pg_rows a = {tg, w, adv, old, NULL, NULL, NULL, NULL, l1, NULL, NULL}, b = a;
    b.loss = l2;
    int th = omp_get_max_threads();
    omp_set_num_threads(1);
    kb_pg_loss(ctx, (kb_act *)x1, &p, &a, N, V, Vp, 1);
    omp_set_num_threads(2);
    kb_pg_loss(ctx, (kb_act *)x2, &p, &b, N, V, Vp, 1);
    omp_set_num_threads(th);
    CHECK(memcmp(x1, x2, sizeof(float) * N * Vp) == 0 && memcmp(l1, l2, sizeof l1) == 0,
          "pg loss and gradient: the same bits with 1 and 2 threads");
    free(x1), free(x2);
}

// A one-step bandit: after a fixed one-token prompt the policy emits one token; reward 1 for
// token 7, else 0. REINFORCE with a mean baseline through gpt2_pg_forward_backward must raise
// p(7) from ~1/V to most of the mass.
static void test_bandit_learns(void) {
    gpt2_config cfg = tiny(0);
    cfg.maxT = 2;
    const int B = 32, T = 2, V = cfg.V;
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, B, T, 1);
    gpt2_init(&m, 80);
    gpt2_opt o = {0.9f, 0.95f, 1e-8f, 0.0f, 1.0f};
    kb_pg_params p = {.inv_temp = 1.0f, .clip_low = 0.2f, .clip_high = 0.2f, .dscale = 1.0f};
    int32_t tok[64], tg[64], rows[32];
    float w[64], adv[64], old[64], lp[64];
    float *logits = xmalloc(sizeof(float) * B * T * cfg.Vp);
    uint64_t r = 81;
    double p7_first = 0, p7 = 0;
    for (int it = 0; it < 60; it++) {
        for (int b = 0; b < B; b++) tok[b * T] = 0, rows[b] = b * T;
        for (int b = 0; b < B; b++) tok[b * T + 1] = 0;
        gpt2_logits(&m, tok, B, T, rows, B, logits);
        // sample one token per sequence from the policy
        double mean = 0;
        for (int b = 0; b < B; b++) {
            const float *z = logits + (size_t)b * cfg.Vp;
            double mx = -1e30, s = 0;
            for (int j = 0; j < V; j++) mx = fmax(mx, z[j]);
            for (int j = 0; j < V; j++) s += exp(z[j] - mx);
            double u = rng_uniform(&r) * s, c = 0;
            int a = V - 1;
            for (int j = 0; j < V; j++) {
                c += exp(z[j] - mx);
                if (u < c) {
                    a = j;
                    break;
                }
            }
            if (b == 0) {
                p7 = exp(z[7] - mx) / s;
                if (it == 0) p7_first = p7;
            }
            tok[b * T + 1] = a;
            tg[b * T] = a, tg[b * T + 1] = -1;
            adv[b * T] = a == 7 ? 1.0f : 0.0f;
            mean += adv[b * T] / B;
        }
        for (int b = 0; b < B; b++) adv[b * T] -= (float)mean, adv[b * T + 1] = 0, w[b * T] = 1.0f / B, w[b * T + 1] = 0;
        gpt2_token_logprobs(&m, tok, tg, B, T, 1.0f, lp, NULL);
        for (int i = 0; i < B * T; i++) old[i] = lp[i];
        gpt2_pg_batch pb = {tok, tg, w, adv, old, NULL, NULL};
        for (int epoch = 0; epoch < 2; epoch++) {
            gpt2_zero_grad(&m);
            gpt2_pg_forward_backward(&m, &pb, B, T, &p);
            gpt2_update(&m, &o, 3e-2f);
        }
    }
    CHECK(p7_first < 0.05 && p7 > 0.6, "the bandit is learned: p(rewarded token) %.3f → %.3f in 60 iterations", p7_first, p7);
    free(logits);
    gpt2_free(&m);
}

int main(void) {
    berr e;
    ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    test_pg_loss();
    test_head_loss();
    test_token_logprobs();
    test_model_gradients();
    test_model_gradcheck_catches();
    test_head_model_from_lm();
    test_threads();
    test_bandit_learns();
    kb_close(ctx);
    return test_summary();
}
