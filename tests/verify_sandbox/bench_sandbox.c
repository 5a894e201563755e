// bench_sandbox.c — sandboxed code checks per second against a plain `python3` subprocess
// per check, in the same run, on the same generated code problems (reference solutions,
// half of them broken so both verdicts occur). As in RL, each problem is checked many
// times (POOL problems, cycled). Also the CPU each check costs, by process: the host, the
// templates (forking), the candidates, the judges. Checks go through a check stream, as in
// `verify check` (verdicts in order, the pool scheduling them one by one).
//
// With --hostile NAME (a program of tests/verify_sandbox/hostile/), the completions are all
// references, and the run is done twice: alone, then with --hostile-count copies of NAME
// spread among them; it reports what the hostile checks cost against the bar (their wall
// limits spread over the workers).
//
//   bench_sandbox [--checks N] [--plain N] [--workers W] [--parallel P] [--python PATH]
//                 [--hostile NAME [--hostile-count K]]
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "verify/check.h"
#include "verify/code.h"
#include "verify/sandbox.h"
#include "verify/tasks.h"

extern char **environ;

// utime+stime (and the reaped children's) of a process, seconds.
static double proc_cpu(pid_t pid, int with_children) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    unsigned long long v[20] = {0};
    // fields after ") ": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17)
    char *tok = strtok(p + 2, " ");
    for (int field = 3; tok && field <= 17; field++, tok = strtok(NULL, " ")) v[field] = strtoull(tok, NULL, 10);
    double hz = (double)sysconf(_SC_CLK_TCK);
    return (double)(v[14] + v[15] + (with_children ? v[16] + v[17] : 0)) / hz;
}

// The judge of a template is its one child that is not an idle candidate: the one with the
// most CPU (candidates are fresh).
static double children_cpu(pid_t parent) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "/proc/%d/task/%d/children", (int)parent, (int)parent);
    FILE *f = fopen(cmd, "re");
    if (!f) return 0;
    double best = 0;
    int pid;
    while (fscanf(f, "%d", &pid) == 1) {
        double c = proc_cpu(pid, 0);
        if (c > best) best = c;
    }
    fclose(f);
    return best;
}

typedef struct cpu_split {
    double host, templates, candidates, judges;
} cpu_split;

static void measure(sandbox *sb, cpu_split *c) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    c->host = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
    pid_t pids[256];
    int n = sandbox_worker_pids(sb, pids, 256);
    c->templates = c->candidates = c->judges = 0;
    for (int i = 0; i < n; i++) {
        c->templates += proc_cpu(pids[i], 0);
        c->candidates += proc_cpu(pids[i], 1) - proc_cpu(pids[i], 0);
        c->judges += children_cpu(pids[i]);
    }
}

// A plain check: python3 -c "<candidate>\n<tests>" — exit status 0 when every assert holds.
static int plain_batch(const char *python, int lean, char **scripts, int nscripts, int n, int parallel, int *passed) {
    pid_t *pids = calloc((size_t)parallel, sizeof *pids);
    int next = 0, running = 0;
    *passed = 0;
    while (next < n || running) {
        while (running < parallel && next < n) {
            char *script = scripts[next % nscripts];
            char *argv[] = {(char *)python, lean ? "-I" : "-c", lean ? "-S" : script, lean ? "-c" : NULL,
                            lean ? script : NULL, NULL};
            pid_t pid;
            posix_spawn_file_actions_t fa;
            posix_spawn_file_actions_init(&fa);
            posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
            posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
            int rc = posix_spawn(&pid, python, &fa, NULL, argv, environ);
            if (rc) {
                fprintf(stderr, "posix_spawn %s: %s\n", python, strerror(rc));
                return -1;
            }
            posix_spawn_file_actions_destroy(&fa);
            for (int k = 0; k < parallel; k++)
                if (!pids[k]) {
                    pids[k] = pid;
                    break;
                }
            running++;
            next++;
        }
        int st;
        pid_t done = wait(&st);
        for (int k = 0; k < parallel; k++)
            if (pids[k] == done) pids[k] = 0;
        running--;
        *passed += WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    free(pids);
    return 0;
}

// Checks n items through a check stream (as `verify check` does); returns how many
// passed (by outcome in by[] if given), -1 on an error.
static int run_stream(sandbox *sb, const check_item *items, size_t n, uint64_t *by, berr *e) {
    check_stream *cs = check_stream_open(sb, NULL);
    size_t added = 0;
    int passed = 0;
    if (by) memset(by, 0, 5 * sizeof *by);
    for (size_t done = 0; done < n; done++) {
        while (added < n && check_stream_pending(cs) < 8192)
            if (check_stream_add(cs, &items[added++], e)) goto fail;
        check_verdict v;
        if (check_stream_next(cs, 1, &v, e) != 1) goto fail;
        passed += v.outcome == OUTCOME_PASS;
        if (by && v.outcome < 5) by[v.outcome]++;
    }
    check_stream_close(cs);
    return passed;
fail:
    check_stream_close(cs);
    return -1;
}

int main(int argc, char **argv) {
    int checks = 2000, plain = 120, workers = 0, parallel = 0, hostile_count = 8;
    const char *python = NULL, *hostile = NULL;
    static const struct option opts[] = {{"checks", required_argument, 0, 'n'}, {"plain", required_argument, 0, 'p'},
                                         {"workers", required_argument, 0, 'w'}, {"parallel", required_argument, 0, 'j'},
                                         {"python", required_argument, 0, 'y'}, {"hostile", required_argument, 0, 'H'},
                                         {"hostile-count", required_argument, 0, 'k'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    berr e;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'n' && parse_int("checks", optarg, 1, 10000000, &checks, &e)) die("%s", e.msg);
        if (o == 'p' && parse_int("plain", optarg, 1, 100000, &plain, &e)) die("%s", e.msg);
        if (o == 'w' && parse_int("workers", optarg, 1, 256, &workers, &e)) die("%s", e.msg);
        if (o == 'j' && parse_int("parallel", optarg, 1, 256, &parallel, &e)) die("%s", e.msg);
        if (o == 'y') python = optarg;
        if (o == 'H') hostile = optarg;
        if (o == 'k' && parse_int("hostile-count", optarg, 1, 100000, &hostile_count, &e)) die("%s", e.msg);
        if (o == 'h') {
            printf("usage: bench_sandbox [--checks N] [--plain N] [--workers W] [--parallel P] [--python PATH]\n"
                   "                     [--hostile NAME [--hostile-count K]]\n");
            return 0;
        }
        if (o == '?') return 2;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (!workers) workers = (int)(cpus * 2);
    if (!parallel) parallel = (int)cpus;

    // The problems: code tasks of every level; every other completion broken.
    enum { POOL = 128 };
    problem_rec *probs = calloc(POOL, sizeof *probs);
    char **texts = calloc(POOL, sizeof *texts), **scripts = calloc(POOL, sizeof *scripts);
    for (int i = 0; i < POOL; i++) {
        tasks_make(TASK_CODE, 1 + i % 5, 0xbe9c0000ull + (uint64_t)i, -1, 10, &probs[i]);
        const char *ans = strstr(probs[i].solution, "<|answer|>") + 10;
        if (i % 2 == 0 || hostile) texts[i] = xasprintf("%s<|endoftext|>", probs[i].solution);
        else  // an early `return None` after the def line: a constant function, which fails some test
            texts[i] = xasprintf("<|answer|>%.*s\n    return None\n%s<|endoftext|>", (int)(strchr(ans, '\n') - ans), ans,
                                 strchr(ans, '\n') + 1);
        const char *src;
        size_t n;
        char why[64];
        if (code_extract(texts[i], strlen(texts[i]), &src, &n, why, sizeof why)) die("bench: %s", why);
        scripts[i] = xasprintf("%.*s\n%s", (int)n, src, probs[i].tests);
    }

    sandbox_config c;
    sandbox_config_default(&c);
    c.workers = workers;
    if (python) c.python = python;
    double t0 = now_sec();
    sandbox *sb = sandbox_open(&c, &e);
    if (!sb) die("%s", e.msg);
    double open_s = now_sec() - t0;
    char *real_python = xstrdup(sandbox_python(sb));
    printf("machine: %ld CPUs; load average:", cpus);
    double la[3];
    if (getloadavg(la, 3) == 3) printf(" %.2f %.2f %.2f", la[0], la[1], la[2]);
    printf("\ninterpreter: %s\n", real_python);
    printf("sandbox: %d workers, all layers %s, started in %.2f s\n", workers, "confirmed", open_s);
    for (int l = 0; l < SB_LAYER_COUNT; l++)
        if (!sandbox_get_layers(sb)->active[l]) die("bench: layer %s is off", sandbox_layer_name(l));

    // Warm-up (every judge sees the problems once and keeps their compiled tests), then the
    // timed run.
    check_item *items = calloc((size_t)checks + (size_t)hostile_count, sizeof *items);
    for (int round = 0; round < 2 * workers; round++) {
        for (int i = 0; i < POOL; i++) items[i] = (check_item){&probs[i], texts[i], strlen(texts[i])};
        if (run_stream(sb, items, POOL, NULL, &e) < 0) die("%s", e.msg);
    }
    for (int k = 0; k < checks; k++) {
        int i = k % POOL;
        items[k] = (check_item){&probs[i], texts[i], strlen(texts[i])};
    }
    cpu_split c0, c1;
    sandbox_stats s0, s1;
    measure(sb, &c0);
    sandbox_get_stats(sb, &s0);
    t0 = now_sec();
    int passed = run_stream(sb, items, (size_t)checks, NULL, &e);
    if (passed < 0) die("%s", e.msg);
    double sand_s = now_sec() - t0;
    measure(sb, &c1);
    sandbox_get_stats(sb, &s1);
    if (passed != (hostile ? checks : (checks + 1) / 2))
        die("bench: %d of %d checks passed, expected %d", passed, checks, hostile ? checks : (checks + 1) / 2);
    double sand_rate = checks / sand_s;
    double per = 1e3 / checks;
    printf("sandboxed: %d checks (%d pass) in %.2f s = %.0f checks/s\n", checks, passed, sand_s, sand_rate);
    printf("  CPU per check: %.2f ms = host %.2f + templates (fork) %.2f + candidates %.2f + judges %.2f "
           "(the judges' own count: %.2f)\n",
           per * ((c1.host - c0.host) + (c1.templates - c0.templates) + (c1.candidates - c0.candidates) + (c1.judges - c0.judges)),
           per * (c1.host - c0.host), per * (c1.templates - c0.templates), per * (c1.candidates - c0.candidates),
           per * (c1.judges - c0.judges), per * (s1.judge_cpu - s0.judge_cpu));
    if (hostile) {
        // The same correct checks with hostile ones spread among them.
        char path[512], *code;
        size_t len;
        snprintf(path, sizeof path, "tests/verify_sandbox/hostile/%s.py", hostile);
        if (read_file(path, &code, &len, &e)) die("bench: %s (run from the repository root)", e.msg);
        char *htext = xasprintf("<|answer|>%s<|endoftext|>", code);
        free(code);
        int n = 0, every = checks / hostile_count;
        for (int k = 0; k < checks; k++) {
            int i = k % POOL;
            items[n++] = (check_item){&probs[i], texts[i], strlen(texts[i])};
            if (k % every == every / 2 && n - (k + 1) < hostile_count) items[n++] = (check_item){&probs[i], htext, strlen(htext)};
        }
        uint64_t by[5];
        t0 = now_sec();
        int p = run_stream(sb, items, (size_t)n, by, &e);
        if (p < 0) die("%s", e.msg);
        double mixed_s = now_sec() - t0;
        const double wall = c.limits.wall_seconds, bar = (n - checks) * wall / workers;
        printf("with %d x %s among them: %d checks in %.2f s = %.0f checks/s (pass %llu fail %llu timeout %llu crash %llu "
               "violation %llu)\n", n - checks, hostile, n, mixed_s, n / mixed_s, (unsigned long long)by[0],
               (unsigned long long)by[1], (unsigned long long)by[2], (unsigned long long)by[3], (unsigned long long)by[4]);
        printf("hostile cost: %.2f s over the correct checks alone; bar (their %.0f s wall limits over %d workers): %.2f s: %s\n",
               mixed_s - sand_s, wall, workers, bar, mixed_s - sand_s <= bar ? "met" : "NOT met");
        if (p != checks) die("bench: %d of the %d correct checks passed", p, checks);
        free(htext);
    }
    sandbox_close(sb);

    double rates[2];
    for (int lean = 0; lean < 2; lean++) {
        int n = plain, ok;
        t0 = now_sec();
        if (plain_batch(real_python, lean, scripts, POOL, n, parallel, &ok)) die("bench: posix_spawn failed");
        double s = now_sec() - t0;
        rates[lean] = n / s;
        int want = 0;
        for (int i = 0; i < n; i++) want += hostile || i % POOL % 2 == 0;
        if (ok != want) die("bench: plain python3 passed %d of %d checks, expected %d", ok, n, want);
        printf("plain %s subprocess per check (%d at a time): %d checks in %.2f s = %.1f checks/s\n",
               lean ? "python3 -I -S" : "python3", parallel, n, s, rates[lean]);
    }
    printf("ratio: sandboxed / plain python3 = %.1fx; sandboxed / python3 -I -S = %.1fx\n", sand_rate / rates[0],
           sand_rate / rates[1]);
    printf("bar: >= 300 checks/s and >= 10x plain: %s\n", sand_rate >= 300 && sand_rate >= 10 * rates[0] ? "met" : "NOT met");
    for (int i = 0; i < POOL; i++) problem_free(&probs[i]), free(texts[i]), free(scripts[i]);
    free(probs), free(texts), free(scripts), free(items), free(real_python);
    return 0;
}
