// data.c — labels of joined trees, paths and step positions, training examples (see data.h).
#include "reward/data.h"

#include <stdlib.h>
#include <string.h>

#include "shards/shard.h"
#include "shards/stream.h"

const char *const rw_kind_choices[] = {"orm", "prm", NULL};

// ---- labels -------------------------------------------------------------------------------------

void rw_label_tree(const vtree *x, const rw_label_opts *o, label_rec *out) {
    const traj_rec *t = &x->t;
    memset(out, 0, sizeof *out);
    out->problem_id = t->problem_id;
    out->tree_id = x->tree_id;
    out->policy_version = t->policy_version;
    out->n_prompt = t->n_prompt;
    out->prompt = t->prompt;
    out->n_nodes = t->n_nodes;
    out->nodes = xcalloc(t->n_nodes ? t->n_nodes : 1, sizeof *out->nodes);
    for (uint32_t k = 0; k < t->n_nodes; k++) {
        const traj_node *tn = &t->nodes[k];
        label_node *nd = &out->nodes[k];
        nd->parent = tn->parent;
        nd->leaves = x->leaves[k];
        nd->passed = x->passed[k];
        nd->flags = x->is_leaf[k] ? LABEL_LEAF : 0;
        nd->outcome = x->is_leaf[k] ? (uint32_t)x->outcome[k] : LABEL_NO_OUTCOME;
        nd->value = label_value(nd->passed, nd->leaves);
        double soft = o->smooth > 0 ? ((double)nd->passed + o->smooth / 2) / ((double)nd->leaves + o->smooth) : nd->value;
        nd->soft = (float)soft;
        if ((double)nd->value > o->hard_threshold) nd->flags |= LABEL_HARD;
        nd->n_tokens = tn->n_tokens;
        nd->tokens = tn->tokens;
        nd->n_steps = tn->n_steps;
        nd->step_ends = tn->step_ends;
    }
}

void rw_label_tree_free(label_rec *l) {
    free(l->nodes);
    memset(l, 0, sizeof *l);
}

void rw_view_of_traj(const traj_rec *t, label_rec *out) {
    memset(out, 0, sizeof *out);
    out->problem_id = t->problem_id;
    out->tree_id = traj_tree_id(t);
    out->policy_version = t->policy_version;
    out->n_prompt = t->n_prompt;
    out->prompt = t->prompt;
    out->n_nodes = t->n_nodes;
    out->nodes = xcalloc(t->n_nodes ? t->n_nodes : 1, sizeof *out->nodes);
    for (uint32_t k = 0; k < t->n_nodes; k++) out->nodes[k].flags = LABEL_LEAF;
    for (uint32_t k = 0; k < t->n_nodes; k++) {
        const traj_node *tn = &t->nodes[k];
        label_node *nd = &out->nodes[k];
        nd->parent = tn->parent;
        if (tn->parent != TRAJ_ROOT) out->nodes[tn->parent].flags = 0;
        nd->outcome = LABEL_NO_OUTCOME;
        nd->n_tokens = tn->n_tokens;
        nd->tokens = tn->tokens;
        nd->n_steps = tn->n_steps;
        nd->step_ends = tn->step_ends;
    }
}

// ---- paths --------------------------------------------------------------------------------------

static void push_pos(rw_path *p, uint32_t pos, uint32_t node) {
    if (p->npos && p->pos[p->npos - 1] >= pos) {
        if (p->pos[p->npos - 1] == pos) p->pos_node[p->npos - 1] = node;  // the deeper node's label
        return;
    }
    if (p->npos == p->pcap) {
        p->pcap = p->pcap ? 2 * p->pcap : 16;
        p->pos = xrealloc(p->pos, p->pcap * sizeof *p->pos);
        p->pos_node = xrealloc(p->pos_node, p->pcap * sizeof *p->pos_node);
    }
    p->pos[p->npos] = pos;
    p->pos_node[p->npos++] = node;
}

void rw_path_of(const label_rec *l, uint32_t leaf, uint32_t *chain, rw_path *p) {
    uint32_t depth = 0;
    for (uint32_t j = leaf; j != TRAJ_ROOT; j = l->nodes[j].parent) chain[depth++] = j;
    size_t n = l->n_prompt;
    for (uint32_t d = 0; d < depth; d++) n += l->nodes[chain[d]].n_tokens;
    if (n > p->cap) {
        p->cap = (uint32_t)n;
        p->ids = xrealloc(p->ids, (size_t)p->cap * sizeof *p->ids);
    }
    p->leaf = leaf;
    p->n_prompt = l->n_prompt;
    p->npos = 0;
    memcpy(p->ids, l->prompt, (size_t)l->n_prompt * sizeof *p->ids);
    uint32_t at = l->n_prompt;
    for (uint32_t d = depth; d-- > 0;) {
        const label_node *nd = &l->nodes[chain[d]];
        memcpy(p->ids + at, nd->tokens, (size_t)nd->n_tokens * sizeof *p->ids);
        // A step end at n_tokens (allowed by the format) is read at the node's last token.
        for (uint32_t s = 0; s < nd->n_steps && nd->n_tokens; s++) {
            uint32_t off = nd->step_ends[s] < nd->n_tokens ? nd->step_ends[s] : nd->n_tokens - 1;
            push_pos(p, at + off, chain[d]);
        }
        at += nd->n_tokens;
    }
    p->n = at;
    if (at) push_pos(p, at - 1, leaf);
    // The last token is the leaf's answer step, labeled by the leaf even when it lies in an
    // ancestor (a leaf without tokens of its own).
    if (p->npos) p->pos_node[p->npos - 1] = leaf;
}

void rw_path_free(rw_path *p) {
    free(p->ids);
    free(p->pos);
    free(p->pos_node);
    memset(p, 0, sizeof *p);
}

// ---- training examples --------------------------------------------------------------------------

int rw_is_val(uint64_t tree_id, double val_fraction) {
    if (val_fraction <= 0) return 0;
    double u = (double)(mix64(tree_id, 0x76616c6964ull) >> 11) * (1.0 / 9007199254740992.0);
    return u < val_fraction;
}

int rw_examples_add(rw_examples *x, const label_rec *l, int kind, uint32_t max_len, int drop_long, berr *e) {
    uint32_t nn = l->n_nodes ? l->n_nodes : 1;
    uint32_t *chain = xmalloc(nn * sizeof *chain), *first_leaf = xmalloc(nn * sizeof *first_leaf);
    for (uint32_t k = 0; k < l->n_nodes; k++) first_leaf[k] = UINT32_MAX;
    for (uint32_t k = l->n_nodes; k-- > 0;) {
        if (l->nodes[k].flags & LABEL_LEAF) first_leaf[k] = k;
        uint32_t p = l->nodes[k].parent;
        if (p != TRAJ_ROOT && first_leaf[k] < first_leaf[p]) first_leaf[p] = first_leaf[k];
    }
    rw_path path = {0};
    int rc = 0;
    x->trees++;
    for (uint32_t leaf = 0; leaf < l->n_nodes && !rc; leaf++) {
        if (!(l->nodes[leaf].flags & LABEL_LEAF)) continue;
        rw_path_of(l, leaf, chain, &path);
        if (path.n == 0) continue;  // nothing to read a head at (cannot come from rollout: a prompt is never empty)
        if (path.n > max_len) {
            if (drop_long) {
                x->dropped_long++;
                continue;
            }
            rc = berr_set(e, "problem %llu tree %016llx leaf %u: the path is %u tokens, longer than the %u a row holds "
                             "(--seq-len); raise --seq-len or pass --drop-long to leave such paths out",
                          (unsigned long long)l->problem_id, (unsigned long long)l->tree_id, leaf, path.n, max_len);
            break;
        }
        if (x->n == x->cap) {
            x->cap = x->cap ? 2 * x->cap : 256;
            x->ex = xrealloc(x->ex, x->cap * sizeof *x->ex);
        }
        rw_example *ex = &x->ex[x->n++];
        memset(ex, 0, sizeof *ex);
        ex->tree_id = l->tree_id;
        ex->problem_id = l->problem_id;
        ex->leaf = leaf;
        ex->n = path.n;
        ex->ids = xmalloc((size_t)path.n * sizeof *ex->ids);
        memcpy(ex->ids, path.ids, (size_t)path.n * sizeof *ex->ids);
        ex->nlab = kind == RW_ORM ? 1 : path.npos;
        ex->pos = xmalloc(ex->nlab * sizeof *ex->pos);
        ex->soft = xmalloc(ex->nlab * sizeof *ex->soft);
        ex->hard = xmalloc(ex->nlab);
        ex->own = xmalloc(ex->nlab);
        for (uint32_t i = 0; i < ex->nlab; i++) {
            uint32_t j = kind == RW_ORM ? path.npos - 1 : i;
            const label_node *nd = &l->nodes[path.pos_node[j]];
            ex->pos[i] = path.pos[j];
            ex->soft[i] = nd->soft;
            ex->hard[i] = (nd->flags & LABEL_HARD) != 0;
            ex->own[i] = kind == RW_ORM || j == path.npos - 1 || first_leaf[path.pos_node[j]] == leaf;
            x->labels += ex->own[i];
        }
        for (uint32_t i = 0; i < ex->n; i++) x->max_id = ex->ids[i] > x->max_id ? ex->ids[i] : x->max_id;
        x->tokens += ex->n;
        uint64_t h[4] = {hash64(ex->ids, (size_t)ex->n * 4, ex->tree_id), hash64(ex->pos, (size_t)ex->nlab * 4, leaf),
                         hash64(ex->soft, (size_t)ex->nlab * 4, 1), hash64(ex->hard, ex->nlab, hash64(ex->own, ex->nlab, 2))};
        x->fingerprint = hash64(h, sizeof h, x->fingerprint);
    }
    rw_path_free(&path);
    free(chain);
    free(first_leaf);
    return rc;
}

void rw_examples_free(rw_examples *x) {
    for (size_t i = 0; i < x->n; i++) {
        rw_example *ex = &x->ex[i];
        free(ex->ids), free(ex->pos), free(ex->soft), free(ex->hard), free(ex->own);
    }
    free(x->ex);
    memset(x, 0, sizeof *x);
}

// ---- records of a directory ----------------------------------------------------------------------

int rw_for_each_record(const char *dir, uint32_t expect_kind, int require_closed, rw_record_fn fn, void *ctx, berr *e) {
    shard_dir_listing ls;
    if (shard_dir_list(dir, &ls, e)) return berr_wrap(e, "%s", dir);
    int rc = 0;
    if (require_closed && !ls.closed)
        rc = berr_set(e, "%s is not closed (its producer has not finished writing it%s)", dir,
                      ls.n_shards ? "" : "; it holds no shards at all");
    for (size_t i = 0; i < ls.n_shards && !rc; i++) {
        char *path = xasprintf("%s/%s", dir, ls.shards[i].name);
        shard_reader *r = shard_open(path, e);
        if (!r) {
            free(path);
            rc = -1;
            break;
        }
        const shard_info *in = shard_get_info(r);
        if (expect_kind && in->kind != expect_kind)
            rc = berr_set(e, "%s holds %s records, not %s", path, shard_kind_name(in->kind), shard_kind_name(expect_kind));
        for (uint64_t k = 0; k < in->count && !rc; k++) {
            const uint8_t *rec;
            size_t len;
            char where[512];
            snprintf(where, sizeof where, "%s record %llu", path, (unsigned long long)k);
            if (shard_get(r, k, &rec, &len, e)) rc = berr_wrap(e, "%s", where);
            else rc = fn(ctx, rec, len, in->schema_version, where, e);
        }
        shard_close(r);
        free(path);
    }
    shard_dir_listing_free(&ls);
    return rc;
}

typedef struct load_ctx {
    int kind, drop_long;
    uint32_t max_len;
    double val_fraction;
    rw_examples *train, *val;
} load_ctx;

static int load_one(void *ctx, const uint8_t *rec, size_t len, uint32_t schema, const char *where, berr *e) {
    load_ctx *c = ctx;
    label_rec l;
    if (label_decode(rec, len, schema, &l, e)) return berr_wrap(e, "%s", where);
    rw_examples *x = rw_is_val(l.tree_id, c->val_fraction) ? c->val : c->train;
    int rc = rw_examples_add(x, &l, c->kind, c->max_len, c->drop_long, e);
    if (rc) berr_wrap(e, "%s", where);
    label_free(&l);
    return rc;
}

int rw_examples_load(const char *dir, int kind, uint32_t max_len, int drop_long, double val_fraction, rw_examples *train,
                     rw_examples *val, berr *e) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    load_ctx c = {kind, drop_long, max_len, val_fraction, train, val};
    if (rw_for_each_record(dir, SHARD_LABELS, 1, load_one, &c, e)) return -1;
    if (train->trees + val->trees == 0)
        return berr_set(e, "%s holds no label records (reward label writes them from trajectories and verdicts)", dir);
    return 0;
}
