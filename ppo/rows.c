// rows.c — the training rows of a PPO iteration from verified trees (see ppo.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ppo/ppo.h"

int ppo_rows_build(ppo_rows *r, const vtree_set *s, const ppo_config *c, uint32_t version, int maxT, int V,
                   berr *e) {
    memset(r, 0, sizeof *r);
    // Pass 1: which trees are used, how many rows, the longest path.
    size_t rows = 0;
    uint32_t longest = 2;
    uint32_t *path = NULL;
    size_t path_cap = 0;
    for (size_t i = 0; i < s->n; i++) {
        const vtree *x = &s->trees[i];
        const traj_rec *t = &x->t;
        if (t->policy_version > version)
            return berr_set(e, "%s: a tree of policy version %u, newer than the policy being trained (version %u): wrong "
                               "--policy or --policy-version?", x->where, t->policy_version, version);
        if (version - t->policy_version > (uint32_t)c->max_staleness) {
            r->dropped_stale++;
            continue;
        }
        r->trees++;
        r->staleness_sum += version - t->policy_version;
        if (version - t->policy_version > r->staleness_max) r->staleness_max = version - t->policy_version;
        if (t->n_nodes > path_cap) path = xrealloc(path, (path_cap = t->n_nodes) * sizeof *path);
        for (uint32_t k = 0; k < t->n_nodes; k++) {
            if (!x->is_leaf[k]) continue;
            uint32_t n = t->n_prompt, np = vtree_path(t, k, path);
            for (uint32_t j = 0; j < np; j++) n += t->nodes[path[j]].n_tokens;
            if (n > (uint32_t)maxT + 1)
                return berr_set(e, "%s: the path to leaf %u is %u tokens, longer than the policy's context %d + 1", x->where,
                                k, n, maxT);
            if (n > longest) longest = n;
            rows++;
        }
    }
    if (rows == 0) {
        free(path);
        return berr_set(e, "no trees left to train on: %zu trees given, %u dropped as older than --max-staleness %d",
                        s->n, r->dropped_stale, c->max_staleness);
    }
    // Rows of T inputs: the longest path's length − 1, rounded up to a multiple of 16 (few
    // distinct shapes), within the context.
    int T = (int)((longest - 1 + 15) / 16 * 16);
    if (T > maxT) T = maxT;
    r->n = rows;
    r->T = T;
    size_t nt = rows * (size_t)T;
    r->tree = xcalloc(rows, sizeof *r->tree), r->leaf = xcalloc(rows, sizeof *r->leaf);
    r->len = xcalloc(rows, sizeof *r->len), r->n_prompt = xcalloc(rows, sizeof *r->n_prompt);
    r->tokens = xcalloc(nt, sizeof *r->tokens), r->targets = xmalloc(nt * sizeof *r->targets);
    r->node = xmalloc(nt * sizeof *r->node);
    r->behav = xcalloc(nt, sizeof *r->behav), r->mult = xcalloc(nt, sizeof *r->mult);
    r->reward = xcalloc(rows, sizeof *r->reward);
    for (size_t i = 0; i < nt; i++) r->targets[i] = -1, r->node[i] = -1;
    uint32_t *ids = xmalloc(((size_t)longest + 1) * sizeof *ids);
    size_t row = 0;
    for (size_t i = 0; i < s->n; i++) {
        const vtree *x = &s->trees[i];
        const traj_rec *t = &x->t;
        if (version - t->policy_version > (uint32_t)c->max_staleness) continue;
        for (uint32_t k = 0; k < t->n_nodes; k++) {
            if (!x->is_leaf[k]) continue;
            uint32_t np = vtree_path(t, k, path), n = 0;
            memcpy(ids, t->prompt, t->n_prompt * sizeof *ids);
            n = t->n_prompt;
            int32_t *tok = r->tokens + row * T, *tg = r->targets + row * T, *nd = r->node + row * T;
            float *bh = r->behav + row * T, *mu = r->mult + row * T;
            for (uint32_t j = 0; j < np; j++) {
                const traj_node *q = &t->nodes[path[j]];
                for (uint32_t a = 0; a < q->n_tokens; a++) {
                    if (n >= 1) {  // the target at input position n−1 is token n
                        uint32_t pos = n - 1;
                        tg[pos] = (int32_t)q->tokens[a];
                        nd[pos] = (int32_t)path[j];
                        bh[pos] = q->logprobs[a];
                        mu[pos] = c->advantage == PPO_ADV_TREE ? 1.0f / (float)x->leaves[path[j]] : 1.0f;
                    }
                    ids[n++] = q->tokens[a];
                }
            }
            for (uint32_t a = 0; a < n; a++) {
                if (ids[a] >= (uint32_t)V) {
                    free(ids), free(path);
                    ppo_rows_free(r);
                    return berr_set(e, "%s: token id %u is outside the policy's vocabulary of %d", x->where, ids[a], V);
                }
                if (a < (uint32_t)T) tok[a] = (int32_t)ids[a];
            }
            r->tree[row] = (uint32_t)i, r->leaf[row] = k, r->len[row] = n, r->n_prompt[row] = t->n_prompt;
            double reward = x->outcome[k] == OUTCOME_PASS ? 1.0 : 0.0;
            if (t->nodes[k].finish != FINISH_ANSWER) reward -= c->format_penalty;
            r->reward[row] = reward;
            row++;
        }
    }
    free(ids);
    free(path);
    return 0;
}

typedef struct { uint64_t problem; size_t row; } problem_row;
static int by_problem(const void *a, const void *b) {
    const problem_row *x = a, *y = b;
    if (x->problem != y->problem) return x->problem < y->problem ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

void ppo_rows_drop_flat(ppo_rows *r, const vtree_set *s) {
    const size_t n = r->n, T = (size_t)r->T;
    r->all_n = n, r->all_reward = 0, r->all_pass = 0;
    for (size_t i = 0; i < n; i++) {
        r->all_reward += r->reward[i];
        r->all_pass += s->trees[r->tree[i]].outcome[r->leaf[i]] == OUTCOME_PASS;
    }
    problem_row *ord = xmalloc(n * sizeof *ord);
    uint8_t *keep = xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) ord[i] = (problem_row){s->trees[r->tree[i]].t.problem_id, i};
    qsort(ord, n, sizeof *ord, by_problem);
    size_t kept = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a;
        double lo = r->reward[ord[a].row], hi = lo;
        for (; b < n && ord[b].problem == ord[a].problem; b++)
            lo = fmin(lo, r->reward[ord[b].row]), hi = fmax(hi, r->reward[ord[b].row]);
        if (hi - lo > 1e-9)
            for (size_t k = a; k < b; k++) keep[ord[k].row] = 1, kept++;
        a = b;
    }
    if (kept > 0 && kept < n) {  // compact in row order, so the rows keep their relative order
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            if (!keep[i]) continue;
            r->tree[o] = r->tree[i], r->leaf[o] = r->leaf[i], r->len[o] = r->len[i], r->n_prompt[o] = r->n_prompt[i];
            r->reward[o] = r->reward[i];
            memmove(r->tokens + o * T, r->tokens + i * T, T * sizeof *r->tokens);
            memmove(r->targets + o * T, r->targets + i * T, T * sizeof *r->targets);
            memmove(r->node + o * T, r->node + i * T, T * sizeof *r->node);
            memmove(r->behav + o * T, r->behav + i * T, T * sizeof *r->behav);
            memmove(r->mult + o * T, r->mult + i * T, T * sizeof *r->mult);
            o++;
        }
        r->dropped_flat = n - kept;
        r->n = kept;
    }
    free(ord), free(keep);
}

void ppo_rows_free(ppo_rows *r) {
    free(r->tree), free(r->leaf), free(r->len), free(r->n_prompt), free(r->tokens), free(r->targets), free(r->node);
    free(r->behav), free(r->mult), free(r->reward), free(r->prox), free(r->ref), free(r->value), free(r->adv);
    free(r->ret), free(r->old_value);
    memset(r, 0, sizeof *r);
}
