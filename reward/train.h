// train.h — `reward train`: an ORM or a PRM (a GPT-2 with one scalar head) trained on label
// shards, data parallel over the ranks of comm.h with ZeRO-1, resumable bit for bit. Pieces:
// options and checks (train_config.c), the batches (train_feed.c), evaluation (train_eval.c),
// the run (train.c).
#pragma once
#include <stdint.h>

#include "kernels/comm.h"
#include "kernels/gpt2.h"
#include "kernels/train/cli.h"
#include "kernels/train/loader.h"
#include "kernels/train/runlog.h"
#include "kernels/train/schedule.h"
#include "kernels/train/state.h"
#include "kernels/train/trainer.h"
#include "reward/data.h"
#include "reward/rcli.h"

enum { RW_TARGET_SOFT = 0, RW_TARGET_HARD = 1 };

typedef struct rw_train_config {
    // data
    char *labels, *tokenizer;
    int kind, targets, drop_long;
    double val_fraction;
    // model
    char *init_from;
    int train_layers, seq_len;
    // batch
    int micro_batch;
    int64_t batch_rows;
    // optimizer and schedule
    int64_t steps;
    double epochs;
    double lr, lr_final_frac, weight_decay, beta1, beta2, eps, grad_clip;
    int warmup, schedule;
    // evaluation and checkpoints
    int eval_every, ckpt_every, keep;
    // run
    char *out, *resume_from;
    int resume, backend, quiet;
    int64_t seed;
} rw_train_config;

extern const cli_table rw_train_table;
extern const rw_cmd rw_train_cmd;

typedef struct rw_plan {
    gpt2_config model;  // the head model (n_scalar 1)
    int world, accum, T;
    int64_t steps, rows_per_step;
} rw_plan;

// Option-only checks (no file read); given[] says what the command line set.
int rw_train_check(const rw_train_config *c, const unsigned char *given, int resuming, berr *e);
// The plan from the starting checkpoint's model config and the training rows.
int rw_train_plan(const rw_train_config *c, const gpt2_config *from, uint64_t train_rows, int world, rw_plan *p, berr *e);

// ---- the feed ----------------------------------------------------------------------------------------
// A step takes rows_per_step examples of the shuffled training stream; rank r keeps rows
// [r·B·accum, (r+1)·B·accum). A row is one example: its tokens, padded with 0; its targets are the
// label's float bits (labels are in [0, 1], so the bits are >= 0) at the positions the row owns,
// and -1 elsewhere. valid counts the owned positions of the whole step.
tr_feed rw_train_feed(const rw_examples *x, int targets, int T, uint64_t seed, int rank, int world, int B, int accum);
static inline float rw_target_label(int32_t t) {
    float f;
    uint32_t u = (uint32_t)t;
    __builtin_memcpy(&f, &u, 4);
    return f;
}
static inline int32_t rw_label_target(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    return (int32_t)u;
}
// The length a micro-batch of rows (B × T, targets as above) needs: past its last labeled
// position nothing matters (causal attention), so it is cut there, rounded up to a multiple of 32.
int rw_batch_len(const int32_t *targets, int B, int T);

// ---- evaluation ------------------------------------------------------------------------------------
typedef struct rw_eval {
    double loss;          // mean BCE at the owned positions (with the training targets)
    double auc, acc;      // ORM: of the leaves; PRM: of the steps (owned positions), hard labels
    double first_error;   // PRM: first-error accuracy over paths (NaN for an ORM)
    double error_paths;   // PRM: share of paths that have an error step
    uint64_t rows, labels;
} rw_eval;
// Scores every validation row (rank r takes rows ≡ r mod world; collective) and computes the
// metrics on every rank.
void rw_evaluate(gpt2 *m, comm *c, const rw_examples *val, int kind, int targets, int B, int T, rw_eval *out);

// ---- the run -------------------------------------------------------------------------------------
int rw_train_main(int argc, char **argv, int first);
