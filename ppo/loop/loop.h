// loop.h — build/bin/berry: the RL loop as one command (internal to ppo/loop/).
//
// A run is described by one config file of `key = value` lines (loop_config.c: the keys and
// their meaning; `stage.option = value` passes an option to a stage). The driver starts each
// stage as its own process in one run directory, one subdirectory per stage, and only starts,
// watches and restarts them: stages meet in shard directories and checkpoints, and every
// stage is resumable, so the same command after a crash (of the driver or a stage) continues
// where the run was.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "kernels/base.h"

#define LOOP_MAX_PASS 256

typedef struct loop_pass {  // `stage.option = value` lines, in file order
    char stage[16], opt[64], *value;
    int line, is_flag;  // is_flag: a switch, passed as --opt alone when value is 1
} loop_pass;

typedef struct loop_config {
    char *path;  // the config file
    // run
    char *out, *backend, *placement;
    int64_t seed;
    int sft_control;
    // data
    char *kinds, *difficulty;
    int64_t corpus_docs, vocab_size, heldout_problems, sft_problems;
    char *init_from, *tokenizer;
    char *rollout_devices, *train_devices;  // pooled: CUDA_VISIBLE_DEVICES of each pool
    int64_t pool_ahead;
    // RL
    int64_t iterations, problems_per_iter, eval_every, eval_max_new;
    double temperature;
    loop_pass pass[LOOP_MAX_PASS];
    int npass;
} loop_config;

// Reads and validates a config file: unknown keys, bad values and missing files are errors
// naming the file and line. bin: the directory holding the stage binaries (to check the
// passed-through options against each stage's own options).
int loop_config_load(loop_config *c, const char *path, const char *bin, berr *e);
void loop_config_free(loop_config *c);
void loop_config_help(FILE *f);
// Appends "--opt value" of every pass-through line of `stage` to argv (*n entries so far).
void loop_config_args(const loop_config *c, const char *stage, const char **argv, int *n, int max);

// ---- processes ----------------------------------------------------------------------------------

typedef struct loop_run {
    const char *bin;  // directory of the stage binaries
    const char *dir;  // run directory
    FILE *log;        // the run's log.jsonl
    double t0;
    int quiet;
    const char *devices;  // CUDA_VISIBLE_DEVICES for the next stages (NULL: inherited)
} loop_run;

// A stage that runs beside the driver (the pooled placement's rollout and verify).
typedef struct loop_bg {
    const char *name;
    const char *const *argv;
    const char *devices;
    int pid, restarts, done, status;
} loop_bg;
// Starts it (its output appended to DIR/logs/<name>.log); 0 or -1.
int loop_bg_start(loop_run *r, loop_bg *b, berr *e);
// Looks at it without waiting (wait: until it ends): restarts it when a signal it did not ask
// for killed it (twice at most); returns -1 when it failed, else 0 (b->done once it succeeded).
int loop_bg_poll(loop_run *r, loop_bg *b, int wait, berr *e);

// Runs argv (argv[0] is a binary name in r->bin) with stdout and stderr appended to
// DIR/logs/<name>.log, waits, and records it in the run log. A stage killed by a signal it did
// not ask for is started again (it resumes), up to twice. The child dies with the driver
// (PR_SET_PDEATHSIG), so a killed driver leaves no stage running. Returns the exit status
// (0: success) or -1 when it could not be started.
int loop_exec(loop_run *r, const char *name, const char *const *argv, berr *e);
