// problems.h — reading problem shards (records.h problem_rec) for SFT and for generation.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"
#include "shards/records.h"

typedef struct pt_problems {
    problem_rec *p;
    size_t n, cap;
} pt_problems;

// Reads every problem of `split` (SPLIT_TRAIN / SPLIT_HELDOUT; -1: all) from a problem shard
// file or a closed shard directory (its finished shards in order). A directory whose
// producer has not closed it is an error (it may still grow).
int pt_problems_load(pt_problems *ps, const char *path, int split, berr *e);
void pt_problems_free(pt_problems *ps);
