// schedule.h — the learning rate at each step: linear warmup, then cosine or linear decay
// to a fraction of the peak at the last step, or constant.
#pragma once
#include <stdint.h>

typedef struct pt_schedule {
    double lr, final_frac;
    int64_t warmup, steps;
    int kind;  // PT_SCHED_* (config.h)
} pt_schedule;

// Learning rate of step s (0-based) of a run of `steps` steps. Warmup: lr·(s+1)/warmup for
// s < warmup. After it, decay from lr at step warmup to lr·final_frac at step steps-1.
double pt_lr(const pt_schedule *s, int64_t step);
