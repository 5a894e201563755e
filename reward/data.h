// data.h — the reward stage's data: Monte-Carlo labels of joined trees, the paths of a tree's
// leaves with their step positions, and the training examples of an ORM or a PRM.
//
// A path is the tree's prompt, then the tokens of every node from a root down to a leaf. The
// reward head is read at positions of the path (the head at position p has seen tokens 0..p):
//   ORM: the path's last token;
//   PRM: every step end along the path — a node's step end s (the offset, in the node, of the
//        marker that closes a step, rollout/README.md) is position prompt + (tokens of the
//        nodes above) + s — and the path's last token (the answer step), each once.
// The label at a PRM position inside node k is node k's: every completion below that position
// is a leaf below k, so k's Monte-Carlo value (passed / leaves below k) is the estimate for it,
// whether or not the position is where k forked. At the last token it is the leaf's verdict.
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"
#include "shards/records.h"
#include "shards/tree_join.h"

enum { RW_ORM = 0, RW_PRM = 1 };
extern const char *const rw_kind_choices[];  // "orm", "prm", NULL

// ---- labels -------------------------------------------------------------------------------------
typedef struct rw_label_opts {
    double hard_threshold;  // hard label = value > threshold (default 0: some completion passed)
    double smooth;          // soft label = (passed + smooth/2) / (leaves + smooth) (default 0: the value)
} rw_label_opts;
// The label record of a joined tree. out->nodes is malloc'd; the token arrays are x's (borrowed):
// free with rw_label_tree_free, not label_free.
void rw_label_tree(const vtree *x, const rw_label_opts *o, label_rec *out);
void rw_label_tree_free(label_rec *l);
// A trajectory tree seen as a label record without labels (leaf flags set, counts 0), for the
// path functions. Borrowed arrays as above.
void rw_view_of_traj(const traj_rec *t, label_rec *out);

// ---- paths ----------------------------------------------------------------------------------------
typedef struct rw_path {
    uint32_t leaf;
    uint32_t n, cap;        // tokens
    uint32_t *ids;
    uint32_t n_prompt;      // the first n_prompt tokens are the prompt
    uint32_t npos, pcap;    // PRM positions, increasing; the last is n - 1
    uint32_t *pos;
    uint32_t *pos_node;     // the node each position lies in (whose label it takes)
} rw_path;
// Fills p with the path of node `leaf` (any node, normally a leaf). chain: scratch of n_nodes.
void rw_path_of(const label_rec *l, uint32_t leaf, uint32_t *chain, rw_path *p);
void rw_path_free(rw_path *p);

// ---- training examples --------------------------------------------------------------------------
// One example (a row) per leaf. ORM: one labeled position, the last token, label = the leaf's.
// PRM: the positions of the path. A position shared by several paths (an ancestor's step end) is
// trained and evaluated once, in the row of the first leaf below its node (`own`); the head's
// value there is the same in every row holding it (causal attention), so nothing is lost.
typedef struct rw_example {
    uint64_t tree_id, problem_id;
    uint32_t leaf;
    uint32_t n;         // tokens
    uint32_t *ids;
    uint32_t nlab;      // labeled positions, increasing
    uint32_t *pos;
    float *soft;        // the node's soft label
    uint8_t *hard;      // the node's hard label
    uint8_t *own;       // 1: this row trains and scores the position
} rw_example;

typedef struct rw_examples {
    rw_example *ex;
    size_t n, cap;
    uint64_t trees, tokens, labels;  // labels: owned positions
    uint64_t dropped_long;           // rows longer than max_len, left out (drop_long)
    uint32_t max_id;                 // largest token id
    uint64_t fingerprint;
} rw_examples;

// Appends the rows of one label record. A row of more than max_len tokens is an error naming the
// tree and leaf, or (drop_long) counted in dropped_long and left out.
int rw_examples_add(rw_examples *x, const label_rec *l, int kind, uint32_t max_len, int drop_long, berr *e);
void rw_examples_free(rw_examples *x);
// Whether a tree is in the validation split: a hash of its id below val_fraction (whole trees
// go to one side, so the validation leaves share no prefix with training ones).
int rw_is_val(uint64_t tree_id, double val_fraction);
// Every label record of a closed label shard directory, split into train and validation rows.
int rw_examples_load(const char *dir, int kind, uint32_t max_len, int drop_long, double val_fraction, rw_examples *train,
                     rw_examples *val, berr *e);

// ---- records of a directory ----------------------------------------------------------------------
// Calls fn on every record of every finished shard of dir (expect_kind: every shard must hold
// it); require_closed: the directory must be CLOSED. `where` is "<dir>/<shard> record <k>".
typedef int (*rw_record_fn)(void *ctx, const uint8_t *rec, size_t len, uint32_t schema, const char *where, berr *e);
int rw_for_each_record(const char *dir, uint32_t expect_kind, int require_closed, rw_record_fn fn, void *ctx, berr *e);

static inline float rw_sigmoid(float x) { return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x)); }
