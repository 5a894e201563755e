// verify_run.c — `verify run`: the streaming stage. Consumes trajectory-tree shards as they
// appear (shards/stream.h), decodes each leaf's path (its ancestors' tokens, then its own)
// to text, checks it with the math or code verifier of its problem, and publishes one
// verdict per leaf. Output shards carry the input cursor they complete, so a run killed at
// any moment and started again neither repeats nor skips a leaf.
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shards/stream.h"
#include "shards/tokenizer.h"
#include "verify/check.h"
#include "shards/problem_set.h"
#include "verify/verify_cli.h"

typedef struct run_opts {
    char *problems, *trajectories, *out, *tokenizer, *log;
    int part, parts, commit_records;
    double idle_timeout, commit_seconds;
    verify_sandbox_opts sb;
} run_opts;

#define F(x) offsetof(run_opts, x)
static const cli_opt opt_list[] = {
    {CLI_STR, "problems", F(problems), NULL, 0, 0, NULL, 0, "DIR", "problem shard directory (all problems the trees refer to)"},
    {CLI_STR, "trajectories", F(trajectories), NULL, 0, 0, NULL, 0, "DIR",
     "trajectory shard directory (input; may still be growing, but must exist)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "verdict shard directory (output; producer \"verify\" or \"verify.pKofN\")"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, 0, "FILE", "berry tokenizer file the trajectories were sampled with"},
    {CLI_INT, "part", F(part), "0", 0, 1 << 20, NULL, 0, "K", "be consumer K of --parts N over the input shards"},
    {CLI_INT, "parts", F(parts), "1", 1, 1 << 20, NULL, 0, "N", "how many consumers share the input"},
    {CLI_F64, "idle-timeout", F(idle_timeout), "0", 0, 1e9, NULL, 0, "S",
     "fail after S seconds without new input while the input is open (0: wait)"},
    {CLI_INT, "commit-records", F(commit_records), "64", 1, 1 << 30, NULL, 0, "N", "commit (publish verdicts) after N trees"},
    {CLI_F64, "commit-seconds", F(commit_seconds), "10", 0.001, 1e9, NULL, 0, "S",
     "... or at least every S seconds while verdicts are pending"},
    {CLI_STR, "log", F(log), NULL, 0, 0, NULL, 0, "FILE", "append one JSON object per progress line to FILE"},
    VERIFY_SANDBOX_OPTS(run_opts, sb),
};
#undef F
static const cli_table table = CLI_TABLE(opt_list);
static int verify_run(const run_opts *o);
static const cli_cmd cmd = {
    "verify run",
    "usage: verify run --problems DIR --trajectories DIR --out DIR --tokenizer FILE [options]\n\n"
    "Streams the trajectory shards of --trajectories (waiting for new ones until the directory is\n"
    "closed), checks every leaf of every tree against its problem and writes verdict shards to --out,\n"
    "exactly once across restarts (run it again after a crash to continue).\n",
    &table, 0, NULL};

typedef struct run_stats {
    uint64_t trees, leaves, by_outcome[5];
    double cpu;
} run_stats;

static void progress(FILE *log, const run_stats *s, double t0, int final) {
    double dt = now_sec() - t0;
    if (final || !cli_quiet)
        fprintf(stderr, "verify run: %s%llu trees, %llu leaves, %.1f leaves/s (pass %llu fail %llu timeout %llu crash %llu violation %llu)\n",
            final ? "done: " : "", (unsigned long long)s->trees, (unsigned long long)s->leaves, (double)s->leaves / (dt + 1e-9),
            (unsigned long long)s->by_outcome[0], (unsigned long long)s->by_outcome[1], (unsigned long long)s->by_outcome[2],
            (unsigned long long)s->by_outcome[3], (unsigned long long)s->by_outcome[4]);
    if (log) {
        fprintf(log,
                "{\"stage\":\"verify\",\"final\":%s,\"seconds\":%.3f,\"trees\":%llu,\"leaves\":%llu,\"pass\":%llu,\"fail\":%llu,"
                "\"timeout\":%llu,\"crash\":%llu,\"violation\":%llu,\"check_cpu_seconds\":%.3f}\n",
                final ? "true" : "false", dt, (unsigned long long)s->trees, (unsigned long long)s->leaves,
                (unsigned long long)s->by_outcome[0], (unsigned long long)s->by_outcome[1], (unsigned long long)s->by_outcome[2],
                (unsigned long long)s->by_outcome[3], (unsigned long long)s->by_outcome[4], s->cpu);
        fflush(log);
    }
}

// One tree: every leaf decoded, checked, and its verdict emitted (in node order).
static int verify_tree(stream_stage *st, sandbox *sb, const sandbox_limits *lim, const problem_set *ps, const bpe *tok,
                       const traj_rec *t, const stream_pos *pos, run_stats *s, berr *e) {
    const problem_rec *p = problem_set_find(ps, t->problem_id);
    if (!p) return berr_set(e, "%s record %llu: problem %llu is not in the problem set", pos->shard,
                            (unsigned long long)pos->record, (unsigned long long)t->problem_id);
    uint8_t *has_child = xcalloc(t->n_nodes ? t->n_nodes : 1, 1);
    for (uint32_t i = 0; i < t->n_nodes; i++)
        if (t->nodes[i].parent != TRAJ_ROOT) has_child[t->nodes[i].parent] = 1;
    uint32_t nleaves = 0;
    for (uint32_t i = 0; i < t->n_nodes; i++) nleaves += !has_child[i];
    check_item *items = xcalloc(nleaves ? nleaves : 1, sizeof *items);
    uint32_t *leaf = xcalloc(nleaves ? nleaves : 1, sizeof *leaf);
    char **texts = xcalloc(nleaves ? nleaves : 1, sizeof *texts);
    uint32_t *chain = xcalloc(t->n_nodes ? t->n_nodes : 1, sizeof *chain);
    uint32_t k = 0;
    int rc = 0;
    size_t cap = 0;
    uint32_t *ids = NULL;
    for (uint32_t i = 0; i < t->n_nodes && !rc; i++) {
        if (has_child[i]) continue;
        uint32_t depth = 0;
        for (uint32_t j = i; j != TRAJ_ROOT; j = t->nodes[j].parent) chain[depth++] = j;
        size_t n = 0;
        for (uint32_t d = depth; d-- > 0;) {
            const traj_node *nd = &t->nodes[chain[d]];
            if (n + nd->n_tokens > cap) {
                cap = (n + nd->n_tokens) * 2;
                ids = xrealloc(ids, cap * sizeof *ids);
            }
            memcpy(ids + n, nd->tokens, nd->n_tokens * sizeof *ids);
            n += nd->n_tokens;
        }
        size_t len;
        if (bpe_decode(tok, ids, n, &texts[k], &len, e)) {
            rc = berr_wrap(e, "%s record %llu node %u", pos->shard, (unsigned long long)pos->record, i);
            break;
        }
        items[k] = (check_item){p, texts[k], len};
        leaf[k++] = i;
    }
    check_verdict *v = xcalloc(nleaves ? nleaves : 1, sizeof *v);
    if (!rc && check_batch(sb, lim, items, k, v, e)) rc = berr_wrap(e, "%s record %llu", pos->shard, (unsigned long long)pos->record);
    bbuf rec = {0};
    for (uint32_t j = 0; j < k && !rc; j++) {
        verdict_rec vr = {t->problem_id, leaf[j], t->policy_version, v[j].outcome, v[j].cpu_seconds, v[j].detail,
                          traj_tree_id(t)};
        rec.n = 0;
        verdict_encode(&rec, &vr);
        if (stage_emit(st, rec.p, rec.n, e)) rc = -1;
        s->by_outcome[v[j].outcome]++;
        s->cpu += v[j].cpu_seconds;
    }
    s->leaves += k;
    s->trees++;
    bbuf_free(&rec);
    for (uint32_t j = 0; j < k; j++) free(texts[j]);
    free(v), free(ids), free(chain), free(texts), free(leaf), free(items), free(has_child);
    return rc;
}

int verify_cmd_run(int argc, char **argv, int first) {
    run_opts o;
    int rc = cli_command(&cmd, &o, argc, argv, first, NULL, NULL);
    if (rc != CLI_GO) return rc;
    if (!o.problems || !o.trajectories || !o.out || !o.tokenizer) {
        cli_free(&table, &o);
        return cli_usage_error(&cmd, "--problems, --trajectories, --out and --tokenizer are required");
    }
    if (o.part >= o.parts) {
        cli_free(&table, &o);
        return cli_usage_error(&cmd, "--part %d must be below --parts %d", o.part, o.parts);
    }
    rc = verify_run(&o);
    cli_free(&table, &o);
    return rc;
}

static int verify_run(const run_opts *o) {
    const char *problems = o->problems, *traj = o->trajectories, *out = o->out, *tok_path = o->tokenizer, *log_path = o->log;
    int part = o->part, parts = o->parts, commit_records = o->commit_records;
    double idle = o->idle_timeout, commit_seconds = o->commit_seconds;
    sandbox_config cfg;
    verify_sandbox_config(&o->sb, &cfg);
    berr e;
    if (!cli_quiet)
        fprintf(stderr, "verify run: problems=%s trajectories=%s out=%s tokenizer=%s part=%d/%d idle-timeout=%g "
                        "commit-records=%d commit-seconds=%g log=%s\n", problems, traj, out, tok_path, part, parts, idle,
                commit_records, commit_seconds, log_path ? log_path : "-");
    verify_sandbox_echo(stderr, &cfg);
    // Inputs that do not exist and outputs that cannot be written fail now (a trajectory
    // directory that does not exist would otherwise be waited for, for ever).
    if (cli_check_input_dir("--trajectories", traj, &e) || cli_check_output_dir("--out", out, &e) ||
        (log_path && cli_check_output_file("--log", log_path, &e)))
        return cli_fail(cmd.name, &e);

    int rc = 1, waiting = 0;  // waiting: the failure came while reading (or waiting for) input
    problem_set ps;
    if (problem_set_load(&ps, problems, PROBLEMS_ALL_SPLITS, 0, &e)) return cli_fail(cmd.name, &e);
    bpe *tok = bpe_load(tok_path, &e);
    FILE *log = NULL;
    sandbox *sb = NULL;
    stream_stage *st = NULL;
    if (!tok) goto fail;
    if (log_path && !(log = fopen(log_path, "a"))) {
        berr_set(&e, "cannot open --log %s", log_path);
        goto fail;
    }
    int any_code = 0;
    for (size_t i = 0; i < ps.n; i++) any_code |= ps.items[i].task == TASK_CODE;
    if (!cli_quiet) fprintf(stderr, "verify run: %zu problems (%s code tasks)\n", ps.n, any_code ? "with" : "no");
    if (any_code) {
        cfg.log = cli_quiet ? NULL : stderr;
        if (!(sb = sandbox_open(&cfg, &e))) goto fail;
        if (!cli_quiet) {
            fprintf(stderr, "verify run: sandbox layers:\n");
            sandbox_print_layers(sandbox_get_layers(sb), stderr);
        }
    }
    stage_opts so;
    memset(&so, 0, sizeof so);
    so.in.part = (uint32_t)part;
    so.in.parts = (uint32_t)parts;
    so.in.idle_timeout = idle;
    so.in.expect_kind = SHARD_TRAJECTORIES;
    so.out_kind = SHARD_VERDICTS;
    so.out_schema = VERDICT_SCHEMA;
    so.commit_records = (uint64_t)commit_records;
    so.commit_seconds = commit_seconds;
    if (!(st = stage_open(traj, out, "verify", &so, &e))) goto fail;
    if (!cli_quiet)
        fprintf(stderr, "verify run: producer %s, resuming after commit %llu\n", stage_producer(st),
                (unsigned long long)stage_commits(st));
    run_stats s;
    memset(&s, 0, sizeof s);
    double t0 = now_sec(), last = t0;
    for (;;) {
        const uint8_t *rec;
        size_t len;
        stream_pos pos;
        int r = stage_next(st, &rec, &len, &pos, &e);
        if (r < 0) {
            waiting = 1;
            goto fail;
        }
        if (r == STREAM_END) break;
        traj_rec t;
        if (traj_decode(rec, len, pos.schema, &t, &e)) {
            stream_refused(traj, &pos, &e);
            goto fail;
        }
        int vr = verify_tree(st, sb, &cfg.limits, &ps, tok, &t, &pos, &s, &e);
        traj_free(&t);
        if (vr) goto fail;
        if (now_sec() - last >= 2.0) {
            last = now_sec();
            progress(log, &s, t0, 0);
        }
    }
    if (stage_close(st, &e)) {
        st = NULL;
        goto fail;
    }
    st = NULL;
    progress(log, &s, t0, 1);
    rc = 0;
fail:
    if (rc) {
        cli_fail(cmd.name, &e);
        // Only waiting on an input that is still open is worth running again as it is; other
        // errors (a damaged shard, a problem not in --problems, ...) would fail the same way.
        char *closed = xasprintf("%s/CLOSED", traj);
        if (waiting && idle > 0 && access(closed, F_OK) != 0)
            fprintf(stderr, "verify run: verdicts up to the last commit are kept; run the same command again to continue "
                            "once %s grows\n", traj);
        free(closed);
    }
    stage_abort(st);
    sandbox_close(sb);
    if (log) fclose(log);
    bpe_free(tok);
    problem_set_free(&ps);
    return rc;
}
