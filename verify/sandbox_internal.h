// sandbox_internal.h — pieces shared by the sandbox's own files (not a public API).
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include "kernels/base.h"
#include "verify/sandbox.h"

// ---- seccomp programs (sandbox_seccomp.c) ---------------------------------------------------
// Three filters stack up. The template filter (template and judge, loaded at start) kills a
// denylist of kernel-attack and escape system calls. The worker filter (loaded by the
// template after forking its judge, so inherited by every candidate) is a default-kill
// allowlist: what candidates may do plus what only the template needs. The candidate
// filter (loaded by each candidate) kills what only the template needs. All kill foreign
// architectures and x32; clone3/openat2/io_uring get ENOSYS.
enum { SB_FILTER_TEMPLATE = 0, SB_FILTER_WORKER = 1, SB_FILTER_CANDIDATE = 2 };
// Appends the classic-BPF program (struct sock_filter array) to out.
int sb_seccomp_program(int which, bbuf *out, berr *e);


// ---- launching one worker (sandbox_launch.c) ---------------------------------------------------
enum sb_path_kind {
    SB_PATH_DIR = 1,   // read-only directory (bind-mounted, Landlock read+execute)
    SB_PATH_FILE,      // read-only file
    SB_PATH_DEV,       // device node (/dev/null, ...): read+write
    SB_PATH_SYMLINK,   // recreated in the new root (e.g. /lib -> usr/lib)
};

typedef struct sb_path {
    char *path;    // absolute, as the worker sees it (same as on the host)
    char *target;  // symlink target (SB_PATH_SYMLINK)
    int kind;
} sb_path;

#define SB_MAX_PATHS 128

// In-namespace uid/gid of the workers when they have a user namespace.
#define SB_INNER_ID 1000

// Everything a worker launch needs, computed once by the host before any fork so the
// child only makes system calls.
typedef struct sb_plan {
    int use[SB_LAYER_COUNT];  // layers to set up
    int host_is_root;
    uint32_t host_uid, host_gid;
    uint32_t outside_uid, outside_gid;  // ids of the workers as the host sees them
    char *python;                       // real path of the interpreter
    char *argv[8];
    char *envp[2];
    sb_path *paths;
    int npaths;
    char *newroot;           // host directory the new root's tmpfs is mounted on (own mount ns)
    int64_t scratch_bytes;   // tmpfs size of /scratch
    int landlock_abi;
} sb_plan;

// Fills p->paths (at most SB_MAX_PATHS), p->python (the real interpreter behind python, which may
// be a name on PATH or a shim). with_devices adds /dev/null and friends (own mount ns).
int sb_plan_paths(sb_plan *p, const char *python, const char *const *preimport, int npre, int with_devices,
                  berr *e);
// Picks p->newroot: a host directory not overlapping any path of the plan.
int sb_plan_newroot(sb_plan *p, berr *e);
void sb_plan_free(sb_plan *p);

// Why a launch failed: the layer whose set-up failed (or -1) and what happened.
typedef struct sb_launch_fail {
    int layer;
    int err;
    char what[200];
} sb_launch_fail;

// Starts one worker: clone into the namespaces, id maps, mounts, ids, rlimits,
// no_new_privs, Landlock, then exec of the interpreter running the harness. scratch is the
// worker's scratch directory as the worker sees it ("/scratch" with a mount namespace, a
// host directory without). The child gets req_fd as fd 3, resp_fd as 4, init_fd as 5.
// Returns the child's pid, or -1 with fail filled in (and e).
pid_t sb_launch(const sb_plan *p, const char *scratch, int req_fd, int resp_fd, int init_fd,
                sb_launch_fail *fail, berr *e);

// ---- Landlock (sandbox_landlock.c) ---------------------------------------------------------
int sb_landlock_abi(void);  // 0 when the kernel has no Landlock
// Restricts the calling process (no_new_privs must be set): the plan's paths read-only
// (devices read-write), scratch read-write, no TCP, signals and abstract unix sockets
// scoped to the worker. Makes only system calls (safe in the launch child). On failure
// returns -1 with errno set and *step naming what failed.
int sb_landlock_restrict(const sb_plan *p, const char *scratch, const char **step);

// Probes which namespaces clone(2) grants (bitmask of 1 << SB_*NS layers).
int sb_probe_namespaces(void);

// The harness source (verify/sandbox_harness.py, embedded by sandbox_harness.c).
extern const char sb_harness_py[];

// ---- the pool's state (sandbox_pool.c opens it, sandbox_worker.c runs one worker,
// ---- sandbox_dispatch.c schedules checks) -------------------------------------------------------
enum sb_worker_state {
    SB_W_DOWN = 0,  // no process; started again when a check waits
    SB_W_STARTING,  // launched, its ready report not read yet
    SB_W_IDLE,
    SB_W_BUSY,      // one check in flight
};

typedef struct sb_worker {
    int state;
    pid_t pid;            // template (host pid); 0 when down
    int req_fd, resp_fd;  // host ends
    char *scratch;        // scratch as the worker sees it
    char *host_scratch;   // host directory behind it (no mount namespace), else NULL
    int started;          // has run once (a start after that is a restart)
    uint64_t tag;         // the check in flight
    uint64_t seq;
    double start, deadline;  // of the check in flight, or of the start-up
    bbuf in;
} sb_worker;

// A job waiting for a worker: its request frame (seq patched in at dispatch).
typedef struct sb_queued {
    uint64_t tag;
    bbuf frame;
    double wall;  // the job's wall-clock limit
} sb_queued;

typedef struct sb_done {
    uint64_t tag;
    sandbox_result r;
} sb_done;

struct sandbox {
    sandbox_config cfg;
    sandbox_layers layers;
    sb_plan plan;
    bbuf tbpf, wbpf, cbpf;  // template, worker and candidate filters
    char *scratch_root;  // host directory holding the workers' scratch (no mount namespace)
    sb_worker *w;
    int nw;      // checks that run at a time (the configured workers)
    int nslots;  // worker slots: nw more, started when checks run slow (SB_SLOW_AFTER)
    size_t pipe_cap;
    sandbox_stats st;
    // scheduling (rings: head index, count, capacity)
    sb_queued *q;
    size_t q_head, q_n, q_cap;
    sb_done *d;
    size_t d_head, d_n, d_cap;
    size_t busy;
    int start_failures;  // consecutive workers that did not come up
    int lost_idle;       // workers found dead at dispatch since the last verdict
    int broken;          // the pool failed; every call reports why
    char broken_msg[512];
};

void sb_logf(const sandbox *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Framing shared by the host-side files.
int sb_write_all(int fd, const void *buf, size_t n);
void sb_put_blob(bbuf *b, const void *p, size_t n);
void sb_frame(bbuf *out, const char magic[4], const bbuf *payload);
// Reads what is available on fd into b; returns bytes read, 0 on EOF, -1 when nothing yet.
ssize_t sb_read_some(int fd, bbuf *b);
// A complete frame at the start of b: 1 with its payload (pointing into b) and total
// size, 0 if incomplete, -1 (e) if it cannot be one.
int sb_take_frame(const bbuf *b, const char magic[4], const uint8_t **payload, uint32_t *len, size_t *total, berr *e);
void sb_consume(bbuf *b, size_t n);

// One worker's life (sandbox_worker.c). sb_worker_launch starts the process and hands it
// its configuration (state STARTING); sb_worker_ready reads its ready report: 1 when it is
// IDLE (*rep: the report, malloc'd, if rep), 0 when more is needed, -1 when it failed
// (then it is DOWN); sb_worker_wait_ready waits for that up to the start-up timeout.
int sb_worker_launch(sandbox *sb, sb_worker *w, sb_launch_fail *fail, berr *e);
int sb_worker_ready(sandbox *sb, sb_worker *w, char **rep, berr *e);
int sb_worker_wait_ready(sandbox *sb, sb_worker *w, char **rep, berr *e);
void sb_worker_down(sb_worker *w);  // kills and reaps it; DOWN
#define SB_START_TIMEOUT 60.0       // seconds for a worker to become ready
#define SB_REPLY_GRACE 3.0          // seconds past the wall limit before the host kills a worker
// A check running longer than this (most take a few ms) no longer counts against the
// configured concurrency: the next check goes to another worker, started if need be, so
// slow checks (sleepers, timeouts) cost only their own wall time.
#define SB_SLOW_AFTER 0.25
// Modules the template imports before forking, so candidates do not pay for them.
extern const char *const sb_preimport[];
extern const int sb_npreimport;
