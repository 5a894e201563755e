// runlog.h — the run's jsonl log (one JSON object per line; written by rank 0 only).
//
// Records: {"event":"config",...} at each start; one per step {"step":k,"loss":..,"lr":..,
// "grad_norm":..,"ms":..,"tok_s":..,"mfu":..,"tokens":..,"flops":..,"flops_total":..};
// {"step":k,"val_loss":..} per evaluation; {"step":k,"sample":".."}; {"step":k,"checkpoint":
// ".."}; {"event":"resume","step":k,...}; {"event":"counters","step":k,"counts":{kb_counts_json}};
// {"event":"end",...}. Every record has "step" (optimizer steps done when it was written).
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "kernels/base.h"

typedef struct tr_log {
    FILE *f;
    char *path;
} tr_log;

// Opens path for a new run (truncated) or, with keep_upto >= 0, for a resumed one: records
// with "step" above keep_upto (written after the checkpoint being resumed) and any partial
// last line are dropped first (atomic rewrite). Returns the number of records dropped.
int tr_log_open(tr_log *l, const char *path, int64_t keep_upto, int64_t *dropped, berr *e);
// Writes one record: the caller passes the JSON members (without braces) by printf format.
void tr_log_rec(tr_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Starts a record for the caller to fill with fprintf(l->f, ...); tr_log_end closes it.
FILE *tr_log_begin(tr_log *l);
void tr_log_end(tr_log *l);
void tr_log_close(tr_log *l);
// The value of top-level numeric member "key" in a JSON line written by tr_log; 0 if absent.
int tr_log_number(const char *line, const char *key, double *out);
