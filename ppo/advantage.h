// advantage.h — the three ways ppo turns verified rewards into per-token advantages (pure
// functions of their inputs, tested against hand computations in tests/ppo/test_advantage.c).
//
//   group  critic-free: each leaf's reward against the other leaves of its problem's group
//          (GRPO: (R − mean) / std, or only − mean; RLOO: R − mean of the others).
//   tree   berry's own: a node's value is the mean reward of the leaves below it, measured by
//          the tree's Monte-Carlo completions, not guessed by a critic; the tokens of a node
//          get V(node) − V(parent) (a root's parent is the problem: the mean over all of its
//          leaves), so credit lands on the step that changed the odds. Unbiased for the
//          node's advantage given its prefix, with variance falling as more leaves share it;
//          a leaf's own tokens get R(leaf) − V(parent), the one-sample estimate.
//   gae    a critic's values and GAE(γ, λ) over each path's tokens.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "shards/tree_join.h"

enum { ADV_GROUP_STD = 0, ADV_GROUP_MEAN = 1, ADV_GROUP_RLOO = 2 };

// Advantages of n leaves in groups (group[i]: any id; leaves with the same id compete).
// A group of one leaf gets advantage 0. std mode divides by the group's standard deviation
// plus eps (a group whose rewards are all equal gets 0).
void adv_group(const double *reward, const uint64_t *group, size_t n, int mode, double eps, double *adv);

// Node values and advantages of one tree from its leaves' rewards (reward[k] for every leaf
// k; inner entries ignored). value[k] = mean reward of the leaves below k; adv[k] = value[k]
// − value of k's parent, with base as the parent value of every root (NAN: the mean over all
// of the tree's leaves). Arrays of t->n_nodes.
void adv_tree(const vtree *x, const double *reward, double base, double *value, double *adv);
// The mean reward of a tree's leaves.
double tree_leaf_mean(const vtree *x, const double *reward);

// GAE over one path of n tokens: rewards r[t], values v[t] (v after the last token is 0: the
// episode ends). adv[t] = Σ_k (γλ)^k δ_{t+k}, δ_t = r_t + γ v_{t+1} − v_t; ret[t] = adv[t] + v[t].
void adv_gae(const double *r, const double *v, int n, double gamma, double lambda, double *adv, double *ret);
