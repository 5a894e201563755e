// verify_check.c — `verify check`: a candidate file (verify/candidates.h) checked against a
// problem shard directory, verdicts written as a verdict shard directory (producer "check").
#include <stdlib.h>
#include <string.h>

#include "shards/stream.h"
#include "verify/candidates.h"
#include "verify/check.h"
#include "verify/problem_set.h"
#include "verify/verify_cli.h"

enum { OPT_PROBLEMS = 1, OPT_CANDIDATES, OPT_OUT, OPT_BATCH, OPT_HELP };

static const struct option long_opts[] = {
    {"problems", required_argument, 0, OPT_PROBLEMS}, {"candidates", required_argument, 0, OPT_CANDIDATES},
    {"out", required_argument, 0, OPT_OUT},           {"batch", required_argument, 0, OPT_BATCH},
    {"help", no_argument, 0, OPT_HELP},               VERIFY_SANDBOX_LONGOPTS,
    {0, 0, 0, 0}};

static void usage(void) {
    printf("usage: verify check --problems DIR --candidates FILE --out DIR [options]\n\n"
           "Checks each completion of FILE (JSON lines: {\"problem\": ID, \"completion\": TEXT}, optional\n"
           "\"node\" and \"policy_version\"; see verify/README.md) against its problem in DIR with the math or\n"
           "code verifier, and writes one verdict per line, in order, to the verdict shard directory OUT\n"
           "(producer \"check\"; OUT must not hold an earlier check's verdicts).\n\n"
           "  --problems DIR       problem shard directory\n"
           "  --candidates FILE    candidate file\n"
           "  --out DIR            verdict shard directory (created)\n"
           "  --batch N            completions in flight: checked ahead of the verdict being written, so\n"
           "                       a slow check holds one worker while the rest go on (default 8192)\n\n");
    verify_sandbox_usage(stdout);
}

int verify_cmd_check(int argc, char **argv) {
    const char *problems = NULL, *cand_path = NULL, *out = NULL;
    int batch = 8192;
    sandbox_config cfg;
    verify_sandbox_defaults(&cfg);
    berr e;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        int r = verify_sandbox_opt(&cfg, opt, optarg, &e);
        if (r < 0) return verify_usage_error("check", "%s", e.msg);
        if (r) continue;
        switch (opt) {
        case OPT_PROBLEMS: problems = optarg; break;
        case OPT_CANDIDATES: cand_path = optarg; break;
        case OPT_OUT: out = optarg; break;
        case OPT_BATCH:
            if (parse_int("batch", optarg, 1, 1 << 20, &batch, &e)) return verify_usage_error("check", "%s", e.msg);
            break;
        case OPT_HELP: usage(); return 0;
        default: return verify_usage_error("check", "unknown option");
        }
    }
    if (optind < argc) return verify_usage_error("check", "unexpected argument '%s'", argv[optind]);
    if (!problems || !cand_path || !out) return verify_usage_error("check", "--problems, --candidates and --out are required");
    fprintf(stderr, "verify check: problems=%s candidates=%s out=%s batch=%d\n", problems, cand_path, out, batch);
    verify_sandbox_echo(stderr, &cfg);

    problem_set ps;
    candidate_list cl;
    if (problem_set_load(&ps, problems, &e)) return verify_fail("check", &e);
    if (candidates_load(cand_path, &cl, &e)) {
        problem_set_free(&ps);
        return verify_fail("check", &e);
    }
    int rc = 1, need_sandbox = 0;
    check_item *items = xcalloc(cl.n, sizeof *items);
    for (size_t i = 0; i < cl.n; i++) {
        const problem_rec *p = problem_set_find(&ps, cl.items[i].problem);
        if (!p) {
            berr_set(&e, "%s: candidate %zu: problem %llu is not in %s", cand_path, i + 1,
                     (unsigned long long)cl.items[i].problem, problems);
            verify_fail("check", &e);
            goto done_items;
        }
        items[i] = (check_item){p, cl.items[i].completion, cl.items[i].len};
        need_sandbox |= p->task == TASK_CODE;
    }
    fprintf(stderr, "verify check: %zu problems, %zu candidates\n", ps.n, cl.n);
    sandbox *sb = NULL;
    if (need_sandbox) {
        cfg.log = stderr;
        if (!(sb = sandbox_open(&cfg, &e))) {
            verify_fail("check", &e);
            goto done_items;
        }
        fprintf(stderr, "verify check: sandbox layers:\n");
        sandbox_print_layers(sandbox_get_layers(sb), stderr);
    }
    shard_dir_opts dopts;
    memset(&dopts, 0, sizeof dopts);
    dopts.max_records = 1 << 16;
    shard_dir_writer *w = shard_dir_writer_open(out, "check", SHARD_VERDICTS, VERDICT_SCHEMA, &dopts, &e);
    if (!w) {
        verify_fail("check", &e);
        goto done_sandbox;
    }
    if (shard_dir_published(w) || shard_dir_writer_is_closed(w)) {
        shard_dir_abort(w);
        berr_set(&e, "%s already holds verdicts of an earlier check; write into a new directory", out);
        verify_fail("check", &e);
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
        if (t - last >= 2.0 || done == cl.n) {
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
        verify_fail("check", &e);
    } else if (shard_dir_close(w, &e)) {
        verify_fail("check", &e);
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
