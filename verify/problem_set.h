// problem_set.h — every problem of a problem shard directory in memory, found by id (the
// verify stage looks up the problem of each trajectory and candidate).
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

// Loads the shards of dir (every finished shard; the directory need not be closed). Records
// must be problems; an id seen twice must come with the identical record. Errors name the
// shard and the record.
int problem_set_load(problem_set *ps, const char *dir, berr *e);
const problem_rec *problem_set_find(const problem_set *ps, uint64_t id);
void problem_set_free(problem_set *ps);

#ifdef __cplusplus
}
#endif
