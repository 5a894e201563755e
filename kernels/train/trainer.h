// trainer.h — what every training stage (pretrain, reward, ppo) shares around a model it
// trains data-parallel: the backend choice, errors agreed between ranks, the ZeRO-1 step,
// loading weights to start or resume from, and the collective checkpoint save.
//
// Order of a step with ZeRO-1 (tr_zero_step): the caller zeroes the gradients and runs its
// micro-steps (loss sums accumulate in m->stats[0]); then the gradients are reduce-scattered,
// this rank's shard's norm² is all-reduced together with the loss sum (one collective of two
// floats), AdamW updates the shard with clipping by the global norm, and the masters are
// all-gathered back into every rank's working weights. No host sync: gpt2_read_stats after it
// is the step's one wait.
#pragma once
#include "kernels/comm.h"
#include "kernels/gpt2.h"

#ifdef __cplusplus
extern "C" {
#endif

// --backend auto|cpu|cuda, the same in every stage.
enum { TR_BACKEND_AUTO = 0, TR_BACKEND_CPU = 1, TR_BACKEND_CUDA = 2 };
extern const char *const tr_backend_choices[];  // NULL-terminated, in the order above
kb_backend tr_backend(int choice);             // auto: CUDA when a GPU is there

// Every rank calls this after a phase that may fail: if any rank failed (rc != 0), all stop
// with exit_code, and only the lowest failing rank prints its message (a configuration error
// is usually the same on all of them).
void tr_agree(comm *c, int rc, const berr *e, int exit_code);

// The AdamW options every training stage's table has, for an options struct T with double
// fields weight_decay, beta1, beta2, eps and grad_clip (kernels/train/cli.h entries; WD is the
// stage's default weight decay as text).
#define TR_ADAMW_OPTIONS(T, WD)                                                                          \
    {CLI_F64, "weight-decay", offsetof(T, weight_decay), WD, 0, 10, NULL, CLI_KEEP, "X",                  \
     "AdamW weight decay (2-D weights only)"},                                                            \
    {CLI_F64, "beta1", offsetof(T, beta1), "0.9", 0, 0.999999, NULL, CLI_KEEP, "X", "AdamW beta1"},       \
    {CLI_F64, "beta2", offsetof(T, beta2), "0.95", 0, 0.999999999, NULL, CLI_KEEP, "X", "AdamW beta2"},   \
    {CLI_F64, "eps", offsetof(T, eps), "1e-8", 1e-30, 1, NULL, CLI_KEEP, "X", "AdamW epsilon"},           \
    {CLI_F64, "grad-clip", offsetof(T, grad_clip), "1.0", 0, 1e9, NULL, CLI_KEEP, "X",                    \
     "clip the global gradient norm (0: off)"}

#define TR_SHARD_ALIGN 64  // floats: ZeRO blocks start on 256-byte boundaries

typedef struct tr_zero {
    comm_part part;  // this rank's block of the parameter buffer
    gpt2_shard sh;   // the same, as the model sees it
} tr_zero;

// Partitions m's parameters over the ranks of c and shards its AdamW state (m->m, m->v).
void tr_zero_setup(tr_zero *z, gpt2 *m, comm *c);
// The optimizer step after the caller's micro-steps (see the top of this file).
void tr_zero_step(tr_zero *z, gpt2 *m, comm *c, const gpt2_opt *o, float lr);

// Loads a checkpoint's weights into m (built with the file's config); with_opt also loads this
// rank's part of the AdamW moments and the step count (an error if the file has none).
int tr_load_weights(gpt2 *m, const tr_zero *z, const char *path, int with_opt, berr *e);
// Collective: rank 0 gathers every rank's moments and writes path in the single-process
// format (any rank count can resume it), with the trainer-state blob `extra`. Atomic. The
// returned status is agreed between ranks.
int tr_save_checkpoint(gpt2 *m, const tr_zero *z, comm *c, const char *path, const void *extra, size_t extra_len,
                       berr *e);

#ifdef __cplusplus
}
#endif
