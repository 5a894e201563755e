// sizing.h — the engine sizes a run gets when it does not give them: decode batch
// (--max-batch), decode buckets (--buckets) and KV budget (--kv-budget), chosen from the
// backend, the device's memory and the model (rollout/README.md, "Default sizes"). A pure
// function of its inputs, so a test can feed it any memory size.
#pragma once
#include <stddef.h>

#include "kernels/kernels.h"
#include "rollout/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ro_sizing_in {
    int cuda;          // 1: the CUDA backend (bf16, decode replayed from captured graphs)
    kb_resources res;  // memory free and in all now (the weights loaded), threads
    int L, C, NH, maxT, Vp;  // the model
    size_t act_size;   // bytes of one activation element (2 on CUDA, 4 on the CPU)
    int block_size;    // KV positions per block
    int prefill_tokens, prefill_pad;  // as in ro_config (pad 0: the engine's automatic choice)
    // What the user gave (0: choose it). An explicit value is never changed.
    int max_batch;
    size_t kv_bytes;
    int nbuckets;
    const int *buckets;  // [nbuckets], increasing
} ro_sizing_in;

typedef struct ro_sizing {
    int max_batch;
    size_t kv_bytes;
    int nbuckets;
    int buckets[RO_MAX_BUCKETS];
    int auto_batch, auto_kv, auto_buckets;  // 1 where the value was chosen here
    size_t budget;       // memory the chosen sizes must fit in (0: not limited by memory)
    size_t seq_bytes;    // KV of one sequence of the model's whole context, in whole blocks
    size_t act_bytes;    // the decoder's activations at the chosen sizes
    char why[640];       // one line: the values and the rule that chose each
} ro_sizing;

// The batch a device aims for when memory allows: on CUDA a decode step is latency- and
// launch-bound far below this (d6 demo model: 127k new tok/s at 64 rows, 337k at 512); on the
// CPU the matmuls are compute-bound from a few rows, so rows only need to keep the threads busy.
#define RO_CUDA_TARGET_BATCH 512
#define RO_MIN_AUTO_BATCH 16

// Fills *out. Fails (naming the option) when explicit values cannot work together, e.g.
// --buckets whose largest size is below an explicit --max-batch.
int ro_choose_sizes(const ro_sizing_in *in, ro_sizing *out, berr *e);
// Activation bytes of the decoder for calls of up to max_n rows (what gpt2_dec_init allocates).
size_t ro_decoder_bytes(const ro_sizing_in *in, int max_n);

#ifdef __cplusplus
}
#endif
