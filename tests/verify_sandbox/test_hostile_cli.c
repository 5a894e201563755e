// test_hostile_cli.c — hostile completions through build/bin/verify (issue 19): `verify
// check` and `verify run` over generated code problems where hostile completions sit
// between correct ones. Whatever a candidate does, the run exits 0, every verdict is
// written, the hostile ones get their verdict and the correct ones pass. And a few slow
// checks (sleepers) among many correct ones cost no more than their own time limits spread
// over the workers.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shards/stream.h"
#include "shards/tokenizer.h"
#include "tests/test.h"
#include "shards/problem_set.h"

#define VERIFY "build/bin/verify"

static char *dir;

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

static char *fixture(const char *name) {
    char path[256], *text;
    size_t len;
    berr e;
    snprintf(path, sizeof path, "tests/verify_sandbox/hostile/%s.py", name);
    if (read_file(path, &text, &len, &e)) die("%s", e.msg);
    return text;
}

// The JSON string of s (ASCII text).
static void put_json_string(bbuf *b, const char *s) {
    bbuf_u8(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            bbuf_u8(b, '\\');
            bbuf_u8(b, c);
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            bbuf_put(b, esc, 6);
        } else {
            bbuf_u8(b, c);
        }
    }
    bbuf_u8(b, '"');
}

static void put_candidate(bbuf *b, uint64_t problem, const char *completion) {
    char head[64];
    int n = snprintf(head, sizeof head, "{\"problem\": \"%llu\", \"completion\": ", (unsigned long long)problem);
    bbuf_put(b, head, (size_t)n);
    put_json_string(b, completion);
    bbuf_put(b, "}\n", 2);
}

// Reads a verdict directory back: outcomes in order (n of them), -1 if it cannot.
static long read_outcomes(const char *vdir, uint32_t *outcome, size_t cap) {
    stream_opts so;
    memset(&so, 0, sizeof so);
    so.expect_kind = SHARD_VERDICTS;
    berr e;
    stream_reader *r = stream_open(vdir, &so, &e);
    if (!r) return -1;
    const uint8_t *rec;
    size_t len;
    stream_pos pos;
    long n = 0;
    int rc;
    while ((rc = stream_next(r, 0, &rec, &len, &pos, &e)) == STREAM_RECORD) {
        verdict_rec v;
        if (verdict_decode(rec, len, pos.schema, &v, &e)) die("%s", e.msg);
        if ((size_t)n < cap) outcome[n] = v.outcome;
        n++;
        verdict_free(&v);
    }
    stream_close(r);
    return rc == STREAM_END ? n : -1;
}

typedef struct hostile_item {
    const char *name;
    int with_reference;  // the reference solution follows the hostile lines
    uint32_t expect;
} hostile_item;

static const hostile_item items[] = {
    {"forge_setup_fatal", 0, OUTCOME_VIOLATION},  // used to end `verify check` with an error
    {"setup_status", 0, OUTCOME_CRASH},
    {"collide_set", 0, OUTCOME_VIOLATION},        // used to cost the judge seconds
    {"collide_dict", 0, OUTCOME_VIOLATION},
    {"huge_exception", 0, OUTCOME_CRASH},         // answers one call, exits before the next
    {"chmod_scratch", 1, OUTCOME_PASS},           // used to break the worker's clean-up: crash
    {"lock_channels", 0, OUTCOME_FAIL},           // its f() is not the problem's function
    {"sleep_import", 0, OUTCOME_TIMEOUT},
};
#define NITEMS (sizeof items / sizeof items[0])

// The completion of a hostile item for problem p (malloc'd).
static char *hostile_completion(const hostile_item *h, const problem_rec *p) {
    char *code = fixture(h->name);
    const char *ref = strstr(p->solution, "<|answer|>");
    char *c = h->with_reference ? xasprintf("<|answer|>%s\n%s<|endoftext|>", code, ref + 10)
                                : xasprintf("<|answer|>%s<|endoftext|>", code);
    free(code);
    return c;
}

static double run_check(const char *pdir, const char *cands, const char *out, const char *workers, int *rc, char **log) {
    char *argv[] = {VERIFY, "check", "--problems", (char *)pdir, "--candidates", (char *)cands, "--out", (char *)out,
                    "--workers", (char *)workers, "--wall-seconds", "1", "--cpu-seconds", "1", NULL};
    double t0 = now_sec();
    *rc = run_cmd(argv, log);
    return now_sec() - t0;
}

// verify check: every hostile item between two references, over a shared pool.
static void test_check(const problem_set *ps, const char *pdir) {
    bbuf b = {0};
    size_t n = 0;
    for (size_t i = 0; i < NITEMS; i++) {
        const problem_rec *p = &ps->items[i % ps->n];
        char *good = xasprintf("%s<|endoftext|>", p->solution), *bad = hostile_completion(&items[i], p);
        put_candidate(&b, p->id, good);
        put_candidate(&b, p->id, bad);
        put_candidate(&b, p->id, good);
        n += 3;
        free(good), free(bad);
    }
    char *cands = xasprintf("%s/hostile.jsonl", dir), *vdir = xasprintf("%s/hostile-verdicts", dir), *log = NULL;
    berr e;
    if (write_file_atomic(cands, b.p, b.n, &e)) die("%s", e.msg);
    int rc;
    run_check(pdir, cands, vdir, "2", &rc, &log);
    CHECK(rc == 0, "verify check with hostile candidates: exit %d: %s", rc, log);
    uint32_t got[3 * NITEMS];
    long k = read_outcomes(vdir, got, n);
    CHECK(k == (long)n, "verify check wrote %ld verdicts for %zu candidates", k, n);
    for (size_t i = 0; k == (long)n && i < NITEMS; i++)
        CHECK(got[3 * i] == OUTCOME_PASS && got[3 * i + 1] == items[i].expect && got[3 * i + 2] == OUTCOME_PASS,
              "%s: verdicts %s %s %s, want pass %s pass", items[i].name, outcome_name(got[3 * i]),
              outcome_name(got[3 * i + 1]), outcome_name(got[3 * i + 2]), outcome_name(items[i].expect));
    free(log), free(cands), free(vdir);
    bbuf_free(&b);
}

// Eight sleepers among correct answers over 4 workers cost at most their wall limits (1 s)
// spread over the workers (2 s), here with a second of slack for a loaded machine.
static void test_sleepers(const problem_set *ps, const char *pdir) {
    enum { GOOD = 800, SLEEPERS = 8 };
    bbuf good = {0}, mixed = {0};
    char *sleeper_code = fixture("sleep_import");
    for (size_t i = 0; i < GOOD; i++) {
        const problem_rec *p = &ps->items[i % ps->n];
        char *text = xasprintf("%s<|endoftext|>", p->solution);
        put_candidate(&good, p->id, text);
        put_candidate(&mixed, p->id, text);
        if (i % (GOOD / SLEEPERS) == GOOD / SLEEPERS / 2) {
            char *s = xasprintf("<|answer|>%s<|endoftext|>", sleeper_code);
            put_candidate(&mixed, p->id, s);
            free(s);
        }
        free(text);
    }
    free(sleeper_code);
    char *gfile = xasprintf("%s/good.jsonl", dir), *mfile = xasprintf("%s/mixed.jsonl", dir);
    char *gout = xasprintf("%s/good-verdicts", dir), *mout = xasprintf("%s/mixed-verdicts", dir), *log = NULL;
    berr e;
    if (write_file_atomic(gfile, good.p, good.n, &e) || write_file_atomic(mfile, mixed.p, mixed.n, &e)) die("%s", e.msg);
    int rc1, rc2;
    double tg = run_check(pdir, gfile, gout, "4", &rc1, &log);
    CHECK(rc1 == 0, "correct answers: exit %d: %s", rc1, log);
    free(log);
    double tm = run_check(pdir, mfile, mout, "4", &rc2, &log);
    CHECK(rc2 == 0, "correct answers and sleepers: exit %d: %s", rc2, log);
    free(log);
    uint32_t *got = xcalloc(GOOD + SLEEPERS, sizeof *got);
    long k = read_outcomes(mout, got, GOOD + SLEEPERS);
    size_t pass = 0, timeout = 0;
    for (long i = 0; i < k && i < GOOD + SLEEPERS; i++) pass += got[i] == OUTCOME_PASS, timeout += got[i] == OUTCOME_TIMEOUT;
    CHECK(k == GOOD + SLEEPERS && pass == GOOD && timeout == SLEEPERS, "%ld verdicts: %zu pass, %zu timeout", k, pass,
          timeout);
    printf("verify check, 4 workers: %d correct in %.2f s; with %d sleepers (1 s wall each) %.2f s\n", GOOD, tg, SLEEPERS,
           tm);
    CHECK(tm <= tg + SLEEPERS * 1.0 / 4 + 1.0, "%d sleepers cost %.2f s over %.2f s (bar %.2f s)", SLEEPERS, tm - tg, tg,
          SLEEPERS * 1.0 / 4);
    free(got), free(gfile), free(mfile), free(gout), free(mout);
    bbuf_free(&good), bbuf_free(&mixed);
}

static uint32_t *encode(const bpe *t, const char *s, uint32_t *n) {
    uint32_t *ids;
    *n = (uint32_t)bpe_encode(t, s, strlen(s), &ids);
    return ids;
}

// verify run: trees whose leaves are a reference and hostile completions; the run ends
// with exit 0 and a verdict for every leaf, and a restart has nothing left to do.
static void test_run(const problem_set *ps, const char *pdir) {
    char *corpus = xasprintf("%s/corpus.txt", dir), *tokf = xasprintf("%s/tok.bin", dir);
    char *tdir = xasprintf("%s/traj", dir), *vdir = xasprintf("%s/run-verdicts", dir), *out = NULL;
    char *corp[] = {VERIFY, "corpus", "--out", corpus, "--count", "200", "--seed", "5", "--quiet", NULL};
    CHECK(run_cmd(corp, &out) == 0, "verify corpus: %s", out);
    free(out);
    berr e;
    char *text;
    size_t len;
    if (read_file(corpus, &text, &len, &e)) die("%s", e.msg);
    const char *specials[] = {"<|endoftext|>", "<|step|>", "<|answer|>"};
    bpe *tok = bpe_train(text, len, 400, BPE_PRETOK_DIGITS, specials, 3, &e);
    free(text);
    if (!tok || bpe_save(tok, tokf, &e)) die("tokenizer: %s", e.msg);
    static const char *const leaves[] = {NULL, "forge_setup_fatal", "collide_set", "chmod_scratch"};
    static const uint32_t want_leaf[] = {OUTCOME_PASS, OUTCOME_VIOLATION, OUTCOME_VIOLATION, OUTCOME_PASS};
    enum { TREES = 4, LEAVES = 4 };
    shard_dir_opts o;
    memset(&o, 0, sizeof o);
    shard_dir_writer *w = shard_dir_writer_open(tdir, "rollout", SHARD_TRAJECTORIES, TRAJ_SCHEMA, &o, &e);
    CHECK(w != NULL, "trajectory writer: %s", e.msg);
    bbuf rec = {0};
    for (int t = 0; w && t < TREES; t++) {
        const problem_rec *p = &ps->items[t % ps->n];
        traj_node nodes[LEAVES];
        memset(nodes, 0, sizeof nodes);
        for (int l = 0; l < LEAVES; l++) {
            hostile_item h = {leaves[l], leaves[l] && !strcmp(leaves[l], "chmod_scratch"), 0};
            char *c = leaves[l] ? hostile_completion(&h, p) : xasprintf("%s<|endoftext|>", p->solution);
            nodes[l].parent = TRAJ_ROOT;
            nodes[l].finish = FINISH_EOT;
            nodes[l].tokens = encode(tok, c, &nodes[l].n_tokens);
            nodes[l].logprobs = xcalloc(nodes[l].n_tokens + 1, sizeof(float));
            free(c);
        }
        uint32_t np;
        uint32_t *prompt = encode(tok, p->prompt, &np);
        traj_rec tr = {p->id, (uint32_t)t, np, prompt, LEAVES, nodes};
        rec.n = 0;
        traj_encode(&rec, &tr);
        CHECK(shard_dir_append(w, rec.p, rec.n, &e) == 0, "append: %s", e.msg);
        for (int l = 0; l < LEAVES; l++) free(nodes[l].tokens), free(nodes[l].logprobs);
        free(prompt);
    }
    CHECK(w && shard_dir_close(w, &e) == 0, "close trajectories: %s", e.msg);
    char *runv[] = {VERIFY, "run", "--problems", (char *)pdir, "--trajectories", tdir, "--out", vdir, "--tokenizer", tokf,
                    "--workers", "2", "--wall-seconds", "1", NULL};
    int rc = run_cmd(runv, &out);
    CHECK(rc == 0, "verify run over hostile leaves: exit %d: %s", rc, out);
    free(out);
    uint32_t got[TREES * LEAVES];
    long k = read_outcomes(vdir, got, TREES * LEAVES);
    CHECK(k == TREES * LEAVES, "verify run wrote %ld verdicts for %d leaves", k, TREES * LEAVES);
    size_t bad = 0;
    for (long i = 0; i < k && i < TREES * LEAVES; i++) bad += got[i] != want_leaf[i % LEAVES];
    CHECK(bad == 0, "%zu leaves with the wrong verdict", bad);
    rc = run_cmd(runv, &out);
    CHECK(rc == 0 && strstr(out, "done: 0 trees"), "verify run restarted: exit %d: %s", rc, out);
    free(out);
    bbuf_free(&rec);
    bpe_free(tok);
    free(corpus), free(tokf), free(tdir), free(vdir);
}

int main(void) {
    if (access(VERIFY, X_OK)) die("%s is not built (run from the repository root after make)", VERIFY);
    dir = xstrdup("/tmp/berry-test-hostile-XXXXXX");
    if (!mkdtemp(dir)) die("mkdtemp: %s", strerror(errno));
    char *pdir = xasprintf("%s/problems", dir), *out = NULL;
    char *gen[] = {VERIFY, "gen", "--out", pdir, "--count", "40", "--kinds", "code", "--seed", "19", "--quiet", NULL};
    CHECK(run_cmd(gen, &out) == 0, "verify gen: %s", out);
    free(out);
    problem_set ps;
    berr e;
    if (problem_set_load(&ps, pdir, PROBLEMS_ALL_SPLITS, 0, &e)) die("%s", e.msg);
    test_check(&ps, pdir);
    test_run(&ps, pdir);
    test_sleepers(&ps, pdir);
    problem_set_free(&ps);
    free(pdir);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "warning: could not remove %s\n", dir);
    free(cmd);
    free(dir);
    return test_summary();
}
