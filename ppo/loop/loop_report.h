// loop_report.h — the run's report (report.txt, report.html) and its FLOPs accounting, from
// the stages' own outputs: every FLOP figure is one the kernels counted (pretrain's log,
// rollout's statistics, ppo's reports), none is estimated.
#pragma once
#include "ppo/loop/loop.h"

typedef struct loop_flops {
    double pretrain_total, pretrain_tokens, pretrain_per_token;  // 0 with init_from (not counted by this run)
    double rollout_fwd;                                          // RL rollouts (policy forwards while sampling)
    double policy_fwd, policy_bwd, reference_fwd, critic_fwd, critic_bwd, optimizer;  // ppo, all iterations
    double eval_fwd, sft_total;                                  // evaluations and the SFT control (apart)
    double post_total;                                           // rollout + ppo
    int context, iterations_done;
} loop_flops;

int loop_flops_read(const char *run_dir, const loop_config *c, loop_flops *f, berr *e);
// Writes report.txt and report.html into the run directory (final: the run is complete).
int loop_report(const char *run_dir, const loop_config *c, const char *tokenizer, int final, berr *e);
