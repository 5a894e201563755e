// ckptdir.h — a run's output directory: checkpoints named ckpt_<step>.bin (8+ digits), the
// latest one for --resume, keeping the last K, and the trainer state stored in a checkpoint.
#pragma once
#include <stdint.h>

#include "kernels/gpt2.h"
#include "kernels/train/state.h"

char *tr_ckpt_path(const char *dir, int64_t step);  // malloc'd
// Steps of the checkpoints in dir (sorted ascending, malloc'd); -1 on a listing error.
int tr_ckpt_list(const char *dir, int64_t **steps, int *n, berr *e);
// The newest checkpoint in dir that reads back whole: header and payload checksum (a damaged
// newer one is reported on stderr and passed over, and the one taken is named). Fails when
// there is none.
int tr_ckpt_latest(const char *dir, char **path, berr *e);
// A run's output directory `dir` (option `opt`, e.g. "--out") before the run writes anything:
// absent, empty, or a run directory (log.jsonl, model.bin, ckpt_*.bin, beside any other
// files). A shard directory, a directory of other files, and (for a new run, resume 0) one
// that holds checkpoints are refused; so is a directory that is, or is inside, one of the
// inputs: pairs of option name and path, NULL-terminated (a NULL path is skipped).
int tr_run_dir_check(const char *opt, const char *dir, int resume, const char *const *inputs, berr *e);
// Deletes all but the newest `keep` checkpoints (keep 0: none deleted).
int tr_ckpt_prune(const char *dir, int keep, berr *e);
// Reads the trainer state of a checkpoint without loading its tensors (the blob's own
// checksum is checked; the full load later checks the whole file).
int tr_ckpt_read_state(const char *path, gpt2_ckpt_info *info, tr_state *st, berr *e);
// Removes temporaries ("ckpt_*.bin.tmp.<pid>", "model.bin.tmp.<pid>") left by processes that
// are gone (a crash during a save); reports each on stderr. Returns how many were removed.
int tr_ckpt_clean_temps(const char *dir);
