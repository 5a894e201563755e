// test_cuda_rl.c — the RL ops and model features on CUDA against the CPU reference (device
// only): kb_pg_loss (values and the fused gradient, shared-memory and two-read paths),
// kb_head_loss, the model's token log-probs at a temperature, the policy-gradient and
// scalar-head micro-steps (every gradient tensor), several models with roles on one context
// (FLOPs per role and phase), and two CUDA contexts open at once (no process-wide state).
#include <stdlib.h>
#include <string.h>

#include "kernels/gpt2.h"
#include "tests/device/dev_util.h"

static void test_pg_op(int N, int V, int want_grad) {
    int Vp = (V + 127) / 128 * 128;
    printf("kb_pg_loss N=%d V=%d%s\n", N, V, want_grad ? " (with gradient)" : "");
    float *x = rnd((size_t)N * Vp, 2.0f);
    int32_t *tg = xmalloc(N * 4);
    float *w = xmalloc(N * 4), *adv = xmalloc(N * 4), *old = xmalloc(N * 4), *beh = xmalloc(N * 4), *ref = xmalloc(N * 4);
    for (int i = 0; i < N; i++) {
        tg[i] = i % 13 == 7 ? -1 : (int32_t)(rng_next(&g_rng) % V);
        w[i] = i % 17 == 3 ? 0.0f : 1.0f / N;
        adv[i] = rng_normal(&g_rng);
    }
    // lp_old from the CPU's own log-probs, so ratios fall inside and outside the clip range
    float *lp = xmalloc(N * 4);
    {
        float *xc = xmalloc((size_t)N * Vp * 4);
        memcpy(xc, x, (size_t)N * Vp * 4);
        float *z = xcalloc(N, 4);
        kb_pg_params p0 = {.inv_temp = 1 / 0.8f, .clip_low = 0.2f, .clip_high = 0.2f, .dscale = 1};
        kb_pg_rows r0 = {tg, w, z, z, NULL, NULL, lp, NULL, NULL, NULL, NULL};
        kb_pg_loss(CPU, (kb_act *)xc, &p0, &r0, N, V, Vp, 0);
        free(xc), free(z);
    }
    for (int i = 0; i < N; i++) {
        old[i] = lp[i] + 0.4f * rng_normal(&g_rng);
        beh[i] = old[i] + 0.3f * rng_normal(&g_rng);
        ref[i] = lp[i] + 0.3f * rng_normal(&g_rng);
    }
    kb_pg_params p = {.inv_temp = 1 / 0.8f, .clip_low = 0.2f, .clip_high = 0.28f, .dual_clip = 3.0f, .is_cap = 2.0f,
                      .ent_coef = 0.01f, .kl_coef = 0.05f, .kl_kind = KB_KL_K3, .dscale = 1.0f};
    float *outs[2][5];
    float *grad[2];
    kb_ctx *cs[2] = {CPU, GPU};
    for (int k = 0; k < 2; k++) {
        kb_ctx *c = cs[k];
        kb_act *lg = act_of(c, x, (size_t)N * Vp);
        float *o[5];
        for (int j = 0; j < 5; j++) o[j] = f32_nan(c, N);
        kb_pg_rows r = {i32_of(c, tg, N), f32_of(c, w, N), f32_of(c, adv, N), f32_of(c, old, N), f32_of(c, beh, N),
                        f32_of(c, ref, N), o[0], o[1], o[2], o[3], o[4]};
        kb_pg_loss(c, lg, &p, &r, N, V, Vp, want_grad);
        for (int j = 0; j < 5; j++) outs[k][j] = get_f32(c, o[j], N);
        grad[k] = want_grad ? get_act(c, lg, (size_t)N * Vp) : NULL;
    }
    EXPECT_CLOSE("logp", outs[1][0], outs[0][0], N, 1e-2);
    EXPECT_CLOSE("entropy", outs[1][1], outs[0][1], N, 1e-2);
    EXPECT_CLOSE("loss", outs[1][2], outs[0][2], N, 2e-2);
    EXPECT_CLOSE("ratio", outs[1][4], outs[0][4], N, 2e-2);
    int clip_same = 0;
    for (int i = 0; i < N; i++) clip_same += outs[1][3][i] == outs[0][3][i];
    printf("  clip flags equal on %d of %d rows\n", clip_same, N);
    CHECK(clip_same >= N - N / 50, "clip flags agree on %d of %d rows (bf16 logits may move a ratio across a bound)",
          clip_same, N);
    if (want_grad) EXPECT_CLOSE("gradient (in place)", grad[1], grad[0], (size_t)N * Vp, 2e-2);
    for (int k = 0; k < 2; k++) {
        for (int j = 0; j < 5; j++) free(outs[k][j]);
        free(grad[k]);
    }
    free(x), free(tg), free(w), free(adv), free(old), free(beh), free(ref), free(lp);
}

static void test_head_op(void) {
    const int N = 4096, H = 3;
    printf("kb_head_loss N=%d H=%d\n", N, H);
    float *v = rnd((size_t)N * H, 1.5f), *y = xmalloc(N * 4), *yb = xmalloc(N * 4), *w = xmalloc(N * 4), *old = xmalloc(N * 4);
    for (int i = 0; i < N; i++) {
        y[i] = rng_normal(&g_rng), yb[i] = rng_uniform(&g_rng), w[i] = i % 5 == 1 ? 0.0f : 1.0f;
        old[i] = v[i * H + 1] + 0.5f * rng_normal(&g_rng);
    }
    for (int kind = 0; kind < 2; kind++) {
        float *loss[2], *d[2];
        kb_ctx *cs[2] = {CPU, GPU};
        for (int k = 0; k < 2; k++) {
            kb_ctx *c = cs[k];
            kb_act *dh = act_nan(c, (size_t)N * H);
            float *l = f32_nan(c, N);
            kb_head_loss(c, dh, l, act_of(c, v, (size_t)N * H), f32_of(c, kind ? yb : y, N), f32_of(c, w, N),
                         f32_of(c, old, N), kind ? KB_HEAD_BCE : KB_HEAD_MSE, kind ? 0.0f : 0.3f, 0.5f, N, H, 1);
            loss[k] = get_f32(c, l, N);
            d[k] = get_act(c, dh, (size_t)N * H);
        }
        EXPECT_CLOSE(kind ? "BCE loss" : "clipped MSE loss", loss[1], loss[0], N, 1e-2);
        EXPECT_CLOSE(kind ? "BCE gradient" : "clipped MSE gradient", d[1], d[0], (size_t)N * H, 1e-2);
        for (int k = 0; k < 2; k++) free(loss[k]), free(d[k]);
    }
    free(v), free(y), free(yb), free(w), free(old);
}

static void same_params(gpt2 *a, gpt2 *b, uint64_t seed) {
    gpt2_init(a, seed);
    float *p = xmalloc(a->n_params * 4);
    gpt2_get_params(a, p);
    uint64_t r = seed + 1;
    for (size_t i = 0; i < a->n_params; i++) p[i] = bf16_round(p[i] + 0.05f * rng_normal(&r));
    gpt2_set_params(a, p);
    gpt2_set_params(b, p);
    free(p);
}

static void test_model(void) {
    const int B = 4, T = 64, N = B * T, V = 500;
    gpt2_config cfg = gpt2_config_depth(2, V, T);
    cfg.n_scalar = 2;
    printf("model L=%d C=%d V=%d B=%d T=%d with 2 heads\n", cfg.L, cfg.C, V, B, T);
    gpt2 mc, mg;
    gpt2_build(&mc, CPU, &cfg, B, T, 1);
    gpt2_build(&mg, GPU, &cfg, B, T, 1);
    same_params(&mc, &mg, 90);
    int32_t *tok = xmalloc(N * 4), *tg = xmalloc(N * 4);
    float *w = xmalloc(N * 4), *adv = xmalloc(N * 4), *old = xmalloc(N * 4), *y = xmalloc(N * 4);
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)(rng_next(&g_rng) % V);
        tg[i] = i % T < 16 ? -1 : (int32_t)(rng_next(&g_rng) % V);
        w[i] = 1.0f / N, adv[i] = rng_normal(&g_rng), y[i] = rng_uniform(&g_rng);
    }
    float *lp[2], *ent[2];
    gpt2 *ms[2] = {&mc, &mg};
    for (int k = 0; k < 2; k++) {
        lp[k] = xmalloc(N * 4), ent[k] = xmalloc(N * 4);
        gpt2_token_logprobs(ms[k], tok, tg, B, T, 0.7f, lp[k], ent[k]);
    }
    EXPECT_CLOSE("token log-probs at temperature 0.7", lp[1], lp[0], N, 1e-2);
    EXPECT_CLOSE("token entropies at temperature 0.7", ent[1], ent[0], N, 1e-2);
    int nonpos = 1;
    for (int i = 0; i < N; i++) nonpos &= lp[1][i] <= 0 && isfinite(lp[1][i]);
    CHECK(nonpos, "every CUDA log-prob is finite and <= 0");
    // Ratios within [0.87, 1.15], clipped at [0.5, 2]: no token near a clip bound, where bf16
    // rounding of a log-prob would switch its whole gradient on or off.
    for (int i = 0; i < N; i++) old[i] = lp[0][i] + 0.14f * (2 * rng_uniform(&g_rng) - 1);
    kb_pg_params p = {.inv_temp = 1 / 0.7f, .clip_low = 0.5f, .clip_high = 1.0f, .ent_coef = 0.01f, .dscale = 1.0f};
    gpt2_pg_batch pb = {tok, tg, w, adv, old, NULL, NULL};
    float *g[2], *out[2][5];
    double lsum[2];
    for (int k = 0; k < 2; k++) {
        gpt2_zero_grad(ms[k]);
        gpt2_pg_forward_backward(ms[k], &pb, B, T, &p);
        g[k] = get_f32(ms[k]->ctx, ms[k]->grads, ms[k]->n_params);
        for (int j = 0; j < 5; j++) out[k][j] = xmalloc(N * 4);
        gpt2_pg_read(ms[k], out[k][0], out[k][1], out[k][2], out[k][3], out[k][4]);
        gpt2_read_stats(ms[k], &lsum[k], NULL);
    }
    printf("  pg loss sum cpu %.6g cuda %.6g\n", lsum[0], lsum[1]);
    const char *on[5] = {"pg step: logp", "pg step: entropy", "pg step: loss", "pg step: clipped", "pg step: ratio"};
    for (int j = 0; j < 5; j++) {
        if (j == 3) continue;  // flags: a ratio at a clip bound may flip
        EXPECT_CLOSE(on[j], out[1][j], out[0][j], N, 2e-2);
    }
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 5; j++) free(out[k][j]);
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        if (!mc.size[t] || t == GPT2_HEADW || t == GPT2_HEADB) continue;
        char name[64];
        snprintf(name, sizeof name, "pg grad %s", gpt2_tensor_name(t));
        EXPECT_CLOSE(name, g[1] + mc.off[t], g[0] + mc.off[t], mc.size[t], 3e-2);
    }
    free(g[0]), free(g[1]);
    for (int i = 0; i < N; i++) w[i] = i % T == T - 1 ? 1.0f / B : 0.0f;  // an ORM: the last token
    for (int k = 0; k < 2; k++) {
        gpt2_zero_grad(ms[k]);
        gpt2_head_forward_backward(ms[k], tok, y, w, NULL, B, T, KB_HEAD_BCE, 0, 1.0f, 1);
        g[k] = get_f32(ms[k]->ctx, ms[k]->grads, ms[k]->n_params);
    }
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        if (!mc.size[t] || t == GPT2_WTE) continue;  // wte: only the (sparse) embedding part, checked below
        char name[64];
        snprintf(name, sizeof name, "head grad %s", gpt2_tensor_name(t));
        EXPECT_CLOSE(name, g[1] + mc.off[t], g[0] + mc.off[t], mc.size[t], 3e-2);
    }
    EXPECT_CLOSE("head grad wte", g[1] + mc.off[GPT2_WTE], g[0] + mc.off[GPT2_WTE], (size_t)V * cfg.C, 3e-2);
    free(g[0]), free(g[1]);
    for (int k = 0; k < 2; k++) free(lp[k]), free(ent[k]);
    free(tok), free(tg), free(w), free(adv), free(old), free(y);
    gpt2_free(&mc);
    gpt2_free(&mg);
}

// Policy, frozen reference and critic on one context, each charged to its role.
static void test_roles(void) {
    printf("three models on one CUDA context\n");
    const int B = 2, T = 32, N = B * T, V = 300;
    gpt2_config lm = gpt2_config_depth(2, V, T), hc = lm;
    hc.n_scalar = 1;
    gpt2 pol, ref, cri;
    gpt2_build(&pol, GPU, &lm, B, T, 1);
    gpt2_build(&ref, GPU, &lm, B, T, 0);
    gpt2_build(&cri, GPU, &hc, B, T, 1);
    gpt2_init(&pol, 1), gpt2_init(&ref, 1), gpt2_init(&cri, 2);
    gpt2_set_role(&pol, "test.policy"), gpt2_set_role(&ref, "test.reference"), gpt2_set_role(&cri, "test.critic");
    int32_t tok[64], tg[64];
    float w[64], adv[64], lp[64], y[64];
    for (int i = 0; i < N; i++)
        tok[i] = (int32_t)(rng_next(&g_rng) % V), tg[i] = (int32_t)(rng_next(&g_rng) % V), w[i] = 1.0f / N,
        adv[i] = rng_normal(&g_rng), y[i] = rng_normal(&g_rng);
    gpt2_token_logprobs(&ref, tok, tg, B, T, 1.0f, lp, NULL);
    kb_pg_params p = {.inv_temp = 1, .clip_low = 0.2f, .clip_high = 0.2f, .dscale = 1};
    gpt2_pg_batch pb = {tok, tg, w, adv, lp, NULL, NULL};
    gpt2_opt o = {0.9f, 0.95f, 1e-8f, 0.0f, 1.0f};
    gpt2_zero_grad(&pol);
    gpt2_pg_forward_backward(&pol, &pb, B, T, &p);
    gpt2_update(&pol, &o, 1e-3f);
    gpt2_zero_grad(&cri);
    gpt2_head_forward_backward(&cri, tok, y, w, NULL, B, T, KB_HEAD_MSE, 0, 1, 0);
    gpt2_update(&cri, &o, 1e-3f);
    kb_sync(GPU);
    const kb_counts *cp = kb_counts_of(GPU, "test.policy"), *cr = kb_counts_of(GPU, "test.reference"),
                    *cc = kb_counts_of(GPU, "test.critic");
    double fp = 0, bp = 0, fr = 0, br = 0, fc = 0, bc = 0;
    for (int k = 0; k < KB_NCLASSES; k++) {
        fp += cp ? cp->flops[KB_FWD][k] : 0, bp += cp ? cp->flops[KB_BWD][k] : 0;
        fr += cr ? cr->flops[KB_FWD][k] : 0, br += cr ? cr->flops[KB_BWD][k] : 0;
        fc += cc ? cc->flops[KB_FWD][k] : 0, bc += cc ? cc->flops[KB_BWD][k] : 0;
    }
    printf("  FLOPs fwd/bwd: policy %.3g/%.3g reference %.3g/%.3g critic %.3g/%.3g\n", fp, bp, fr, br, fc, bc);
    CHECK(fp > 0 && bp > fp && fr > 0 && br == 0 && fc > 0 && bc > 0 && fc < fp,
          "FLOPs by role and phase: the reference has no backward, the critic skips the classifier");
    gpt2_free(&pol), gpt2_free(&ref), gpt2_free(&cri);
}

// A second CUDA context beside the first: models on both, one closed, the other still works.
static void test_two_contexts(void) {
    berr e;
    kb_ctx *g2 = kb_open(KB_CUDA, 0, &e);
    CHECK(g2 != NULL, "a second CUDA context opens: %s", g2 ? "" : e.msg);
    if (!g2) return;
    gpt2_config c = gpt2_config_depth(2, 200, 16);
    gpt2 a, b;
    gpt2_build(&a, GPU, &c, 2, 16, 0);
    gpt2_build(&b, g2, &c, 2, 16, 0);
    gpt2_init(&a, 5), gpt2_init(&b, 5);
    int32_t tok[32], rows[32];
    for (int i = 0; i < 32; i++) tok[i] = i % 200, rows[i] = i;
    float *la = xmalloc(32 * c.Vp * 4), *lb = xmalloc(32 * c.Vp * 4);
    gpt2_logits(&b, tok, 2, 16, rows, 32, lb);
    gpt2_free(&b);
    kb_close(g2);  // its allocations and matmul plans go with it; the first context keeps its own
    gpt2_logits(&a, tok, 2, 16, rows, 32, la);
    CHECK(memcmp(la, lb, 32 * c.Vp * 4) == 0, "two contexts give the same logits, and closing one leaves the other working");
    free(la), free(lb);
    gpt2_free(&a);
}

int main(void) {
    dev_open();
    test_pg_op(512, 50257, 1);   // the row staged in shared memory
    test_pg_op(256, 120000, 1);  // too wide for shared memory: two reads
    test_pg_op(512, 50257, 0);
    test_head_op();
    test_model();
    test_roles();
    test_two_contexts();
    kb_close(GPU);
    kb_close(CPU);
    return test_summary();
}
