// sandbox_seccomp.c — the two seccomp programs a worker loads, built with libseccomp and
// exported as classic BPF (the worker installs them itself, see sandbox_harness.py).
#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "verify/sandbox_internal.h"

#ifndef PR_GET_NO_NEW_PRIVS
#define PR_GET_NO_NEW_PRIVS 39
#endif

// Escape and kernel-attack surface: killed even in the template and the judge.
static const char *const template_kill[] = {
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot",
    "unshare", "setns", "bpf", "perf_event_open", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "keyctl", "add_key", "request_key", "userfaultfd", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "open_by_handle_at", "name_to_handle_at",
    "fanotify_init", "iopl", "ioperm", "syslog", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "execve", "execveat", "personality",
    "lookup_dcookie", "vhangup", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "sethostname", "setdomainname", "mknod", "mknodat", "modify_ldt", "uselib", "nfsservctl",
};

// What a candidate may do: compute, allocate, read the interpreter's files, use its
// scratch directory, make threads, sleep. Everything else kills the process.
// (This allowlist is loaded once per worker, by the template, as part of the worker filter;
// each candidate then loads only the small candidate filter on top: compiling a filter of
// this size costs a fresh process ~0.2 ms, the small one a few microseconds.)
static const char *const candidate_allow[] = {
    // files and directories (Landlock and the mount layout decide which ones)
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "close", "close_range", "lseek", "fstat", "stat", "lstat", "newfstatat", "statx",
    "fstatfs", "statfs", "getdents", "getdents64", "open", "openat", "creat", "access", "faccessat",
    "faccessat2", "readlink", "readlinkat", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir",
    "unlink", "unlinkat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
    "chmod", "fchmod", "fchmodat", "truncate", "ftruncate", "fsync", "fdatasync", "fallocate",
    "utimensat", "utimes", "utime", "futimesat", "umask", "dup", "dup2", "dup3", "pipe", "pipe2",
    "sendfile", "copy_file_range", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr",
    "flistxattr",
    // waiting
    "select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "nanosleep", "clock_nanosleep", "pause",
    // memory
    "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "msync",
    // signals (own process only: kill/tkill are not here; Landlock scopes tgkill)
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigsuspend", "sigaltstack", "tgkill", "getitimer", "setitimer", "alarm",
    // time and identity
    "clock_gettime", "clock_getres", "gettimeofday", "time", "times", "getrusage", "getpid",
    "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
    "getgroups", "getpgrp", "getpgid", "getsid", "capget", "getrandom", "uname",
    "getcpu", "getrlimit", "getpriority",
    // threads and scheduling
    "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "sched_yield",
    "sched_getaffinity", "sched_getparam", "sched_getscheduler", "sched_get_priority_max",
    "sched_get_priority_min", "restart_syscall", "exit", "exit_group", "wait4", "waitid",
};

static const char *const enosys_calls[] = {
    "clone3", "openat2", "io_uring_setup", "io_uring_enter", "io_uring_register",
};

// Nothing shared between concurrent candidates. Candidates of different workers see the
// same host files (the interpreter's, the devices) and the same kernel; every call that
// lets one process change state on a shared object that another can observe is refused
// (the C library and Python take their failure paths): file locks (flock, fcntl locks, OFD
// locks), leases, directory notifications (F_NOTIFY), process-shared futexes (on a file
// mapping their key is the file), page-cache probes (mincore, RWF_NOWAIT) and eviction
// (fadvise: a no-op), the global process count and free memory (sysinfo). inotify and
// fanotify are not on the allowlist at all.
static const char *const enosys_candidate[] = {"sysinfo", "preadv2", "pwritev2", "mincore"};
static const uint64_t fcntl_allow[] = {
    0 /* F_DUPFD */, 1 /* F_GETFD */, 2 /* F_SETFD */, 3 /* F_GETFL */, 4 /* F_SETFL */, 9 /* F_GETOWN */,
    11 /* F_GETSIG */, 16 /* F_GETOWN_EX */, 1030 /* F_DUPFD_CLOEXEC */, 1032 /* F_GETPIPE_SZ */,
    1034 /* F_GET_SEALS */, 1035 /* F_GET_RW_HINT */, 1037 /* F_GET_FILE_RW_HINT */,
};
static const uint64_t fcntl_enolck[] = {
    5 /* F_GETLK */, 6 /* F_SETLK */, 7 /* F_SETLKW */, 36 /* F_OFD_GETLK */, 37 /* F_OFD_SETLK */, 38 /* F_OFD_SETLKW */,
};
static const uint64_t fcntl_eperm[] = {
    8 /* F_SETOWN */, 10 /* F_SETSIG */, 15 /* F_SETOWN_EX */, 1024 /* F_SETLEASE */, 1025 /* F_GETLEASE */,
    1026 /* F_NOTIFY */, 1027 /* F_DUPFD_QUERY */, 1028 /* F_CREATED_QUERY */, 1029 /* F_CANCELLK */,
    1031 /* F_SETPIPE_SZ */, 1033 /* F_ADD_SEALS */, 1036 /* F_SET_RW_HINT */, 1038 /* F_SET_FILE_RW_HINT */,
};
#define FUTEX_PRIVATE 128

// No sockets. Refused rather than killed: the C library opens sockets on its own for
// name-service lookups (getpwuid asks nscd first), and such code should take its failure
// path. Every call that would use a socket is absent from the allowlist anyway.
static const char *const eacces_calls[] = {"socket", "socketpair"};

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n, const struct scmp_arg_cmp *cmp,
                    berr *e) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return 0;  // not a system call on this architecture
    int rc = seccomp_rule_add_array(ctx, action, nr, n, cmp);
    if (rc < 0) return berr_set(e, "seccomp: cannot add a rule for %s: %s", name, strerror(-rc));
    return 0;
}

static int add_list(scmp_filter_ctx ctx, uint32_t action, const char *const *names, size_t n, berr *e) {
    for (size_t i = 0; i < n; i++)
        if (add_rule(ctx, action, names[i], 0, NULL, e)) return -1;
    return 0;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define NS_FLAGS \
    (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

// What the template needs beyond a candidate's allowlist, and only it: fork (a clone without
// CLONE_THREAD), handing pipes to its judge, killing a candidate whose judge died; and what
// a fresh candidate needs before it loads its own filter (its death signal, its rlimits, the
// Landlock scope, loading that filter). The worker filter allows these; the candidate filter kills
// exactly these, so a candidate can do what the allowlist says and nothing more.
static const char *const template_only[] = {"pidfd_open", "sendmsg", "sendto", "kill", "landlock_create_ruleset",
                                            "landlock_restrict_self"};
static const uint64_t template_only_prctls[] = {PR_SET_PDEATHSIG, PR_SET_SECCOMP};

// The candidate filter: everything allowed but template_only (and fork), which kill.
static int candidate_rules(scmp_filter_ctx ctx, berr *e) {
    if (add_list(ctx, SCMP_ACT_KILL_PROCESS, template_only, COUNT(template_only), e)) return -1;
    struct scmp_arg_cmp fork_cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
    if (add_rule(ctx, SCMP_ACT_KILL_PROCESS, "clone", 1, &fork_cmp, e)) return -1;
    struct scmp_arg_cmp set_limit = SCMP_A2(SCMP_CMP_NE, 0);
    if (add_rule(ctx, SCMP_ACT_KILL_PROCESS, "prlimit64", 1, &set_limit, e)) return -1;
    for (size_t i = 0; i < COUNT(template_only_prctls); i++) {
        struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, template_only_prctls[i]);
        if (add_rule(ctx, SCMP_ACT_KILL_PROCESS, "prctl", 1, &c, e)) return -1;
    }
    return 0;
}

// The worker filter (loaded by the template once its judge is forked, so every candidate
// is born under it): a candidate's allowlist plus template_only.
static int worker_rules(scmp_filter_ctx ctx, berr *e) {
    if (add_list(ctx, SCMP_ACT_ALLOW, candidate_allow, COUNT(candidate_allow), e)) return -1;
    if (add_list(ctx, SCMP_ACT_ALLOW, template_only, COUNT(template_only), e)) return -1;
    for (size_t i = 0; i < COUNT(template_only_prctls); i++) {
        struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, template_only_prctls[i]);
        if (add_rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &c, e)) return -1;
    }
    // No namespace flag on any clone; for a candidate, threads only (CLONE_THREAD: fork,
    // vfork and posix_spawn are killed by its own filter).
    struct scmp_arg_cmp clone_cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS, 0);
    if (add_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &clone_cmp, e)) return -1;
    // Shared state between candidates (see above).
    if (add_list(ctx, SCMP_ACT_ERRNO(ENOSYS), enosys_candidate, COUNT(enosys_candidate), e)) return -1;
    if (add_rule(ctx, SCMP_ACT_ERRNO(ENOLCK), "flock", 0, NULL, e)) return -1;
    if (add_rule(ctx, SCMP_ACT_ERRNO(0), "fadvise64", 0, NULL, e)) return -1;
    struct {
        const uint64_t *cmds;
        size_t n;
        uint32_t action;
    } fcntls[] = {{fcntl_allow, COUNT(fcntl_allow), SCMP_ACT_ALLOW},
                  {fcntl_enolck, COUNT(fcntl_enolck), SCMP_ACT_ERRNO(ENOLCK)},
                  {fcntl_eperm, COUNT(fcntl_eperm), SCMP_ACT_ERRNO(EPERM)}};
    for (size_t g = 0; g < COUNT(fcntls); g++)
        for (size_t i = 0; i < fcntls[g].n; i++) {
            struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, fcntls[g].cmds[i]);
            if (add_rule(ctx, fcntls[g].action, "fcntl", 1, &c, e)) return -1;
        }
    struct scmp_arg_cmp priv = SCMP_A1(SCMP_CMP_MASKED_EQ, FUTEX_PRIVATE, FUTEX_PRIVATE);
    struct scmp_arg_cmp shared = SCMP_A1(SCMP_CMP_MASKED_EQ, FUTEX_PRIVATE, 0);
    if (add_rule(ctx, SCMP_ACT_ALLOW, "futex", 1, &priv, e) || add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "futex", 1, &shared, e))
        return -1;
    // Setting limits: a fresh candidate sets its own; its filter then lets it only read them.
    if (add_rule(ctx, SCMP_ACT_ALLOW, "prlimit64", 0, NULL, e)) return -1;
    // Terminal queries the interpreter makes on its own fds.
    const uint64_t ioctls[] = {TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX};
    for (size_t i = 0; i < COUNT(ioctls); i++) {
        struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_EQ, ioctls[i]);
        if (add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &c, e)) return -1;
    }
    const uint64_t prctls[] = {PR_GET_NAME, PR_SET_NAME, PR_GET_DUMPABLE, PR_GET_SECCOMP, PR_GET_NO_NEW_PRIVS};
    for (size_t i = 0; i < COUNT(prctls); i++) {
        struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, prctls[i]);
        if (add_rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &c, e)) return -1;
    }
    return 0;
}

int sb_seccomp_program(int which, bbuf *out, berr *e) {
    uint32_t deflt = which == SB_FILTER_WORKER ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ALLOW;
    scmp_filter_ctx ctx = seccomp_init(deflt);
    if (!ctx) return berr_set(e, "seccomp: seccomp_init failed");
    int rc, fd = -1, ret = -1;
    // Only the native architecture: everything else (i386 via int 0x80, x32 numbers on
    // x86_64) hits the bad-architecture action.
    if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
        (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0 ||
        (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) {
        berr_set(e, "seccomp: cannot set filter attributes: %s", strerror(-rc));
        goto out;
    }
    if (which != SB_FILTER_CANDIDATE) {
        if (add_list(ctx, SCMP_ACT_ERRNO(ENOSYS), enosys_calls, COUNT(enosys_calls), e)) goto out;
        if (add_list(ctx, SCMP_ACT_ERRNO(EACCES), eacces_calls, COUNT(eacces_calls), e)) goto out;
    }
    if (which == SB_FILTER_WORKER) {
        if (worker_rules(ctx, e)) goto out;
    } else if (which == SB_FILTER_CANDIDATE) {
        if (candidate_rules(ctx, e)) goto out;
    } else {
        if (add_list(ctx, SCMP_ACT_KILL_PROCESS, template_kill, COUNT(template_kill), e)) goto out;
    }
    fd = memfd_create("berry-bpf", MFD_CLOEXEC);
    if (fd < 0) {
        berr_set(e, "seccomp: memfd_create: %s", strerror(errno));
        goto out;
    }
    if ((rc = seccomp_export_bpf(ctx, fd)) < 0) {
        berr_set(e, "seccomp: cannot export the filter: %s", strerror(-rc));
        goto out;
    }
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % 8 != 0 || size / 8 > 4096 || lseek(fd, 0, SEEK_SET) != 0) {
        berr_set(e, "seccomp: exported filter has an unexpected size (%lld bytes)", (long long)size);
        goto out;
    }
    bbuf_reserve(out, (size_t)size);
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t n = read(fd, out->p + out->n + got, (size_t)size - got);
        if (n <= 0) {
            berr_set(e, "seccomp: reading the exported filter: %s", n < 0 ? strerror(errno) : "short read");
            goto out;
        }
        got += (size_t)n;
    }
    out->n += got;
    ret = 0;
out:
    if (fd >= 0) close(fd);
    seccomp_release(ctx);
    return ret;
}
