// join.h — what prune and best-of read: trajectory trees joined with their leaves' verdicts
// (tree_join.h) and, optionally, their scores (reward score), grouped by problem.
#pragma once
#include <stdint.h>

#include "shards/tokenizer.h"
#include "shards/tree_join.h"

typedef struct rw_cand {
    uint32_t tree;     // index into set.trees
    uint32_t leaf;     // node index in the tree
    int outcome;       // enum verdict_outcome
    uint32_t flags;    // SCORE_HAS_ORM | SCORE_HAS_PRM of its score (0: no score)
    float orm, prm_min, prm_prod;
} rw_cand;

typedef struct rw_group {
    uint64_t problem_id;
    rw_cand *c;  // into rw_joined.cands: the problem's leaves, in tree order then node order
    uint32_t n;
} rw_group;

typedef struct rw_joined {
    vtree_set set;
    rw_cand *cands;
    size_t ncands;
    rw_group *groups;  // sorted by problem id
    size_t ngroups;
    uint64_t scored;   // candidates with a score
    uint32_t score_flags_all;  // flags every candidate's score has (0 without scores)
} rw_joined;

// Loads and joins (all directories must be closed). scores_dir may be NULL. With scores, every
// leaf must have exactly one score record and every score must name a leaf of a given tree (by
// tree id; a schema-1 score, without one, by its problem when that has a single tree).
int rw_join_load(rw_joined *j, const char *traj_dir, const char *verdict_dir, const char *scores_dir, berr *e);
void rw_joined_free(rw_joined *j);

// The text of a leaf's path without the prompt (what the verifiers checked); malloc'd.
int rw_leaf_text(const bpe *tok, const vtree *x, uint32_t leaf, char **text, size_t *len, berr *e);
