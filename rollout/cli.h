// cli.h — the rollout stage's pieces around the engine: exactly-once bookkeeping of input
// problems that finish out of order, the output commit record, and policy checkpoints.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "kernels/base.h"

// ---- exactly once ------------------------------------------------------------------------------
// Problems are read in stream order but their trees finish in any order. Each record read
// keeps the input cursor just after it. A commit (publishing an output shard) stores in the
// shard's metadata the cursor after the longest prefix of read records that are all done,
// plus the records after that prefix that are done too. A restart restores that cursor and
// skips the listed records as it meets them again, so no problem is lost or written twice.
typedef struct ro_entry {
    char *shard;      // input shard file name
    uint64_t record;  // index in it
    uint64_t id;      // problem id
    char *cursor;     // input cursor after this record
    int done;         // its tree is written (or it was skipped with a message)
} ro_entry;

typedef struct ro_ledger {
    ro_entry **q;  // read, in order, not yet covered by the committed cursor
    size_t n, cap;
    char *base_cursor;  // cursor the committed prefix ends at (NULL: the start)
    char **skip;        // "shard\trecord" done beyond the cursor (restored, not met again yet)
    size_t nskip;
    uint64_t config_hash;
    uint64_t problems, nodes, generated;  // totals committed by this producer (all runs)
} ro_ledger;

void ledger_init(ro_ledger *l, uint64_t config_hash);
void ledger_free(ro_ledger *l);
// Parses a commit record (shard metadata); fails on a malformed one or another config.
int ledger_restore(ro_ledger *l, const uint8_t *meta, size_t len, const char *where, berr *e);
// A record just read. Returns the entry, or NULL when the record was done in an earlier run
// (it is then accounted as done and must be skipped).
ro_entry *ledger_read(ro_ledger *l, const char *shard, uint64_t record, uint64_t id, char *cursor);
// The commit record for the current state (malloc'd text); *len set.
char *ledger_meta(const ro_ledger *l, size_t *len);
// After a commit was published: drops the entries its cursor covers.
void ledger_committed(ro_ledger *l);
size_t ledger_in_flight(const ro_ledger *l);  // read, not done

// ---- policy checkpoints ------------------------------------------------------------------------
// A followed directory holds "policy-v<N>.bin" files (N: the policy version, decimal).
// Returns the newest version's path (malloc'd) and version, 0 if there is none, -1 on error.
int policy_newest(const char *dir, char **path, uint32_t *version, berr *e);
// The version in a file name "policy-v<N>.bin" (any directory), or -1.
int64_t policy_version_of_name(const char *path);
