// kernels.h — every compute op berry runs, on raw device pointers with explicit sizes.
//
// Two backends stand behind this header: kernels/cpu (plain C + OpenMP, fp32: the
// reference, and what runs with no GPU) and kernels/cuda (bf16 activations, fp32 master
// weights, cuBLASLt). A context picks the backend at run time; the GPT-2 model in
// gpt2.c is written once against these calls.
//
// Dtypes. Two kinds of buffer appear below:
//   kb_act  "activation" dtype: fp32 on the CPU backend, bf16 on CUDA. Activations, their
//           gradients and the working copy of the weights use it. It is an incomplete
//           type so that an activation pointer can never be passed where a float* is
//           expected; use kb_at() for offsets.
//   float   always fp32: master weights, weight gradients, optimizer state, layernorm
//           statistics, losses, log-probabilities.
// Layouts are row-major. A matmul weight is (OC, C): out = inp · Wᵀ + bias, as in PyTorch.
//
// Accumulation. Weight/bias gradients are accumulated (+=) so micro-batches add up;
// the caller zeroes them once per step. Activation gradients are overwritten unless an op
// says "+=".
//
// Counters. Every op adds the FLOPs and bytes it executed to the context's counters,
// tagged by the caller-set stage, by phase (forward, backward, optimizer) and by op
// class. Bytes are the minimum traffic: each input read once, each output written once.
//
// Determinism. Every op gives the same bits for the same inputs on the same device,
// whatever the thread or launch configuration (no floating-point atomics).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kb_act kb_act;
typedef struct kb_ctx kb_ctx;

typedef enum { KB_CPU = 0, KB_CUDA = 1 } kb_backend;

typedef enum { KB_FWD = 0, KB_BWD = 1, KB_OPT = 2, KB_NPHASES } kb_phase;
typedef enum {
    KB_MATMUL = 0,
    KB_ATTENTION,
    KB_NORM,        // layernorm (and the residual adds fused into it)
    KB_CLASSIFIER,  // softmax / cross-entropy / log-probs / sampling
    KB_OPTIMIZER,   // AdamW, gradient norm
    KB_OTHER,       // embeddings, conversions, copies
    KB_NCLASSES
} kb_op_class;

#define KB_MAX_STAGES 32
#define KB_STAGE_NAME 32

// ---- context ----------------------------------------------------------------------------

// Opens a backend. device is the CUDA ordinal (ignored on CPU). Returns NULL with a message
// when the backend is unavailable (no GPU, built without CUDA, ...).
kb_ctx *kb_open(kb_backend backend, int device, berr *e);
// KB_CUDA if a usable GPU is present and CUDA was built in, else KB_CPU.
kb_backend kb_default_backend(void);
void kb_close(kb_ctx *ctx);
kb_backend kb_backend_of(const kb_ctx *ctx);
const char *kb_backend_name(const kb_ctx *ctx);  // "cpu" or "cuda"
const char *kb_device_name(const kb_ctx *ctx);   // e.g. "NVIDIA H100 80GB HBM3" or "cpu (2 threads)"
size_t kb_act_size(const kb_ctx *ctx);           // 4 (fp32) or 2 (bf16)
// Dense bf16 tensor-core peak (CUDA) or an fp32 estimate (CPU), in FLOP/s, for MFU.
double kb_peak_flops(const kb_ctx *ctx);

// Pointer to element i of an activation buffer.
kb_act *kb_at(const kb_ctx *ctx, const kb_act *base, size_t i);

// ---- memory (all device-side unless named host) --------------------------------------------
// Allocation is meant for start-up: a run sizes everything once. Failure is fatal with a
// message that says how much was asked for and how much is in use.
void *kb_alloc(kb_ctx *ctx, size_t bytes);
void kb_free(kb_ctx *ctx, void *p);
size_t kb_bytes_allocated(const kb_ctx *ctx);  // live device bytes allocated through kb_alloc
size_t kb_peak_bytes(const kb_ctx *ctx);       // high-water mark of the above
// Device memory in use on the whole device right now, by anyone (CUDA: total - free; 0 on
// the CPU backend). Includes the backend's own scratch and workspaces.
size_t kb_device_mem_in_use(kb_ctx *ctx);
// What a run may size itself by (rollout's and generate's defaults): memory free and in all
// (CUDA: cudaMemGetInfo of the device; CPU: the host's available and physical memory from
// sysconf, 0 where unknown) and the threads the backend computes with (CPU: OpenMP's; CUDA: 0).
typedef struct kb_resources {
    size_t mem_free, mem_total;
    int threads;
} kb_resources;
void kb_device_resources(kb_ctx *ctx, kb_resources *r);
void kb_zero(kb_ctx *ctx, void *p, size_t bytes);
// Host -> device, asynchronous: src may be reused as soon as the call returns.
void kb_upload(kb_ctx *ctx, void *dst, const void *src, size_t bytes);
// Device -> host; waits for all work queued before it.
void kb_download(kb_ctx *ctx, void *dst, const void *src, size_t bytes);
void kb_copy(kb_ctx *ctx, void *dst, const void *src, size_t bytes);  // device -> device
// fp32 host <-> activation dtype device, with conversion (round to nearest even).
void kb_upload_act(kb_ctx *ctx, kb_act *dst, const float *src, size_t n);
void kb_download_act(kb_ctx *ctx, float *dst, const kb_act *src, size_t n);
void kb_f32_to_act(kb_ctx *ctx, kb_act *dst, const float *src, size_t n);  // device -> device
void kb_sync(kb_ctx *ctx);

// ---- counters -----------------------------------------------------------------------------

typedef struct kb_counts {
    double flops[KB_NPHASES][KB_NCLASSES];
    double bytes[KB_NPHASES][KB_NCLASSES];
    double seconds[KB_NPHASES][KB_NCLASSES];  // only filled while profiling
    uint64_t calls[KB_NPHASES][KB_NCLASSES];
} kb_counts;

// Sets the stage that subsequent ops are charged to (at most KB_MAX_STAGES names).
void kb_set_stage(kb_ctx *ctx, const char *stage);
const kb_counts *kb_counts_of(const kb_ctx *ctx, const char *stage);  // NULL if never used
void kb_counts_reset(kb_ctx *ctx);
double kb_counts_total_flops(const kb_counts *c);
// One JSON object {"stage": {"fwd": {"matmul": {"flops":..,"bytes":..}, ...}, ...}, ...}.
void kb_counts_json(const kb_ctx *ctx, FILE *f);
// While profiling is on, every op is bracketed by device syncs and its wall time is added
// to `seconds`; this serialises the stream, so use it only to split time by op class.
void kb_set_profiling(kb_ctx *ctx, int on);
// Dry run: ops are counted but not executed (FLOPs of a configuration without running it;
// outputs are left unwritten).
void kb_set_dry_run(kb_ctx *ctx, int on);
const char *kb_class_name(kb_op_class c);
const char *kb_phase_name(kb_phase p);

// ---- GPT-2 ops ------------------------------------------------------------------------------

// out[i] = wte[tokens[i]] + wpe[pos], pos = positions ? positions[i] : i % T. tokens in
// [0, V) and pos in [0, maxT) are the caller's contract (validated on the host side).
void kb_encoder_forward(kb_ctx *ctx, kb_act *out, const int32_t *tokens, const int32_t *positions,
                        const kb_act *wte, const kb_act *wpe, int N, int T, int C);
// dwte[tokens[i]] += dout[i]; dwpe[i % T] += dout[i].  (+=)
void kb_encoder_backward(kb_ctx *ctx, float *dwte, float *dwpe, const kb_act *dout, const int32_t *tokens,
                         int N, int T, int C, int V);

// out = (inp - mean) * rstd * w + b over rows of C; mean/rstd (N each) may be NULL.
void kb_layernorm_forward(kb_ctx *ctx, kb_act *out, float *mean, float *rstd, const kb_act *inp,
                          const kb_act *w, const kb_act *b, int N, int C);
// resid_out = a + b (may alias a); out = layernorm(resid_out).
void kb_residual_layernorm_forward(kb_ctx *ctx, kb_act *resid_out, kb_act *out, float *mean, float *rstd,
                                   const kb_act *a, const kb_act *b, const kb_act *w, const kb_act *bias,
                                   int N, int C);
// dinp += dLN/dinp, dw += , db += .
void kb_layernorm_backward(kb_ctx *ctx, kb_act *dinp, float *dw, float *db, const kb_act *dout,
                           const kb_act *inp, const kb_act *w, const float *mean, const float *rstd,
                           int N, int C);

// pre = inp(N,C) · w(OC,C)ᵀ + bias(OC, may be NULL). If pre_gelu is non-NULL it receives pre
// and out = gelu_tanh(pre); otherwise out = pre.
void kb_matmul_forward(kb_ctx *ctx, kb_act *out, kb_act *pre_gelu, const kb_act *inp, const kb_act *w,
                       const kb_act *bias, int N, int C, int OC);
// g = dout · w (N,C); if gelu_in is non-NULL (the pre-GELU activation that produced inp),
// dinp = g * gelu_tanh'(gelu_in), else dinp = g. dinp may be NULL (not needed).
// dw += doutᵀ · inp (OC,C); db += column sums of dout (db may be NULL).
void kb_matmul_backward(kb_ctx *ctx, kb_act *dinp, float *dw, float *db, const kb_act *dout,
                        const kb_act *inp, const kb_act *w, const kb_act *gelu_in, int N, int C, int OC);

// Causal self-attention over qkv (B,T,3C) laid out [q | k | v], NH heads of C/NH.
// out (B,T,C); lse (B,NH,T) receives each row's log-sum-exp of scaled scores (for backward).
// No (T,T) matrix is ever stored.
void kb_attention_forward(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, int B, int T, int C, int NH);
// dqkv (B,T,3C) is overwritten.
void kb_attention_backward(kb_ctx *ctx, kb_act *dqkv, const kb_act *dout, const kb_act *qkv, const kb_act *out,
                           const float *lse, int B, int T, int C, int NH);

// Fused classifier over logits (N, Vp) in the activation dtype; columns >= V are padding.
// z = logits * inv_temp. For rows with targets[i] >= 0:
//   nll[i] = logsumexp(z[i, :V]) - z[i, targets[i]]          (= -log p(target))
//   entropy[i] (if non-NULL) = -sum p log p
// Rows with targets[i] < 0 get nll = 0 and entropy = 0.
// If want_grad, logits are overwritten in place by d(sum_i scale_i * nll[i]) / dlogits,
// scale_i = dscale * (row_scale ? row_scale[i] : 1), i.e. scale_i*inv_temp*(softmax - onehot);
// padding columns and ignored rows get 0. No fp32 copy of the logits is made.
void kb_classifier(kb_ctx *ctx, kb_act *logits, float *nll, float *entropy, const int32_t *targets,
                   const float *row_scale, float dscale, float inv_temp, int N, int V, int Vp, int want_grad);

// ---- RL losses: the policy-gradient loss in the classifier pass, and scalar heads -----------

// The clipped-surrogate objective with its regularisers, per token (row) i with target a:
//   logp   = log softmax(z)[a], z = logits·inv_temp  (the rollout's log-prob at that temperature)
//   ratio  = exp(logp − lp_old[i])                    (lp_old: the proximal policy's log-prob)
//   w_is   = min(exp(lp_old[i] − lp_behav[i]), is_cap)  (lp_behav NULL or is_cap 0: w_is = 1)
//   pg     = −w_is · min(ratio·A, clip(ratio, 1−clip_low, 1+clip_high)·A), and with dual_clip c > 1
//            and A < 0: pg = min(pg, −w_is·c·A)       (A = adv[i]: the advantage)
//   kl     = k1: logp − lp_ref[i];  k3: exp(lp_ref − logp) − (lp_ref − logp) − 1
//   H      = −Σ p log p                               (the entropy of softmax(z))
//   loss_i = weight[i] · (pg + kl_coef·kl − ent_coef·H)
// weight carries the mask (0: the row is ignored, as is a target < 0) and the normalisation
// (1/tokens for token-level, 1/(len·sequences) for sequence-level: the caller's choice).
// With want_grad the logits are overwritten in place by dscale·d loss_i / d logits: one pass to
// reduce the row, one to write the gradient, as kb_classifier; no fp32 copy of the logits.
// Per-row outputs (each may be NULL): logp, entropy, loss (loss_i), clipped (1 where the clip
// (or dual clip) removed the ratio's gradient, else 0), ratio.
typedef enum { KB_KL_K1 = 0, KB_KL_K3 = 1 } kb_kl_kind;
typedef struct kb_pg_params {
    float inv_temp;
    float clip_low, clip_high;  // ε: the ratio is clipped to [1 − clip_low, 1 + clip_high]
    float dual_clip;            // c > 1 bounds the loss of a negative advantage (0: off)
    float is_cap;               // truncated importance weight cap (0: no behaviour correction)
    float ent_coef, kl_coef;
    kb_kl_kind kl_kind;
    float dscale;               // gradient scale (e.g. 1/micro-steps)
} kb_pg_params;
// Device arrays of N rows; inputs may be NULL where a field is unused (lp_behav without
// is_cap, lp_ref without kl_coef).
typedef struct kb_pg_rows {
    const int32_t *targets;
    const float *weight, *adv, *lp_old, *lp_behav, *lp_ref;
    float *logp, *entropy, *loss, *clipped, *ratio;
} kb_pg_rows;
void kb_pg_loss(kb_ctx *ctx, kb_act *logits, const kb_pg_params *p, const kb_pg_rows *rows, int N, int V, int Vp,
                int want_grad);

// Losses on one scalar head of N rows of heads (N, H), head column h: for rows with
// weight[i] != 0, v = heads[i·H + h]:
//   KB_HEAD_MSE: loss_i = weight·½(v − label)², or with clip > 0 (PPO's clipped value loss)
//                weight·½·max((v − label)², (old + clamp(v − old, −clip, clip) − label)²)
//   KB_HEAD_BCE: v is a logit, label a probability in [0, 1] (soft labels allowed):
//                loss_i = weight·(softplus(v) − label·v)
// dheads (N, H), if non-NULL, is overwritten: dscale·d loss_i / d v in column h, 0 elsewhere.
// loss (N, fp32) may be NULL; old (N) is read only for a clipped MSE.
typedef enum { KB_HEAD_MSE = 0, KB_HEAD_BCE = 1 } kb_head_kind;
void kb_head_loss(kb_ctx *ctx, kb_act *dheads, float *loss, const kb_act *heads, const float *labels,
                  const float *weight, const float *old, kb_head_kind kind, float clip, float dscale, int N, int H,
                  int h);

// out = a + b, elementwise over n.
void kb_residual_forward(kb_ctx *ctx, kb_act *out, const kb_act *a, const kb_act *b, size_t n);
// out[0] (device, fp32) = sum of x (accumulate != 0: +=). Deterministic (fixed order).
void kb_sum(kb_ctx *ctx, float *out, const float *x, size_t n, int accumulate);

// ---- optimizer ----------------------------------------------------------------------------

// out[0] (device, fp32) = sum of squares of g (accumulate != 0: += ). Deterministic.
void kb_norm_squared(kb_ctx *ctx, float *out, const float *g, size_t n, int accumulate);
// AdamW with bias correction at step t (>= 1). If norm_sq (device, 1 float) is non-NULL,
// gradients are scaled by min(1, clip / sqrt(*norm_sq)) first (read on the device: no
// host sync). params are the fp32 masters; params_act, if non-NULL and different from
// params, receives the updated weights in the activation dtype.
void kb_adamw(kb_ctx *ctx, float *params, kb_act *params_act, const float *grads, float *m, float *v, size_t n,
              float lr, float beta1, float beta2, float eps, float weight_decay, int t,
              const float *norm_sq, float clip);
// y = x * s elementwise on fp32 device data (gradient averaging across ranks and the like).
void kb_scale_f32(kb_ctx *ctx, float *x, float s, size_t n);

// ---- decoding: paged KV cache, shared-prefix attention, sampling (rollout) ----------------------

// Gathers rows: out[i] = inp[rows[i]] (each row C wide). For taking the last position of
// each sequence before the classifier in decoding.
void kb_gather_rows(kb_ctx *ctx, kb_act *out, const kb_act *inp, const int32_t *rows, int N, int C);

// A layer's KV cache is two pools (K, V) of blocks; a block holds bs positions of every head:
// element (block, head, slot, d) is at ((block·NH + head)·bs + slot)·hs + d, hs = C/NH.
// So a block is C·bs elements, and one head's keys in a block are contiguous.

// Writes the K and V parts of N rows of qkv (N, 3C) into the pools: row i goes to block
// slots[i] / bs at position slots[i] % bs.
void kb_kv_write(kb_ctx *ctx, kb_act *kpool, kb_act *vpool, const kb_act *qkv, const int32_t *slots, int N, int C,
                 int NH, int bs);
// Copies whole blocks in both pools: block dst[i] <- block src[i] (copy-on-write of a partly
// filled block a branch is about to write into).
void kb_kv_copy_blocks(kb_ctx *ctx, kb_act *kpool, kb_act *vpool, const int32_t *src, const int32_t *dst, int n, int C,
                       int bs);
// Attention of N query rows over paged keys. Row i's query is the q part of qkv row i; it
// attends to positions [kv_start[i], kv_end[i]) of its sequence, whose blocks are
// block_table[i·max_blocks + pos/bs]. Causality inside a prefill chunk is expressed by
// kv_end (a token at position p has kv_end = p + 1). Writes out (N, C) and lse (N, NH): the
// natural-log sum of exp(scaled scores) over the range; an empty range gives out = 0 and
// lse = -inf. total_keys = Σ (kv_end[i] − kv_start[i]) is the caller's host-side count, used
// only for the FLOP counters (the device arrays are never read on the host).
void kb_paged_attention(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, const kb_act *kpool,
                        const kb_act *vpool, const int32_t *block_table, int max_blocks, const int32_t *kv_start,
                        const int32_t *kv_end, int N, int C, int NH, int bs, int64_t total_keys);
// Shared-prefix (cascade) attention: G groups; group g's query rows are
// rows[row_off[g] .. row_off[g+1]) (row indices into qkv/out/lse); all of them attend to the
// same prefix: positions [0, prefix_len[g]) with blocks prefix_table[g·max_blocks ...]. The
// prefix's keys and values are read once per group, not once per row. Writes out/lse of
// those rows for the prefix part only (merge with the rest by kb_attention_merge). The CUDA
// backend supports head sizes 32 and 64 here (kb_prefix_attention_supported).
// total_keys = Σ_g prefix_len[g]·(rows in g), for the counters.
void kb_prefix_attention(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, const kb_act *kpool,
                         const kb_act *vpool, const int32_t *prefix_table, int max_blocks, const int32_t *prefix_len,
                         const int32_t *row_off, const int32_t *rows, int G, int C, int NH, int bs,
                         int64_t total_keys);
int kb_prefix_attention_supported(const kb_ctx *ctx, int head_size);
// Merges two attentions of the same N rows over disjoint key sets, per head:
// out = (e^lse_a·out_a + e^lse_b·out_b) / (e^lse_a + e^lse_b), lse = log(e^lse_a + e^lse_b).
// out/lse may alias the a side.
void kb_attention_merge(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *out_a, const float *lse_a,
                        const kb_act *out_b, const float *lse_b, int N, int C, int NH);

// The counter-based uniform draw both backends use: a value in [0, 1) from (seed, counter).
// A trajectory's randomness depends only on its own seed and position, never on the batch.
float kb_uniform(uint64_t seed, uint64_t counter);
// Samples one token per row. z = logits[i, :V] / temperature; keep the top_k largest (0: all;
// ties go to the lower id), then, in order of decreasing probability, the shortest prefix
// whose renormalised mass reaches top_p (1: all); draw by inverse CDF over that order with
// u = kb_uniform(seeds[i], counters[i]). temperature 0 is greedy (argmax, lowest id on ties).
// tokens[i] gets the id and logprobs[i] its log-probability under the full softmax of z
// (temperature 1 when greedy) — the quantity training recomputes, not the truncated one.
void kb_sample(kb_ctx *ctx, int32_t *tokens, float *logprobs, const kb_act *logits, const uint64_t *seeds,
               const uint64_t *counters, int N, int V, int Vp, float temperature, int top_k, float top_p);

// ---- graphs ---------------------------------------------------------------------------------------
// Records the ops that fn(arg) issues so they can be replayed with one launch (CUDA graphs);
// on the CPU backend a replay calls fn(arg) again. Counters are charged at every replay, as
// if the ops ran. fn must not upload, download, allocate or sync: inputs live in device
// buffers the caller refreshes (kb_upload) before each launch.
typedef struct kb_graph kb_graph;
kb_graph *kb_graph_capture(kb_ctx *ctx, void (*fn)(void *), void *arg);
void kb_graph_launch(kb_ctx *ctx, kb_graph *g);
void kb_graph_free(kb_ctx *ctx, kb_graph *g);

#ifdef __cplusplus
}
#endif
