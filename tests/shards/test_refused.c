// test_refused.c — a stage never publishes a record that the readers of its kind would
// refuse: shard_append runs the readers' validation, fails the writer with a message naming
// the record, problem, node and value, and removes the temporary; nothing already published
// is touched. And what a reader does with such a record from an older writer (FORMAT.md,
// "Refused records"): it refuses the whole shard, naming the producer in the header and how
// to regenerate it.
#include "shards/stream.h"
#include "tests/shards/util.h"
#include "tests/test.h"

// Files in dir whose name contains `part`.
static int files_with(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d))) n += strstr(de->d_name, part) != NULL;
    if (d) closedir(d);
    return n;
}

// A tree of two nodes for problem `id`; log-probs -0.5, -0, 0 (all allowed: <= 0), then
// -1e-9, -3. The caller may spoil a field before encoding.
typedef struct tree {
    traj_rec t;
    traj_node nd[2];
    uint32_t tok[5], steps[2];
    float lp[5];
} tree;
static void tree_init(tree *x, uint64_t id) {
    memset(x, 0, sizeof *x);
    const float lp[5] = {-0.5f, -0.0f, 0.0f, -1e-9f, -3.0f};
    memcpy(x->lp, lp, sizeof lp);
    for (int i = 0; i < 5; i++) x->tok[i] = 10 + (uint32_t)i;
    x->steps[0] = 2, x->steps[1] = 3;
    x->nd[0] = (traj_node){TRAJ_ROOT, FINISH_BRANCHED, 7, 3, x->tok, x->lp, 2, x->steps};
    x->nd[1] = (traj_node){0, FINISH_ANSWER, 8, 2, x->tok + 3, x->lp + 3, 0, NULL};
    static uint32_t prompt[2] = {1, 2};
    x->t = (traj_rec){id, 3, 2, prompt, 2, x->nd};
}
static void tree_encode(tree *x, bbuf *b) {
    b->n = 0;
    traj_encode(b, &x->t);
}

// The bug of issue 20 at the writer: a log-prob a hair above 0 in a stage's output.
static void test_writer_refuses(const char *root) {
    char *dir = xasprintf("%s/traj", root);
    berr e;
    shard_dir_opts o = {0};
    shard_dir_writer *w = shard_dir_writer_open(dir, "rollout", SHARD_TRAJECTORIES, TRAJ_SCHEMA, &o, &e);
    if (!w) die("%s", e.msg);
    tree x;
    bbuf b = {0};
    tree_init(&x, 16);
    tree_encode(&x, &b);
    if (shard_dir_append(w, b.p, b.n, &e) || shard_dir_publish(w, "c0", 2, &e)) die("%s", e.msg);
    char *first = xasprintf("%s/rollout-00000000.shard", dir);
    char *before, *after;
    size_t nb, na;
    if (read_file(first, &before, &nb, &e)) die("%s", e.msg);
    tree_init(&x, 17);
    tree_encode(&x, &b);
    CHECK(shard_dir_append(w, b.p, b.n, &e) == 0, "a tree with log-probs -0, 0 and -1e-9 is accepted: %s", e.msg);
    tree_init(&x, 18);
    x.lp[4] = 8.9407e-08f;  // node 1's second token
    tree_encode(&x, &b);
    int rc = shard_dir_append(w, b.p, b.n, &e);
    CHECK(rc != 0 && strstr(e.msg, "rollout-00000001.shard: record 1 refused on write") &&
              strstr(e.msg, "trajectories record of problem 18: node 1 log-prob 1 is 8.9407e-08, above 0") &&
              strstr(e.msg, "nothing is published"),
          "positive log-prob refused by the writer, naming shard, record, problem, node and value: %s", e.msg);
    CHECK(files_with(dir, "rollout-00000001") == 0 && files_with(dir, ".tmp.") == 0,
          "the refused shard leaves neither a shard nor a temporary behind");
    CHECK(shard_dir_publish(w, "c1", 2, &e) != 0 && files_with(dir, ".shard") == 1,
          "a later commit of the failed shard publishes nothing (%s)", e.msg);
    shard_dir_abort(w);
    int same = read_file(first, &after, &na, &e) == 0 && na == nb && memcmp(before, after, nb) == 0;
    CHECK(same && files_with(dir, ".shard") == 1 && files_with(dir, ".tmp.") == 0,
          "the shard published before is untouched and alone in the directory");
    free(before), free(after), free(first), free(dir);
    bbuf_free(&b);
}

// Other invalid fields of every kind: refused on write with a message naming the field.
static void test_writer_refuses_fields(const char *root) {
    typedef struct bad {
        uint32_t kind;
        const char *what, *expect;
    } bad;
    const bad cases[] = {
        {SHARD_TRAJECTORIES, "NaN log-prob", "nodes[0].logprobs[1] at record byte offset"},
        {SHARD_TRAJECTORIES, "infinite log-prob", "not a finite number"},
        {SHARD_TRAJECTORIES, "step ends that do not increase", "node 0 step end 1 is 2"},
        {SHARD_TRAJECTORIES, "a parent after its child", "node 1 (record byte offset"},
        {SHARD_VERDICTS, "an unknown outcome", "verdicts record of problem 5 node 3: unknown outcome 9"},
        {SHARD_VERDICTS, "negative CPU time", "negative cpu_seconds"},
        {SHARD_SCORES, "a NaN ORM value", "scores record of problem 5 node 3: field orm"},
        {SHARD_PROBLEMS, "an unknown task kind", "problems record of problem 5: unknown task kind 99"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        bbuf b = {0};
        tree x;
        tree_init(&x, 5);
        verdict_rec v = {5, 3, 1, OUTCOME_PASS, 0.5f, "ok"};
        score_rec s = {5, 3, 0.5f, 0, NULL};
        problem_rec p = {5, TASK_ARITH, SPLIT_TRAIN, 1, "q\n", "1", "", ""};
        switch (c) {
        case 0: x.lp[1] = NAN; break;
        case 1: x.lp[1] = -INFINITY; break;
        case 2: x.steps[1] = 2; break;
        case 3: x.nd[1].parent = 1; break;
        case 4: v.outcome = 9; break;
        case 5: v.cpu_seconds = -1; break;
        case 6: s.orm = NAN; break;
        case 7: p.task = 99; break;
        }
        if (cases[c].kind == SHARD_TRAJECTORIES) tree_encode(&x, &b);
        if (cases[c].kind == SHARD_VERDICTS) verdict_encode(&b, &v);
        if (cases[c].kind == SHARD_SCORES) score_encode(&b, &s);
        if (cases[c].kind == SHARD_PROBLEMS) problem_encode(&b, &p);
        char *dir = xasprintf("%s/fields%zu", root, c), *path = xasprintf("%s/x.shard", dir);
        berr e, e2;
        if (mkdir_p(dir, &e)) die("%s", e.msg);
        shard_writer *w = shard_create(path, cases[c].kind, 1, "test", &e);
        if (!w) die("%s", e.msg);
        int rc = shard_append(w, b.p, b.n, &e);
        int gone = files_with(dir, "x.shard") == 0;
        int finish = shard_finish(w, &e2);
        CHECK(rc != 0 && strstr(e.msg, cases[c].expect) && strstr(e.msg, "refused on write") && gone && finish != 0 &&
                  files_with(dir, "x.shard") == 0,
              "%s: refused on write (%s), nothing left behind, finish fails (%s)", cases[c].what, e.msg, e2.msg);
        free(dir), free(path);
        bbuf_free(&b);
    }
}

// A shard with a positive log-prob from an older writer: refused whole, by shard_verify and
// by a streaming consumer, naming the producer, when it wrote it, and how to regenerate it.
static void test_reader_policy(const char *root) {
    setenv("SOURCE_DATE_EPOCH", "1717200000", 1);  // 2024-06-01 00:00:00 UTC
    char *dir = xasprintf("%s/old", root), *path = xasprintf("%s/rollout-00000000.shard", dir);
    berr e;
    if (mkdir_p(dir, &e)) die("%s", e.msg);
    tree x;
    bbuf b[2] = {{0}, {0}};
    tree_init(&x, 40);
    tree_encode(&x, &b[0]);
    tree_init(&x, 41);
    x.lp[0] = 8.9407e-08f;
    tree_encode(&x, &b[1]);
    write_unchecked_shard(path, SHARD_TRAJECTORIES, "rollout", b, 2);
    int rc = shard_verify(path, SHARD_TRAJECTORIES, &e);
    CHECK(rc != 0 && strstr(e.msg, path) && strstr(e.msg, "record 1: in frame 0") &&
              strstr(e.msg, "problem 41: node 0 log-prob 0 is 8.9407e-08, above 0") &&
              strstr(e.msg, "The whole shard is refused. Producer rollout wrote it (2024-06-01 00:00:00 UTC)") &&
              strstr(e.msg, "Regenerate it: run rollout again with this build into a fresh directory"),
          "shard_verify refuses the older writer's shard, naming producer, time and remedy: %s", e.msg);
    // A consumer (verify run's way): the first record is fine, the second refused.
    stream_opts so = {.expect_kind = SHARD_TRAJECTORIES};
    stream_reader *s = stream_open(dir, &so, &e);
    if (!s) die("%s", e.msg);
    int refused = 0, good = 0;
    for (int i = 0; i < 2; i++) {
        const uint8_t *rec;
        size_t len;
        stream_pos pos;
        if (stream_next(s, 0, &rec, &len, &pos, &e) != STREAM_RECORD) die("%s", e.msg);
        traj_rec t;
        if (traj_decode(rec, len, pos.schema, &t, &e) == 0) {
            good++;
            traj_free(&t);
        } else {
            refused = stream_refused(dir, &pos, &e) != 0 && strstr(e.msg, path) && strstr(e.msg, "record 1: ") &&
                      strstr(e.msg, "Producer rollout wrote it (2024-06-01") && strstr(e.msg, "run rollout again");
        }
    }
    CHECK(good == 1 && refused, "a streaming consumer refuses the older shard's bad record the same way: %s", e.msg);
    stream_close(s);
    // Another kind names its own stage.
    char *vpath = xasprintf("%s/verify-00000000.shard", dir);
    verdict_rec v = {5, 3, 1, 7, 0.5f, "ok"};
    b[0].n = 0;
    verdict_encode(&b[0], &v);
    write_unchecked_shard(vpath, SHARD_VERDICTS, "verify", b, 1);
    CHECK(shard_verify(vpath, SHARD_VERDICTS, &e) != 0 && strstr(e.msg, "unknown outcome 7") &&
              strstr(e.msg, "Producer verify wrote it") && strstr(e.msg, "run verify run or verify check again"),
          "a verdict shard names the verify stage: %s", e.msg);
    unsetenv("SOURCE_DATE_EPOCH");
    bbuf_free(&b[0]), bbuf_free(&b[1]);
    free(dir), free(path), free(vpath);
}

int main(void) {
    char *root = scratch_dir("refused");
    test_writer_refuses(root);
    test_writer_refuses_fields(root);
    test_reader_policy(root);
    rm_rf(root);
    free(root);
    return test_summary();
}
