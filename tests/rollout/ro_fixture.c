// ro_fixture.c — makes what the rollout stage tests need, from nothing:
//   ro_fixture tokenizer FILE [VOCAB]           a BPE trained on the built-in task corpus, with
//                                               the task format's special tokens
//   ro_fixture problems DIR FROM COUNT PER_SHARD SEED [close|open|empty]
//                                               problems FROM .. FROM+COUNT-1 of a task stream as
//                                               producer "gen" (more shards after earlier ones);
//                                               close: close the directory afterwards; empty:
//                                               publish one empty shard and close
//   ro_fixture policy FILE TOKENIZER MAXT SEED [VDELTA]
//                                               a random 2-layer policy over the tokenizer's
//                                               vocabulary (+ VDELTA ids: a mismatch), with the
//                                               step/answer/newline tokens made likelier
#include <stdlib.h>
#include <string.h>

#include "kernels/gpt2.h"
#include "shards/records.h"
#include "shards/stream.h"
#include "shards/tokenizer.h"
#include "shards/task_format.h"
#include "verify/tasks.h"

static void opts_for(tasks_opts *o, uint64_t seed) {
    berr e;
    tasks_opts_default(o);
    o->seed = seed;
    o->progress = 0;
    if (tasks_opts_set(o, "kinds", "all", &e) || tasks_opts_set(o, "difficulty", "1-2", &e)) die("%s", e.msg);
}

static int make_tokenizer(const char *path, int vocab) {
    tasks_opts o;
    opts_for(&o, 5);
    tasks_stream s;
    berr e;
    if (tasks_stream_init(&s, &o, &e)) die("%s", e.msg);
    bbuf text = {0};
    for (int i = 0; i < 400; i++) {
        problem_rec p;
        if (tasks_stream_next(&s, &p, &e)) die("%s", e.msg);
        tasks_corpus_document(&text, &p);
        problem_free(&p);
    }
    tasks_stream_free(&s);
    const char *specials[3] = {BERRY_EOT, BERRY_STEP, BERRY_ANSWER};
    bpe *t = bpe_train((const char *)text.p, text.n, vocab, BPE_PRETOK_DIGITS, specials, 3, &e);
    if (!t || bpe_save(t, path, &e)) die("%s", e.msg);
    bpe_free(t);
    bbuf_free(&text);
    return 0;
}

static int make_problems(const char *dir, int from, int count, int per_shard, uint64_t seed, const char *mode) {
    berr e;
    shard_dir_opts dopt = {0};
    shard_dir_writer *w = shard_dir_writer_open(dir, "gen", SHARD_PROBLEMS, PROBLEM_SCHEMA, &dopt, &e);
    if (!w) die("%s", e.msg);
    if (!strcmp(mode, "empty")) {
        if (shard_dir_publish(w, "empty", 5, &e) || shard_dir_close(w, &e)) die("%s", e.msg);
        return 0;
    }
    tasks_opts o;
    opts_for(&o, seed);
    tasks_stream s;
    if (tasks_stream_init(&s, &o, &e)) die("%s", e.msg);
    bbuf rec = {0};
    for (int i = 0; i < from + count; i++) {
        problem_rec p;
        if (tasks_stream_next(&s, &p, &e)) die("%s", e.msg);
        if (i >= from) {
            rec.n = 0;
            problem_encode(&rec, &p);
            if (shard_dir_append(w, rec.p, rec.n, &e)) die("%s", e.msg);
            if ((i - from + 1) % per_shard == 0 && shard_dir_publish(w, NULL, 0, &e)) die("%s", e.msg);
        }
        problem_free(&p);
    }
    tasks_stream_free(&s);
    bbuf_free(&rec);
    if (shard_dir_publish(w, NULL, 0, &e)) die("%s", e.msg);
    if (!strcmp(mode, "close")) {
        if (shard_dir_close(w, &e)) die("%s", e.msg);
    } else {
        shard_dir_abort(w);
    }
    return 0;
}

static int make_policy(const char *path, const char *tok_path, int maxT, uint64_t seed, int vdelta) {
    berr e;
    bpe *t = bpe_load(tok_path, &e);
    if (!t) die("%s", e.msg);
    int V = bpe_vocab_size(t) + vdelta;
    gpt2_config cfg = {.L = 2, .C = 64, .NH = 2, .V = V, .Vp = (V + 127) / 128 * 128, .maxT = maxT};
    kb_ctx *ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, 1, 1, 0);
    gpt2_init(&m, seed);
    // A random model's next-token distribution is nearly uniform over thousands of ids: give
    // the step and answer markers, the newline and end-of-text fixed logit offsets through the
    // final layernorm's bias, so that trees branch and answers end within a few dozen tokens.
    float *p = xmalloc(m.n_params * 4);
    gpt2_get_params(&m, p);
    int ids[4] = {bpe_special(t, BERRY_STEP), bpe_special(t, BERRY_ANSWER), '\n', bpe_special(t, BERRY_EOT)};
    float beta[4] = {4.5f, 3.5f, 4.5f, 2.0f};
    for (int k = 0; k < 4; k++) {
        if (ids[k] < 0 || ids[k] >= V) continue;
        const float *w = p + m.off[GPT2_WTE] + (size_t)ids[k] * cfg.C;
        double n2 = 0;
        for (int i = 0; i < cfg.C; i++) n2 += (double)w[i] * w[i];
        for (int i = 0; i < cfg.C; i++) p[m.off[GPT2_LNFB] + i] += (float)(beta[k] * w[i] / n2);
    }
    gpt2_set_params(&m, p);
    free(p);
    if (gpt2_save(&m, path, 0, NULL, 0, &e)) die("%s", e.msg);
    gpt2_free(&m);
    kb_close(ctx);
    bpe_free(t);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "tokenizer")) return make_tokenizer(argv[2], argc > 3 ? atoi(argv[3]) : 400);
    if (argc >= 7 && !strcmp(argv[1], "problems"))
        return make_problems(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), strtoull(argv[6], NULL, 10),
                             argc > 7 ? argv[7] : "close");
    if (argc >= 6 && !strcmp(argv[1], "policy"))
        return make_policy(argv[2], argv[3], atoi(argv[4]), strtoull(argv[5], NULL, 10), argc > 6 ? atoi(argv[6]) : 0);
    fprintf(stderr, "usage: see the comment at the top of tests/rollout/ro_fixture.c\n");
    return 2;
}
