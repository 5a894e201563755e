// score.c — `reward score`: a streaming stage (shards/stream.h) from trajectory shards to score
// shards. Every leaf's path is read by the ORM (its sigmoid at the path's last token) and the PRM
// (its sigmoid at every step position, data.h), and one score record per leaf carries both, with
// the PRM's min and product along the path. Output shards carry the input cursor they complete,
// so a run killed at any moment and started again neither repeats nor skips a leaf.
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/train/trainer.h"
#include "reward/model.h"
#include "reward/reward.h"
#include "shards/stream.h"
#include "shards/tokenizer.h"

typedef struct score_opts {
    char *trajectories, *out, *orm, *prm, *tokenizer, *stats;
    int batch, part, parts, commit_records, backend, quiet;
    double commit_seconds, idle_timeout, progress;
} score_opts;

#define F(x) offsetof(score_opts, x)
static const cli_opt opts[] = {
    {CLI_STR, "trajectories", F(trajectories), NULL, 0, 0, NULL, 0, "DIR", "trajectory shard directory (input; may still be growing) (required)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "score shard directory (output; producer score or score.pKofN) (required)"},
    {CLI_STR, "orm", F(orm), NULL, 0, 0, NULL, 0, "CKPT", "outcome reward model (reward train --kind orm: its model.bin)"},
    {CLI_STR, "prm", F(prm), NULL, 0, 0, NULL, 0, "CKPT", "process reward model (reward train --kind prm); at least one of the two"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, 0, "FILE", "tokenizer of the trajectories: its vocabulary must be the models' (a check)"},
    {CLI_INT, "batch", F(batch), "64", 1, 65536, NULL, 0, "N", "paths per forward pass"},
    {CLI_INT, "part", F(part), "0", 0, 1 << 20, NULL, 0, "K", "be consumer K of --parts over the input shards"},
    {CLI_INT, "parts", F(parts), "1", 1, 1 << 20, NULL, 0, "N", "consumers splitting the input"},
    {CLI_INT, "commit-records", F(commit_records), "64", 1, 1 << 30, NULL, 0, "N", "commit (publish scores) after N trees"},
    {CLI_F64, "commit-seconds", F(commit_seconds), "10", 0.001, 1e9, NULL, 0, "S", "... or at least every S seconds while scores are pending"},
    {CLI_F64, "idle-timeout", F(idle_timeout), "0", 0, 1e9, NULL, 0, "S", "fail after S seconds without new input while the input is open (0: wait)"},
    {CLI_F64, "progress", F(progress), "10", 0.001, 1e9, NULL, 0, "S", "progress line interval"},
    {CLI_STR, "stats", F(stats), NULL, 0, 0, NULL, 0, "FILE", "run statistics as JSON (default OUT/<producer>.stats.json)"},
    {CLI_CHOICE, "backend", F(backend), "auto", 0, 0, tr_backend_choices, 0, "B", "auto (CUDA if a GPU is present), cpu or cuda"},
    {CLI_FLAG, "quiet", F(quiet), "0", 0, 0, NULL, 0, NULL, "no config echo, no progress lines"},
};
#undef F
static const cli_table table = {opts, (int)(sizeof opts / sizeof opts[0])};
static const rw_cmd cmd = {"reward score",
                           "usage: reward score --trajectories DIR --out DIR (--orm CKPT | --prm CKPT | both) [options]\n"
                           "\n"
                           "Streams the trajectory shards of --trajectories (waiting for new ones until the directory is\n"
                           "closed) and writes one score record per leaf to --out: the ORM's value at the path's last token,\n"
                           "the PRM's at every step, and their min and product; exactly once across restarts (run it again\n"
                           "after a crash to continue).\n",
                           &table};

typedef struct scorer {
    rw_model model[2];  // RW_ORM, RW_PRM
    int have[2], B;
    int32_t *tok;
    float *out;
    rw_path *paths;
    uint32_t npaths, cap, *chain, chain_cap;
    float **val[2];     // per path: the model's values at its positions (ORM: one)
    // statistics
    uint64_t trees, leaves, tokens[2], padded[2];
    double seconds[2];
} scorer;

static const char *kind_name[2] = {"ORM", "PRM"};

// Runs model k over every path, micro-batches of up to B paths cut to their longest.
static void run_model(scorer *s, int k) {
    rw_model *rm = &s->model[k];
    for (uint32_t i = 0; i < s->npaths;) {
        uint32_t nb = s->npaths - i < (uint32_t)s->B ? s->npaths - i : (uint32_t)s->B;
        int len = 1;
        for (uint32_t r = 0; r < nb; r++) len = (int)s->paths[i + r].n > len ? (int)s->paths[i + r].n : len;
        len = (len + 31) / 32 * 32;
        if (len > rm->m.cfg.maxT) len = rm->m.cfg.maxT;
        for (uint32_t r = 0; r < nb; r++) {
            const rw_path *p = &s->paths[i + r];
            for (int t = 0; t < len; t++) s->tok[(size_t)r * len + t] = t < (int)p->n ? (int32_t)p->ids[t] : 0;
            s->tokens[k] += p->n;
        }
        s->padded[k] += (uint64_t)nb * len;
        double t0 = now_sec();
        gpt2_heads_forward(&rm->m, s->tok, (int)nb, len, s->out);
        s->seconds[k] += now_sec() - t0;
        for (uint32_t r = 0; r < nb; r++) {
            const rw_path *p = &s->paths[i + r];
            float *v = s->val[k][i + r];
            if (k == RW_ORM) v[0] = rw_sigmoid(s->out[(size_t)r * len + p->n - 1]);
            else
                for (uint32_t j = 0; j < p->npos; j++) v[j] = rw_sigmoid(s->out[(size_t)r * len + p->pos[j]]);
        }
        i += nb;
    }
}

static int score_tree(scorer *s, stream_stage *st, const traj_rec *t, const char *where, berr *e) {
    label_rec view;
    rw_view_of_traj(t, &view);
    if (t->n_nodes > s->chain_cap) {
        s->chain_cap = t->n_nodes;
        s->chain = xrealloc(s->chain, s->chain_cap * sizeof *s->chain);
    }
    s->npaths = 0;
    int rc = 0;
    for (uint32_t k = 0; k < t->n_nodes && !rc; k++) {
        if (!(view.nodes[k].flags & LABEL_LEAF)) continue;
        if (s->npaths == s->cap) {
            uint32_t nc = s->cap ? 2 * s->cap : 64;
            s->paths = xrealloc(s->paths, nc * sizeof *s->paths);
            memset(s->paths + s->cap, 0, (nc - s->cap) * sizeof *s->paths);
            for (int m = 0; m < 2; m++) {
                s->val[m] = xrealloc(s->val[m], nc * sizeof *s->val[m]);
                memset(s->val[m] + s->cap, 0, (nc - s->cap) * sizeof *s->val[m]);
            }
            s->cap = nc;
        }
        rw_path *p = &s->paths[s->npaths];
        rw_path_of(&view, k, s->chain, p);
        if (p->n == 0) {
            rc = berr_set(e, "%s: problem %llu: leaf %u has an empty path (no prompt, no tokens): nothing to score", where,
                          (unsigned long long)t->problem_id, k);
            break;
        }
        for (int m = 0; m < 2 && !rc; m++) {
            if (!s->have[m]) continue;
            const gpt2_config *c = &s->model[m].m.cfg;
            if (p->n > (uint32_t)c->maxT)
                rc = berr_set(e, "%s: problem %llu leaf %u: the path is %u tokens, longer than the %s's context of %d", where,
                              (unsigned long long)t->problem_id, k, p->n, kind_name[m], c->maxT);
            for (uint32_t i = 0; i < p->n && !rc; i++)
                if (p->ids[i] >= (uint32_t)c->V)
                    rc = berr_set(e, "%s: problem %llu leaf %u holds token id %u, outside the %s's vocabulary of %d: the trees "
                                     "were sampled with another tokenizer", where, (unsigned long long)t->problem_id, k,
                                  p->ids[i], kind_name[m], c->V);
            free(s->val[m][s->npaths]);
            s->val[m][s->npaths] = xmalloc((p->npos ? p->npos : 1) * sizeof(float));
        }
        s->npaths++;
    }
    rw_label_tree_free(&view);
    if (rc) return -1;
    for (int m = 0; m < 2; m++)
        if (s->have[m]) run_model(s, m);
    bbuf b = {0};
    uint64_t tree_id = traj_tree_id(t);
    for (uint32_t i = 0; i < s->npaths && !rc; i++) {
        const rw_path *p = &s->paths[i];
        score_rec r = {t->problem_id, p->leaf, 0, 0, NULL, tree_id, t->policy_version, 0, 0, 0};
        if (s->have[RW_ORM]) r.flags |= SCORE_HAS_ORM, r.orm = s->val[RW_ORM][i][0];
        if (s->have[RW_PRM]) {
            r.flags |= SCORE_HAS_PRM;
            r.n_steps = p->npos;
            r.prm = s->val[RW_PRM][i];
            float mn = 1, pr = 1;
            for (uint32_t j = 0; j < p->npos; j++) mn = r.prm[j] < mn ? r.prm[j] : mn, pr *= r.prm[j];
            r.prm_min = mn, r.prm_prod = pr;
        }
        b.n = 0;
        score_encode(&b, &r);
        rc = stage_emit(st, b.p, b.n, e);
    }
    bbuf_free(&b);
    s->trees++;
    s->leaves += s->npaths;
    return rc;
}

static void progress(const scorer *s, double t0, int final) {
    double dt = now_sec() - t0, fs = s->seconds[0] + s->seconds[1];
    fprintf(stderr, "reward score: %s%llu trees, %llu leaves, %.1f leaves/s; forward %.0f tok/s\n", final ? "done: " : "",
            (unsigned long long)s->trees, (unsigned long long)s->leaves, (double)s->leaves / (dt + 1e-9),
            fs > 0 ? (double)(s->tokens[0] + s->tokens[1]) / fs : 0.0);
}

static int write_stats(const scorer *s, kb_ctx *ctx, const char *path, double secs, berr *e) {
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(tmp);
        return berr_set(e, "cannot write %s", path);
    }
    fprintf(f, "{\"trees\":%llu,\"leaves\":%llu,\"seconds\":%.3f", (unsigned long long)s->trees, (unsigned long long)s->leaves,
            secs);
    for (int k = 0; k < 2; k++) {
        if (!s->have[k]) continue;
        fprintf(f, ",\"%s\":{\"tokens\":%llu,\"padded_tokens\":%llu,\"forward_seconds\":%.6f,\"tok_per_s\":%.1f}",
                rw_kind_choices[k], (unsigned long long)s->tokens[k], (unsigned long long)s->padded[k], s->seconds[k],
                s->seconds[k] > 0 ? (double)s->tokens[k] / s->seconds[k] : 0.0);
    }
    double fs = s->seconds[0] + s->seconds[1];
    fprintf(f, ",\"tokens\":%llu,\"tok_per_s\":%.1f,\"counters\":", (unsigned long long)(s->tokens[0] + s->tokens[1]),
            fs > 0 ? (double)(s->tokens[0] + s->tokens[1]) / fs : 0.0);
    kb_counts_json(ctx, f);
    fputs("}\n", f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        unlink(tmp);
        free(tmp);
        return berr_set(e, "cannot write %s", path);
    }
    free(tmp);
    return 0;
}

// The models a producer scores with are recorded next to its shards; a restart with other
// weights is refused (its scores would mix with the earlier ones).
static int check_models(const char *out, const char *producer, const scorer *s, berr *e) {
    char *path = xasprintf("%s/%s.models", out, producer), *want;
    want = xasprintf("berry-score-models 1\norm %016llx\nprm %016llx\n", (unsigned long long)(s->have[0] ? s->model[0].digest : 0),
                     (unsigned long long)(s->have[1] ? s->model[1].digest : 0));
    char *have = NULL;
    size_t len = 0;
    berr e2;
    int rc = 0;
    if (read_file(path, &have, &len, &e2) == 0) {
        if (len != strlen(want) || memcmp(have, want, len))
            rc = berr_set(e, "%s: this output was scored with other models (%s): use the same --orm/--prm, or another --out",
                          out, path);
    } else {
        rc = write_file_atomic(path, want, strlen(want), e);
    }
    free(have), free(want), free(path);
    return rc;
}

int rw_score_main(int argc, char **argv, int first) {
    score_opts o;
    int rc = rw_parse(&cmd, &o, argc, argv, first, NULL);
    if (rc != RW_GO) return rc;
    if (!o.trajectories || !o.out) {
        cli_free(&table, &o);
        return rw_usage_error(&cmd, "--trajectories and --out are required");
    }
    if (!o.orm && !o.prm) {
        cli_free(&table, &o);
        return rw_usage_error(&cmd, "give --orm CKPT, --prm CKPT or both: there is nothing to score with");
    }
    if (o.part >= o.parts) {
        cli_free(&table, &o);
        return rw_usage_error(&cmd, "--part %d must be below --parts %d", o.part, o.parts);
    }
    {  // a closed input without a tree is a mistake (an open one may still get some)
        berr e0;
        shard_dir_listing ls;
        if (shard_dir_list(o.trajectories, &ls, &e0) == 0) {
            uint64_t recs = 0;
            for (size_t i = 0; i < ls.n_manifest; i++) recs += ls.manifest[i].records;
            int empty = ls.closed && recs == 0;
            shard_dir_listing_free(&ls);
            if (empty) {
                fprintf(stderr, "reward score: error: no trajectory trees: %s is closed and its shards hold none\n", o.trajectories);
                cli_free(&table, &o);
                return 1;
            }
        }
    }
    if (!o.quiet) {
        fprintf(stderr, "reward score: config:\n");
        cli_echo(stderr, &table, &o);
    }
    berr e;
    scorer s = {0};
    s.B = o.batch;
    kb_ctx *ctx = NULL;
    stream_stage *st = NULL;
    rc = 1;
    const char *path[2] = {o.orm, o.prm}, *opt[2] = {"--orm", "--prm"};
    gpt2_ckpt_info info[2];
    int maxT = 0;
    for (int k = 0; k < 2; k++) {
        if (!path[k]) continue;
        int kind;
        if (rw_model_check(path[k], opt[k], k, &info[k], &kind, &e)) goto done;
        if (kind < 0 && !o.quiet)
            fprintf(stderr, "reward score: warning: %s %s does not say whether it is an ORM or a PRM (no reward train state)\n",
                    opt[k], path[k]);
        maxT = info[k].cfg.maxT > maxT ? info[k].cfg.maxT : maxT;
    }
    if (o.tokenizer) {
        bpe *tok = bpe_load(o.tokenizer, &e);
        if (!tok) goto done;
        int tv = bpe_vocab_size(tok);
        bpe_free(tok);
        for (int k = 0; k < 2; k++)
            if (path[k] && info[k].cfg.V != tv) {
                berr_set(&e, "%s %s has a vocabulary of %d tokens but tokenizer %s has %d: they must be the same", opt[k],
                         path[k], info[k].cfg.V, o.tokenizer, tv);
                goto done;
            }
    }
    if (!(ctx = kb_open(tr_backend(o.backend), 0, &e))) goto done;
    for (int k = 0; k < 2; k++) {
        if (!path[k]) continue;
        if (rw_model_load(&s.model[k], ctx, path[k], k == RW_ORM ? "reward.score.orm" : "reward.score.prm", o.batch,
                          info[k].cfg.maxT, &e))
            goto done;
        s.have[k] = 1;
    }
    s.tok = xmalloc((size_t)o.batch * maxT * sizeof *s.tok);
    s.out = xmalloc((size_t)o.batch * maxT * sizeof *s.out);

    stage_opts so;
    memset(&so, 0, sizeof so);
    so.in.part = (uint32_t)o.part;
    so.in.parts = (uint32_t)o.parts;
    so.in.idle_timeout = o.idle_timeout;
    so.in.expect_kind = SHARD_TRAJECTORIES;
    so.out_kind = SHARD_SCORES;
    so.out_schema = SCORE_SCHEMA;
    so.commit_records = (uint64_t)o.commit_records;
    so.commit_seconds = o.commit_seconds;
    if (!(st = stage_open(o.trajectories, o.out, "score", &so, &e))) goto done;
    if (check_models(o.out, stage_producer(st), &s, &e)) goto done;
    if (!o.quiet)
        fprintf(stderr, "reward score: producer %s, resuming after commit %llu; %s%s%s on %s\n", stage_producer(st),
                (unsigned long long)stage_commits(st), s.have[0] ? "ORM" : "", s.have[0] && s.have[1] ? " and " : "",
                s.have[1] ? "PRM" : "", kb_device_name(ctx));
    double t0 = now_sec(), last = t0;
    for (;;) {
        const uint8_t *rec;
        size_t len;
        stream_pos pos;
        int r = stage_next(st, &rec, &len, &pos, &e);
        if (r < 0) goto done;
        if (r == STREAM_END) break;
        traj_rec t;
        char where[400];
        snprintf(where, sizeof where, "%s/%s record %llu", o.trajectories, pos.shard, (unsigned long long)pos.record);
        if (traj_decode(rec, len, pos.schema, &t, &e)) {
            berr_wrap(&e, "%s", where);
            goto done;
        }
        int sr = score_tree(&s, st, &t, where, &e);
        traj_free(&t);
        if (sr) goto done;
        if (!o.quiet && now_sec() - last >= o.progress) {
            last = now_sec();
            progress(&s, t0, 0);
        }
    }
    const char *producer = stage_producer(st);
    char *sp = o.stats ? xstrdup(o.stats) : xasprintf("%s/%s.stats.json", o.out, producer);
    if (stage_close(st, &e)) {
        st = NULL;
        free(sp);
        goto done;
    }
    st = NULL;
    if (!o.quiet) progress(&s, t0, 1);
    rc = write_stats(&s, ctx, sp, now_sec() - t0, &e) ? 1 : 0;
    free(sp);
done:
    if (rc) {
        rw_fail(cmd.name, &e);
        if (st) fprintf(stderr, "reward score: uncommitted scores are dropped; run the same command again to continue\n");
    }
    stage_abort(st);
    for (int k = 0; k < 2; k++) rw_model_free(&s.model[k]);
    for (uint32_t i = 0; i < s.cap; i++) {
        rw_path_free(&s.paths[i]);
        free(s.val[0][i]);
        free(s.val[1][i]);
    }
    free(s.paths), free(s.val[0]), free(s.val[1]), free(s.chain), free(s.tok), free(s.out);
    if (ctx) kb_close(ctx);
    cli_free(&table, &o);
    return rc;
}
