// loop_main.c — `berry run`: the whole pipeline from nothing to a reasoning-tuned model.
//
//   data/      corpus.txt, tok.bpe, tokens/, heldout/, sft_problems/   (verify, shards)
//   pretrain/  the base model (pretrain; model.bin)                    (skipped with init_from)
//   policy/    policy-v<N>.bin published by ppo; ppo-v<N>/ reports; ppo-history.jsonl
//   iter-<i>/  problems/ traj/ verdicts/ of RL iteration i              (verify gen, rollout, verify run)
//   eval/<m>/  traj/ verdicts/ of greedy held-out answers of model m   (rollout, verify run)
//   sft/       the SFT control (pretrain --sft with the same FLOPs)
//   logs/      every stage's output; log.jsonl: one record per stage run; report.txt, report.html
//
// Every step is skipped when its output is complete (a closed shard directory, a published
// file), and every stage resumes, so the same command after a kill -9 of the driver or of any
// stage continues from the last published policy version without losing or repeating work.
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/train/ckptdir.h"
#include "kernels/train/cli.h"
#include "kernels/train/runlog.h"
#include "ppo/loop/loop.h"
#include "ppo/loop/loop_report.h"

#define MAXARGS 160

static int exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int exists(const char *fmt, ...) {
    char p[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    struct stat st;
    return stat(p, &st) == 0;
}

// A training run directory that holds checkpoints is continued with --resume.
static int has_checkpoints(const char *dir) {
    int64_t *steps = NULL;
    int n = 0;
    berr e;
    if (!exists("%s", dir) || tr_ckpt_list(dir, &steps, &n, &e)) return 0;
    free(steps);
    return n > 0;
}

typedef struct args {
    const char *v[MAXARGS];
    int n;
    char *own[MAXARGS];  // strings to free
    int nown;
} args;

static void add(args *a, const char *s) {
    if (a->n + 1 >= MAXARGS) die("berry: too many arguments");
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}
static void addf(args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(args *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s;
    if (vasprintf(&s, fmt, ap) < 0) die("out of memory");
    va_end(ap);
    a->own[a->nown++] = s;
    add(a, s);
}
static void args_free(args *a) {
    for (int i = 0; i < a->nown; i++) free(a->own[i]);
    memset(a, 0, sizeof *a);
}

typedef struct run {
    loop_config c;
    loop_run r;
    char *R, *tok, *base;  // run dir, tokenizer, base checkpoint
    berr e;
} run;

static int exec_args(run *x, const char *name, args *a) {
    int rc = loop_exec(&x->r, name, a->v, &x->e);
    args_free(a);
    return rc ? -1 : 0;
}

static void pass(run *x, args *a, const char *stage) { loop_config_args(&x->c, stage, a->v, &a->n, MAXARGS); a->v[a->n] = NULL; }

// ---- steps ------------------------------------------------------------------------------------------

static int gen_problems(run *x, const char *dir, const char *split, int64_t count, int64_t seed, const char *name) {
    if (exists("%s/CLOSED", dir)) return 0;
    args a = {0};
    add(&a, "verify"), add(&a, "gen"), add(&a, "--out"), add(&a, dir), add(&a, "--split"), add(&a, split);
    add(&a, "--kinds"), add(&a, x->c.kinds), add(&a, "--difficulty"), add(&a, x->c.difficulty);
    addf(&a, "--count"), addf(&a, "%lld", (long long)count), add(&a, "--seed"), addf(&a, "%lld", (long long)seed);
    add(&a, "--quiet");
    return exec_args(x, name, &a);
}

static int data(run *x) {
    const loop_config *c = &x->c;
    char *d = xasprintf("%s/data", x->R);
    int rc = mkdir_p(d, &x->e);
    if (!rc && !c->init_from) {
        if (!exists("%s/corpus.txt", d)) {
            args a = {0};
            add(&a, "verify"), add(&a, "corpus"), addf(&a, "--out"), addf(&a, "%s/corpus.txt", d);
            add(&a, "--kinds"), add(&a, c->kinds), add(&a, "--difficulty"), add(&a, c->difficulty);
            add(&a, "--count"), addf(&a, "%lld", (long long)c->corpus_docs), add(&a, "--seed");
            addf(&a, "%lld", (long long)c->seed), add(&a, "--quiet");
            rc = exec_args(x, "verify-corpus", &a);
        }
        if (!rc && !exists("%s/tok.bpe", d)) {
            args a = {0};
            add(&a, "shards"), add(&a, "train-tokenizer"), add(&a, "--vocab-size"), addf(&a, "%lld", (long long)c->vocab_size);
            add(&a, "--out"), addf(&a, "%s/tok.bpe", d), addf(&a, "%s/corpus.txt", d);
            rc = exec_args(x, "train-tokenizer", &a);
        }
        if (!rc && !exists("%s/tokens/CLOSED", d)) {
            args a = {0};
            add(&a, "shards"), add(&a, "tokenize"), add(&a, "--tokenizer"), addf(&a, "%s/tok.bpe", d);
            add(&a, "--out"), addf(&a, "%s/tokens", d), addf(&a, "%s/corpus.txt", d);
            rc = exec_args(x, "tokenize", &a);
        }
    }
    char *h = xasprintf("%s/heldout", d), *s = xasprintf("%s/sft_problems", d);
    if (!rc) rc = gen_problems(x, h, "heldout", c->heldout_problems, c->seed, "gen-heldout");
    if (!rc && c->sft_control) rc = gen_problems(x, s, "train", c->sft_problems, c->seed * 1000003 + 7, "gen-sft");
    free(h), free(s), free(d);
    return rc;
}

static int pretrain(run *x) {
    if (x->c.init_from) return 0;
    if (exists("%s/pretrain/model.bin", x->R)) return 0;
    args a = {0};
    add(&a, "pretrain"), add(&a, "--data"), addf(&a, "%s/data/tokens", x->R), add(&a, "--tokenizer"), add(&a, x->tok);
    add(&a, "--out"), addf(&a, "%s/pretrain", x->R), add(&a, "--backend"), add(&a, x->c.backend);
    char *pd = xasprintf("%s/pretrain", x->R);
    if (has_checkpoints(pd)) add(&a, "--resume");
    free(pd);
    pass(x, &a, "pretrain");
    return exec_args(x, "pretrain", &a);
}

// Greedy answers of model `ckpt` to the held-out problems, verified, into eval/<name>.
static int evaluate(run *x, const char *name, const char *ckpt) {
    char *d = xasprintf("%s/eval/%s", x->R, name);
    int rc = 0;
    if (!exists("%s/traj/CLOSED", d)) {
        args a = {0};
        add(&a, "rollout"), add(&a, "--policy"), add(&a, ckpt), add(&a, "--policy-version"), add(&a, "0");
        add(&a, "--tokenizer"), add(&a, x->tok), add(&a, "--problems"), addf(&a, "%s/data/heldout", x->R);
        add(&a, "--out"), addf(&a, "%s/traj", d), add(&a, "--roots"), add(&a, "1"), add(&a, "--depth"), add(&a, "0");
        add(&a, "--temperature"), add(&a, "0"), add(&a, "--max-new"), addf(&a, "%lld", (long long)x->c.eval_max_new);
        add(&a, "--backend"), add(&a, x->c.backend);
        pass(x, &a, "eval");
        char *n = xasprintf("eval-%s-rollout", name);
        rc = exec_args(x, n, &a);
        free(n);
    }
    if (!rc && !exists("%s/verdicts/CLOSED", d)) {
        args a = {0};
        add(&a, "verify"), add(&a, "run"), add(&a, "--problems"), addf(&a, "%s/data/heldout", x->R);
        add(&a, "--trajectories"), addf(&a, "%s/traj", d), add(&a, "--out"), addf(&a, "%s/verdicts", d);
        add(&a, "--tokenizer"), add(&a, x->tok);
        pass(x, &a, "verify");
        char *n = xasprintf("eval-%s-verify", name);
        rc = exec_args(x, n, &a);
        free(n);
    }
    free(d);
    return rc;
}

// ppo of iteration i over trajectories/verdicts (take > 0: the stream form, trees
// [i·take, (i+1)·take) of directories rollout and verify are still writing). ppo itself says
// "already published" when the iteration is done.
static int ppo_step(run *x, int64_t i, const char *traj, const char *verdicts, int64_t take) {
    const loop_config *c = &x->c;
    char nm[64];
    args a = {0};
    add(&a, "ppo"), add(&a, "--policy"), addf(&a, "%s/policy/policy-v%lld.bin", x->R, (long long)i), add(&a, "--reference");
    addf(&a, "%s/policy/policy-v0.bin", x->R), add(&a, "--trajectories"), add(&a, traj), add(&a, "--verdicts");
    add(&a, verdicts), add(&a, "--tokenizer"), add(&a, x->tok), add(&a, "--out"), addf(&a, "%s/policy", x->R);
    add(&a, "--temperature"), addf(&a, "%.17g", c->temperature > 0 ? c->temperature : 1.0), add(&a, "--backend");
    add(&a, c->backend), add(&a, "--seed"), addf(&a, "%lld", (long long)c->seed), add(&a, "--ckpt-every"), add(&a, "8");
    if (take) add(&a, "--take"), addf(&a, "%lld", (long long)take), add(&a, "--skip"), addf(&a, "%lld", (long long)(i * take));
    if (i > 0 && exists("%s/policy/ppo-v%lld/opt.bin", x->R, (long long)i))
        add(&a, "--optimizer"), addf(&a, "%s/policy/ppo-v%lld/opt.bin", x->R, (long long)i);
    if (i > 0 && exists("%s/policy/critic-v%lld.bin", x->R, (long long)i))
        add(&a, "--critic"), addf(&a, "%s/policy/critic-v%lld.bin", x->R, (long long)i);
    pass(x, &a, "ppo");
    snprintf(nm, sizeof nm, "iter-%lld-ppo", (long long)i);
    return exec_args(x, nm, &a);
}

static int iteration(run *x, int64_t i) {
    const loop_config *c = &x->c;
    char *d = xasprintf("%s/iter-%lld", x->R, (long long)i), *pol = xasprintf("%s/policy/policy-v%lld.bin", x->R, (long long)i);
    char *pd = xasprintf("%s/problems", d), nm[64];
    int rc = 0;
    snprintf(nm, sizeof nm, "iter-%lld-problems", (long long)i);
    rc = gen_problems(x, pd, "train", c->problems_per_iter, c->seed * 7919 + i + 1, nm);
    if (!rc && !exists("%s/traj/CLOSED", d)) {
        args a = {0};
        add(&a, "rollout"), add(&a, "--policy"), add(&a, pol), add(&a, "--tokenizer"), add(&a, x->tok);
        add(&a, "--problems"), add(&a, pd), add(&a, "--out"), addf(&a, "%s/traj", d);
        add(&a, "--temperature"), addf(&a, "%.17g", c->temperature), add(&a, "--backend"), add(&a, c->backend);
        add(&a, "--seed"), addf(&a, "%lld", (long long)(c->seed * 104729 + i + 1));
        pass(x, &a, "rollout");
        snprintf(nm, sizeof nm, "iter-%lld-rollout", (long long)i);
        rc = exec_args(x, nm, &a);
    }
    if (!rc && !exists("%s/verdicts/CLOSED", d)) {
        args a = {0};
        add(&a, "verify"), add(&a, "run"), add(&a, "--problems"), add(&a, pd), add(&a, "--trajectories");
        addf(&a, "%s/traj", d), add(&a, "--out"), addf(&a, "%s/verdicts", d), add(&a, "--tokenizer"), add(&a, x->tok);
        pass(x, &a, "verify");
        snprintf(nm, sizeof nm, "iter-%lld-verify", (long long)i);
        rc = exec_args(x, nm, &a);
    }
    if (!rc) {
        char *t = xasprintf("%s/traj", d), *v = xasprintf("%s/verdicts", d);
        rc = ppo_step(x, i, t, v, 0);
        free(t), free(v);
    }
    free(d), free(pol), free(pd);
    return rc;
}

static int eval_after(run *x, int64_t i) {
    if (!((i + 1) % x->c.eval_every == 0 || i + 1 == x->c.iterations)) return 0;
    char name[32], *p = xasprintf("%s/policy/policy-v%lld.bin", x->R, (long long)i + 1);
    snprintf(name, sizeof name, "v%lld", (long long)i + 1);
    int rc = evaluate(x, name, p);
    free(p);
    return rc;
}

// The pooled placement: rollout and verify run beside the loop as long-lived processes over
// one problem stream (every iteration's problems), rollout following the policy directory and
// paced to at most pool_ahead versions ahead; ppo takes each iteration's trees from the
// growing directories. With rollout_devices / train_devices the two pools are two GPUs.
static int pooled(run *x) {
    const loop_config *c = &x->c;
    int64_t K = c->problems_per_iter, n = c->iterations;
    char *pd = xasprintf("%s/pool/problems", x->R), *td = xasprintf("%s/pool/traj", x->R),
         *vd = xasprintf("%s/pool/verdicts", x->R);
    int rc = gen_problems(x, pd, "train", K * n, c->seed * 7919 + 1, "pool-problems");
    args ra = {0}, va = {0};
    add(&ra, "rollout"), add(&ra, "--follow"), addf(&ra, "%s/policy", x->R), add(&ra, "--pace");
    addf(&ra, "%lld,%lld", (long long)K, (long long)c->pool_ahead), add(&ra, "--tokenizer"), add(&ra, x->tok);
    add(&ra, "--problems"), add(&ra, pd), add(&ra, "--out"), add(&ra, td), add(&ra, "--temperature");
    addf(&ra, "%.17g", c->temperature), add(&ra, "--backend"), add(&ra, c->backend), add(&ra, "--seed");
    addf(&ra, "%lld", (long long)(c->seed * 104729 + 1)), add(&ra, "--commit-records"), addf(&ra, "%lld", (long long)(K < 64 ? K : 64));
    add(&ra, "--commit-seconds"), add(&ra, "2");
    pass(x, &ra, "rollout");
    add(&va, "verify"), add(&va, "run"), add(&va, "--problems"), add(&va, pd), add(&va, "--trajectories"), add(&va, td);
    add(&va, "--out"), add(&va, vd), add(&va, "--tokenizer"), add(&va, x->tok), add(&va, "--commit-seconds"), add(&va, "1");
    pass(x, &va, "verify");
    loop_bg rb = {"pool-rollout", ra.v, c->rollout_devices, 0, 0, 0, 0}, vb = {"pool-verify", va.v, c->rollout_devices, 0, 0, 0, 0};
    // The stream directories exist before anyone reads them: verify run and ppo follow a
    // directory that is there but not yet closed, and refuse one that does not exist.
    if (!rc) rc = mkdir_p(td, &x->e) || mkdir_p(vd, &x->e) ? -1 : 0;
    if (!rc && !exists("%s/CLOSED", td)) rc = loop_bg_start(&x->r, &rb, &x->e);
    else rb.done = 1;
    if (!rc && !exists("%s/CLOSED", vd)) rc = loop_bg_start(&x->r, &vb, &x->e);
    else vb.done = 1;
    x->r.devices = c->train_devices;
    for (int64_t i = 0; !rc && i < n; i++) {
        if (loop_bg_poll(&x->r, &rb, 0, &x->e) || loop_bg_poll(&x->r, &vb, 0, &x->e)) {
            rc = -1;
            break;
        }
        rc = ppo_step(x, i, td, vd, K);
        if (!rc) rc = eval_after(x, i);
        if (!rc) rc = loop_report(x->R, c, x->tok, 0, &x->e);
    }
    // rollout ends when the problem stream is done (the last problems with the newest policy)
    if (!rc) rc = loop_bg_poll(&x->r, &rb, 1, &x->e);
    if (!rc) rc = loop_bg_poll(&x->r, &vb, 1, &x->e);
    if (rc) {  // take the pools down with the run
        if (rb.pid > 0) kill(rb.pid, SIGKILL);
        if (vb.pid > 0) kill(vb.pid, SIGKILL);
    }
    x->r.devices = NULL;
    free(pd), free(td), free(vd);
    args_free(&ra), args_free(&va);
    return rc;
}

// The SFT control: the base model fine-tuned on reference solutions for as many FLOPs as RL
// spent (rollout forwards, ppo's forwards and backwards).
static int sft_control(run *x, double post_flops, double flops_per_token, int context) {
    if (exists("%s/sft/model.bin", x->R)) return 0;
    int seq = context, mb = 16;
    for (int i = 0; i < x->c.npass; i++) {
        if (strcmp(x->c.pass[i].stage, "sft")) continue;
        if (!strcmp(x->c.pass[i].opt, "seq-len")) seq = atoi(x->c.pass[i].value);
        if (!strcmp(x->c.pass[i].opt, "micro-batch")) mb = atoi(x->c.pass[i].value);
    }
    double tokens = post_flops / (flops_per_token > 0 ? flops_per_token : 1);
    long long steps = (long long)ceil(tokens / ((double)seq * mb));
    if (steps < 1) steps = 1;
    args a = {0};
    add(&a, "pretrain"), add(&a, "--sft"), add(&a, "--problems"), addf(&a, "%s/data/sft_problems", x->R);
    add(&a, "--val-problems"), addf(&a, "%s/data/heldout", x->R), add(&a, "--tokenizer"), add(&a, x->tok);
    add(&a, "--init-from"), add(&a, x->base), add(&a, "--out"), addf(&a, "%s/sft", x->R), add(&a, "--backend");
    add(&a, x->c.backend), add(&a, "--steps"), addf(&a, "%lld", steps), add(&a, "--sft-drop-long");
    int has_seq = 0, has_mb = 0, has_lr = 0;
    for (int i = 0; i < x->c.npass; i++)
        if (!strcmp(x->c.pass[i].stage, "sft"))
            has_seq |= !strcmp(x->c.pass[i].opt, "seq-len"), has_mb |= !strcmp(x->c.pass[i].opt, "micro-batch"),
                has_lr |= !strcmp(x->c.pass[i].opt, "lr");
    if (!has_seq) add(&a, "--seq-len"), addf(&a, "%d", seq);
    if (!has_mb) add(&a, "--micro-batch"), addf(&a, "%d", mb);
    if (!has_lr) add(&a, "--lr"), add(&a, "1e-4");
    add(&a, "--eval-every"), add(&a, "0"), add(&a, "--ckpt-every"), add(&a, "0");
    char *sd = xasprintf("%s/sft", x->R);
    if (has_checkpoints(sd)) add(&a, "--resume");
    free(sd);
    pass(x, &a, "sft");
    return exec_args(x, "sft-control", &a);
}

// ---- main ----------------------------------------------------------------------------------------------

typedef struct run_opts {
    char *config, *out;
} run_opts;

#define F(x) offsetof(run_opts, x)
static const cli_opt run_opt_list[] = {
    {CLI_STR, "config", F(config), NULL, 0, 0, NULL, CLI_LOCAL, "FILE", "the run config (required; berry config lists its keys)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, CLI_LOCAL, "DIR", "run directory (default: the config's out)"},
};
#undef F
static const cli_table run_table = {run_opt_list, (int)(sizeof run_opt_list / sizeof run_opt_list[0])};
static const cli_cmd run_cmd = {"berry run",
                                "usage: berry run --config FILE [--out DIR]\n"
                                "\n"
                                "Runs the pipeline a config describes (berry config lists the keys): data, pretraining, RL\n"
                                "iterations, evaluations, the SFT control, the report. The same command again continues\n"
                                "a run that was stopped.\n",
                                &run_table, 0, NULL};

static char *bin_dir(const char *argv0) {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return xstrdup(".");
    buf[n] = 0;
    char *s = strrchr(buf, '/');
    if (s) *s = 0;
    (void)argv0;
    return xstrdup(buf);
}

int loop_run_main(int argc, char **argv, int first) {
    run X = {0}, *x = &X;
    run_opts o;
    berr *e = &x->e;
    int rc = cli_command(&run_cmd, &o, argc, argv, first, NULL, NULL);
    if (rc != CLI_GO) return rc;
    if (!o.config) return cli_usage_error(&run_cmd, "--config FILE is required");
    char *bin = bin_dir(argv[0]);
    if (loop_config_load(&x->c, o.config, bin, e)) return cli_usage_error(&run_cmd, "%s", e->msg);
    loop_config *c = &x->c;
    if (o.out) free(c->out), c->out = xstrdup(o.out);
    if (!c->out) return cli_usage_error(&run_cmd, "%s: no run directory: give out = DIR or --out DIR", o.config);
    x->R = c->out;
    if (mkdir_p(x->R, e)) {
        fprintf(stderr, "berry run: error: %s\n", e->msg);
        return 1;
    }
    char *lp = xasprintf("%s/log.jsonl", x->R);
    x->r = (loop_run){.bin = bin, .dir = x->R, .log = fopen(lp, "a"), .t0 = now_sec(), .quiet = cli_quiet};
    free(lp);
    if (x->r.log) {
        fprintf(x->r.log, "{\"event\": \"start\", \"config\": ");
        json_string(x->r.log, o.config, strlen(o.config));
        fputs("}\n", x->r.log);
        fflush(x->r.log);
    }
    x->tok = c->tokenizer ? xstrdup(c->tokenizer) : xasprintf("%s/data/tok.bpe", x->R);
    x->base = c->init_from ? xstrdup(c->init_from) : xasprintf("%s/pretrain/model.bin", x->R);
    char *pol0 = xasprintf("%s/policy/policy-v0.bin", x->R), *pdir = xasprintf("%s/policy", x->R);
    rc = data(x);
    if (!rc) rc = pretrain(x);
    if (!rc && !exists("%s", pol0)) {  // version 0 is the base model
        char *buf;
        size_t len;
        rc = mkdir_p(pdir, e) || read_file(x->base, &buf, &len, e) ? -1 : write_file_atomic(pol0, buf, len, e);
        if (!rc) free(buf);
    }
    if (!rc) {
        x->r.devices = c->train_devices;
        rc = evaluate(x, "v0", pol0);
        x->r.devices = NULL;
    }
    if (!rc && !strcmp(c->placement, "pooled")) {
        rc = pooled(x);
    } else {
        for (int64_t i = 0; !rc && i < c->iterations; i++) {
            rc = iteration(x, i);
            if (!rc) rc = eval_after(x, i);
            if (!rc) rc = loop_report(x->R, c, x->tok, 0, e);  // the report grows with the run
        }
    }
    if (!rc && c->sft_control) {
        loop_flops fl;
        rc = loop_flops_read(x->R, c, &fl, e);
        if (!rc) rc = sft_control(x, fl.post_total, fl.pretrain_per_token, fl.context);
        if (!rc) {
            char *s = xasprintf("%s/sft/model.bin", x->R);
            rc = evaluate(x, "sft", s);
            free(s);
        }
    }
    if (!rc) rc = loop_report(x->R, c, x->tok, 1, e);
    if (rc) fprintf(stderr, "berry run: error: %s\n(the same command continues the run)\n", e->msg);
    else if (!cli_quiet) fprintf(stderr, "berry run: done in %.0f s: %s/report.txt, %s/report.html\n", now_sec() - x->r.t0, x->R, x->R);
    if (x->r.log) {
        fprintf(x->r.log, "{\"event\": \"%s\", \"seconds\": %.3f}\n", rc ? "failed" : "done", now_sec() - x->r.t0);
        fclose(x->r.log);
    }
    free(pol0), free(pdir), free(x->tok), free(x->base), free(bin);
    loop_config_free(c);
    cli_free(&run_table, &o);
    return rc ? 1 : 0;
}
