// sft.h — supervised fine-tuning data: problems as prompt → worked solution, tokenized,
// packed into rows with the prompt tokens masked out of the loss.
//
// An example is encode(prompt) ++ encode(solution) ++ [end-of-text] (the text format of
// verify/task_format.h; prompt and solution are encoded separately, as the model sees the
// prompt alone at generation time). Rows of T+1 tokens are filled with whole examples in
// the order of the epoch's permutation until the next one does not fit; the rest of the row
// is end-of-text padding. Inputs are the row's first T tokens, targets the next T, and a
// target is kept only where it is a solution token (or the closing end-of-text) — every
// prompt token and all padding get -1, so they carry exactly zero weight in the loss.
#pragma once
#include <stdint.h>

#include "kernels/base.h"
#include "kernels/train/loader.h"
#include "kernels/train/order.h"
#include "shards/records.h"
#include "shards/tokenizer.h"

typedef struct pt_example {
    uint64_t problem_id;
    uint32_t n, n_prompt;  // tokens in all, of which the prompt
    uint32_t *ids;
} pt_example;

typedef struct pt_examples {
    pt_example *ex;
    uint64_t n, cap;
    uint64_t dropped;   // longer than a row (with drop_long)
    uint64_t tokens;    // sum of n
    uint64_t fingerprint;
} pt_examples;

// Tokenizes one problem and appends it. An example longer than max_len tokens is an error
// naming the problem, or (drop_long) counted in ->dropped and left out.
int pt_examples_add(pt_examples *x, const problem_rec *p, const bpe *tok, int eot, uint32_t max_len, int drop_long,
                    berr *e);
// Adds every problem of `split` from a problem shard directory (finished shards in name order).
int pt_examples_load_dir(pt_examples *x, const char *dir, uint32_t split, const bpe *tok, int eot, uint32_t max_len,
                         int drop_long, berr *e);
void pt_examples_free(pt_examples *x);

// Packs one row from stream position *pos (examples visited through order, positions below
// limit): fills tok (T+1) and keep (T+1: 1 where the token is to be predicted); advances
// *pos past the examples taken; returns the targets kept in the row.
int pt_sft_pack_row(const pt_examples *x, tr_order *order, uint64_t *pos, uint64_t limit, int T, int eot,
                    uint32_t *tok, uint8_t *keep);
// Inputs/targets (T each) of a packed row.
void pt_sft_row_io(const uint32_t *tok, const uint8_t *keep, int T, int32_t *inputs, int32_t *targets);

// The training feed: each step packs seqs_per_step rows from the shuffled example stream
// (every rank packs the whole step to know where its rows start and the step's total of
// unmasked targets); rank r keeps rows [r·B·accum, (r+1)·B·accum). x must outlive the feed.
tr_feed pt_sft_feed(const pt_examples *x, int T, int eot, uint64_t seed, int rank, int world, int B, int accum);
