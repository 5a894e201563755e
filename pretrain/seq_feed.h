// seq_feed.h — the pretraining feed of the trainer library's loader (kernels/train/loader.h).
#pragma once
#include <stdint.h>

#include "kernels/train/loader.h"
#include "kernels/train/order.h"
#include "pretrain/tokens.h"

// Pretraining feed: item k is the T+1 tokens at src[base + k·T]; count items per epoch.
// Tokens >= V are an error naming where they are. Takes ownership of src.
tr_feed pt_seq_feed(pt_tokens *src, uint64_t base, uint64_t count, int T, int V, uint64_t seed, int rank, int world,
                    int B, int accum);
// Reads item k of such a layout (T+1 tokens) into inputs/targets (T each); for evaluation.
int pt_seq_read(pt_tokens *src, uint64_t base, uint64_t k, int T, int V, int32_t *inputs, int32_t *targets, berr *e);

