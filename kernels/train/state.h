// state.h — the trainer state a checkpoint carries in its `extra` blob (kernels/CHECKPOINT.md):
// where the data stream stands, the RNG, counters, the data's fingerprints and the run's
// options, so that --resume continues exactly where the run was. Versioned and checksummed.
//
// Layout (little-endian): "BERRYPTS" | u32 version | u32 world at save | u64 step |
// u64 cursor | u64 rng | u64 tokens | f64 flops | u64 data fingerprint | u64 val fingerprint |
// u32 options length | options text ("name=value\n" lines) | u64 XXH64 of all bytes before it.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"

#define TR_STATE_VERSION 1

typedef struct tr_state {
    uint32_t world;        // ranks of the run that saved it (informational)
    uint64_t step;         // optimizer steps done
    uint64_t cursor;       // position in the global data stream (sequences or SFT examples consumed)
    uint64_t rng;          // sampling RNG state
    uint64_t tokens;       // tokens trained on, all ranks (SFT: rows × seq-len)
    double flops;          // FLOPs of the "pretrain" stage so far, all ranks, all resumed segments
    uint64_t data_fp, val_fp;  // fingerprints of the training and validation data
    char *opts;            // the run's options (malloc'd, NUL-terminated)
    size_t opts_len;
} tr_state;

void tr_state_encode(const tr_state *s, bbuf *out);
// Validates magic, version, sizes and checksum; `what` names the source in errors.
int tr_state_decode(const void *blob, size_t len, const char *what, tr_state *s, berr *e);
void tr_state_free(tr_state *s);
