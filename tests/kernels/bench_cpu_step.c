// bench_cpu_step.c — a full GPT-2 training step (forward, backward, clip, AdamW) on the CPU
// backend at a chosen size: tokens/s, FLOPs from the library's counters, MFU against the
// backend's peak estimate, and the time split by op class (one extra profiled step).
#include <getopt.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gpt2.h"

static void usage(FILE *f) {
    fputs("usage: bench_cpu_step [options]\n"
          "Times GPT-2 training steps on the CPU backend with random tokens.\n"
          "  --layers L      (default 4)\n"
          "  --channels C    (default 256)\n"
          "  --heads NH      (default 4)\n"
          "  --vocab V       (default 8192; padded to a multiple of 128)\n"
          "  --batch B       (default 8)\n"
          "  --seq T         (default 128)\n"
          "  --steps S       timed steps after one warm-up step (default 3)\n"
          "  --threads N     OpenMP threads (default: OpenMP's setting)\n"
          "  --help          this text\n",
          f);
}

int main(int argc, char **argv) {
    int L = 4, C = 256, NH = 4, V = 8192, B = 8, T = 128, steps = 3, threads = 0;
    static const struct option opts[] = {{"layers", required_argument, 0, 'l'}, {"channels", required_argument, 0, 'c'},
                                         {"heads", required_argument, 0, 'h'},  {"vocab", required_argument, 0, 'v'},
                                         {"batch", required_argument, 0, 'b'},  {"seq", required_argument, 0, 't'},
                                         {"steps", required_argument, 0, 's'},  {"threads", required_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'H'},         {0, 0, 0, 0}};
    berr e;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        switch (o) {
        case 'l': rc = parse_int("--layers", optarg, 1, 256, &L, &e); break;
        case 'c': rc = parse_int("--channels", optarg, 8, 16384, &C, &e); break;
        case 'h': rc = parse_int("--heads", optarg, 1, 16384, &NH, &e); break;
        case 'v': rc = parse_int("--vocab", optarg, 2, 1 << 24, &V, &e); break;
        case 'b': rc = parse_int("--batch", optarg, 1, 1 << 16, &B, &e); break;
        case 't': rc = parse_int("--seq", optarg, 1, 65536, &T, &e); break;
        case 's': rc = parse_int("--steps", optarg, 1, 1 << 20, &steps, &e); break;
        case 'j': rc = parse_int("--threads", optarg, 1, 1024, &threads, &e); break;
        case 'H': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (rc) die("%s", e.msg);
    }
    if (optind < argc) die("unexpected argument '%s' (see --help)", argv[optind]);
    if (threads) omp_set_num_threads(threads);
    gpt2_config cfg = {.L = L, .C = C, .NH = NH, .V = V, .Vp = (V + 127) / 128 * 128, .maxT = T};
    if (gpt2_config_check(&cfg, &e)) die("bad model size: %s", e.msg);

    kb_ctx *ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, B, T, 1);
    gpt2_init(&m, 1);
    printf("bench_cpu_step: %s, L=%d C=%d NH=%d V=%d B=%d T=%d, %.2fM parameters, %d steps\n", kb_device_name(ctx), L, C,
           NH, V, B, T, m.n_params / 1e6, steps);
    int N = B * T;
    int32_t *tok = xmalloc((size_t)N * 4), *tgt = xmalloc((size_t)N * 4);
    uint64_t r = 7;
    for (int i = 0; i < N; i++) tok[i] = (int32_t)(rng_next(&r) % V), tgt[i] = (int32_t)(rng_next(&r) % V);
    gpt2_opt opt = {0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};

    double loss = 0, norm = 0, start = 0;
    for (int s = -1; s < steps; s++) {  // step -1 warms up (scratch sized, pages touched)
        if (s == 0) {
            kb_counts_reset(ctx);
            start = now_sec();
        }
        double t0 = now_sec();
        gpt2_zero_grad(&m);
        gpt2_forward_backward(&m, tok, tgt, B, T, 1.0f / N, 0);
        gpt2_update(&m, &opt, 1e-4f);
        gpt2_read_stats(&m, &loss, &norm);
        printf("%s %d: loss %.4f, grad norm %.3f, %.1f ms\n", s < 0 ? "warm-up" : "step", s, loss / N, norm,
               (now_sec() - t0) * 1e3);
    }
    double dt = (now_sec() - start) / steps;
    double flops = kb_counts_total_flops(kb_counts_of(ctx, "default")) / steps;
    printf("\n%.1f ms/step, %.0f tokens/s, %.3g FLOPs/step (%.3g per token; 6N+6LCT rule %.3g), %.1f GFLOP/s, "
           "MFU %.1f%% of the %.0f GFLOP/s estimate\n",
           dt * 1e3, N / dt, flops, flops / N, gpt2_flops_per_token_rule(&m, T), flops / dt / 1e9,
           100 * flops / dt / kb_peak_flops(ctx), kb_peak_flops(ctx) / 1e9);

    kb_counts_reset(ctx);
    kb_set_profiling(ctx, 1);
    gpt2_zero_grad(&m);
    gpt2_forward_backward(&m, tok, tgt, B, T, 1.0f / N, 0);
    gpt2_update(&m, &opt, 1e-4f);
    kb_set_profiling(ctx, 0);
    const kb_counts *c = kb_counts_of(ctx, "default");
    double total = 0;
    for (int p = 0; p < KB_NPHASES; p++)
        for (int k = 0; k < KB_NCLASSES; k++) total += c->seconds[p][k];
    printf("\ntime by op class (one profiled step, %.1f ms in ops):\n", total * 1e3);
    for (int k = 0; k < KB_NCLASSES; k++) {
        double s = 0, f = 0;
        for (int p = 0; p < KB_NPHASES; p++) s += c->seconds[p][k], f += c->flops[p][k];
        printf("  %-10s %8.1f ms %5.1f%%  %7.1f GFLOP/s\n", kb_class_name(k), s * 1e3, 100 * s / total,
               s > 0 ? f / s / 1e9 : 0.0);
    }
    gpt2_free(&m);
    kb_close(ctx);
    free(tok);
    free(tgt);
    return 0;
}
