// answers.h — final answers for majority vote: which of a problem's completions give the same
// answer. Math: the answer the math verifier extracts (the text after the one answer marker, to
// the end of its line; verify/TASKS.md), an "x =" prefix dropped for linear equations, and two
// answers are the same when the verifier's exact comparison (math_compare) accepts one as the
// other: 0.5 = 1/2, (x+2)(x+3) = x^2 + 5x + 6; answers that do not parse as numbers or
// expressions are compared as text. Code: the text after the answer marker up to end-of-text,
// runs of whitespace collapsed. A completion without a usable answer has no vote.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "shards/records.h"

// cluster[i] = the index of the first completion with the same answer as completion i (so equal
// answers get equal ids), or -1 when completion i has no answer.
void rw_answer_clusters(const problem_rec *p, char *const *texts, const size_t *lens, uint32_t n, int *cluster);
