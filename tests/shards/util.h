// util.h — helpers shared by the shards tests: scratch directories, random records of
// every kind, and structural equality.
#pragma once
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/base.h"
#include "shards/records.h"
#include "shards/shard.h"

// A fresh scratch directory under $TMPDIR (or /tmp); the caller removes it with rm_rf.
static inline char *scratch_dir(const char *tag) {
    const char *base = getenv("TMPDIR");
    char *t = xasprintf("%s/berry-%s.XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(t)) die("mkdtemp %s failed", t);
    return t;
}

static inline void rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char *p = xasprintf("%s/%s", path, de->d_name);
            rm_rf(p);
            free(p);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline uint32_t rnd(uint64_t *s, uint32_t n) { return n ? (uint32_t)(rng_next(s) % n) : 0; }

// A string of n random non-NUL bytes (invalid UTF-8 included), malloc'd.
static inline char *rand_str(uint64_t *s, uint32_t n) {
    char *p = xmalloc(n + 1);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = rnd(s, 4);
        p[i] = k == 0 ? (char)(1 + rnd(s, 255)) : (char)('a' + rnd(s, 26));
    }
    p[n] = 0;
    return p;
}

// ---- random records (sizes scale with `size`) -----------------------------------------------------

static inline void rand_tokens(uint64_t *s, uint32_t size, bbuf *out, uint32_t **ids_out, uint32_t *n_out) {
    uint32_t n = rnd(s, size + 1);
    uint32_t *ids = xmalloc((size_t)(n ? n : 1) * 4);
    uint32_t max = rnd(s, 3) == 0 ? (1u << 20) : 50304;  // sometimes ids beyond uint16
    for (uint32_t i = 0; i < n; i++) ids[i] = rnd(s, max);
    tokens_encode(out, ids, n);
    if (ids_out) *ids_out = ids, *n_out = n;
    else free(ids);
}

static inline problem_rec rand_problem(uint64_t *s, uint32_t size) {
    problem_rec p = {rng_next(s), 1 + rnd(s, TASK_KIND_MAX), rnd(s, 2), 1 + rnd(s, 9), NULL, NULL, NULL, NULL};
    p.prompt = rand_str(s, rnd(s, size + 1));
    p.answer = rand_str(s, rnd(s, 16));
    p.tests = rand_str(s, rnd(s, size / 2 + 1));
    p.solution = rand_str(s, rnd(s, size + 1));
    return p;
}

static inline traj_rec rand_traj(uint64_t *s, uint32_t size) {
    traj_rec t = {0};
    t.problem_id = rng_next(s);
    t.policy_version = rnd(s, 1000);
    t.n_prompt = rnd(s, 64);
    t.prompt = xmalloc((size_t)(t.n_prompt ? t.n_prompt : 1) * 4);
    for (uint32_t i = 0; i < t.n_prompt; i++) t.prompt[i] = rnd(s, 50304);
    t.n_nodes = rnd(s, 8);
    t.nodes = xcalloc(t.n_nodes ? t.n_nodes : 1, sizeof *t.nodes);
    for (uint32_t k = 0; k < t.n_nodes; k++) {
        traj_node *nd = &t.nodes[k];
        nd->parent = k == 0 || rnd(s, 3) == 0 ? TRAJ_ROOT : rnd(s, k);
        nd->finish = rnd(s, FINISH_BUDGET + 1);
        nd->seed = rng_next(s);
        nd->n_tokens = rnd(s, size / 8 + 1);
        nd->tokens = xmalloc((size_t)(nd->n_tokens ? nd->n_tokens : 1) * 4);
        nd->logprobs = xmalloc((size_t)(nd->n_tokens ? nd->n_tokens : 1) * 4);
        for (uint32_t i = 0; i < nd->n_tokens; i++) {
            nd->tokens[i] = rnd(s, 50304);
            nd->logprobs[i] = -rng_uniform(s) * 20.0f;
        }
        nd->n_steps = nd->n_tokens ? rnd(s, nd->n_tokens < 6 ? nd->n_tokens : 6) : 0;
        nd->step_ends = xmalloc((size_t)(nd->n_steps ? nd->n_steps : 1) * 4);
        uint32_t at = 0;
        for (uint32_t i = 0; i < nd->n_steps; i++) {
            at += 1 + rnd(s, (nd->n_tokens - at) / (nd->n_steps - i));
            nd->step_ends[i] = at;
        }
    }
    return t;
}

static inline verdict_rec rand_verdict(uint64_t *s, uint32_t size) {
    verdict_rec v = {rng_next(s), rnd(s, 100), rnd(s, 50), rnd(s, OUTCOME_VIOLATION + 1), rng_uniform(s) * 3, NULL};
    v.detail = rand_str(s, rnd(s, size + 1));
    v.tree_id = rng_next(s);
    return v;
}

static inline score_rec rand_score(uint64_t *s, uint32_t size) {
    score_rec r = {rng_next(s), rnd(s, 100), rng_normal(s), 0, NULL};
    r.n_steps = rnd(s, size / 4 + 1);
    r.prm = xmalloc((size_t)(r.n_steps ? r.n_steps : 1) * 4);
    for (uint32_t i = 0; i < r.n_steps; i++) r.prm[i] = rng_uniform(s);
    r.tree_id = rng_next(s);
    r.policy_version = rnd(s, 50);
    r.flags = SCORE_HAS_PRM | (rnd(s, 2) ? SCORE_HAS_ORM : 0);
    r.prm_min = rng_uniform(s);
    r.prm_prod = rng_uniform(s);
    return r;
}

// A random tree of Monte-Carlo labels, consistent (as reward label writes them).
static inline label_rec rand_label(uint64_t *s, uint32_t size) {
    traj_rec t = rand_traj(s, size);
    label_rec l = {t.problem_id, rng_next(s) | 1, t.policy_version, t.n_prompt, t.prompt, t.n_nodes, NULL};
    l.nodes = xcalloc(t.n_nodes ? t.n_nodes : 1, sizeof *l.nodes);
    uint8_t *child = xcalloc(t.n_nodes ? t.n_nodes : 1, 1);
    for (uint32_t k = 0; k < t.n_nodes; k++)
        if (t.nodes[k].parent != TRAJ_ROOT) child[t.nodes[k].parent] = 1;
    for (uint32_t k = 0; k < t.n_nodes; k++) {
        label_node *nd = &l.nodes[k];
        nd->parent = t.nodes[k].parent;
        nd->n_tokens = t.nodes[k].n_tokens, nd->tokens = t.nodes[k].tokens;
        nd->n_steps = t.nodes[k].n_steps, nd->step_ends = t.nodes[k].step_ends;
        free(t.nodes[k].logprobs);
        nd->flags = child[k] ? 0 : LABEL_LEAF;
        nd->outcome = child[k] ? LABEL_NO_OUTCOME : rnd(s, OUTCOME_VIOLATION + 1);
    }
    for (uint32_t k = t.n_nodes; k-- > 0;) {
        label_node *nd = &l.nodes[k];
        if (!child[k]) nd->leaves = 1, nd->passed = nd->outcome == OUTCOME_PASS;
        nd->value = label_value(nd->passed, nd->leaves);
        nd->soft = rnd(s, 2) ? nd->value : rng_uniform(s);
        if (nd->value > 0) nd->flags |= LABEL_HARD;
        if (nd->parent != TRAJ_ROOT) l.nodes[nd->parent].leaves += nd->leaves, l.nodes[nd->parent].passed += nd->passed;
    }
    free(child);
    free(t.nodes);
    return l;
}

// Encodes one random record of `kind` into out (cleared first).
static inline void rand_record(uint64_t *s, uint32_t kind, uint32_t size, bbuf *out) {
    out->n = 0;
    switch (kind) {
    case SHARD_TOKENS: rand_tokens(s, size, out, NULL, NULL); break;
    case SHARD_PROBLEMS: {
        problem_rec p = rand_problem(s, size);
        problem_encode(out, &p);
        problem_free(&p);
        break;
    }
    case SHARD_TRAJECTORIES: {
        traj_rec t = rand_traj(s, size);
        traj_encode(out, &t);
        traj_free(&t);
        break;
    }
    case SHARD_VERDICTS: {
        verdict_rec v = rand_verdict(s, size);
        verdict_encode(out, &v);
        verdict_free(&v);
        break;
    }
    case SHARD_SCORES: {
        score_rec r = rand_score(s, size);
        score_encode(out, &r);
        score_free(&r);
        break;
    }
    case SHARD_LABELS: {
        label_rec l = rand_label(s, size);
        label_encode(out, &l);
        label_free(&l);
        break;
    }
    default: {
        uint32_t n = rnd(s, size + 1);
        bbuf_reserve(out, n);
        for (uint32_t i = 0; i < n; i++) out->p[i] = (uint8_t)rng_next(s);
        out->n = n;
    }
    }
}

// ---- shards from an older writer -----------------------------------------------------------------------

// Writes the n records (whatever their bytes) as a shard of `kind` (not tokens) at path, as
// an older writer that did not check its records would have: written as kind bytes (which
// is not validated), then the header's kind, the index keys (the problem id: the first 8
// bytes, or 0 if shorter) and both checksums patched. Every checksum holds; only the records' own
// validation can refuse them.
static inline void write_unchecked_shard(const char *path, uint32_t kind, const char *producer, const bbuf *recs, int n) {
    berr e;
    shard_writer *w = shard_create(path, SHARD_BYTES, 1, producer, &e);
    if (!w) die("%s", e.msg);
    for (int i = 0; i < n; i++)
        if (shard_append(w, recs[i].p, recs[i].n, &e)) die("%s", e.msg);
    if (shard_finish(w, &e)) die("%s", e.msg);
    char *raw;
    size_t len;
    if (read_file(path, &raw, &len, &e)) die("%s", e.msg);
    uint8_t *b = (uint8_t *)raw;
    uint64_t index_off = le64(b + 56), keys = index_off + (uint64_t)le32(b + 64) * 48 + (uint64_t)n * 4;
    for (int i = 0; i < n; i++) put_le64(b + keys + (size_t)i * 8, recs[i].n >= 8 ? le64(recs[i].p) : 0);
    put_le32(b + 16, kind);
    put_le64(b + 80, hash64(b + index_off, len - index_off, 0));
    put_le64(b + 152, hash64(b, 152, 0));
    if (write_file_atomic(path, b, len, &e)) die("%s", e.msg);
    free(b);
}

// ---- structural equality -----------------------------------------------------------------------------

static inline int str_eq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }
static inline int mem_eq(const void *a, const void *b, size_t n) { return n == 0 || memcmp(a, b, n) == 0; }

static inline int problem_eq(const problem_rec *a, const problem_rec *b) {
    return a->id == b->id && a->task == b->task && a->split == b->split && a->difficulty == b->difficulty &&
           str_eq(a->prompt, b->prompt) && str_eq(a->answer, b->answer) && str_eq(a->tests, b->tests) &&
           str_eq(a->solution, b->solution);
}

static inline int traj_eq(const traj_rec *a, const traj_rec *b) {
    if (a->problem_id != b->problem_id || a->policy_version != b->policy_version || a->n_prompt != b->n_prompt ||
        a->n_nodes != b->n_nodes || !mem_eq(a->prompt, b->prompt, (size_t)a->n_prompt * 4))
        return 0;
    for (uint32_t k = 0; k < a->n_nodes; k++) {
        const traj_node *x = &a->nodes[k], *y = &b->nodes[k];
        if (x->parent != y->parent || x->finish != y->finish || x->seed != y->seed || x->n_tokens != y->n_tokens ||
            x->n_steps != y->n_steps || !mem_eq(x->tokens, y->tokens, (size_t)x->n_tokens * 4) ||
            !mem_eq(x->logprobs, y->logprobs, (size_t)x->n_tokens * 4) ||
            !mem_eq(x->step_ends, y->step_ends, (size_t)x->n_steps * 4))
            return 0;
    }
    return 1;
}

static inline int verdict_eq(const verdict_rec *a, const verdict_rec *b) {
    return a->problem_id == b->problem_id && a->node == b->node && a->policy_version == b->policy_version &&
           a->outcome == b->outcome && a->cpu_seconds == b->cpu_seconds && str_eq(a->detail, b->detail) &&
           a->tree_id == b->tree_id;
}

static inline int score_eq(const score_rec *a, const score_rec *b) {
    return a->problem_id == b->problem_id && a->node == b->node && a->orm == b->orm && a->n_steps == b->n_steps &&
           mem_eq(a->prm, b->prm, (size_t)a->n_steps * 4) && a->tree_id == b->tree_id &&
           a->policy_version == b->policy_version && a->flags == b->flags && a->prm_min == b->prm_min &&
           a->prm_prod == b->prm_prod;
}

static inline int label_eq(const label_rec *a, const label_rec *b) {
    if (a->problem_id != b->problem_id || a->tree_id != b->tree_id || a->policy_version != b->policy_version ||
        a->n_prompt != b->n_prompt || a->n_nodes != b->n_nodes || !mem_eq(a->prompt, b->prompt, (size_t)a->n_prompt * 4))
        return 0;
    for (uint32_t k = 0; k < a->n_nodes; k++) {
        const label_node *x = &a->nodes[k], *y = &b->nodes[k];
        if (x->parent != y->parent || x->flags != y->flags || x->outcome != y->outcome || x->leaves != y->leaves ||
            x->passed != y->passed || x->value != y->value || x->soft != y->soft || x->n_tokens != y->n_tokens ||
            x->n_steps != y->n_steps || !mem_eq(x->tokens, y->tokens, (size_t)x->n_tokens * 4) ||
            !mem_eq(x->step_ends, y->step_ends, (size_t)x->n_steps * 4))
            return 0;
    }
    return 1;
}
