// bench_gpt2.c — training-step throughput of GPT-2 on random tokens: forward, backward,
// clip, AdamW; the same work as ../shared/bench/torch_gpt2.py. Prints tok/s, MFU (from the
// kernel counters and by the 6N + 6·L·C·T rule), memory, and the time split per op class.
//   bench_gpt2 DEPTH B T [STEPS]
#include <stdlib.h>
#include <string.h>

#include "kernels/gpt2.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 4) die("usage: bench_gpt2 DEPTH B T [STEPS] [cpu]");
    int depth = atoi(argv[1]), B = atoi(argv[2]), T = atoi(argv[3]), steps = argc > 4 ? atoi(argv[4]) : 30;
    kb_backend be = argc > 5 && !strcmp(argv[5], "cpu") ? KB_CPU : kb_default_backend();
    berr e;
    kb_ctx *ctx = kb_open(be, 0, &e);
    if (!ctx) die("%s", e.msg);
    size_t base_mem = kb_device_mem_in_use(ctx);
    gpt2_config cfg = gpt2_config_depth(depth, 50257, 1024);
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, B, T, 1);
    gpt2_init(&m, 1);
    gpt2_opt o = {0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    int N = B * T;
    int32_t *tok = xmalloc((size_t)(N + 1) * 4);
    uint64_t r = 5;
    for (int i = 0; i <= N; i++) tok[i] = (int32_t)(rng_next(&r) % 50257);
    kb_set_stage(ctx, "bench");
    double *ms = xmalloc(steps * sizeof(double)), loss = 0, norm = 0;
    size_t peak_mem = 0;
    for (int s = 0; s < steps; s++) {
        if (s == 3) kb_counts_reset(ctx);
        double t0 = now_sec();
        gpt2_zero_grad(&m);
        gpt2_forward_backward(&m, tok, tok + 1, B, T, 1.0f / N, 0);
        gpt2_update(&m, &o, 6e-4f);
        gpt2_read_stats(&m, &loss, &norm);
        ms[s] = (now_sec() - t0) * 1e3;
        size_t mem = kb_device_mem_in_use(ctx);
        if (mem > peak_mem) peak_mem = mem;
    }
    int timed = steps - 3;
    const kb_counts *c = kb_counts_of(ctx, "bench");
    double flops_step = kb_counts_total_flops(c) / timed;
    double mm_attn = 0;
    for (int p = 0; p < KB_NPHASES; p++) mm_attn += c->flops[p][KB_MATMUL] + c->flops[p][KB_ATTENTION];
    mm_attn /= timed;
    double rule = gpt2_flops_per_token_rule(&m, T) * N;
    qsort(ms + 3, timed, sizeof(double), cmp_d);
    double med = ms[3 + timed / 2], tps = N / (med / 1e3);
    // the time split: a few more steps with every op bracketed by syncs
    kb_counts_reset(ctx);
    kb_set_profiling(ctx, 1);
    for (int s = 0; s < 3; s++) {
        gpt2_zero_grad(&m);
        gpt2_forward_backward(&m, tok, tok + 1, B, T, 1.0f / N, 0);
        gpt2_update(&m, &o, 6e-4f);
        gpt2_read_stats(&m, NULL, NULL);
    }
    kb_set_profiling(ctx, 0);
    double cls[KB_NCLASSES] = {0}, tot = 0;
    for (int p = 0; p < KB_NPHASES; p++)
        for (int k = 0; k < KB_NCLASSES; k++) cls[k] += c->seconds[p][k], tot += c->seconds[p][k];
    printf("berry d%d B=%d T=%d %s (%s) params=%.1fM step_ms=%.1f tok/s=%.0f MFU=%.1f%% (rule %.1f%%) "
           "mem=%.1fGiB (allocated %.1fGiB) loss=%.3f norm=%.3f\n",
           depth, B, T, kb_backend_name(ctx), kb_device_name(ctx), m.n_params / 1e6, med, tps,
           100 * flops_step / (med / 1e3) / kb_peak_flops(ctx), 100 * rule / (med / 1e3) / kb_peak_flops(ctx),
           (peak_mem - base_mem) / 1073741824.0, kb_peak_bytes(ctx) / 1073741824.0, loss / N, norm);
    printf("  flops/step counted %.4e (matmul+attention %.4e) vs 6N+6LCT rule %.4e: ratio %.4f\n", flops_step, mm_attn,
           rule, mm_attn / rule);
    printf("  time split (profiled, %.1f ms/step serialised):", tot / 3 * 1e3);
    for (int k = 0; k < KB_NCLASSES; k++) printf(" %s %.1f%%", kb_class_name(k), 100 * cls[k] / tot);
    printf("\n  per step, ms (fwd/bwd/opt):");
    for (int k = 0; k < KB_NCLASSES; k++)
        printf(" %s %.1f/%.1f/%.1f", kb_class_name(k), c->seconds[KB_FWD][k] / 3 * 1e3, c->seconds[KB_BWD][k] / 3 * 1e3,
               c->seconds[KB_OPT][k] / 3 * 1e3);
    printf("\n");
    gpt2_free(&m);
    kb_close(ctx);
    free(tok);
    free(ms);
    return 0;
}
