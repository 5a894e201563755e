// config.c — the ppo stage's option table and its checks.
#include <stddef.h>
#include <string.h>

#include "ppo/ppo.h"

static const char *const advantages[] = {"tree", "group", "gae", NULL};
static const char *const group_norms[] = {"std", "mean", "rloo", NULL};
static const char *const loss_norms[] = {"token", "sequence", NULL};
static const char *const kl_modes[] = {"loss", "reward", NULL};
static const char *const proximals[] = {"recompute", "behaviour", NULL};

#define F(x) offsetof(ppo_config, x)
#define SECTION(title) {CLI_SECTION, NULL, 0, NULL, 0, 0, NULL, 0, NULL, title}
static const cli_opt opts[] = {
    SECTION("Inputs and outputs"),
    {CLI_STR, "policy", F(policy), NULL, 0, 0, NULL, CLI_KEEP, "FILE", "policy checkpoint of version N (required)"},
    {CLI_INT, "policy-version", F(policy_version), "-1", -1, 1000000000, NULL, CLI_KEEP, "N",
     "its version (default: N of a file named policy-v<N>.bin, else 0)"},
    {CLI_STR, "reference", F(reference), NULL, 0, 0, NULL, CLI_KEEP, "FILE",
     "frozen reference for the KL term (default: --policy)"},
    {CLI_STR, "critic", F(critic), NULL, 0, 0, NULL, CLI_KEEP, "FILE",
     "critic checkpoint (--advantage gae; default: a value head on --policy's trunk)"},
    {CLI_STR, "optimizer", F(optimizer), NULL, 0, 0, NULL, CLI_KEEP, "FILE",
     "AdamW state of the previous iteration (its WORK/opt.bin; default: fresh)"},
    {CLI_STR, "trajectories", F(trajectories), NULL, 0, 0, NULL, CLI_KEEP, "DIR", "trajectory shards (required, closed)"},
    {CLI_STR, "verdicts", F(verdicts), NULL, 0, 0, NULL, CLI_KEEP, "DIR", "their verdict shards (required, closed)"},
    {CLI_STR, "scores", F(scores), NULL, 0, 0, NULL, CLI_KEEP, "DIR",
     "score shards of these trees (reward score): ORM and PRM rewards with --orm-weight / --prm-weight"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, CLI_KEEP, "FILE",
     "berry tokenizer of the trajectories (required; its vocabulary must be the policy's)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, CLI_LOCAL, "DIR",
     "policy directory: policy-v<N+1>.bin (and critic-v<N+1>.bin) are published here (required)"},
    {CLI_COUNT, "take", F(take), "0", 0, 1e12, NULL, CLI_KEEP, "K",
     "stream form: K trees of directories one rollout and one verify run still write (0: all, closed)"},
    {CLI_COUNT, "skip", F(skip), "0", 0, 1e15, NULL, CLI_KEEP, "S",
     "stream form: after the first S trees (the earlier iterations'), in the order of the shards"},
    {CLI_F64, "wait", F(wait), "3600", 0, 1e9, NULL, CLI_FREE, "SEC", "stream form: wait at most SEC for the trees and verdicts"},
    {CLI_STR, "work", F(work), NULL, 0, 0, NULL, CLI_LOCAL, "DIR",
     "this iteration's checkpoints, log.jsonl, report.json, opt.bin (default: OUT/ppo-v<N+1>)"},
    SECTION("Rewards"),
    {CLI_F64, "format-penalty", F(format_penalty), "0", 0, 10, NULL, CLI_KEEP, "X",
     "subtracted from the reward of a leaf that did not end with the answer line"},
    {CLI_F64, "orm-weight", F(orm_weight), "0", 0, 100, NULL, CLI_KEEP, "W", "reward += W·ORM score of the leaf (needs --scores)"},
    {CLI_F64, "prm-weight", F(prm_weight), "0", 0, 100, NULL, CLI_KEEP, "W",
     "reward += W·min of the PRM's step scores along the path (min-form credit; needs --scores)"},
    {CLI_F64, "kl-coef", F(kl_coef), "0", 0, 100, NULL, CLI_KEEP, "X", "weight of the KL to the reference (0: none)"},
    {CLI_CHOICE, "kl-mode", F(kl_mode), "loss", 0, 0, kl_modes, CLI_KEEP, "M",
     "loss: k3 estimator as a loss term; reward: −coef·(logp − logp_ref) per token in the rewards (gae)"},
    SECTION("Advantages"),
    {CLI_CHOICE, "advantage", F(advantage), "tree", 0, 0, advantages, CLI_KEEP, "A",
     "tree (node value − parent value, from the tree's own completions), group (GRPO/RLOO), gae (critic)"},
    {CLI_CHOICE, "group-norm", F(group_norm), "std", 0, 0, group_norms, CLI_KEEP, "N",
     "group: std ((R − mean)/std), mean (R − mean) or rloo (R − mean of the others)"},
    {CLI_F64, "tree-mix", F(tree_mix), "0", 0, 1, NULL, CLI_KEEP, "X",
     "tree: share of the leaf's group advantage mixed into each node's advantage"},
    {CLI_F64, "gamma", F(gamma), "1", 0, 1, NULL, CLI_KEEP, "X", "gae: discount"},
    {CLI_F64, "lambda", F(lambda), "0.95", 0, 1, NULL, CLI_KEEP, "X", "gae: λ"},
    {CLI_F64, "neg-scale", F(neg_scale), "1", 0, 1, NULL, CLI_KEEP, "X",
     "negative advantages are multiplied by X (1: standard; 0: learn from the better-than-expected only)"},
    {CLI_FLAG, "drop-flat", F(drop_flat), "0", 0, 0, NULL, CLI_KEEP, NULL,
     "tree/group: leave out every problem whose leaves all earned the same reward (their advantages are 0; "
     "the loss's mean is then over the rows that teach; DAPO's dynamic sampling)"},
    {CLI_F64, "adv-eps", F(adv_eps), "1e-6", 0, 1, NULL, CLI_KEEP, "X", "group std: added to the std"},
    {CLI_INT, "max-staleness", F(max_staleness), "4", 0, 1000000, NULL, CLI_KEEP, "K",
     "drop (and count) trees sampled more than K versions before the policy"},
    SECTION("Update"),
    {CLI_INT, "epochs", F(epochs), "1", 1, 1000, NULL, CLI_KEEP, "E", "passes over the batch"},
    {CLI_INT, "minibatches", F(minibatches), "4", 1, 1000000, NULL, CLI_KEEP, "M", "optimizer steps per epoch"},
    {CLI_INT, "micro-batch", F(micro_batch), "8", 1, 65536, NULL, CLI_FREE, "B", "rows per forward/backward"},
    {CLI_CHOICE, "loss-norm", F(loss_norm), "token", 0, 0, loss_norms, CLI_KEEP, "N",
     "token: mean over the minibatch's tokens; sequence: mean over its paths of each path's token mean"},
    {CLI_CHOICE, "proximal", F(proximal), "recompute", 0, 0, proximals, CLI_KEEP, "P",
     "proximal policy's log-probs: recompute with --policy, or take the behaviour log-probs"},
    {CLI_F64, "lr", F(lr), "1e-5", 0, 10, NULL, CLI_KEEP, "X", "policy learning rate"},
    {CLI_F64, "critic-lr", F(critic_lr), "1e-5", 0, 10, NULL, CLI_KEEP, "X", "critic learning rate (gae)"},
    TR_ADAMW_OPTIONS(ppo_config, "0"),
    {CLI_F64, "clip-low", F(clip_low), "0.2", 0, 1, NULL, CLI_KEEP, "X", "ratio clipped below at 1 − X"},
    {CLI_F64, "clip-high", F(clip_high), "0.2", 0, 10, NULL, CLI_KEEP, "X", "ratio clipped above at 1 + X"},
    {CLI_F64, "dual-clip", F(dual_clip), "0", 0, 1000, NULL, CLI_KEEP, "C",
     "bound the loss of negative advantages at C·|A| (> 1; 0: off)"},
    {CLI_F64, "is-cap", F(is_cap), "2", 0, 1000, NULL, CLI_KEEP, "X",
     "truncated importance weight behaviour → proximal policy (0: none)"},
    {CLI_F64, "ent-coef", F(ent_coef), "0", 0, 10, NULL, CLI_KEEP, "X", "entropy bonus"},
    {CLI_F64, "value-clip", F(value_clip), "0.2", 0, 1e9, NULL, CLI_KEEP, "X", "gae: clipped value loss range (0: off)"},
    {CLI_F64, "temperature", F(temperature), "1", 0, 100, NULL, CLI_KEEP, "X",
     "the rollout's sampling temperature (log-probs are taken at it; 0 counts as 1)"},
    SECTION("Collapse monitors"),
    {CLI_F64, "min-entropy", F(min_entropy), "0.01", 0, 100, NULL, CLI_FREE, "X", "warn below this mean token entropy"},
    {CLI_F64, "max-kl", F(max_kl), "5", 0, 1e9, NULL, CLI_FREE, "X", "warn above this KL to the reference (nats a token)"},
    {CLI_F64, "max-length-growth", F(max_length_growth), "2", 1, 1e9, NULL, CLI_FREE, "X",
     "warn when the mean response length grows by this factor over the previous iteration's"},
    {CLI_FLAG, "stop-on-collapse", F(stop_on_collapse), "0", 0, 0, NULL, CLI_FREE, NULL,
     "a monitor that fires stops the run: nothing is published, exit status 3"},
    SECTION("Run"),
    {CLI_INT, "ckpt-every", F(ckpt_every), "0", 0, 1000000000, NULL, CLI_FREE, "N",
     "checkpoint every N optimizer steps in WORK (a killed run resumes from it; 0: only at the end)"},
    {CLI_CHOICE, "backend", F(backend), "auto", 0, 0, tr_backend_choices, CLI_FREE, "B", "auto, cpu or cuda"},
    {CLI_COUNT, "seed", F(seed), "1", 0, 1e18, NULL, CLI_KEEP, "N", "minibatch order seed"},
};
#undef F
#undef SECTION

const cli_table ppo_table = {opts, (int)(sizeof opts / sizeof opts[0])};

int ppo_config_check(const ppo_config *c, berr *e) {
    if (!c->policy) return berr_set(e, "--policy FILE is required");
    if (!c->trajectories || !c->verdicts) return berr_set(e, "--trajectories DIR and --verdicts DIR are required");
    if (!c->tokenizer) return berr_set(e, "--tokenizer FILE is required");
    if (!c->out) return berr_set(e, "--out DIR is required");
    if (c->dual_clip != 0 && c->dual_clip <= 1) return berr_set(e, "--dual-clip %g must be above 1 (or 0: off)", c->dual_clip);
    if (c->critic && c->advantage != PPO_ADV_GAE) return berr_set(e, "--critic is for --advantage gae");
    if (c->drop_flat && c->advantage == PPO_ADV_GAE)
        return berr_set(e, "--drop-flat is for --advantage tree or group (a critic gives flat problems advantages too)");
    if (c->skip && !c->take) return berr_set(e, "--skip goes with --take");
    if ((c->orm_weight > 0 || c->prm_weight > 0) && !c->scores)
        return berr_set(e, "--orm-weight and --prm-weight need --scores DIR (reward score's output for these trees)");
    if (c->kl_mode == PPO_KL_REWARD && c->kl_coef > 0 && c->advantage != PPO_ADV_GAE)
        return berr_set(e, "--kl-mode reward needs per-token credit: use --advantage gae, or --kl-mode loss");
    return 0;
}

const cli_cmd ppo_cmd = {
    "ppo",
    "usage: ppo --policy policy-vN.bin --trajectories DIR --verdicts DIR --tokenizer FILE --out DIR [options]\n"
    "\n"
    "One PPO iteration over verified trajectory trees: rewards from the verdicts, advantages from the\n"
    "trees (tree), the groups (group) or a critic (gae), E epochs of clipped-surrogate minibatch steps,\n"
    "then policy-v<N+1>.bin published into --out, where rollout --follow picks it up.\n"
    "Several GPUs: mpirun -np N build/bin/ppo ... (one process per GPU, NCCL, ZeRO-1).\n",
    &ppo_table, 0, NULL};
