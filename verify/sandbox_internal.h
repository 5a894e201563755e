// sandbox_internal.h — pieces shared by the sandbox's own files (not a public API).
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include "kernels/base.h"
#include "verify/sandbox.h"

// ---- seccomp programs (sandbox_seccomp.c) ---------------------------------------------------
// The template filter (template and judge) kills a denylist of kernel-attack and escape
// system calls; the candidate filter is a default-kill allowlist. Both kill foreign
// architectures and x32, and refuse clone3/openat2/io_uring with ENOSYS.
enum { SB_FILTER_TEMPLATE = 0, SB_FILTER_CANDIDATE = 1 };
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
