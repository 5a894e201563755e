// test_code.c — the code verifier (answer extraction; generated code tasks checked in the
// sandbox: reference solutions pass, broken ones fail with the right counts), the candidate
// file reader, the problem set, and the math/code router.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shards/stream.h"
#include "tests/test.h"
#include "verify/candidates.h"
#include "verify/check.h"
#include "verify/code.h"
#include "shards/problem_set.h"
#include "verify/tasks.h"

static void test_extract(void) {
    struct {
        const char *text, *want, *why;
    } cases[] = {
        {"<|step|>x\n<|answer|>def f():\n    return 1\n<|endoftext|>", "def f():\n    return 1\n", NULL},
        {"<|answer|>  \n\ndef f(): pass", "def f(): pass", NULL},
        {"<|answer|>def f(): pass<|endoftext|><|answer|>def g(): pass", "def f(): pass", NULL},  // after EOT ignored
        {"def f(): pass", NULL, "no answer marker"},
        {"<|answer|>def f(): pass\n<|answer|>def g(): pass", NULL, "2 answer markers"},
        {"<|answer|>   \n<|endoftext|>", NULL, "empty answer"},
        {"<|endoftext|><|answer|>def f(): pass", NULL, "no answer marker"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *src;
        size_t n;
        char why[128] = "";
        int rc = code_extract(cases[i].text, strlen(cases[i].text), &src, &n, why, sizeof why);
        if (cases[i].want)
            CHECK(rc == 0 && n == strlen(cases[i].want) && !memcmp(src, cases[i].want, n), "extract case %zu: rc %d %s", i, rc, why);
        else
            CHECK(rc == -1 && strstr(why, cases[i].why), "extract case %zu: rc %d why '%s'", i, rc, why);
    }
    // Too long, and NUL bytes.
    size_t big = CODE_MAX_SOURCE + 100;
    char *t = xmalloc(big + 16);
    memcpy(t, "<|answer|>", 10);
    memset(t + 10, 'x', big);
    const char *src;
    size_t n;
    char why[128];
    CHECK(code_extract(t, big + 10, &src, &n, why, sizeof why) == -1 && strstr(why, "exceeds"), "long answer: %s", why);
    free(t);
    const char nul[] = "<|answer|>def f():\0    return 1";
    CHECK(code_extract(nul, sizeof nul - 1, &src, &n, why, sizeof why) == -1 && strstr(why, "NUL"), "NUL: %s", why);
}

static void test_candidates(void) {
    candidate c;
    berr e;
    const char *ok = "{\"problem\": 18446744073709551615, \"completion\": \"a\\n\\u00e9\\ud83d\\ude00\\udcff\", \"node\": 7}";
    CHECK(candidate_parse_line(ok, strlen(ok), &c, "f", 1, &e) == 0, "parse: %s", e.msg);
    CHECK(c.problem == UINT64_MAX && c.node == 7 && c.policy_version == 0, "fields");
    CHECK(c.len == 9 && !memcmp(c.completion, "a\n\xc3\xa9\xf0\x9f\x98\x80\xff", 9), "escapes decoded (%zu bytes)", c.len);
    free(c.completion);
    const char *str_id = "{\"completion\":\"\",\"problem\":\"42\",\"policy_version\":3}";
    CHECK(candidate_parse_line(str_id, strlen(str_id), &c, "f", 1, &e) == 0 && c.problem == 42 && c.policy_version == 3 &&
              c.len == 0, "string id: %s", e.msg);
    free(c.completion);
    struct {
        const char *line, *msg;
    } bad[] = {
        {"{\"problem\": 1}", "missing \"completion\""},
        {"{\"completion\": \"x\"}", "missing \"problem\""},
        {"{\"problem\": 1, \"problem\": 2, \"completion\": \"x\"}", "duplicate key"},
        {"{\"problem\": -1, \"completion\": \"x\"}", "unsigned integer"},
        {"{\"problem\": 1.5, \"completion\": \"x\"}", "integer"},
        {"{\"problem\": 18446744073709551616, \"completion\": \"x\"}", "out of range"},
        {"{\"problem\": 01, \"completion\": \"x\"}", "leading zero"},
        {"{\"problem\": 1, \"completion\": \"x\", \"extra\": 1}", "unknown key"},
        {"{\"problem\": 1, \"completion\": \"x\\q\"}", "unknown escape"},
        {"{\"problem\": 1, \"completion\": \"\\udc10\"}", "lone low surrogate"},
        {"{\"problem\": 1, \"completion\": \"\\ud800x\"}", "high surrogate"},
        {"{\"problem\": 1, \"completion\": \"x\"} x", "trailing"},
        {"[1]", "expected '{'"},
        {"{\"problem\": 1, \"completion\": \"x", "unterminated"},
        {"{\"problem\": 1, \"node\": 4294967296, \"completion\": \"x\"}", "out of range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = candidate_parse_line(bad[i].line, strlen(bad[i].line), &c, "cands.jsonl", 9, &e);
        CHECK(rc == -1 && strstr(e.msg, bad[i].msg) && strstr(e.msg, "cands.jsonl:9"), "bad line %zu: rc %d: %s", i, rc,
              rc ? e.msg : "accepted");
        if (rc == 0) free(c.completion);
    }
}

static char *tmpdir(void) {
    char *d = xstrdup("/tmp/berry-test-code-XXXXXX");
    if (!mkdtemp(d)) die("mkdtemp");
    return d;
}

static void rm_rf(const char *d) {
    char *cmd = xasprintf("rm -rf '%s'", d);
    if (system(cmd) != 0) fprintf(stderr, "warning: %s failed\n", cmd);
    free(cmd);
}

// Generated code problems through the sandbox: every reference solution passes all ten
// hidden tests; a constant function fails some; a half-right function passes some only.
static void test_generated(sandbox *sb) {
    enum { N = 40 };
    problem_rec p[N];
    check_item items[3 * N];
    char *texts[3 * N];
    for (int i = 0; i < N; i++) {
        tasks_make(TASK_CODE, 1 + i % 5, 1000 + (uint64_t)i, -1, 10, &p[i]);
        // the reference, as the model would write it (solution + end-of-text)
        texts[3 * i] = xasprintf("%s<|endoftext|>", p[i].solution);
        // a constant function with the right name
        const char *name = p[i].prompt + strlen("Write a Python function ");
        size_t nl = strcspn(name, "(");
        texts[3 * i + 1] = xasprintf("<|step|>guess\n<|answer|>def %.*s(*args):\n    return 0\n<|endoftext|>", (int)nl, name);
        // the reference renamed, behind a wrapper that is wrong whenever the first argument
        // is falsy (an empty list or string, zero): right on some tests only
        const char *ref = strstr(p[i].solution, "<|answer|>") + 10;
        char *def = xasprintf("def %.*s(", (int)nl, name);
        const char *at = strstr(ref, def);
        texts[3 * i + 2] = xasprintf("<|answer|>%.*sdef _ref(%s\ndef %.*s(*args):\n    if not args[0]:\n"
                                     "        return 'wrong'\n    return _ref(*args)\n<|endoftext|>",
                                     (int)(at - ref), ref, at + strlen(def), (int)nl, name);
        free(def);
        for (int k = 0; k < 3; k++) items[3 * i + k] = (check_item){&p[i], texts[3 * i + k], strlen(texts[3 * i + k])};
    }
    check_verdict v[3 * N];
    berr e;
    sandbox_limits lim;
    sandbox_config c;
    sandbox_config_default(&c);
    lim = c.limits;
    int rc = check_batch(sb, &lim, items, 3 * N, v, &e);
    CHECK(rc == 0, "check_batch: %s", rc ? e.msg : "");
    int partial_seen = 0;
    for (int i = 0; i < N && rc == 0; i++) {
        CHECK(v[3 * i].outcome == OUTCOME_PASS && strstr(v[3 * i].detail, "10/10 tests passed"),
              "reference of problem %llu: %u: %s", (unsigned long long)p[i].id, v[3 * i].outcome, v[3 * i].detail);
        CHECK(v[3 * i + 1].outcome == OUTCOME_FAIL, "constant for %llu: %u: %s", (unsigned long long)p[i].id,
              v[3 * i + 1].outcome, v[3 * i + 1].detail);
        const char *d = v[3 * i + 2].detail;
        if (v[3 * i + 2].outcome == OUTCOME_FAIL && strstr(d, "/10 tests passed") && strncmp(d, "0/10", 4) != 0) partial_seen++;
    }
    CHECK(partial_seen >= N / 4, "only %d half-right functions passed some tests but not all", partial_seen);
    for (int i = 0; i < 3 * N; i++) free(texts[i]);
    for (int i = 0; i < N; i++) problem_free(&p[i]);
}

// Problems written by the generator, loaded back, and a mixed math/code batch routed.
static void test_problem_set_and_router(sandbox *sb) {
    char *dir = tmpdir();
    char *pdir = xasprintf("%s/problems", dir);
    tasks_opts o;
    tasks_opts_default(&o);
    o.count = 300;
    o.shard_records = 64;
    o.progress = 0;
    o.seed = 77;
    berr e;
    CHECK(tasks_generate(&o, pdir, &e) == 0, "generate: %s", e.msg);
    problem_set ps;
    CHECK(problem_set_load(&ps, pdir, PROBLEMS_ALL_SPLITS, 0, &e) == 0, "load: %s", e.msg);
    CHECK(ps.n > 100 && ps.n <= 300, "%zu distinct problems", ps.n);
    tasks_stream s;
    tasks_stream_init(&s, &o, &e);
    size_t found = 0, kinds[5] = {0};
    for (int i = 0; i < 300; i++) {
        problem_rec p;
        tasks_stream_next(&s, &p, &e);
        const problem_rec *q = problem_set_find(&ps, p.id);
        found += q && !strcmp(q->prompt, p.prompt) && !strcmp(q->solution, p.solution);
        problem_free(&p);
    }
    tasks_stream_free(&s);
    CHECK(found == 300, "%zu of 300 streamed problems found in the set", found);
    CHECK(problem_set_find(&ps, 12345) == NULL, "unknown id found");

    check_item *items = xcalloc(2 * ps.n, sizeof *items);
    char **texts = xcalloc(2 * ps.n, sizeof *texts);
    for (size_t i = 0; i < ps.n; i++) {
        const problem_rec *p = &ps.items[i];
        kinds[p->task]++;
        texts[2 * i] = xasprintf("%s<|endoftext|>", p->solution);
        texts[2 * i + 1] = p->task == TASK_CODE ? xasprintf("<|answer|>def broken(:\n<|endoftext|>")
                                                : xasprintf("<|step|>guess\n<|answer|>123456789\n<|endoftext|>");
        items[2 * i] = (check_item){p, texts[2 * i], strlen(texts[2 * i])};
        items[2 * i + 1] = (check_item){p, texts[2 * i + 1], strlen(texts[2 * i + 1])};
    }
    check_verdict *v = xcalloc(2 * ps.n, sizeof *v);
    sandbox_config c;
    sandbox_config_default(&c);
    int rc = check_batch(sb, &c.limits, items, 2 * ps.n, v, &e);
    CHECK(rc == 0, "router: %s", rc ? e.msg : "");
    size_t ok = 0;
    for (size_t i = 0; i < ps.n && rc == 0; i++) {
        int good = v[2 * i].outcome == OUTCOME_PASS && v[2 * i + 1].outcome == OUTCOME_FAIL;
        ok += good;
        if (!good)
            fprintf(stderr, "problem %llu (%s): %u %s / %u %s\n", (unsigned long long)ps.items[i].id,
                    task_kind_name(ps.items[i].task), v[2 * i].outcome, v[2 * i].detail, v[2 * i + 1].outcome, v[2 * i + 1].detail);
    }
    CHECK(ok == ps.n, "%zu of %zu problems: reference passes and a wrong answer fails", ok, ps.n);
    CHECK(kinds[TASK_CODE] > 10 && kinds[TASK_ARITH] > 10, "mix: %zu code, %zu arith", kinds[TASK_CODE], kinds[TASK_ARITH]);
    // No sandbox for a code item is an error, not a verdict.
    for (size_t i = 0; i < ps.n; i++)
        if (ps.items[i].task == TASK_CODE) {
            CHECK(check_batch(NULL, &c.limits, &items[2 * i], 1, v, &e) == -1 && strstr(e.msg, "no sandbox"), "no pool: %s", e.msg);
            break;
        }
    // A code problem whose tests are not Python is an error naming the problem.
    for (size_t i = 0; i < ps.n; i++)
        if (ps.items[i].task == TASK_CODE) {
            problem_rec bad = ps.items[i];
            bad.tests = "assert (";
            check_item it = {&bad, texts[2 * i], strlen(texts[2 * i])};
            char want[64];
            snprintf(want, sizeof want, "problem %llu", (unsigned long long)bad.id);
            CHECK(check_batch(sb, &c.limits, &it, 1, v, &e) == -1 && strstr(e.msg, want) && strstr(e.msg, "do not parse"),
                  "bad tests: %s", e.msg);
            break;
        }
    for (size_t i = 0; i < 2 * ps.n; i++) free(texts[i]);
    free(texts);
    free(items);
    free(v);
    problem_set_free(&ps);
    // A directory of something else is refused with its name.
    CHECK(problem_set_load(&ps, dir, PROBLEMS_ALL_SPLITS, 0, &e) == -1, "a directory without problem shards loaded");
    rm_rf(dir);
    free(pdir);
    free(dir);
}

int main(void) {
    test_extract();
    test_candidates();
    sandbox_config c;
    sandbox_config_default(&c);
    c.workers = 2;
    berr e;
    sandbox *sb = sandbox_open(&c, &e);
    CHECK(sb != NULL, "sandbox_open: %s", sb ? "" : e.msg);
    if (sb) {
        test_generated(sb);
        test_problem_set_and_router(sb);
        sandbox_close(sb);
    }
    return test_summary();
}
