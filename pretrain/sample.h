// sample.h — text generation by full recompute (gpt2_logits over the whole sequence at every
// new token): simple, exact, and fast enough for samples during training and for scoring a
// base model on held-out problems.
#pragma once
#include <stdint.h>

#include "kernels/gpt2.h"

typedef struct pt_gen {
    const uint32_t *prompt;  // prompt ids (at least one)
    int n_prompt;
    uint64_t seed;           // sampling seed of this sequence
    // outputs
    uint32_t *out;           // generated ids (malloc'd; the stop token not included)
    int n_out;
    int stopped;             // 1: ended with the stop token; 0: hit max_new or the context
} pt_gen;

// Continues each sequence by up to max_new tokens, up to m->B sequences per forward pass
// (m->T positions at most: a sequence that fills the context ends there). temperature 0 is
// greedy (lowest id on ties). The draw for position i of a sequence uses the seed
// mix64(seed, i), so its randomness is its own, whatever else is in the batch. The same
// sequences in the same order give the same bits. stop < 0: never stop early.
void pt_generate(gpt2 *m, pt_gen *g, int n, int max_new, double temperature, int stop);
// One draw from logits[0..V) (fp32) at a temperature; u in [0, 1).
int pt_sample_logits(const float *logits, int V, double temperature, double u);
