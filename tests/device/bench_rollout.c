// bench_rollout.c — the rollout engine's benchmark scenarios (issue 6) on random GPT-2 weights
// and random prompts, no tokenizer:
//   A  64 prompts of 128 tokens, 256 new tokens each (no early stop), batch 64
//   B  256 such prompts, batch 256
//   C  one 512-token prompt, 64 branches of 256 new tokens, with prefix sharing and with
//      sharing off (--no-share): speed ratio and peak KV blocks (the prompt held once)
//   D  a tree: 64 problems of 128-token prompts, 4 roots, 4-way forks at 3 step boundaries
//      (forced every --step-every tokens), 256 new tokens per trajectory
//   P  the anatomy of one decode step (64 and 256 rows) and one prefill call: GPU time by op class,
//      graph time, host costs
//   L  the log-probs rollout records against the training forward's on the same tokens
//      (mean and max difference; 0 is the goal: same kernels, same order of arithmetic)
// One summary line per scenario. Defaults are the GPU sizes (d12, V=50257, T=1024); on the
// CPU use e.g. --backend cpu --depth 2 --vocab 512 --ctx 512 --scale 16.
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/engine.h"
#include "rollout/sizing.h"

typedef struct bench_opts {
    int depth, vocab, ctx, scale, step_every, backend, block_size, prefill, warmup;
    int auto_batch;   // --max-batch auto: every scenario takes rollout's chosen decode batch
    size_t kv_bytes;  // 0: rollout's chosen KV budget
    const char *scenarios;
    uint64_t seed;
} bench_opts;

typedef struct scenario_result {
    double seconds, tok_s, flops;
    double split[5];  // engine time: plan, prefill, decode host, decode wait, post
    uint64_t steps, decode_calls, prefill_calls;
    uint64_t problems, nodes, generated, reused, computed;
    int peak_blocks, peak_live, max_batch;
    size_t block_bytes;
} scenario_result;

static gpt2 model;
static kb_ctx *ctx;

static void usage(void) {
    printf("usage: bench_rollout [--scenarios ABCDPL] [--backend auto|cpu|cuda] [--depth 12] [--vocab 50257]\n"
           "                     [--ctx 1024] [--scale 1] [--kv-budget GIB] [--step-every 32] [--block-size 16]\n"
           "                     [--prefill-tokens 512] [--max-batch auto] [--no-warmup] [--seed 1]\n"
           "Without --kv-budget the KV budget and the decode buckets are what rollout chooses for the device and the\n"
           "model (rollout/sizing.h); --max-batch auto also takes rollout's chosen batch instead of each scenario's.\n"
           "--scale K divides every count (prompts, prompt and generation lengths) by K, for small machines.\n");
}

// The sizes rollout would use: the scenario's batch (or the chosen one with --max-batch auto),
// the chosen buckets, the given or the chosen KV budget. Returns the KV budget.
static size_t sized(const bench_opts *o, ro_config *c) {
    berr e;
    ro_sizing_in si = {.cuda = kb_backend_of(ctx) == KB_CUDA, .L = model.cfg.L, .C = model.cfg.C, .NH = model.cfg.NH,
                       .maxT = model.cfg.maxT, .Vp = model.cfg.Vp, .act_size = kb_act_size(ctx),
                       .block_size = c->block_size, .prefill_tokens = c->prefill_tokens, .prefill_pad = c->prefill_pad,
                       .max_batch = o->auto_batch ? 0 : c->max_batch, .kv_bytes = o->kv_bytes};
    kb_device_resources(ctx, &si.res);
    ro_sizing z;
    if (ro_choose_sizes(&si, &z, &e)) die("bench_rollout: %s", e.msg);
    c->max_batch = z.max_batch;
    c->nbuckets = z.nbuckets;
    memcpy(c->buckets, z.buckets, sizeof c->buckets);
    static int said;
    if (!said++) printf("bench_rollout: sizes (first scenario): %s\n", z.why);
    return z.kv_bytes;
}

// Runs n problems of prompt_len random tokens through a fresh engine; all problems share the
// first `shared` prompt tokens.
static scenario_result run(const bench_opts *o, ro_config c, int n, int prompt_len, int shared) {
    berr e;
    size_t kv = sized(o, &c);
    ro_engine *E = ro_engine_new(&model, kv, &c, &e);
    if (!E) die("bench_rollout: %s", e.msg);
    int32_t *prompt = xmalloc((size_t)prompt_len * sizeof *prompt);
    uint64_t g = o->seed;
    for (int i = 0; i < shared && i < prompt_len; i++) prompt[i] = (int32_t)(rng_next(&g) % (uint64_t)model.cfg.V);
    scenario_result r;
    memset(&r, 0, sizeof r);
    kb_counts_reset(ctx);
    kb_sync(ctx);
    double t0 = now_sec();
    int added = 0, done = 0;
    while (done < n) {
        while (added < n && ro_wants(E)) {
            for (int i = shared; i < prompt_len; i++) prompt[i] = (int32_t)(rng_next(&g) % (uint64_t)model.cfg.V);
            if (ro_add(E, (uint64_t)added + 1, prompt, prompt_len, 1, NULL, &e)) die("bench_rollout: %s", e.msg);
            added++;
        }
        ro_step(E);
        ro_result res;
        while (ro_take(E, &res)) {
            r.nodes += res.tree.n_nodes;
            ro_result_free(&res);
            done++;
        }
    }
    kb_sync(ctx);
    r.seconds = now_sec() - t0;
    const ro_stats *s = ro_stats_of(E);
    r.problems = s->problems;
    r.generated = s->generated;
    r.reused = s->kv_reused;
    r.computed = s->kv_computed;
    r.split[0] = s->sec_plan, r.split[1] = s->sec_prefill, r.split[2] = s->sec_decode_host;
    r.split[3] = s->sec_decode_wait, r.split[4] = s->sec_post;
    r.steps = s->steps, r.decode_calls = s->decode_calls, r.prefill_calls = s->prefill_calls;
    r.peak_blocks = s->peak_blocks;
    r.peak_live = s->peak_live;
    r.max_batch = c.max_batch;
    r.block_bytes = s->block_bytes;
    r.tok_s = r.generated / r.seconds;
    const kb_counts *k = kb_counts_of(ctx, "rollout");
    r.flops = k ? kb_counts_total_flops(k) : 0;
    if (ro_kv_of(E)->in_use) die("bench_rollout: %d KV blocks still referenced after the run", ro_kv_of(E)->in_use);
    ro_engine_free(E);
    free(prompt);
    return r;
}

// L: the log-probs rollout records against the training forward's on the same tokens (what
// PPO recomputes): sampled trajectories, then gpt2_forward over each whole sequence.
static void logprob_check(const bench_opts *o, int n, int prompt_len, int new_tokens) {
    ro_config c;
    ro_config_default(&c);
    c.roots = 1, c.depth = 0, c.fork = 1, c.max_new = new_tokens, c.max_batch = n, c.seed = o->seed;
    c.block_size = o->block_size;
    berr e;
    size_t kv = sized(o, &c);
    ro_engine *E = ro_engine_new(&model, kv, &c, &e);
    if (!E) die("bench_rollout: %s", e.msg);
    int T = prompt_len + new_tokens;
    int32_t *seq = xmalloc((size_t)T * sizeof *seq), *tgt = xmalloc((size_t)T * sizeof *tgt);
    float *loss = xmalloc((size_t)T * sizeof *loss);
    uint64_t g = o->seed + 77;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < prompt_len; j++) seq[j] = (int32_t)(rng_next(&g) % (uint64_t)model.cfg.V);
        if (ro_add(E, (uint64_t)i, seq, prompt_len, 1, NULL, &e)) die("bench_rollout: %s", e.msg);
    }
    gpt2 full;
    gpt2_build(&full, ctx, &model.cfg, 1, T, 0);
    float *p = xmalloc(model.n_params * 4);
    gpt2_get_params(&model, p);
    gpt2_set_params(&full, p);
    free(p);
    double sum = 0, max = 0;
    long count = 0, exact = 0;
    int done = 0;
    while (done < n) {
        ro_step(E);
        ro_result r;
        while (ro_take(E, &r)) {
            const traj_rec *t = &r.tree;
            const traj_node *v = &t->nodes[0];
            int len = (int)t->n_prompt + (int)v->n_tokens;
            for (uint32_t j = 0; j < t->n_prompt; j++) seq[j] = (int32_t)t->prompt[j];
            for (uint32_t j = 0; j < v->n_tokens; j++) seq[t->n_prompt + j] = (int32_t)v->tokens[j];
            for (int j = 0; j < len - 1; j++) tgt[j] = j + 1 >= (int)t->n_prompt ? seq[j + 1] : -1;
            gpt2_forward(&full, seq, tgt, 1, len - 1);
            kb_download(ctx, loss, full.losses, (size_t)(len - 1) * sizeof *loss);
            for (uint32_t j = 0; j < v->n_tokens; j++) {
                double d = fabs((double)v->logprobs[j] + loss[t->n_prompt + j - 1]);
                sum += d, count++, exact += d == 0;
                if (d > max) max = d;
            }
            ro_result_free(&r);
            done++;
        }
    }
    printf("L: rollout log-probs vs the training forward on the same %ld tokens (%d sequences of %d + %d): mean |diff| "
           "%.3g, max |diff| %.3g, %.1f%% bit-identical\n",
           count, n, prompt_len, new_tokens, sum / count, max, 100.0 * exact / count);
    gpt2_free(&full);
    ro_engine_free(E);
    free(seq), free(tgt), free(loss);
}

// P: the anatomy of one forward call outside the engine: nseq sequences of `chunk` rows each
// (chunk 1: a decode step at position pos; chunk > 1: a prefill of positions pos..pos+chunk-1),
// every sequence in its own blocks, a sample per sequence. GPU time per op class (each op timed
// alone, so each carries a sync), the captured graph's GPU time, and the host costs around it
// (upload, launch, fetch). Tells where a step's time goes.
static void call_anatomy(const bench_opts *o, int nseq, int chunk, int pos) {
    const int bs = o->block_size, mb = (model.cfg.maxT + bs - 1) / bs, per = (pos + chunk - 1) / bs + 1;
    const int n = nseq * chunk;
    if (pos + chunk > model.cfg.maxT) die("bench_rollout: anatomy positions beyond the context");
    gpt2_kv kv;
    berr e;
    if (gpt2_kv_alloc(&kv, &model, (size_t)(nseq * per + 2) * gpt2_kv_block_bytes(&model, bs), bs, &e))
        die("bench_rollout: %s", e.msg);
    gpt2_decoder d;
    gpt2_dec_init(&d, &model, &kv, n, mb, n + 1);
    uint64_t g = o->seed + 5;
    int64_t keys = 0;
    for (int i = 0; i < n; i++) {
        int sq = i / chunk, p = pos + i % chunk;
        d.h.tokens[i] = (int32_t)(rng_next(&g) % (uint64_t)model.cfg.V);
        d.h.positions[i] = p;
        for (int j = 0; j < mb; j++) d.h.block_table[(size_t)i * mb + j] = j < per ? sq * per + j : kv.nblocks - 1;
        d.h.slots[i] = (sq * per + p / bs) * bs + p % bs;
        d.h.kv_start[i] = 0;
        d.h.kv_end[i] = p + 1;
        keys += p + 1;
    }
    for (int i = 0; i < nseq; i++) {
        d.h.logit_rows[i] = i * chunk + chunk - 1;
        d.h.seeds[i] = rng_next(&g);
        d.h.counters[i] = (uint64_t)(pos + chunk);
    }
    gpt2_dec_call c = {.n = n, .n_logits = nseq, .groups = 0, .sample = 1, .temperature = 1.0f, .top_p = 1.0f,
                       .top_k = 0, .keys = keys};
    gpt2_dec_upload(&d, &c);
    for (int i = 0; i < 3; i++) gpt2_dec_forward(&d, &c);  // first-use costs out of the way
    kb_sync(ctx);
    const int R = 20;
    double t0 = now_sec();
    for (int i = 0; i < R; i++) gpt2_dec_forward(&d, &c);
    kb_sync(ctx);
    double eager = (now_sec() - t0) / R;
    kb_counts_reset(ctx);
    kb_set_profiling(ctx, 1);
    for (int i = 0; i < R; i++) gpt2_dec_forward(&d, &c);
    kb_set_profiling(ctx, 0);
    kb_counts k = *kb_counts_of(ctx, "rollout");
    double cls[KB_NCLASSES], tot = 0;
    for (int j = 0; j < KB_NCLASSES; j++) cls[j] = k.seconds[KB_FWD][j] / R, tot += cls[j];
    kb_graph *gr = gpt2_dec_capture(&d, &c);
    for (int i = 0; i < 3; i++) kb_graph_launch(ctx, gr);
    kb_sync(ctx);
    t0 = now_sec();
    for (int i = 0; i < R; i++) kb_graph_launch(ctx, gr);
    kb_sync(ctx);
    double graph = (now_sec() - t0) / R;
    double up = 0, launch = 0, fetch = 0;
    for (int i = 0; i < R; i++) {
        double a = now_sec();
        gpt2_dec_upload(&d, &c);
        double b = now_sec();
        kb_graph_launch(ctx, gr);
        double cc = now_sec();
        gpt2_dec_fetch(&d, nseq);
        double dd = now_sec();
        up += b - a, launch += cc - b, fetch += dd - cc;
    }
    printf("P: %s of %d x %d rows at position %d: eager %.3f ms, graph %.3f ms (GPU); each op alone (with a sync): ",
           chunk > 1 ? "prefill" : "decode step", nseq, chunk, pos, 1e3 * eager, 1e3 * graph);
    for (int j = 0; j < KB_NCLASSES; j++)
        if (k.calls[KB_FWD][j]) printf("%s %.3f ms (%llu calls), ", kb_class_name((kb_op_class)j), 1e3 * cls[j],
                                       (unsigned long long)(k.calls[KB_FWD][j] / R));
    printf("sum %.3f ms; with the host: upload %.3f + launch %.3f + wait/fetch %.3f = %.3f ms = %.0f tok/s\n", 1e3 * tot,
           1e3 * up / R, 1e3 * launch / R, 1e3 * fetch / R, 1e3 * (up + launch + fetch) / R, n / ((up + launch + fetch) / R));
    fflush(stdout);
    kb_graph_free(ctx, gr);
    gpt2_dec_free(&d);
    gpt2_kv_free(&kv, &model);
    kb_counts_reset(ctx);
}

static ro_config base(const bench_opts *o) {
    ro_config c;
    ro_config_default(&c);
    c.roots = 1;
    c.depth = 0;
    c.fork = 1;
    c.temperature = 1.0f;
    c.seed = o->seed;
    c.block_size = o->block_size;
    c.prefill_tokens = o->prefill;
    return c;  // eot/step/answer stay -1: no early stop
}

static void line(const char *name, const char *what, const scenario_result *r) {
    printf("%s: %s: %llu new tokens in %.3f s = %.0f new tok/s, %llu nodes, KV reused %llu / computed %llu, peak KV %d "
           "blocks (%.3f GiB), peak %d sequences, %.2f TFLOP/s\n",
           name, what, (unsigned long long)r->generated, r->seconds, r->tok_s, (unsigned long long)r->nodes,
           (unsigned long long)r->reused, (unsigned long long)r->computed, r->peak_blocks,
           (double)r->peak_blocks * r->block_bytes / 1073741824.0, r->peak_live, r->flops / r->seconds / 1e12);
    printf("%s: %llu steps (%llu decode, %llu prefill calls), ms per step: plan %.3f, prefill %.3f, decode host %.3f, "
           "decode wait %.3f, post %.3f\n",
           name, (unsigned long long)r->steps, (unsigned long long)r->decode_calls, (unsigned long long)r->prefill_calls,
           1e3 * r->split[0] / r->steps, 1e3 * r->split[1] / r->steps, 1e3 * r->split[2] / r->steps,
           1e3 * r->split[3] / r->steps, 1e3 * r->split[4] / r->steps);
    fflush(stdout);
}

int main(int argc, char **argv) {
    bench_opts o = {.depth = 12, .vocab = 50257, .ctx = 1024, .scale = 1, .step_every = 32, .backend = 0,
                    .block_size = 16, .prefill = 512, .warmup = 1, .kv_bytes = 0, .scenarios = "ABCDL", .seed = 1};
    static const struct option lo[] = {{"scenarios", 1, 0, 's'}, {"backend", 1, 0, 'b'}, {"depth", 1, 0, 'd'},
                                       {"vocab", 1, 0, 'v'},     {"ctx", 1, 0, 't'},     {"scale", 1, 0, 'k'},
                                       {"kv-budget", 1, 0, 'm'}, {"step-every", 1, 0, 'e'}, {"block-size", 1, 0, 'B'},
                                       {"prefill-tokens", 1, 0, 'p'}, {"no-warmup", 0, 0, 'w'}, {"seed", 1, 0, 'S'},
                                       {"max-batch", 1, 0, 'M'},
                                       {"help", 0, 0, 'h'},      {0, 0, 0, 0}};
    int ch;
    berr e;
    double gib = 0;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        int rc = 0;
        switch (ch) {
        case 's': o.scenarios = optarg; break;
        case 'b': o.backend = !strcmp(optarg, "cpu") ? 1 : !strcmp(optarg, "cuda") ? 2 : !strcmp(optarg, "auto") ? 0 : -1; break;
        case 'd': rc = parse_int("--depth", optarg, 1, 64, &o.depth, &e); break;
        case 'v': rc = parse_int("--vocab", optarg, 2, 1 << 20, &o.vocab, &e); break;
        case 't': rc = parse_int("--ctx", optarg, 16, 65536, &o.ctx, &e); break;
        case 'k': rc = parse_int("--scale", optarg, 1, 1024, &o.scale, &e); break;
        case 'm': rc = parse_f64("--kv-budget", optarg, 0.001, 1024, &gib, &e); break;
        case 'e': rc = parse_int("--step-every", optarg, 1, 65536, &o.step_every, &e); break;
        case 'B': rc = parse_int("--block-size", optarg, 1, 256, &o.block_size, &e); break;
        case 'p': rc = parse_int("--prefill-tokens", optarg, 1, 65536, &o.prefill, &e); break;
        case 'w': o.warmup = 0; break;
        case 'M':
            if (strcmp(optarg, "auto")) die("bench_rollout: --max-batch takes 'auto' (rollout's choice for every scenario)");
            o.auto_batch = 1;
            break;
        case 'S': {
            int64_t v;
            rc = parse_i64("--seed", optarg, 0, INT64_MAX, &v, &e);
            o.seed = (uint64_t)v;
            break;
        }
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
        if (rc) die("bench_rollout: %s", e.msg);
        if (o.backend < 0) die("bench_rollout: --backend must be auto, cpu or cuda");
    }
    kb_backend be = o.backend == 1 ? KB_CPU : o.backend == 2 ? KB_CUDA : kb_default_backend();
    ctx = kb_open(be, 0, &e);
    if (!ctx) die("bench_rollout: %s", e.msg);
    kb_set_stage(ctx, "rollout");
    o.kv_bytes = gib > 0 ? (size_t)(gib * 1073741824.0) : 0;
    gpt2_config cfg = gpt2_config_depth(o.depth, o.vocab, o.ctx);
    gpt2_build(&model, ctx, &cfg, 1, 1, 0);
    gpt2_init(&model, 1234);
    const int K = o.scale;
    const int P = 128 / K > 0 ? 128 / K : 1, NEW = 256 / K > 0 ? 256 / K : 1, CP = 512 / K > 0 ? 512 / K : 1;
    int nA = 64 / K > 0 ? 64 / K : 1, nB = 256 / K > 0 ? 256 / K : 1, nC = 64 / K > 0 ? 64 / K : 1;
    int step = o.step_every / K > 0 ? o.step_every / K : 1;
    char kvs[48];
    if (o.kv_bytes) snprintf(kvs, sizeof kvs, "%.1f GiB", o.kv_bytes / 1073741824.0);
    else snprintf(kvs, sizeof kvs, "chosen");
    printf("bench_rollout: %s (%s), GPT-2 d%d (C=%d, V=%d, T=%d, %.1fM parameters), random weights and prompts, KV %s "
           "in blocks of %d, prefill %d tokens/step, batch %s, scale 1/%d\n",
           kb_backend_name(ctx), kb_device_name(ctx), o.depth, cfg.C, cfg.V, cfg.maxT, model.n_params / 1e6, kvs,
           o.block_size, o.prefill, o.auto_batch ? "chosen" : "per scenario", K);
    if (o.warmup) {
        // First-use costs (matmul algorithm choices for each decode bucket and prefill shape,
        // library heuristics, graph captures) stay out of the timings: A, B and C run once
        // untimed. A later run finds the choices in the algorithm cache (BERRY_CACHE_DIR).
        ro_config c = base(&o);
        c.max_new = NEW;
        c.max_batch = nA;
        run(&o, c, nA, P, 0);
        c.max_batch = nB;
        run(&o, c, nB, P, 0);
        c.roots = nC;
        c.max_batch = nC;
        c.cascade = -1;
        run(&o, c, 1, CP, 0);
    }
    if (strchr(o.scenarios, 'A')) {
        ro_config c = base(&o);
        c.max_new = NEW;
        c.max_batch = nA;
        scenario_result r = run(&o, c, nA, P, 0);
        char what[128];
        snprintf(what, sizeof what, "%d prompts x %d tokens, %d new each, batch %d", nA, P, NEW, r.max_batch);
        line("A", what, &r);
    }
    if (strchr(o.scenarios, 'B')) {
        ro_config c = base(&o);
        c.max_new = NEW;
        c.max_batch = nB;
        scenario_result r = run(&o, c, nB, P, 0);
        char what[128];
        snprintf(what, sizeof what, "%d prompts x %d tokens, %d new each, batch %d", nB, P, NEW, r.max_batch);
        line("B", what, &r);
    }
    if (strchr(o.scenarios, 'C')) {
        ro_config c = base(&o);
        c.max_new = NEW;
        c.roots = nC;
        c.max_batch = nC;
        scenario_result s = run(&o, c, 1, CP, 0);
        c.share = 0;
        scenario_result u = run(&o, c, 1, CP, 0);
        char what[160];
        snprintf(what, sizeof what, "1 prompt x %d tokens, %d branches x %d new, shared", CP, nC, NEW);
        line("C", what, &s);
        snprintf(what, sizeof what, "1 prompt x %d tokens, %d branches x %d new, --no-share", CP, nC, NEW);
        line("C", what, &u);
        // Held once: beyond the branches' own blocks (each at least NEW / bs of them) the peak
        // has room for less than a second copy of the prompt.
        int prompt_blocks = CP / o.block_size, branch_blocks_shared = s.peak_blocks - prompt_blocks;
        int own = nC * (NEW / o.block_size);
        printf("C: sharing is %.2fx the speed of --no-share; peak KV %d vs %d blocks: the prompt's %d full blocks held "
               "%s (shared: %d + %.1f per branch)\n",
               s.tok_s / u.tok_s, s.peak_blocks, u.peak_blocks, prompt_blocks,
               s.peak_blocks - own < 2 * prompt_blocks ? "once" : "more than once", prompt_blocks,
               (double)branch_blocks_shared / nC);
    }
    if (strchr(o.scenarios, 'D')) {
        ro_config c = base(&o);
        c.max_new = NEW;
        c.roots = 4;
        c.fork = 4;
        c.depth = 3;
        c.force_step = step;
        c.max_batch = nB;
        int nD = nA;
        scenario_result r = run(&o, c, nD, P, 0);
        char what[200];
        snprintf(what, sizeof what, "%d problems x %d-token prompts, 4 roots, 4-way forks every %d tokens to depth 3, "
                 "%d new per trajectory, batch %d", nD, P, step, NEW, r.max_batch);
        line("D", what, &r);
    }
    if (strchr(o.scenarios, 'P')) {
        call_anatomy(&o, nA, 1, P + NEW / 2);
        call_anatomy(&o, nB, 1, P + NEW / 2);
        call_anatomy(&o, o.prefill / P > 0 ? o.prefill / P : 1, P, 0);
    }
    if (strchr(o.scenarios, 'L')) logprob_check(&o, nA / 8 > 0 ? nA / 8 : 1, P, NEW);
    gpt2_free(&model);
    kb_close(ctx);
    return 0;
}
