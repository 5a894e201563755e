// reward.h — the subcommands of build/bin/reward (reward/README.md) and what they share.
#pragma once
#include "kernels/base.h"
#include "reward/rcli.h"

int rw_label_main(int argc, char **argv, int first);   // trees + verdicts -> label shards
int rw_train_main(int argc, char **argv, int first);   // label shards -> an ORM or a PRM
int rw_score_main(int argc, char **argv, int first);   // trajectory shards -> score shards (streaming)
int rw_prune_main(int argc, char **argv, int first);   // the best trajectories per problem -> problem shards
int rw_export_main(int argc, char **argv, int first);  // trajectories or problems with solutions -> JSON lines (SFT data)
int rw_bestof_main(int argc, char **argv, int first);  // best-of-N accuracy: table and plot

// An output directory a one-shot command fills: absent or empty (no shards, no markers).
int rw_out_dir_fresh(const char *dir, berr *e);
