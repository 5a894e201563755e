// tasks.h — deterministic task generators (arithmetic, linear equations, algebra, Python
// code tasks), problem shards and the built-in text corpus. Formats and rules: verify/TASKS.md.
//
// Every problem is a pure function of (kind, difficulty, a 64-bit draw seed). Its id is
// hash64 of the task name and its canonical statement (the prompt for math, the function
// specification for code), and its split is a function of the id alone:
//     heldout  <=>  id % 100 < heldout_pct
// so train and held-out are disjoint by content for any seeds, as long as both are drawn
// with the same heldout_pct. A stream asked for one split draws until it gets that split.
//
// How a CLI uses it (e.g. `verify gen` / `verify corpus`):
//     tasks_opts o;
//     tasks_opts_default(&o);
//     ... for each option: if (tasks_opts_set(&o, "kinds", optarg, &e)) die("%s", e.msg);
//     tasks_opts_echo(stderr, &o);
//     if (tasks_generate(&o, out_dir, &e)) die("%s", e.msg);        // problem shards
//     if (tasks_write_corpus(&o, path, &e)) die("%s", e.msg);      // text corpus
// tasks_opts_usage() prints the option help for those names.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "kernels/base.h"
#include "shards/records.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TASKS_MAX_DIFFICULTY 5
#define TASKS_KIND_BIT(k) (1u << (k))
#define TASKS_ALL_KINDS (TASKS_KIND_BIT(TASK_ARITH) | TASKS_KIND_BIT(TASK_LINEAR) | TASKS_KIND_BIT(TASK_ALGEBRA) | TASKS_KIND_BIT(TASK_CODE))
#define TASKS_MATH_KINDS (TASKS_KIND_BIT(TASK_ARITH) | TASKS_KIND_BIT(TASK_LINEAR) | TASKS_KIND_BIT(TASK_ALGEBRA))

typedef struct tasks_opts {
    uint32_t kinds;          // TASKS_KIND_BIT(TASK_*) of each kind to draw from (uniformly)
    int min_difficulty;      // each problem's difficulty is uniform in [min, max], 1..TASKS_MAX_DIFFICULTY
    int max_difficulty;
    uint32_t split;          // SPLIT_TRAIN or SPLIT_HELDOUT
    int heldout_pct;         // share of the id space that is held out, 1..99 (default 10)
    uint64_t seed;
    int64_t count;           // problems (tasks_generate) or documents (tasks_write_corpus)
    int64_t shard_records;   // tasks_generate: records per shard before rolling to the next
    int filler_pct;          // tasks_write_corpus: percent of documents that are plain-text filler, 0..90
    int progress;            // progress lines on stderr (default 1)
} tasks_opts;

void tasks_opts_default(tasks_opts *o);
// Sets one option by its long-flag name (without dashes): "kinds" (comma list of arith,
// linear, algebra, code, or "math" / "all"), "difficulty" ("3" or "1-5"), "split" (train or
// heldout), "heldout-pct", "seed", "count" (e.g. 100K), "shard-records", "filler-pct".
int tasks_opts_set(tasks_opts *o, const char *name, const char *value, berr *e);
int tasks_opts_check(const tasks_opts *o, berr *e);  // consistency (done by the writers too)
void tasks_opts_usage(FILE *f);                      // help lines for the options above
void tasks_opts_echo(FILE *f, const tasks_opts *o);  // one config line
int tasks_parse_kinds(const char *s, uint32_t *kinds, berr *e);

// ---- single problems -----------------------------------------------------------------------
// The split of an id under heldout_pct.
uint32_t tasks_split_of(uint64_t id, int heldout_pct);
// Generates the problem of (kind, difficulty, draw seed) into *out (owned; problem_free).
// With want_split >= 0 the generator stops early and returns 0 when the problem's split
// differs (out is then untouched); otherwise fills *out and returns 1.
int tasks_make(uint32_t kind, int difficulty, uint64_t draw_seed, int want_split, int heldout_pct, problem_rec *out);

// ---- streams -----------------------------------------------------------------------------------
// Problem i of a stream depends only on the options and i (not on how many were read).
// Draw i uses seed mix64(o.seed, i) to pick the kind, the difficulty and the generator seed;
// draws of the other split are skipped, so the k-th problem of a stream is fixed by the options.
typedef struct tasks_stream {
    tasks_opts o;
    uint64_t next_draw;  // draws made so far (rejected ones included)
    uint64_t produced;   // problems returned so far
    struct tasks_build *build;  // reused text buffers
} tasks_stream;
int tasks_stream_init(tasks_stream *s, const tasks_opts *o, berr *e);
// Fills *out (owned by the caller: problem_free) with the next problem of the requested
// kinds, difficulties and split. Fails only if 100000 draws in a row were of the other split.
int tasks_stream_next(tasks_stream *s, problem_rec *out, berr *e);
void tasks_stream_free(tasks_stream *s);

// ---- outputs ------------------------------------------------------------------------------------
// Writes o->count problems as problem shards into out_dir (created if needed), rolling to a
// new shard every o->shard_records records, and closes the directory.
int tasks_generate(const tasks_opts *o, const char *out_dir, berr *e);
// Writes o->count documents to path (atomically): each is prompt + solution + "<|endoftext|>"
// (or, for o->filler_pct percent of them, a plain-text filler document + "<|endoftext|>").
int tasks_write_corpus(const tasks_opts *o, const char *path, berr *e);
// One corpus document for problem p appended to out (what tasks_write_corpus writes).
void tasks_corpus_document(bbuf *out, const problem_rec *p);
// One plain-text filler document (number facts in sentences) from a seed.
void tasks_filler_document(bbuf *out, uint64_t seed);

#ifdef __cplusplus
}
#endif
