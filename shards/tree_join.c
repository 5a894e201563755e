// tree_join.c — trajectory trees joined with their leaves' verdicts (see tree_join.h).
#include "shards/tree_join.h"

#include <stdlib.h>
#include <string.h>

#include "shards/shard.h"
#include "shards/stream.h"

uint32_t vtree_path(const traj_rec *t, uint32_t i, uint32_t *path) {
    uint32_t n = 0;
    for (uint32_t j = i; j != TRAJ_ROOT; j = t->nodes[j].parent) path[n++] = j;
    for (uint32_t a = 0, b = n - 1; a < b; a++, b--) {
        uint32_t x = path[a];
        path[a] = path[b], path[b] = x;
    }
    return n;
}

// Open addressing on a 64-bit key -> index + 1 (0 = empty).
typedef struct idx_map {
    uint64_t *key;
    size_t *val, cap;
} idx_map;

static void map_init(idx_map *m, size_t n) {
    m->cap = 16;
    while (m->cap < 2 * n + 2) m->cap *= 2;
    m->key = xcalloc(m->cap, sizeof *m->key);
    m->val = xcalloc(m->cap, sizeof *m->val);
}
static size_t *map_slot(idx_map *m, uint64_t k) {
    size_t s = (size_t)(mix64(k, 0x7ee) & (m->cap - 1));
    while (m->val[s] && m->key[s] != k) s = (s + 1) & (m->cap - 1);
    m->key[s] = k;
    return &m->val[s];
}
static void map_free(idx_map *m) {
    free(m->key);
    free(m->val);
}

static uint64_t pv_key(uint64_t problem, uint32_t version) { return mix64(problem, version); }

int vtree_set_join(vtree_set *s, traj_rec *trees, const char *const *where, size_t n, const verdict_rec *v, size_t nv,
                   const char *const *vwhere, berr *e) {
    memset(s, 0, sizeof *s);
    s->trees = xcalloc(n ? n : 1, sizeof *s->trees);
    s->n = n;
    idx_map by_id, by_pv;
    map_init(&by_id, n);
    map_init(&by_pv, n);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        vtree *x = &s->trees[i];
        x->t = trees[i];
        memset(&trees[i], 0, sizeof trees[i]);
        snprintf(x->where, sizeof x->where, "%s", where ? where[i] : "tree");
        const traj_rec *t = &x->t;
        uint32_t nn = t->n_nodes ? t->n_nodes : 1;
        x->tree_id = traj_tree_id(t);
        x->is_leaf = xcalloc(nn, 1);
        x->outcome = xmalloc(nn);
        x->leaves = xcalloc(nn, sizeof *x->leaves);
        x->passed = xcalloc(nn, sizeof *x->passed);
        x->depth = xcalloc(nn, sizeof *x->depth);
        for (uint32_t k = 0; k < t->n_nodes; k++) x->is_leaf[k] = 1, x->outcome[k] = -1;
        for (uint32_t k = 0; k < t->n_nodes; k++)
            if (t->nodes[k].parent != TRAJ_ROOT) {
                x->is_leaf[t->nodes[k].parent] = 0;
                x->depth[k] = x->depth[t->nodes[k].parent] + 1;  // parents precede children
            }
        size_t *slot = map_slot(&by_id, x->tree_id);
        if (*slot && !rc)
            rc = berr_set(e, "%s: the same tree (id %016llx, problem %llu, policy version %u) as %s: were two rollouts run "
                             "with the same seed into these directories?",
                          x->where, (unsigned long long)x->tree_id, (unsigned long long)t->problem_id, t->policy_version,
                          s->trees[*slot - 1].where);
        *slot = i + 1;
        size_t *ps = map_slot(&by_pv, pv_key(t->problem_id, t->policy_version));
        *ps = *ps ? (size_t)-1 : i + 1;  // -1: several trees share it
    }
    for (size_t j = 0; j < nv && !rc; j++) {
        const verdict_rec *r = &v[j];
        const char *vw = vwhere ? vwhere[j] : "verdict";
        size_t idx = 0;
        if (r->tree_id) {
            size_t *slot = map_slot(&by_id, r->tree_id);
            idx = *slot;
            if (!idx) {
                rc = berr_set(e, "%s: names tree %016llx (problem %llu, node %u), which no trajectory shard given holds",
                              vw, (unsigned long long)r->tree_id, (unsigned long long)r->problem_id, r->node);
                break;
            }
        } else {
            size_t *ps = map_slot(&by_pv, pv_key(r->problem_id, r->policy_version));
            idx = *ps;
            if (idx == (size_t)-1) {
                rc = berr_set(e, "%s: a schema-1 verdict (no tree id) for problem %llu at policy version %u, which several "
                                 "trees share: regenerate the verdicts with this verify (verify run writes tree ids)",
                              vw, (unsigned long long)r->problem_id, r->policy_version);
                break;
            }
            if (!idx) {
                rc = berr_set(e, "%s: no tree of problem %llu at policy version %u was given", vw,
                              (unsigned long long)r->problem_id, r->policy_version);
                break;
            }
        }
        vtree *x = &s->trees[idx - 1];
        if (r->problem_id != x->t.problem_id || r->policy_version != x->t.policy_version)
            rc = berr_set(e, "%s: its problem %llu / version %u differ from its tree's (%s: %llu / %u)", vw,
                          (unsigned long long)r->problem_id, r->policy_version, x->where,
                          (unsigned long long)x->t.problem_id, x->t.policy_version);
        else if (r->node >= x->t.n_nodes || !x->is_leaf[r->node])
            rc = berr_set(e, "%s: node %u is not a leaf of its tree (%s, %u nodes)", vw, r->node, x->where, x->t.n_nodes);
        else if (x->outcome[r->node] >= 0)
            rc = berr_set(e, "%s: a second verdict for node %u of %s", vw, r->node, x->where);
        else
            x->outcome[r->node] = (int8_t)r->outcome;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        vtree *x = &s->trees[i];
        const traj_rec *t = &x->t;
        for (uint32_t k = 0; k < t->n_nodes && !rc; k++)
            if (x->is_leaf[k] && x->outcome[k] < 0)
                rc = berr_set(e, "%s: leaf %u of problem %llu has no verdict (was verify run over these trajectories to the "
                                 "end?)", x->where, k, (unsigned long long)t->problem_id);
        // Subtree counts, children before parents (parents precede children in the record).
        for (uint32_t k = t->n_nodes; k-- > 0 && !rc;) {
            if (x->is_leaf[k]) x->leaves[k] = 1, x->passed[k] = x->outcome[k] == OUTCOME_PASS;
            uint32_t p = t->nodes[k].parent;
            if (p != TRAJ_ROOT) x->leaves[p] += x->leaves[k], x->passed[p] += x->passed[k];
        }
        for (uint32_t k = 0; k < t->n_nodes; k++)
            if (x->is_leaf[k]) s->leaves++, s->passed += x->outcome[k] == OUTCOME_PASS;
    }
    map_free(&by_id);
    map_free(&by_pv);
    if (rc) vtree_set_free(s);
    return rc;
}

typedef struct rec_list {
    void *items;  // traj_rec or verdict_rec
    char **where;
    size_t n, cap, size;
} rec_list;

static void *list_push(rec_list *l, const char *where) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->items = xrealloc(l->items, l->cap * l->size);
        l->where = xrealloc(l->where, l->cap * sizeof *l->where);
    }
    l->where[l->n] = xstrdup(where);
    return (char *)l->items + l->size * l->n++;
}

static int read_dir(const char *dir, uint32_t kind, int require_closed, rec_list *out, int *closed, berr *e) {
    shard_dir_listing l;
    if (shard_dir_list(dir, &l, e)) return -1;
    int rc = 0;
    if (closed) *closed = l.closed;
    if (require_closed && !l.closed)
        rc = berr_set(e, "%s is not closed (its producer has not finished writing it)", dir);
    for (size_t i = 0; i < l.n_shards && !rc; i++) {
        char *path = xasprintf("%s/%s", dir, l.shards[i].name);
        shard_reader *r = shard_open(path, e);
        if (!r) {
            rc = -1;
            free(path);
            break;
        }
        const shard_info *info = shard_get_info(r);
        if (info->kind != kind)
            rc = berr_set(e, "%s holds %s records, not %s", path, shard_kind_name(info->kind), shard_kind_name(kind));
        for (uint64_t k = 0; k < info->count && !rc; k++) {
            const uint8_t *rec;
            size_t len;
            char where[160];
            snprintf(where, sizeof where, "%s record %llu", path, (unsigned long long)k);
            if (shard_get(r, k, &rec, &len, e)) {
                rc = berr_wrap(e, "%s", where);
                break;
            }
            void *slot = list_push(out, where);
            rc = kind == SHARD_TRAJECTORIES ? traj_decode(rec, len, info->schema_version, slot, e)
                                            : verdict_decode(rec, len, info->schema_version, slot, e);
            if (rc) {
                free(out->where[--out->n]);
                berr_wrap(e, "%s", where);
            }
        }
        shard_close(r);
        free(path);
    }
    shard_dir_listing_free(&l);
    return rc;
}

// Trees in (problem id, tree id) order: the set does not depend on how a producer split its
// output into shards, or where a restarted producer committed.
typedef struct tree_key {
    uint64_t problem, id;
    size_t i;
} tree_key;

static int by_tree(const void *a, const void *b) {
    const tree_key *x = a, *y = b;
    if (x->problem != y->problem) return x->problem < y->problem ? -1 : 1;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void sort_trees(rec_list *tl) {
    traj_rec *t = tl->items;
    tree_key *k = xmalloc((tl->n ? tl->n : 1) * sizeof *k);
    for (size_t i = 0; i < tl->n; i++) k[i] = (tree_key){t[i].problem_id, traj_tree_id(&t[i]), i};
    qsort(k, tl->n, sizeof *k, by_tree);
    traj_rec *nt = xmalloc((tl->n ? tl->n : 1) * sizeof *nt);
    char **nw = xmalloc((tl->n ? tl->n : 1) * sizeof *nw);
    for (size_t i = 0; i < tl->n; i++) nt[i] = t[k[i].i], nw[i] = tl->where[k[i].i];
    free(tl->items), free(tl->where), free(k);
    tl->items = nt, tl->where = nw, tl->cap = tl->n;
}

int vtree_set_load(vtree_set *s, const char *traj_dir, const char *verdict_dir, int require_closed, berr *e) {
    memset(s, 0, sizeof *s);
    rec_list tl = {.size = sizeof(traj_rec)}, vl = {.size = sizeof(verdict_rec)};
    int rc = read_dir(traj_dir, SHARD_TRAJECTORIES, require_closed, &tl, NULL, e);
    if (!rc) rc = read_dir(verdict_dir, SHARD_VERDICTS, require_closed, &vl, NULL, e);
    if (!rc && tl.n == 0) rc = berr_set(e, "%s holds no trajectory trees", traj_dir);
    if (!rc) sort_trees(&tl);
    if (!rc) rc = vtree_set_join(s, tl.items, (const char *const *)tl.where, tl.n, vl.items, vl.n,
                                 (const char *const *)vl.where, e);
    traj_rec *t = tl.items;
    for (size_t i = 0; i < tl.n; i++) traj_free(&t[i]);  // taken over (zeroed) on success
    verdict_rec *v = vl.items;
    for (size_t i = 0; i < vl.n; i++) verdict_free(&v[i]);
    for (size_t i = 0; i < tl.n; i++) free(tl.where[i]);
    for (size_t i = 0; i < vl.n; i++) free(vl.where[i]);
    free(tl.items), free(tl.where), free(vl.items), free(vl.where);
    return rc;
}

static void lists_free(rec_list *tl, rec_list *vl) {
    traj_rec *t = tl->items;
    for (size_t i = 0; i < tl->n; i++) traj_free(&t[i]);
    verdict_rec *v = vl->items;
    for (size_t i = 0; i < vl->n; i++) verdict_free(&v[i]);
    for (size_t i = 0; i < tl->n; i++) free(tl->where[i]);
    for (size_t i = 0; i < vl->n; i++) free(vl->where[i]);
    free(tl->items), free(tl->where), free(vl->items), free(vl->where);
}

int vtree_set_load_range(vtree_set *s, const char *traj_dir, const char *verdict_dir, size_t skip, size_t take,
                         size_t *complete, int *closed, berr *e) {
    memset(s, 0, sizeof *s);
    *complete = 0;
    rec_list tl = {.size = sizeof(traj_rec)}, vl = {.size = sizeof(verdict_rec)};
    int rc = read_dir(traj_dir, SHARD_TRAJECTORIES, 0, &tl, closed, e);
    if (!rc) rc = read_dir(verdict_dir, SHARD_VERDICTS, 0, &vl, NULL, e);
    traj_rec *t = tl.items;
    verdict_rec *v = vl.items;
    if (!rc) {
        // Verdicts per tree (by tree id), then the longest prefix of trees whose leaves all have one.
        idx_map by_id;
        map_init(&by_id, tl.n);
        uint32_t *have = xcalloc(tl.n ? tl.n : 1, sizeof *have);
        for (size_t i = 0; i < tl.n; i++) *map_slot(&by_id, traj_tree_id(&t[i])) = i + 1;
        for (size_t j = 0; j < vl.n; j++) {
            size_t idx = v[j].tree_id ? *map_slot(&by_id, v[j].tree_id) : 0;
            if (idx) have[idx - 1]++;
        }
        size_t k = 0;
        for (; k < tl.n; k++) {
            uint8_t *child = xcalloc(t[k].n_nodes ? t[k].n_nodes : 1, 1);
            uint32_t leaves = 0;
            for (uint32_t n = 0; n < t[k].n_nodes; n++)
                if (t[k].nodes[n].parent != TRAJ_ROOT) child[t[k].nodes[n].parent] = 1;
            for (uint32_t n = 0; n < t[k].n_nodes; n++) leaves += !child[n];
            free(child);
            if (have[k] < leaves) break;
        }
        *complete = k;
        if (k >= skip + take) {
            // The range's trees, and the verdicts that name them.
            idx_map in_range;
            map_init(&in_range, take);
            for (size_t i = skip; i < skip + take; i++) *map_slot(&in_range, traj_tree_id(&t[i])) = 1;
            size_t nv = 0;
            for (size_t j = 0; j < vl.n; j++)
                if (v[j].tree_id && *map_slot(&in_range, v[j].tree_id)) v[nv] = v[j], vl.where[nv++] = vl.where[j];
                else verdict_free(&v[j]), free(vl.where[j]);
            vl.n = nv;
            rc = vtree_set_join(s, t + skip, (const char *const *)tl.where + skip, take, v, nv,
                                (const char *const *)vl.where, e);
            map_free(&in_range);
            rc = rc ? -1 : 1;
        }
        map_free(&by_id);
        free(have);
    }
    lists_free(&tl, &vl);
    return rc;
}

void vtree_set_free(vtree_set *s) {
    for (size_t i = 0; i < s->n; i++) {
        vtree *x = &s->trees[i];
        traj_free(&x->t);
        free(x->is_leaf), free(x->outcome), free(x->leaves), free(x->passed), free(x->depth);
    }
    free(s->trees);
    memset(s, 0, sizeof *s);
}
