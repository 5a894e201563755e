// records.h — the record kinds stages exchange, each with a versioned schema.
//
// Encoding is little-endian and documented in shards/FORMAT.md. Decoders validate every
// length against the record size and fail with a message naming the field; they never
// read past the record. Decoded structs own malloc'd memory released by the *_free call.
// A decoder accepts every schema version up to its own and rejects newer ones.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/base.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- token streams (SHARD_TOKENS) --------------------------------------------------------------
// A record is a chunk of a token stream; documents inside it are separated by the
// end-of-text token. Ids are stored as uint16 when all fit, else uint32.
#define TOKENS_SCHEMA 1
typedef struct tokens_rec {
    uint32_t n;
    uint32_t *ids;
} tokens_rec;
void tokens_encode(bbuf *out, const uint32_t *ids, uint32_t n);
int tokens_decode(const uint8_t *rec, size_t len, uint32_t schema, tokens_rec *out, berr *e);
void tokens_free(tokens_rec *r);
// A view of a token record without copying: id i is tokens_view_at(v, i).
typedef struct tokens_view {
    uint32_t n;
    uint32_t width;  // bytes per id: 2 or 4
    const uint8_t *ids;
} tokens_view;
int tokens_view_decode(const uint8_t *rec, size_t len, uint32_t schema, tokens_view *v, berr *e);
static inline uint32_t tokens_view_at(const tokens_view *v, uint32_t i) {
    const uint8_t *p = v->ids + (size_t)i * v->width;
    return v->width == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : le32(p);
}

// ---- problems (SHARD_PROBLEMS) ------------------------------------------------------------------
#define PROBLEM_SCHEMA 1
enum task_kind { TASK_ARITH = 1, TASK_LINEAR = 2, TASK_ALGEBRA = 3, TASK_CODE = 4 };
#define TASK_KIND_MAX 4  // decoders reject kinds above this; a new kind raises it
enum task_split { SPLIT_TRAIN = 0, SPLIT_HELDOUT = 1 };
const char *task_kind_name(uint32_t kind);    // "arith", "linear", "algebra", "code"
const char *task_split_name(uint32_t split);  // "train", "heldout"
typedef struct problem_rec {
    uint64_t id;
    uint32_t task;        // enum task_kind
    uint32_t split;       // enum task_split
    uint32_t difficulty;  // generator-specific knob, 1 = easiest
    char *prompt;         // the text the model is given (ends with a newline)
    char *answer;         // reference final answer (math); "" for code
    char *tests;          // hidden test code (code tasks); "" for math
    char *solution;       // reference worked solution in the step format (see verify/task_format.h)
} problem_rec;
void problem_encode(bbuf *out, const problem_rec *p);
int problem_decode(const uint8_t *rec, size_t len, uint32_t schema, problem_rec *out, berr *e);
void problem_free(problem_rec *p);

// ---- trajectory trees (SHARD_TRAJECTORIES) --------------------------------------------------------
// One record is the whole tree sampled for one problem. Node i's tokens follow the prompt
// and the tokens of all its ancestors; parents precede children.
#define TRAJ_SCHEMA 1
#define TRAJ_ROOT UINT32_MAX
enum traj_finish {
    FINISH_BRANCHED = 0,  // ended at a step boundary and has children
    FINISH_ANSWER = 1,    // produced the answer line
    FINISH_EOT = 2,       // produced end-of-text
    FINISH_MAXLEN = 3,    // reached the maximum sequence length
    FINISH_BUDGET = 4,    // the problem's token budget ran out
};
const char *traj_finish_name(uint32_t finish);
typedef struct traj_node {
    uint32_t parent;  // index of the parent node, TRAJ_ROOT for a root
    uint32_t finish;  // enum traj_finish
    uint64_t seed;    // sampling seed of this node
    uint32_t n_tokens;
    uint32_t *tokens;
    float *logprobs;  // behaviour-policy log-prob of each token (n_tokens)
    uint32_t n_steps;
    uint32_t *step_ends;  // offsets into this node's tokens where a reasoning step ends
} traj_node;
typedef struct traj_rec {
    uint64_t problem_id;
    uint32_t policy_version;
    uint32_t n_prompt;
    uint32_t *prompt;
    uint32_t n_nodes;
    traj_node *nodes;
} traj_rec;
// The id that names a tree: problem, policy version and the first root's seed (rollout seeds
// every node from its run's seed, problem and node, so two runs give two ids unless they
// sampled the very same tree). Verdicts and labels carry it.
uint64_t traj_tree_id(const traj_rec *t);
void traj_encode(bbuf *out, const traj_rec *t);
int traj_decode(const uint8_t *rec, size_t len, uint32_t schema, traj_rec *out, berr *e);
void traj_free(traj_rec *t);

// ---- verdicts (SHARD_VERDICTS) ------------------------------------------------------------------
// Schema 2 adds tree_id (traj_tree_id of the tree the leaf belongs to); schema 1 records read
// with tree_id 0 (the tree is then known by problem id and policy version alone).
#define VERDICT_SCHEMA 2
enum verdict_outcome { OUTCOME_PASS = 0, OUTCOME_FAIL = 1, OUTCOME_TIMEOUT = 2, OUTCOME_CRASH = 3, OUTCOME_VIOLATION = 4 };
const char *outcome_name(uint32_t outcome);  // "pass", "fail", "timeout", "crash", "violation"
typedef struct verdict_rec {
    uint64_t problem_id;
    uint32_t node;            // leaf node index in the trajectory tree (0 for a lone candidate)
    uint32_t policy_version;
    uint32_t outcome;         // enum verdict_outcome
    float cpu_seconds;        // verifier CPU time spent on this check
    char *detail;             // human-readable reason
    uint64_t tree_id;         // the leaf's tree (traj_tree_id); 0 for a lone candidate or a schema-1 record
} verdict_rec;
void verdict_encode(bbuf *out, const verdict_rec *v);
int verdict_decode(const uint8_t *rec, size_t len, uint32_t schema, verdict_rec *out, berr *e);
void verdict_free(verdict_rec *v);

// ---- scores (SHARD_SCORES) ----------------------------------------------------------------------
// One record per scored leaf (reward score). Schema 2 adds the leaf's tree (tree_id, policy
// version), which models scored it (flags) and the aggregates of the PRM values along the path;
// a schema-1 record reads with tree_id 0, both flags set, and the aggregates computed from prm.
#define SCORE_SCHEMA 2
enum { SCORE_HAS_ORM = 1, SCORE_HAS_PRM = 2 };
typedef struct score_rec {
    uint64_t problem_id;
    uint32_t node;
    float orm;      // outcome reward model value for the leaf (0 without SCORE_HAS_ORM)
    uint32_t n_steps;
    float *prm;     // process reward model value at each step boundary along the path
    // schema 2
    uint64_t tree_id;         // traj_tree_id of the leaf's tree (0: unknown, schema 1)
    uint32_t policy_version;
    uint32_t flags;           // SCORE_HAS_ORM | SCORE_HAS_PRM
    float prm_min, prm_prod;  // min and product of prm (1 and 1 when there are no steps; 0 without SCORE_HAS_PRM)
} score_rec;
void score_encode(bbuf *out, const score_rec *s);
int score_decode(const uint8_t *rec, size_t len, uint32_t schema, score_rec *out, berr *e);
void score_free(score_rec *s);

// ---- labels (SHARD_LABELS) ------------------------------------------------------------------------
// One record per trajectory tree joined with its leaves' verdicts (reward label): the tree's
// tokens (without log-probs) and, per node, the Monte-Carlo labels of the completions below it.
// A label record is all `reward train` reads.
#define LABEL_SCHEMA 1
#define LABEL_NO_OUTCOME UINT32_MAX  // outcome of an inner node
enum { LABEL_LEAF = 1, LABEL_HARD = 2 };  // node flags
typedef struct label_node {
    uint32_t parent;      // TRAJ_ROOT for a root; parents precede children
    uint32_t flags;       // LABEL_LEAF: the node has no children; LABEL_HARD: the hard label is 1
    uint32_t outcome;     // a leaf's enum verdict_outcome; LABEL_NO_OUTCOME for an inner node
    uint32_t leaves;      // leaves in the node's subtree (1 for a leaf)
    uint32_t passed;      // ... whose verdict is pass
    float value;          // the Monte-Carlo value passed / leaves
    float soft;           // the soft label (in [0, 1]; value unless reward label --smooth)
    uint32_t n_tokens;
    uint32_t *tokens;
    uint32_t n_steps;
    uint32_t *step_ends;  // offsets into this node's tokens where a reasoning step ends
} label_node;
typedef struct label_rec {
    uint64_t problem_id;
    uint64_t tree_id;  // traj_tree_id of the tree the labels come from
    uint32_t policy_version;
    uint32_t n_prompt;
    uint32_t *prompt;
    uint32_t n_nodes;
    label_node *nodes;
} label_rec;
// The value stored for passed of leaves (the decoder checks it bit for bit).
float label_value(uint32_t passed, uint32_t leaves);
void label_encode(bbuf *out, const label_rec *l);
int label_decode(const uint8_t *rec, size_t len, uint32_t schema, label_rec *out, berr *e);
void label_free(label_rec *l);

// ---- any kind -----------------------------------------------------------------------------------
// The newest schema version this build reads and writes for a kind (0 for an unknown kind).
uint32_t record_schema_max(uint32_t kind);
// The record's index key (shard.h), read from the record's first bytes: the token count of a
// token record, the problem id of problems, trajectories, verdicts, scores and labels, 0 for bytes.
// Fails when the record is too short to hold it.
int record_key(uint32_t kind, uint32_t schema, const uint8_t *rec, size_t len, uint64_t *key, berr *e);
// Decodes the record fully (every field validated), frees it, and returns its key. Readers
// and the shard writer (shard_append) run it alike, so a stage cannot publish a record that
// the readers of its kind would refuse.
int record_check(uint32_t kind, uint32_t schema, const uint8_t *rec, size_t len, uint64_t *key, berr *e);

// ---- refused records ---------------------------------------------------------------------------
// What a reader does with a record of a finished shard that its kind's decoder refuses (an
// out-of-range value from a writer that did not check its records: shards/FORMAT.md,
// "Refused records"): it refuses the whole shard. This wraps e (the decoder's reason) with
// the file and record, the producer and creation time from the shard's header, and how to
// regenerate the shard. Returns -1.
struct shard_info;
int record_refused(berr *e, const char *path, uint64_t record, const struct shard_info *in);

// ---- JSON (one object per record, for `shards cat`) --------------------------------------------
// Decodes a record of the given kind/schema and prints it as one JSON line. Strings are
// UTF-8; a byte that is not part of valid UTF-8 is written as the escape \udcXX (XX = the
// byte), Python's "surrogateescape", so no byte is lost. Records of kind bytes print as hex.
int record_print_json(FILE *f, uint32_t kind, uint32_t schema, const uint8_t *rec, size_t len, berr *e);

#ifdef __cplusplus
}
#endif
