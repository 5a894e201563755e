// bench_cpu_decode.c — decoding on the CPU backend: the matmul at a few rows (matrix-vector
// path against the packed path), paged attention, sampling, and whole decode steps of a
// GPT-2 through the paged cache (with the matrix-vector path and without it).
// Every time is the best of --iters runs, each at least --min-ms long.
#include <getopt.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu.h"  // cpu_gemm, cpu_gemm_packed, cpu_gemm_small_rows
#include "kernels/gpt2_decode.h"

static void usage(FILE *f) {
    fputs("usage: bench_cpu_decode [options]\n"
          "Times decoding on the CPU backend (random weights and inputs).\n"
          "  --layers L      model layers (default 4)\n"
          "  --channels C    (default 256)\n"
          "  --heads NH      (default 4)\n"
          "  --vocab V       (default 8192; padded to a multiple of 128)\n"
          "  --seqs S        sequences decoded together (default 8)\n"
          "  --context T     prompt length: keys per row in attention and the prefill (default 256)\n"
          "  --new N         tokens decoded per sequence (default 32)\n"
          "  --block BS      KV block size (default 16)\n"
          "  --iters K       repetitions, best kept (default 15)\n"
          "  --min-ms MS     shortest timed run, repeating the op (default 10)\n"
          "  --threads N     OpenMP threads (default: OpenMP's setting)\n"
          "  --help          this text\n",
          f);
}

static int iters = 15, min_ms = 10;

// Best time of one call of fn(arg), in seconds.
static double best_time(void (*fn)(void *), void *arg) {
    double best = 1e30;
    fn(arg);  // warm-up (scratch growth, page faults)
    for (int k = 0; k < iters; k++) {
        double t0 = now_sec(), t;
        int n = 0;
        do {
            fn(arg);
            n++;
            t = now_sec() - t0;
        } while (t < min_ms * 1e-3);
        if (t / n < best) best = t / n;
    }
    return best;
}

static float *rnd(size_t n, float scale, uint64_t *r) {
    float *x = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = scale * rng_normal(r);
    return x;
}

// ---- matmul -----------------------------------------------------------------------------------------
typedef struct mm_arg {
    kb_ctx *ctx;
    int M, K, N, packed;
    const float *a, *w, *bias;
    float *out;
} mm_arg;
static void mm_run(void *p) {
    mm_arg *m = p;
    gemm_epilogue ep = {.bias = m->bias};
    gemm_view A = {m->a, m->K, 1}, B = {m->w, 1, m->K};
    if (m->packed)
        cpu_gemm_packed(m->ctx, m->M, m->N, m->K, A, B, m->out, m->N, 0, &ep);
    else
        cpu_gemm(m->ctx, m->M, m->N, m->K, A, B, m->out, m->N, 0, &ep);
}

static void bench_matmul(kb_ctx *ctx, int C, int Vp, uint64_t *r) {
    printf("\nmatmul forward, out(M,N) = inp(M,K)·W(N,K)ᵀ + b: matrix-vector path (M <= %d) vs packed path\n",
           cpu_gemm_small_rows);
    printf("%-12s %6s %6s %4s %11s %11s %8s %10s\n", "layer", "K", "N", "M", "packed ms", "cpu_gemm ms", "speed-up",
           "GFLOP/s");
    struct { const char *name; int K, N; } shapes[] = {{"qkv", C, 3 * C}, {"attn proj", C, C}, {"fc", C, 4 * C},
                                                        {"fc proj", 4 * C, C}, {"lm head", C, Vp}};
    int Ms[] = {1, 2, 4, 8, 16, 64};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int K = shapes[s].K, N = shapes[s].N;
        float *a = rnd((size_t)64 * K, 1, r), *w = rnd((size_t)N * K, 0.02f, r), *b = rnd(N, 0.1f, r);
        float *out = xmalloc((size_t)64 * N * sizeof(float));
        for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++) {
            mm_arg arg = {ctx, Ms[mi], K, N, 1, a, w, b, out};
            double tp = best_time(mm_run, &arg);
            arg.packed = 0;
            double tf = best_time(mm_run, &arg);
            printf("%-12s %6d %6d %4d %11.3f %11.3f %7.2fx %10.2f\n", shapes[s].name, K, N, Ms[mi], tp * 1e3, tf * 1e3,
                   tp / tf, 2.0 * Ms[mi] * K * N / tf * 1e-9);
        }
        free(a), free(w), free(b), free(out);
    }
}

// ---- paged attention ----------------------------------------------------------------------------------
typedef struct pa_arg {
    kb_ctx *ctx;
    kb_act *out, *qkv, *kp, *vp;
    float *lse;
    int32_t *table, *ks, *ke;
    int mb, N, C, NH, bs;
    int64_t keys;
} pa_arg;
static void pa_run(void *p) {
    pa_arg *a = p;
    kb_paged_attention(a->ctx, a->out, a->lse, a->qkv, a->kp, a->vp, a->table, a->mb, a->ks, a->ke, a->N, a->C, a->NH,
                       a->bs, a->keys);
}

static void bench_attention(kb_ctx *ctx, int C, int NH, int S, int T, int bs, uint64_t *r) {
    int mb = (T + bs - 1) / bs, nblocks = S * mb;
    size_t pool = (size_t)nblocks * C * bs;
    float *kp = rnd(pool, 1, r), *vp = rnd(pool, 1, r), *q = rnd((size_t)T * 3 * C, 1, r);
    int32_t *table = xmalloc((size_t)T * mb * 4), *ks = xcalloc(T, 4), *ke = xmalloc((size_t)T * 4);
    printf("\npaged attention, C=%d NH=%d, blocks of %d (key transposes in registers, scores as in training)\n", C, NH, bs);
    // decode: S rows, one per sequence, each over T keys
    for (int i = 0; i < S; i++) {
        for (int b = 0; b < mb; b++) table[(size_t)i * mb + b] = i * mb + b;
        ke[i] = T;
    }
    // (device memory is host memory on this backend: plain buffers serve as device buffers)
    pa_arg a = {ctx, xmalloc((size_t)T * C * 4), (kb_act *)q, (kb_act *)kp, (kb_act *)vp, xmalloc((size_t)T * NH * 4),
                table, ks, ke, mb, S, C, NH, bs, (int64_t)S * T};
    double t = best_time(pa_run, &a);
    printf("  decode step: %d rows x %d keys: %.3f ms (%.1f us per row, %.2f GB/s of K and V read)\n", S, T, t * 1e3,
           t * 1e6 / S, 2.0 * S * T * C * 4 / t * 1e-9);
    // prefill: T rows of one sequence, causal
    for (int i = 0; i < T; i++) {
        memcpy(table + (size_t)i * mb, table, (size_t)mb * 4);
        ke[i] = i + 1;
    }
    a.N = T;
    a.keys = (int64_t)T * (T + 1) / 2;
    t = best_time(pa_run, &a);
    printf("  prefill chunk: %d causal rows of one sequence: %.3f ms (%.2f GFLOP/s)\n", T, t * 1e3,
           4.0 * a.keys * C / t * 1e-9);
    free(kp), free(vp), free(q), free(table), free(ks), free(ke), free(a.out), free(a.lse);
}

// ---- sampling --------------------------------------------------------------------------------------------
typedef struct sm_arg {
    kb_ctx *ctx;
    int32_t *tok;
    float *lp, *logits;
    uint64_t *seeds, *ctr;
    int N, V, Vp, top_k;
    float temp, top_p;
} sm_arg;
static void sm_run(void *p) {
    sm_arg *a = p;
    kb_sample(a->ctx, a->tok, a->lp, (kb_act *)a->logits, a->seeds, a->ctr, a->N, a->V, a->Vp, a->temp, a->top_k,
              a->top_p);
}

static void bench_sampling(kb_ctx *ctx, int S, int V, int Vp, uint64_t *r) {
    printf("\nsampling, %d rows of V=%d\n", S, V);
    sm_arg a = {ctx, xmalloc((size_t)S * 4), xmalloc((size_t)S * 4), rnd((size_t)S * Vp, 3, r), xmalloc((size_t)S * 8),
                xmalloc((size_t)S * 8), S, V, Vp, 0, 1, 1};
    for (int i = 0; i < S; i++) a.seeds[i] = (uint64_t)i, a.ctr[i] = 7;
    struct { const char *name; float t; int k; float p; } modes[] = {
        {"greedy", 0, 0, 1}, {"temperature 1", 1, 0, 1}, {"top_k 50", 1, 50, 1}, {"top_k 50, top_p 0.9", 1, 50, 0.9f}};
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        a.temp = modes[m].t, a.top_k = modes[m].k, a.top_p = modes[m].p;
        double t = best_time(sm_run, &a);
        printf("  %-22s %.3f ms (%.1f us per row)\n", modes[m].name, t * 1e3, t * 1e6 / S);
    }
    free(a.tok), free(a.lp), free(a.logits), free(a.seeds), free(a.ctr);
}

// ---- generation ------------------------------------------------------------------------------------------
// S sequences prefilled with T tokens, then N decode steps (one token per sequence each,
// sampled at temperature 1 and fed back), timed as a whole: tok/s = S·N / time. Each run
// starts again from position T, so runs do the same work.
static double generate(gpt2_decoder *d, int S, int T, int N, int mb, int bs) {
    gpt2_dec_call dc = {0};
    dc.n = dc.n_logits = S;
    dc.sample = 1;
    dc.temperature = 1;
    dc.top_p = 1;
    for (int s = 0; s < S; s++) d->tok_host[s] = (int32_t)(s % d->m->cfg.V);
    double t0 = now_sec();
    for (int st = 0; st < N; st++) {
        int pos = T + st;
        dc.keys = 0;
        for (int s = 0; s < S; s++) {
            d->h.tokens[s] = d->tok_host[s];
            d->h.positions[s] = pos;
            d->h.slots[s] = (s * mb + pos / bs) * bs + pos % bs;
            d->h.kv_start[s] = 0;
            d->h.kv_end[s] = pos + 1;
            for (int b = 0; b < mb; b++) d->h.block_table[(size_t)s * mb + b] = s * mb + b;
            d->h.logit_rows[s] = s;
            d->h.seeds[s] = (uint64_t)s;
            d->h.counters[s] = (uint64_t)pos + 1;
            dc.keys += pos + 1;
        }
        gpt2_dec_upload(d, &dc);
        gpt2_dec_forward(d, &dc);
        gpt2_dec_fetch(d, S);
    }
    return now_sec() - t0;
}

static void bench_decoder(kb_ctx *ctx, const gpt2_config *cfg, int S, int T, int N, int bs, uint64_t *r) {
    gpt2 m;
    gpt2_build(&m, ctx, cfg, 1, cfg->maxT, 0);
    gpt2_init(&m, 1);
    int mb = (T + N + bs - 1) / bs;
    gpt2_kv kv;
    berr e;
    if (gpt2_kv_alloc(&kv, &m, (size_t)(S * mb + 1) * gpt2_kv_block_bytes(&m, bs), bs, &e)) die("%s", e.msg);
    gpt2_decoder d;
    gpt2_dec_init(&d, &m, &kv, S * T > S ? S * T : S, mb, 0);
    printf("\ndecoder: GPT-2 L=%d C=%d NH=%d V=%d (%.2fM parameters), %d sequence%s, prompt %d, %d new tokens each, "
           "blocks of %d\n", cfg->L, cfg->C, cfg->NH, cfg->V, m.n_params / 1e6, S, S == 1 ? "" : "s", T, N, bs);
    gpt2_dec_call c = {0};
    for (int s = 0; s < S; s++)
        for (int t = 0; t < T; t++) {
            int i = c.n++;
            d.h.tokens[i] = (int32_t)(rng_next(r) % cfg->V);
            d.h.positions[i] = t;
            d.h.slots[i] = (s * mb + t / bs) * bs + t % bs;
            d.h.kv_start[i] = 0;
            d.h.kv_end[i] = t + 1;
            for (int b = 0; b < mb; b++) d.h.block_table[(size_t)i * mb + b] = s * mb + b;
            c.keys += t + 1;
        }
    for (int s = 0; s < S; s++) d.h.logit_rows[s] = s * T + T - 1;
    c.n_logits = S;
    gpt2_dec_upload(&d, &c);
    double t0 = now_sec();
    gpt2_dec_forward(&d, &c);
    double tp = now_sec() - t0;
    printf("  prefill, %d tokens in one call: %.1f ms (%.0f tok/s)\n", c.n, tp * 1e3, c.n / tp);
    int saved = cpu_gemm_small_rows;
    double best[2] = {1e30, 1e30};
    generate(&d, S, T, N, mb, bs);  // warm-up
    for (int k = 0; k < iters; k++)
        for (int v = 0; v < 2; v++) {
            cpu_gemm_small_rows = v ? 0 : saved;
            double t = generate(&d, S, T, N, mb, bs);
            if (t < best[v]) best[v] = t;
        }
    cpu_gemm_small_rows = saved;
    // one more generation, profiled: every op bracketed by syncs and timed by class
    kb_set_stage(ctx, "decode-profile");
    kb_counts_reset(ctx);
    kb_set_profiling(ctx, 1);
    double tprof = generate(&d, S, T, N, mb, bs);
    kb_set_profiling(ctx, 0);
    kb_set_stage(ctx, "default");
    const kb_counts *pc = kb_counts_of(ctx, "decode-profile");
    double tok = (double)S * N;
    printf("  decode: %.0f tok/s (%.2f ms a step) with the matrix-vector matmul path; %.0f tok/s (%.2f ms) with the "
           "packed path only: %.2fx\n", tok / best[0], best[0] / N * 1e3, tok / best[1], best[1] / N * 1e3,
           best[1] / best[0]);
    printf("  a step by op class (profiled run, %.2f ms a step):", tprof / N * 1e3);
    for (int k = 0; k < KB_NCLASSES; k++)
        if (pc->seconds[KB_FWD][k] > 0) printf(" %s %.2f", kb_class_name(k), pc->seconds[KB_FWD][k] / N * 1e3);
    printf(" ms\n");
    gpt2_dec_free(&d);
    gpt2_kv_free(&kv, &m);
    gpt2_free(&m);
}

int main(int argc, char **argv) {
    int L = 4, C = 256, NH = 4, V = 8192, S = 8, T = 256, N = 32, bs = 16, threads = 0;
    static const struct option opts[] = {
        {"layers", required_argument, 0, 'l'}, {"channels", required_argument, 0, 'c'}, {"heads", required_argument, 0, 'h'},
        {"vocab", required_argument, 0, 'v'},  {"seqs", required_argument, 0, 's'},     {"context", required_argument, 0, 't'},
        {"new", required_argument, 0, 'n'},    {"block", required_argument, 0, 'b'},    {"iters", required_argument, 0, 'i'},
        {"min-ms", required_argument, 0, 'm'}, {"threads", required_argument, 0, 'j'},  {"help", no_argument, 0, 'H'},
        {0, 0, 0, 0}};
    berr e;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        switch (o) {
        case 'l': rc = parse_int("--layers", optarg, 1, 256, &L, &e); break;
        case 'c': rc = parse_int("--channels", optarg, 8, 16384, &C, &e); break;
        case 'h': rc = parse_int("--heads", optarg, 1, 16384, &NH, &e); break;
        case 'v': rc = parse_int("--vocab", optarg, 2, 1 << 24, &V, &e); break;
        case 's': rc = parse_int("--seqs", optarg, 1, 4096, &S, &e); break;
        case 't': rc = parse_int("--context", optarg, 1, 16384, &T, &e); break;
        case 'n': rc = parse_int("--new", optarg, 1, 16384, &N, &e); break;
        case 'b': rc = parse_int("--block", optarg, 1, 256, &bs, &e); break;
        case 'i': rc = parse_int("--iters", optarg, 1, 1000, &iters, &e); break;
        case 'm': rc = parse_int("--min-ms", optarg, 1, 100000, &min_ms, &e); break;
        case 'j': rc = parse_int("--threads", optarg, 1, 1024, &threads, &e); break;
        case 'H': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (rc) die("%s", e.msg);
    }
    if (optind < argc) die("unexpected argument '%s' (see --help)", argv[optind]);
    if (threads) omp_set_num_threads(threads);
    gpt2_config cfg = {.L = L, .C = C, .NH = NH, .V = V, .Vp = (V + 127) / 128 * 128, .maxT = T + N};
    if (gpt2_config_check(&cfg, &e)) die("bad model size: %s", e.msg);
    if (S * T > 1 << 20) die("--seqs x --context = %d tokens of prefill is above 1048576", S * T);
    kb_ctx *ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    printf("bench_cpu_decode: %s, L=%d C=%d NH=%d V=%d, %d sequences, context %d, %d new, blocks of %d, best of %d "
           "(>= %d ms each)\n", kb_device_name(ctx), L, C, NH, V, S, T, N, bs, iters, min_ms);
    uint64_t r = 42;
    bench_matmul(ctx, C, cfg.Vp, &r);
    bench_attention(ctx, C, NH, S, T, bs, &r);
    bench_sampling(ctx, S, V, cfg.Vp, &r);
    bench_decoder(ctx, &cfg, S, T, N, bs, &r);
    bench_decoder(ctx, &cfg, 1, T, N, bs, &r);
    kb_close(ctx);
    return 0;
}
