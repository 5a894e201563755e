// tree_join.h — trajectory trees joined with the verdict of every leaf: what the reward stage
// (Monte-Carlo labels) and ppo (rewards, tree advantages) read.
//
// A leaf is a node without children (verify run checks exactly those). The join is by
// tree_id (verdict schema 2, traj_tree_id); a schema-1 verdict (tree_id 0) names its tree by
// problem id and policy version, which must then be unambiguous. Every leaf must have
// exactly one verdict and every verdict must name a leaf of a loaded tree; otherwise the load
// fails with a message naming the shard, the record and the tree.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"
#include "shards/records.h"

typedef struct vtree {
    traj_rec t;          // the tree (owned)
    uint64_t tree_id;    // traj_tree_id(&t)
    uint8_t *is_leaf;    // per node
    int8_t *outcome;     // per node: the leaf's enum verdict_outcome; -1 for an inner node
    uint32_t *leaves;    // per node: leaves in its subtree (1 for a leaf)
    uint32_t *passed;    // per node: leaves in its subtree whose outcome is pass
    uint32_t *depth;     // per node: 0 for a root, parent's + 1
    char where[160];     // "<shard> record <k>", for messages
} vtree;

typedef struct vtree_set {
    vtree *trees;
    size_t n;
    uint64_t leaves, passed;  // over all trees
} vtree_set;

// Loads every finished trajectory shard of traj_dir and every verdict shard of verdict_dir
// (require_closed: both directories must have been closed by their producers) and joins them.
// The trees come in (problem id, tree id) order, whatever the shards' layout.
int vtree_set_load(vtree_set *s, const char *traj_dir, const char *verdict_dir, int require_closed, berr *e);
// The same from trees already in memory (each taken over, then zeroed) and verdicts.
int vtree_set_join(vtree_set *s, traj_rec *trees, const char *const *where, size_t n, const verdict_rec *v, size_t nv,
                   const char *const *vwhere, berr *e);
// The stream form (the pooled placement, where rollout and verify run ahead): trees in the
// order of their shards' names and records (finished shards only; the directories need not be
// closed). When trees [skip, skip + take) of that order all have every leaf's verdict, they are
// joined into s and 1 is returned; otherwise 0 (*complete: the trees of the longest prefix that
// do), or -1 on an error. *closed: whether the trajectory directory is closed (no more to come).
int vtree_set_load_range(vtree_set *s, const char *traj_dir, const char *verdict_dir, size_t skip, size_t take,
                         size_t *complete, int *closed, berr *e);
void vtree_set_free(vtree_set *s);

// The nodes from a root to node i (root first) into path (capacity t->n_nodes); returns the count.
uint32_t vtree_path(const traj_rec *t, uint32_t i, uint32_t *path);
