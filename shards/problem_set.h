// problem_set.h — the problems of a problem shard file or directory in memory, in order and
// found by id: what every stage that reads problems uses (pretrain --sft and generate, verify,
// reward, ppo). An id that appears twice with the identical record is kept once (so a split
// never counts a problem twice); with two different records it is an error.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"
#include "shards/records.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct problem_set {
    problem_rec *items;
    size_t n;
    size_t *slots;  // open addressing on the id: index + 1, 0 = empty
    size_t nslots;  // a power of two
} problem_set;

#define PROBLEMS_ALL_SPLITS (-1)

// Loads the problems of `split` (SPLIT_TRAIN, SPLIT_HELDOUT or PROBLEMS_ALL_SPLITS) from a
// problem shard file or a directory's finished shards (in name order). require_closed: a
// directory whose producer has not closed it is an error (it may still grow). Errors name the
// shard and the record; a path with no problem shards at all is an error, a split with no
// problems is not (n = 0).
int problem_set_load(problem_set *ps, const char *path, int split, int require_closed, berr *e);
const problem_rec *problem_set_find(const problem_set *ps, uint64_t id);
void problem_set_free(problem_set *ps);

#ifdef __cplusplus
}
#endif
