// bench_ops.c — each op at GPT-2 training shapes, timed alone (median of repeats, synced):
// TFLOP/s for matmuls and attention, GB/s for the memory-bound ops. Where the step's time
// goes, op by op, to steer kernel work.
//   bench_ops [B T C NH V]   (default: d12 at B=64, T=1024)
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

static kb_ctx *ctx;

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define TIME(label, flops, bytes, call)                                                                    \
    do {                                                                                                   \
        double t_[15];                                                                                     \
        for (int r_ = 0; r_ < 3; r_++) call;                                                               \
        for (int r_ = 0; r_ < 15; r_++) {                                                                  \
            kb_sync(ctx);                                                                                  \
            double t0_ = now_sec();                                                                        \
            call;                                                                                          \
            kb_sync(ctx);                                                                                  \
            t_[r_] = now_sec() - t0_;                                                                      \
        }                                                                                                  \
        qsort(t_, 15, sizeof(double), cmpd);                                                               \
        double s_ = t_[7];                                                                                 \
        printf("  %-40s %8.3f ms", label, s_ * 1e3);                                                       \
        if ((flops) > 0) printf("  %7.1f TFLOP/s", (flops) / s_ / 1e12);                                   \
        if ((bytes) > 0) printf("  %7.1f GB/s", (bytes) / s_ / 1e9);                                       \
        printf("\n");                                                                                      \
    } while (0)

static kb_act *act(size_t n) {
    float *h = xmalloc(n * 4);
    uint64_t s = n;
    for (size_t i = 0; i < n; i++) h[i] = 0.5f * rng_normal(&s);
    kb_act *p = kb_alloc(ctx, n * kb_act_size(ctx));
    kb_upload_act(ctx, p, h, n);
    free(h);
    return p;
}

int main(int argc, char **argv) {
    int B = 64, T = 1024, C = 768, NH = 12, V = 50257;
    // "attn": one forward + backward (for a profiler); "attn-time": time only attention
    int attn_only = argc == 2 && !strcmp(argv[1], "attn"), attn_time = argc == 2 && !strcmp(argv[1], "attn-time");
    if (argc == 6) B = atoi(argv[1]), T = atoi(argv[2]), C = atoi(argv[3]), NH = atoi(argv[4]), V = atoi(argv[5]);
    int Vp = (V + 127) / 128 * 128, N = B * T;
    berr e;
    ctx = kb_open(kb_default_backend(), 0, &e);
    if (!ctx) die("%s", e.msg);
    size_t as = kb_act_size(ctx);
    printf("ops at B=%d T=%d C=%d NH=%d V=%d on %s\n", B, T, C, NH, V, kb_device_name(ctx));
    kb_act *x = act((size_t)N * C), *y = act((size_t)N * C), *z = act((size_t)N * C);
    kb_act *qkv = act((size_t)N * 3 * C), *dqkv = act((size_t)N * 3 * C), *h = act((size_t)N * 4 * C),
           *hp = act((size_t)N * 4 * C);
    kb_act *w = act((size_t)4 * C * C), *b = act(4 * C), *lnw = act(C);
    float *dw = kb_alloc(ctx, (size_t)4 * C * C * 4), *db = kb_alloc(ctx, 4 * C * 4);
    float *mean = kb_alloc(ctx, N * 4), *rstd = kb_alloc(ctx, N * 4), *lse = kb_alloc(ctx, (size_t)N * NH * 4);
    kb_zero(ctx, dw, (size_t)4 * C * C * 4);
    kb_zero(ctx, db, 4 * C * 4);
    double nc = (double)N * C;
    if (attn_only) {
        kb_attention_forward(ctx, y, lse, qkv, B, T, C, NH);
        kb_attention_backward(ctx, dqkv, z, qkv, y, lse, B, T, C, NH);
        kb_sync(ctx);
        kb_close(ctx);
        return 0;
    }
    if (attn_time) {
        double pairs = (double)B * NH * T * (T + 1) / 2.0, hs = (double)C / NH;
        TIME("fwd  attention", 4 * pairs * hs, 0, kb_attention_forward(ctx, y, lse, qkv, B, T, C, NH));
        TIME("bwd  attention", 8 * pairs * hs, 0, kb_attention_backward(ctx, dqkv, z, qkv, y, lse, B, T, C, NH));
        kb_close(ctx);
        return 0;
    }
    printf("matmuls (forward: out = inp·Wᵀ; backward: dinp and dW)\n");
    struct { const char *name; int C, OC; int gelu; } mm[] = {
        {"qkv    768->2304", C, 3 * C, 0}, {"attproj 768->768", C, C, 0}, {"fc 768->3072 +gelu", C, 4 * C, 1},
        {"fcproj 3072->768", 4 * C, C, 0}};
    for (int i = 0; i < 4; i++) {
        double f = 2.0 * N * mm[i].C * mm[i].OC;
        char l[96];
        kb_act *in = mm[i].C == C ? x : h, *out = mm[i].OC == C ? y : (mm[i].OC == 3 * C ? qkv : hp);
        snprintf(l, sizeof l, "fwd  %s", mm[i].name);
        TIME(l, f, 0, kb_matmul_forward(ctx, out, mm[i].gelu ? h : NULL, in, w, b, N, mm[i].C, mm[i].OC));
        kb_act *din = mm[i].C == C ? z : hp, *dout = mm[i].OC == C ? y : (mm[i].OC == 3 * C ? qkv : h);
        snprintf(l, sizeof l, "bwd  %s", mm[i].name);
        TIME(l, 2 * f, 0, kb_matmul_backward(ctx, din, dw, db, dout, in, w, i == 3 ? h : NULL, N, mm[i].C, mm[i].OC));
    }
    {
        int chunk = 8192;
        kb_act *logits = act((size_t)chunk * Vp), *wte = act((size_t)Vp * C);
        float *dwte = kb_alloc(ctx, (size_t)Vp * C * 4), *nll = kb_alloc(ctx, chunk * 4);
        int32_t *tg = kb_alloc(ctx, chunk * 4);
        kb_zero(ctx, tg, chunk * 4);
        double f = 2.0 * chunk * C * Vp;
        TIME("fwd  classifier matmul (8192 rows)", f, 0, kb_matmul_forward(ctx, logits, NULL, x, wte, NULL, chunk, C, Vp));
        TIME("bwd  classifier matmul (8192 rows)", 2 * f, 0,
             kb_matmul_backward(ctx, z, dwte, NULL, logits, x, wte, NULL, chunk, C, Vp));
        TIME("classifier softmax+grad (8192 rows)", 0, 3.0 * chunk * Vp * as,
             kb_classifier(ctx, logits, nll, NULL, tg, NULL, 1e-5f, 1.0f, chunk, V, Vp, 1));
        // The fused policy-gradient loss in the same pass (every term on), against the line above.
        float *rin = kb_alloc(ctx, (size_t)chunk * 6 * 4), *rout = kb_alloc(ctx, (size_t)chunk * 5 * 4);
        kb_zero(ctx, rin, (size_t)chunk * 6 * 4);
        kb_pg_params pgp = {.inv_temp = 1.25f, .clip_low = 0.2f, .clip_high = 0.28f, .dual_clip = 3, .is_cap = 2,
                            .ent_coef = 0.01f, .kl_coef = 0.05f, .kl_kind = KB_KL_K3, .dscale = 1e-5f};
        kb_pg_rows pgr = {tg, rin, rin + chunk, rin + 2 * chunk, rin + 3 * chunk, rin + 4 * chunk, rout, rout + chunk,
                          rout + 2 * chunk, rout + 3 * chunk, rout + 4 * chunk};
        TIME("pg loss (all terms) + grad (8192 rows)", 0, 3.0 * chunk * Vp * as, kb_pg_loss(ctx, logits, &pgp, &pgr, chunk, V, Vp, 1));
    }
    printf("attention (model FLOPs, causal)\n");
    double pairs = (double)B * NH * T * (T + 1) / 2.0, hs = (double)C / NH;
    TIME("fwd  attention", 4 * pairs * hs, 0, kb_attention_forward(ctx, y, lse, qkv, B, T, C, NH));
    TIME("bwd  attention", 8 * pairs * hs, 0, kb_attention_backward(ctx, dqkv, z, qkv, y, lse, B, T, C, NH));
    printf("memory-bound\n");
    TIME("layernorm fwd", 0, 2 * nc * as, kb_layernorm_forward(ctx, y, mean, rstd, x, lnw, lnw, N, C));
    TIME("residual+layernorm fwd", 0, 4 * nc * as,
         kb_residual_layernorm_forward(ctx, z, y, mean, rstd, x, y, lnw, lnw, N, C));
    TIME("layernorm bwd", 0, 4 * nc * as, kb_layernorm_backward(ctx, z, db, db, y, x, lnw, mean, rstd, N, C));
    int32_t *tok = kb_alloc(ctx, N * 4), *tokh = xmalloc(N * 4);
    uint64_t rs = 1;
    for (int i = 0; i < N; i++) tokh[i] = (int32_t)(rng_next(&rs) % V);
    kb_upload(ctx, tok, tokh, N * 4);
    kb_act *wte2 = act((size_t)Vp * C);
    float *dwte2 = kb_alloc(ctx, (size_t)Vp * C * 4), *dwpe = kb_alloc(ctx, (size_t)T * C * 4);
    TIME("encoder fwd", 0, 3 * nc * as, kb_encoder_forward(ctx, y, tok, NULL, wte2, wte2, N, T, C));
    TIME("encoder bwd (random tokens)", 0, nc * as + 8 * nc, kb_encoder_backward(ctx, dwte2, dwpe, y, tok, N, T, C, V));
    kb_zero(ctx, tok, N * 4);
    TIME("encoder bwd (one token everywhere)", 0, nc * as + 8 * nc, kb_encoder_backward(ctx, dwte2, dwpe, y, tok, N, T, C, V));
    size_t np = 124475904;
    float *p = kb_alloc(ctx, np * 4), *g = kb_alloc(ctx, np * 4), *m = kb_alloc(ctx, np * 4), *v = kb_alloc(ctx, np * 4);
    kb_act *pa = kb_alloc(ctx, np * as);
    kb_zero(ctx, p, np * 4), kb_zero(ctx, g, np * 4), kb_zero(ctx, m, np * 4), kb_zero(ctx, v, np * 4);
    float *nsq = kb_alloc(ctx, 4);
    TIME("global norm (124M)", 0, 4.0 * np, kb_norm_squared(ctx, nsq, g, np, 0));
    TIME("adamw (124M)", 0, np * (28.0 + as), kb_adamw(ctx, p, pa, g, m, v, np, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, nsq, 1.0f));
    kb_close(ctx);
    return 0;
}
