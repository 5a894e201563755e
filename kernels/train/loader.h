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

typedef struct tr_batch {
    int accum, B, T;
    int32_t *inputs, *targets;      // accum·B·T each: this rank's rows
    int64_t valid;                  // unmasked targets of the whole step, all ranks (loss denominator)
    int64_t valid_local;            // ... of this rank's rows
    uint64_t cursor, cursor_after;  // global data position at the start of the step and after it
} tr_batch;

typedef struct tr_feed {
    void *impl;
    // Fills b (rows sized by the loader) for the step starting at `cursor`; sets valid,
    // valid_local and cursor_after.
    int (*fill)(void *impl, uint64_t cursor, tr_batch *b, berr *e);
    void (*free)(void *impl);
} tr_feed;

typedef struct tr_loader tr_loader;
// Starts the reader thread at `cursor` (threaded = 0: batches are made on demand in
// tr_loader_next, for tests that compare the two).
tr_loader *tr_loader_start(tr_feed feed, int accum, int B, int T, uint64_t cursor, int threaded);
// The next step's batch (valid until the next call); *waited = seconds spent waiting for it.
int tr_loader_next(tr_loader *l, const tr_batch **b, double *waited, berr *e);
// Stops the thread and frees everything, the feed included.
void tr_loader_stop(tr_loader *l);
