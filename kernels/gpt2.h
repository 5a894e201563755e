// gpt2.h — the GPT-2 model, written once against kernels.h; it runs on either backend.
//
// Parameters live in one contiguous fp32 buffer (the masters), ordered so that every 2-D
// weight comes first (these get weight decay) and every 1-D one after. The backend's
// working copy (bf16 on CUDA; on the CPU the masters themselves) feeds the forward pass.
// Gradients and AdamW moments are fp32 buffers of the same layout.
//
// A training micro-step is gpt2_forward_backward(): the classifier runs in row chunks and
// its backward starts inside the forward, so no (B·T, V) logits tensor is ever held.
// Nothing allocates after gpt2_build(); nothing waits for the device except the calls
// that return values to the host (gpt2_read_stats, gpt2_read_loss, checkpoint IO).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gpt2_config {
    int L;           // layers
    int C;           // channels
    int NH;          // heads (C % NH == 0)
    int V;           // vocabulary
    int Vp;          // vocabulary padded to a multiple of 128 (the classifier's width)
    int maxT;        // context length (position embeddings)
    int n_scalar;    // scalar heads on the final hidden state (value/reward); 0 for a plain LM
} gpt2_config;

// Fills a config from a depth: GPT-2's sizes for d12/d24/d36/d48 (124M, 350M, 774M, 1558M:
// C = 768/1024/1280/1600, heads of 64), else C = 64·depth with heads of 64; Vp = V rounded
// up to 128.
gpt2_config gpt2_config_depth(int depth, int V, int maxT);
// Checks a config (also one read from a file); names the bad field.
int gpt2_config_check(const gpt2_config *c, berr *e);
size_t gpt2_param_count(const gpt2_config *c);

enum gpt2_tensor {
    // 2-D weights (weight decay applies)
    GPT2_WTE, GPT2_WPE, GPT2_QKVW, GPT2_ATTPROJW, GPT2_FCW, GPT2_FCPROJW, GPT2_HEADW,
    // 1-D weights
    GPT2_LN1W, GPT2_LN1B, GPT2_QKVB, GPT2_ATTPROJB, GPT2_LN2W, GPT2_LN2B, GPT2_FCB, GPT2_FCPROJB,
    GPT2_LNFW, GPT2_LNFB, GPT2_HEADB,
    GPT2_NTENSORS
};
const char *gpt2_tensor_name(int t);

typedef struct gpt2_opt {
    float beta1, beta2, eps, weight_decay, grad_clip;  // grad_clip <= 0: no clipping
} gpt2_opt;

typedef struct gpt2 {
    gpt2_config cfg;
    kb_ctx *ctx;
    int B, T;                      // largest micro-batch the buffers hold
    int training;                  // gradients and optimizer state allocated
    size_t n_params, n_decay;      // total, and the 2-D prefix
    size_t off[GPT2_NTENSORS], size[GPT2_NTENSORS];
    float *params, *grads, *m, *v;  // fp32 device buffers (grads/m/v only when training)
    kb_act *wact;                   // working weights (== params on the CPU backend)
    int step;                       // AdamW steps taken
    // activations (see gpt2.c for the layout)
    void *acts;
    int32_t *tokens, *targets;     // device (B·T)
    float *losses;                 // device (B·T): per-token -log p of the last forward
    float *stats;                  // device: [0] loss sum since reset, [1] grad norm² of the last update
    kb_act *head_out;              // device (B·T, n_scalar) scalar-head outputs of the last forward
    kb_act *dhead;                 // device (B·T, n_scalar) gradient the caller puts for the heads
    float *rl_in;                  // device (5, B·T) per-token inputs of the RL losses (training only)
    float *rl_out;                 // device (5, B·T) per-token outputs: logp, entropy, loss, clipped, ratio
    int train_from;                // first layer whose weights train (0: all; > 0 also freezes the embeddings)
    char role[KB_STAGE_NAME];      // counter stage the model's ops are charged to ("" : the caller's)
    int chunk;                     // classifier row chunk
    int last_B, last_T;
} gpt2;

// Allocates everything a run needs for micro-batches up to B×T (T <= maxT). training=0
// builds an inference-only model (no gradients, optimizer state or per-layer activations).
void gpt2_build(gpt2 *m, kb_ctx *ctx, const gpt2_config *cfg, int B, int T, int training);
void gpt2_free(gpt2 *m);
// Charges every op the model runs from now on to the counter stage `role` (kb_set_stage), so
// a process with several models (policy, reference, critic, reward model) reports FLOPs and
// bytes of each, by phase: e.g. "ppo.policy", "ppo.reference". NULL or "": the caller's stage.
void gpt2_set_role(gpt2 *m, const char *role);
// GPT-2 initialisation from a seed: N(0, 0.02) weights, residual projections scaled by
// 1/sqrt(2L), zero biases, unit layernorm gains, N(0, 0.01) positions. Same bits on every
// backend (drawn on the host).
void gpt2_init(gpt2 *m, uint64_t seed);
// Host <-> device copies of the fp32 masters (n_params floats); upload also refreshes the
// working copy.
void gpt2_set_params(gpt2 *m, const float *host);
void gpt2_get_params(gpt2 *m, float *host);

// Forward only. targets may be NULL (no loss). Adds the summed loss to stats[0].
void gpt2_forward(gpt2 *m, const int32_t *tokens, const int32_t *targets, int B, int T);
// Forward and backward of sum_i dscale·nll_i (plus the scalar heads' gradient in m->dhead
// when use_dhead): accumulates into the gradients. targets < 0 are ignored (prompt masking).
void gpt2_forward_backward(gpt2 *m, const int32_t *tokens, const int32_t *targets, int B, int T, float dscale,
                           int use_dhead);
// Forward of tokens (B×T), then the logits of the given rows (indices into B·T, e.g. the
// last position of each sequence) downloaded as fp32 into host (nrows × Vp; columns >= V are
// padding). For sampling without a KV cache and for evaluation.
void gpt2_logits(gpt2 *m, const int32_t *tokens, int B, int T, const int32_t *rows, int nrows, float *host);
void gpt2_zero_grad(gpt2 *m);  // also resets the loss statistics
void gpt2_reset_loss(gpt2 *m);
// Global gradient norm, clipping and AdamW on every parameter (2-D ones decayed).
void gpt2_update(gpt2 *m, const gpt2_opt *o, float lr);
// The one host sync of a step: the summed loss since the last reset (the caller divides by
// its token count) and the gradient norm of the last update (before clipping).
void gpt2_read_stats(gpt2 *m, double *loss_sum, double *grad_norm);
// ---- RL: log-probs, the policy-gradient step, scalar heads ----------------------------------------

// Forward, then per-token log-probabilities (and entropies, if entropy is non-NULL) of the
// targets at a sampling temperature: log softmax(logits / temperature)[target], the quantity
// rollout records (temperature 0, greedy, counts as 1). Host arrays of B·T; 0 where target < 0.
void gpt2_token_logprobs(gpt2 *m, const int32_t *tokens, const int32_t *targets, int B, int T, float temperature,
                         float *logp, float *entropy);

// A policy-gradient micro-step: forward, the fused clipped-surrogate loss of kb_pg_loss in the
// classifier's row chunks (no second forward, no fp32 logits), backward; accumulates into the
// gradients and adds Σ loss_i to the loss statistics. Host arrays of B·T tokens.
typedef struct gpt2_pg_batch {
    const int32_t *tokens, *targets;     // targets < 0: not trained on
    const float *weight, *adv, *lp_old;  // weight: mask × normalisation (kb_pg_loss)
    const float *lp_behav, *lp_ref;      // or NULL (no behaviour correction / no KL term)
} gpt2_pg_batch;
void gpt2_pg_forward_backward(gpt2 *m, const gpt2_pg_batch *b, int B, int T, const kb_pg_params *p);
// The per-token outputs of the last gpt2_pg_forward_backward (host arrays of its B·T; any NULL).
void gpt2_pg_read(gpt2 *m, float *logp, float *entropy, float *loss, float *clipped, float *ratio);

// Forward of the trunk and the scalar heads only (the vocabulary classifier is skipped); the
// heads' outputs to host (B·T × n_scalar) when host is non-NULL.
void gpt2_heads_forward(gpt2 *m, const int32_t *tokens, int B, int T, float *host);
// A scalar-head micro-step without the vocabulary classifier, forward or backward: head h's
// loss (kb_head_loss: MSE for a critic, BCE for a reward model) at the rows whose weight is
// non-zero; accumulates into the gradients and adds Σ loss_i to the loss statistics. Host
// arrays of B·T (old: the values a clipped MSE is clipped around, or NULL).
void gpt2_head_forward_backward(gpt2 *m, const int32_t *tokens, const float *labels, const float *weight,
                                const float *old, int B, int T, kb_head_kind kind, float clip, float dscale, int h);
// Trains only layers >= first_layer (and the final layernorm and heads); 0 trains everything.
// Frozen weights get no gradient and are left alone by the update (no decay either), and the
// backward pass stops at first_layer.
void gpt2_set_trainable(gpt2 *m, int first_layer);

// FLOPs of one training token by the 6N + 6·L·C·T rule (for cross-checking the counters).
double gpt2_flops_per_token_rule(const gpt2 *m, int T);

// ---- checkpoints (format: kernels/CHECKPOINT.md) ---------------------------------------------
typedef struct gpt2_ckpt_info {
    uint32_t version;
    gpt2_config cfg;
    int has_opt;
    uint64_t n_params, step, extra_bytes;
} gpt2_ckpt_info;

int gpt2_ckpt_info_read(const char *path, gpt2_ckpt_info *info, berr *e);
// The header and the payload checksum of the whole file (reads every byte; loads nothing).
int gpt2_ckpt_verify(const char *path, gpt2_ckpt_info *info, berr *e);
// Writes atomically (temp file, fsync, rename): a crash leaves the previous file intact.
// extra is an opaque trainer-state blob stored after the tensors.
int gpt2_save(gpt2 *m, const char *path, int with_opt, const void *extra, size_t extra_len, berr *e);
// Loads into a model built with the file's config; optimizer state only if with_opt and
// the file has it (and the model is training). *extra (malloc'd) may be NULL if not wanted.
int gpt2_load(gpt2 *m, const char *path, int with_opt, void **extra, size_t *extra_len, berr *e);

// A model with scalar heads from a plain LM (or another head model) and back. The trunk (every
// tensor but the heads) must have the same shape in the file as in m. gpt2_load_trunk loads
// it, and the heads too when the file has the same number of them; otherwise m's heads are
// initialised from seed (weights N(0, 0.02), biases 0). gpt2_save_lm writes m's trunk as a
// plain LM checkpoint (n_scalar 0, no optimizer state), atomically.
int gpt2_load_trunk(gpt2 *m, const char *path, uint64_t seed, berr *e);
int gpt2_save_lm(gpt2 *m, const char *path, const void *extra, size_t extra_len, berr *e);
// Offsets and sizes (floats) of every tensor of a config's parameter buffer.
void gpt2_layout(const gpt2_config *c, size_t off[GPT2_NTENSORS], size_t size[GPT2_NTENSORS]);

// ---- ZeRO-1: AdamW state sharded across data-parallel ranks (gpt2_shard.c) -------------------
// A rank that owns params [off, off+len) keeps AdamW moments for that range only; gradients
// and masters stay full size, padded to n_pad floats (zero tail) so that reduce-scatter and
// all-gather run on equal blocks in place. The caller (a trainer with kernels/comm.h) does the
// communication: zero grads, forward/backward, reduce-scatter grads, norm² of its shard summed
// over ranks, gpt2_update_shard, all-gather masters, gpt2_refresh_working.
typedef struct gpt2_shard {
    size_t off, len;  // this rank's range of the parameter buffer
    size_t n_pad;     // padded length of params/grads (>= n_params)
} gpt2_shard;

// Reallocates m->m and m->v to len floats (zeroed) and pads params/grads to n_pad (contents
// kept). With off = 0, len = n_pad = n_params nothing but the moments' reset happens.
void gpt2_set_shard(gpt2 *m, const gpt2_shard *s);
// AdamW over the shard only (weight decay for the part below n_decay), clipping by the
// device-side norm² (NULL or grad_clip <= 0: no clipping). Increments m->step.
void gpt2_update_shard(gpt2 *m, const gpt2_shard *s, const gpt2_opt *o, float lr, const float *norm_sq);
// Refreshes the working (activation dtype) weights from the fp32 masters, after the masters
// were changed from outside (e.g. an all-gather). A no-op where they are the same buffer.
void gpt2_refresh_working(gpt2 *m);
// The shard's moments <-> host (len floats each).
void gpt2_get_moments(gpt2 *m, const gpt2_shard *s, float *host_m, float *host_v);
void gpt2_set_moments(gpt2 *m, const gpt2_shard *s, const float *host_m, const float *host_v);
// Checkpoint IO of whole host arrays in the format of gpt2_save/gpt2_load (so a checkpoint
// written by any number of ranks is read by any other): m/v may be NULL (no optimizer state).
int gpt2_save_host(const gpt2_config *cfg, int step, const float *params, const float *m_, const float *v_,
                   const void *extra, size_t extra_len, const char *path, berr *e);
// Reads a checkpoint into malloc'd host arrays (*m_/*v_ NULL when it has no optimizer state).
int gpt2_load_host(const char *path, gpt2_ckpt_info *info, float **params, float **m_, float **v_, void **extra,
                   size_t *extra_len, berr *e);

#ifdef __cplusplus
}
#endif
