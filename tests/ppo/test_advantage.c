// test_advantage.c — ppo's advantages against hand computations: GRPO (std and mean), RLOO,
// tree values and advantages on a small tree, GAE against the recursion written out by hand.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ppo/advantage.h"
#include "tests/test.h"

static int close_all(const double *a, const double *b, int n, double tol) {
    for (int i = 0; i < n; i++)
        if (fabs(a[i] - b[i]) > tol) return 0;
    return 1;
}

static void test_group(void) {
    // group 10: rewards 1, 0, 0, 1 (mean 0.5, std 0.5); group 20: 1, 1 (all equal); group 30: a lone leaf
    double R[7] = {1, 0, 0, 1, 1, 1, 0.3};
    uint64_t g[7] = {10, 10, 10, 10, 20, 20, 30};
    double a[7];
    adv_group(R, g, 7, ADV_GROUP_STD, 0, a);
    double want_std[7] = {1, -1, -1, 1, 0, 0, 0};
    CHECK(close_all(a, want_std, 7, 1e-12), "GRPO with std: (R − 0.5)/0.5, equal rewards 0, a lone leaf 0");
    adv_group(R, g, 7, ADV_GROUP_MEAN, 0, a);
    double want_mean[7] = {0.5, -0.5, -0.5, 0.5, 0, 0, 0};
    CHECK(close_all(a, want_mean, 7, 1e-12), "GRPO without std: R − mean");
    adv_group(R, g, 7, ADV_GROUP_RLOO, 0, a);
    double want_rloo[7] = {1 - 1.0 / 3, 0 - 2.0 / 3, 0 - 2.0 / 3, 1 - 1.0 / 3, 0, 0, 0};
    CHECK(close_all(a, want_rloo, 7, 1e-12), "RLOO: R − mean of the other leaves");
    // interleaved groups give the same per-leaf values as grouped ones
    double R2[4] = {1, 5, 0, 7};
    uint64_t g2[4] = {1, 2, 1, 2};
    adv_group(R2, g2, 4, ADV_GROUP_MEAN, 0, a);
    double want2[4] = {0.5, -1, -0.5, 1};
    CHECK(close_all(a, want2, 4, 1e-12), "groups need not be contiguous");
}

// Node 0 (root) → 1 (leaf, reward 0), 2 → {3 (reward 1), 4 (reward 1)}; node 5: a second root
// leaf (reward 0.5). Leaves 1, 3, 4, 5.
static vtree small_tree(void) {
    vtree x;
    memset(&x, 0, sizeof x);
    x.t.n_nodes = 6;
    x.t.nodes = xcalloc(6, sizeof(traj_node));
    uint32_t parent[6] = {TRAJ_ROOT, 0, 0, 2, 2, TRAJ_ROOT};
    for (int i = 0; i < 6; i++) x.t.nodes[i].parent = parent[i];
    x.is_leaf = xcalloc(6, 1);
    x.leaves = xcalloc(6, sizeof *x.leaves);
    uint8_t leaf[6] = {0, 1, 0, 1, 1, 1};
    uint32_t leaves[6] = {3, 1, 2, 1, 1, 1};
    memcpy(x.is_leaf, leaf, 6);
    memcpy(x.leaves, leaves, sizeof leaves);
    return x;
}

static void test_tree(void) {
    vtree x = small_tree();
    double reward[6] = {99, 0, 99, 1, 1, 0.5}, value[6], adv[6];  // inner entries are ignored
    // base = mean over the tree's leaves: (0 + 1 + 1 + 0.5) / 4 = 0.625
    CHECK(fabs(tree_leaf_mean(&x, reward) - 0.625) < 1e-12, "leaf mean 0.625");
    adv_tree(&x, reward, NAN, value, adv);
    double want_v[6] = {2.0 / 3, 0, 1, 1, 1, 0.5};
    double want_a[6] = {2.0 / 3 - 0.625, 0 - 2.0 / 3, 1 - 2.0 / 3, 0, 0, 0.5 - 0.625};
    CHECK(close_all(value, want_v, 6, 1e-12), "node values: mean reward of the leaves below");
    CHECK(close_all(adv, want_a, 6, 1e-12), "node advantages: V(node) − V(parent), roots against the tree mean");
    adv_tree(&x, reward, 0.25, value, adv);
    CHECK(fabs(adv[0] - (2.0 / 3 - 0.25)) < 1e-12 && fabs(adv[5] - 0.25) < 1e-12, "a given base is every root's parent value");
    // Along any root-to-leaf path the advantages sum to R(leaf) − base (a telescoping sum).
    CHECK(fabs(adv[0] + adv[2] + adv[3] - (1 - 0.25)) < 1e-12 && fabs(adv[0] + adv[1] - (0 - 0.25)) < 1e-12,
          "path sums telescope to R(leaf) − base");
    free(x.t.nodes), free(x.is_leaf), free(x.leaves);
}

static void test_gae(void) {
    double r[4] = {0, 0.5, 0, 1}, v[4] = {0.2, 0.4, 0.1, 0.7}, a[4], ret[4];
    double g = 0.9, l = 0.8;
    adv_gae(r, v, 4, g, l, a, ret);
    double d3 = 1 - 0.7, d2 = 0 + g * 0.7 - 0.1, d1 = 0.5 + g * 0.1 - 0.4, d0 = 0 + g * 0.4 - 0.2;
    double want[4] = {d0 + g * l * (d1 + g * l * (d2 + g * l * d3)), d1 + g * l * (d2 + g * l * d3), d2 + g * l * d3, d3};
    CHECK(close_all(a, want, 4, 1e-12), "GAE(0.9, 0.8) equals the written-out sums of δ");
    int rets = 1;
    for (int i = 0; i < 4; i++) rets &= fabs(ret[i] - (a[i] + v[i])) < 1e-12;
    CHECK(rets, "returns are advantages plus values");
    adv_gae(r, v, 4, 1, 1, a, ret);
    CHECK(fabs(ret[0] - 1.5) < 1e-12 && fabs(ret[2] - 1.0) < 1e-12, "γ = λ = 1: returns are the sums of the rewards ahead");
}

int main(void) {
    test_group();
    test_tree();
    test_gae();
    return test_summary();
}
