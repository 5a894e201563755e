// metrics.h — how well a reward model's scores sort right from wrong.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Area under the ROC curve of scores against binary labels (the probability that a random
// positive scores above a random negative, ties counting one half); NaN without both classes.
double rw_auc(const float *score, const uint8_t *label, size_t n);

// First-error accuracy of one path (ProcessBench style): the true first error is the index of
// the first step whose hard label is 0 (n: none), the predicted one the first step whose score
// is below threshold (n: none); returns 1 when they agree.
int rw_first_error_match(const float *score, const uint8_t *hard, size_t n, float threshold, size_t *truth, size_t *pred);
