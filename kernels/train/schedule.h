// schedule.h — the learning rate at each step: linear warmup, then cosine or linear decay
// to a fraction of the peak at the last step, or constant.
#pragma once
#include <stdint.h>

enum { TR_SCHED_COSINE = 0, TR_SCHED_LINEAR = 1, TR_SCHED_CONSTANT = 2 };
extern const char *const tr_schedule_choices[];  // "cosine", "linear", "constant", NULL

typedef struct tr_schedule {
    double lr, final_frac;
    int64_t warmup, steps;
    int kind;  // TR_SCHED_*
} tr_schedule;

// Learning rate of step s (0-based) of a run of `steps` steps. Warmup: lr·(s+1)/warmup for
// s < warmup. After it, decay from lr at step warmup to lr·final_frac at step steps-1.
double tr_lr(const tr_schedule *s, int64_t step);
