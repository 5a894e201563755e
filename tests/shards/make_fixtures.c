// make_fixtures.c — writes the golden fixtures in tests/shards/fixtures/: one small shard
// of every record kind (schema 1, and scores also at schema 2; fixed creation time) and a tiny
// llm.c token file. They
// are committed; test_tool checks that `shards cat` still prints them as the committed
// .jsonl files, so any change that breaks reading old shards shows up.
// Regenerate (only when the format version changes) with:
//   make build/tests/shards/make_fixtures && build/tests/shards/make_fixtures tests/shards/fixtures
#include "tests/shards/util.h"

static void finish(shard_writer *w) {
    berr e;
    if (shard_finish(w, &e)) die("%s", e.msg);
}

static shard_writer *create_schema(const char *dir, const char *name, uint32_t kind, uint32_t schema) {
    berr e;
    char *p = xasprintf("%s/%s", dir, name);
    shard_writer *w = shard_create(p, kind, schema, "fixtures", &e);
    if (!w) die("%s", e.msg);
    free(p);
    return w;
}
static shard_writer *create(const char *dir, const char *name, uint32_t kind) { return create_schema(dir, name, kind, 1); }

static void add(shard_writer *w, bbuf *b) {
    berr e;
    if (shard_append(w, b->p, b->n, &e)) die("%s", e.msg);
    b->n = 0;
}

int main(int argc, char **argv) {
    if (argc != 2) die("usage: make_fixtures DIR");
    const char *dir = argv[1];
    berr e;
    if (mkdir_p(dir, &e)) die("%s", e.msg);
    setenv("SOURCE_DATE_EPOCH", "1717200000", 1);
    bbuf b = {0};

    shard_writer *w = create(dir, "tokens-v1.shard", SHARD_TOKENS);
    uint32_t t1[10] = {50256, 464, 3139, 7586, 21831, 18045, 625, 262, 16931, 3290};
    uint32_t t3[3] = {0, 65535, 70000};
    tokens_encode(&b, t1, 10);
    add(w, &b);
    tokens_encode(&b, NULL, 0);
    add(w, &b);
    tokens_encode(&b, t3, 3);
    add(w, &b);
    finish(w);

    w = create(dir, "problems-v1.shard", SHARD_PROBLEMS);
    problem_rec p1 = {1001, TASK_ARITH, SPLIT_TRAIN, 2, "Compute (12 + 7) * 3 - 5.\n", "52", "",
                      "<|step|>12 + 7 = 19\n<|step|>19 * 3 = 57\n<|step|>57 - 5 = 52\n<|answer|>52\n"};
    problem_rec p2 = {1002, TASK_CODE, SPLIT_HELDOUT, 1, "Write f(x) returning x squared.\n", "",
                      "assert f(3) == 9\nassert f(-2) == 4\n", "<|answer|>def f(x):\n    return x * x\n"};
    problem_encode(&b, &p1);
    add(w, &b);
    problem_encode(&b, &p2);
    add(w, &b);
    finish(w);

    w = create(dir, "trajectories-v1.shard", SHARD_TRAJECTORIES);
    uint32_t prompt[4] = {7, 8, 9, 10}, a[3] = {11, 12, 13}, b1[2] = {14, 15}, b2[1] = {16};
    float la[3] = {-0.5f, -1.25f, -0.125f}, lb1[2] = {-2.0f, -0.75f}, lb2[1] = {-3.5f};
    uint32_t sa[1] = {3}, sb1[1] = {2};
    traj_node nodes[3] = {{TRAJ_ROOT, FINISH_BRANCHED, 42, 3, a, la, 1, sa},
                          {0, FINISH_ANSWER, 43, 2, b1, lb1, 1, sb1},
                          {0, FINISH_MAXLEN, 44, 1, b2, lb2, 0, NULL}};
    traj_rec t = {1001, 3, 4, prompt, 3, nodes};
    traj_encode(&b, &t);
    add(w, &b);
    finish(w);

    w = create(dir, "verdicts-v1.shard", SHARD_VERDICTS);
    verdict_rec v1 = {1001, 1, 3, OUTCOME_PASS, 0.25f, "answer 52 matches"};
    verdict_rec v2 = {1001, 2, 3, OUTCOME_TIMEOUT, 2.0f, "killed after 2 s wall clock"};
    verdict_rec v3 = {1002, 0, 3, OUTCOME_CRASH, 0.5f, "stderr: \xff\xfe bad bytes\tand a tab"};
    // The fixture is schema 1: the encoder writes schema 2, whose only addition is the
    // trailing tree_id (8 bytes), left off here.
    verdict_encode(&b, &v1);
    b.n -= 8;
    add(w, &b);
    verdict_encode(&b, &v2);
    b.n -= 8;
    add(w, &b);
    verdict_encode(&b, &v3);
    b.n -= 8;
    add(w, &b);
    finish(w);

    w = create(dir, "scores-v1.shard", SHARD_SCORES);
    float prm[2] = {0.75f, 0.875f};
    score_rec s1 = {1001, 1, 0.9375f, 2, prm}, s2 = {1001, 2, -0.5f, 0, NULL};
    // Schema 1, as the verdicts: the schema-2 fields (24 bytes at the end) are left off.
    score_encode(&b, &s1);
    b.n -= 24;
    add(w, &b);
    score_encode(&b, &s2);
    b.n -= 24;
    add(w, &b);
    finish(w);

    // Schema 2 of scores: the leaf's tree, the flags, the PRM's min and product.
    w = create_schema(dir, "scores-v2.shard", SHARD_SCORES, 2);
    score_rec s3 = {1001, 1, 0.9375f, 2, prm, traj_tree_id(&t), 3, SCORE_HAS_ORM | SCORE_HAS_PRM, 0.75f, 0.65625f};
    score_rec s4 = {1001, 2, 0.25f, 0, NULL, traj_tree_id(&t), 3, SCORE_HAS_ORM, 0, 0};
    score_encode(&b, &s3);
    add(w, &b);
    score_encode(&b, &s4);
    add(w, &b);
    finish(w);

    // The labels of the trajectory fixture's tree with the verdicts above (node 1 pass, node 2 timeout).
    w = create(dir, "labels-v1.shard", SHARD_LABELS);
    label_node ln[3] = {{TRAJ_ROOT, LABEL_HARD, LABEL_NO_OUTCOME, 2, 1, 0.5f, 0.5f, 3, a, 1, sa},
                        {0, LABEL_LEAF | LABEL_HARD, OUTCOME_PASS, 1, 1, 1.0f, 1.0f, 2, b1, 1, sb1},
                        {0, LABEL_LEAF, OUTCOME_TIMEOUT, 1, 0, 0.0f, 0.0f, 1, b2, 0, NULL}};
    label_rec lr = {1001, traj_tree_id(&t), 3, 4, prompt, 3, ln};
    label_encode(&b, &lr);
    add(w, &b);
    finish(w);

    // tiny.bin: an llm.c token file of 300 tokens.
    bbuf f = {0};
    for (int i = 0; i < 256; i++) bbuf_u32(&f, i == 0 ? 20240520 : i == 1 ? 1 : i == 2 ? 300 : 0);
    uint64_t s = 5;
    for (int i = 0; i < 300; i++) {
        uint32_t x = i == 0 ? 50256 : (uint32_t)(rng_next(&s) % 50257);
        uint8_t le[2] = {(uint8_t)x, (uint8_t)(x >> 8)};
        bbuf_put(&f, le, 2);
    }
    char *p = xasprintf("%s/tiny.bin", dir);
    if (write_file_atomic(p, f.p, f.n, &e)) die("%s", e.msg);
    free(p);
    bbuf_free(&f);
    bbuf_free(&b);
    return 0;
}
