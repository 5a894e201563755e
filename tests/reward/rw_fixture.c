// rw_fixture.c — what the reward stage's script tests need, from nothing:
//   rw_fixture tokenizer FILE                 a BPE (264 ids) on task-format text, with the specials
//   rw_fixture lm FILE TOKENIZER MAXT SEED [VDELTA]
//                                             a random 2-layer language model over the tokenizer's
//                                             vocabulary (+ VDELTA ids: a mismatch)
//   rw_fixture tasks DIR TOKENIZER PROBLEMS ROOTS FORK SEED SPLIT
//                                             DIR/problems (arith "Compute a + b.", split train or
//                                             heldout), DIR/traj (a tree per problem: ROOTS roots;
//                                             FORK 0: each root a whole answer; FORK 2: each root a
//                                             step ending at a step marker, then 2 answers), DIR/verd
//                                             (verdicts by the math verifier) and DIR/scores (known
//                                             scores: ORM 0.9 for a pass and 0.1 otherwise, PRM min
//                                             0.4 for a pass and 0.6 otherwise, PRM product random)
#include <stdlib.h>
#include <string.h>

#include "kernels/gpt2.h"
#include "shards/records.h"
#include "shards/stream.h"
#include "shards/task_format.h"
#include "shards/tokenizer.h"
#include "verify/math.h"

static int make_tokenizer(const char *path) {
    bbuf text = {0};
    uint64_t s = 3;
    for (int i = 0; i < 3000; i++) {
        int a = (int)(rng_next(&s) % 50), b = (int)(rng_next(&s) % 50);
        char doc[256];
        snprintf(doc, sizeof doc, "Compute %d + %d.\n%s%d + %d = %d\n%s%d\n%s", a, b, BERRY_STEP, a, b, a + b, BERRY_ANSWER,
                 a + b, BERRY_EOT);
        bbuf_put(&text, doc, strlen(doc));
    }
    const char *specials[3] = {BERRY_EOT, BERRY_STEP, BERRY_ANSWER};
    berr e;
    bpe *t = bpe_train((const char *)text.p, text.n, 264, BPE_PRETOK_DIGITS, specials, 3, &e);
    if (!t || bpe_save(t, path, &e)) die("%s", e.msg);
    bpe_free(t);
    bbuf_free(&text);
    return 0;
}

static int make_lm(const char *path, const char *tok_path, int maxT, uint64_t seed, int vdelta) {
    berr e;
    bpe *t = bpe_load(tok_path, &e);
    if (!t) die("%s", e.msg);
    int V = bpe_vocab_size(t) + vdelta;
    gpt2_config cfg = {.L = 2, .C = 32, .NH = 2, .V = V, .Vp = (V + 127) / 128 * 128, .maxT = maxT};
    kb_ctx *ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, 1, 1, 0);
    gpt2_init(&m, seed);
    if (gpt2_save(&m, path, 0, NULL, 0, &e)) die("%s", e.msg);
    gpt2_free(&m);
    kb_close(ctx);
    bpe_free(t);
    return 0;
}

static uint32_t *encode(const bpe *t, const char *s, uint32_t *n) {
    uint32_t *ids;
    *n = (uint32_t)bpe_encode(t, s, strlen(s), &ids);
    return ids;
}

static void node_of(traj_node *nd, const bpe *t, const char *text, uint32_t parent, uint32_t finish, uint64_t seed, int step_at_end) {
    memset(nd, 0, sizeof *nd);
    nd->parent = parent;
    nd->finish = finish;
    nd->seed = seed;
    nd->tokens = encode(t, text, &nd->n_tokens);
    nd->logprobs = xcalloc(nd->n_tokens + 1, sizeof(float));
    for (uint32_t i = 0; i < nd->n_tokens; i++) nd->logprobs[i] = -1.0f;
    // Step ends at the step and answer markers (not a trajectory's very first token).
    nd->step_ends = xmalloc((nd->n_tokens + 1) * sizeof(uint32_t));
    int sm = bpe_special(t, BERRY_STEP), am = bpe_special(t, BERRY_ANSWER);
    for (uint32_t i = 0; i < nd->n_tokens; i++)
        if ((nd->tokens[i] == (uint32_t)sm || nd->tokens[i] == (uint32_t)am) && (i > 0 || parent != TRAJ_ROOT))
            nd->step_ends[nd->n_steps++] = i;
    (void)step_at_end;
}

static shard_dir_writer *open_dir(const char *dir, const char *sub, uint32_t kind, uint32_t schema) {
    berr e;
    char *p = xasprintf("%s/%s", dir, sub);
    shard_dir_opts o = {0};
    o.max_records = 7;  // several shards
    shard_dir_writer *w = shard_dir_writer_open(p, "fixture", kind, schema, &o, &e);
    if (!w) die("%s", e.msg);
    free(p);
    return w;
}

static void append(shard_dir_writer *w, bbuf *b) {
    berr e;
    if (shard_dir_append(w, b->p, b->n, &e)) die("%s", e.msg);
    b->n = 0;
}

static void close_dir(shard_dir_writer *w) {
    berr e;
    if (shard_dir_close(w, &e)) die("%s", e.msg);
}

static int make_tasks(const char *dir, const char *tok_path, int nprob, int roots, int fork, uint64_t seed, const char *split) {
    berr e;
    bpe *t = bpe_load(tok_path, &e);
    if (!t) die("%s", e.msg);
    shard_dir_writer *wp = open_dir(dir, "problems", SHARD_PROBLEMS, PROBLEM_SCHEMA),
                     *wt = open_dir(dir, "traj", SHARD_TRAJECTORIES, TRAJ_SCHEMA),
                     *wv = open_dir(dir, "verd", SHARD_VERDICTS, VERDICT_SCHEMA),
                     *ws = open_dir(dir, "scores", SHARD_SCORES, SCORE_SCHEMA);
    uint64_t s = seed;
    bbuf b = {0};
    for (int i = 0; i < nprob; i++) {
        int x = (int)(rng_next(&s) % 40), y = (int)(rng_next(&s) % 40), sum = x + y;
        char prompt[64], ans[16];
        snprintf(prompt, sizeof prompt, "Compute %d + %d.\n", x, y);
        snprintf(ans, sizeof ans, "%d", sum);
        problem_rec p = {mix64(seed, (uint64_t)i) | 1, TASK_ARITH, strcmp(split, "heldout") ? SPLIT_TRAIN : SPLIT_HELDOUT, 1,
                         prompt, ans, "", ""};
        problem_encode(&b, &p);
        append(wp, &b);
        traj_rec tr = {p.id, 0, 0, NULL, 0, NULL};
        tr.prompt = encode(t, prompt, &tr.n_prompt);
        int per_root = fork ? 1 + fork : 1;
        tr.nodes = xcalloc((size_t)roots * per_root, sizeof *tr.nodes);
        uint8_t *is_leaf = xcalloc((size_t)roots * per_root, 1);
        for (int r = 0; r < roots; r++) {
            // An answer is right with probability 0.4; a wrong one is off by 1..3; "0N" is N written another way.
            int right = rng_uniform(&s) < 0.4f, val = right ? sum : sum + 1 + (int)(rng_next(&s) % 3);
            char text[128];
            const char *zero = rng_next(&s) % 4 == 0 ? "0" : "";
            if (!fork) {
                snprintf(text, sizeof text, "%s%d + %d = %d\n%s%s%d\n%s", BERRY_STEP, x, y, val, BERRY_ANSWER, zero, val, BERRY_EOT);
                is_leaf[tr.n_nodes] = 1;
                node_of(&tr.nodes[tr.n_nodes++], t, text, TRAJ_ROOT, FINISH_EOT, rng_next(&s), 0);
                continue;
            }
            uint32_t root = tr.n_nodes;
            snprintf(text, sizeof text, "%s%d + %d = %d\n%s", BERRY_STEP, x, y, val, BERRY_STEP);
            node_of(&tr.nodes[tr.n_nodes++], t, text, TRAJ_ROOT, FINISH_BRANCHED, rng_next(&s), 1);
            for (int c = 0; c < fork; c++) {
                int v2 = rng_next(&s) % 4 == 0 ? val + 10 : val;  // a child sometimes goes wrong after a right step
                snprintf(text, sizeof text, "so it is %d\n%s%s%d\n%s", v2, BERRY_ANSWER, zero, v2, BERRY_EOT);
                is_leaf[tr.n_nodes] = 1;
                node_of(&tr.nodes[tr.n_nodes++], t, text, root, FINISH_EOT, rng_next(&s), 0);
            }
        }
        traj_encode(&b, &tr);
        append(wt, &b);
        uint64_t tid = traj_tree_id(&tr);
        uint32_t *chain = xmalloc(tr.n_nodes * sizeof *chain);
        for (uint32_t k = 0; k < tr.n_nodes; k++) {
            if (!is_leaf[k]) continue;
            // The leaf's text, checked by the math verifier.
            uint32_t d = 0;
            for (uint32_t j = k; j != TRAJ_ROOT; j = tr.nodes[j].parent) chain[d++] = j;
            bbuf ids = {0};
            for (uint32_t q = d; q-- > 0;)
                for (uint32_t z = 0; z < tr.nodes[chain[q]].n_tokens; z++) bbuf_u32(&ids, tr.nodes[chain[q]].tokens[z]);
            char *txt;
            size_t len;
            uint32_t *idv = xmalloc(ids.n + 4);
            for (size_t z = 0; z < ids.n / 4; z++) idv[z] = le32(ids.p + 4 * z);
            if (bpe_decode(t, idv, ids.n / 4, &txt, &len, &e)) die("%s", e.msg);
            math_verdict mv;
            if (math_check(txt, len, &p, &mv)) die("math_check: %s", mv.detail);
            verdict_rec v = {p.id, k, 0, mv.outcome, 0.001f, mv.detail, tid};
            verdict_encode(&b, &v);
            append(wv, &b);
            int pass = mv.outcome == OUTCOME_PASS;
            float prm[2] = {pass ? 0.4f : 0.6f, 0.9f};
            score_rec sc = {p.id, k, pass ? 0.9f : 0.1f, 2, prm, tid, 0, SCORE_HAS_ORM | SCORE_HAS_PRM, prm[0], rng_uniform(&s)};
            score_encode(&b, &sc);
            append(ws, &b);
            free(txt), free(idv);
            bbuf_free(&ids);
        }
        free(chain);
        free(is_leaf);
        traj_free(&tr);
    }
    close_dir(wp), close_dir(wt), close_dir(wv), close_dir(ws);
    bbuf_free(&b);
    bpe_free(t);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "tokenizer")) return make_tokenizer(argv[2]);
    if (argc >= 6 && !strcmp(argv[1], "lm"))
        return make_lm(argv[2], argv[3], atoi(argv[4]), strtoull(argv[5], NULL, 10), argc > 6 ? atoi(argv[6]) : 0);
    if (argc == 9 && !strcmp(argv[1], "tasks"))
        return make_tasks(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), strtoull(argv[7], NULL, 10), argv[8]);
    fprintf(stderr, "usage: see the comment at the top of tests/reward/rw_fixture.c\n");
    return 2;
}
