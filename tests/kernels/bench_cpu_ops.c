// bench_cpu_ops.c — times every op of the CPU backend at the shapes of one GPT-2 layer
// (plus the classifier and AdamW) and prints a markdown table: ms per call, GFLOP/s from
// the library's own FLOP counters, GB/s from its byte counters.
#include <getopt.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

static kb_ctx *ctx;
static int iters = 5;
static const char *filter;  // run only ops whose name contains this
static uint64_t rng = 1;

static void usage(FILE *f) {
    fputs("usage: bench_cpu_ops [options]\n"
          "Times the CPU backend's ops at GPT-2 layer shapes; prints a markdown table.\n"
          "  --batch B       sequences per batch (default 4)\n"
          "  --seq T         tokens per sequence (default 256)\n"
          "  --channels C    model width (default 768)\n"
          "  --heads NH      attention heads, must divide C (default 12)\n"
          "  --vocab V       vocabulary for the classifier (default 50257; padded to a multiple of 128)\n"
          "  --params P      parameters for AdamW / norm (default 10M)\n"
          "  --threads N     OpenMP threads (default: OpenMP's setting)\n"
          "  --iters K       timed calls per op after one warm-up call (default 5)\n"
          "  --filter S      run only the ops whose name contains S (e.g. matmul)\n"
          "  --help          this text\n",
          f);
}

static float *rand_host(size_t n, float scale) {
    float *x = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = scale * (2 * rng_uniform(&rng) - 1) + scale * 1e-3f;
    return x;
}
static kb_act *rand_act(size_t n, float scale) {
    float *h = rand_host(n, scale);
    kb_act *p = kb_alloc(ctx, n * kb_act_size(ctx));
    kb_upload_act(ctx, p, h, n);
    free(h);
    return p;
}
static float *rand_f32(size_t n, float scale) {
    float *h = rand_host(n, scale);
    float *p = kb_alloc(ctx, n * 4);
    kb_upload(ctx, p, h, n * 4);
    free(h);
    return p;
}

// Times `call` (one warm-up, then `iters` calls) and prints a table row.
#define BENCH(name, shape, call)                                                                       \
    do {                                                                                               \
        if (filter && !strstr(name, filter)) break;                                                    \
        call;                                                                                          \
        kb_counts_reset(ctx);                                                                          \
        double t0_ = now_sec();                                                                        \
        for (int it_ = 0; it_ < iters; it_++) call;                                                    \
        kb_sync(ctx);                                                                                  \
        double dt_ = (now_sec() - t0_) / iters;                                                        \
        const kb_counts *c_ = kb_counts_of(ctx, "default");                                            \
        double fl_ = kb_counts_total_flops(c_) / iters, by_ = 0;                                       \
        for (int p_ = 0; p_ < KB_NPHASES; p_++)                                                        \
            for (int k_ = 0; k_ < KB_NCLASSES; k_++) by_ += c_->bytes[p_][k_];                         \
        by_ /= iters;                                                                                  \
        printf("| %-28s | %-22s | %9.3f | %8.1f | %6.1f |\n", name, shape, dt_ * 1e3, fl_ / dt_ / 1e9, \
               by_ / dt_ / 1e9);                                                                       \
        fflush(stdout);                                                                                \
    } while (0)

int main(int argc, char **argv) {
    int B = 4, T = 256, C = 768, NH = 12, V = 50257, threads = 0;
    int64_t P = 10000000;
    static const struct option opts[] = {{"batch", required_argument, 0, 'b'},   {"seq", required_argument, 0, 't'},
                                         {"channels", required_argument, 0, 'c'}, {"heads", required_argument, 0, 'h'},
                                         {"vocab", required_argument, 0, 'v'},    {"params", required_argument, 0, 'p'},
                                         {"threads", required_argument, 0, 'j'},  {"iters", required_argument, 0, 'i'},
                                         {"filter", required_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'H'},           {0, 0, 0, 0}};
    berr e;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        switch (o) {
        case 'b': rc = parse_int("--batch", optarg, 1, 1 << 16, &B, &e); break;
        case 't': rc = parse_int("--seq", optarg, 1, 1 << 16, &T, &e); break;
        case 'c': rc = parse_int("--channels", optarg, 1, 1 << 16, &C, &e); break;
        case 'h': rc = parse_int("--heads", optarg, 1, 1 << 12, &NH, &e); break;
        case 'v': rc = parse_int("--vocab", optarg, 1, 1 << 24, &V, &e); break;
        case 'p': rc = parse_count("--params", optarg, 1, (int64_t)1 << 34, &P, &e); break;
        case 'j': rc = parse_int("--threads", optarg, 1, 1024, &threads, &e); break;
        case 'i': rc = parse_int("--iters", optarg, 1, 1 << 20, &iters, &e); break;
        case 'f': filter = optarg; break;
        case 'H': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (rc) die("%s", e.msg);
    }
    if (optind < argc) die("unexpected argument '%s' (see --help)", argv[optind]);
    if (C % NH) die("--heads %d does not divide --channels %d", NH, C);
    if ((int64_t)B * T > (1 << 24)) die("--batch × --seq = %lld rows is too many", (long long)B * T);
    if (threads) omp_set_num_threads(threads);

    ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    int N = B * T, Vp = (V + 127) / 128 * 128;
    size_t NC = (size_t)N * C;
    printf("bench_cpu_ops: %s, B=%d T=%d C=%d NH=%d V=%d (Vp=%d) params=%lld iters=%d%s%s, peak estimate %.0f GFLOP/s\n\n",
           kb_device_name(ctx), B, T, C, NH, V, Vp, (long long)P, iters, filter ? " filter=" : "", filter ? filter : "",
           kb_peak_flops(ctx) / 1e9);
    printf("| %-28s | %-22s | %9s | %8s | %6s |\n", "op", "shape", "ms/call", "GFLOP/s", "GB/s");
    printf("|------------------------------|------------------------|-----------|----------|--------|\n");

    char shape[64];
    kb_act *x = rand_act(NC, 1), *y = rand_act(NC, 1), *ln = rand_act(NC, 1), *r = rand_act(NC, 1);
    kb_act *qkv = rand_act(3 * NC, 1), *fch = rand_act(4 * NC, 1), *fchg = rand_act(4 * NC, 1);
    kb_act *dqkv = rand_act(3 * NC, 1), *d4 = rand_act(4 * NC, 1), *dx = rand_act(NC, 1), *dy = rand_act(NC, 1);
    kb_act *wqkv = rand_act((size_t)3 * C * C, 0.02f), *wfc = rand_act((size_t)4 * C * C, 0.02f);
    kb_act *wproj = rand_act((size_t)4 * C * C, 0.02f), *bias = rand_act(4 * (size_t)C, 0.02f);
    kb_act *lnw = rand_act(C, 1), *lnb = rand_act(C, 0.1f);
    float *gw = rand_f32((size_t)4 * C * C, 0), *gb = rand_f32(4 * (size_t)C, 0), *gln = rand_f32(2 * (size_t)C, 0);
    float *mean = rand_f32(N, 0), *rstd = rand_f32(N, 1), *lse = rand_f32((size_t)N * NH, 0);

    snprintf(shape, sizeof shape, "%dx%d -> %d", N, C, 3 * C);
    BENCH("matmul fwd (qkv, bias)", shape, kb_matmul_forward(ctx, qkv, NULL, ln, wqkv, bias, N, C, 3 * C));
    snprintf(shape, sizeof shape, "%dx%d -> %d", N, C, 4 * C);
    BENCH("matmul fwd (fc, bias+gelu)", shape, kb_matmul_forward(ctx, fchg, fch, ln, wfc, bias, N, C, 4 * C));
    snprintf(shape, sizeof shape, "%dx%d -> %d", N, 4 * C, C);
    BENCH("matmul fwd (fcproj, bias)", shape, kb_matmul_forward(ctx, y, NULL, fchg, wproj, bias, N, 4 * C, C));
    snprintf(shape, sizeof shape, "%dx%d -> %d", N, 4 * C, C);
    BENCH("matmul bwd (fcproj, gelu)", shape,
          kb_matmul_backward(ctx, d4, gw, gb, dy, fchg, wproj, fch, N, 4 * C, C));
    snprintf(shape, sizeof shape, "%dx%d -> %d", N, C, 4 * C);
    BENCH("matmul bwd (fc)", shape, kb_matmul_backward(ctx, dx, gw, gb, d4, ln, wfc, NULL, N, C, 4 * C));
    snprintf(shape, sizeof shape, "B=%d T=%d C=%d NH=%d", B, T, C, NH);
    BENCH("attention fwd", shape, kb_attention_forward(ctx, y, lse, qkv, B, T, C, NH));
    BENCH("attention bwd", shape, kb_attention_backward(ctx, dqkv, dy, qkv, y, lse, B, T, C, NH));
    snprintf(shape, sizeof shape, "%dx%d", N, C);
    BENCH("residual+layernorm fwd", shape, kb_residual_layernorm_forward(ctx, r, ln, mean, rstd, x, y, lnw, lnb, N, C));
    BENCH("layernorm bwd", shape, kb_layernorm_backward(ctx, dx, gln, gln + C, dy, r, lnw, mean, rstd, N, C));
    int32_t *tok = xmalloc((size_t)N * 4);
    for (int i = 0; i < N; i++) tok[i] = (int32_t)(rng_next(&rng) % V);
    int32_t *dtok = kb_alloc(ctx, (size_t)N * 4);
    kb_upload(ctx, dtok, tok, (size_t)N * 4);
    kb_act *wpe = rand_act((size_t)T * C, 0.01f);
    float *gwpe = rand_f32((size_t)T * C, 0);
    kb_free(ctx, wqkv), kb_free(ctx, wfc), kb_free(ctx, wproj), kb_free(ctx, gw);

    // classifier: the LM head matmul, the fused softmax/cross-entropy, the head's backward
    int rows = N < 1024 ? N : 1024;
    kb_act *wte = rand_act((size_t)Vp * C, 0.02f), *logits = rand_act((size_t)rows * Vp, 1);
    float *gwte = rand_f32((size_t)Vp * C, 0), *nll = rand_f32(rows, 0);
    snprintf(shape, sizeof shape, "%dx%d (x%d)", N, C, V);
    BENCH("encoder fwd", shape, kb_encoder_forward(ctx, x, dtok, NULL, wte, wpe, N, T, C));
    BENCH("encoder bwd", shape, kb_encoder_backward(ctx, gwte, gwpe, dx, dtok, N, T, C, V));
    snprintf(shape, sizeof shape, "%dx%d -> %d", rows, C, Vp);
    BENCH("matmul fwd (lm head)", shape, kb_matmul_forward(ctx, logits, NULL, ln, wte, NULL, rows, C, Vp));
    snprintf(shape, sizeof shape, "%dx%d", rows, V);
    BENCH("classifier fwd+grad", shape,
          kb_classifier(ctx, logits, nll, NULL, dtok, NULL, 1.0f / rows, 1.0f, rows, V, Vp, 1));
    snprintf(shape, sizeof shape, "%dx%d -> %d", rows, C, Vp);
    BENCH("matmul bwd (lm head)", shape, kb_matmul_backward(ctx, dx, gwte, NULL, logits, ln, wte, NULL, rows, C, Vp));
    kb_free(ctx, wte), kb_free(ctx, logits), kb_free(ctx, gwte);

    float *p = rand_f32((size_t)P, 1), *g = rand_f32((size_t)P, 1), *m = rand_f32((size_t)P, 0),
          *v = rand_f32((size_t)P, 0), *nsq = rand_f32(1, 1);
    snprintf(shape, sizeof shape, "%lld", (long long)P);
    BENCH("norm_squared", shape, kb_norm_squared(ctx, nsq, g, (size_t)P, 0));
    int step = 0;
    BENCH("adamw (clipped)", shape,
          kb_adamw(ctx, p, NULL, g, m, v, (size_t)P, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, ++step, nsq, 1.0f));
    kb_close(ctx);
    free(tok);
    return 0;
}
