// config.h — the training run's options (`pretrain [train] ...`): the table, and the checks
// and derived values that turn them into a consistent run before any work starts.
#pragma once
#include <stdint.h>

#include "kernels/gpt2.h"
#include "kernels/train/cli.h"


typedef struct pt_config {
    // data
    char *data, *val, *tokenizer, *problems, *val_problems;
    double val_fraction;
    int64_t data_memory;
    int vocab, sft, sft_drop_long;
    // model
    int depth, layers, channels, heads, context;
    char *init_from;
    // batch
    int micro_batch, seq_len;
    int64_t batch_tokens;
    // optimizer and schedule
    double lr, lr_final_frac, weight_decay, beta1, beta2, eps, grad_clip;
    int warmup, schedule;
    int64_t steps, tokens;
    // evaluation, checkpoints, samples
    int eval_every, eval_seqs, ckpt_every, keep, sample_every, sample_tokens;
    double sample_temp;
    char *sample_prompt;
    // run
    char *out, *resume_from;
    int resume, backend;
    int64_t seed;
} pt_config;

extern const cli_table pt_config_table;
extern const cli_cmd pt_train_cmd;  // `pretrain train`: the table and its --help text

// Derived values of a run (from the options, the world size and, when continuing, the
// checkpoint's model config).
typedef struct pt_plan {
    gpt2_config model;  // V, Vp filled in by pt_plan_model
    int world, accum;   // ranks, micro-steps per step
    int64_t steps;      // total optimizer steps
    int64_t seqs_per_step;  // rows per step over all ranks: micro_batch·accum·world
} pt_plan;

// Option-only checks and derived values (no files read): batch divisibility, steps from
// tokens, required combinations. given[] says which options the command line set.
int pt_config_check(const pt_config *c, const unsigned char *given, int world, pt_plan *p, berr *e);
// The model config: from the checkpoint's (ckpt != NULL: --init-from/--resume; explicit model
// options must then agree) or from --depth / --layers --channels --heads, with vocabulary V.
int pt_plan_model(const pt_config *c, const unsigned char *given, const gpt2_config *ckpt, int V, pt_plan *p,
                  berr *e);
// On --resume: stored options (from the checkpoint) become the defaults, the command line is
// applied over them, and options that must not change are compared. `cmdline` is the
// command-line parse (with given[]); `stored` is the stored text. Result in *out.
int pt_config_merge_resume(const pt_config *cmdline, const unsigned char *given, const char *stored, size_t stored_len,
                           pt_config *out, berr *e);
