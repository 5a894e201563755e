// test_learn.c — a tiny ORM and a tiny PRM learn on synthetic trees (reward train, in process, on
// the CPU): a random-init GPT-2 of 2 layers, trees whose passing leaves end with one token pattern
// and failing ones with another, and whose roots carry a "good" or "bad" token that makes their
// completions likely to pass or fail. The ORM's validation AUC must end near 1 and its loss fall;
// the PRM's step AUC too, with a first-error accuracy above chance.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/train/runlog.h"
#include "kernels/train/trainer.h"
#include "reward/data.h"
#include "reward/reward.h"
#include "shards/stream.h"
#include "tests/test.h"

enum { V = 32, EOT = 1, PASS_TOK = 2, FAIL_TOK = 3, MARK = 5, GOOD = 6, BAD = 7 };

static uint32_t rnd_tok(uint64_t *s) { return 8 + (uint32_t)(rng_next(s) % (V - 8)); }

static void make_lm(const char *path) {
    berr e;
    kb_ctx *ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    gpt2_config c = {2, 32, 2, V, 128, 64, 0};
    gpt2 m;
    gpt2_build(&m, ctx, &c, 1, 64, 0);
    gpt2_init(&m, 7);
    if (gpt2_save(&m, path, 0, NULL, 0, &e)) die("%s", e.msg);
    gpt2_free(&m);
    kb_close(ctx);
}

// One tree: 2 roots of [GOOD|BAD, 5 random, MARK] (a step end at the marker), each forking into 2
// leaves of [3 random, PASS_TOK|FAIL_TOK, x2, EOT]; a good root's leaves pass with p 0.85, a bad
// one's with p 0.15.
static void make_tree(uint64_t *s, uint64_t pid, traj_rec *t, verdict_rec *v, int *nv) {
    memset(t, 0, sizeof *t);
    t->problem_id = pid;
    t->n_prompt = 4;
    t->prompt = xmalloc(16);
    for (int i = 0; i < 4; i++) t->prompt[i] = rnd_tok(s);
    t->n_nodes = 6;
    t->nodes = xcalloc(6, sizeof *t->nodes);
    int k = 0;
    *nv = 0;
    for (int r = 0; r < 2; r++) {
        int good = rng_next(s) & 1, root = k;
        traj_node *nd = &t->nodes[k++];
        nd->parent = TRAJ_ROOT, nd->finish = FINISH_BRANCHED, nd->seed = rng_next(s);
        nd->n_tokens = 7;
        nd->tokens = xmalloc(7 * 4);
        nd->logprobs = xcalloc(7, 4);
        nd->tokens[0] = good ? GOOD : BAD;
        for (int i = 1; i < 6; i++) nd->tokens[i] = rnd_tok(s);
        nd->tokens[6] = MARK;
        nd->n_steps = 1;
        nd->step_ends = xmalloc(4);
        nd->step_ends[0] = 6;
        for (int c = 0; c < 2; c++) {
            int pass = rng_uniform(s) < (good ? 0.85f : 0.15f);
            traj_node *ch = &t->nodes[k];
            ch->parent = (uint32_t)root, ch->finish = FINISH_ANSWER, ch->seed = rng_next(s);
            ch->n_tokens = 6;
            ch->tokens = xmalloc(6 * 4);
            ch->logprobs = xcalloc(6, 4);
            for (int i = 0; i < 3; i++) ch->tokens[i] = rnd_tok(s);
            ch->tokens[3] = ch->tokens[4] = pass ? PASS_TOK : FAIL_TOK;
            ch->tokens[5] = EOT;
            v[(*nv)++] = (verdict_rec){pid, (uint32_t)k, 0, pass ? OUTCOME_PASS : OUTCOME_FAIL, 0, "", 0};
            k++;
        }
    }
    uint64_t id = traj_tree_id(t);
    for (int i = 0; i < *nv; i++) v[i].tree_id = id;
}

static void make_labels(const char *dir, int ntrees) {
    uint64_t s = 99;
    traj_rec *t = xcalloc((size_t)ntrees, sizeof *t);
    verdict_rec *v = xcalloc((size_t)ntrees * 4, sizeof *v);
    int nv = 0;
    for (int i = 0; i < ntrees; i++) {
        int n;
        make_tree(&s, 1000 + (uint64_t)i, &t[i], v + nv, &n);
        nv += n;
    }
    vtree_set set;
    berr e;
    if (vtree_set_join(&set, t, NULL, (size_t)ntrees, v, (size_t)nv, NULL, &e)) die("%s", e.msg);
    shard_dir_opts o = {0};
    shard_dir_writer *w = shard_dir_writer_open(dir, "label", SHARD_LABELS, LABEL_SCHEMA, &o, &e);
    if (!w) die("%s", e.msg);
    rw_label_opts lo = {0, 0};
    bbuf b = {0};
    for (size_t i = 0; i < set.n; i++) {
        label_rec l;
        rw_label_tree(&set.trees[i], &lo, &l);
        b.n = 0;
        label_encode(&b, &l);
        rw_label_tree_free(&l);
        if (shard_dir_append(w, b.p, b.n, &e)) die("%s", e.msg);
    }
    if (shard_dir_close(w, &e)) die("%s", e.msg);
    bbuf_free(&b);
    vtree_set_free(&set);
    free(t);
    free(v);
}

// The numeric member `key` of the first / last line of a log holding it.
static int log_value(const char *log, const char *key, int last, double *out) {
    char *buf;
    size_t len;
    berr e;
    if (read_file(log, &buf, &len, &e)) return -1;
    int found = 0;
    char *line = buf;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        double x;
        if (tr_log_number(line, key, &x) == 1) {
            if (!found || last) *out = x;
            found = 1;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    return found ? 0 : -1;
}

static int run_train(const char *kind, const char *labels, const char *lm, const char *out) {
    char *argv[] = {"reward", "train", "--kind", (char *)kind, "--labels", (char *)labels, "--init-from", (char *)lm,
                    "--out", (char *)out, "--steps", "80", "--micro-batch", "16", "--lr", "3e-3", "--warmup", "5",
                    "--eval-every", "40", "--val-fraction", "0.25", "--backend", "cpu", "--quiet", NULL};
    return rw_train_main(25, argv, 2);
}

int main(void) {
    omp_set_num_threads(1);  // the results do not depend on it; idle spinning threads on a busy machine would cost 10x
    char tmpl[] = "/tmp/berry-reward-learn.XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) die("mkdtemp failed");
    char *lm = xasprintf("%s/lm.bin", dir), *labels = xasprintf("%s/labels", dir);
    char *orm = xasprintf("%s/orm", dir), *prm = xasprintf("%s/prm", dir);
    make_lm(lm);
    make_labels(labels, 240);
    double t0 = now_sec();
    CHECK(run_train("orm", labels, lm, orm) == 0, "reward train --kind orm");
    double t_orm = now_sec() - t0;
    char *log = xasprintf("%s/log.jsonl", orm);
    double l0 = 0, l1 = 9, auc = 0, acc = 0, tl0 = 0, tl1 = 9;
    log_value(log, "val_loss", 0, &l0);
    log_value(log, "val_loss", 1, &l1);
    log_value(log, "val_auc", 1, &auc);
    log_value(log, "val_acc", 1, &acc);
    log_value(log, "loss", 0, &tl0);
    log_value(log, "loss", 1, &tl1);
    printf("ORM (%.1f s): val loss %.4f -> %.4f, train loss %.4f -> %.4f, AUC %.4f, accuracy %.4f\n", t_orm, l0, l1, tl0, tl1,
           auc, acc);
    CHECK(l1 < 0.5 * l0, "ORM validation loss falls by half (%.4f -> %.4f)", l0, l1);
    CHECK(auc > 0.97, "ORM validation AUC near 1 (%.4f)", auc);
    CHECK(acc > 0.9, "ORM validation accuracy above 0.9 (%.4f)", acc);
    free(log);

    t0 = now_sec();
    CHECK(run_train("prm", labels, lm, prm) == 0, "reward train --kind prm");
    double t_prm = now_sec() - t0;
    log = xasprintf("%s/log.jsonl", prm);
    double fe = 0, pl0 = 0, pl1 = 9;
    auc = 0;
    log_value(log, "val_loss", 0, &pl0);
    log_value(log, "val_loss", 1, &pl1);
    log_value(log, "val_auc", 1, &auc);
    log_value(log, "val_first_error_acc", 1, &fe);
    printf("PRM (%.1f s): val loss %.4f -> %.4f, step AUC %.4f, first-error accuracy %.4f\n", t_prm, pl0, pl1, auc, fe);
    CHECK(pl1 < 0.8 * pl0, "PRM validation loss falls (%.4f -> %.4f)", pl0, pl1);
    CHECK(auc > 0.9, "PRM step AUC above 0.9 (%.4f)", auc);
    CHECK(fe > 0.6, "PRM first-error accuracy above 0.6 (%.4f)", fe);
    free(log);
    gpt2_ckpt_info info;
    berr e;
    char *mb = xasprintf("%s/model.bin", prm);
    CHECK(gpt2_ckpt_info_read(mb, &info, &e) == 0 && info.cfg.n_scalar == 1 && info.cfg.V == V,
          "model.bin is a head model of the base's vocabulary");
    free(mb);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
    free(cmd);
    free(lm), free(labels), free(orm), free(prm);
    return test_summary();
}
