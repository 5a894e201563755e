// verify_check.c — `verify check`: a candidate file (verify/candidates.h) checked against a
// problem shard directory, verdicts written as a verdict shard directory (producer "check").
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shards/stream.h"
#include "verify/candidates.h"
#include "verify/check.h"
#include "shards/problem_set.h"
#include "verify/verify_cli.h"

typedef struct check_opts {
    char *problems, *candidates, *out;
    int batch;
    verify_sandbox_opts sb;
} check_opts;

#define F(x) offsetof(check_opts, x)
static const cli_opt opt_list[] = {
    {CLI_STR, "problems", F(problems), NULL, 0, 0, NULL, 0, "DIR", "problem shard directory (required)"},
    {CLI_STR, "candidates", F(candidates), NULL, 0, 0, NULL, 0, "FILE", "candidate file (required)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "verdict shard directory (created; required)"},
    {CLI_INT, "batch", F(batch), "8192", 1, 1 << 20, NULL, 0, "N",
     "completions in flight: checked ahead of the verdict being written, so a slow check holds one worker while the rest go on"},
    VERIFY_SANDBOX_OPTS(check_opts, sb),
};
#undef F
static const cli_table table = CLI_TABLE(opt_list);
static const cli_cmd cmd = {
    "verify check",
    "usage: verify check --problems DIR --candidates FILE --out DIR [options]\n\n"
    "Checks each completion of FILE (JSON lines: {\"problem\": ID, \"completion\": TEXT}, optional\n"
    "\"node\" and \"policy_version\"; see verify/README.md) against its problem in DIR with the math or\n"
    "code verifier, and writes one verdict per line, in order, to the verdict shard directory OUT\n"
    "(producer \"check\"; OUT must not hold an earlier check's verdicts).\n",
    &table, 0, NULL};

static int verify_check(const check_opts *o, sandbox_config cfg) {
    const char *problems = o->problems, *cand_path = o->candidates, *out = o->out;
    int batch = o->batch;
    berr e;
    problem_set ps;
    candidate_list cl;
    if (problem_set_load(&ps, problems, PROBLEMS_ALL_SPLITS, 0, &e)) return cli_fail(cmd.name, &e);
    if (candidates_load(cand_path, &cl, &e)) {
        problem_set_free(&ps);
        return cli_fail(cmd.name, &e);
    }
    int rc = 1, need_sandbox = 0;
    check_item *items = xcalloc(cl.n, sizeof *items);
    for (size_t i = 0; i < cl.n; i++) {
        const problem_rec *p = problem_set_find(&ps, cl.items[i].problem);
        if (!p) {
            berr_set(&e, "%s: candidate %zu: problem %llu is not in %s", cand_path, i + 1,
                     (unsigned long long)cl.items[i].problem, problems);
            cli_fail(cmd.name, &e);
            goto done_items;
        }
        items[i] = (check_item){p, cl.items[i].completion, cl.items[i].len};
        need_sandbox |= p->task == TASK_CODE;
    }
    if (!cli_quiet) fprintf(stderr, "verify check: %zu problems, %zu candidates\n", ps.n, cl.n);
    sandbox *sb = NULL;
    if (need_sandbox) {
        cfg.log = cli_quiet ? NULL : stderr;
        if (!(sb = sandbox_open(&cfg, &e))) {
            cli_fail(cmd.name, &e);
            goto done_items;
        }
        if (!cli_quiet) {
            fprintf(stderr, "verify check: sandbox layers:\n");
            sandbox_print_layers(sandbox_get_layers(sb), stderr);
        }
    }
    shard_dir_opts dopts;
    memset(&dopts, 0, sizeof dopts);
    dopts.max_records = 1 << 16;
    shard_dir_writer *w = shard_dir_writer_open(out, "check", SHARD_VERDICTS, VERDICT_SCHEMA, &dopts, &e);
    if (!w) {
        cli_fail(cmd.name, &e);
        goto done_sandbox;
    }
    if (shard_dir_published(w) || shard_dir_writer_is_closed(w)) {
        shard_dir_abort(w);
        berr_set(&e, "%s already holds verdicts of an earlier check; write into a new directory", out);
        cli_fail(cmd.name, &e);
        goto done_sandbox;
    }
    // Verdicts are written in input order as they come in; up to `batch` checks run ahead.
    check_stream *cs = check_stream_open(sb, &cfg.limits);
    uint64_t counts[5] = {0};
    double t0 = now_sec(), last = t0, cpu = 0;
    bbuf rec = {0};
    int ok = 1;
    size_t added = 0;
    for (size_t done = 0; done < cl.n && ok;) {
        while (added < cl.n && check_stream_pending(cs) < (size_t)batch) {
            if (check_stream_add(cs, &items[added], &e)) {
                ok = 0;
                break;
            }
            added++;
        }
        if (!ok) break;
        check_verdict v;
        if (check_stream_next(cs, 1, &v, &e) != 1) {
            ok = 0;
            break;
        }
        const candidate *c = &cl.items[done];
        verdict_rec vr = {c->problem, c->node, c->policy_version, v.outcome, v.cpu_seconds, v.detail};
        rec.n = 0;
        verdict_encode(&rec, &vr);
        if (shard_dir_append(w, rec.p, rec.n, &e)) ok = 0;
        counts[v.outcome]++;
        cpu += v.cpu_seconds;
        done++;
        double t = now_sec();
        if ((t - last >= 2.0 && !cli_quiet) || done == cl.n) {
            last = t;
            fprintf(stderr, "verify check: %zu/%zu checked, %.1f/s, verifier CPU %.2f ms/check (pass %llu fail %llu timeout %llu "
                            "crash %llu violation %llu)\n",
                    done, cl.n, (double)done / (t - t0 + 1e-9), 1e3 * cpu / (double)done, (unsigned long long)counts[0],
                    (unsigned long long)counts[1], (unsigned long long)counts[2], (unsigned long long)counts[3],
                    (unsigned long long)counts[4]);
        }
    }
    check_stream_close(cs);
    bbuf_free(&rec);
    if (!ok) {
        shard_dir_abort(w);
        cli_fail(cmd.name, &e);
    } else if (shard_dir_close(w, &e)) {
        cli_fail(cmd.name, &e);
    } else {
        fprintf(stderr, "verify check: %zu verdicts -> %s\n", cl.n, out);
        rc = 0;
    }
done_sandbox:
    sandbox_close(sb);
done_items:
    free(items);
    candidates_free(&cl);
    problem_set_free(&ps);
    return rc;
}

int verify_cmd_check(int argc, char **argv, int first) {
    check_opts o;
    int rc = cli_command(&cmd, &o, argc, argv, first, NULL, NULL);
    if (rc != CLI_GO) return rc;
    if (!o.problems || !o.candidates || !o.out) {
        cli_free(&table, &o);
        return cli_usage_error(&cmd, "--problems, --candidates and --out are required");
    }
    const char *problems = o.problems, *cand_path = o.candidates, *out = o.out;
    int batch = o.batch;
    sandbox_config cfg;
    verify_sandbox_config(&o.sb, &cfg);
    berr e;
    if (!cli_quiet) fprintf(stderr, "verify check: problems=%s candidates=%s out=%s batch=%d\n", problems, cand_path, out, batch);
    verify_sandbox_echo(stderr, &cfg);
    if (cli_check_output_dir("--out", out, &e)) {
        cli_free(&table, &o);
        return cli_fail(cmd.name, &e);
    }
    rc = verify_check(&o, cfg);
    cli_free(&table, &o);
    return rc;
}
