// loader.h — training batches, prepared ahead by a reader thread.
//
// A step's batch is this rank's accum × B rows of T input tokens and T targets (targets < 0
// are masked out of the loss). A feed says what a step holds given the global data position
// (cursor) at its start; the loader runs the feed on its own thread into two buffers, so the
// next step's batch is read while the current one trains (double buffering).
//
// Rank partition: a step takes the next seqs_per_step = B·accum·world items of the global
// stream (order.h); rank r takes items [r·B·accum, (r+1)·B·accum) of them, so ranks are
// disjoint and together cover every item of an epoch exactly once, and the global batch of
// a step does not depend on the rank count.
#pragma once
#include <stdint.h>

#include "kernels/base.h"
#include "pretrain/order.h"
#include "pretrain/tokens.h"

typedef struct pt_batch {
    int accum, B, T;
    int32_t *inputs, *targets;      // accum·B·T each: this rank's rows
    int64_t valid;                  // unmasked targets of the whole step, all ranks (loss denominator)
    int64_t valid_local;            // ... of this rank's rows
    uint64_t cursor, cursor_after;  // global data position at the start of the step and after it
} pt_batch;

typedef struct pt_feed {
    void *impl;
    // Fills b (rows sized by the loader) for the step starting at `cursor`; sets valid,
    // valid_local and cursor_after.
    int (*fill)(void *impl, uint64_t cursor, pt_batch *b, berr *e);
    void (*free)(void *impl);
} pt_feed;

// Pretraining feed: item k is the T+1 tokens at src[base + k·T]; count items per epoch.
// Tokens >= V are an error naming where they are. Takes ownership of src.
pt_feed pt_seq_feed(pt_tokens *src, uint64_t base, uint64_t count, int T, int V, uint64_t seed, int rank, int world,
                    int B, int accum);
// Reads item k of such a layout (T+1 tokens) into inputs/targets (T each); for evaluation.
int pt_seq_read(pt_tokens *src, uint64_t base, uint64_t k, int T, int V, int32_t *inputs, int32_t *targets, berr *e);

typedef struct pt_loader pt_loader;
// Starts the reader thread at `cursor` (threaded = 0: batches are made on demand in
// pt_loader_next, for tests that compare the two).
pt_loader *pt_loader_start(pt_feed feed, int accum, int B, int T, uint64_t cursor, int threaded);
// The next step's batch (valid until the next call); *waited = seconds spent waiting for it.
int pt_loader_next(pt_loader *l, const pt_batch **b, double *waited, berr *e);
// Stops the thread and frees everything, the feed included.
void pt_loader_stop(pt_loader *l);
