// test_code_reference.c — the code task generators against plain python3 (no sandbox: this
// is generator-written code, not model output). For problems of every family and level:
// the reference solution compiles, defines the function, passes every hidden test and every
// example in the prompt; and a wrong solution (one returning a constant) fails some hidden
// test, so the tests can tell.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/base.h"
#include "tests/test.h"
#include "shards/task_format.h"
#include "verify/tasks.h"

// The checker: one JSON object per line {"id", "name", "code", "tests", "examples"}.
static const char *const CHECKER =
    "import json, sys\n"
    "ok = bad = 0\n"
    "for line in open(sys.argv[1]):\n"
    "    p = json.loads(line)\n"
    "    problems = []\n"
    "    try:\n"
    "        env = {}\n"
    "        exec(compile(p['code'], 'solution', 'exec'), env)\n"
    "        if p['name'] not in env: problems.append('does not define ' + p['name'])\n"
    "        exec(compile(p['tests'], 'tests', 'exec'), env)\n"
    "        for ex in p['examples']:\n"
    "            if not eval(ex, env): problems.append('example fails: ' + ex)\n"
    "    except Exception as e:\n"
    "        problems.append('reference fails: %r' % (e,))\n"
    "    # A constant function must fail at least one hidden test.\n"
    "    for const in (None, 0, 1, -1, True, False, '', []):\n"
    "        env = {p['name']: (lambda *a, c=const: c)}\n"
    "        try:\n"
    "            exec(compile(p['tests'], 'tests', 'exec'), env)\n"
    "            problems.append('tests pass the constant %r' % (const,))\n"
    "        except AssertionError:\n"
    "            pass\n"
    "    if problems:\n"
    "        bad += 1\n"
    "        if bad <= 5: print('problem', p['id'], p['name'], problems, file=sys.stderr)\n"
    "    else:\n"
    "        ok += 1\n"
    "print('checked', ok, bad)\n";

static void write_problem(FILE *f, const problem_rec *p) {
    const char *ans = strstr(p->solution, BERRY_ANSWER);
    const char *code = ans ? ans + sizeof BERRY_ANSWER - 1 : "";
    const char *name = p->prompt + strlen("Write a Python function ");
    size_t name_len = strcspn(name, "(");
    fprintf(f, "{\"id\": \"%016" PRIx64 "\", \"name\": ", p->id);
    json_string(f, name, name_len);
    fprintf(f, ", \"code\": ");
    json_string(f, code, strlen(code));
    fprintf(f, ", \"tests\": ");
    json_string(f, p->tests, strlen(p->tests));
    fprintf(f, ", \"examples\": [");
    const char *ex = strstr(p->prompt, "Examples:\n");
    int first = 1;
    for (const char *line = ex ? ex + 10 : ""; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n) {
            fprintf(f, "%s", first ? "" : ", ");
            json_string(f, line, n);
            first = 0;
        }
        line += n + (nl ? 1 : 0);
    }
    fprintf(f, "]}\n");
}

int main(void) {
    char dir[] = "/tmp/berry_code_ref_XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp failed");
    char *jsonl = xasprintf("%s/problems.jsonl", dir), *script = xasprintf("%s/check.py", dir);
    berr e;
    CHECK(write_file_atomic(script, CHECKER, strlen(CHECKER), &e) == 0, "%s", e.msg);
    FILE *f = fopen(jsonl, "w");
    CHECK(f != NULL, "open %s", jsonl);
    if (!f) return test_summary();

    // Problems from streams of every level and both splits, and a census of the families seen.
    int written = 0, families_seen = 0;
    char names[64][32] = {{0}};
    int per_level[TASKS_MAX_DIFFICULTY + 1] = {0};
    // BERRY_TEST_SEED=N runs the same checks on other problems (for stress runs by hand).
    uint64_t base_seed = getenv("BERRY_TEST_SEED") ? strtoull(getenv("BERRY_TEST_SEED"), NULL, 10) : 100;
    for (int d = 1; d <= TASKS_MAX_DIFFICULTY; d++)
        for (int split = 0; split <= 1; split++) {
            tasks_opts o;
            tasks_opts_default(&o);
            o.kinds = TASKS_KIND_BIT(TASK_CODE);
            o.min_difficulty = o.max_difficulty = d;
            o.split = (uint32_t)split;
            o.seed = base_seed + (uint64_t)d;
            tasks_stream s;
            CHECK(tasks_stream_init(&s, &o, &e) == 0, "%s", e.msg);
            int n = split ? 100 : 500;
            for (int i = 0; i < n; i++) {
                problem_rec p;
                if (tasks_stream_next(&s, &p, &e)) {
                    CHECK(0, "level %d split %d: %s", d, split, e.msg);
                    break;
                }
                write_problem(f, &p);
                written++;
                const char *name = p.prompt + strlen("Write a Python function ");
                size_t len = strcspn(name, "(");
                int known = 0;
                for (int k = 0; k < families_seen; k++) known |= strlen(names[k]) == len && !strncmp(names[k], name, len);
                if (!known && families_seen < 64 && len < 32) {
                    memcpy(names[families_seen++], name, len);
                    per_level[d]++;
                }
                problem_free(&p);
            }
            tasks_stream_free(&s);
        }
    fclose(f);
    printf("code families seen: %d (per level:", families_seen);
    for (int d = 1; d <= TASKS_MAX_DIFFICULTY; d++) printf(" %d", per_level[d]);
    printf(")\n");
    CHECK(families_seen >= 25, "only %d code families", families_seen);
    for (int d = 1; d <= TASKS_MAX_DIFFICULTY; d++) CHECK(per_level[d] >= 4, "level %d has %d families", d, per_level[d]);

    char *cmd = xasprintf("python3 %s %s 2>&1", script, jsonl);
    FILE *py = popen(cmd, "r");
    CHECK(py != NULL, "run python3");
    char line[4096];
    int ok = -1, bad = -1;
    while (py && fgets(line, sizeof line, py)) {
        if (sscanf(line, "checked %d %d", &ok, &bad) == 2) continue;
        fputs(line, stderr);
    }
    int status = py ? pclose(py) : -1;
    CHECK(status == 0, "python3 exited with status %d", status);
    printf("python3: %d reference solutions pass their tests and examples, %d problems with issues\n", ok, bad);
    CHECK(ok == written && bad == 0, "%d of %d problems good, %d bad", ok, written, bad);

    unlink(jsonl);
    unlink(script);
    rmdir(dir);
    free(jsonl);
    free(script);
    free(cmd);
    return test_summary();
}
