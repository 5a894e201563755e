// ppo.h — the ppo stage (internal to ppo/): its options, the training rows built from
// verified trees, and the pieces of one PPO iteration.
#pragma once
#include <stdint.h>

#include "kernels/comm.h"
#include "kernels/gpt2.h"
#include "kernels/train/cli.h"
#include "kernels/train/runlog.h"
#include "kernels/train/trainer.h"
#include "shards/tokenizer.h"
#include "shards/tree_join.h"

enum { PPO_ADV_TREE = 0, PPO_ADV_GROUP = 1, PPO_ADV_GAE = 2 };
enum { PPO_NORM_TOKEN = 0, PPO_NORM_SEQUENCE = 1 };
enum { PPO_KL_LOSS = 0, PPO_KL_REWARD = 1 };
enum { PPO_PROX_RECOMPUTE = 0, PPO_PROX_BEHAVIOUR = 1 };

typedef struct ppo_config {
    // inputs and outputs
    char *policy, *reference, *critic, *optimizer, *trajectories, *verdicts, *scores, *tokenizer, *out, *work;
    int policy_version;
    // rewards
    double format_penalty, kl_coef, orm_weight, prm_weight;
    int kl_mode;
    // advantages
    int advantage, group_norm, drop_flat;
    double tree_mix, gamma, lambda, adv_eps, neg_scale;
    int max_staleness;
    int64_t take, skip;  // stream form: trees [skip, skip + take) of still-growing directories
    double wait;         // ... waiting at most this long for them
    // update
    int epochs, minibatches, micro_batch, loss_norm, proximal;
    double lr, critic_lr, weight_decay, beta1, beta2, eps, grad_clip;
    double clip_low, clip_high, dual_clip, is_cap, ent_coef, value_clip, temperature;
    // monitors
    double min_entropy, max_kl, max_length_growth;
    int stop_on_collapse;
    // run
    int ckpt_every, backend;
    int64_t seed;
} ppo_config;

extern const cli_table ppo_table;
extern const cli_cmd ppo_cmd;  // --help text, the command's name in messages
int ppo_config_check(const ppo_config *c, berr *e);

// The training rows: one per leaf path (prompt, then the nodes from the root to the leaf),
// padded to T. Row r's target at position j is token j+1 of the path; targets < 0 at the
// prompt and the padding. Per target position: its node, its behaviour log-prob, and its
// weight in the loss before normalisation (tree mode: 1 / leaves below the node, so a token
// shared by several paths weighs 1 in all; otherwise 1).
typedef struct ppo_rows {
    size_t n;                  // rows
    int T;                     // positions per row
    uint32_t *tree, *leaf;     // per row
    uint32_t *len, *n_prompt;  // per row: path tokens (prompt included), prompt tokens
    int32_t *tokens, *targets, *node;  // n × T
    float *behav, *mult;               // n × T
    double *reward;                    // per row: the leaf's scalar reward
    // filled by the iteration
    float *prox, *ref, *value, *adv, *ret, *old_value;  // n × T
    uint32_t dropped_stale;            // trees over the staleness bound (not in the rows)
    double staleness_sum;              // Σ over the rows' trees of (version − tree version)
    uint32_t staleness_max, trees;
    // --drop-flat: rows left out, and the reward and pass totals over every row before it
    size_t dropped_flat, all_n;
    double all_reward, all_pass;
} ppo_rows;

// Builds the rows of the trees within max_staleness of `version`; rewards: pass 1 else 0,
// minus format_penalty for a leaf that did not end with the answer line. Errors: a tree
// from a version above `version`, a path longer than the context, an id outside the
// vocabulary.
int ppo_rows_build(ppo_rows *r, const vtree_set *s, const ppo_config *c, uint32_t version, int maxT, int V,
                   berr *e);
void ppo_rows_free(ppo_rows *r);
// Leaves out the rows of every problem whose rows all have the same reward (none if every
// problem is flat: the iteration then trains on all, as without the option). Call it before
// the per-token arrays are filled.
void ppo_rows_drop_flat(ppo_rows *r, const vtree_set *s);

// Runs `ppo` (argv from argv[first]); returns the exit status.
int ppo_main(int argc, char **argv, int first);
