// gpt2_block.h — one GPT-2 transformer block, the single definition that the training forward
// (gpt2.c) and the paged-KV decoder (gpt2_decode.c) both run (internal to kernels/).
//
//   qkv = ln1 · Wqkv + b;  att = attend(qkv);  resid2 = x + att · Wproj + b;  ln2 = LN2(resid2)
//   fch_gelu = gelu(ln2 · Wfc + b);  resid3 = resid2 + fch_gelu · Wfcproj + b;  ln_next = LN(resid3)
//
// where LN is the next block's ln1, or lnf after the last block. The caller supplies the
// buffers (per layer when training, shared when decoding: resid2/resid3 may alias x, ln2 and
// ln_next may alias ln1) and the attention, which is what differs: causal over the batch's own
// sequences in training, over the paged KV cache in decoding. The same ops in the same order
// on the same rows give the same bits, so rollout's log-probs can equal the trainer's.
#pragma once
#include "kernels/gpt2.h"

typedef struct gpt2_block_bufs {
    const kb_act *x;       // (N, C) residual stream in
    const kb_act *ln1;     // (N, C) this block's ln1(x), computed by the caller or the previous block
    kb_act *qkv, *att;     // (N, 3C), (N, C)
    kb_act *proj;          // (N, C) scratch for both projections
    kb_act *resid2, *ln2;  // (N, C)
    kb_act *fch, *fch_gelu;  // (N, 4C)
    kb_act *resid3, *ln_next;  // (N, C)
    float *ln2_mean, *ln2_rstd, *next_mean, *next_rstd;  // statistics (NULL: not kept)
} gpt2_block_bufs;

// Attention of layer l: reads qkv (N, 3C), writes att (N, C).
typedef void (*gpt2_attend_fn)(void *arg, int l, const kb_act *qkv, kb_act *att);

void gpt2_block_forward(gpt2 *m, int l, int N, const gpt2_block_bufs *b, gpt2_attend_fn attend, void *arg);
