// test_labels.c — the reward stage's data on hand-built trees with known verdicts: Monte-Carlo
// values, hard and soft labels, label records that decode; ORM rows and PRM positions that line up
// with the step ends (the marker tokens) and the last token; positions shared by paths trained
// once; the validation split; the micro-batch cut; AUC and first-error accuracy; the answer
// classes of majority vote.
#include <string.h>

#include "reward/answers.h"
#include "reward/data.h"
#include "reward/metrics.h"
#include "reward/train.h"
#include "tests/test.h"

#define MK 99  // the "step marker" token of the hand-built tree

// prompt [1 2 3]; node 0 (root) [10 MK 12 MK] steps at 1, 3 -> children 1 [20 21 MK] step at 2 (pass) and
// 2 [30 31] (fail); node 3 (root) [MK 41 42] step at 0 (pass); node 4 (root) [50] -> children 5 [60 MK]
// step at 1 (fail) and 6 [] (no tokens, fail).
static uint32_t prompt[3] = {1, 2, 3}, t0[4] = {10, MK, 12, MK}, t1[3] = {20, 21, MK}, t2[2] = {30, 31}, t3[3] = {MK, 41, 42},
                t4[1] = {50}, t5[2] = {60, MK};
static uint32_t s0[2] = {1, 3}, s1[1] = {2}, s3[1] = {0}, s5[1] = {1};
static float lp[4] = {-1, -1, -1, -1};

static traj_rec make_tree(void) {
    traj_node n[7] = {
        {TRAJ_ROOT, FINISH_BRANCHED, 100, 4, t0, lp, 2, s0}, {0, FINISH_ANSWER, 101, 3, t1, lp, 1, s1},
        {0, FINISH_EOT, 102, 2, t2, lp, 0, NULL},            {TRAJ_ROOT, FINISH_ANSWER, 103, 3, t3, lp, 1, s3},
        {TRAJ_ROOT, FINISH_BRANCHED, 104, 1, t4, lp, 0, NULL}, {4, FINISH_ANSWER, 105, 2, t5, lp, 1, s5},
        {4, FINISH_MAXLEN, 106, 0, NULL, lp, 0, NULL}};
    // Deep copies (tree_join takes the trees over and frees them).
    traj_rec t = {42, 7, 3, NULL, 7, NULL};
    t.prompt = xmalloc(sizeof prompt);
    memcpy(t.prompt, prompt, sizeof prompt);
    t.nodes = xcalloc(7, sizeof *t.nodes);
    for (int k = 0; k < 7; k++) {
        t.nodes[k] = n[k];
        t.nodes[k].tokens = xmalloc((n[k].n_tokens + 1) * 4);
        t.nodes[k].logprobs = xmalloc((n[k].n_tokens + 1) * 4);
        memcpy(t.nodes[k].tokens, n[k].tokens, n[k].n_tokens * 4);
        memcpy(t.nodes[k].logprobs, lp, n[k].n_tokens * 4);
        t.nodes[k].step_ends = xmalloc((n[k].n_steps + 1) * 4);
        memcpy(t.nodes[k].step_ends, n[k].step_ends, n[k].n_steps * 4);
    }
    return t;
}

static void test_labels_and_examples(void) {
    traj_rec t = make_tree();
    uint64_t tid = traj_tree_id(&t);
    verdict_rec v[5] = {{42, 1, 7, OUTCOME_PASS, 0, "", tid}, {42, 2, 7, OUTCOME_FAIL, 0, "", tid},
                        {42, 3, 7, OUTCOME_PASS, 0, "", tid}, {42, 5, 7, OUTCOME_TIMEOUT, 0, "", tid},
                        {42, 6, 7, OUTCOME_FAIL, 0, "", tid}};
    vtree_set s;
    berr e;
    CHECK(vtree_set_join(&s, &t, NULL, 1, v, 5, NULL, &e) == 0, "join: %s", e.msg);
    rw_label_opts lo = {0, 0};
    label_rec l;
    rw_label_tree(&s.trees[0], &lo, &l);
    const float want_v[7] = {0.5f, 1, 0, 1, 0, 0, 0};
    const uint32_t want_leaves[7] = {2, 1, 1, 1, 2, 1, 1}, want_hard[7] = {1, 1, 0, 1, 0, 0, 0};
    int ok = 1;
    for (int k = 0; k < 7; k++)
        ok &= l.nodes[k].value == want_v[k] && l.nodes[k].soft == want_v[k] && l.nodes[k].leaves == want_leaves[k] &&
              !!(l.nodes[k].flags & LABEL_HARD) == (int)want_hard[k];
    CHECK(ok, "values, leaves and hard labels of the hand-built tree");
    CHECK(l.nodes[5].outcome == OUTCOME_TIMEOUT && l.nodes[0].outcome == LABEL_NO_OUTCOME && (l.nodes[6].flags & LABEL_LEAF),
          "outcomes: leaves carry theirs, inner nodes none");
    bbuf b = {0};
    label_encode(&b, &l);
    label_rec d;
    CHECK(label_decode(b.p, b.n, LABEL_SCHEMA, &d, &e) == 0, "the label record decodes (its tree checks): %s", e.msg);
    label_free(&d);
    rw_label_tree_free(&l);
    // Smoothing and a threshold.
    lo.smooth = 2;
    lo.hard_threshold = 0.5;
    rw_label_tree(&s.trees[0], &lo, &l);
    CHECK(l.nodes[0].soft == 0.5f && fabsf(l.nodes[1].soft - 2.0f / 3) < 1e-6f && fabsf(l.nodes[2].soft - 1.0f / 3) < 1e-6f,
          "smoothed soft labels: %g %g %g", l.nodes[0].soft, l.nodes[1].soft, l.nodes[2].soft);
    CHECK(!(l.nodes[0].flags & LABEL_HARD) && (l.nodes[1].flags & LABEL_HARD), "threshold 0.5: 1/2 is not above it, 1 is");
    rw_label_tree_free(&l);
    lo.smooth = 0, lo.hard_threshold = 0;
    rw_label_tree(&s.trees[0], &lo, &l);

    // ORM rows: one per leaf, labeled at the last token with the verdict.
    rw_examples orm = {0}, prm = {0};
    CHECK(rw_examples_add(&orm, &l, RW_ORM, 64, 0, &e) == 0, "ORM rows: %s", e.msg);
    const uint32_t leaf[5] = {1, 2, 3, 5, 6}, len[5] = {10, 9, 6, 6, 4}, last[5] = {9, 8, 5, 5, 3}, pass[5] = {1, 0, 1, 0, 0};
    ok = orm.n == 5 && orm.labels == 5;
    for (int i = 0; ok && i < 5; i++) {
        const rw_example *x = &orm.ex[i];
        ok &= x->leaf == leaf[i] && x->n == len[i] && x->nlab == 1 && x->pos[0] == last[i] && x->hard[0] == pass[i] &&
              x->soft[0] == (float)pass[i] && x->own[0] && x->tree_id == tid;
    }
    CHECK(ok, "ORM: a row per leaf, the label at its last token");
    CHECK(orm.ex[0].ids[0] == 1 && orm.ex[0].ids[3] == 10 && orm.ex[0].ids[7] == 20 && orm.ex[4].ids[3] == 50,
          "a row is the prompt, then the nodes from the root down");
    // PRM rows: the step ends (marker tokens) and the last token; ancestors' positions owned by the first leaf.
    CHECK(rw_examples_add(&prm, &l, RW_PRM, 64, 0, &e) == 0, "PRM rows: %s", e.msg);
    const uint32_t np[5] = {3, 3, 2, 1, 1};
    const uint32_t pos[5][3] = {{4, 6, 9}, {4, 6, 8}, {3, 5}, {5}, {3}};
    const float lab[5][3] = {{0.5f, 0.5f, 1}, {0.5f, 0.5f, 0}, {1, 1}, {0}, {0}};
    const uint8_t own[5][3] = {{1, 1, 1}, {0, 0, 1}, {1, 1}, {1}, {1}};
    ok = prm.n == 5;
    int markers = 1;
    for (int i = 0; ok && i < 5; i++) {
        const rw_example *x = &prm.ex[i];
        ok &= x->nlab == np[i];
        for (uint32_t j = 0; ok && j < x->nlab; j++) {
            ok &= x->pos[j] == pos[i][j] && x->soft[j] == lab[i][j] && x->own[j] == own[i][j];
            if (j + 1 < x->nlab || x->pos[j] != x->n - 1) markers &= x->ids[x->pos[j]] == MK;
        }
    }
    CHECK(ok, "PRM positions, labels and ownership of the hand-built tree");
    CHECK(markers, "every PRM position but the last token is a step marker");
    CHECK(prm.labels == 8, "8 owned PRM positions (got %llu)", (unsigned long long)prm.labels);
    CHECK(orm.fingerprint != prm.fingerprint, "ORM and PRM rows have different fingerprints");
    // Too long: an error naming the leaf, or dropped and counted.
    rw_examples lng = {0};
    CHECK(rw_examples_add(&lng, &l, RW_ORM, 8, 0, &e) != 0 && strstr(e.msg, "leaf 1") && strstr(e.msg, "--drop-long"),
          "a path longer than a row fails: %s", e.msg);
    rw_examples_free(&lng);
    CHECK(rw_examples_add(&lng, &l, RW_ORM, 8, 1, &e) == 0 && lng.n == 3 && lng.dropped_long == 2,
          "--drop-long drops and counts (%zu kept, %llu dropped)", lng.n, (unsigned long long)lng.dropped_long);
    rw_examples_free(&lng);

    // The feed: label bits at owned positions, -1 elsewhere; valid counts the owned positions.
    tr_feed f = rw_train_feed(&prm, RW_TARGET_SOFT, 16, 5, 0, 1, 5, 1);
    tr_batch tb = {1, 5, 16, xmalloc(5 * 16 * 4), xmalloc(5 * 16 * 4), 0, 0, 0, 0};
    CHECK(f.fill(f.impl, 0, &tb, &e) == 0 && tb.valid == 8 && tb.cursor_after == 5, "a step of all 5 rows: 8 labels (%lld)",
          (long long)tb.valid);
    int nt = 0, good = 1;
    for (int i = 0; i < 5 * 16; i++)
        if (tb.targets[i] >= 0) nt++, good &= rw_target_label(tb.targets[i]) >= 0 && rw_target_label(tb.targets[i]) <= 1;
    CHECK(nt == 8 && good, "targets hold labels in [0, 1] at 8 positions");
    CHECK(rw_batch_len(tb.targets, 5, 16) == 16, "a micro-batch is cut to a multiple of 32, at most T");
    f.free(f.impl);
    free(tb.inputs), free(tb.targets);
    int32_t tg[2 * 128];
    for (int i = 0; i < 256; i++) tg[i] = -1;
    tg[40] = 0, tg[128 + 3] = 0;
    CHECK(rw_batch_len(tg, 2, 128) == 64, "last label at 40: rows cut to 64 (%d)", rw_batch_len(tg, 2, 128));
    rw_examples_free(&orm);
    rw_examples_free(&prm);
    rw_label_tree_free(&l);
    bbuf_free(&b);
    vtree_set_free(&s);
}

static void test_split_and_metrics(void) {
    int n = 0;
    for (uint64_t i = 1; i <= 20000; i++) n += rw_is_val(mix64(i, 3), 0.1);
    CHECK(n > 1800 && n < 2200, "about 10%% of trees in validation (%d of 20000)", n);
    CHECK(rw_is_val(12345, 0.3) == rw_is_val(12345, 0.3) && !rw_is_val(12345, 0), "the split is a function of the id");
    float sc[4] = {0.1f, 0.4f, 0.35f, 0.8f};
    uint8_t y[4] = {0, 0, 1, 1};
    CHECK(fabs(rw_auc(sc, y, 4) - 0.75) < 1e-12, "AUC 0.75 (%g)", rw_auc(sc, y, 4));
    float tie[2] = {0.5f, 0.5f};
    uint8_t ty[2] = {1, 0};
    CHECK(rw_auc(tie, ty, 2) == 0.5, "ties count one half");
    CHECK(isnan(rw_auc(sc, (uint8_t[4]){1, 1, 1, 1}, 4)), "one class: no AUC");
    float s1[4] = {0.9f, 0.8f, 0.2f, 0.9f};
    uint8_t h1[4] = {1, 1, 0, 1};
    size_t tr, pr;
    CHECK(rw_first_error_match(s1, h1, 4, 0.5f, &tr, &pr) && tr == 2 && pr == 2, "first error found at step 2");
    uint8_t h2[4] = {1, 1, 1, 1};
    CHECK(!rw_first_error_match(s1, h2, 4, 0.5f, &tr, &pr) && tr == 4 && pr == 2, "a false alarm is a miss");
    float s3[2] = {0.7f, 0.6f};
    CHECK(rw_first_error_match(s3, h2, 2, 0.5f, &tr, &pr) && tr == 2, "no error, none predicted: a match");
}

static void test_answers(void) {
    problem_rec arith = {1, TASK_ARITH, 0, 1, "Compute 2 + 3.\n", "5", "", ""};
    char *a[6] = {"<|step|>2 + 3 = 5\n<|answer|>5\n", "<|answer|> 5.0\n", "<|answer|>6\n", "no answer here",
                  "<|answer|>10/2\n<|endoftext|>", "<|answer|>six\n"};
    size_t al[6];
    for (int i = 0; i < 6; i++) al[i] = strlen(a[i]);
    int c[6];
    rw_answer_clusters(&arith, a, al, 6, c);
    CHECK(c[0] == 0 && c[1] == 0 && c[2] == 2 && c[3] == -1 && c[4] == 0 && c[5] == 5, "arith classes: %d %d %d %d %d %d", c[0],
          c[1], c[2], c[3], c[4], c[5]);
    problem_rec lin = {2, TASK_LINEAR, 0, 1, "Solve for x: x + 1 = 4.\n", "3", "", ""};
    char *b[3] = {"<|answer|>x = 3\n", "<|answer|>3\n", "<|answer|>x=4\n"};
    size_t bl[3] = {strlen(b[0]), strlen(b[1]), strlen(b[2])};
    rw_answer_clusters(&lin, b, bl, 3, c);
    CHECK(c[0] == 0 && c[1] == 0 && c[2] == 2, "linear: 'x = 3' is 3");
    problem_rec alg = {3, TASK_ALGEBRA, 0, 1, "Expand (x + 2)(x + 3).\n", "x^2 + 5x + 6", "", ""};
    char *d[3] = {"<|answer|>(x+2)(x+3)\n", "<|answer|>x^2 + 5x + 6\n", "<|answer|>x^2 + 6\n"};
    size_t dl[3] = {strlen(d[0]), strlen(d[1]), strlen(d[2])};
    rw_answer_clusters(&alg, d, dl, 3, c);
    CHECK(c[0] == 0 && c[1] == 0 && c[2] == 2, "algebra: equivalent expressions are one answer");
    problem_rec code = {4, TASK_CODE, 0, 1, "Write f.\n", "", "assert f(1) == 1\n", ""};
    char *k[3] = {"<|answer|>def f(x):\n    return x\n<|endoftext|>", "<|answer|>def f(x):  return x", "<|answer|>def f(x): return 1"};
    size_t kl[3] = {strlen(k[0]), strlen(k[1]), strlen(k[2])};
    rw_answer_clusters(&code, k, kl, 3, c);
    CHECK(c[0] == 0 && c[1] == 0 && c[2] == 2, "code: the same text up to whitespace");
}

int main(void) {
    test_labels_and_examples();
    test_split_and_metrics();
    test_answers();
    return test_summary();
}
