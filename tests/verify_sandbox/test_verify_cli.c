// test_verify_cli.c — build/bin/verify end to end: gen, corpus, check, sandbox-info, flag
// errors, and `verify run` as a streaming consumer of a trajectory directory that is still
// growing, killed with SIGKILL part-way and restarted: every leaf gets exactly one verdict,
// in input order, with the right outcome; no sandbox process outlives a killed run.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shards/stream.h"
#include "shards/tokenizer.h"
#include "tests/test.h"
#include "shards/problem_set.h"
#include "verify/tasks.h"

#define VERIFY "build/bin/verify"

static char *dir;  // scratch for this test

// Runs argv with stdout/stderr to a file; returns the exit status (or 128+signal); *out gets
// the output (malloc'd) when out != NULL.
static int run_cmd(char *const argv[], char **out) {
    char *log = xasprintf("%s/cmd.log", dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    if (out) {
        size_t n;
        berr e;
        if (read_file(log, out, &n, &e)) *out = xstrdup("");
    }
    free(log);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static pid_t spawn(char *const argv[], const char *log) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void test_flags(void) {
    char *out = NULL;
    char *help[] = {VERIFY, "--help", NULL};
    CHECK(run_cmd(help, &out) == 0 && strstr(out, "sandbox-info"), "verify --help: %s", out);
    free(out);
    static const char *const cmds[] = {"gen", "corpus", "check", "run", "sandbox-info"};
    for (size_t i = 0; i < 5; i++) {
        char *a[] = {VERIFY, (char *)cmds[i], "--help", NULL};
        CHECK(run_cmd(a, &out) == 0 && strstr(out, "usage: verify"), "verify %s --help: %s", cmds[i], out);
        free(out);
    }
    struct {
        char *argv[8];
        int rc;
        const char *msg;
    } bad[] = {
        {{VERIFY, "bogus", NULL}, 2, "unknown command"},
        {{VERIFY, "check", "--problems", "x", NULL}, 2, "required"},
        {{VERIFY, "check", "--workers", "0", NULL}, 2, "workers"},
        {{VERIFY, "check", "--memory", "12Q", NULL}, 2, "memory"},
        {{VERIFY, "run", "--part", "2", "--parts", "2", NULL}, 2, "required"},
        {{VERIFY, "gen", "--out", "/tmp/x", "--kinds", "poetry", NULL}, 2, "poetry"},
        {{VERIFY, "gen", "--filler-pct", "5", "--out", "/tmp/x", NULL}, 2, "verify gen: error: unknown option '--filler-pct'"},
        {{VERIFY, "sandbox-info", "--cpu-seconds", "-1", NULL}, 2, "cpu-seconds"},
        {{VERIFY, "check", "stray", NULL}, 2, "unexpected argument"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run_cmd(bad[i].argv, &out);
        CHECK(rc == bad[i].rc && strstr(out, bad[i].msg), "bad flags %zu: rc %d: %s", i, rc, out);
        free(out);
    }
}

static uint32_t *encode(const bpe *t, const char *s, uint32_t *n);

// As run_cmd, but kills the command after `seconds` (returns -1 then).
static int run_cmd_for(char *const argv[], double seconds, char **out) {
    char *log = xasprintf("%s/cmd.log", dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0, done = 0;
    for (double until = now_sec() + seconds; !done && now_sec() < until;) {
        if (waitpid(pid, &st, WNOHANG) == pid) done = 1;
        else usleep(20000);
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    size_t n;
    berr e;
    if (out && read_file(log, out, &n, &e)) *out = xstrdup("");
    free(log);
    return !done ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

// Each gen and corpus list their own options.
static void test_help_texts(void) {
    char *out = NULL;
    char *g[] = {VERIFY, "gen", "--help", NULL}, *c[] = {VERIFY, "corpus", "-h", NULL};
    CHECK(run_cmd(g, &out) == 0 && strstr(out, "--shard-records") && !strstr(out, "--filler-pct") && strstr(out, "--quiet"),
          "verify gen --help: %s", out);
    free(out);
    CHECK(run_cmd(c, &out) == 0 && strstr(out, "--filler-pct") && !strstr(out, "--shard-records") && strstr(out, "--quiet"),
          "verify corpus -h: %s", out);
    free(out);
}

// Mistakes a new user makes: each fails at once, says so, and leaves nothing behind.
static void test_mistakes(const char *pdir, const char *tokf, const bpe *tok) {
    char *out = NULL, *nope = xasprintf("%s/nope", dir), *v1 = xasprintf("%s/v1", dir);
    char *r1[] = {VERIFY, "run", "--problems", (char *)pdir, "--trajectories", nope, "--out", v1, "--tokenizer", (char *)tokf, NULL};
    int rc = run_cmd_for(r1, 20, &out);
    CHECK(rc == 1 && strstr(out, "verify run: error: --trajectories ") && strstr(out, "no such directory"),
          "a trajectory directory that does not exist: rc %d: %s", rc, out);
    CHECK(!exists(v1), "... and --out is not created");
    free(out);
    // A tree of a problem that is not in --problems: a permanent error, and nothing published.
    berr e;
    char *tdir = xasprintf("%s/stray_traj", dir), *v2 = xasprintf("%s/v2", dir);
    shard_dir_opts o;
    memset(&o, 0, sizeof o);
    shard_dir_writer *w = shard_dir_writer_open(tdir, "rollout", SHARD_TRAJECTORIES, TRAJ_SCHEMA, &o, &e);
    uint32_t n;
    uint32_t *ids = encode(tok, "<|answer|>1\n<|endoftext|>", &n);
    float *lp = xcalloc(n + 1, sizeof *lp);
    traj_node node = {.parent = TRAJ_ROOT, .finish = FINISH_EOT, .n_tokens = n, .tokens = ids, .logprobs = lp};
    traj_rec t = {12345, 0, n, ids, 1, &node};
    bbuf rec = {0};
    traj_encode(&rec, &t);
    CHECK(w && shard_dir_append(w, rec.p, rec.n, &e) == 0 && shard_dir_close(w, &e) == 0, "stray trajectories: %s", e.msg);
    char *r2[] = {VERIFY, "run", "--problems", (char *)pdir, "--trajectories", tdir, "--out", v2, "--tokenizer", (char *)tokf, NULL};
    rc = run_cmd_for(r2, 30, &out);
    CHECK(rc == 1 && strstr(out, "problem 12345 is not in the problem set") && !strstr(out, "run the same command again"),
          "a permanent error does not advise running again: rc %d: %s", rc, out);
    CHECK(!exists(v2), "... and the failed run leaves no --out (no lock file)");
    free(out);
    // An input that stays open past --idle-timeout: running again is the advice.
    char *odir = xasprintf("%s/open_traj", dir), *v3 = xasprintf("%s/v3", dir);
    w = shard_dir_writer_open(odir, "rollout", SHARD_TRAJECTORIES, TRAJ_SCHEMA, &o, &e);
    shard_dir_abort(w);  // (nothing published: the directory goes again)
    mkdir(odir, 0755);
    char *r3[] = {VERIFY, "run", "--problems", (char *)pdir, "--trajectories", odir, "--out", v3, "--tokenizer", (char *)tokf,
                  "--idle-timeout", "0.3", NULL};
    rc = run_cmd_for(r3, 30, &out);
    CHECK(rc == 1 && strstr(out, "is not closed") && strstr(out, "run the same command again"), "idle input: rc %d: %s", rc, out);
    free(out);
    // An output file that is a directory fails before the corpus is written.
    char *c1[] = {VERIFY, "corpus", "--out", (char *)dir, "--count", "100", NULL};
    rc = run_cmd(c1, &out);
    CHECK(rc == 1 && strstr(out, "is a directory") && !strstr(out, "documents in"), "corpus --out DIR: rc %d: %s", rc, out);
    free(out);
    char *g1[] = {VERIFY, "gen", "--out", v3, "--count", "5", "--quiet", NULL};
    rc = run_cmd(g1, &out);
    CHECK(rc == 0 && !strstr(out, "kinds="), "gen --quiet: no config echo: %s", out);
    free(out);
    bbuf_free(&rec);
    free(ids), free(lp), free(nope), free(v1), free(tdir), free(v2), free(odir), free(v3);
}

static void test_info(void) {
    char *out = NULL;
    char *a[] = {VERIFY, "sandbox-info", NULL};
    int rc = run_cmd(a, &out);
    CHECK(rc == 0 && strstr(out, "all layers active") && strstr(out, "seccomp       active"), "sandbox-info: rc %d: %s", rc, out);
    free(out);
}

// ---- trajectories ------------------------------------------------------------------------------------

typedef struct expect {
    uint64_t problem;
    uint32_t node, outcome;
} expect;

static uint32_t *encode(const bpe *t, const char *s, uint32_t *n) {
    uint32_t *ids;
    *n = (uint32_t)bpe_encode(t, s, strlen(s), &ids);
    return ids;
}

// One tree per problem: a root holding the steps with two children (the right answer, a
// wrong one), and a second root that is the whole right solution. Leaves: 1, 2, 3.
static void make_tree(const bpe *tok, const problem_rec *p, uint32_t version, bbuf *out, expect *ex) {
    const char *mark = strstr(p->solution, "<|answer|>");
    char *steps = xasprintf("%.*s", (int)(mark - p->solution), p->solution);
    char *good = xasprintf("%s<|endoftext|>", mark);
    char *bad = p->task == TASK_CODE ? xstrdup("<|answer|>def wrong(x):\n    return x\n<|endoftext|>")
                                     : xstrdup("<|answer|>98765\n<|endoftext|>");
    char *whole = xasprintf("%s<|endoftext|>", p->solution);
    traj_node nodes[4];
    memset(nodes, 0, sizeof nodes);
    const char *texts[4] = {steps, good, bad, whole};
    const uint32_t parents[4] = {TRAJ_ROOT, 0, 0, TRAJ_ROOT};
    for (int i = 0; i < 4; i++) {
        nodes[i].parent = parents[i];
        nodes[i].finish = i == 0 ? FINISH_BRANCHED : FINISH_EOT;
        nodes[i].seed = (uint64_t)i;
        nodes[i].tokens = encode(tok, texts[i], &nodes[i].n_tokens);
        nodes[i].logprobs = xcalloc(nodes[i].n_tokens + 1, sizeof(float));
    }
    uint32_t np;
    uint32_t *prompt = encode(tok, p->prompt, &np);
    traj_rec t = {p->id, version, np, prompt, 4, nodes};
    out->n = 0;
    traj_encode(out, &t);
    ex[0] = (expect){p->id, 1, OUTCOME_PASS};
    ex[1] = (expect){p->id, 2, OUTCOME_FAIL};
    ex[2] = (expect){p->id, 3, OUTCOME_PASS};
    for (int i = 0; i < 4; i++) free(nodes[i].tokens), free(nodes[i].logprobs);
    free(prompt), free(steps), free(good), free(bad), free(whole);
}

static int count_shards(const char *d, const char *producer) {
    DIR *dd = opendir(d);
    if (!dd) return 0;
    int n = 0;
    struct dirent *de;
    size_t pl = strlen(producer);
    while ((de = readdir(dd)))
        if (!strncmp(de->d_name, producer, pl) && de->d_name[pl] == '-' && strstr(de->d_name, ".shard") &&
            !strstr(de->d_name, ".tmp."))
            n++;
    closedir(dd);
    return n;
}

static int sandbox_processes(void) {
    // Workers run as uid 65534 (root host) in their own namespaces: count the live ones.
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char p[300], line[256];
        if (!strtol(de->d_name, NULL, 10)) continue;
        snprintf(p, sizeof p, "/proc/%s/status", de->d_name);
        FILE *f = fopen(p, "re");
        if (!f) continue;
        int zombie = 0;
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "State:", 6)) zombie = strchr(line, 'Z') != NULL;  // dead, not yet reaped by init
            if (!strncmp(line, "Uid:", 4)) {
                if (strtol(line + 4, NULL, 10) == 65534 && !zombie) n++;
                break;
            }
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

static void test_run(void) {
    char *pdir = xasprintf("%s/problems", dir), *tdir = xasprintf("%s/traj", dir), *vdir = xasprintf("%s/verdicts", dir);
    char *corpus = xasprintf("%s/corpus.txt", dir), *tokf = xasprintf("%s/tok.bin", dir), *log = xasprintf("%s/run.log", dir);
    char *gen[] = {VERIFY, "gen", "--out", pdir, "--count", "160", "--seed", "11", "--shard-records", "50", "--quiet", NULL};
    char *out = NULL;
    int rc = run_cmd(gen, &out);
    CHECK(rc == 0, "verify gen: %s", out);
    free(out);
    char *corp[] = {VERIFY, "corpus", "--out", corpus, "--count", "400", "--seed", "5", "--quiet", NULL};
    rc = run_cmd(corp, &out);
    CHECK(rc == 0, "verify corpus: %s", out);
    free(out);
    berr e;
    char *text;
    size_t len;
    if (read_file(corpus, &text, &len, &e)) die("%s", e.msg);
    const char *specials[] = {"<|endoftext|>", "<|step|>", "<|answer|>"};
    bpe *tok = bpe_train(text, len, 600, BPE_PRETOK_DIGITS, specials, 3, &e);
    free(text);
    if (!tok || bpe_save(tok, tokf, &e)) die("tokenizer: %s", e.msg);

    problem_set ps;
    if (problem_set_load(&ps, pdir, PROBLEMS_ALL_SPLITS, 0, &e)) die("%s", e.msg);
    // Trees in input order; policy_version = tree index, so every verdict says which tree.
    size_t ntrees = ps.n * 3;
    expect *ex = xcalloc(ntrees * 3, sizeof *ex);
    shard_dir_opts o;
    memset(&o, 0, sizeof o);
    shard_dir_writer *w = shard_dir_writer_open(tdir, "rollout", SHARD_TRAJECTORIES, TRAJ_SCHEMA, &o, &e);
    CHECK(w != NULL, "trajectory writer: %s", e.msg);
    bbuf rec = {0};
    char *v_arg = xasprintf("%s", vdir);
    char *runv[] = {VERIFY, "run", "--problems", pdir, "--trajectories", tdir, "--out", v_arg, "--tokenizer", tokf,
                    "--commit-records", "7", "--workers", "3", NULL};
    pid_t pid = 0;
    int killed = 0;
    for (size_t i = 0; i < ntrees; i++) {
        make_tree(tok, &ps.items[i % ps.n], (uint32_t)i, &rec, &ex[3 * i]);
        CHECK(shard_dir_append(w, rec.p, rec.n, &e) == 0, "append: %s", e.msg);
        if (i % 20 == 19) {
            CHECK(shard_dir_publish(w, NULL, 0, &e) == 0, "publish: %s", e.msg);
            if (!pid) pid = spawn(runv, log);  // the consumer starts while the input grows
        }
        // Kill the consumer once it has committed something, then start it again.
        if (pid && !killed && count_shards(vdir, "verify") >= 2) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            killed = 1;
            usleep(100000);
            CHECK(sandbox_processes() == 0, "sandbox processes outlived a killed verify run: %d", sandbox_processes());
            pid = spawn(runv, log);
        }
        usleep(10000);
    }
    CHECK(shard_dir_close(w, &e) == 0, "close trajectories: %s", e.msg);
    // If the consumer kept up so well that no commit was seen while the input grew, kill it
    // now, while it works through the rest.
    for (double until = now_sec() + 30; pid && !killed && now_sec() < until; usleep(1000))
        if (count_shards(vdir, "verify") >= 2) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            killed = 1;
            pid = spawn(runv, log);
        }
    int st = 0;
    if (pid) waitpid(pid, &st, 0);
    CHECK(pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "verify run exit status 0x%x", st);
    CHECK(killed, "the consumer was never killed part-way");

    // Read the verdicts back in order.
    stream_opts so;
    memset(&so, 0, sizeof so);
    so.expect_kind = SHARD_VERDICTS;
    stream_reader *r = stream_open(vdir, &so, &e);
    CHECK(r != NULL, "verdicts: %s", e.msg);
    size_t k = 0, bad = 0;
    const uint8_t *vrec;
    size_t vlen;
    stream_pos pos;
    while (r && (rc = stream_next(r, 0, &vrec, &vlen, &pos, &e)) == STREAM_RECORD) {
        verdict_rec v;
        if (verdict_decode(vrec, vlen, pos.schema, &v, &e)) die("%s", e.msg);
        if (k < ntrees * 3) {
            const expect *x = &ex[k];
            int ok = v.problem_id == x->problem && v.node == x->node && v.policy_version == k / 3 && v.outcome == x->outcome;
            if (!ok && bad++ < 5)
                fprintf(stderr, "verdict %zu: problem %llu node %u tree %u outcome %u (%s); want problem %llu node %u tree %zu outcome %u\n",
                        k, (unsigned long long)v.problem_id, v.node, v.policy_version, v.outcome, v.detail,
                        (unsigned long long)x->problem, x->node, k / 3, x->outcome);
        }
        k++;
        verdict_free(&v);
    }
    CHECK(rc == STREAM_END, "verdict directory not closed: %d %s", rc, rc < 0 ? e.msg : "");
    CHECK(k == ntrees * 3, "%zu verdicts for %zu leaves", k, ntrees * 3);
    CHECK(bad == 0, "%zu verdicts differ from the expected sequence", bad);
    stream_close(r);
    // A finished run started again has nothing to do and says so.
    rc = run_cmd(runv, &out);
    CHECK(rc == 0 && strstr(out, "done: 0 trees"), "rerun on a finished directory: rc %d: %s", rc, out);
    free(out);
    // verify check: a candidate for a problem that is not in the set is refused by name.
    char *cands = xasprintf("%s/cands.jsonl", dir), *cdir = xasprintf("%s/checked", dir);
    const char *line = "{\"problem\": 1, \"completion\": \"x\"}\n";
    if (write_file_atomic(cands, line, strlen(line), &e)) die("%s", e.msg);
    char *chk[] = {VERIFY, "check", "--problems", pdir, "--candidates", cands, "--out", cdir, NULL};
    rc = run_cmd(chk, &out);
    CHECK(rc == 1 && strstr(out, "candidate 1: problem 1 is not in"), "unknown problem: rc %d: %s", rc, out);
    free(out);
    test_mistakes(pdir, tokf, tok);
    bbuf_free(&rec);
    free(ex);
    problem_set_free(&ps);
    bpe_free(tok);
    free(pdir), free(tdir), free(vdir), free(corpus), free(tokf), free(log), free(v_arg), free(cands), free(cdir);
}

int main(void) {
    if (access(VERIFY, X_OK)) die("%s is not built (run from the repository root after make)", VERIFY);
    dir = xstrdup("/tmp/berry-test-verify-XXXXXX");
    if (!mkdtemp(dir)) die("mkdtemp: %s", strerror(errno));
    test_flags();
    test_help_texts();
    test_info();
    test_run();
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "warning: could not remove %s\n", dir);
    free(cmd);
    free(dir);
    return test_summary();
}
