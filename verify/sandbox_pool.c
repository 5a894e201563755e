// sandbox_pool.c — opening and closing the pool: choosing and confirming the layers,
// planning the workers' file system and scratch, starting the first workers, the self-test.
// One worker's life is sandbox_worker.c; scheduling checks is sandbox_dispatch.c.
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
        set_note(sb, SB_SECCOMP, "confirmed: template denylist %zu insns; candidates: worker allowlist %zu insns "
                 "(default kill) + own filter %zu insns", sb->tbpf.n / 8, sb->wbpf.n / 8, sb->cbpf.n / 8);
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
    for (int i = 0; i < sb->nslots; i++) {
        free(sb->w[i].scratch);
        free(sb->w[i].host_scratch);
        sb->w[i].scratch = sb->w[i].host_scratch = NULL;
    }
    if (sb->plan.use[SB_MNTNS]) {
        for (int i = 0; i < sb->nslots; i++) sb->w[i].scratch = xstrdup("/scratch");
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
    for (int i = 0; i < sb->nslots; i++) {
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
    if (sb_plan_paths(p, sb->cfg.python, sb_preimport, sb_npreimport, p->use[SB_MNTNS], e)) return -1;
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
    sb->nslots = 2 * sb->nw;  // the second half start only to take slow checks aside
    sb->w = xcalloc((size_t)sb->nslots, sizeof(sb_worker));
    for (int i = 0; i < sb->nslots; i++) sb->w[i].req_fd = sb->w[i].resp_fd = -1;
    if (plan_layers(sb, e)) goto fail;
    if (sb_seccomp_program(SB_FILTER_TEMPLATE, &sb->tbpf, e) || sb_seccomp_program(SB_FILTER_WORKER, &sb->wbpf, e) ||
        sb_seccomp_program(SB_FILTER_CANDIDATE, &sb->cbpf, e))
        goto fail;
    // Start worker 0; a layer whose set-up fails is dropped only if a weaker sandbox is allowed.
    char *rep = NULL;
    for (int attempt = 0;; attempt++) {
        if (build_plan(sb, e)) goto fail;
        sb_launch_fail lf;
        if (sb_worker_launch(sb, &sb->w[0], &lf, e) == 0 && sb_worker_wait_ready(sb, &sb->w[0], &rep, e) == 0) break;
        if (lf.layer < 0 || !sb->plan.use[lf.layer] || !cfg->allow_weak || attempt >= SB_LAYER_COUNT) {
            if (lf.layer >= 0 && !cfg->allow_weak)
                berr_wrap(e, "sandbox: cannot set up the %s layer; refusing to run untrusted code "
                             "(--allow-weak-sandbox accepts a weaker sandbox)", sandbox_layer_name(lf.layer));
            goto fail;
        }
        sb->plan.use[lf.layer] = 0;
        set_note(sb, lf.layer, "unavailable: set-up failed at %s: %s", lf.what, strerror(lf.err));
        sb_logf(sb, "sandbox: %s layer failed (%s: %s); continuing without it (--allow-weak-sandbox)\n",
              sandbox_layer_name(lf.layer), lf.what, strerror(lf.err));
    }
    confirm_layers(sb, sb->w[0].pid, rep);
    free(rep);
    // The others start side by side.
    for (int i = 1; i < sb->nw; i++) {
        sb_launch_fail lf;
        if (sb_worker_launch(sb, &sb->w[i], &lf, e)) goto fail;
    }
    for (int i = 1; i < sb->nw; i++)
        if (sb_worker_wait_ready(sb, &sb->w[i], NULL, e)) goto fail;
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
    // With seccomp: the filter is on, and it is the worker's allowlist (flock is refused
    // with ENOLCK by that filter alone).
    if (sb->plan.use[SB_SECCOMP])
        snprintf(tests + n, sizeof tests - (size_t)n, "assert seccomp_mode() == 2\nassert flock_errno() == %d\n", ENOLCK);
    static const char code[] =
        "import resource, ctypes\n"
        "def limits():\n"
        "    return [list(resource.getrlimit(r)) for r in (resource.RLIMIT_CPU, resource.RLIMIT_AS,\n"
        "            resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC, resource.RLIMIT_CORE)]\n"
        "def seccomp_mode():\n"
        "    return ctypes.CDLL(None).prctl(21, 0, 0, 0, 0)\n"
        "def flock_errno():\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    return ctypes.get_errno() if libc.flock(0, 1) == -1 else 0\n";
    sandbox_job job = {code, strlen(code), tests, strlen(tests), NULL};
    sandbox_result r;
    if (sandbox_run(sb, &job, 1, &r, e)) return berr_wrap(e, "sandbox: self-test check");
    sb->st.checks = 0;
    sb->st.judge_cpu = 0;
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

// Notices workers that died while idle (killed from outside, out of memory): they are
// reaped and started again when next needed.
static void reap_idle(sandbox *sb) {
    for (int i = 0; i < sb->nslots; i++) {
        sb_worker *w = &sb->w[i];
        if (w->pid > 0 && w->state == SB_W_IDLE && waitpid(w->pid, NULL, WNOHANG) == w->pid) {
            w->pid = 0;
            sb_worker_down(w);
        }
    }
}

int sandbox_worker_pids(sandbox *sb, pid_t *pids, int max) {
    reap_idle(sb);
    int k = 0;
    for (int i = 0; i < sb->nslots && k < max; i++)
        if (sb->w[i].pid > 0) pids[k++] = sb->w[i].pid;
    return k;
}

void sandbox_get_stats(const sandbox *sb, sandbox_stats *st) { *st = sb->st; }

void sandbox_close(sandbox *sb) {
    if (!sb) return;
    // Closing the request pipe makes the judge exit, and with it the template.
    for (int i = 0; i < sb->nslots; i++) {
        if (sb->w[i].req_fd >= 0) close(sb->w[i].req_fd);
        sb->w[i].req_fd = -1;
    }
    double deadline = now_sec() + 2.0;
    for (int i = 0; i < sb->nslots; i++) {
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
        sb_worker_down(w);
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
    for (size_t i = 0; i < sb->q_n; i++) bbuf_free(&sb->q[(sb->q_head + i) % sb->q_cap].frame);
    free(sb->q);
    free(sb->d);
    bbuf_free(&sb->tbpf);
    bbuf_free(&sb->wbpf);
    bbuf_free(&sb->cbpf);
    sb_plan_free(&sb->plan);
    free(sb);
}
