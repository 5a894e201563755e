// schedule.c — learning-rate schedule (see schedule.h).
#include "kernels/train/schedule.h"

#include <math.h>
#include <stddef.h>


const char *const tr_schedule_choices[] = {"cosine", "linear", "constant", NULL};

double tr_lr(const tr_schedule *s, int64_t step) {
    if (step < s->warmup) return s->lr * (double)(step + 1) / (double)s->warmup;
    double lo = s->lr * s->final_frac;
    int64_t span = s->steps - 1 - s->warmup;  // steps over which the decay runs
    if (s->kind == TR_SCHED_CONSTANT || span <= 0) return s->lr;
    double t = (double)(step - s->warmup) / (double)span;
    if (t > 1) t = 1;
    if (s->kind == TR_SCHED_LINEAR) return s->lr + (lo - s->lr) * t;
    return lo + 0.5 * (s->lr - lo) * (1.0 + cos(M_PI * t));
}
