// test_records.c — every record kind: random records round-trip exactly; every truncation
// and a newer schema are rejected with a message; invalid field values are rejected;
// record keys; JSON escaping of invalid UTF-8.
#include "tests/shards/util.h"
#include "tests/test.h"

static void test_tokens(uint64_t *s) {
    for (int it = 0; it < 200; it++) {
        bbuf b = {0};
        uint32_t *ids, n;
        rand_tokens(s, it < 100 ? 40 : 5000, &b, &ids, &n);
        tokens_rec r;
        berr e;
        int rc = tokens_decode(b.p, b.n, TOKENS_SCHEMA, &r, &e);
        EXPECT(rc == 0 && r.n == n && mem_eq(r.ids, ids, (size_t)n * 4), "tokens round trip n=%u", n);
        uint32_t width = 2;
        for (uint32_t i = 0; i < n; i++) width = ids[i] > 0xffff ? 4 : width;
        EXPECT(b.n == 8 + (size_t)n * width, "tokens stored with the narrowest width (%zu bytes for %u ids)", b.n, n);
        uint64_t key;
        EXPECT(record_key(SHARD_TOKENS, 1, b.p, b.n, &key, &e) == 0 && key == n, "token key is the count");
        if (!rc) tokens_free(&r);
        // Every strict prefix is rejected.
        int bad = 0;
        for (size_t k = 0; k < b.n && k < 64; k++) bad += tokens_decode(b.p, k, TOKENS_SCHEMA, &r, &e) == 0;
        EXPECT(bad == 0, "a truncated tokens record decodes");
        free(ids);
        bbuf_free(&b);
    }
    CHECK_EXPECTED("200 random tokens records: round trip, narrowest width, key, every prefix rejected");
    berr e;
    tokens_rec r;
    uint8_t odd[8 + 6] = {3, 0, 0, 0, 3, 0, 0, 0};
    CHECK(tokens_decode(odd, sizeof odd, 1, &r, &e) != 0 && strstr(e.msg, "width"), "width 3 rejected: %s", e.msg);
    uint8_t ok[8] = {0, 0, 0, 0, 2, 0, 0, 0};
    CHECK(tokens_decode(ok, 8, 2, &r, &e) != 0 && strstr(e.msg, "schema version 2"), "newer schema rejected: %s", e.msg);
    CHECK(tokens_decode(ok, 8, 1, &r, &e) == 0 && r.n == 0, "empty tokens record");
    tokens_free(&r);
}

// Decoding every strict prefix of a valid record must fail (and never read past it:
// the copy is exactly k bytes long, so ASan catches an overread).
#define CHECK_PREFIXES_S(decode, rec_t, free_fn, b, schema)                             \
    do {                                                                                 \
        int bad = 0;                                                                     \
        for (size_t k = 0; k < (b).n; k += 1 + (b).n / 200) {                            \
            uint8_t *cp = xmalloc(k ? k : 1);                                            \
            memcpy(cp, (b).p, k);                                                        \
            rec_t tmp;                                                                   \
            berr e2;                                                                     \
            if (decode(cp, k, schema, &tmp, &e2) == 0) {                                 \
                bad++;                                                                   \
                free_fn(&tmp);                                                           \
            } else if (!strstr(e2.msg, "record")) {                                      \
                bad++;                                                                   \
            }                                                                            \
            free(cp);                                                                    \
        }                                                                                \
        EXPECT(bad == 0, "%d truncated " #rec_t " records decoded or gave no message", bad); \
    } while (0)
#define CHECK_PREFIXES(decode, rec_t, free_fn, b) CHECK_PREFIXES_S(decode, rec_t, free_fn, b, 1)

static void test_problems(uint64_t *s) {
    for (int it = 0; it < 200; it++) {
        problem_rec p = rand_problem(s, it < 150 ? 50 : 20000);
        bbuf b = {0};
        problem_encode(&b, &p);
        problem_rec q;
        berr e;
        int rc = problem_decode(b.p, b.n, PROBLEM_SCHEMA, &q, &e);
        EXPECT(rc == 0 && problem_eq(&p, &q), "problem round trip: %s", rc ? e.msg : "fields differ");
        uint64_t key;
        EXPECT(record_check(SHARD_PROBLEMS, 1, b.p, b.n, &key, &e) == 0 && key == p.id, "problem key is the id");
        if (!rc) problem_free(&q);
        if (it < 40) CHECK_PREFIXES(problem_decode, problem_rec, problem_free, b);
        // One extra byte is rejected too.
        bbuf_u8(&b, 0);
        EXPECT(problem_decode(b.p, b.n, 1, &q, &e) != 0 && strstr(e.msg, "unexpected bytes"), "trailing byte: %s", e.msg);
        problem_free(&p);
        bbuf_free(&b);
    }
    CHECK_EXPECTED("200 random problem records: round trip, key, truncations and a trailing byte rejected");
    // Field validation.
    problem_rec p = {7, TASK_CODE + 1, 0, 1, "a", "", "", ""};
    bbuf b = {0};
    problem_encode(&b, &p);
    problem_rec q;
    berr e;
    CHECK(problem_decode(b.p, b.n, 1, &q, &e) != 0 && strstr(e.msg, "task kind"), "unknown task: %s", e.msg);
    p.task = TASK_ARITH;
    p.split = 2;
    b.n = 0;
    problem_encode(&b, &p);
    CHECK(problem_decode(b.p, b.n, 1, &q, &e) != 0 && strstr(e.msg, "split"), "unknown split: %s", e.msg);
    p.split = 0;
    p.difficulty = 0;
    b.n = 0;
    problem_encode(&b, &p);
    CHECK(problem_decode(b.p, b.n, 1, &q, &e) != 0 && strstr(e.msg, "difficulty"), "difficulty 0: %s", e.msg);
    p.difficulty = 1;
    b.n = 0;
    problem_encode(&b, &p);
    b.p[b.n - 13] = 0;  // the prompt's only byte becomes NUL
    CHECK(problem_decode(b.p, b.n, 1, &q, &e) != 0 && strstr(e.msg, "NUL"), "NUL in a string: %s", e.msg);
    CHECK(problem_decode(b.p, b.n, 2, &q, &e) != 0 && strstr(e.msg, "schema"), "newer schema: %s", e.msg);
    bbuf_free(&b);
}

static void test_trajectories(uint64_t *s) {
    for (int it = 0; it < 200; it++) {
        traj_rec t = rand_traj(s, it < 150 ? 64 : 20000);
        bbuf b = {0};
        traj_encode(&b, &t);
        traj_rec u;
        berr e;
        int rc = traj_decode(b.p, b.n, TRAJ_SCHEMA, &u, &e);
        EXPECT(rc == 0 && traj_eq(&t, &u), "trajectory round trip: %s", rc ? e.msg : "fields differ");
        if (!rc) traj_free(&u);
        if (it < 40) CHECK_PREFIXES(traj_decode, traj_rec, traj_free, b);
        traj_free(&t);
        bbuf_free(&b);
    }
    CHECK_EXPECTED("200 random trajectory records: round trip, truncations rejected");
    // Structure validation: a parent that does not precede, a bad step end, a positive log-prob.
    uint32_t tok[3] = {1, 2, 3}, steps[2] = {2, 2};
    float lp[3] = {-1, -2, -3};
    traj_node nodes[2] = {{TRAJ_ROOT, FINISH_BRANCHED, 5, 3, tok, lp, 0, NULL}, {1, FINISH_ANSWER, 6, 3, tok, lp, 0, NULL}};
    traj_rec t = {9, 1, 0, NULL, 2, nodes};
    bbuf b = {0};
    traj_rec u;
    berr e;
    traj_encode(&b, &t);
    CHECK(traj_decode(b.p, b.n, 1, &u, &e) != 0 && strstr(e.msg, "parent"), "self parent: %s", e.msg);
    nodes[1].parent = 0;
    nodes[1].n_steps = 2;
    nodes[1].step_ends = steps;
    b.n = 0;
    traj_encode(&b, &t);
    CHECK(traj_decode(b.p, b.n, 1, &u, &e) != 0 && strstr(e.msg, "step end"), "repeated step end: %s", e.msg);
    steps[1] = 4;
    b.n = 0;
    traj_encode(&b, &t);
    CHECK(traj_decode(b.p, b.n, 1, &u, &e) != 0 && strstr(e.msg, "step end"), "step end past the node: %s", e.msg);
    steps[1] = 3;
    lp[2] = 0.5f;
    b.n = 0;
    traj_encode(&b, &t);
    CHECK(traj_decode(b.p, b.n, 1, &u, &e) != 0 && strstr(e.msg, "above 0"), "positive log-prob: %s", e.msg);
    lp[2] = -3;
    b.n = 0;
    traj_encode(&b, &t);
    CHECK(traj_decode(b.p, b.n, 1, &u, &e) == 0 && traj_eq(&t, &u), "valid tree decodes");
    traj_free(&u);
    // A node count that cannot fit is rejected before allocating.
    put_le32(b.p + 16, 0xffffffffu);
    CHECK(traj_decode(b.p, b.n, 1, &u, &e) != 0 && strstr(e.msg, "nodes"), "huge node count: %s", e.msg);
    bbuf_free(&b);
}

static void test_verdicts_scores(uint64_t *s) {
    for (int it = 0; it < 200; it++) {
        verdict_rec v = rand_verdict(s, it < 150 ? 40 : 10000);
        bbuf b = {0};
        verdict_encode(&b, &v);
        verdict_rec w;
        berr e;
        int rc = verdict_decode(b.p, b.n, VERDICT_SCHEMA, &w, &e);
        EXPECT(rc == 0 && verdict_eq(&v, &w), "verdict round trip: %s", rc ? e.msg : "fields differ");
        if (!rc) verdict_free(&w);
        if (it < 40) CHECK_PREFIXES_S(verdict_decode, verdict_rec, verdict_free, b, VERDICT_SCHEMA);
        verdict_free(&v);

        score_rec r = rand_score(s, it < 150 ? 40 : 10000);
        b.n = 0;
        score_encode(&b, &r);
        score_rec q;
        rc = score_decode(b.p, b.n, SCORE_SCHEMA, &q, &e);
        EXPECT(rc == 0 && score_eq(&r, &q), "score round trip: %s", rc ? e.msg : "fields differ");
        if (!rc) score_free(&q);
        if (it < 40) CHECK_PREFIXES_S(score_decode, score_rec, score_free, b, SCORE_SCHEMA);
        score_free(&r);
        bbuf_free(&b);
    }
    CHECK_EXPECTED("200 random verdict and score records: round trip, truncations rejected");
    verdict_rec v = {1, 0, 0, OUTCOME_VIOLATION + 1, 0.5f, "x"};
    bbuf b = {0};
    verdict_rec w;
    berr e;
    verdict_encode(&b, &v);
    CHECK(verdict_decode(b.p, b.n, 1, &w, &e) != 0 && strstr(e.msg, "outcome"), "unknown outcome: %s", e.msg);
    v.outcome = OUTCOME_PASS;
    v.cpu_seconds = NAN;
    b.n = 0;
    verdict_encode(&b, &v);
    CHECK(verdict_decode(b.p, b.n, 1, &w, &e) != 0 && strstr(e.msg, "finite"), "NaN cpu time: %s", e.msg);
    float prm[2] = {0.5f, INFINITY};
    score_rec r = {1, 0, 0.1f, 2, prm};
    score_rec q;
    b.n = 0;
    score_encode(&b, &r);
    CHECK(score_decode(b.p, b.n, SCORE_SCHEMA, &q, &e) != 0 && strstr(e.msg, "prm[1]"), "infinite PRM value: %s", e.msg);
    // A schema-1 record (no tree id, flags or aggregates) reads with both flags and the aggregates computed.
    prm[1] = 0.5f;
    b.n = 0;
    score_encode(&b, &r);
    b.n -= 24;
    CHECK(score_decode(b.p, b.n, 1, &q, &e) == 0 && q.flags == (SCORE_HAS_ORM | SCORE_HAS_PRM) && q.tree_id == 0 &&
              q.prm_min == 0.5f && q.prm_prod == 0.25f && q.n_steps == 2,
          "schema-1 score: %s", e.msg);
    score_free(&q);
    CHECK(score_decode(b.p, b.n, 2, &q, &e) != 0 && strstr(e.msg, "tree_id"), "a schema-1 record is not schema 2: %s", e.msg);
    score_rec z = {1, 0, 0.1f, 2, prm, 9, 1, SCORE_HAS_ORM, 0, 0};
    b.n = 0;
    score_encode(&b, &z);
    CHECK(score_decode(b.p, b.n, 2, &q, &e) != 0 && strstr(e.msg, "no PRM"), "PRM values without the PRM flag: %s", e.msg);
    z.flags = 8;
    z.n_steps = 0;
    b.n = 0;
    score_encode(&b, &z);
    CHECK(score_decode(b.p, b.n, 2, &q, &e) != 0 && strstr(e.msg, "flags"), "unknown score flags: %s", e.msg);
    CHECK(score_decode(b.p, b.n, 3, &q, &e) != 0 && strstr(e.msg, "schema version 3"), "newer score schema: %s", e.msg);
    bbuf_free(&b);
}

static void test_labels(uint64_t *s) {
    for (int it = 0; it < 200; it++) {
        label_rec l = rand_label(s, it < 150 ? 64 : 20000);
        bbuf b = {0};
        label_encode(&b, &l);
        label_rec m;
        berr e;
        int rc = label_decode(b.p, b.n, LABEL_SCHEMA, &m, &e);
        CHECK(rc == 0 && label_eq(&l, &m), "label round trip: %s", rc ? e.msg : "fields differ");
        if (!rc) label_free(&m);
        uint64_t key;
        CHECK(record_check(SHARD_LABELS, 1, b.p, b.n, &key, &e) == 0 && key == l.problem_id, "label key is the problem id: %s",
              e.msg);
        if (it < 40) CHECK_PREFIXES(label_decode, label_rec, label_free, b);
        bbuf_u8(&b, 0);
        CHECK(label_decode(b.p, b.n, 1, &m, &e) != 0 && strstr(e.msg, "unexpected bytes"), "label trailing byte: %s", e.msg);
        label_free(&l);
        bbuf_free(&b);
    }
    // A root with two leaves: pass and fail. Each broken field is named.
    uint32_t tok[3] = {1, 2, 3}, steps[1] = {2};
    label_node nodes[3] = {{TRAJ_ROOT, LABEL_HARD, LABEL_NO_OUTCOME, 2, 1, 0.5f, 0.5f, 3, tok, 1, steps},
                           {0, LABEL_LEAF | LABEL_HARD, OUTCOME_PASS, 1, 1, 1.0f, 1.0f, 2, tok, 0, NULL},
                           {0, LABEL_LEAF, OUTCOME_FAIL, 1, 0, 0.0f, 0.0f, 1, tok, 0, NULL}};
    label_rec l = {77, 99, 3, 0, NULL, 3, nodes};
    bbuf b = {0};
    label_rec m;
    berr e;
#define RELABEL(cond, what)                                                                            \
    do {                                                                                                \
        b.n = 0;                                                                                        \
        label_encode(&b, &l);                                                                           \
        CHECK(label_decode(b.p, b.n, 1, &m, &e) != 0 && strstr(e.msg, cond), what ": %s", e.msg);       \
    } while (0)
    label_encode(&b, &l);
    CHECK(label_decode(b.p, b.n, 1, &m, &e) == 0 && label_eq(&l, &m), "a valid label tree decodes: %s", e.msg);
    label_free(&m);
    nodes[2].flags = 0;
    RELABEL("outcome", "an inner node with an outcome");
    nodes[2].flags = LABEL_LEAF, nodes[2].outcome = OUTCOME_VIOLATION + 1;
    RELABEL("outcome", "an unknown outcome");
    nodes[2].outcome = OUTCOME_FAIL, nodes[0].flags = LABEL_LEAF | LABEL_HARD, nodes[0].outcome = OUTCOME_PASS;
    RELABEL("children", "a leaf flag on a node with children");
    nodes[0].flags = LABEL_HARD, nodes[0].outcome = LABEL_NO_OUTCOME, nodes[0].passed = 2, nodes[0].value = 1.0f;
    RELABEL("subtree", "counts that are not the subtree's");
    nodes[0].passed = 1, nodes[0].value = 0.25f;
    RELABEL("passed/leaves", "a value that is not passed/leaves");
    nodes[0].value = 0.5f, nodes[0].soft = 1.5f;
    RELABEL("soft", "a soft label above 1");
    nodes[0].soft = 0.5f, nodes[0].passed = 3;
    RELABEL("passed of", "more passed than leaves");
    nodes[0].passed = 1, nodes[1].parent = 1;
    RELABEL("parent", "a parent that does not precede");
    nodes[1].parent = 0, steps[0] = 4;
    RELABEL("step end", "a step end past the node");
    steps[0] = 2, nodes[1].flags |= 16;
    RELABEL("flags", "unknown node flags");
    nodes[1].flags = LABEL_LEAF | LABEL_HARD;
    b.n = 0;
    label_encode(&b, &l);
    CHECK(label_decode(b.p, b.n, 2, &m, &e) != 0 && strstr(e.msg, "schema"), "newer label schema: %s", e.msg);
    put_le32(b.p + 24, 0xffffffffu);
    CHECK(label_decode(b.p, b.n, 1, &m, &e) != 0 && strstr(e.msg, "nodes"), "huge label node count: %s", e.msg);
#undef RELABEL
    bbuf_free(&b);
}

// JSON lines, via a temporary file.
static char *json_of_schema(uint32_t kind, uint32_t schema, const uint8_t *rec, size_t len) {
    FILE *f = tmpfile();
    berr e;
    if (record_print_json(f, kind, schema, rec, len, &e)) {
        fclose(f);
        return xasprintf("ERROR %s", e.msg);
    }
    long n = ftell(f);
    rewind(f);
    char *s = xmalloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}
static char *json_of(uint32_t kind, const uint8_t *rec, size_t len) { return json_of_schema(kind, 1, rec, len); }

static void test_json(void) {
    problem_rec p = {42, TASK_ARITH, SPLIT_HELDOUT, 3, "a\"b\\c\n\x01\xff\xc3\xa9", "7", "", "<|step|>x"};
    bbuf b = {0};
    problem_encode(&b, &p);
    char *j = json_of(SHARD_PROBLEMS, b.p, b.n);
    const char *want = "{\"id\":42,\"task\":\"arith\",\"split\":\"heldout\",\"difficulty\":3,"
                       "\"prompt\":\"a\\\"b\\\\c\\n\\u0001\\udcff\xc3\xa9\",\"answer\":\"7\",\"tests\":\"\","
                       "\"solution\":\"<|step|>x\"}\n";
    CHECK(strcmp(j, want) == 0, "problem JSON:\n got %s want %s", j, want);
    free(j);
    uint32_t ids[3] = {0, 65535, 70000};
    b.n = 0;
    tokens_encode(&b, ids, 3);
    j = json_of(SHARD_TOKENS, b.p, b.n);
    CHECK(strcmp(j, "{\"n\":3,\"ids\":[0,65535,70000]}\n") == 0, "tokens JSON: %s", j);
    free(j);
    float prm[2] = {0.25f, -1};
    score_rec r = {5, 2, 0.5f, 2, prm};
    b.n = 0;
    score_encode(&b, &r);
    j = json_of(SHARD_SCORES, b.p, b.n - 24);  // schema 1: without the schema-2 fields
    CHECK(strcmp(j, "{\"problem_id\":5,\"node\":2,\"orm\":0.5,\"prm\":[0.25,-1]}\n") == 0, "scores JSON: %s", j);
    free(j);
    score_rec r2 = {5, 2, 0.5f, 2, prm, 12, 3, SCORE_HAS_ORM | SCORE_HAS_PRM, -1, -0.25f};
    b.n = 0;
    score_encode(&b, &r2);
    j = json_of_schema(SHARD_SCORES, 2, b.p, b.n);
    const char *want2 = "{\"problem_id\":5,\"node\":2,\"orm\":0.5,\"prm\":[0.25,-1],\"tree_id\":12,\"policy_version\":3,"
                        "\"has_orm\":true,\"has_prm\":true,\"prm_min\":-1,\"prm_prod\":-0.25}\n";
    CHECK(strcmp(j, want2) == 0, "scores JSON, schema 2:\n got %s want %s", j, want2);
    free(j);
    uint32_t lt[2] = {4, 5}, le[1] = {1};
    label_node ln[2] = {{TRAJ_ROOT, LABEL_HARD, LABEL_NO_OUTCOME, 1, 1, 1.0f, 0.75f, 2, lt, 1, le},
                        {0, LABEL_LEAF | LABEL_HARD, OUTCOME_PASS, 1, 1, 1.0f, 1.0f, 1, lt, 0, NULL}};
    label_rec lr = {8, 9, 1, 1, lt, 2, ln};
    b.n = 0;
    label_encode(&b, &lr);
    j = json_of(SHARD_LABELS, b.p, b.n);
    const char *want3 = "{\"problem_id\":8,\"tree_id\":9,\"policy_version\":1,\"prompt\":[4],\"nodes\":["
                        "{\"parent\":null,\"leaf\":false,\"outcome\":null,\"leaves\":1,\"passed\":1,\"value\":1,\"soft\":0.75,"
                        "\"hard\":1,\"tokens\":[4,5],\"step_ends\":[1]},{\"parent\":0,\"leaf\":true,\"outcome\":\"pass\","
                        "\"leaves\":1,\"passed\":1,\"value\":1,\"soft\":1,\"hard\":1,\"tokens\":[4],\"step_ends\":[]}]}\n";
    CHECK(strcmp(j, want3) == 0, "labels JSON:\n got %s want %s", j, want3);
    free(j);
    uint8_t raw[3] = {0, 0xab, 0x10};
    j = json_of(SHARD_BYTES, raw, 3);
    CHECK(strcmp(j, "{\"len\":3,\"hex\":\"00ab10\"}\n") == 0, "bytes JSON: %s", j);
    free(j);
    // Overlong, surrogate and truncated sequences are escaped byte by byte.
    const char bad[] = "\xc0\xaf\xed\xa0\x80\xe2\x82";
    FILE *f = tmpfile();
    json_string(f, bad, sizeof bad - 1);
    char out[128] = {0};
    rewind(f);
    size_t got = fread(out, 1, sizeof out - 1, f);
    fclose(f);
    out[got] = 0;
    CHECK(strcmp(out, "\"\\udcc0\\udcaf\\udced\\udca0\\udc80\\udce2\\udc82\"") == 0, "invalid UTF-8: %s", out);
    bbuf_free(&b);
}

int main(void) {
    uint64_t s = 12345;
    test_tokens(&s);
    test_problems(&s);
    test_trajectories(&s);
    test_verdicts_scores(&s);
    test_labels(&s);
    test_json();
    berr e;
    uint64_t key;
    CHECK(record_key(99, 1, NULL, 0, &key, &e) != 0 && strstr(e.msg, "unknown"), "unknown kind: %s", e.msg);
    CHECK(record_key(SHARD_VERDICTS, 1, (const uint8_t *)"abc", 3, &key, &e) != 0, "short record has no key");
    return test_summary();
}
