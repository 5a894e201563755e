// sandbox.h — a pool of sandboxed, pre-warmed python3 workers that judge untrusted code.
//
// Each worker is three kinds of process inside one set of namespaces (verify/README.md has
// the full threat model):
//
//   template  a python3 started once, which imported what checks need and then only forks;
//             it never sees a check's data, so every candidate forked from it is clean.
//   judge     a long-lived child of the template that reads check requests from the host,
//             runs the hidden tests, and answers the host. Candidate code never runs in it.
//   candidate one per check, forked from the template, locked down (rlimits, seccomp
//             allowlist, Landlock scope), runs the candidate's code and answers the judge's
//             calls with plain data. Its stdout/stderr is only captured text.
//
// The judge evaluates each test statement itself, with the candidate's functions replaced
// by stubs that ask the candidate process for a return value; values cross the process
// boundary as tagged plain data (None, bool, int, float, str, bytes, list, tuple, dict,
// set, frozenset, complex). So a candidate cannot see the expected values, cannot return an
// object that claims to equal anything, and cannot forge the verdict: it never holds the
// host's pipes, and whatever it writes is data, not protocol.
//
// Not thread-safe: one thread drives a pool. The pool ignores SIGPIPE for the process.
// Nothing a candidate writes is read as a message of the harness or the pool: its stdout
// and stderr are text, its answers plain data, and the sandbox's own set-up reports travel
// on a channel closed before candidate code runs.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "kernels/base.h"

#ifdef __cplusplus
extern "C" {
#endif

// The layers of the sandbox. All are required: if one cannot be set up, sandbox_open fails
// unless the config allows a weaker sandbox (--allow-weak-sandbox).
enum sandbox_layer {
    SB_USERNS = 0,   // own user namespace; sandbox ids map to an unprivileged outside uid
    SB_MNTNS,        // own mount namespace: a minimal read-only root (pivot_root), tmpfs scratch
    SB_PIDNS,        // own PID namespace: the template is init; nothing outside is visible
    SB_NETNS,        // own network namespace: no interfaces up
    SB_IPCNS,        // own System V IPC / POSIX mqueue namespace
    SB_UNPRIV,       // workers run with a non-root uid as seen from outside
    SB_LANDLOCK,     // file system limited to the read-only interpreter paths + scratch
    SB_NO_NEW_PRIVS, // no setuid/file-capability gains
    SB_SECCOMP,      // template denylist + per-candidate default-kill allowlist
    SB_RLIMITS,      // CPU seconds, address space, file size, open files, processes
    SB_LAYER_COUNT
};
const char *sandbox_layer_name(int layer);
const char *sandbox_layer_purpose(int layer);

typedef struct sandbox_layers {
    int active[SB_LAYER_COUNT];
    char note[SB_LAYER_COUNT][160];  // how it was confirmed, or why it is off
    int landlock_abi;                // 0 when Landlock is unavailable
    uint32_t outside_uid;            // uid of the workers as seen by the host
} sandbox_layers;

// Per-check limits.
typedef struct sandbox_limits {
    double cpu_seconds;     // RLIMIT_CPU of the candidate (rounded up to whole seconds)
    double wall_seconds;    // wall-clock limit of the whole check, enforced by the judge
    int64_t memory_bytes;   // RLIMIT_AS of the candidate
    int64_t file_bytes;     // RLIMIT_FSIZE of the candidate
    int64_t output_bytes;   // cap on the candidate's stdout+stderr; more is a violation
    int open_files;         // RLIMIT_NOFILE of the candidate
    int processes;          // RLIMIT_NPROC (threads count) for the worker's uid
} sandbox_limits;

typedef struct sandbox_config {
    const char *python;          // interpreter; NULL: the python3 found on PATH
    int workers;                 // worker processes (one check at a time each)
    sandbox_limits limits;       // defaults for jobs that give none
    int64_t scratch_bytes;       // size of each worker's tmpfs scratch (mount namespace)
    const char *scratch_parent;  // where host-side scratch goes without a mount namespace
    uint32_t sandbox_uid;        // outside uid/gid of the workers when the host is root
    uint32_t sandbox_gid;
    int allow_weak;              // run even if some layers are unavailable
    int disable_mask;            // bit (1 << layer): do not even try that layer (tests)
    FILE *log;                   // progress/diagnostics (NULL: silent)
} sandbox_config;

void sandbox_config_default(sandbox_config *c);
// Checks the limits are sane (positive, within what the sandbox can enforce).
int sandbox_limits_validate(const sandbox_limits *l, berr *e);

// Largest candidate source the sandbox takes; longer code is a `fail` without running it
// (the judge compiles candidate code).
#define SANDBOX_MAX_CODE (256 * 1024)
// Address-space limit of each judge (it decodes the candidates' answers: at most 1 MB of
// them per check, in linear time).
#define SANDBOX_JUDGE_MEMORY (512LL << 20)

typedef struct sandbox_job {
    const char *code;              // candidate source (Python)
    size_t code_len;
    const char *tests;             // hidden test statements (Python, usually assert lines)
    size_t tests_len;
    const sandbox_limits *limits;  // NULL: the pool's defaults
} sandbox_job;

// A job's verdict. outcome is enum verdict_outcome of shards/records.h.
typedef struct sandbox_result {
    uint32_t outcome;
    uint32_t tests_passed, tests_total;
    double cpu_seconds;        // CPU of the candidate process
    double judge_cpu_seconds;  // CPU of the judge on this check (its code, the answers, the tests)
    double wall_seconds;       // host-side wall time of the check (from dispatch to verdict)
    char detail[512];       // one line: the reason
    uint64_t output_total;  // bytes the candidate wrote to stdout/stderr
    size_t output_len;      // head of that output kept here
    char output[1024];
} sandbox_result;

typedef struct sandbox sandbox;

// Starts the pool: probes and sets up every layer, starts the workers, waits until each
// is warm, and confirms the layers on a live worker (its /proc entries and its own
// report). Fails, naming the missing layers, when one is unavailable and !allow_weak.
sandbox *sandbox_open(const sandbox_config *cfg, berr *e);
const sandbox_layers *sandbox_get_layers(const sandbox *sb);
const char *sandbox_python(const sandbox *sb);  // the real interpreter the workers run
void sandbox_print_layers(const sandbox_layers *l, FILE *f);

// Outcomes beyond enum verdict_outcome. ERROR: the job's tests cannot run (not valid
// Python, empty, passing values that cannot cross to the candidate) or its limits are
// invalid — a problem-data error, never caused by the candidate; or the candidate sandbox
// itself could not be set up. NOT_RUN: sandbox_run stopped before the job.
#define SANDBOX_OUTCOME_ERROR 5
#define SANDBOX_OUTCOME_NOT_RUN 6

// Checks are scheduled one by one: each goes to the next idle worker, so a slow check
// holds only its own worker. Whatever a candidate does is a verdict for its own check.
//
// sandbox_submit queues a job under the caller's tag (its code and tests are copied).
// sandbox_next returns a finished job's result, in completion order: 1 with *tag and *r;
// 0 when nothing is pending, or (wait == 0) when nothing has finished yet; -1 when the
// pool itself failed (a worker cannot be started), with the reason in e. A job whose
// outcome is SANDBOX_OUTCOME_ERROR is an error for the caller to report (r->detail).
// sandbox_pending: jobs submitted whose result has not been taken yet.
int sandbox_submit(sandbox *sb, const sandbox_job *job, uint64_t tag, berr *e);
int sandbox_next(sandbox *sb, int wait, uint64_t *tag, sandbox_result *r, berr *e);
size_t sandbox_pending(const sandbox *sb);

// Runs n jobs over the pool (nothing else may be pending) and fills out[i] for jobs[i]. A
// failed check is a verdict, not an error; -1 means the pool itself failed or a job's
// result is SANDBOX_OUTCOME_ERROR, with the reason in e; jobs not run are then
// SANDBOX_OUTCOME_NOT_RUN.
int sandbox_run(sandbox *sb, const sandbox_job *jobs, size_t n, sandbox_result *out, berr *e);

// Host pids of the live template processes (for tests and `verify sandbox-info`); workers
// found dead are reaped first (and restarted when next needed).
int sandbox_worker_pids(sandbox *sb, pid_t *pids, int max);
// Counters since open.
typedef struct sandbox_stats {
    uint64_t checks, restarts;  // restarts: workers started again after one went down
    uint64_t by_outcome[5];
    double judge_cpu;           // seconds, summed over checks
} sandbox_stats;
void sandbox_get_stats(const sandbox *sb, sandbox_stats *st);

// Stops the workers (they exit when their request pipe closes; stragglers are killed),
// reaps them and removes any host-side scratch.
void sandbox_close(sandbox *sb);

#ifdef __cplusplus
}
#endif
