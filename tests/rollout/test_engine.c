// test_engine.c — the rollout engine on the CPU backend with small random models:
//   - every generated token and log-prob equals a full recompute by the training forward
//     (the log-prob bit for bit, the token by sampling the recomputed logits);
//   - a tree generated with prefix sharing equals the tree with every node computed from
//     scratch (cascade attention off and on);
//   - the same seeds give the same trees for any batch size, prefill chunk, decode buckets,
//     problem order, thread count, and under memory pressure (preemption);
//   - after every run all blocks are free; the KV accounting identity holds;
//   - tree rules: fork counts, depth, budget, max length, answer line, seeds, step ends;
//   - policy versions: never reused across versions; bad prompts get clear messages.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/engine.h"
#include "tests/test.h"

#define NPROB 10
#define V_TINY 32
#define EOT 31
#define STEP 30
#define ANSWER 29
#define NL 28  // the "newline" token

static kb_ctx *ctx;
static gpt2 model;
static uint8_t newline_tab[V_TINY];
static int32_t prompts[NPROB][48];
static int prompt_len[NPROB];

typedef struct outcome {
    ro_result r[NPROB];
    ro_stats st;
    int blocks_after, free_after_flush, nblocks, check_ok;
    char check_msg[1100];
} outcome;

static void base_config(ro_config *c) {
    ro_config_default(c);
    c->roots = 3;
    c->fork = 2;
    c->depth = 2;
    c->max_new = 24;
    c->temperature = 1.0f;
    c->seed = 7;
    c->eot = EOT;
    c->step = STEP;
    c->answer = ANSWER;
    c->newline = newline_tab;
    c->block_size = 4;
    c->max_batch = 16;
    c->prefill_tokens = 32;
    c->cascade = 0;
}

// Runs every problem (in `order`, or 0..NPROB-1) and collects the trees by problem index.
static void run(const ro_config *c, const int *order, size_t kv_bytes, outcome *o) {
    memset(o, 0, sizeof *o);
    berr e;
    ro_engine *E = ro_engine_new(&model, kv_bytes, c, &e);
    if (!E) {
        CHECK(0, "engine: %s", e.msg);
        return;
    }
    int next = 0, got = 0, steps = 0;
    while (got < NPROB && steps < 100000) {
        while (next < NPROB && ro_wants(E)) {
            int i = order ? order[next] : next;
            int rc = ro_add(E, 1000 + (uint64_t)i, prompts[i], prompt_len[i], i % 3 != 2, NULL, &e);
            CHECK(rc == 0, "add: %s", e.msg);
            next++;
        }
        ro_step(E);
        steps++;
        ro_result r;
        while (ro_take(E, &r)) {
            int i = (int)(r.tree.problem_id - 1000);
            o->r[i] = r;
            got++;
        }
    }
    CHECK(got == NPROB && !ro_busy(E), "%d of %d problems finished in %d steps", got, NPROB, steps);
    o->st = *ro_stats_of(E);
    const kv_cache *kc = ro_kv_of(E);
    o->blocks_after = kc->in_use;
    o->nblocks = kc->nblocks;
    o->check_ok = kvc_check(kc, &e) == 0;
    if (!o->check_ok) snprintf(o->check_msg, sizeof o->check_msg, "%s", e.msg);
    kvc_flush((kv_cache *)kc);
    o->free_after_flush = kc->nfree;
    ro_engine_free(E);
}

static void free_outcome(outcome *o) {
    for (int i = 0; i < NPROB; i++) ro_result_free(&o->r[i]);
}

static int same_tree(const traj_rec *a, const traj_rec *b, char *why, size_t n) {
    if (a->problem_id != b->problem_id || a->policy_version != b->policy_version || a->n_prompt != b->n_prompt)
        return snprintf(why, n, "headers differ"), 0;
    if (memcmp(a->prompt, b->prompt, a->n_prompt * 4)) return snprintf(why, n, "prompts differ"), 0;
    if (a->n_nodes != b->n_nodes) return snprintf(why, n, "%u nodes vs %u", a->n_nodes, b->n_nodes), 0;
    for (uint32_t k = 0; k < a->n_nodes; k++) {
        const traj_node *x = &a->nodes[k], *y = &b->nodes[k];
        if (x->parent != y->parent || x->finish != y->finish || x->seed != y->seed || x->n_tokens != y->n_tokens ||
            x->n_steps != y->n_steps)
            return snprintf(why, n, "node %u: structure differs (%u/%u tokens, finish %u/%u)", k, x->n_tokens, y->n_tokens,
                            x->finish, y->finish), 0;
        if (memcmp(x->tokens, y->tokens, x->n_tokens * 4)) return snprintf(why, n, "node %u: tokens differ", k), 0;
        if (memcmp(x->logprobs, y->logprobs, x->n_tokens * 4)) return snprintf(why, n, "node %u: log-probs differ", k), 0;
        if (memcmp(x->step_ends, y->step_ends, x->n_steps * 4)) return snprintf(why, n, "node %u: step ends differ", k), 0;
    }
    return 1;
}

static void check_no_leak(const outcome *o, const char *what) {
    CHECK(o->blocks_after == 0, "%s: %d blocks still referenced after the run", what, o->blocks_after);
    CHECK(o->check_ok, "%s: block manager invariant: %s", what, o->check_msg);
    CHECK(o->free_after_flush == o->nblocks, "%s: %d of %d blocks free after flushing the cache", what, o->free_after_flush,
          o->nblocks);
    const ro_stats *s = &o->st;
    CHECK(s->kv_computed + s->kv_reused == s->baseline + s->kv_lost,
          "%s: computed %llu + reused %llu != from-scratch %llu + lost to preemption %llu", what,
          (unsigned long long)s->kv_computed, (unsigned long long)s->kv_reused, (unsigned long long)s->baseline,
          (unsigned long long)s->kv_lost);
}

static void expect_same(const outcome *a, const outcome *b, const char *what) {
    char why[160] = "";
    int bad = -1;
    for (int i = 0; i < NPROB && bad < 0; i++)
        if (!same_tree(&a->r[i].tree, &b->r[i].tree, why, sizeof why)) bad = i;
    CHECK(bad < 0, "%s: problem %d: %s", what, bad, why);
}

// ---- tree rules ------------------------------------------------------------------------------------

// Tokens generated on the path to node k (ancestors only).
static int path_before(const traj_rec *t, uint32_t k) {
    int n = 0;
    for (uint32_t p = t->nodes[k].parent; p != TRAJ_ROOT; p = t->nodes[p].parent) n += (int)t->nodes[p].n_tokens;
    return n;
}

static int depth_of(const traj_rec *t, uint32_t k) {
    int d = 0;
    for (uint32_t p = t->nodes[k].parent; p != TRAJ_ROOT; p = t->nodes[p].parent) d++;
    return d;
}

static void check_rules(const outcome *o, const ro_config *c, const char *what) {
    int bad = 0;
    char why[200] = "";
    for (int i = 0; i < NPROB && !bad; i++) {
        const traj_rec *t = &o->r[i].tree;
        uint64_t pseed = mix64(c->seed, t->problem_id), total = 0;
        int roots = 0;
        for (uint32_t k = 0; k < t->n_nodes && !bad; k++) {
            const traj_node *v = &t->nodes[k];
            int nk = 0, pb = path_before(t, k), d = depth_of(t, k);
            total += v->n_tokens;
            for (uint32_t j = k + 1; j < t->n_nodes; j++) nk += t->nodes[j].parent == k;
            if (v->parent == TRAJ_ROOT) {
                bad |= v->seed != mix64(pseed, (uint64_t)roots);
                roots++;
            } else {
                int c_idx = 0;
                for (uint32_t j = v->parent + 1; j < k; j++) c_idx += t->nodes[j].parent == v->parent;
                bad |= v->seed != mix64(t->nodes[v->parent].seed, (uint64_t)c_idx);
            }
            if (bad) {
                snprintf(why, sizeof why, "problem %d node %u: seed does not follow the derivation", i, k);
                break;
            }
            if (v->n_tokens == 0) {
                snprintf(why, sizeof why, "problem %d node %u has no tokens", i, k);
                bad = 1;
                break;
            }
            uint32_t last = v->tokens[v->n_tokens - 1];
            int answered = 0;
            for (uint32_t j = 0; j < v->n_tokens; j++) answered |= v->tokens[j] == ANSWER;
            int ok = 1;
            switch (v->finish) {
            case FINISH_BRANCHED:
                ok = nk == c->fork && d < c->depth && (last == STEP || (c->force_step && v->n_tokens % c->force_step == 0));
                break;
            case FINISH_ANSWER: ok = nk == 0 && answered && (last == EOT || (i % 3 != 2 && last == NL)); break;
            case FINISH_EOT: ok = nk == 0 && last == EOT && !answered; break;
            case FINISH_MAXLEN:
                ok = nk == 0 && (pb + (int)v->n_tokens == c->max_new || (int)t->n_prompt + pb + (int)v->n_tokens == 64);
                break;
            case FINISH_BUDGET: ok = nk == 0 && c->budget > 0; break;
            default: ok = 0;
            }
            if (!ok) {
                snprintf(why, sizeof why, "problem %d node %u: finish %u with %d children, depth %d, %u tokens, last token %u",
                      i, k, v->finish, nk, d, v->n_tokens, last);
                bad = 1;
            }
            for (uint32_t j = 0; j < v->n_tokens; j++)
                if (!(v->logprobs[j] <= 0)) bad = 1;
            for (uint32_t s = 0; s < v->n_steps; s++) {
                uint32_t at = v->step_ends[s];
                if (at >= v->n_tokens || (s && at <= v->step_ends[s - 1]) ||
                    !(v->tokens[at] == STEP || v->tokens[at] == ANSWER || c->force_step))
                    bad = 1;
            }
            if (bad && !why[0]) snprintf(why, sizeof why, "problem %d node %u: log-probs or step ends malformed", i, k);
        }
        if (!bad && roots != c->roots) {
            snprintf(why, sizeof why, "problem %d has %d roots", i, roots);
            bad = 1;
        }
        if (!bad && c->budget > 0 && total > (uint64_t)c->budget) {
            snprintf(why, sizeof why, "problem %d generated %llu tokens over the budget %lld", i, (unsigned long long)total,
                  (long long)c->budget);
            bad = 1;
        }
    }
    CHECK(!bad, "%s: %s", what, why);
}

// ---- exactness against the training forward ----------------------------------------------------------

// Recomputes every node's tokens with gpt2_forward over the full sequence (no cache): the
// per-token loss is minus the log-prob the rollout recorded, bit for bit; and sampling the
// recomputed logits with the node's seed and the token's position gives the same token.
static void check_against_recompute(const outcome *o, const ro_config *c) {
    gpt2 full;
    gpt2_build(&full, ctx, &model.cfg, 1, model.cfg.maxT, 0);
    float *p = xmalloc(model.n_params * 4);
    gpt2_get_params(&model, p);
    gpt2_set_params(&full, p);
    free(p);
    int Vp = model.cfg.Vp;
    int32_t *seq = xmalloc(64 * 4), *tgt = xmalloc(64 * 4), *rows = xmalloc(64 * 4);
    float *logits = xmalloc((size_t)64 * Vp * 4);
    int32_t tok_s;
    float lp_s;
    long tokens = 0, lp_bad = 0, tok_bad = 0;
    for (int i = 0; i < NPROB; i++) {
        const traj_rec *t = &o->r[i].tree;
        for (uint32_t k = 0; k < t->n_nodes; k++) {
            const traj_node *v = &t->nodes[k];
            // the full sequence to this node's last token
            uint32_t chain[64];
            int nc = 0;
            for (uint32_t q = k; q != TRAJ_ROOT; q = t->nodes[q].parent) chain[nc++] = q;
            int n = 0;
            for (uint32_t j = 0; j < t->n_prompt; j++) seq[n++] = (int32_t)t->prompt[j];
            for (int a = nc - 1; a >= 0; a--)
                for (uint32_t j = 0; j < t->nodes[chain[a]].n_tokens; j++) seq[n++] = (int32_t)t->nodes[chain[a]].tokens[j];
            int T = n - 1, first = n - (int)v->n_tokens;  // position of the node's first token
            for (int j = 0; j < T; j++) tgt[j] = j + 1 >= first ? seq[j + 1] : -1;
            gpt2_forward(&full, seq, tgt, 1, T);  // per-position nll in full.losses (host memory on the CPU)
            for (uint32_t j = 0; j < v->n_tokens; j++) {
                int pos = first + (int)j;
                float nll = full.losses[pos - 1];
                if (-nll != v->logprobs[j] && !(nll == 0 && v->logprobs[j] == 0)) lp_bad++;
                rows[j] = pos - 1;
            }
            gpt2_logits(&full, seq, 1, T, rows, (int)v->n_tokens, logits);
            for (uint32_t j = 0; j < v->n_tokens; j++) {
                uint64_t counter = (uint64_t)(first + (int)j);
                kb_sample(ctx, &tok_s, &lp_s, (kb_act *)(logits + (size_t)j * Vp), &v->seed, &counter, 1, model.cfg.V, Vp,
                          c->temperature, c->top_k, c->top_p);
                if ((uint32_t)tok_s != v->tokens[j] || lp_s != v->logprobs[j]) tok_bad++;
                tokens++;
            }
        }
    }
    CHECK(lp_bad == 0, "%ld of %ld log-probs differ from the training forward's", lp_bad, tokens);
    CHECK(tok_bad == 0, "%ld of %ld tokens differ from sampling the recomputed logits", tok_bad, tokens);
    printf("recompute: %ld tokens checked against the training forward\n", tokens);
    free(seq), free(tgt), free(rows), free(logits);
    gpt2_free(&full);
}

// ---- the tests ----------------------------------------------------------------------------------------

static void test_exact_and_shared(void) {
    ro_config c;
    base_config(&c);
    outcome a, b, d, f;
    run(&c, NULL, 1 << 20, &a);
    check_no_leak(&a, "shared");
    check_rules(&a, &c, "tree rules (natural markers)");
    printf("shared run: %llu nodes, %llu tokens, %llu reused, %llu computed, finish branched %llu answer %llu eot %llu "
           "maxlen %llu\n",
           (unsigned long long)a.st.nodes, (unsigned long long)a.st.generated, (unsigned long long)a.st.kv_reused,
           (unsigned long long)a.st.kv_computed, (unsigned long long)a.st.finish[0], (unsigned long long)a.st.finish[1],
           (unsigned long long)a.st.finish[2], (unsigned long long)a.st.finish[3]);
    CHECK(a.st.finish[FINISH_BRANCHED] > 0 && a.st.finish[FINISH_ANSWER] > 0 && a.st.finish[FINISH_EOT] > 0 &&
              a.st.finish[FINISH_MAXLEN] > 0,
          "the test trees exercise every way a node ends but the budget");
    CHECK(a.st.kv_reused > 0 && a.st.cow_copies > 0, "sharing reused %llu positions with %llu block copies",
          (unsigned long long)a.st.kv_reused, (unsigned long long)a.st.cow_copies);
    check_against_recompute(&a, &c);
    if (getenv("HIST")) {
        int h[V_TINY] = {0};
        for (int i = 0; i < NPROB; i++)
            for (uint32_t k = 0; k < a.r[i].tree.n_nodes; k++)
                for (uint32_t j = 0; j < a.r[i].tree.nodes[k].n_tokens; j++) h[a.r[i].tree.nodes[k].tokens[j]]++;
        for (int t = 0; t < V_TINY; t++) printf("%d:%d ", t, h[t]);
        for (uint32_t k = 0; k < a.r[1].tree.n_nodes; k++) {
            printf("\nnode %u fin %u:", k, a.r[1].tree.nodes[k].finish);
            for (uint32_t j = 0; j < a.r[1].tree.nodes[k].n_tokens; j++) printf(" %u", a.r[1].tree.nodes[k].tokens[j]);
        }
        printf("\n");
    }

    c.share = 0;
    run(&c, NULL, 1 << 20, &b);
    check_no_leak(&b, "from scratch");
    expect_same(&a, &b, "prefix sharing gives the trees of computing every node from scratch");
    CHECK(b.st.kv_reused == 0 && b.st.kv_computed == b.st.baseline, "from scratch: reused %llu, computed %llu of %llu",
          (unsigned long long)b.st.kv_reused, (unsigned long long)b.st.kv_computed, (unsigned long long)b.st.baseline);
    CHECK(a.st.kv_computed < b.st.kv_computed, "sharing computes fewer positions (%llu < %llu)",
          (unsigned long long)a.st.kv_computed, (unsigned long long)b.st.kv_computed);

    // Cascade (shared-prompt) attention: not the training forward's bits, but again the same
    // trees with and without sharing.
    c.cascade = 1;
    c.share = 1;
    run(&c, NULL, 1 << 20, &d);
    check_no_leak(&d, "cascade shared");
    c.share = 0;
    run(&c, NULL, 1 << 20, &f);
    check_no_leak(&f, "cascade from scratch");
    expect_same(&d, &f, "cascade attention: sharing gives the trees of computing from scratch");
    c.share = 1;
    c.max_batch = 5;
    c.prefill_tokens = 9;
    outcome g;
    run(&c, NULL, 1 << 20, &g);
    expect_same(&d, &g, "cascade attention: the trees do not depend on the batch");
    free_outcome(&g);
    free_outcome(&a), free_outcome(&b), free_outcome(&d), free_outcome(&f);
}

static void test_invariance(void) {
    ro_config c;
    base_config(&c);
    c.force_step = 5;  // forks at every 5th token as well: bushier trees
    c.depth = 3;
    c.top_k = 12;
    c.top_p = 0.9f;
    outcome ref;
    run(&c, NULL, 1 << 20, &ref);
    check_no_leak(&ref, "reference");
    check_rules(&ref, &c, "tree rules (forced steps, top-k/top-p)");
    struct {
        int max_batch, prefill, threads, shuffle, nb, pad;
        int buckets[4];
        size_t kv;
        const char *what;
    } v[] = {
        {1, 1, 1, 0, 0, 0, {0}, 1 << 20, "batch 1, prefill 1 token per step, 1 thread"},
        {3, 7, 2, 1, 0, 0, {0}, 1 << 20, "batch 3, prefill 7, 2 threads, shuffled problems"},
        {64, 512, 2, 1, 2, 0, {40, 64}, 1 << 20, "batch 64 in buckets 40/64, prefill 512, shuffled"},
        {16, 32, 1, 1, 0, 0, {0}, 0, "memory for a few sequences only (preemption)"},
        {8, 20, 2, 1, 0, 16, {0}, 1 << 20, "prefill 20 padded to multiples of 16 rows (as on the GPU)"},
        {5, 37, 1, 0, 0, 64, {0}, 1 << 20, "prefill 37 padded to 64 rows"},
    };
    int order[NPROB];
    for (int i = 0; i < NPROB; i++) order[i] = NPROB - 1 - i;
    order[0] = 3, order[NPROB - 1 - 3] = NPROB - 1;  // a swap: not just reversed
    int saved = omp_get_max_threads();
    for (size_t k = 0; k < sizeof v / sizeof *v; k++) {
        ro_config x = c;
        x.max_batch = v[k].max_batch;
        x.prefill_tokens = v[k].prefill;
        x.prefill_pad = v[k].pad;
        x.nbuckets = v[k].nb;
        for (int j = 0; j < v[k].nb; j++) x.buckets[j] = v[k].buckets[j];
        omp_set_num_threads(v[k].threads);
        // The smallest budget the engine accepts: one full-length sequence plus two blocks.
        size_t kv = v[k].kv ? v[k].kv : (size_t)(64 / 4 + 3) * gpt2_kv_block_bytes(&model, 4);
        outcome o;
        run(&x, v[k].shuffle ? order : NULL, kv, &o);
        check_no_leak(&o, v[k].what);
        expect_same(&ref, &o, v[k].what);
        if (!v[k].kv) CHECK(o.st.preemptions > 0, "the small KV budget preempted (%llu)", (unsigned long long)o.st.preemptions);
        free_outcome(&o);
    }
    omp_set_num_threads(saved);
    free_outcome(&ref);
}

static void test_budget_and_greedy(void) {
    ro_config c;
    base_config(&c);
    c.force_step = 3;
    c.depth = 4;
    c.fork = 3;
    c.budget = 40;
    outcome a, b;
    run(&c, NULL, 1 << 20, &a);
    check_no_leak(&a, "budget");
    check_rules(&a, &c, "tree rules with a token budget");
    CHECK(a.st.finish[FINISH_BUDGET] > 0, "the budget ended nodes (%llu)", (unsigned long long)a.st.finish[FINISH_BUDGET]);
    c.share = 0;
    run(&c, NULL, 1 << 20, &b);
    expect_same(&a, &b, "budgeted trees: sharing equals from scratch");
    free_outcome(&a), free_outcome(&b);
    // Greedy: every root of a problem is the same trajectory (equal blocks get deduplicated).
    base_config(&c);
    c.temperature = 0;
    c.depth = 0;
    run(&c, NULL, 1 << 20, &a);
    check_no_leak(&a, "greedy");
    int same = 1;
    for (int i = 0; i < NPROB; i++) {
        const traj_rec *t = &a.r[i].tree;
        for (uint32_t k = 1; k < t->n_nodes; k++)
            same &= t->nodes[k].n_tokens == t->nodes[0].n_tokens &&
                    !memcmp(t->nodes[k].tokens, t->nodes[0].tokens, t->nodes[0].n_tokens * 4);
    }
    CHECK(same, "greedy roots of a problem are identical");
    check_against_recompute(&a, &c);
    free_outcome(&a);
}

// A prompt that shares an instruction with the others finds its blocks in the prefix tree;
// after a version change nothing is found any more.
static void test_cache_and_versions(void) {
    ro_config c;
    base_config(&c);
    c.roots = 1;
    c.depth = 0;
    c.max_batch = 1;
    berr e;
    ro_engine *E = ro_engine_new(&model, 1 << 20, &c, &e);
    CHECK(E != NULL, "engine: %s", E ? "" : e.msg);
    if (!E) return;
    int32_t pr[2][20];
    for (int i = 0; i < 20; i++) pr[0][i] = pr[1][i] = (i * 7) % 25;
    pr[1][19] = 3;
    ro_result r;
    uint64_t before;
    for (int round = 0; round < 3; round++) {
        if (round == 2) {
            CHECK(ro_set_version(E, 5, &e) == 0, "version change while idle: %s", e.msg);
        }
        before = ro_stats_of(E)->kv_reused;
        for (int p = 0; p < 2; p++) {
            CHECK(ro_add(E, (uint64_t)(round * 2 + p), pr[p], 20, 1, NULL, &e) == 0, "add: %s", e.msg);
            while (!ro_take(E, &r)) ro_step(E);
            CHECK(r.tree.policy_version == (round == 2 ? 5u : 0u), "tree carries policy version %u", r.tree.policy_version);
            ro_result_free(&r);
        }
        uint64_t got = ro_stats_of(E)->kv_reused - before;
        if (round == 0) CHECK(got == 16, "round 0: the second prompt reused the first's 4 full blocks (%llu)", (unsigned long long)got);
        if (round == 1) CHECK(got == 32, "round 1: both prompts found in the tree (%llu positions)", (unsigned long long)got);
        if (round == 2) CHECK(got == 16, "after a version change only this version's blocks are found (%llu)", (unsigned long long)got);
    }
    CHECK(ro_add(E, 77, pr[0], 20, 1, NULL, &e) == 0, "add");
    ro_step(E);
    CHECK(ro_set_version(E, 6, &e) != 0 && strstr(e.msg, "while"), "a version change while a problem runs is refused: %s", e.msg);
    while (!ro_take(E, &r)) ro_step(E);
    ro_result_free(&r);
    // prompts that cannot run
    int32_t big[80] = {0}, bad[3] = {1, 99, 2};
    CHECK(ro_add(E, 5, big, 64, 1, NULL, &e) != 0 && strstr(e.msg, "problem 5") && strstr(e.msg, "context of 64"),
          "a prompt as long as the context: %s", e.msg);
    CHECK(ro_add(E, 6, big, 0, 1, NULL, &e) != 0 && strstr(e.msg, "empty"), "an empty prompt: %s", e.msg);
    CHECK(ro_add(E, 7, bad, 3, 1, NULL, &e) != 0 && strstr(e.msg, "outside the vocabulary"), "a bad token: %s", e.msg);
    CHECK(ro_kv_of(E)->in_use == 0, "no block referenced at the end");
    ro_engine_free(E);
    // options the engine refuses
    c.budget = 2;
    c.roots = 3;
    CHECK(ro_engine_new(&model, 1 << 20, &c, &e) == NULL && strstr(e.msg, "--budget"), "%s", e.msg);
    base_config(&c);
    CHECK(ro_engine_new(&model, 4096, &c, &e) == NULL && strstr(e.msg, "KV budget"), "tiny KV budget: %s", e.msg);
}

int main(void) {
    berr e;
    ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    gpt2_config cfg = {.L = 2, .C = 64, .NH = 2, .V = V_TINY, .Vp = 128, .maxT = 64};
    gpt2_build(&model, ctx, &cfg, 1, 1, 0);
    gpt2_init(&model, 42);
    // A random model's next-token distribution is nearly uniform. Give the task format's
    // tokens a fixed logit offset through the final layernorm's bias (b = Σ β_t·wte_t/|wte_t|²)
    // so that steps, answers, answer lines and end-of-text all happen in short trees.
    float *p = xmalloc(model.n_params * 4);
    gpt2_get_params(&model, p);
    const int special[4] = {STEP, ANSWER, NL, EOT};
    const float beta[4] = {0.7f, 0.7f, 1.3f, -0.3f};
    for (int k = 0; k < 4; k++) {
        const float *w = p + model.off[GPT2_WTE] + (size_t)special[k] * cfg.C;
        double n2 = 0;
        for (int i = 0; i < cfg.C; i++) n2 += (double)w[i] * w[i];
        for (int i = 0; i < cfg.C; i++) p[model.off[GPT2_LNFB] + i] += (float)(beta[k] * w[i] / n2);
    }
    gpt2_set_params(&model, p);
    free(p);
    newline_tab[NL] = 1;
    uint64_t g = 99;
    for (int i = 0; i < NPROB; i++) {
        prompt_len[i] = i == 0 ? 1 : 2 + (int)(rng_next(&g) % 38);
        for (int j = 0; j < prompt_len[i]; j++) prompts[i][j] = j < 9 && i % 2 ? j : (int32_t)(rng_next(&g) % 28);
    }
    test_exact_and_shared();
    test_invariance();
    test_budget_and_greedy();
    test_cache_and_versions();
    gpt2_free(&model);
    kb_close(ctx);
    return test_summary();
}
