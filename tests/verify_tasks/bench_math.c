// bench_math.c — math verifier throughput on one core: full checks (extract the answer
// from a worked solution, parse, compare) on generated problems, half of them with a
// wrong answer; per task kind. Also task generation throughput.
//
//   build/tests/verify_tasks/bench_math [--checks N] [--seed N]
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/base.h"
#include "verify/math.h"
#include "shards/task_format.h"
#include "verify/tasks.h"

typedef struct completion {
    problem_rec p;
    char *text;
    size_t len;
    int expect_pass;
} completion;

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_math [--checks N] [--seed N]\n"
            "  Math verifier checks per second on one core, per task kind, and task generation rate.\n"
            "  --checks N   checks per task kind (default 300000)\n"
            "  --seed N     problem seed (default 1)\n");
}

int main(int argc, char **argv) {
    int64_t checks = 300000, seed = 1;
    berr e;
    static const struct option longopts[] = {{"checks", required_argument, 0, 'c'}, {"seed", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'c') {
            if (parse_count("--checks", optarg, 1, 100000000, &checks, &e)) die("%s", e.msg);
        } else if (c == 's') {
            if (parse_i64("--seed", optarg, 0, INT64_MAX, &seed, &e)) die("%s", e.msg);
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 1;
        }
    }
    if (optind != argc) die("unexpected argument '%s' (see --help)", argv[optind]);
    fprintf(stderr, "bench_math: checks=%lld per kind, seed=%lld, 1 thread\n", (long long)checks, (long long)seed);

    // A pool of distinct completions per kind, reused round-robin.
    const int pool = 4096;
    printf("| task kind | answers | checks/s (1 core) | us/check |\n|---|---|---|---|\n");
    double total_checks = 0, total_time = 0;
    for (uint32_t kind = TASK_ARITH; kind <= TASK_ALGEBRA; kind++) {
        tasks_opts o;
        tasks_opts_default(&o);
        o.kinds = TASKS_KIND_BIT(kind);
        o.seed = (uint64_t)seed;
        tasks_stream s;
        if (tasks_stream_init(&s, &o, &e)) die("%s", e.msg);
        completion *cs = xcalloc((size_t)pool, sizeof *cs);
        for (int i = 0; i < pool; i++) {
            if (tasks_stream_next(&s, &cs[i].p, &e)) die("%s", e.msg);
            // Odd ones answer wrongly (a changed digit, or the polynomial doubled).
            bbuf t = {0};
            const char *sol = cs[i].p.solution, *ans = strstr(sol, BERRY_ANSWER);
            bbuf_put(&t, sol, (size_t)(ans - sol) + sizeof BERRY_ANSWER - 1);
            cs[i].expect_pass = i % 2 == 0;
            if (cs[i].expect_pass) bbuf_put(&t, cs[i].p.answer, strlen(cs[i].p.answer));
            else if (kind == TASK_ALGEBRA && strchr(cs[i].p.answer, 'x')) {
                bbuf_put(&t, "(", 1);
                bbuf_put(&t, cs[i].p.answer, strlen(cs[i].p.answer));
                bbuf_put(&t, ")*2", 3);
            } else {  // the last digit changed: "52" -> "53", "-7/3" -> "-7/4"
                size_t at = t.n, n = strlen(cs[i].p.answer);
                bbuf_put(&t, cs[i].p.answer, n);
                for (size_t k = n; k-- > 0;)
                    if (t.p[at + k] >= '0' && t.p[at + k] <= '9') {
                        t.p[at + k] = (uint8_t)('0' + (t.p[at + k] - '0' + 1) % 10);
                        break;
                    }
            }
            bbuf_put(&t, "\n" BERRY_EOT, 1 + sizeof BERRY_EOT - 1);
            cs[i].text = (char *)t.p;
            cs[i].len = t.n;
        }
        tasks_stream_free(&s);
        int wrong = 0;
        double t0 = now_sec();
        for (int64_t i = 0; i < checks; i++) {
            completion *x = &cs[i % pool];
            math_verdict v;
            math_check(x->text, x->len, &x->p, &v);
            wrong += (v.outcome == OUTCOME_PASS) != x->expect_pass;
        }
        double dt = now_sec() - t0;
        if (wrong) die("bench_math: %d verdicts were not the expected ones", wrong);
        printf("| %s | %s | %.0f | %.2f |\n", kind == TASK_ARITH ? "arith" : kind == TASK_LINEAR ? "linear" : "algebra",
               kind == TASK_ALGEBRA ? "polynomials and integers" : kind == TASK_LINEAR ? "integers and fractions" : "integers", checks / dt,
               dt / checks * 1e6);
        total_checks += (double)checks;
        total_time += dt;
        for (int i = 0; i < pool; i++) {
            problem_free(&cs[i].p);
            free(cs[i].text);
        }
        free(cs);
    }
    printf("| all math | | %.0f | %.2f |\n\n", total_checks / total_time, total_time / total_checks * 1e6);

    // Generation throughput (one core), train and held-out streams of all kinds.
    printf("| generation (all kinds, difficulty 1-5) | problems/s (1 core) |\n|---|---|\n");
    for (int split = 0; split <= 1; split++) {
        tasks_opts o;
        tasks_opts_default(&o);
        o.seed = (uint64_t)seed;
        o.split = (uint32_t)split;
        tasks_stream s;
        if (tasks_stream_init(&s, &o, &e)) die("%s", e.msg);
        int n = split ? 50000 : 300000;
        double t0 = now_sec();
        for (int i = 0; i < n; i++) {
            problem_rec p;
            if (tasks_stream_next(&s, &p, &e)) die("%s", e.msg);
            problem_free(&p);
        }
        double dt = now_sec() - t0;
        tasks_stream_free(&s);
        printf("| %s split | %.0f |\n", split ? "held-out (10%)" : "train", n / dt);
    }
    return 0;
}
