// gpt2_decode.h — GPT-2 inference over a paged KV cache (what rollout runs), on the same
// kernels and the same weights as training.
//
// One call processes N tokens that may belong to many sequences: prefill chunks (several
// tokens of one sequence) and decode steps (one token per sequence) alike. Each token is
// written into the cache at its slot and attends to its own sequence's positions through a
// block table. Tokens of sequences that share a prefix can read that prefix once per group
// (cascade attention) and their own part separately; the two are merged by log-sum-exp.
//
// All per-call inputs live in device buffers owned by the decoder (gpt2_dec_io): the caller
// fills a host mirror, uploads it with gpt2_dec_upload, then runs gpt2_dec_forward — or
// replays a captured graph of it (gpt2_dec_capture), which needs a fixed N and group count:
// pad with rows whose slot is the trash slot (gpt2_dec_trash_slot) and an empty key range.
#pragma once
#include "kernels/gpt2.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gpt2_kv {
    int nblocks;      // blocks in each layer's pools (the last one is the trash block)
    int bs;           // positions per block
    int L;
    kb_act **k, **v;  // per-layer pools, nblocks·C·bs elements each
    size_t bytes;     // device bytes of all pools
} gpt2_kv;

// Sizes the cache from a byte budget (all layers, K and V): nblocks = budget / block bytes.
int gpt2_kv_alloc(gpt2_kv *kv, gpt2 *m, size_t budget_bytes, int bs, berr *e);
void gpt2_kv_free(gpt2_kv *kv, gpt2 *m);
size_t gpt2_kv_block_bytes(const gpt2 *m, int bs);  // one block in every layer, K and V

// Host-side mirror of one call's inputs; the same layout lives on the device.
typedef struct gpt2_dec_host {
    int32_t *tokens, *positions, *slots;  // [max_n]
    int32_t *kv_start, *kv_end;          // [max_n] each token's own key range (after any prefix)
    int32_t *block_table;                // [max_n · max_blocks] each token's sequence's blocks
    int32_t *logit_rows;                 // [max_n] rows whose logits are wanted
    int32_t *prefix_table;               // [max_groups · max_blocks]
    int32_t *prefix_len;                 // [max_groups]
    int32_t *row_off;                    // [max_groups + 1]
    int32_t *group_rows;                 // [max_n] rows of each group, concatenated
    uint64_t *seeds, *counters;          // [max_n] sampling inputs, per logit row
} gpt2_dec_host;

#define GPT2_DEC_MAX_GRAPHS 32

typedef struct gpt2_decoder {
    gpt2 *m;
    gpt2_kv *kv;
    int max_n, max_blocks, max_groups;
    gpt2_dec_host h;  // host mirror
    gpt2_dec_host d;  // device buffers (same fields)
    // activations for max_n tokens
    kb_act *x, *ln, *qkv, *att, *att2, *proj, *fch, *fch_gelu, *lnf, *logits;
    float *lse, *lse2;
    // sampling outputs (device) and their host copies
    int32_t *tok_out;
    float *lp_out;
    int32_t *tok_host;
    float *lp_host;
    void *captures[GPT2_DEC_MAX_GRAPHS];  // arguments of captured graphs (freed with the decoder)
    int ncaptures;
} gpt2_decoder;

// max_n tokens per call, sequences up to max_blocks blocks, up to max_groups prefix groups.
void gpt2_dec_init(gpt2_decoder *d, gpt2 *m, gpt2_kv *kv, int max_n, int max_blocks, int max_groups);
void gpt2_dec_free(gpt2_decoder *d);
int gpt2_dec_trash_slot(const gpt2_decoder *d);  // a slot in the reserved last block

typedef struct gpt2_dec_call {
    int n;           // tokens this call
    int n_logits;    // rows (logit_rows[0..n_logits)) whose logits are computed
    int groups;      // prefix groups (0: no cascade)
    int sample;      // also sample a token per logit row (inputs: seeds, counters)
    float temperature, top_p;
    int top_k;
    int64_t keys;    // Σ (kv_end − kv_start): for the FLOP counters
    int64_t prefix_keys;  // Σ over groups of prefix_len · rows
} gpt2_dec_call;

// Copies the host mirror's first n entries (and groups) to the device.
void gpt2_dec_upload(gpt2_decoder *d, const gpt2_dec_call *c);
// With c->groups > 0 every row must belong to exactly one group (a group may have prefix
// length 0); kv_start/kv_end then cover the part after the group's prefix.
// Runs the call on the device inputs: logits (n_logits × Vp, in d->logits) and, with
// c->sample, sampled tokens and their log-probs in d->tok_out / d->lp_out.
void gpt2_dec_forward(gpt2_decoder *d, const gpt2_dec_call *c);
// Downloads the sampled tokens and log-probs of the last call to d->tok_host / d->lp_host.
void gpt2_dec_fetch(gpt2_decoder *d, int n_logits);
// Captures gpt2_dec_forward for a fixed call shape; replay with kb_graph_launch after
// gpt2_dec_upload. The call struct must stay alive as long as the graph.
kb_graph *gpt2_dec_capture(gpt2_decoder *d, gpt2_dec_call *c);
// Launches a graph captured with keys = prefix_keys = 0 in its call and charges the attention
// FLOPs and bytes of this launch's actual key counts. A captured graph charges what it
// recorded at capture, but the key counts change every step while the graph's shape does
// not; the charge goes through dry-run attention calls, so each replay also adds L (and L
// more with prefix keys) to the attention call counts.
void gpt2_dec_replay(gpt2_decoder *d, kb_graph *g, int64_t keys, int64_t prefix_keys);

#ifdef __cplusplus
}
#endif
