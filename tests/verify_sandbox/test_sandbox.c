// test_sandbox.c — the sandbox against hostile programs (tests/verify_sandbox/hostile/*.py),
// the judge protocol, the layer report and the weaker configurations.
//
// After every hostile check: a normal check passes on the same pool, the worker holds
// exactly its three processes (template, judge, the next idle candidate; counted through
// /proc by PID namespace), its scratch holds only the next check's empty directory, and
// no file appeared on the host (cwd, /tmp, $HOME) and no connection reached the host.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kernels/base.h"
#include "shards/records.h"
#include "tests/test.h"
#include "verify/sandbox.h"

static const char *const outcome_names[] = {"pass", "fail", "timeout", "crash", "violation"};
static const char *oname(uint32_t o) { return o < 5 ? outcome_names[o] : "?"; }

// ---- host-side bait: files, sockets, a secret -----------------------------------------------------

static char secret_dir[64], secret_path[128], secret_token[64], tmp_file[128], home_file[256], cwd_file[4096],
    unix_path[100];
static int tcp_fd = -1, udp_fd = -1, unix_fd = -1, tcp_port, udp_port;

static int listen_inet(int type, int *port) {
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || (type == SOCK_STREAM && listen(fd, 8)) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        die("test: cannot set up a loopback socket: %s", strerror(errno));
    *port = ntohs(a.sin_port);
    return fd;
}

static void setup_bait(void) {
    snprintf(secret_dir, sizeof secret_dir, "/tmp/berry-secret-XXXXXX");
    if (!mkdtemp(secret_dir)) die("mkdtemp: %s", strerror(errno));
    uint64_t s = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(now_sec() * 1e6);
    snprintf(secret_token, sizeof secret_token, "secret-%016llx", (unsigned long long)rng_next(&s));
    snprintf(secret_path, sizeof secret_path, "%s/secret.txt", secret_dir);
    berr e;
    if (write_file_atomic(secret_path, secret_token, strlen(secret_token), &e)) die("%s", e.msg);
    snprintf(tmp_file, sizeof tmp_file, "/tmp/berry-hostile-%d.txt", (int)getpid());
    const char *home = getenv("HOME");
    snprintf(home_file, sizeof home_file, "%s/berry-hostile-%d", home && *home ? home : "/root", (int)getpid());
    char cwd[2048];
    if (!getcwd(cwd, sizeof cwd)) die("getcwd: %s", strerror(errno));
    snprintf(cwd_file, sizeof cwd_file, "%s/berry-hostile-cwd-%d", cwd, (int)getpid());
    tcp_fd = listen_inet(SOCK_STREAM, &tcp_port);
    udp_fd = listen_inet(SOCK_DGRAM, &udp_port);
    snprintf(unix_path, sizeof unix_path, "%s/sock", secret_dir);
    unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    memcpy(u.sun_path, unix_path, strlen(unix_path) + 1);
    if (unix_fd < 0 || bind(unix_fd, (struct sockaddr *)&u, sizeof u) || listen(unix_fd, 8))
        die("test: unix socket: %s", strerror(errno));
}

static void teardown_bait(void) {
    close(tcp_fd), close(udp_fd), close(unix_fd);
    unlink(unix_path);
    unlink(secret_path);
    rmdir(secret_dir);
}

static int exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

// Nothing reached the host: no file, no connection, no datagram, the secret intact.
static void check_host_untouched(const char *name) {
    CHECK(!exists(tmp_file), "%s: created %s", name, tmp_file);
    CHECK(!exists(home_file), "%s: created %s", name, home_file);
    CHECK(!exists(cwd_file), "%s: created %s", name, cwd_file);
    CHECK(!exists("pwned.txt"), "%s: created pwned.txt in the host's cwd", name);
    int c = accept(tcp_fd, NULL, NULL);
    CHECK(c < 0 && errno == EAGAIN, "%s: a TCP connection reached the host", name);
    if (c >= 0) close(c);
    char buf[16];
    CHECK(recv(udp_fd, buf, sizeof buf, MSG_DONTWAIT) < 0, "%s: a UDP datagram reached the host", name);
    c = accept(unix_fd, NULL, NULL);
    CHECK(c < 0 && errno == EAGAIN, "%s: a unix connection reached the host", name);
    if (c >= 0) close(c);
    char *text = NULL;
    size_t len = 0;
    berr e;
    CHECK(read_file(secret_path, &text, &len, &e) == 0 && len == strlen(secret_token) &&
              memcmp(text, secret_token, len) == 0, "%s: the secret file changed", name);
    free(text);
}

// ---- nothing left behind in the workers ----------------------------------------------------------

static int ns_link(pid_t pid, const char *ns, char *out, size_t cap) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)pid, ns);
    ssize_t n = readlink(p, out, cap - 1);
    if (n < 0) return -1;
    out[n] = 0;
    return 0;
}

static long proc_ppid(pid_t pid) {
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "re");
    if (!f) return -1;
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "PPid:", 5) == 0) v = strtol(line + 5, NULL, 10);
    fclose(f);
    return v;
}

// Processes of one worker: those in its PID namespace (own pidns), else its descendants.
static int worker_processes(pid_t tpid, int pidns) {
    char want[128], have[128];
    if (ns_link(tpid, "pid", want, sizeof want)) return -1;
    DIR *d = opendir("/proc");
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        if (pidns) {
            if (ns_link((pid_t)pid, "pid", have, sizeof have) == 0 && strcmp(have, want) == 0) count++;
        } else {
            for (long p = pid; p > 1; p = proc_ppid((pid_t)p))
                if (p == tpid) {
                    count++;
                    break;
                }
        }
    }
    closedir(d);
    return count;
}

// Entries of the worker's scratch root; *empty tells whether each entry is an empty dir.
static int scratch_entries(const char *root, int *all_empty) {
    DIR *d = opendir(root);
    if (!d) return -1;
    int n = 0;
    *all_empty = 1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        n++;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", root, de->d_name);
        DIR *s = opendir(sub);
        if (!s) {
            *all_empty = 0;
            continue;
        }
        struct dirent *x;
        while ((x = readdir(s)))
            if (strcmp(x->d_name, ".") && strcmp(x->d_name, "..")) *all_empty = 0;
        closedir(s);
    }
    closedir(d);
    return n;
}

// Waits (briefly: the template forks the next candidate after reporting) until every worker
// is back to template + judge + one idle candidate and an empty scratch.
static void check_workers_clean(sandbox *sb, const char *name, const char *host_scratch_root) {
    const sandbox_layers *L = sandbox_get_layers(sb);
    pid_t pids[16];
    int n = sandbox_worker_pids(sb, pids, 16);
    CHECK(n > 0, "%s: no live workers", name);
    for (int i = 0; i < n; i++) {
        char root[256];
        if (L->active[SB_MNTNS]) snprintf(root, sizeof root, "/proc/%d/root/scratch", (int)pids[i]);
        else snprintf(root, sizeof root, "%s/w%d", host_scratch_root ? host_scratch_root : "", i);
        int procs = -1, entries = -1, empty = 0;
        double until = now_sec() + 3.0;
        do {
            procs = worker_processes(pids[i], L->active[SB_PIDNS]);
            entries = scratch_entries(root, &empty);
            if (procs == 3 && entries == 1 && empty) break;
            usleep(5000);
        } while (now_sec() < until);
        CHECK(procs == 3, "%s: worker %d has %d processes (want template, judge, idle candidate)", name, (int)pids[i],
              procs);
        CHECK(entries == 1 && empty, "%s: worker %d scratch %s has %d entries (empty: %d)", name, (int)pids[i], root,
              entries, empty);
    }
}

// ---- running fixtures -----------------------------------------------------------------------------

static char *replace_all(const char *s, const char *from, const char *to) {
    bbuf b = {0};
    size_t fl = strlen(from);
    for (const char *p; (p = strstr(s, from)); s = p + fl) {
        bbuf_put(&b, s, (size_t)(p - s));
        bbuf_put(&b, to, strlen(to));
    }
    bbuf_put(&b, s, strlen(s) + 1);
    return (char *)b.p;
}

static char *load_fixture(const char *name) {
    char path[256], *text = NULL, num[16];
    size_t len;
    berr e;
    snprintf(path, sizeof path, "tests/verify_sandbox/hostile/%s.py", name);
    if (read_file(path, &text, &len, &e)) die("%s", e.msg);
    struct {
        const char *key, *val;
    } subst[] = {{"@SECRET@", secret_path}, {"@TMPFILE@", tmp_file}, {"@HOMEFILE@", home_file},
                 {"@CWDFILE@", cwd_file}, {"@UNIXSOCK@", unix_path}, {"@PORT@", num}};
    snprintf(num, sizeof num, "%d", strcmp(name, "socket_udp") == 0 ? udp_port : tcp_port);
    for (size_t i = 0; i < sizeof subst / sizeof subst[0]; i++) {
        char *t = replace_all(text, subst[i].key, subst[i].val);
        free(text);
        text = t;
    }
    return text;
}

static sandbox_limits test_limits(void) {
    sandbox_limits l = {.cpu_seconds = 1, .wall_seconds = 2, .memory_bytes = 256LL << 20, .file_bytes = 1 << 20,
                        .output_bytes = 64 << 10, .open_files = 32, .processes = 16};
    return l;
}

static int run_one_wall(sandbox *sb, const char *code, const char *tests, double wall, sandbox_result *r) {
    sandbox_limits l = test_limits();
    if (wall > 0) l.wall_seconds = wall;
    sandbox_job j = {code, strlen(code), tests, strlen(tests), &l};
    berr e;
    if (sandbox_run(sb, &j, 1, r, &e)) {
        fprintf(stderr, "sandbox_run: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int run_one(sandbox *sb, const char *code, const char *tests, sandbox_result *r) {
    return run_one_wall(sb, code, tests, 0, r);
}

static const char good_code[] = "def g(a, b):\n    return a * b + 1\n";
static const char good_tests[] = "assert g(2, 3) == 7\nassert g(0, 5) == 1\n";

static void check_good(sandbox *sb, const char *after) {
    sandbox_result r;
    CHECK(run_one(sb, good_code, good_tests, &r) == 0 && r.outcome == OUTCOME_PASS && r.tests_passed == 2,
          "normal check after %s: %s: %s", after, oname(r.outcome), r.detail);
}

typedef struct hostile {
    const char *name;
    const char *tests;
    uint32_t expect;
    const char *detail_has;  // substring of the verdict's detail (NULL: anything)
    double wall;             // wall-clock limit if not the default (2 s)
} hostile;

#define T1 "assert f() == 1\n"
#define TX "assert f(2) == 4\nassert f(3) == 6\nassert f(5) == 10\n"

static const hostile hostiles[] = {
    {"fork_bomb", T1, OUTCOME_VIOLATION, "seccomp"},
    {"thread_bomb", T1, OUTCOME_FAIL, "can't start new thread"},
    {"memory_bomb", T1, OUTCOME_FAIL, "MemoryError"},
    // A long wall limit, so that the CPU limit (1 s) ends them even on a loaded machine.
    {"infinite_loop", T1, OUTCOME_TIMEOUT, "CPU limit", 20},
    {"sleep_past_wall", T1, OUTCOME_TIMEOUT, "wall-clock"},
    {"busy_ignore_signals", T1, OUTCOME_TIMEOUT, "CPU limit", 20},  // SIGXCPU ignored: the hard limit kills
    {"huge_stdout", T1, OUTCOME_VIOLATION, "output exceeded"},
    {"write_cwd", "assert f() == 'written'\n", OUTCOME_FAIL, "Error"},
    {"write_tmp", "assert f() == 'written'\n", OUTCOME_FAIL, "Error"},
    {"write_home", "assert f() == 'written'\n", OUTCOME_FAIL, "Error"},
    {"read_secret", "assert f() == '@TOKEN@'\n", OUTCOME_FAIL, "Error"},
    {"socket_tcp", "assert f() == 'connected'\n", OUTCOME_FAIL, "PermissionError"},  // socket(2): EACCES
    {"socket_udp", "assert f() == 'sent'\n", OUTCOME_FAIL, "PermissionError"},
    {"socket_unix", "assert f() == 'connected'\n", OUTCOME_FAIL, "PermissionError"},
    {"exec_sh", T1, OUTCOME_VIOLATION, "seccomp"},
    {"subprocess_sh", "assert f() == b'pwned\\n'\n", OUTCOME_VIOLATION, "seccomp"},
    {"ptrace", "assert f() == 0\n", OUTCOME_VIOLATION, "seccomp"},
    {"kill_all", T1, OUTCOME_VIOLATION, "seccomp"},
    {"kill_parent", T1, OUTCOME_VIOLATION, "seccomp"},
    {"tgkill_template", "assert f() == [-1, 1]\n", OUTCOME_PASS, NULL},  // EPERM from the Landlock scope
    {"change_rlimits", T1, OUTCOME_VIOLATION, "seccomp"},
    {"ctypes_mount", "assert f() == 0\n", OUTCOME_VIOLATION, "seccomp"},
    {"ctypes_x32", "assert f() > 0\n", OUTCOME_VIOLATION, "seccomp"},
    {"enosys_calls", "assert f() == [[-1, 38], [-1, 38], [-1, 38]]\n", OUTCOME_PASS, NULL},
    {"patch_harness", TX, OUTCOME_FAIL, "1/3 tests passed"},  // as good as returning 4
    {"always_equal", TX, OUTCOME_FAIL, "unsupported type Anything"},
    {"imitate_stdout", TX, OUTCOME_FAIL, "0/3 tests passed"},
    {"imitate_fd", TX, OUTCOME_VIOLATION, "exceed"},  // its "BVER" reads as a 1.4 GB length
    {"deep_recursion", T1, OUTCOME_FAIL, "RecursionError"},
    {"deep_c_recursion", T1, OUTCOME_CRASH, "SIGSEGV"},
    {"exit_zero", TX, OUTCOME_CRASH, "exited with status 0"},
    {"scratch_mess", "assert f() == 'messy'\n", OUTCOME_PASS, NULL},
    {"proc_and_env", "assert f() == {'proc_error': 'FileNotFoundError'}\n", OUTCOME_PASS, NULL},
};

static void run_hostile(sandbox *sb, const hostile *h, const char *host_scratch_root) {
    char *code = load_fixture(h->name);
    char *tests = replace_all(h->tests, "@TOKEN@", secret_token);
    sandbox_result r;
    double t0 = now_sec();
    int rc = run_one_wall(sb, code, tests, h->wall, &r);
    CHECK(rc == 0, "%s: sandbox_run failed", h->name);
    if (rc == 0) {
        CHECK(r.outcome == h->expect, "%s: outcome %s, want %s: %s", h->name, oname(r.outcome), oname(h->expect),
              r.detail);
        CHECK(!h->detail_has || strstr(r.detail, h->detail_has), "%s: detail lacks \"%s\": %s", h->name, h->detail_has,
              r.detail);
        CHECK(!strstr(r.detail, secret_token) && !memmem(r.output, r.output_len, secret_token, strlen(secret_token)),
              "%s: the secret leaked into the verdict", h->name);
        printf("  %-20s %-9s %5.2fs cpu %5.2fs  %s\n", h->name, oname(r.outcome), now_sec() - t0, r.cpu_seconds,
               r.detail);
    }
    check_good(sb, h->name);
    check_host_untouched(h->name);
    check_workers_clean(sb, h->name, host_scratch_root);
    free(code);
    free(tests);
}

// ---- the classes of issue 19: a hostile check between two correct ones, on one worker ----------------
// Each case runs as one batch [correct, hostile, correct] on a pool of one worker, so the
// second correct check runs in the same worker right after the hostile one. Asserted: the
// hostile verdict and its reason, both correct verdicts, the judge's CPU on the hostile
// check, no worker restart, nothing left behind.

typedef struct class_case {
    const char *name;
    const char *tests;
    uint32_t expect;
    const char *detail_has;
    double wall;           // wall-clock limit if not the default (2 s)
    double judge_cpu_max;  // bound on the judge's CPU for the hostile check (0: not checked)
} class_case;

// Hidden tests that loop over the candidate's answer quadratically, in the judge.
#define QUADRATIC "xs = f()\nassert len([1 for a in xs for b in xs if a == b]) == 0\n"

static const class_case class_cases[] = {
    // A candidate cannot end the run: forged set-up failures are verdicts of this check.
    {"forge_setup_fatal", TX, OUTCOME_VIOLATION, "protocol", 0, 0},
    {"setup_status", TX, OUTCOME_CRASH, "status 70", 0, 0},
    // The judge's limits: linear decoding, bounded replies, its own CPU limit.
    {"collide_set", "assert f() == set()\n", OUTCOME_VIOLATION, "built to collide", 0, 0.5},
    {"collide_dict", "assert f() == {}\n", OUTCOME_VIOLATION, "built to collide", 0, 0.5},
    {"collide_patched", T1, OUTCOME_VIOLATION, "built to collide", 0, 0.5},
    {"nested_reply", "assert f() == []\n", OUTCOME_FAIL, "0/1 tests passed", 0, 1.0},
    {"huge_reply", T1, OUTCOME_VIOLATION, "answers exceed", 0, 0.3},
    {"huge_exception", T1, OUTCOME_FAIL, "candidate output \"", 0, 0.2},
    {"judge_quadratic", QUADRATIC, OUTCOME_VIOLATION, "judge's CPU limit", 20, 2.5},
    // The worker's clean-up survives any permissions on the scratch.
    {"chmod_scratch", good_tests, OUTCOME_PASS, NULL, 0, 0},
    // No channel between concurrent candidates (x86_64 errnos).
    {"lock_channels", "assert f() == [37, 37, 37, 37, 1, 38, 30, 38, 38, 95]\n", OUTCOME_PASS, NULL, 0, 0},
    // Timeout by measured CPU; the file-size limit as the verdict table says.
    {"raise_sigxcpu", T1, OUTCOME_CRASH, "SIGXCPU", 0, 0},
    {"file_size", T1, OUTCOME_VIOLATION, "file size", 0, 0},
};

// The judge of a worker: the template's child with the largest peak memory (the other is
// the idle candidate, a fresh fork).
static pid_t judge_of(pid_t tpid, long *hwm_kb, long *rss_kb) {
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)tpid, (int)tpid);
    FILE *f = fopen(path, "re");
    pid_t best = 0;
    *hwm_kb = *rss_kb = 0;
    int pid;
    while (f && fscanf(f, "%d", &pid) == 1) {
        char sp[64], line[256];
        long hwm = 0, rss = 0;
        snprintf(sp, sizeof sp, "/proc/%d/status", pid);
        FILE *g = fopen(sp, "re");
        while (g && fgets(line, sizeof line, g)) {
            if (!strncmp(line, "VmHWM:", 6)) hwm = strtol(line + 6, NULL, 10);
            if (!strncmp(line, "VmRSS:", 6)) rss = strtol(line + 6, NULL, 10);
        }
        if (g) fclose(g);
        if (hwm > *hwm_kb) *hwm_kb = hwm, *rss_kb = rss, best = (pid_t)pid;
    }
    if (f) fclose(f);
    return best;
}

static void run_class_case(sandbox *sb, const class_case *c) {
    char *code = load_fixture(c->name);
    sandbox_limits l = test_limits(), lh = test_limits();
    if (c->wall > 0) lh.wall_seconds = c->wall;
    sandbox_job jobs[3] = {{good_code, strlen(good_code), good_tests, strlen(good_tests), &l},
                           {code, strlen(code), c->tests, strlen(c->tests), &lh},
                           {good_code, strlen(good_code), good_tests, strlen(good_tests), &l}};
    sandbox_result r[3];
    sandbox_stats before, after;
    sandbox_get_stats(sb, &before);
    berr e;
    double t0 = now_sec();
    int rc = sandbox_run(sb, jobs, 3, r, &e);
    CHECK(rc == 0, "%s: the batch failed: %s", c->name, rc ? e.msg : "");
    sandbox_get_stats(sb, &after);
    if (rc == 0) {
        printf("  %-18s %-9s %5.2fs cpu %5.2fs judge %5.3fs  %s\n", c->name, oname(r[1].outcome), now_sec() - t0,
               r[1].cpu_seconds, r[1].judge_cpu_seconds, r[1].detail);
        CHECK(r[1].outcome == c->expect && (!c->detail_has || strstr(r[1].detail, c->detail_has)),
              "%s: outcome %s, want %s with \"%s\": %s", c->name, oname(r[1].outcome), oname(c->expect),
              c->detail_has ? c->detail_has : "", r[1].detail);
        CHECK(r[0].outcome == OUTCOME_PASS && r[2].outcome == OUTCOME_PASS,
              "%s: correct checks beside it: %s (%s), %s (%s)", c->name, oname(r[0].outcome), r[0].detail,
              oname(r[2].outcome), r[2].detail);
        CHECK(!c->judge_cpu_max || r[1].judge_cpu_seconds <= c->judge_cpu_max, "%s: the judge spent %.3f s (bound %.2f)",
              c->name, r[1].judge_cpu_seconds, c->judge_cpu_max);
    }
    CHECK(after.restarts == before.restarts, "%s: the worker was restarted", c->name);
    check_host_untouched(c->name);
    check_workers_clean(sb, c->name, NULL);
    free(code);
}

static void test_classes(void) {
    sandbox_config c;
    sandbox_config_default(&c);
    c.workers = 1;
    berr e;
    sandbox *sb = sandbox_open(&c, &e);
    CHECK(sb != NULL, "one-worker pool: %s", sb ? "" : e.msg);
    if (!sb) return;
    printf("classes of hostile checks (between two correct ones, one worker):\n");
    pid_t tpid;
    long hwm0, rss0, hwm, rss;
    sandbox_worker_pids(sb, &tpid, 1);
    judge_of(tpid, &hwm0, &rss0);
    for (size_t i = 0; i < sizeof class_cases / sizeof class_cases[0]; i++) {
        run_class_case(sb, &class_cases[i]);
        if (!strcmp(class_cases[i].name, "nested_reply")) {
            // The densest reply within the budget: bounded peak, memory given back.
            sandbox_worker_pids(sb, &tpid, 1);
            judge_of(tpid, &hwm, &rss);
            printf("  judge memory: before %ld kB, peak %ld kB, after %ld kB\n", rss0, hwm, rss);
            CHECK(hwm < 160 * 1024, "nested_reply: the judge peaked at %ld kB", hwm);
            CHECK(rss < rss0 + 24 * 1024, "nested_reply: the judge kept %ld kB (had %ld kB)", rss, rss0);
        }
    }
    sandbox_close(sb);
}

// ---- the judge protocol on ordinary code -------------------------------------------------------------

static void test_verdicts(sandbox *sb) {
    sandbox_result r;
    const char *sq = "def sq(x):\n    return x * x\n";
    const char *sq_tests = "assert sq(2) == 4\nassert sq(-3) == 9\nassert sq(10) == 100\n";
    CHECK(run_one(sb, sq, sq_tests, &r) == 0 && r.outcome == OUTCOME_PASS && r.tests_passed == 3 && r.tests_total == 3,
          "correct code: %s: %s", oname(r.outcome), r.detail);
    CHECK(strstr(r.detail, "3/3 tests passed") != NULL, "pass detail: %s", r.detail);
    CHECK(r.cpu_seconds > 0 && r.cpu_seconds < 1, "cpu time of a quick check: %g", r.cpu_seconds);

    const char *partial = "def sq(x):\n    return x * x if x > 0 else 0\n";
    CHECK(run_one(sb, partial, sq_tests, &r) == 0 && r.outcome == OUTCOME_FAIL && r.tests_passed == 2 &&
              r.tests_total == 3 && strstr(r.detail, "2/3 tests passed") && strstr(r.detail, "line 2"),
          "partial code: %s: %s", oname(r.outcome), r.detail);

    CHECK(run_one(sb, "def sq(x)\n    return x\n", sq_tests, &r) == 0 && r.outcome == OUTCOME_FAIL &&
              r.tests_passed == 0 && strstr(r.detail, "SyntaxError") && strstr(r.detail, "0/3"),
          "syntax error: %s: %s", oname(r.outcome), r.detail);

    CHECK(run_one(sb, "def sq(x):\n    return 1 // (x - 2)\n", sq_tests, &r) == 0 && r.outcome == OUTCOME_FAIL &&
              strstr(r.detail, "ZeroDivisionError"),
          "exception: %s: %s", oname(r.outcome), r.detail);

    CHECK(run_one(sb, "raise ValueError('at import')\ndef sq(x):\n    return x * x\n", sq_tests, &r) == 0 &&
              r.outcome == OUTCOME_FAIL && strstr(r.detail, "ValueError: at import"),
          "exception at import: %s: %s", oname(r.outcome), r.detail);

    // A crash part-way through a batch of calls still reports the tests passed before it
    // (answers are sent early once a batch runs long).
    const char *crash_late =
        "import ctypes, time\n"
        "def sq(x):\n"
        "    if x == 10:\n"
        "        ctypes.string_at(0)\n"
        "    time.sleep(0.03)\n"
        "    return x * x\n";
    CHECK(run_one(sb, crash_late, sq_tests, &r) == 0 && r.outcome == OUTCOME_CRASH && strstr(r.detail, "SIGSEGV") &&
              strstr(r.detail, "2/3 tests passed"),
          "crash in the third call: %s: %s", oname(r.outcome), r.detail);

    CHECK(run_one(sb, "def other(x):\n    return x\n", sq_tests, &r) == 0 && r.outcome == OUTCOME_FAIL &&
              strstr(r.detail, "NameError"),
          "missing function: %s: %s", oname(r.outcome), r.detail);

    CHECK(run_one(sb, "import sys\nsys.exit(0)\n", sq_tests, &r) == 0 && r.outcome == OUTCOME_FAIL &&
              strstr(r.detail, "SystemExit"),
          "sys.exit at import: %s: %s", oname(r.outcome), r.detail);

    // Plain data of every supported type crosses intact, both ways, with keyword arguments.
    const char *data =
        "def echo(x, *, twice=False):\n"
        "    return (x, x) if twice else x\n"
        "def mk():\n"
        "    return {'a': [1, 2.5, None, True], (1, 'b'): {3, 4}, 'f': frozenset({5}), 'by': b'\\x00\\xff',\n"
        "            'big': 3 ** 200, 'neg': -7, 'c': 1 + 2j, 'inf': float('inf'), 's': 'h\\u00e9\\U0001f600'}\n";
    const char *data_tests =
        "assert echo([1, (2, 3)]) == [1, (2, 3)]\n"
        "assert echo({'k': {1: 'v'}}, twice=True) == ({'k': {1: 'v'}}, {'k': {1: 'v'}})\n"
        "assert type(echo((1,))) is tuple\n"
        "m = mk()\n"
        "assert m['big'] == 3 ** 200 and m[(1, 'b')] == {3, 4} and m['by'] == b'\\x00\\xff'\n"
        "assert m['c'] == 1 + 2j and m['inf'] == float('inf') and m['s'] == 'h\\u00e9\\U0001f600'\n"
        "assert m == {'a': [1, 2.5, None, True], (1, 'b'): {3, 4}, 'f': frozenset({5}), 'by': b'\\x00\\xff', "
        "'big': 3 ** 200, 'neg': -7, 'c': 1 + 2j, 'inf': float('inf'), 's': 'h\\u00e9\\U0001f600'}\n";
    CHECK(run_one(sb, data, data_tests, &r) == 0 && r.outcome == OUTCOME_PASS, "plain data: %s: %s", oname(r.outcome),
          r.detail);

    // What ordinary solutions do must work under the allowlist.
    const char *normal =
        "import json, re, math, random, datetime, decimal, fractions, heapq, collections, itertools\n"
        "import threading, time, os\n"
        "def work(n):\n"
        "    out = []\n"
        "    t = threading.Thread(target=lambda: out.append(sum(range(n))))\n"
        "    t.start(); t.join()\n"
        "    time.sleep(0.01)\n"
        "    with open('notes.txt', 'w') as fh: fh.write(json.dumps({'n': n}))\n"
        "    with open('notes.txt') as fh: back = json.load(fh)['n']\n"
        "    os.remove('notes.txt')\n"
        "    words = re.findall(r'\\w+', 'a bc def')\n"
        "    h = []\n"
        "    for w in words: heapq.heappush(h, len(w))\n"
        "    print('debug', n)\n"
        "    return [out[0], back, h[0], math.isqrt(n * n), str(decimal.Decimal(n) / 4),\n"
        "            str(fractions.Fraction(n, 6)), datetime.date(2020, 1, 1).isoformat(),\n"
        "            collections.Counter('aab')['a'], list(itertools.islice(itertools.count(), 3))]\n";
    const char *normal_tests = "assert work(12) == [66, 12, 1, 12, '3', '2', '2020-01-01', 2, [0, 1, 2]]\n";
    CHECK(run_one(sb, normal, normal_tests, &r) == 0 && r.outcome == OUTCOME_PASS, "normal program: %s: %s",
          oname(r.outcome), r.detail);
    CHECK(r.output_total > 0 && memmem(r.output, r.output_len, "debug 12", 8), "captured output: %.*s",
          (int)r.output_len, r.output);

    // Candidates cannot see the expected values: the tests stay in the judge.
    const char *peek =
        "import gc, sys\n"
        "def f(x):\n"
        "    blob = repr([o for o in gc.get_objects() if isinstance(o, (str, bytes))])\n"
        "    return 'EXPECTED-MARKER' in blob\n";
    CHECK(run_one(sb, peek, "assert f(1) == False, 'EXPECTED-MARKER'\n", &r) == 0 && r.outcome == OUTCOME_PASS,
          "the tests leaked into the candidate: %s: %s", oname(r.outcome), r.detail);

    // Code beyond the size limit is a fail without running anything.
    size_t big = SANDBOX_MAX_CODE + 10;
    char *huge = xmalloc(big + 1);
    memset(huge, '#', big);
    huge[big] = 0;
    CHECK(run_one(sb, huge, sq_tests, &r) == 0 && r.outcome == OUTCOME_FAIL && strstr(r.detail, "exceeds"),
          "oversized code: %s: %s", oname(r.outcome), r.detail);
    free(huge);

    // Problem-data errors are errors of the run, not verdicts.
    sandbox_limits l = test_limits();
    const char *bad_tests = "assert sq(2) ==\n";
    sandbox_job j = {sq, strlen(sq), bad_tests, strlen(bad_tests), &l};
    berr e;
    CHECK(sandbox_run(sb, &j, 1, &r, &e) == -1 && strstr(e.msg, "do not parse"), "unparsable tests: %s", e.msg);
    j.tests = "";
    j.tests_len = 0;
    CHECK(sandbox_run(sb, &j, 1, &r, &e) == -1 && strstr(e.msg, "empty"), "empty tests: %s", e.msg);
    check_good(sb, "problem-data errors");
}

// A batch over both workers: hostile and normal checks side by side.
static void test_batch(sandbox *sb) {
    static const char *const names[] = {"fork_bomb", "memory_bomb", "huge_stdout", "kill_all", "thread_bomb", "exit_zero"};
    enum { N = 24 };
    sandbox_job jobs[N];
    sandbox_result res[N];
    char *codes[N];
    sandbox_limits l = test_limits();
    for (int i = 0; i < N; i++) {
        int hostile = i % 2 == 0;
        codes[i] = hostile ? load_fixture(names[(i / 2) % 6]) : xstrdup(good_code);
        const char *tests = hostile ? T1 : good_tests;
        jobs[i] = (sandbox_job){codes[i], strlen(codes[i]), tests, strlen(tests), &l};
    }
    berr e;
    int rc = sandbox_run(sb, jobs, N, res, &e);
    CHECK(rc == 0, "batch: %s", rc ? e.msg : "");
    int good_pass = 0, hostile_pass = 0;
    for (int i = 0; i < N; i++) {
        if (i % 2) good_pass += res[i].outcome == OUTCOME_PASS;
        else hostile_pass += res[i].outcome == OUTCOME_PASS;
        free(codes[i]);
    }
    CHECK(good_pass == N / 2, "batch: %d of %d normal checks passed", good_pass, N / 2);
    CHECK(hostile_pass == 0, "batch: %d hostile checks passed", hostile_pass);
    check_workers_clean(sb, "batch", NULL);
}

// The host's own guards: a worker killed while idle is restarted for the next check, and a
// worker that gives no verdict in time (here: hidden tests that sleep in the judge) is
// killed, its check reported as a timeout, and restarted.
static void test_restarts(sandbox *sb) {
    sandbox_stats before, after;
    sandbox_get_stats(sb, &before);
    pid_t pids[4];
    int n = sandbox_worker_pids(sb, pids, 4);
    CHECK(n >= 2, "%d workers", n);
    for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
    usleep(50000);
    check_good(sb, "killing the idle workers");
    sandbox_result r;
    const char *slow_tests = "import time\ntime.sleep(30)\nassert g(1, 1) == 2\n";
    double t0 = now_sec();
    CHECK(run_one(sb, good_code, slow_tests, &r) == 0 && r.outcome == OUTCOME_TIMEOUT && strstr(r.detail, "restarted"),
          "silent worker: %s: %s", oname(r.outcome), r.detail);
    CHECK(now_sec() - t0 < 10, "the silent worker was killed after %.1f s", now_sec() - t0);
    check_good(sb, "a silent worker");
    sandbox_get_stats(sb, &after);
    CHECK(after.restarts >= before.restarts + 2, "restarts %llu -> %llu", (unsigned long long)before.restarts,
          (unsigned long long)after.restarts);
    check_workers_clean(sb, "restarts", NULL);
}

// Without the explicit flag, a missing layer is refused; with it, the weaker sandbox runs,
// says what is off, and still contains the basics.
static void test_weak(void) {
    sandbox_config c;
    sandbox_config_default(&c);
    c.workers = 1;
    c.disable_mask = 1 << SB_MNTNS;
    berr e;
    sandbox *sb = sandbox_open(&c, &e);
    CHECK(sb == NULL && strstr(e.msg, "refusing") && strstr(e.msg, "mntns"), "a missing layer must be refused: %s",
          sb ? "opened" : e.msg);
    sandbox_close(sb);

    char parent[] = "/tmp/berry-weak-XXXXXX";
    if (!mkdtemp(parent) || chmod(parent, 0711)) die("mkdtemp: %s", strerror(errno));
    c.allow_weak = 1;
    c.scratch_parent = parent;
    // Without a mount namespace the worker's uid must reach the interpreter itself (a
    // pyenv python under /root is out of reach of uid 65534); the system one is not.
    if (access("/usr/bin/python3", X_OK) == 0) c.python = "/usr/bin/python3";
    c.disable_mask = (1 << SB_USERNS) | (1 << SB_MNTNS) | (1 << SB_PIDNS) | (1 << SB_NETNS) | (1 << SB_IPCNS);
    sb = sandbox_open(&c, &e);
    CHECK(sb != NULL, "weak sandbox: %s", sb ? "" : e.msg);
    if (!sb) {
        rmdir(parent);
        return;
    }
    const sandbox_layers *L = sandbox_get_layers(sb);
    CHECK(!L->active[SB_USERNS] && !L->active[SB_MNTNS] && !L->active[SB_PIDNS], "weak: namespaces reported active");
    CHECK(L->active[SB_LANDLOCK] && L->active[SB_SECCOMP] && L->active[SB_RLIMITS] && L->active[SB_UNPRIV],
          "weak: the remaining layers must stay active");
    sandbox_print_layers(L, stdout);
    DIR *d = opendir(parent);
    char root[512] = "";
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strncmp(de->d_name, "berry-sandbox-", 14) == 0) snprintf(root, sizeof root, "%s/%s", parent, de->d_name);
    if (d) closedir(d);
    CHECK(root[0], "weak: no host scratch under %s", parent);
    static const char *const subset[] = {"fork_bomb", "write_tmp", "write_cwd", "read_secret", "kill_parent",
                                         "tgkill_template", "socket_tcp", "scratch_mess", "infinite_loop"};
    for (size_t i = 0; i < sizeof subset / sizeof subset[0]; i++)
        for (size_t k = 0; k < sizeof hostiles / sizeof hostiles[0]; k++)
            if (!strcmp(hostiles[k].name, subset[i])) run_hostile(sb, &hostiles[k], root);
    sandbox_close(sb);
    CHECK(!exists(root), "weak: host scratch %s not removed", root);
    rmdir(parent);
}

int main(void) {
    setup_bait();
    sandbox_config c;
    sandbox_config_default(&c);
    c.workers = 2;
    c.log = stdout;
    berr e;
    double t0 = now_sec();
    sandbox *sb = sandbox_open(&c, &e);
    CHECK(sb != NULL, "sandbox_open: %s", sb ? "" : e.msg);
    if (!sb) {
        teardown_bait();
        return test_summary();
    }
    printf("sandbox open in %.2fs; layers:\n", now_sec() - t0);
    const sandbox_layers *L = sandbox_get_layers(sb);
    sandbox_print_layers(L, stdout);
    for (int l = 0; l < SB_LAYER_COUNT; l++) CHECK(L->active[l], "layer %s not active: %s", sandbox_layer_name(l), L->note[l]);
    CHECK(L->outside_uid != 0, "workers run as root outside");

    test_verdicts(sb);
    test_classes();
    printf("hostile programs:\n");
    for (size_t i = 0; i < sizeof hostiles / sizeof hostiles[0]; i++) run_hostile(sb, &hostiles[i], NULL);
    test_batch(sb);
    test_restarts(sb);
    sandbox_stats st;
    sandbox_get_stats(sb, &st);
    printf("checks %llu, worker restarts %llu\n", (unsigned long long)st.checks, (unsigned long long)st.restarts);
    pid_t pids[4];
    int n = sandbox_worker_pids(sb, pids, 4);
    sandbox_close(sb);
    usleep(20000);
    for (int i = 0; i < n; i++) CHECK(kill(pids[i], 0) != 0, "worker %d still alive after close", (int)pids[i]);
    test_weak();
    teardown_bait();
    return test_summary();
}
