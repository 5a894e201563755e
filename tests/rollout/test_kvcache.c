// test_kvcache.c — property test of the KV block manager and prefix tree on its own: many
// random sequences of start / feed / generate / fork / finish / evict / version-change
// operations against a shadow "device" that stores, per slot, the token whose K/V it holds.
// After every operation: every invariant of kvc_check, every block's reference count equals
// the number of live table entries naming it, every live sequence reads its own tokens at
// every fed position, every cached block holds exactly its key's tokens, nothing found in
// the tree belongs to another policy version. After every run: all blocks free (no leak).
// The random runs are one property and one check (BERRY_TEST_SEED draws other runs).
#include <stdlib.h>
#include <string.h>

#include "rollout/kvcache.h"
#include "tests/test.h"

#define MAX_SEQS 24
#define MAX_LEN 96

typedef struct sim_seq {
    int live;
    uint32_t version;
    int n;  // tokens
    int32_t tok[MAX_LEN];
    kv_seq kv;
} sim_seq;

typedef struct sim {
    kv_cache c;
    int32_t *shadow;  // nblocks·bs: token whose K/V the slot holds (-1: never written)
    sim_seq s[MAX_SEQS];
    uint32_t version;
    uint64_t rng;
    int32_t base[4][MAX_LEN];  // shared prompt material, so prefixes collide
    int64_t reused, copies, oom;
} sim;

static int rnd(sim *m, int n) { return (int)(rng_next(&m->rng) % (uint64_t)n); }

static int check_all(sim *m, const char *op, int run, int step) {
    berr e;
    int bad = 0;
    if (kvc_check(&m->c, &e)) {
        fprintf(stderr, "run %d step %d (%s): %s\n", run, step, op, e.msg);
        return 1;
    }
    int *refs = xcalloc((size_t)m->c.nblocks, sizeof *refs);
    for (int i = 0; i < MAX_SEQS; i++) {
        sim_seq *q = &m->s[i];
        if (!q->live) continue;
        for (int j = 0; j < q->kv.nblocks; j++) refs[q->kv.blocks[j]]++;
        for (int p = 0; p < q->kv.n_fed && !bad; p++)
            if (m->shadow[kvs_slot(&m->c, &q->kv, p)] != q->tok[p]) {
                fprintf(stderr, "run %d step %d (%s): seq %d position %d reads token %d, holds %d\n", run, step, op, i,
                        p, m->shadow[kvs_slot(&m->c, &q->kv, p)], q->tok[p]);
                bad = 1;
            }
        for (int j = 0; j < q->kv.nblocks && !bad; j++)
            if (m->c.cached[q->kv.blocks[j]] && m->c.version[q->kv.blocks[j]] != q->version) {
                fprintf(stderr, "run %d step %d (%s): seq %d of version %u holds a block of version %u\n", run, step, op,
                        i, q->version, m->c.version[q->kv.blocks[j]]);
                bad = 1;
            }
    }
    for (int b = 0; b < m->c.nblocks && !bad; b++) {
        if (refs[b] != m->c.ref[b]) {
            fprintf(stderr, "run %d step %d (%s): block %d has %d references, tables name it %d times\n", run, step, op,
                    b, m->c.ref[b], refs[b]);
            bad = 1;
        }
        if (m->c.cached[b] && memcmp(m->shadow + (size_t)b * m->c.bs, m->c.tokens + (size_t)b * m->c.bs,
                                     (size_t)m->c.bs * 4) != 0) {
            fprintf(stderr, "run %d step %d (%s): cached block %d does not hold its key's tokens\n", run, step, op, b);
            bad = 1;
        }
    }
    free(refs);
    return bad;
}

static int free_slot(sim *m) {
    for (int i = 0; i < MAX_SEQS; i++)
        if (!m->s[i].live) return i;
    return -1;
}

static int pick_live(sim *m) {
    int live[MAX_SEQS], n = 0;
    for (int i = 0; i < MAX_SEQS; i++)
        if (m->s[i].live) live[n++] = i;
    return n ? live[rnd(m, n)] : -1;
}

static void finish(sim *m, int i) {
    kvs_release(&m->c, &m->s[i].kv);
    m->s[i].live = 0;
}

// Starts a sequence from shared prompt material (plus a random tail) and takes what the
// tree has of it.
static const char *op_start(sim *m) {
    int i = free_slot(m);
    if (i < 0) return "start (full)";
    sim_seq *q = &m->s[i];
    q->live = 1;
    q->version = m->version;
    int base = rnd(m, 4), n = 1 + rnd(m, MAX_LEN / 2);
    memcpy(q->tok, m->base[base], (size_t)n * 4);
    if (rnd(m, 3) == 0) q->tok[n - 1] = rnd(m, 5);
    q->n = n;
    m->reused += kvs_attach_prefix(&m->c, &q->kv, q->version, q->tok, q->n, q->n - rnd(m, 2));
    return "start";
}

// Writes up to `pending` positions of a sequence, as a forward would.
static const char *op_feed(sim *m) {
    int i = pick_live(m);
    if (i < 0) return "feed (none)";
    sim_seq *q = &m->s[i];
    int pending = q->n - q->kv.n_fed;
    if (pending == 0) return "feed (nothing pending)";
    int n = 1 + rnd(m, pending);
    kv_copy cp[4];
    int ncp = 0;
    int need = kvs_blocks_needed(&m->c, &q->kv, n);
    if (kvs_reserve(&m->c, &q->kv, n, cp, &ncp)) {
        EXPECT(need > kvc_available(&m->c), "reserve refused %d blocks with %d available", need, kvc_available(&m->c));
        m->oom++;
        // Out of memory: finish a random other sequence, as a scheduler would preempt one.
        int j = pick_live(m);
        if (j >= 0 && j != i) finish(m, j);
        return "feed (out of memory)";
    }
    EXPECT(ncp <= 1, "one reserve copied %d blocks", ncp);
    for (int k = 0; k < ncp; k++) {
        EXPECT(m->c.ref[cp[k].dst] == 1 && !m->c.cached[cp[k].dst], "copy target %d is not private", cp[k].dst);
        memcpy(m->shadow + (size_t)cp[k].dst * m->c.bs, m->shadow + (size_t)cp[k].src * m->c.bs, (size_t)m->c.bs * 4);
        m->copies++;
    }
    for (int p = q->kv.n_fed; p < q->kv.n_fed + n; p++) {
        int b = q->kv.blocks[p / m->c.bs];
        EXPECT(m->c.ref[b] == 1 && !m->c.cached[b], "writing position %d into block %d (ref %d, cached %d)", p, b,
              m->c.ref[b], m->c.cached[b]);
        m->shadow[kvs_slot(&m->c, &q->kv, p)] = q->tok[p];
    }
    kvs_commit(&m->c, &q->kv, n, q->version, q->tok);
    return "feed";
}

static const char *op_generate(sim *m) {
    int i = pick_live(m);
    if (i < 0) return "generate (none)";
    sim_seq *q = &m->s[i];
    if (q->n == MAX_LEN) {
        finish(m, i);
        return "generate (full: finish)";
    }
    q->tok[q->n++] = rnd(m, 3);  // a tiny alphabet: equal blocks arise and get deduplicated
    return "generate";
}

static const char *op_fork(sim *m) {
    int i = pick_live(m), j = free_slot(m);
    if (i < 0 || j < 0) return "fork (none)";
    sim_seq *p = &m->s[i], *q = &m->s[j];
    q->live = 1;
    q->version = p->version;
    q->n = p->n;
    memcpy(q->tok, p->tok, (size_t)p->n * 4);
    kvs_share(&m->c, &q->kv, &p->kv);
    // Children usually diverge right away.
    if (q->n < MAX_LEN && rnd(m, 2)) q->tok[q->n++] = rnd(m, 3);
    return "fork";
}

static void run_one(int run, uint64_t seed) {
    sim m;
    memset(&m, 0, sizeof m);
    m.rng = seed;
    int nblocks = 4 + rnd(&m, 60), bs = 1 + rnd(&m, 8), caching = rnd(&m, 5) != 0;
    kvc_init(&m.c, nblocks, bs, caching);
    m.shadow = xmalloc((size_t)nblocks * bs * 4);
    for (size_t k = 0; k < (size_t)nblocks * bs; k++) m.shadow[k] = -1;
    for (int b = 0; b < 4; b++)
        for (int k = 0; k < MAX_LEN; k++) m.base[b][k] = k < 8 * (b + 1) ? k % 7 : rnd(&m, 4);
    int steps = 200 + rnd(&m, 300), bad = 0;
    for (int step = 0; step < steps && !bad; step++) {
        const char *op;
        int r = rnd(&m, 100);
        if (r < 15) op = op_start(&m);
        else if (r < 50) op = op_feed(&m);
        else if (r < 70) op = op_generate(&m);
        else if (r < 80) op = op_fork(&m);
        else if (r < 90) {
            int i = pick_live(&m);
            if (i >= 0) finish(&m, i);
            op = "finish";
        } else if (r < 97) {
            kvc_evict_one(&m.c);
            op = "evict";
        } else {
            m.version++;  // old sequences continue on the old version; new ones never see its blocks
            if (rnd(&m, 2)) kvc_flush(&m.c);
            op = "new version";
        }
        bad = check_all(&m, op, run, step);
    }
    EXPECT(!bad, "run %d (seed %llu, %d blocks of %d, caching %d) broke an invariant", run, (unsigned long long)seed,
          nblocks, bs, caching);
    for (int i = 0; i < MAX_SEQS; i++)
        if (m.s[i].live) finish(&m, i);
    EXPECT(m.c.in_use == 0, "run %d: %d blocks still referenced after every sequence finished", run, m.c.in_use);
    kvc_flush(&m.c);
    berr e;
    EXPECT(kvc_check(&m.c, &e) == 0, "run %d after flush: %s", run, e.msg);
    EXPECT(m.c.nfree == nblocks, "run %d: %d of %d blocks free after flush (leak)", run, m.c.nfree, nblocks);
    for (int i = 0; i < MAX_SEQS; i++) kvs_free(&m.s[i].kv);
    free(m.shadow);
    kvc_free(&m.c);
}

// A directed case: a fork shares every block, the first writer copies the partly filled
// block and the last one writes in place; full blocks become cached and are found again.
static void test_fork_cow(void) {
    kv_cache c;
    kvc_init(&c, 16, 4, 1);
    kv_seq a = {0}, b = {0}, d = {0};
    int32_t tok[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    kv_copy cp[2];
    int ncp = 0;
    CHECK(kvs_reserve(&c, &a, 6, cp, &ncp) == 0 && ncp == 0 && a.nblocks == 2, "prefill of 6 positions");
    kvs_commit(&c, &a, 6, 0, tok);
    CHECK(c.cached[a.blocks[0]] && !c.cached[a.blocks[1]], "first block cached, second (partial) not");
    kvs_share(&c, &b, &a);
    CHECK(c.ref[a.blocks[0]] == 2 && c.ref[a.blocks[1]] == 2, "fork shares both blocks");
    CHECK(kvs_blocks_needed(&c, &b, 1) == 1, "a write into the shared partial block needs a copy");
    CHECK(kvs_reserve(&c, &b, 1, cp, &ncp) == 0 && ncp == 1 && cp[0].src == a.blocks[1] && cp[0].dst == b.blocks[1],
          "copy-on-write of the partial block");
    CHECK(c.ref[a.blocks[1]] == 1, "the original partial block is a's alone now");
    ncp = 0;
    CHECK(kvs_reserve(&c, &a, 1, cp, &ncp) == 0 && ncp == 0, "the last holder writes in place");
    kvs_commit(&c, &a, 1, 0, tok);
    int32_t tb[12] = {1, 2, 3, 4, 5, 6, 99, 8, 9, 10, 11, 12};
    kvs_commit(&c, &b, 1, 0, tb);
    CHECK(kvs_attach_prefix(&c, &d, 0, tok, 12, 12) == 4 && d.blocks[0] == a.blocks[0], "cached prefix found again");
    kvs_release(&c, &d);
    CHECK(kvs_attach_prefix(&c, &d, 1, tok, 12, 12) == 0, "another policy version finds nothing");
    kvs_release(&c, &a);
    kvs_release(&c, &b);
    berr e;
    CHECK(kvc_check(&c, &e) == 0, "%s", e.msg);
    CHECK(c.nidle == 1 && c.in_use == 0, "one idle cached block remains (%d idle, %d in use)", c.nidle, c.in_use);
    kvc_flush(&c);
    CHECK(c.nfree == 16, "all free after flush");
    kvs_free(&a), kvs_free(&b), kvs_free(&d);
    kvc_free(&c);
}

// LRU: with memory short, the least recently released unreferenced prefix goes first, and a
// parent is never evicted before its cached children.
static void test_lru(void) {
    kv_cache c;
    kvc_init(&c, 6, 2, 1);
    kv_seq s[3] = {{0}};
    int32_t t[3][4] = {{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}};
    kv_copy cp[2];
    int ncp = 0;
    for (int i = 0; i < 3; i++) {
        CHECK(kvs_reserve(&c, &s[i], 4, cp, &ncp) == 0, "reserve %d", i);
        kvs_commit(&c, &s[i], 4, 0, t[i]);
    }
    kvs_release(&c, &s[1]);  // released first: least recently used
    kvs_release(&c, &s[0]);
    kvs_release(&c, &s[2]);
    CHECK(c.nfree == 0 && c.nidle == 6, "all six blocks idle in the tree");
    int b = kvc_alloc(&c);
    CHECK(b >= 0 && c.ref[b] == 1, "allocation evicts");
    kv_seq q = {0};
    CHECK(kvs_attach_prefix(&c, &q, 0, t[1], 4, 4) == 2, "sequence 1 lost its leaf block (evicted first), kept its first");
    kvs_release(&c, &q);
    kvc_unref(&c, b);
    kvs_free(&q);
    for (int i = 0; i < 3; i++) kvs_free(&s[i]);
    berr e;
    CHECK(kvc_check(&c, &e) == 0, "%s", e.msg);
    kvc_free(&c);
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 3000;
    test_fork_cow();
    test_lru();
    uint64_t g = test_seed(12345);
    for (int r = 0; r < runs; r++) run_one(r, rng_next(&g));
    printf("%d random runs of the block manager\n", runs);
    // One property: every invariant after every operation of every run, and every run ends
    // with all blocks free (the failures above say which run, step and invariant).
    CHECK_EXPECTED("the block manager broke an invariant or leaked in %d random runs", runs);
    return test_summary();
}
