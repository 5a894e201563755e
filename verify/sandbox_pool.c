// sandbox_pool.c — the host side of the sandbox: choosing and confirming the layers,
// starting and restarting workers, dispatching checks and reading verdicts.
//
// Host <-> worker protocol (pipes; the candidate process never holds either end):
//   host -> template  fd 5, once:  "BINI" u32 len | u32 n, config (key=value) | u32 n, template
//                                  BPF | u32 n, candidate BPF
//   judge -> host     fd 4, once:  "BRDY" u32 len | key=value lines (the worker's self-report)
//   host -> judge     fd 3:        "BREQ" u32 len | u64 seq | u32 cpu_ms | u32 wall_ms | u64 mem |
//                                  u64 fsize | u64 out_cap | u32 nofile | u32 nproc | u32 n, code |
//                                  u32 n, tests
//   judge -> host     fd 4:        "BVER" u32 len | u64 seq | u32 outcome | u32 passed | u32 total |
//                                  f64 cpu | u64 out_total | u32 n, detail | u32 n, output head
// All integers little-endian. Outcome 5 is "the problem's tests cannot run" (an error).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shards/records.h"
#include "verify/sandbox_internal.h"

#define SB_REPLY_GRACE 3.0     // seconds past the wall limit before the host kills a worker
#define SB_START_TIMEOUT 60.0  // seconds for a worker to become ready
#define SB_PIPE_BYTES (1 << 20)

// Modules the template imports before forking, so candidates do not pay for them.
static const char *const preimport[] = {
    "math", "re", "itertools", "collections", "functools", "heapq", "bisect", "string", "operator",
};
#define NPREIMPORT ((int)(sizeof preimport / sizeof preimport[0]))

static const struct {
    const char *name, *purpose;
} layer_info[SB_LAYER_COUNT] = {
    [SB_USERNS] = {"userns", "own user namespace; ids map to an unprivileged outside uid"},
    [SB_MNTNS] = {"mntns", "own mount namespace: minimal read-only root, tmpfs scratch"},
    [SB_PIDNS] = {"pidns", "own PID namespace: nothing outside is visible or signalable"},
    [SB_NETNS] = {"netns", "own network namespace: no network"},
    [SB_IPCNS] = {"ipcns", "own IPC and UTS namespaces"},
    [SB_UNPRIV] = {"unprivileged", "workers run as a non-root uid"},
    [SB_LANDLOCK] = {"landlock", "file system: read-only interpreter paths + scratch; no TCP"},
    [SB_NO_NEW_PRIVS] = {"no_new_privs", "no privilege gain through exec"},
    [SB_SECCOMP] = {"seccomp", "system-call filters: template denylist, candidate allowlist"},
    [SB_RLIMITS] = {"rlimits", "CPU, address space, file size, open files, processes"},
};

const char *sandbox_layer_name(int layer) {
    return layer >= 0 && layer < SB_LAYER_COUNT ? layer_info[layer].name : "unknown";
}
const char *sandbox_layer_purpose(int layer) {
    return layer >= 0 && layer < SB_LAYER_COUNT ? layer_info[layer].purpose : "";
}

void sandbox_config_default(sandbox_config *c) {
    memset(c, 0, sizeof *c);
    c->python = "python3";
    c->workers = 2;
    c->limits.cpu_seconds = 2;
    c->limits.wall_seconds = 4;
    c->limits.memory_bytes = 512LL << 20;
    c->limits.file_bytes = 16LL << 20;
    c->limits.output_bytes = 1LL << 20;
    c->limits.open_files = 64;
    c->limits.processes = 32;
    c->scratch_bytes = 64LL << 20;
    c->sandbox_uid = 65534;
    c->sandbox_gid = 65534;
}

int sandbox_limits_validate(const sandbox_limits *l, berr *e) {
    if (!(l->cpu_seconds > 0 && l->cpu_seconds <= 3600)) return berr_set(e, "sandbox: cpu limit must be in (0, 3600] s");
    if (!(l->wall_seconds > 0 && l->wall_seconds <= 3600)) return berr_set(e, "sandbox: wall limit must be in (0, 3600] s");
    if (l->memory_bytes < (64LL << 20)) return berr_set(e, "sandbox: memory limit must be at least 64M");
    if (l->file_bytes < 0) return berr_set(e, "sandbox: file size limit must not be negative");
    if (l->output_bytes < 1) return berr_set(e, "sandbox: output cap must be positive");
    if (l->open_files < 8 || l->open_files > 4096) return berr_set(e, "sandbox: open-files limit must be in [8, 4096]");
    if (l->processes < 4 || l->processes > 4096) return berr_set(e, "sandbox: process limit must be in [4, 4096]");
    return 0;
}

typedef struct sb_worker {
    pid_t pid;            // template (host pid); 0 when down
    int req_fd, resp_fd;  // host ends
    char *scratch;        // scratch as the worker sees it
    char *host_scratch;   // host directory behind it (no mount namespace), else NULL
    int busy;
    size_t job;
    uint64_t seq;
    double start, deadline;
    bbuf in;
} sb_worker;

struct sandbox {
    sandbox_config cfg;
    sandbox_layers layers;
    sb_plan plan;
    bbuf tbpf, cbpf;
    char *scratch_root;  // host directory holding the workers' scratch (no mount namespace)
    sb_worker *w;
    int nw;
    size_t pipe_cap;
    sandbox_stats st;
};

static void logf_(const sandbox *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const sandbox *sb, const char *fmt, ...) {
    if (!sb->cfg.log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(sb->cfg.log, fmt, ap);
    va_end(ap);
    fflush(sb->cfg.log);
}

// ---- small IO helpers -------------------------------------------------------------------------------

static int write_all(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

static void put_blob(bbuf *b, const void *p, size_t n) {
    bbuf_u32(b, (uint32_t)n);
    bbuf_put(b, p, n);
}

static void frame(bbuf *out, const char magic[4], const bbuf *payload) {
    bbuf_put(out, magic, 4);
    bbuf_u32(out, (uint32_t)payload->n);
    bbuf_put(out, payload->p, payload->n);
}

// Reads what is available on fd into b; returns bytes read, 0 on EOF, -1 when nothing yet.
static ssize_t read_some(int fd, bbuf *b) {
    bbuf_reserve(b, 65536);
    ssize_t n;
    do n = read(fd, b->p + b->n, 65536);
    while (n < 0 && errno == EINTR);
    if (n > 0) b->n += (size_t)n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
    return n < 0 ? 0 : n;
}

// A complete frame at the start of b: its payload (pointing into b) and total size.
static int take_frame(const bbuf *b, const char magic[4], const uint8_t **payload, uint32_t *len, size_t *total,
                      berr *e) {
    if (b->n < 8) return 0;
    if (memcmp(b->p, magic, 4) != 0) return berr_set(e, "sandbox: worker sent a frame with a bad magic");
    *len = le32(b->p + 4);
    if (*len > (64u << 20)) return berr_set(e, "sandbox: worker sent an oversized frame");
    if (b->n < 8 + (size_t)*len) return 0;
    *payload = b->p + 8;
    *total = 8 + (size_t)*len;
    return 1;
}

static void consume(bbuf *b, size_t n) {
    memmove(b->p, b->p + n, b->n - n);
    b->n -= n;
}

// ---- host-side scratch (only without a mount namespace) ------------------------------------------

// rm -rf that first gives each directory back its owner permissions (a candidate may have
// removed them) and never follows symlinks.
static void remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st)) return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    chmod(path, 0700);
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char *child = xasprintf("%s/%s", path, de->d_name);
            remove_tree(child);
            free(child);
        }
        closedir(d);
    }
    rmdir(path);
}

// ---- layers -----------------------------------------------------------------------------------------

static void set_note(sandbox *sb, int layer, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_note(sandbox *sb, int layer, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sb->layers.note[layer], sizeof sb->layers.note[layer], fmt, ap);
    va_end(ap);
}

void sandbox_print_layers(const sandbox_layers *l, FILE *f) {
    for (int i = 0; i < SB_LAYER_COUNT; i++)
        fprintf(f, "  %-13s %-8s %s\n", sandbox_layer_name(i), l->active[i] ? "active" : "OFF", l->note[i]);
    fprintf(f, "  %-13s %-8s %s\n", "environment", "active", "empty for candidates (interpreter: PYTHONHASHSEED=0)");
    fprintf(f, "  %-13s %-8s %s\n", "fds", "active", "candidates hold only their own pipes");
    fprintf(f, "  %-13s %-8s %s\n", "wall-clock", "active", "judge kills the candidate; host kills a silent worker");
    fprintf(f, "  %-13s %-8s %s\n", "output cap", "active", "more output than the cap is a violation");
}

const sandbox_layers *sandbox_get_layers(const sandbox *sb) { return &sb->layers; }
const char *sandbox_python(const sandbox *sb) { return sb->plan.python; }

// Reads "key=value" from a self-report; 0 if absent.
static long report_value(const char *rep, const char *key) {
    size_t n = strlen(key);
    for (const char *s = rep; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
        if (strncmp(s, key, n) == 0 && s[n] == '=') return strtol(s + n + 1, NULL, 10);
    return 0;
}

static int same_ns(pid_t pid, const char *ns) {
    char a[64], b[64], la[128] = {0}, lb[128] = {0};
    snprintf(a, sizeof a, "/proc/%d/ns/%s", (int)pid, ns);
    snprintf(b, sizeof b, "/proc/self/ns/%s", ns);
    if (readlink(a, la, sizeof la - 1) < 0 || readlink(b, lb, sizeof lb - 1) < 0) return -1;
    return strcmp(la, lb) == 0;
}

// /proc/<pid>/status field (first number after the key).
static long status_field(pid_t pid, const char *key, long *second) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long v = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            char *end;
            v = strtol(line + n + 1, &end, 10);
            if (second) *second = strtol(end, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

// Confirms on a live worker what the plan set up; a layer that cannot be observed is off.
static void confirm_layers(sandbox *sb, pid_t pid, const char *rep) {
    static const struct {
        int layer;
        const char *ns;
    } nss[] = {{SB_USERNS, "user"}, {SB_MNTNS, "mnt"}, {SB_PIDNS, "pid"}, {SB_NETNS, "net"}, {SB_IPCNS, "ipc"}};
    sandbox_layers *L = &sb->layers;
    for (size_t i = 0; i < sizeof nss / sizeof nss[0]; i++) {
        int l = nss[i].layer;
        if (!sb->plan.use[l]) continue;
        int same = same_ns(pid, nss[i].ns);
        L->active[l] = same == 0;
        if (same == 0) set_note(sb, l, "confirmed: /proc/%d/ns/%s differs from the host's", (int)pid, nss[i].ns);
        else set_note(sb, l, "NOT confirmed: the worker shares the host's %s namespace", nss[i].ns);
    }
    if (sb->plan.use[SB_MNTNS] && L->active[SB_MNTNS])
        set_note(sb, SB_MNTNS, "confirmed: own mount ns; root is %d read-only paths on tmpfs, scratch tmpfs %lldM",
                 sb->plan.npaths, (long long)(sb->plan.scratch_bytes >> 20));
    if (sb->plan.use[SB_PIDNS] && L->active[SB_PIDNS] && report_value(rep, "template_pid") != 1) {
        L->active[SB_PIDNS] = 0;
        set_note(sb, SB_PIDNS, "NOT confirmed: the template is not pid 1 of its namespace");
    }
    long euid = -1, ruid = status_field(pid, "Uid", &euid);
    L->outside_uid = (uint32_t)ruid;
    L->active[SB_UNPRIV] = ruid > 0 && euid > 0;
    if (L->active[SB_UNPRIV]) set_note(sb, SB_UNPRIV, "confirmed: outside uid %ld, uid %ld inside", ruid, report_value(rep, "uid"));
    else set_note(sb, SB_UNPRIV, "NOT active: the worker runs as root outside");
    L->active[SB_NO_NEW_PRIVS] = status_field(pid, "NoNewPrivs", NULL) == 1 && report_value(rep, "no_new_privs") == 1;
    set_note(sb, SB_NO_NEW_PRIVS, L->active[SB_NO_NEW_PRIVS] ? "confirmed: NoNewPrivs 1" : "NOT active");
    L->active[SB_SECCOMP] = sb->plan.use[SB_SECCOMP] && status_field(pid, "Seccomp", NULL) == 2 &&
                            report_value(rep, "seccomp_mode") == 2;
    if (L->active[SB_SECCOMP])
        set_note(sb, SB_SECCOMP, "confirmed: template filter %zu insns, candidate allowlist %zu insns (default kill)",
                 sb->tbpf.n / 8, sb->cbpf.n / 8);
    else if (sb->plan.use[SB_SECCOMP]) set_note(sb, SB_SECCOMP, "NOT confirmed: the worker has no filter");
    L->landlock_abi = sb->plan.use[SB_LANDLOCK] ? sb->plan.landlock_abi : 0;
    if (sb->plan.use[SB_LANDLOCK]) {
        L->active[SB_LANDLOCK] = report_value(rep, "landlock_denies_root") == 1;
        if (L->active[SB_LANDLOCK])
            set_note(sb, SB_LANDLOCK, "confirmed: ABI %d; listing / is denied; %s", sb->plan.landlock_abi,
                     sb->plan.landlock_abi >= 6 ? "signals and abstract sockets scoped" : "no scoping (ABI < 6)");
        else set_note(sb, SB_LANDLOCK, "NOT confirmed: the worker can list /");
    }
}

// ---- workers ----------------------------------------------------------------------------------------

static void config_text(const sandbox *sb, const sb_worker *w, bbuf *b) {
    char line[PATH_MAX + 64];
    int n = snprintf(line, sizeof line, "scratch=%s\npidns=%d\nseccomp=%d\nlandlock_scope=%d\npreimport=", w->scratch,
                     sb->plan.use[SB_PIDNS], sb->plan.use[SB_SECCOMP],
                     sb->plan.use[SB_LANDLOCK] && sb->plan.landlock_abi >= 6);
    bbuf_put(b, line, (size_t)n);
    for (int i = 0; i < NPREIMPORT; i++) {
        if (i) bbuf_u8(b, ',');
        bbuf_put(b, preimport[i], strlen(preimport[i]));
    }
    bbuf_u8(b, '\n');
}

static void worker_down(sb_worker *w) {
    if (w->req_fd >= 0) close(w->req_fd);
    if (w->resp_fd >= 0) close(w->resp_fd);
    w->req_fd = w->resp_fd = -1;
    if (w->pid > 0) {
        kill(w->pid, SIGKILL);
        while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR) {}
    }
    w->pid = 0;
    w->busy = 0;
    w->in.n = 0;
}

static double wait_budget(double deadline) {
    double left = deadline - now_sec();
    return left < 0 ? 0 : left;
}

// Starts worker w and waits for its ready report (returned in *rep, malloc'd).
static int worker_up(sandbox *sb, sb_worker *w, char **rep, sb_launch_fail *fail, berr *e) {
    int req[2], resp[2], init[2];
    if (pipe2(req, O_CLOEXEC)) return berr_set(e, "sandbox: pipe: %s", strerror(errno));
    if (pipe2(resp, O_CLOEXEC)) {
        close(req[0]), close(req[1]);
        return berr_set(e, "sandbox: pipe: %s", strerror(errno));
    }
    if (pipe2(init, O_CLOEXEC)) {
        close(req[0]), close(req[1]), close(resp[0]), close(resp[1]);
        return berr_set(e, "sandbox: pipe: %s", strerror(errno));
    }
    int cap = fcntl(req[1], F_SETPIPE_SZ, SB_PIPE_BYTES);
    if (cap <= 0) cap = fcntl(req[1], F_GETPIPE_SZ);
    sb->pipe_cap = cap > 0 ? (size_t)cap : 65536;
    pid_t pid = sb_launch(&sb->plan, w->scratch, req[0], resp[1], init[0], fail, e);
    close(req[0]), close(resp[1]), close(init[0]);
    if (pid < 0) {
        close(req[1]), close(resp[0]), close(init[1]);
        return -1;
    }
    w->pid = pid;
    w->req_fd = req[1];
    w->resp_fd = resp[0];
    w->in.n = 0;
    w->busy = 0;
    bbuf cfgb = {0}, payload = {0}, out = {0};
    config_text(sb, w, &cfgb);
    put_blob(&payload, cfgb.p, cfgb.n);
    put_blob(&payload, sb->tbpf.p, sb->tbpf.n);
    put_blob(&payload, sb->cbpf.p, sb->cbpf.n);
    frame(&out, "BINI", &payload);
    int rc = write_all(init[1], out.p, out.n);
    close(init[1]);
    bbuf_free(&cfgb), bbuf_free(&payload), bbuf_free(&out);
    if (rc) {
        worker_down(w);
        return berr_set(e, "sandbox: worker %d did not take its configuration (it exited at start-up)", (int)pid);
    }
    fcntl(w->resp_fd, F_SETFL, O_NONBLOCK);
    double deadline = now_sec() + SB_START_TIMEOUT;
    for (;;) {
        const uint8_t *pl;
        uint32_t len;
        size_t total;
        int got = take_frame(&w->in, "BRDY", &pl, &len, &total, e);
        if (got < 0) {
            worker_down(w);
            return -1;
        }
        if (got) {
            *rep = xmalloc(len + 1);
            memcpy(*rep, pl, len);
            (*rep)[len] = 0;
            consume(&w->in, total);
            return 0;
        }
        struct pollfd pfd = {w->resp_fd, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)(wait_budget(deadline) * 1000));
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) {
            worker_down(w);
            return berr_set(e, "sandbox: worker %d not ready after %.0f s", (int)pid, SB_START_TIMEOUT);
        }
        if (read_some(w->resp_fd, &w->in) == 0) {
            int st = 0;
            waitpid(pid, &st, 0);
            w->pid = 0;
            worker_down(w);
            return berr_set(e, "sandbox: worker exited during start-up (status 0x%x); its stderr says why", st);
        }
    }
}

static int restart(sandbox *sb, sb_worker *w, berr *e) {
    worker_down(w);
    char *rep = NULL;
    sb_launch_fail fail;
    if (worker_up(sb, w, &rep, &fail, e)) return -1;
    free(rep);
    sb->st.restarts++;
    return 0;
}

// ---- opening ----------------------------------------------------------------------------------------

static int plan_layers(sandbox *sb, berr *e) {
    sb_plan *p = &sb->plan;
    sandbox_layers *L = &sb->layers;
    int ns = sb_probe_namespaces();
    static const int nslayers[] = {SB_USERNS, SB_MNTNS, SB_PIDNS, SB_NETNS, SB_IPCNS};
    for (size_t i = 0; i < sizeof nslayers / sizeof nslayers[0]; i++) {
        int l = nslayers[i];
        p->use[l] = (ns >> l) & 1;
        if (!p->use[l]) set_note(sb, l, "unavailable: clone(2) refused this namespace");
    }
    p->landlock_abi = sb_landlock_abi();
    p->use[SB_LANDLOCK] = p->landlock_abi > 0;
    if (!p->use[SB_LANDLOCK]) set_note(sb, SB_LANDLOCK, "unavailable: the kernel has no Landlock");
    p->use[SB_SECCOMP] = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
    if (!p->use[SB_SECCOMP]) set_note(sb, SB_SECCOMP, "unavailable: the kernel has no seccomp");
    p->use[SB_UNPRIV] = 1;  // root maps or switches to sandbox_uid; others are unprivileged already
    p->use[SB_NO_NEW_PRIVS] = 1;
    p->use[SB_RLIMITS] = 1;
    for (int l = 0; l < SB_LAYER_COUNT; l++)
        if (sb->cfg.disable_mask & (1 << l)) {
            p->use[l] = 0;
            set_note(sb, l, "disabled by configuration");
        }
    char missing[512] = "";
    for (int l = 0; l < SB_LAYER_COUNT; l++)
        if (!p->use[l]) {
            size_t n = strlen(missing);
            snprintf(missing + n, sizeof missing - n, "%s%s (%s)", n ? ", " : "", sandbox_layer_name(l), L->note[l]);
        }
    if (missing[0] && !sb->cfg.allow_weak)
        return berr_set(e, "sandbox: required layers unavailable: %s; refusing to run untrusted code "
                           "(--allow-weak-sandbox accepts a weaker sandbox)", missing);
    return 0;
}

// Whether a uid other than the directories' owners can walk down to path (o+x everywhere).
static int walkable_by_others(const char *path) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + strlen(buf); s > buf; s = strrchr(buf, '/')) {
        struct stat st;
        if (stat(buf, &st) || !(st.st_mode & S_IXOTH)) return 0;
        *s = 0;
        if (!strrchr(buf, '/')) break;
    }
    return 1;
}

static int setup_scratch(sandbox *sb, berr *e) {
    for (int i = 0; i < sb->nw; i++) {
        free(sb->w[i].scratch);
        free(sb->w[i].host_scratch);
        sb->w[i].scratch = sb->w[i].host_scratch = NULL;
    }
    if (sb->plan.use[SB_MNTNS]) {
        for (int i = 0; i < sb->nw; i++) sb->w[i].scratch = xstrdup("/scratch");
        return 0;
    }
    if (!sb->scratch_root) {
        const char *parent = sb->cfg.scratch_parent ? sb->cfg.scratch_parent : getenv("TMPDIR");
        if (!parent || !*parent) parent = "/tmp";
        char *tmpl = xasprintf("%s/berry-sandbox-XXXXXX", parent);
        if (!mkdtemp(tmpl)) {
            int err = errno;
            free(tmpl);
            return berr_set(e, "sandbox: cannot create scratch under %s: %s", parent, strerror(err));
        }
        sb->scratch_root = tmpl;
        chmod(tmpl, 0711);
        if (sb->plan.host_is_root && sb->plan.use[SB_UNPRIV] && !walkable_by_others(tmpl))
            return berr_set(e, "sandbox: scratch %s is out of reach of the sandbox uid %u (every directory on the path "
                               "needs o+x); choose another scratch parent", tmpl, sb->plan.outside_uid);
    }
    for (int i = 0; i < sb->nw; i++) {
        char *d = xasprintf("%s/w%d", sb->scratch_root, i);
        if (mkdir(d, 0700) && errno != EEXIST) {
            int err = errno;
            free(d);
            return berr_set(e, "sandbox: mkdir scratch: %s", strerror(err));
        }
        if (sb->plan.host_is_root && sb->plan.use[SB_UNPRIV]) {
            if (chown(d, sb->plan.outside_uid, sb->plan.outside_gid)) {
                int err = errno;
                free(d);
                return berr_set(e, "sandbox: chown scratch: %s", strerror(err));
            }
        }
        sb->w[i].host_scratch = d;
        sb->w[i].scratch = xstrdup(d);
    }
    return 0;
}

static int build_plan(sandbox *sb, berr *e) {
    sb_plan *p = &sb->plan;
    int use[SB_LAYER_COUNT];
    memcpy(use, p->use, sizeof use);
    int abi = p->landlock_abi;
    sb_plan_free(p);
    memcpy(p->use, use, sizeof use);
    p->landlock_abi = abi;
    p->host_is_root = geteuid() == 0;
    p->host_uid = (uint32_t)geteuid();
    p->host_gid = (uint32_t)getegid();
    p->outside_uid = p->host_is_root ? sb->cfg.sandbox_uid : p->host_uid;
    p->outside_gid = p->host_is_root ? sb->cfg.sandbox_gid : p->host_gid;
    p->scratch_bytes = sb->cfg.scratch_bytes;
    if (sb_plan_paths(p, sb->cfg.python, preimport, NPREIMPORT, p->use[SB_MNTNS], e)) return -1;
    if (p->use[SB_MNTNS] && sb_plan_newroot(p, e)) return -1;
    p->argv[0] = p->python;
    p->argv[1] = "-s";
    p->argv[2] = "-S";
    p->argv[3] = "-B";
    p->argv[4] = "-c";
    p->argv[5] = (char *)sb_harness_py;
    p->argv[6] = NULL;
    p->envp[0] = "PYTHONHASHSEED=0";
    p->envp[1] = NULL;
    return setup_scratch(sb, e);
}

static int run_probe(sandbox *sb, berr *e);

sandbox *sandbox_open(const sandbox_config *cfg, berr *e) {
    if (cfg->workers < 1 || cfg->workers > 256) {
        berr_set(e, "sandbox: workers must be in [1, 256] (got %d)", cfg->workers);
        return NULL;
    }
    if (sandbox_limits_validate(&cfg->limits, e)) return NULL;
    if (cfg->scratch_bytes < (1 << 20)) {
        berr_set(e, "sandbox: scratch size must be at least 1M");
        return NULL;
    }
    signal(SIGPIPE, SIG_IGN);
    sandbox *sb = xcalloc(1, sizeof *sb);
    sb->cfg = *cfg;
    sb->plan.host_is_root = geteuid() == 0;
    sb->nw = cfg->workers;
    sb->w = xcalloc((size_t)sb->nw, sizeof(sb_worker));
    for (int i = 0; i < sb->nw; i++) sb->w[i].req_fd = sb->w[i].resp_fd = -1;
    if (plan_layers(sb, e)) goto fail;
    if (sb_seccomp_program(SB_FILTER_TEMPLATE, &sb->tbpf, e) || sb_seccomp_program(SB_FILTER_CANDIDATE, &sb->cbpf, e))
        goto fail;
    // Start worker 0; a layer whose set-up fails is dropped only if a weaker sandbox is allowed.
    char *rep = NULL;
    for (int attempt = 0;; attempt++) {
        if (build_plan(sb, e)) goto fail;
        sb_launch_fail lf;
        if (worker_up(sb, &sb->w[0], &rep, &lf, e) == 0) break;
        if (lf.layer < 0 || !sb->plan.use[lf.layer] || !cfg->allow_weak || attempt >= SB_LAYER_COUNT) {
            if (lf.layer >= 0 && !cfg->allow_weak)
                berr_wrap(e, "sandbox: cannot set up the %s layer; refusing to run untrusted code "
                             "(--allow-weak-sandbox accepts a weaker sandbox)", sandbox_layer_name(lf.layer));
            goto fail;
        }
        sb->plan.use[lf.layer] = 0;
        set_note(sb, lf.layer, "unavailable: set-up failed at %s: %s", lf.what, strerror(lf.err));
        logf_(sb, "sandbox: %s layer failed (%s: %s); continuing without it (--allow-weak-sandbox)\n",
              sandbox_layer_name(lf.layer), lf.what, strerror(lf.err));
    }
    confirm_layers(sb, sb->w[0].pid, rep);
    free(rep);
    for (int i = 1; i < sb->nw; i++) {
        sb_launch_fail lf;
        char *r = NULL;
        if (worker_up(sb, &sb->w[i], &r, &lf, e)) goto fail;
        free(r);
    }
    sb->layers.active[SB_RLIMITS] = 0;
    if (run_probe(sb, e)) goto fail;
    int weak = 0;
    for (int l = 0; l < SB_LAYER_COUNT; l++)
        if (!sb->layers.active[l]) {
            weak = 1;
            if (!sb->layers.note[l][0]) set_note(sb, l, "not active");
        }
    if (weak && !cfg->allow_weak) {
        char missing[256] = "";
        for (int l = 0; l < SB_LAYER_COUNT; l++)
            if (!sb->layers.active[l]) {
                size_t n = strlen(missing);
                snprintf(missing + n, sizeof missing - n, "%s%s", n ? ", " : "", sandbox_layer_name(l));
            }
        berr_set(e, "sandbox: layers not confirmed on a live worker: %s; refusing to run untrusted code "
                    "(--allow-weak-sandbox accepts a weaker sandbox)", missing);
        goto fail;
    }
    return sb;
fail:
    sandbox_close(sb);
    return NULL;
}

// A check that must pass only if the candidate process really has the configured rlimits
// and (when planned) the seccomp filter: confirms both layers where they matter.
static int run_probe(sandbox *sb, berr *e) {
    const sandbox_limits *l = &sb->cfg.limits;
    long cpu = (long)ceil(l->cpu_seconds);
    char tests[1024];
    int n = snprintf(tests, sizeof tests,
                     "assert limits() == [[%ld, %ld], [%lld, %lld], [%lld, %lld], [%d, %d], [%d, %d], [0, 0]]\n", cpu,
                     cpu + 1, (long long)l->memory_bytes, (long long)l->memory_bytes, (long long)l->file_bytes,
                     (long long)l->file_bytes, l->open_files, l->open_files, l->processes, l->processes);
    if (sb->plan.use[SB_SECCOMP]) snprintf(tests + n, sizeof tests - (size_t)n, "assert seccomp_mode() == 2\n");
    static const char code[] =
        "import resource, ctypes\n"
        "def limits():\n"
        "    return [list(resource.getrlimit(r)) for r in (resource.RLIMIT_CPU, resource.RLIMIT_AS,\n"
        "            resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC, resource.RLIMIT_CORE)]\n"
        "def seccomp_mode():\n"
        "    return ctypes.CDLL(None).prctl(21, 0, 0, 0, 0)\n";
    sandbox_job job = {code, strlen(code), tests, strlen(tests), NULL};
    sandbox_result r;
    if (sandbox_run(sb, &job, 1, &r, e)) return berr_wrap(e, "sandbox: self-test check");
    sb->st.checks = 0;
    memset(sb->st.by_outcome, 0, sizeof sb->st.by_outcome);
    if (r.outcome != OUTCOME_PASS) {
        sb->layers.active[SB_RLIMITS] = 0;
        static const char *const names[] = {"pass", "fail", "timeout", "crash", "violation"};
        set_note(sb, SB_RLIMITS, "NOT confirmed: self-test check: %s: %s", r.outcome < 5 ? names[r.outcome] : "?",
                 r.detail);
        if (sb->plan.use[SB_SECCOMP]) {
            sb->layers.active[SB_SECCOMP] = 0;
            set_note(sb, SB_SECCOMP, "NOT confirmed in the candidate process: %s", r.detail);
        }
        return 0;
    }
    sb->layers.active[SB_RLIMITS] = 1;
    set_note(sb, SB_RLIMITS, "confirmed in a candidate: cpu %lds, as %lldM, fsize %lldM, nofile %d, nproc %d, core 0", cpu,
             (long long)(l->memory_bytes >> 20), (long long)(l->file_bytes >> 20), l->open_files, l->processes);
    return 0;
}

// ---- running checks --------------------------------------------------------------------------------

static void fill_fail(sandbox_result *r, uint32_t outcome, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fill_fail(sandbox_result *r, uint32_t outcome, const char *fmt, ...) {
    memset(r, 0, sizeof *r);
    r->outcome = outcome;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

static int send_job(sandbox *sb, sb_worker *w, const sandbox_job *job, size_t idx) {
    const sandbox_limits *l = job->limits ? job->limits : &sb->cfg.limits;
    bbuf p = {0}, out = {0};
    w->seq++;
    bbuf_u64(&p, w->seq);
    bbuf_u32(&p, (uint32_t)ceil(l->cpu_seconds * 1000));
    bbuf_u32(&p, (uint32_t)ceil(l->wall_seconds * 1000));
    bbuf_u64(&p, (uint64_t)l->memory_bytes);
    bbuf_u64(&p, (uint64_t)l->file_bytes);
    bbuf_u64(&p, (uint64_t)l->output_bytes);
    bbuf_u32(&p, (uint32_t)l->open_files);
    bbuf_u32(&p, (uint32_t)l->processes);
    put_blob(&p, job->code, job->code_len);
    put_blob(&p, job->tests, job->tests_len);
    frame(&out, "BREQ", &p);
    int rc = write_all(w->req_fd, out.p, out.n);
    bbuf_free(&p), bbuf_free(&out);
    if (rc) return -1;
    w->busy = 1;
    w->job = idx;
    w->start = now_sec();
    w->deadline = w->start + l->wall_seconds + SB_REPLY_GRACE;
    return 0;
}

// Parses a verdict frame; returns 1 when one was complete, 0 if more bytes are needed.
static int take_verdict(sb_worker *w, sandbox_result *r, berr *e) {
    const uint8_t *pl;
    uint32_t len;
    size_t total;
    int got = take_frame(&w->in, "BVER", &pl, &len, &total, e);
    if (got <= 0) return got;
    const size_t fixed = 8 + 4 + 4 + 4 + 8 + 8;
    if (len < fixed + 4) return berr_set(e, "sandbox: short verdict frame");
    uint64_t seq = le64(pl);
    if (seq != w->seq) return berr_set(e, "sandbox: verdict for check %llu, expected %llu", (unsigned long long)seq,
                                       (unsigned long long)w->seq);
    memset(r, 0, sizeof *r);
    r->outcome = le32(pl + 8);
    r->tests_passed = le32(pl + 12);
    r->tests_total = le32(pl + 16);
    double cpu;
    uint64_t bits = le64(pl + 20);
    memcpy(&cpu, &bits, 8);
    r->cpu_seconds = cpu;
    r->output_total = le64(pl + 28);
    size_t pos = fixed;
    uint32_t dlen = le32(pl + pos);
    pos += 4;
    if (pos + dlen + 4 > len) return berr_set(e, "sandbox: malformed verdict frame");
    size_t keep = dlen < sizeof r->detail - 1 ? dlen : sizeof r->detail - 1;
    memcpy(r->detail, pl + pos, keep);
    pos += dlen;
    uint32_t olen = le32(pl + pos);
    pos += 4;
    if (pos + olen > len) return berr_set(e, "sandbox: malformed verdict frame");
    r->output_len = olen < sizeof r->output ? olen : sizeof r->output;
    memcpy(r->output, pl + pos, r->output_len);
    if (r->outcome > SANDBOX_OUTCOME_ERROR) return berr_set(e, "sandbox: verdict with unknown outcome %u", r->outcome);
    consume(&w->in, total);
    return 1;
}

static void reap_idle(sandbox *sb);

int sandbox_run(sandbox *sb, const sandbox_job *jobs, size_t n, sandbox_result *out, berr *e) {
    reap_idle(sb);
    size_t next = 0, inflight = 0;
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].outcome = SANDBOX_OUTCOME_NOT_RUN;
    }
    struct pollfd *pfd = xcalloc((size_t)sb->nw, sizeof *pfd);
    int *pw = xcalloc((size_t)sb->nw, sizeof *pw);
    while ((next < n && !failed) || inflight > 0) {
        for (int i = 0; i < sb->nw && next < n && !failed; i++) {
            sb_worker *w = &sb->w[i];
            if (w->busy) continue;
            const sandbox_job *job = &jobs[next];
            size_t need = 8 + 56 + 8 + job->code_len + job->tests_len;
            if (job->limits && sandbox_limits_validate(job->limits, e)) {
                fill_fail(&out[next], SANDBOX_OUTCOME_ERROR, "%s", e->msg);
                berr_wrap(e, "sandbox: job %zu", next);
                failed = 1;
                break;
            }
            if (job->code_len > SANDBOX_MAX_CODE) {
                fill_fail(&out[next], OUTCOME_FAIL, "candidate code of %zu bytes exceeds the %d-byte limit", job->code_len,
                          SANDBOX_MAX_CODE);
                next++;
                continue;
            }
            if (need > sb->pipe_cap) {
                if (job->tests_len + 4096 > sb->pipe_cap) {
                    berr_set(e, "sandbox: job %zu: tests of %zu bytes exceed the %zu-byte request limit", next,
                             job->tests_len, sb->pipe_cap);
                    fill_fail(&out[next], SANDBOX_OUTCOME_ERROR, "%s", e->msg);
                    failed = 1;
                    break;
                }
                fill_fail(&out[next], OUTCOME_FAIL, "candidate code of %zu bytes exceeds the %zu-byte request limit",
                          job->code_len, sb->pipe_cap - job->tests_len - 4096);
                next++;
                continue;
            }
            int tries = 0;
            while (!w->pid || send_job(sb, w, job, next)) {
                if (tries++ >= 2 || restart(sb, w, e)) {
                    failed = 1;
                    break;
                }
            }
            if (failed) break;
            next++;
            inflight++;
        }
        if (!inflight) continue;
        int np = 0;
        double soonest = 1e30;
        for (int i = 0; i < sb->nw; i++)
            if (sb->w[i].busy) {
                pfd[np] = (struct pollfd){sb->w[i].resp_fd, POLLIN, 0};
                pw[np++] = i;
                if (sb->w[i].deadline < soonest) soonest = sb->w[i].deadline;
            }
        int pr = poll(pfd, (nfds_t)np, (int)(wait_budget(soonest) * 1000) + 1);
        if (pr < 0 && errno != EINTR) {
            berr_set(e, "sandbox: poll: %s", strerror(errno));
            failed = 1;
            break;
        }
        double t = now_sec();
        for (int k = 0; k < np; k++) {
            sb_worker *w = &sb->w[pw[k]];
            sandbox_result *r = &out[w->job];
            if (pfd[k].revents) {
                ssize_t got = read_some(w->resp_fd, &w->in);
                berr pe;
                int v = take_verdict(w, r, &pe);
                if (v == 1) {
                    r->wall_seconds = t - w->start;
                    w->busy = 0;
                    inflight--;
                    if (r->outcome == SANDBOX_OUTCOME_ERROR) {
                        if (!failed) berr_set(e, "sandbox: job %zu: %s", w->job, r->detail);
                        failed = 1;
                        continue;
                    }
                    sb->st.checks++;
                    sb->st.by_outcome[r->outcome]++;
                    continue;
                }
                if (v < 0 || got == 0) {
                    fill_fail(r, OUTCOME_CRASH, "sandbox worker failed during the check (%s); restarted",
                              v < 0 ? pe.msg : "it exited");
                    r->wall_seconds = t - w->start;
                    worker_down(w);
                    inflight--;
                    sb->st.checks++;
                    sb->st.by_outcome[r->outcome]++;
                    continue;
                }
            }
            if (w->busy && t >= w->deadline) {
                fill_fail(r, OUTCOME_TIMEOUT, "no verdict %.1f s past the wall-clock limit; worker killed and restarted",
                          SB_REPLY_GRACE);
                r->wall_seconds = t - w->start;
                worker_down(w);
                inflight--;
                sb->st.checks++;
                sb->st.by_outcome[r->outcome]++;
            }
        }
    }
    free(pfd);
    free(pw);
    return failed ? -1 : 0;
}

// Notices workers that died while idle (killed from outside, out of memory): they are
// reaped and restarted when next needed.
static void reap_idle(sandbox *sb) {
    for (int i = 0; i < sb->nw; i++) {
        sb_worker *w = &sb->w[i];
        if (w->pid > 0 && !w->busy && waitpid(w->pid, NULL, WNOHANG) == w->pid) {
            w->pid = 0;
            worker_down(w);
        }
    }
}

int sandbox_worker_pids(sandbox *sb, pid_t *pids, int max) {
    reap_idle(sb);
    int k = 0;
    for (int i = 0; i < sb->nw && k < max; i++)
        if (sb->w[i].pid > 0) pids[k++] = sb->w[i].pid;
    return k;
}

void sandbox_get_stats(const sandbox *sb, sandbox_stats *st) { *st = sb->st; }

void sandbox_close(sandbox *sb) {
    if (!sb) return;
    // Closing the request pipe makes the judge exit, and with it the template.
    for (int i = 0; i < sb->nw; i++) {
        if (sb->w[i].req_fd >= 0) close(sb->w[i].req_fd);
        sb->w[i].req_fd = -1;
    }
    double deadline = now_sec() + 2.0;
    for (int i = 0; i < sb->nw; i++) {
        sb_worker *w = &sb->w[i];
        while (w->pid > 0) {
            pid_t r = waitpid(w->pid, NULL, WNOHANG);
            if (r == w->pid || (r < 0 && errno != EINTR)) {
                w->pid = 0;
                break;
            }
            if (now_sec() > deadline) break;
            usleep(2000);
        }
        worker_down(w);
        bbuf_free(&w->in);
        if (w->host_scratch) remove_tree(w->host_scratch);
        free(w->scratch);
        free(w->host_scratch);
    }
    if (sb->scratch_root) {
        remove_tree(sb->scratch_root);
        free(sb->scratch_root);
    }
    free(sb->w);
    bbuf_free(&sb->tbpf);
    bbuf_free(&sb->cbpf);
    sb_plan_free(&sb->plan);
    free(sb);
}
