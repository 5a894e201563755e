// run.h — one training run's state and the pieces of `pretrain [train]` (internal to pretrain/):
// setup (run_setup.c), reporting (run_report.c), evaluation, samples and checkpoints
// (run_steps.c), the loop and main (train.c).
#pragma once
#include <stdint.h>

#include "kernels/comm.h"
#include "kernels/gpt2.h"
#include "kernels/train/trainer.h"
#include "pretrain/config.h"
#include "pretrain/seq_feed.h"
#include "kernels/train/runlog.h"
#include "kernels/train/schedule.h"
#include "pretrain/sft.h"
#include "rollout/engine.h"
#include "kernels/train/state.h"
#include "shards/tokenizer.h"

typedef struct run {
    pt_config cfg;
    unsigned char *given;
    pt_plan plan;
    comm *c;
    int rank, world;
    kb_ctx *ctx;
    gpt2 m;
    ro_engine *sampler;  // rank 0 with --sample-every: the rollout engine the text samples decode on
    tr_zero zero;  // this rank's ZeRO-1 shard of the optimizer state
    gpt2_opt opt;
    tr_schedule sched;
    bpe *tok;
    int eot;
    // data
    pt_tokens *train_src;  // handed to the feed when the loader starts
    uint64_t train_base, train_count, unused_tail;
    int data_in_memory;
    pt_examples train_ex, val_ex;
    tr_loader *loader;
    int32_t *eval_in, *eval_tg;  // this rank's evaluation rows
    int eval_rows, eval_total;   // this rank's, all ranks'
    uint64_t val_count;          // validation items available
    // state
    tr_state st;
    char *resume_path;
    tr_log log;
    int64_t start_step;
} run;

// If any rank failed (rc != 0), every rank exits with exit_code (tr_agree).
void pt_run_agree(run *r, int rc, const berr *e, int exit_code);
// Options (and, with --resume, the stored ones merged in), then the run checks.
int pt_run_options(run *r, int argc, char **argv, int first, berr *e);
// --out: absent, empty or this run's own; not a shard directory, not one of the inputs.
int pt_run_out_check(run *r, berr *e);
int pt_run_tokenizer(run *r, berr *e);
// The data: the token stream and its validation rows, or the SFT examples (both also plan
// the model, whose vocabulary may come from the data).
int pt_run_pretrain_data(run *r, berr *e);
int pt_run_sft_data(run *r, berr *e);
// Builds the model, its ZeRO shard, and loads --init-from or the checkpoint being resumed.
int pt_run_model(run *r, berr *e);

void pt_run_echo(run *r);        // the config echo (rank 0, stderr)
void pt_run_log_config(run *r);  // the config record of the run log
void pt_run_log_counters(run *r, int64_t step);

double pt_run_evaluate(run *r);                     // validation loss (collective)
void pt_run_sample(run *r, int64_t step);           // a text sample (rank 0)
void pt_run_checkpoint(run *r, int64_t step);       // ckpt_<step>.bin (collective)
