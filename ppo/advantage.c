// advantage.c — group, tree and GAE advantages (see advantage.h).
#include "ppo/advantage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gkey {
    uint64_t group;
    size_t i;
} gkey;

static int by_group(const void *a, const void *b) {
    const gkey *x = a, *y = b;
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void adv_group(const double *reward, const uint64_t *group, size_t n, int mode, double eps, double *adv) {
    gkey *k = xmalloc((n ? n : 1) * sizeof *k);
    for (size_t i = 0; i < n; i++) k[i] = (gkey){group[i], i};
    qsort(k, n, sizeof *k, by_group);  // members in index order: sums in a fixed order
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && k[b].group == k[a].group) b++;
        size_t m = b - a;
        double sum = 0, sq = 0;
        for (size_t j = a; j < b; j++) sum += reward[k[j].i];
        double mean = sum / (double)m;
        for (size_t j = a; j < b; j++) sq += (reward[k[j].i] - mean) * (reward[k[j].i] - mean);
        double sd = sqrt(sq / (double)m);
        for (size_t j = a; j < b; j++) {
            double r = reward[k[j].i], v = 0;
            if (m > 1) {
                if (mode == ADV_GROUP_RLOO) v = r - (sum - r) / (double)(m - 1);
                else if (mode == ADV_GROUP_MEAN) v = r - mean;
                else v = sd > 0 ? (r - mean) / (sd + eps) : 0;
            }
            adv[k[j].i] = v;
        }
        a = b;
    }
    free(k);
}

double tree_leaf_mean(const vtree *x, const double *reward) {
    double s = 0;
    uint32_t n = 0;
    for (uint32_t k = 0; k < x->t.n_nodes; k++)
        if (x->is_leaf[k]) s += reward[k], n++;
    return n ? s / n : 0;
}

void adv_tree(const vtree *x, const double *reward, double base, double *value, double *adv) {
    const traj_rec *t = &x->t;
    double *sum = xcalloc(t->n_nodes ? t->n_nodes : 1, sizeof *sum);
    for (uint32_t k = t->n_nodes; k-- > 0;) {  // children before parents
        if (x->is_leaf[k]) sum[k] = reward[k];
        if (t->nodes[k].parent != TRAJ_ROOT) sum[t->nodes[k].parent] += sum[k];
    }
    if (isnan(base)) base = tree_leaf_mean(x, reward);
    for (uint32_t k = 0; k < t->n_nodes; k++) {
        value[k] = sum[k] / (double)x->leaves[k];
        uint32_t p = t->nodes[k].parent;
        adv[k] = value[k] - (p == TRAJ_ROOT ? base : value[p]);  // parents precede children
    }
    free(sum);
}

void adv_gae(const double *r, const double *v, int n, double gamma, double lambda, double *adv, double *ret) {
    double run = 0;
    for (int t = n - 1; t >= 0; t--) {
        double next = t + 1 < n ? v[t + 1] : 0;
        double delta = r[t] + gamma * next - v[t];
        run = delta + gamma * lambda * run;
        adv[t] = run;
        ret[t] = run + v[t];
    }
}
