// sandbox_launch.c — starting one worker: clone(2) into new namespaces, id maps written by
// the host, a minimal read-only root, unprivileged ids, rlimits, no_new_privs, Landlock,
// then exec of the interpreter running the harness with a near-empty environment.
//
// The child runs in a copy of the host process made by a raw clone (like fork), so it
// makes only system calls and formats into stack buffers: everything it needs was
// computed by the host in the sb_plan beforehand.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "verify/sandbox_internal.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

static int g_errfd = -1;

_Noreturn static void child_fail(int layer, const char *what) {
    sb_launch_fail f;
    memset(&f, 0, sizeof f);
    f.layer = layer;
    f.err = errno;
    snprintf(f.what, sizeof f.what, "%s", what);
    if (g_errfd >= 0) {
        ssize_t n = write(g_errfd, &f, sizeof f);
        (void)n;
    }
    _exit(127);
}

_Noreturn static void child_failf(int layer, const char *fmt, const char *arg) {
    char buf[200];
    int saved = errno;
    snprintf(buf, sizeof buf, fmt, arg);
    errno = saved;
    child_fail(layer, buf);
}

static long raw_clone(unsigned long flags) { return syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL); }

// mkdir -p of every parent of path (path itself is left alone). path is a scratch copy.
static int make_parents(char *path) {
    for (char *s = path + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        int rc = mkdir(path, 0755);
        *s = '/';
        if (rc && errno != EEXIST) return -1;
    }
    return 0;
}

// Mount flags a bind mount must keep when remounted (the kernel locks them in a user
// namespace): those of the source's mount.
static unsigned long kept_flags(int fd) {
    struct statvfs sv;
    if (fstatvfs(fd, &sv)) return 0;
    unsigned long f = 0;
    if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
    return f;
}

// O_PATH fds of the bind sources, opened in the new mount namespace (a bind source must
// belong to it) while the child still has the host's ids (which can reach paths such as
// /root/.pyenv that the sandbox uid cannot).
static int g_src[SB_MAX_PATHS];

static void open_sources(const sb_plan *p) {
    for (int i = 0; i < p->npaths; i++) {
        g_src[i] = -1;
        if (p->paths[i].kind == SB_PATH_SYMLINK) continue;
        g_src[i] = open(p->paths[i].path, O_PATH | O_CLOEXEC);
        if (g_src[i] < 0) child_failf(SB_MNTNS, "open %s", p->paths[i].path);
    }
}

static void bind_path(const sb_path *sp, int src_fd, const char *dst) {
    char src[64];
    snprintf(src, sizeof src, "/proc/self/fd/%d", src_fd);
    if (sp->kind == SB_PATH_DIR) {
        if (mkdir(dst, 0755) && errno != EEXIST) child_failf(SB_MNTNS, "mkdir %s", dst);
    } else {
        int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) child_failf(SB_MNTNS, "creating mount point %s", dst);
        close(fd);
    }
    if (mount(src, dst, NULL, MS_BIND, NULL)) child_failf(SB_MNTNS, "bind-mounting %s", sp->path);
    unsigned long fl = MS_REMOUNT | MS_BIND | MS_NOSUID | kept_flags(src_fd);
    // Devices too are read-only mounts: they stay writable as devices, but their times and
    // modes cannot be changed through them (the host's inodes, shared by every worker).
    fl |= MS_RDONLY | (sp->kind == SB_PATH_DEV ? MS_NOEXEC : 0);
    if (mount(NULL, dst, NULL, fl, NULL)) child_failf(SB_MNTNS, "remounting %s read-only", sp->path);
}

// The new root: a small tmpfs holding the plan's paths bound read-only, /dev nodes and a
// tmpfs /scratch; after pivot_root the host's tree is gone and / is read-only.
static void setup_root(const sb_plan *p, uint32_t scratch_uid, uint32_t scratch_gid) {
    char dst[4096];
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) child_fail(SB_MNTNS, "making / private");
    if (mount("tmpfs", p->newroot, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=4096"))
        child_failf(SB_MNTNS, "mounting a tmpfs on %s", p->newroot);
    for (int i = 0; i < p->npaths; i++) {
        const sb_path *sp = &p->paths[i];
        if ((size_t)snprintf(dst, sizeof dst, "%s%s", p->newroot, sp->path) >= sizeof dst) {
            errno = ENAMETOOLONG;
            child_failf(SB_MNTNS, "path too long: %s", sp->path);
        }
        if (make_parents(dst)) child_failf(SB_MNTNS, "mkdir -p for %s", sp->path);
        if (sp->kind == SB_PATH_SYMLINK) {
            if (symlink(sp->target, dst)) child_failf(SB_MNTNS, "symlink %s", sp->path);
        } else {
            bind_path(sp, g_src[i], dst);
            close(g_src[i]);
        }
    }
    char opts[160];
    snprintf(dst, sizeof dst, "%s/scratch", p->newroot);
    if (mkdir(dst, 0700)) child_fail(SB_MNTNS, "mkdir /scratch");
    snprintf(opts, sizeof opts, "mode=0700,size=%lld,nr_inodes=4096,uid=%u,gid=%u", (long long)p->scratch_bytes,
             scratch_uid, scratch_gid);
    if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)) child_fail(SB_MNTNS, "mounting /scratch");
    if (chdir(p->newroot)) child_fail(SB_MNTNS, "chdir to the new root");
    if (syscall(SYS_pivot_root, ".", ".")) child_fail(SB_MNTNS, "pivot_root");
    if (umount2(".", MNT_DETACH)) child_fail(SB_MNTNS, "detaching the old root");
    if (chdir("/")) child_fail(SB_MNTNS, "chdir /");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL))
        child_fail(SB_MNTNS, "remounting / read-only");
}

static void set_ids(const sb_plan *p) {
    if (p->use[SB_USERNS]) {
        if (p->host_is_root && setgroups(0, NULL)) child_fail(SB_USERNS, "setgroups");
        if (setresgid(SB_INNER_ID, SB_INNER_ID, SB_INNER_ID)) child_fail(SB_USERNS, "setresgid");
        if (setresuid(SB_INNER_ID, SB_INNER_ID, SB_INNER_ID)) child_fail(SB_USERNS, "setresuid");
    } else if (p->use[SB_UNPRIV] && p->host_is_root) {
        if (setgroups(0, NULL)) child_fail(SB_UNPRIV, "setgroups");
        if (setresgid(p->outside_gid, p->outside_gid, p->outside_gid)) child_fail(SB_UNPRIV, "setresgid");
        if (setresuid(p->outside_uid, p->outside_uid, p->outside_uid)) child_fail(SB_UNPRIV, "setresuid");
    }
}

// Places req/resp/init at 3/4/5, /dev/null at 0 and 1 (2 stays the host's stderr), keeps
// the error pipe (close-on-exec) at 6 and closes everything else.
static void arrange_fds(int req, int resp, int init, int devnull) {
    int hi[5], src[5] = {req, resp, init, devnull, g_errfd};
    for (int i = 0; i < 5; i++)
        if ((hi[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 100)) < 0) child_fail(-1, "dup");
    g_errfd = hi[4];
    if (dup2(hi[0], 3) != 3 || dup2(hi[1], 4) != 4 || dup2(hi[2], 5) != 5 || dup2(hi[3], 0) != 0 ||
        dup2(hi[3], 1) != 1 || dup3(hi[4], 6, O_CLOEXEC) != 6)
        child_fail(-1, "dup2");
    g_errfd = 6;
    if (syscall(SYS_close_range, 7, ~0U, 0)) {
        for (int fd = 7; fd < 1024; fd++) close(fd);
    }
}

_Noreturn static void child_main(const sb_plan *p, const char *scratch, int sync_r, int req, int resp, int init,
                                 int devnull) {
    setsid();
    char c;
    if (read(sync_r, &c, 1) != 1) _exit(127);  // the host failed to write our id maps
    close(sync_r);
    // Owner of the scratch tmpfs: the ids the worker will run with.
    uint32_t sid = p->host_uid, sgid = p->host_gid;
    if (p->use[SB_USERNS]) sid = sgid = SB_INNER_ID;
    else if (p->host_is_root && p->use[SB_UNPRIV]) sid = p->outside_uid, sgid = p->outside_gid;
    if (p->use[SB_MNTNS]) open_sources(p);
    if (p->use[SB_USERNS]) set_ids(p);  // before the mounts: files on our tmpfs need a mapped owner
    if (p->use[SB_MNTNS]) setup_root(p, sid, sgid);
    if (!p->use[SB_USERNS]) set_ids(p);  // as real root: after the mounts, which need it
    arrange_fds(req, resp, init, devnull);
    if (p->use[SB_RLIMITS]) {
        struct rlimit core = {0, 0}, nofile = {256, 256};
        if (setrlimit(RLIMIT_CORE, &core) || setrlimit(RLIMIT_NOFILE, &nofile)) child_fail(SB_RLIMITS, "setrlimit");
    }
    if (chdir("/")) child_fail(-1, "chdir /");
    if (p->use[SB_NO_NEW_PRIVS] && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) child_fail(SB_NO_NEW_PRIVS, "prctl(PR_SET_NO_NEW_PRIVS)");
    if (p->use[SB_LANDLOCK]) {
        const char *step = "";
        if (sb_landlock_restrict(p, scratch, &step)) child_failf(SB_LANDLOCK, "Landlock: %s", step);
    }
    // Last, because any change of credentials clears it: die with the host.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL)) child_fail(-1, "prctl(PR_SET_PDEATHSIG)");
    execve(p->python, p->argv, p->envp);
    if (errno == EACCES) child_failf(-1, "exec %s (the sandbox uid cannot reach it: use a world-readable --python)", p->python);
    child_failf(-1, "exec %s", p->python);
}

static int write_proc(pid_t pid, const char *name, const char *text, berr *e) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return berr_set(e, "sandbox: open %s: %s", path, strerror(errno));
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    if (n != (ssize_t)strlen(text)) return berr_set(e, "sandbox: writing \"%s\" to %s: %s", text, path, strerror(saved));
    return 0;
}

static int write_id_maps(const sb_plan *p, pid_t pid, berr *e) {
    char map[64];
    if (!p->host_is_root && write_proc(pid, "setgroups", "deny", e)) return -1;
    snprintf(map, sizeof map, "%u %u 1\n", SB_INNER_ID, p->host_is_root ? p->outside_uid : p->host_uid);
    if (write_proc(pid, "uid_map", map, e)) return -1;
    snprintf(map, sizeof map, "%u %u 1\n", SB_INNER_ID, p->host_is_root ? p->outside_gid : p->host_gid);
    return write_proc(pid, "gid_map", map, e);
}

static unsigned long clone_flags(const sb_plan *p) {
    unsigned long f = 0;
    if (p->use[SB_USERNS]) f |= CLONE_NEWUSER;
    if (p->use[SB_MNTNS]) f |= CLONE_NEWNS;
    if (p->use[SB_PIDNS]) f |= CLONE_NEWPID;
    if (p->use[SB_NETNS]) f |= CLONE_NEWNET;
    if (p->use[SB_IPCNS]) f |= CLONE_NEWIPC | CLONE_NEWUTS;
    return f;
}

pid_t sb_launch(const sb_plan *p, const char *scratch, int req_fd, int resp_fd, int init_fd, sb_launch_fail *fail,
                berr *e) {
    memset(fail, 0, sizeof *fail);
    fail->layer = -1;
    int sync[2], errp[2];
    if (pipe2(sync, O_CLOEXEC)) return berr_set(e, "sandbox: pipe: %s", strerror(errno));
    if (pipe2(errp, O_CLOEXEC)) {
        close(sync[0]), close(sync[1]);
        return berr_set(e, "sandbox: pipe: %s", strerror(errno));
    }
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        close(sync[0]), close(sync[1]), close(errp[0]), close(errp[1]);
        return berr_set(e, "sandbox: open /dev/null: %s", strerror(errno));
    }
    fflush(NULL);
    long pid = raw_clone(clone_flags(p));
    if (pid == 0) {
        g_errfd = errp[1];
        close(sync[1]);
        close(errp[0]);
        child_main(p, scratch, sync[0], req_fd, resp_fd, init_fd, devnull);
    }
    int clone_errno = errno;
    close(sync[0]);
    close(errp[1]);
    close(devnull);
    if (pid < 0) {
        close(sync[1]);
        close(errp[0]);
        fail->err = clone_errno;
        snprintf(fail->what, sizeof fail->what, "clone");
        return berr_set(e, "sandbox: clone(namespaces): %s", strerror(clone_errno));
    }
    int rc = 0;
    if (p->use[SB_USERNS] && write_id_maps(p, (pid_t)pid, e)) {
        fail->layer = SB_USERNS;
        snprintf(fail->what, sizeof fail->what, "writing the id maps");
        rc = -1;
    }
    if (rc == 0) {
        ssize_t n = write(sync[1], "g", 1);
        (void)n;
    }
    close(sync[1]);
    if (rc == 0) {
        sb_launch_fail f;
        ssize_t n;
        do n = read(errp[0], &f, sizeof f);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof f) {
            *fail = f;
            fail->what[sizeof fail->what - 1] = 0;
            berr_set(e, "sandbox: worker set-up failed at %s (%s layer): %s", fail->what,
                     fail->layer >= 0 ? sandbox_layer_name(fail->layer) : "no", strerror(fail->err));
            rc = -1;
        } else if (n != 0) {
            berr_set(e, "sandbox: worker set-up: %s", n < 0 ? strerror(errno) : "short report");
            rc = -1;
        }
    }
    close(errp[0]);
    if (rc) {
        kill((pid_t)pid, SIGKILL);
        while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR) {}
        return -1;
    }
    return (pid_t)pid;
}

static int probe_clone(unsigned long flags) {
    long pid = raw_clone(flags);
    if (pid == 0) _exit(0);
    if (pid < 0) return 0;
    int st;
    while (waitpid((pid_t)pid, &st, 0) < 0 && errno == EINTR) {}
    return 1;
}

int sb_probe_namespaces(void) {
    static const struct {
        int layer;
        unsigned long flag;
    } ns[] = {{SB_MNTNS, CLONE_NEWNS}, {SB_PIDNS, CLONE_NEWPID}, {SB_NETNS, CLONE_NEWNET}, {SB_IPCNS, CLONE_NEWIPC | CLONE_NEWUTS}};
    int mask = 0;
    unsigned long base = 0;
    if (probe_clone(CLONE_NEWUSER)) {
        mask |= 1 << SB_USERNS;
        base = CLONE_NEWUSER;  // the others are then owned by (and allowed through) it
    }
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        if (probe_clone(base | ns[i].flag)) mask |= 1 << ns[i].layer;
    return mask;
}
