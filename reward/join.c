// join.c — trees, verdicts and scores joined and grouped by problem (see join.h).
#include "reward/join.h"

#include <stdlib.h>
#include <string.h>

#include "reward/data.h"
#include "shards/shard.h"

typedef struct id_idx {
    uint64_t id;
    size_t i;
} id_idx;

typedef struct score_ctx {
    rw_joined *j;
    uint32_t *leaf_at; // per tree and node: candidate index + 1 (0: not a leaf), flattened with node_base
    size_t *node_base;
    uint8_t *seen;     // per candidate
    id_idx *by_tree, *by_problem;  // trees sorted by id and by problem
} score_ctx;

static int by_id(const void *a, const void *b) {
    const id_idx *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id ? 1 : x->i < y->i ? -1 : x->i > y->i;
}

// The tree a score names: by tree id, or (tree id 0, schema 1) by a problem with one tree.
// Returns how many trees match; *out is the match when there is one.
static int tree_of(const score_ctx *c, uint64_t tree_id, uint64_t problem_id, size_t *out) {
    const id_idx *v = tree_id ? c->by_tree : c->by_problem;
    uint64_t key = tree_id ? tree_id : problem_id;
    size_t lo = 0, hi = c->j->set.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid].id < key) lo = mid + 1;
        else hi = mid;
    }
    int n = 0;
    for (size_t k = lo; k < c->j->set.n && v[k].id == key && n < 2; k++) *out = v[k].i, n++;
    return n;
}

static int score_one(void *ctx, const uint8_t *rec, size_t len, uint32_t schema, const char *where, berr *e) {
    score_ctx *c = ctx;
    score_rec s;
    if (score_decode(rec, len, schema, &s, e)) return berr_wrap(e, "%s", where);
    size_t ti = 0;
    int n = tree_of(c, s.tree_id, s.problem_id, &ti), rc = 0;
    if (n != 1) {
        if (s.tree_id)
            rc = berr_set(e, "%s: scores a leaf of tree %016llx (problem %llu), which no trajectory shard given holds", where,
                          (unsigned long long)s.tree_id, (unsigned long long)s.problem_id);
        else
            rc = berr_set(e, "%s: a schema-1 score (no tree id) for problem %llu, which %s: score again with this reward score",
                          where, (unsigned long long)s.problem_id, n ? "several trees share" : "no given tree has");
    } else {
        const vtree *x = &c->j->set.trees[ti];
        uint32_t ci = s.node < x->t.n_nodes ? c->leaf_at[c->node_base[ti] + s.node] : 0;
        if (s.problem_id != x->t.problem_id)
            rc = berr_set(e, "%s: its problem %llu differs from its tree's (%s: %llu)", where, (unsigned long long)s.problem_id,
                          x->where, (unsigned long long)x->t.problem_id);
        else if (!ci)
            rc = berr_set(e, "%s: node %u is not a leaf of its tree (%s, %u nodes)", where, s.node, x->where, x->t.n_nodes);
        else if (c->seen[ci - 1])
            rc = berr_set(e, "%s: a second score for node %u of %s", where, s.node, x->where);
        else {
            rw_cand *cd = &c->j->cands[ci - 1];
            c->seen[ci - 1] = 1;
            cd->flags = s.flags;
            cd->orm = s.orm;
            cd->prm_min = s.prm_min;
            cd->prm_prod = s.prm_prod;
            c->j->scored++;
        }
    }
    score_free(&s);
    return rc;
}

static int by_problem(const void *a, const void *b) {
    const rw_group *x = a, *y = b;
    return x->problem_id < y->problem_id ? -1 : x->problem_id > y->problem_id;
}

int rw_join_load(rw_joined *j, const char *traj_dir, const char *verdict_dir, const char *scores_dir, berr *e) {
    memset(j, 0, sizeof *j);
    if (vtree_set_load(&j->set, traj_dir, verdict_dir, 1, e)) return -1;
    size_t nn = 0;
    for (size_t i = 0; i < j->set.n; i++) nn += j->set.trees[i].t.n_nodes;
    j->cands = xcalloc(j->set.leaves ? j->set.leaves : 1, sizeof *j->cands);
    score_ctx c = {j, xcalloc(nn ? nn : 1, sizeof(uint32_t)), xcalloc(j->set.n + 1, sizeof(size_t)), NULL, NULL, NULL};
    // Candidates grouped by problem: trees sorted by problem id (ties in tree order), leaves in node order.
    id_idx *order = xmalloc((j->set.n ? j->set.n : 1) * sizeof *order);
    for (size_t i = 0; i < j->set.n; i++) {
        order[i] = (id_idx){j->set.trees[i].t.problem_id, i};
        c.node_base[i + 1] = c.node_base[i] + j->set.trees[i].t.n_nodes;
    }
    qsort(order, j->set.n, sizeof *order, by_id);
    for (size_t oi = 0; oi < j->set.n; oi++) {
        size_t i = order[oi].i;
        const vtree *x = &j->set.trees[i];
        for (uint32_t k = 0; k < x->t.n_nodes; k++) {
            if (!x->is_leaf[k]) continue;
            rw_cand *cd = &j->cands[j->ncands++];
            cd->tree = (uint32_t)i;
            cd->leaf = k;
            cd->outcome = x->outcome[k];
            c.leaf_at[c.node_base[i] + k] = (uint32_t)j->ncands;
        }
    }
    free(order);
    j->groups = xcalloc(j->ncands ? j->ncands : 1, sizeof *j->groups);
    for (size_t i = 0; i < j->ncands; i++) {
        uint64_t p = j->set.trees[j->cands[i].tree].t.problem_id;
        if (!j->ngroups || j->groups[j->ngroups - 1].problem_id != p) j->groups[j->ngroups++] = (rw_group){p, &j->cands[i], 0};
        j->groups[j->ngroups - 1].n++;
    }
    qsort(j->groups, j->ngroups, sizeof *j->groups, by_problem);
    int rc = 0;
    if (scores_dir) {
        c.seen = xcalloc(j->ncands ? j->ncands : 1, 1);
        c.by_tree = xmalloc((j->set.n ? j->set.n : 1) * sizeof *c.by_tree);
        c.by_problem = xmalloc((j->set.n ? j->set.n : 1) * sizeof *c.by_problem);
        for (size_t i = 0; i < j->set.n; i++) {
            c.by_tree[i] = (id_idx){j->set.trees[i].tree_id, i};
            c.by_problem[i] = (id_idx){j->set.trees[i].t.problem_id, i};
        }
        qsort(c.by_tree, j->set.n, sizeof *c.by_tree, by_id);
        qsort(c.by_problem, j->set.n, sizeof *c.by_problem, by_id);
        rc = rw_for_each_record(scores_dir, SHARD_SCORES, 1, score_one, &c, e);
        for (size_t i = 0; i < j->ncands && !rc; i++)
            if (!c.seen[i]) {
                const vtree *x = &j->set.trees[j->cands[i].tree];
                rc = berr_set(e, "%s: leaf %u of problem %llu has no score in %s (was reward score run over these trajectories "
                                 "to the end?)", x->where, j->cands[i].leaf, (unsigned long long)x->t.problem_id, scores_dir);
            }
        j->score_flags_all = SCORE_HAS_ORM | SCORE_HAS_PRM;
        for (size_t i = 0; i < j->ncands; i++) j->score_flags_all &= j->cands[i].flags;
        free(c.seen), free(c.by_tree), free(c.by_problem);
    }
    free(c.leaf_at);
    free(c.node_base);
    if (rc) rw_joined_free(j);
    return rc;
}

void rw_joined_free(rw_joined *j) {
    vtree_set_free(&j->set);
    free(j->cands);
    free(j->groups);
    memset(j, 0, sizeof *j);
}

int rw_leaf_text(const bpe *tok, const vtree *x, uint32_t leaf, char **text, size_t *len, berr *e) {
    const traj_rec *t = &x->t;
    uint32_t *path = xmalloc((t->n_nodes ? t->n_nodes : 1) * sizeof *path);
    uint32_t d = vtree_path(t, leaf, path);
    size_t n = 0;
    for (uint32_t i = 0; i < d; i++) n += t->nodes[path[i]].n_tokens;
    uint32_t *ids = xmalloc((n ? n : 1) * sizeof *ids);
    n = 0;
    for (uint32_t i = 0; i < d; i++) {
        const traj_node *nd = &t->nodes[path[i]];
        memcpy(ids + n, nd->tokens, (size_t)nd->n_tokens * sizeof *ids);
        n += nd->n_tokens;
    }
    int rc = bpe_decode(tok, ids, n, text, len, e);
    if (rc) berr_wrap(e, "%s leaf %u", x->where, leaf);
    free(ids);
    free(path);
    return rc;
}
