// test_tree_join.c — trajectory trees joined with their leaves' verdicts (shards/tree_join.h):
// subtree counts on a hand-built tree, the join through shard directories, schema-1 verdicts
// (no tree id), and every way a join can be wrong refused with a message naming the record.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shards/shard.h"
#include "shards/stream.h"
#include "shards/tree_join.h"
#include "tests/test.h"

// Node 0 (a root, branched) has children 1 and 2; node 2 (branched) has children 3 and 5;
// node 4 is a second root (answer).
// leaves: 1, 3, 4, 5; passing: 3 and 4.
static traj_rec make_tree(uint64_t problem, uint32_t version, uint64_t seed) {
    static uint32_t toks[2] = {5, 6};
    static float lps[2] = {-0.5f, -0.25f};
    traj_rec t = {problem, version, 2, NULL, 6, NULL};
    t.prompt = xmalloc(2 * sizeof(uint32_t));
    t.prompt[0] = 1, t.prompt[1] = 2;
    t.nodes = xcalloc(6, sizeof(traj_node));
    uint32_t parent[6] = {TRAJ_ROOT, 0, 0, 2, TRAJ_ROOT, 2};
    uint32_t finish[6] = {FINISH_BRANCHED, FINISH_ANSWER, FINISH_BRANCHED, FINISH_ANSWER, FINISH_ANSWER, FINISH_EOT};
    for (int i = 0; i < 6; i++) {
        traj_node *n = &t.nodes[i];
        n->parent = parent[i], n->finish = finish[i], n->seed = seed + (uint64_t)i, n->n_tokens = 2;
        n->tokens = xmalloc(2 * sizeof(uint32_t));
        n->logprobs = xmalloc(2 * sizeof(float));
        memcpy(n->tokens, toks, sizeof toks);
        memcpy(n->logprobs, lps, sizeof lps);
    }
    return t;
}

static verdict_rec verdict_of(const traj_rec *t, uint32_t node, uint32_t outcome) {
    verdict_rec v = {t->problem_id, node, t->policy_version, outcome, 0.01f, "d", traj_tree_id(t)};
    return v;
}

static void test_counts(void) {
    traj_rec t[1] = {make_tree(7, 3, 100)};
    verdict_rec v[4] = {verdict_of(&t[0], 1, OUTCOME_FAIL), verdict_of(&t[0], 3, OUTCOME_PASS),
                        verdict_of(&t[0], 4, OUTCOME_PASS), verdict_of(&t[0], 5, OUTCOME_TIMEOUT)};
    vtree_set s;
    berr e;
    int rc = vtree_set_join(&s, t, NULL, 1, v, 4, NULL, &e);
    CHECK(rc == 0, "join: %s", rc ? e.msg : "");
    if (rc) return;
    const vtree *x = &s.trees[0];
    uint32_t want_leaves[6] = {3, 1, 2, 1, 1, 1}, want_pass[6] = {1, 0, 1, 1, 1, 0}, want_depth[6] = {0, 1, 1, 2, 0, 2};
    int ok = 1;
    for (int i = 0; i < 6; i++) ok &= x->leaves[i] == want_leaves[i] && x->passed[i] == want_pass[i] && x->depth[i] == want_depth[i];
    CHECK(ok, "subtree leaves, passes and depths match the hand count");
    CHECK(x->outcome[0] == -1 && x->outcome[2] == -1 && x->outcome[3] == OUTCOME_PASS && x->outcome[5] == OUTCOME_TIMEOUT,
          "inner nodes have no outcome; leaves have theirs");
    CHECK(s.leaves == 4 && s.passed == 2, "set totals: %llu leaves, %llu passed", (unsigned long long)s.leaves,
          (unsigned long long)s.passed);
    uint32_t path[6], n = vtree_path(&x->t, 5, path);
    CHECK(n == 3 && path[0] == 0 && path[1] == 2 && path[2] == 5, "path of node 5 is 0, 2, 5");
    vtree_set_free(&s);
}

// Each bad verdict list must be refused with a message holding `want`.
static void refuse(const char *what, verdict_rec *v, size_t nv, int two_trees_same_pv, const char *want) {
    traj_rec t[2] = {make_tree(7, 3, 100), make_tree(two_trees_same_pv ? 7 : 8, 3, 200)};
    vtree_set s;
    berr e;
    int rc = vtree_set_join(&s, t, NULL, 2, v, nv, NULL, &e);
    CHECK(rc != 0 && strstr(e.msg, want), "%s refused: %s", what, rc ? e.msg : "(accepted)");
    if (!rc) vtree_set_free(&s);
}

static void test_errors(void) {
    traj_rec a = make_tree(7, 3, 100), b = make_tree(8, 3, 200);
    verdict_rec all[8] = {verdict_of(&a, 1, 0), verdict_of(&a, 3, 0), verdict_of(&a, 4, 0), verdict_of(&a, 5, 0),
                          verdict_of(&b, 1, 0), verdict_of(&b, 3, 0), verdict_of(&b, 4, 0), verdict_of(&b, 5, 0)};
    verdict_rec v[9];
    memcpy(v, all, sizeof all);
    refuse("a missing verdict", v, 7, 0, "has no verdict");
    memcpy(v, all, sizeof all);
    v[8] = all[0];
    refuse("a second verdict for a leaf", v, 9, 0, "a second verdict");
    memcpy(v, all, sizeof all);
    v[2].node = 2;
    refuse("a verdict for an inner node", v, 8, 0, "not a leaf");
    memcpy(v, all, sizeof all);
    v[3].tree_id ^= 0x100;
    refuse("a verdict of an unknown tree", v, 8, 0, "no trajectory shard given holds");
    // schema-1 verdicts: fine when (problem, version) names one tree, refused when two share it
    traj_rec c = make_tree(7, 3, 300);
    verdict_rec w[8];
    for (int i = 0; i < 4; i++) w[i] = verdict_of(&a, all[i].node, 0), w[i].tree_id = 0;
    for (int i = 0; i < 4; i++) w[4 + i] = verdict_of(&c, all[i].node, 0);
    refuse("a schema-1 verdict shared by two trees", w, 8, 1, "several trees share");
    traj_rec one[1] = {make_tree(7, 3, 100)};
    vtree_set s;
    berr e;
    CHECK(vtree_set_join(&s, one, NULL, 1, w, 4, NULL, &e) == 0, "schema-1 verdicts of a lone tree join: %s", e.msg);
    vtree_set_free(&s);
    traj_free(&a), traj_free(&b), traj_free(&c);
}

static void write_shard(const char *dir, const char *producer, uint32_t kind, uint32_t schema, bbuf *recs, int n) {
    berr e;
    shard_dir_opts o;
    memset(&o, 0, sizeof o);
    shard_dir_writer *w = shard_dir_writer_open(dir, producer, kind, schema, &o, &e);
    if (!w) die("%s", e.msg);
    for (int i = 0; i < n; i++)
        if (shard_dir_append(w, recs[i].p, recs[i].n, &e)) die("%s", e.msg);
    if (shard_dir_publish(w, NULL, 0, &e) || shard_dir_close(w, &e)) die("%s", e.msg);
}

static void test_dirs(void) {
    char root[] = "/tmp/berry_tree_join.XXXXXX";
    if (!mkdtemp(root)) die("mkdtemp");
    char *td = xasprintf("%s/traj", root), *vd = xasprintf("%s/verdicts", root), *ed = xasprintf("%s/empty", root);
    traj_rec a = make_tree(7, 3, 100), b = make_tree(8, 4, 200);
    bbuf tr[2] = {{0}, {0}}, vr[8];
    memset(vr, 0, sizeof vr);
    traj_encode(&tr[0], &a);
    traj_encode(&tr[1], &b);
    uint32_t leaves[4] = {1, 3, 4, 5};
    for (int i = 0; i < 8; i++) {
        verdict_rec v = verdict_of(i < 4 ? &a : &b, leaves[i % 4], i % 3 ? OUTCOME_FAIL : OUTCOME_PASS);
        verdict_encode(&vr[i], &v);
    }
    write_shard(td, "rollout", SHARD_TRAJECTORIES, TRAJ_SCHEMA, tr, 2);
    write_shard(vd, "verify", SHARD_VERDICTS, VERDICT_SCHEMA, vr, 8);
    vtree_set s;
    berr e;
    int rc = vtree_set_load(&s, td, vd, 1, &e);
    CHECK(rc == 0 && s.n == 2 && s.leaves == 8 && s.passed == 3, "two trees and eight verdicts through shard directories: %s",
          rc ? e.msg : "");
    if (!rc) {
        CHECK(strstr(s.trees[1].where, "record 1") != NULL, "a tree knows where it came from (%s)", s.trees[1].where);
        vtree_set_free(&s);
    }
    write_shard(ed, "verify", SHARD_VERDICTS, VERDICT_SCHEMA, vr, 0);
    rc = vtree_set_load(&s, td, ed, 1, &e);
    CHECK(rc != 0 && strstr(e.msg, "has no verdict"), "trajectories without their verdicts refused: %s", e.msg);
    rc = vtree_set_load(&s, vd, td, 1, &e);
    CHECK(rc != 0 && strstr(e.msg, "not trajectories"), "directories given the wrong way round refused: %s", e.msg);
    for (int i = 0; i < 2; i++) bbuf_free(&tr[i]);
    for (int i = 0; i < 8; i++) bbuf_free(&vr[i]);
    traj_free(&a), traj_free(&b);
    char *cmd = xasprintf("rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    free(cmd), free(td), free(vd), free(ed);
}

int main(void) {
    test_counts();
    test_errors();
    test_dirs();
    return test_summary();
}
