// metrics.c — AUC and first-error accuracy (see metrics.h).
#include "reward/metrics.h"

#include <math.h>
#include <stdlib.h>

#include "kernels/base.h"

typedef struct sl {
    float s;
    uint8_t y;
} sl;

static int by_score(const void *a, const void *b) {
    float x = ((const sl *)a)->s, y = ((const sl *)b)->s;
    return x < y ? -1 : x > y;
}

double rw_auc(const float *score, const uint8_t *label, size_t n) {
    sl *v = xmalloc((n ? n : 1) * sizeof *v);
    double npos = 0, nneg = 0;
    for (size_t i = 0; i < n; i++) {
        v[i].s = score[i];
        v[i].y = label[i] != 0;
        if (v[i].y) npos++;
        else nneg++;
    }
    if (npos == 0 || nneg == 0) {
        free(v);
        return NAN;
    }
    qsort(v, n, sizeof *v, by_score);
    // Mann-Whitney U: the sum of the positives' ranks, ties given their average rank.
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s) j++;
        double avg = (double)(i + j + 1) / 2.0;  // ranks i+1 .. j
        for (size_t k = i; k < j; k++)
            if (v[k].y) rank_sum += avg;
        i = j;
    }
    free(v);
    return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

int rw_first_error_match(const float *score, const uint8_t *hard, size_t n, float threshold, size_t *truth, size_t *pred) {
    size_t t = n, p = n;
    for (size_t i = 0; i < n && t == n; i++)
        if (!hard[i]) t = i;
    for (size_t i = 0; i < n && p == n; i++)
        if (score[i] < threshold) p = i;
    if (truth) *truth = t;
    if (pred) *pred = p;
    return t == p;
}
