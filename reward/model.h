// model.h — reward models as `reward score` (and the device script) read them: a GPT-2 with one
// scalar head whose trainer state (written by reward train) says whether it is an ORM or a PRM.
#pragma once
#include <stdint.h>

#include "kernels/gpt2.h"
#include "reward/data.h"

typedef struct rw_model {
    gpt2 m;
    int kind;          // RW_ORM or RW_PRM; -1 when the file does not say
    uint64_t digest;   // hash of its parameters (a restart must score with the same weights)
} rw_model;

// Checks a checkpoint's header and trainer state: one scalar head (else it is not a reward
// model), and, when the state names a kind, that it is `want` (opt names the option in messages).
int rw_model_check(const char *path, const char *opt, int want, gpt2_ckpt_info *info, int *kind, berr *e);
// Builds an inference model for rows up to B × T (T <= its context) and loads the weights.
int rw_model_load(rw_model *rm, kb_ctx *ctx, const char *path, const char *role, int B, int T, berr *e);
void rw_model_free(rw_model *rm);
