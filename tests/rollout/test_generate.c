// test_generate.c — one sampling path: ro_generate (the rollout engine's paged decoder, what
// `pretrain generate` and the training-time samples run) against the full-recompute sampler
// `pretrain generate` used before (kept here, verbatim, as the reference), on the CPU backend:
//   - greedy: the same tokens and the same stops as the recompute, for every prompt (lengths
//     1 to the context - 1, so the context and --max-new both end answers), whatever the
//     decode batch, buckets, block size, prefill chunk or KV budget (preemption included);
//   - sampled: the same seed gives the same tokens and log-probs for any engine sizes; another
//     seed, or another sample index, gives other tokens; the K samples of a prompt are those
//     of rollout --depth 0 --roots K (seed mix64(mix64(seed, id), k));
//   - a prompt the engine refuses fails naming it, and leaves the engine idle and usable.
#include <stdlib.h>
#include <string.h>

#include "kernels/gpt2.h"
#include "rollout/generate.h"
#include "rollout/sizing.h"
#include "tests/test.h"

#define V_TINY 67
#define MAXT 64
#define NP 12
#define MAX_NEW 24

static kb_ctx *ctx;
static gpt2 model;
static int32_t prompts[NP][MAXT];
static int plen[NP];

// ---- the reference: pretrain/sample.c's recompute sampler as it was ----------------------------

typedef struct pt_gen {
    const uint32_t *prompt;
    int n_prompt;
    uint64_t seed;
    uint32_t *out;
    int n_out;
    int stopped;
} pt_gen;

static int pt_sample_logits(const float *logits, int V, double temperature, double u) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (temperature <= 0) return best;
    double mx = logits[best], sum = 0;
    for (int i = 0; i < V; i++) sum += exp(((double)logits[i] - mx) / temperature);
    double target = u * sum, acc = 0;
    for (int i = 0; i < V; i++) {
        acc += exp(((double)logits[i] - mx) / temperature);
        if (acc > target) return i;
    }
    return best;
}

static void pt_generate(gpt2 *m, pt_gen *g, int n, int max_new, double temperature, int stop) {
    const int maxB = m->B, maxT = m->T, V = m->cfg.V, Vp = m->cfg.Vp;
    int32_t *tokens = xmalloc((size_t)maxB * maxT * sizeof(int32_t));
    int32_t *rows = xmalloc((size_t)maxB * sizeof(int32_t));
    float *logits = xmalloc((size_t)maxB * Vp * sizeof(float));
    int *len = xmalloc((size_t)n * sizeof(int)), *active = xmalloc((size_t)n * sizeof(int));
    uint32_t **seq = xmalloc((size_t)n * sizeof(uint32_t *));
    for (int i = 0; i < n; i++) {
        seq[i] = xmalloc((size_t)maxT * sizeof(uint32_t));
        memcpy(seq[i], g[i].prompt, (size_t)g[i].n_prompt * sizeof(uint32_t));
        len[i] = g[i].n_prompt;
        g[i].stopped = 0;
        active[i] = max_new > 0 && len[i] < maxT;
    }
    for (int first = 0;;) {
        while (first < n && !active[first]) first++;
        if (first >= n) break;
        int idx[4096], nb = 0, Tc = 0;
        for (int i = first; i < n && nb < maxB && nb < 4096; i++)
            if (active[i]) {
                idx[nb++] = i;
                if (len[i] > Tc) Tc = len[i];
            }
        for (int b = 0; b < nb; b++) {
            int i = idx[b];
            for (int t = 0; t < Tc; t++) tokens[(size_t)b * Tc + t] = t < len[i] ? (int32_t)seq[i][t] : 0;
            rows[b] = b * Tc + len[i] - 1;
        }
        gpt2_logits(m, tokens, nb, Tc, rows, nb, logits);
        for (int b = 0; b < nb; b++) {
            int i = idx[b];
            uint64_t s = mix64(g[i].seed, (uint64_t)len[i]);
            int tok = pt_sample_logits(logits + (size_t)b * Vp, V, temperature, rng_uniform(&s));
            if (tok == stop) {
                g[i].stopped = 1;
                active[i] = 0;
                continue;
            }
            seq[i][len[i]++] = (uint32_t)tok;
            if (len[i] - g[i].n_prompt >= max_new || len[i] >= maxT) active[i] = 0;
        }
    }
    for (int i = 0; i < n; i++) {
        g[i].n_out = len[i] - g[i].n_prompt;
        g[i].out = xmalloc(((size_t)g[i].n_out + 1) * sizeof(uint32_t));
        memcpy(g[i].out, seq[i] + g[i].n_prompt, (size_t)g[i].n_out * sizeof(uint32_t));
        free(seq[i]);
    }
    free(seq), free(len), free(active), free(tokens), free(rows), free(logits);
}

// ---- the engine path ----------------------------------------------------------------------------

typedef struct sizes {
    int max_batch, block_size, prefill_tokens;
    size_t kv_bytes;  // 0: ro_choose_sizes's
} sizes;

// Runs ro_generate with K samples per prompt; returns the answers (NP·K) or NULL on failure.
static ro_gen_answer *gen(const sizes *z, int K, float temperature, uint64_t seed, int stop, ro_stats *st) {
    berr e;
    ro_config rc;
    ro_gen_config(&rc, K, MAX_NEW, temperature, seed, stop);
    if (z->block_size) rc.block_size = z->block_size;
    if (z->prefill_tokens) rc.prefill_tokens = z->prefill_tokens;
    ro_sizing_in si = {.cuda = 0, .L = model.cfg.L, .C = model.cfg.C, .NH = model.cfg.NH, .maxT = model.cfg.maxT,
                       .Vp = model.cfg.Vp, .act_size = kb_act_size(ctx), .block_size = rc.block_size,
                       .prefill_tokens = rc.prefill_tokens, .max_batch = z->max_batch, .kv_bytes = z->kv_bytes};
    kb_device_resources(ctx, &si.res);
    ro_sizing sz;
    if (ro_choose_sizes(&si, &sz, &e)) {
        CHECK(0, "sizes: %s", e.msg);
        return NULL;
    }
    rc.max_batch = sz.max_batch;
    rc.nbuckets = sz.nbuckets;
    memcpy(rc.buckets, sz.buckets, sizeof rc.buckets);
    ro_engine *E = ro_engine_new(&model, sz.kv_bytes, &rc, &e);
    if (!E) {
        CHECK(0, "engine: %s", e.msg);
        return NULL;
    }
    ro_gen_prompt p[NP];
    for (int i = 0; i < NP; i++) p[i] = (ro_gen_prompt){500 + (uint64_t)i, prompts[i], plen[i]};
    ro_gen_answer *a = xcalloc((size_t)NP * K, sizeof *a);
    int rc2 = ro_generate(E, p, NP, a, NULL, NULL, &e);
    if (rc2) CHECK(0, "ro_generate: %s", e.msg);
    if (st) *st = *ro_stats_of(E);
    CHECK(ro_kv_of(E)->in_use == 0, "%d KV blocks still referenced after ro_generate", ro_kv_of(E)->in_use);
    ro_engine_free(E);
    if (rc2) {
        free(a);
        return NULL;
    }
    return a;
}

static void free_answers(ro_gen_answer *a, int K) {
    if (!a) return;
    ro_gen_answer_free(a, (size_t)NP * K);
    free(a);
}

static int same_answers(const ro_gen_answer *a, const ro_gen_answer *b, int n, int with_lp) {
    for (int i = 0; i < n; i++) {
        if (a[i].n != b[i].n || a[i].stopped != b[i].stopped) return 0;
        if (memcmp(a[i].tok, b[i].tok, (size_t)a[i].n * 4)) return 0;
        if (with_lp && memcmp(a[i].lp, b[i].lp, (size_t)a[i].n * 4)) return 0;
    }
    return 1;
}

// Greedy: the recompute's tokens and stops, for every prompt and every one of the K samples.
static void compare_greedy(const pt_gen *ref, const sizes *z, int K, int stop, const char *what) {
    ro_stats st;
    ro_gen_answer *a = gen(z, K, 0.0f, 9, stop, &st);
    if (!a) return;
    for (int i = 0; i < NP; i++)
        for (int k = 0; k < K; k++) {
            const ro_gen_answer *x = &a[i * K + k];
            int same = x->n == ref[i].n_out && x->stopped == ref[i].stopped;
            for (int t = 0; same && t < x->n; t++) same = (uint32_t)x->tok[t] == ref[i].out[t];
            EXPECT(same, "%s: prompt %d (%d tokens) sample %d: %d tokens%s vs the recompute's %d%s", what, i, plen[i], k,
                   x->n, x->stopped ? " + stop" : "", ref[i].n_out, ref[i].stopped ? " + stop" : "");
            for (int t = 0; t < x->n; t++) EXPECT(x->lp[t] <= 0, "%s: log-prob %g above 0", what, x->lp[t]);
        }
    CHECK_EXPECTED("greedy on the engine (%s: max-batch %d, blocks of %d, prefill %d, %llu preemptions) = the recompute",
                   what, z->max_batch, z->block_size, z->prefill_tokens, (unsigned long long)st.preemptions);
    free_answers(a, K);
}

int main(void) {
    berr e;
    ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    gpt2_config cfg = {.L = 2, .C = 64, .NH = 4, .V = V_TINY, .Vp = 128, .maxT = MAXT};
    gpt2_build(&model, ctx, &cfg, 4, MAXT, 0);  // B = 4: the recompute's batch
    gpt2_init(&model, 4242);
    uint64_t g = 17;
    // Lengths from 1 to the context - 1: the last ones end at the context, not at --max-new.
    const int lens[NP] = {1, 2, 5, 9, 16, 17, 23, 31, 40, 47, 55, MAXT - 1};
    for (int i = 0; i < NP; i++) {
        plen[i] = lens[i];
        for (int j = 0; j < plen[i]; j++) prompts[i][j] = (int32_t)(rng_next(&g) % V_TINY);
    }
    uint32_t up[NP][MAXT];
    for (int i = 0; i < NP; i++)
        for (int j = 0; j < plen[i]; j++) up[i][j] = (uint32_t)prompts[i][j];

    // The stop token: the one greedy decoding produces most often without a stop, so that
    // some answers stop and others run to --max-new or the context.
    pt_gen ref[NP];
    for (int i = 0; i < NP; i++) ref[i] = (pt_gen){up[i], plen[i], 1, NULL, 0, 0};
    pt_generate(&model, ref, NP, MAX_NEW, 0, -1);
    int count[V_TINY] = {0}, stop = 0;
    for (int i = 0; i < NP; i++) {
        for (int t = 0; t < ref[i].n_out; t++) count[ref[i].out[t]]++;
        free(ref[i].out);
    }
    for (int v = 1; v < V_TINY; v++)
        if (count[v] > count[stop]) stop = v;
    pt_generate(&model, ref, NP, MAX_NEW, 0, stop);
    int nstop = 0, ncontext = 0, nmax = 0;
    for (int i = 0; i < NP; i++) {
        nstop += ref[i].stopped;
        ncontext += !ref[i].stopped && plen[i] + ref[i].n_out == MAXT;
        nmax += !ref[i].stopped && ref[i].n_out == MAX_NEW;
    }
    REQUIRE(nstop > 0 && ncontext > 0 && nmax > 0, "the reference exercises every ending: %d stopped, %d at the context, "
            "%d at max-new (stop token %d)", nstop, ncontext, nmax, stop);
    // The recompute alone: its batch does not change its tokens (a check of the reference).
    {
        gpt2 one;
        gpt2_build(&one, ctx, &cfg, 1, MAXT, 0);
        float *p = xmalloc(model.n_params * 4);
        gpt2_get_params(&model, p);
        gpt2_set_params(&one, p);
        free(p);
        pt_gen r1[NP];
        for (int i = 0; i < NP; i++) r1[i] = (pt_gen){up[i], plen[i], 1, NULL, 0, 0};
        pt_generate(&one, r1, NP, MAX_NEW, 0, stop);
        int same = 1;
        for (int i = 0; i < NP; i++) {
            same &= r1[i].n_out == ref[i].n_out && r1[i].stopped == ref[i].stopped &&
                    !memcmp(r1[i].out, ref[i].out, (size_t)r1[i].n_out * 4);
            free(r1[i].out);
        }
        CHECK(same, "the recompute reference gives the same greedy tokens at batch 1 and 4");
        gpt2_free(&one);
    }

    // 1. Greedy equivalence at the default sizes and at awkward ones; the smallest KV budget the
    //    engine takes forces preemption with 12 prompts running.
    size_t blk4 = gpt2_kv_block_bytes(&model, 4);
    const sizes cases[] = {{0, 16, 512, 0}, {1, 16, 512, 0}, {3, 4, 7, 0}, {5, 1, 1, 0}, {8, 4, 5, (MAXT / 4 + 2) * blk4}};
    const char *names[] = {"default sizes", "batch 1", "batch 3, blocks of 4, prefill 7", "batch 5, blocks of 1, prefill 1",
                           "batch 8, the smallest KV budget"};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) compare_greedy(ref, &cases[c], 1, stop, names[c]);
    compare_greedy(ref, &cases[2], 3, stop, "3 samples a prompt");
    {
        ro_stats st;
        ro_gen_answer *a = gen(&cases[4], 1, 0.0f, 9, stop, &st);
        CHECK(a && st.preemptions > 0, "the smallest KV budget preempts (%llu preemptions)",
              a ? (unsigned long long)st.preemptions : 0ull);
        free_answers(a, 1);
    }

    // 2. Sampled: reproducible by seed whatever the sizes; the seed and the sample index matter.
    {
        const int K = 2;
        ro_gen_answer *a = gen(&cases[0], K, 0.9f, 31, stop, NULL), *b = gen(&cases[2], K, 0.9f, 31, stop, NULL),
                      *c = gen(&cases[4], K, 0.9f, 31, stop, NULL), *d = gen(&cases[0], K, 0.9f, 32, stop, NULL);
        REQUIRE(a && b && c && d, "sampled runs");
        CHECK(same_answers(a, b, NP * K, 1) && same_answers(a, c, NP * K, 1),
              "sampled answers (tokens and log-probs) are the same for any engine sizes at one seed");
        CHECK(!same_answers(a, d, NP * K, 0), "another seed gives other samples");
        int differ = 0;
        for (int i = 0; i < NP; i++) differ += !same_answers(&a[i * K], &a[i * K + 1], 1, 0);
        CHECK(differ > NP / 2, "the samples of a prompt differ from each other (%d of %d prompts)", differ, NP);
        // Sample k of prompt id is rollout's root k: a run with K = 1 gives sample 0.
        ro_gen_answer *one = gen(&cases[0], 1, 0.9f, 31, stop, NULL);
        int first = one != NULL;
        for (int i = 0; one && i < NP; i++) first &= same_answers(&one[i], &a[i * K], 1, 1);
        CHECK(first, "sample 0 of K is the one sample of K = 1 (per-sample seeds, independent of K)");
        free_answers(one, 1);
        free_answers(a, K), free_answers(b, K), free_answers(c, K), free_answers(d, K);
    }

    // 3. A prompt that fills the context is refused by name; the engine stays usable.
    {
        ro_config rc;
        ro_gen_config(&rc, 1, MAX_NEW, 0.0f, 1, stop);
        rc.max_batch = 4;
        ro_engine *E = ro_engine_new(&model, (size_t)64 << 20, &rc, &e);
        REQUIRE(E, "engine: %s", e.msg);
        int32_t full[MAXT];
        for (int j = 0; j < MAXT; j++) full[j] = j % V_TINY;
        ro_gen_prompt p[3] = {{1, prompts[3], plen[3]}, {2, full, MAXT}, {3, prompts[4], plen[4]}};
        ro_gen_answer out[3];
        int rc2 = ro_generate(E, p, 3, out, NULL, NULL, &e);
        CHECK(rc2 != 0 && strstr(e.msg, "prompt 1 of 3") && strstr(e.msg, "no room"), "a full-context prompt refused: %s",
              rc2 ? e.msg : "(accepted)");
        CHECK(!ro_busy(E) && ro_kv_of(E)->in_use == 0 && out[0].tok == NULL, "after the failure the engine is idle, "
              "nothing held, the answers freed");
        rc2 = ro_generate(E, p, 1, out, NULL, NULL, &e);
        int same = rc2 == 0 && out[0].n == ref[3].n_out && out[0].stopped == ref[3].stopped;
        for (int t = 0; same && t < out[0].n; t++) same = (uint32_t)out[0].tok[t] == ref[3].out[t];
        CHECK(same, "... and generates the reference's answer afterwards");
        if (rc2 == 0) ro_gen_answer_free(out, 1);
        ro_config bad;
        ro_config_default(&bad);  // forks at markers: not a sampler's configuration
        bad.eot = stop;
        bad.step = 3;
        ro_engine *B = ro_engine_new(&model, (size_t)64 << 20, &bad, &e);
        REQUIRE(B, "engine: %s", e.msg);
        CHECK(ro_generate(B, p, 1, out, NULL, NULL, &e) != 0 && strstr(e.msg, "ro_gen_config"),
              "an engine that forks is refused: %s", e.msg);
        ro_engine_free(B);
        ro_engine_free(E);
    }
    for (int i = 0; i < NP; i++) free(ref[i].out);
    gpt2_free(&model);
    kb_close(ctx);
    return test_summary();
}
