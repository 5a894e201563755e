// generate.h — independent samples of prompts on the rollout engine, as `rollout --depth 0
// --roots K` makes them: what `pretrain generate` and the training-time text samples run, so
// every stage samples through one path (the paged KV decoder, kb_sample, the engine's seeds).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "rollout/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

// The engine options for K independent samples per prompt: no forks, no step or answer
// markers (a sample runs to `stop` or to max_new / the model's context), sampling at
// temperature (0: greedy) over the whole vocabulary. stop < 0: never stop early. The engine
// sizes (block size, batch, buckets, prefill) keep ro_config_default's values.
void ro_gen_config(ro_config *c, int samples, int max_new, float temperature, uint64_t seed, int32_t stop);

typedef struct ro_gen_prompt {
    uint64_t id;         // seeds: sample k of prompt id draws from mix64(mix64(seed, id), k)
    const int32_t *tok;  // at least one token, fewer than the model's context
    int n;
} ro_gen_prompt;

typedef struct ro_gen_answer {
    int32_t *tok;  // generated tokens (malloc'd), the stop token not included
    float *lp;     // their log-probs under the sampling distribution (kb_sample)
    int n;
    int stopped;   // 1: ended with the stop token; 0: max_new or the model's context
} ro_gen_answer;

// Called after each finished prompt (done of total); NULL for none.
typedef void (*ro_gen_progress)(void *arg, size_t done, size_t total);

// Generates ro_config_of(E)->roots samples of every prompt into out[i·K + k] (n·K entries, to
// be freed with ro_gen_answer_free). The engine must be idle and built with ro_gen_config's
// branching options (depth 0). Fails, naming the prompt, on one the engine refuses.
int ro_generate(ro_engine *E, const ro_gen_prompt *p, size_t n, ro_gen_answer *out, ro_gen_progress progress,
                void *arg, berr *e);
void ro_gen_answer_free(ro_gen_answer *a, size_t n);

#ifdef __cplusplus
}
#endif
