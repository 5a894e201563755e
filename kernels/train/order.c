// order.c — per-epoch seeded permutations (see order.h).
#include "kernels/train/order.h"

#include <stdlib.h>

#include "kernels/base.h"

void tr_order_init(tr_order *o, uint64_t count, uint64_t seed, int shuffle) {
    if (count > UINT32_MAX) die("tr_order: %llu items per epoch is above the 2^32 limit", (unsigned long long)count);
    o->count = count;
    o->seed = seed;
    o->shuffle = shuffle;
    o->epoch = UINT64_MAX;
    o->perm = NULL;
}

// Fisher-Yates with an unbiased bounded draw (Lemire's multiply-shift with rejection).
static void make_perm(tr_order *o, uint64_t epoch) {
    if (!o->perm) o->perm = xmalloc((o->count ? o->count : 1) * sizeof(uint32_t));
    for (uint64_t i = 0; i < o->count; i++) o->perm[i] = (uint32_t)i;
    uint64_t s = mix64(o->seed, 0x9E3779B97F4A7C15ull ^ epoch);
    for (uint64_t i = o->count; i > 1; i--) {
        uint64_t bound = i, x, lo;
        unsigned __int128 m;
        uint64_t threshold = (0 - bound) % bound;
        do {
            x = rng_next(&s);
            m = (unsigned __int128)x * bound;
            lo = (uint64_t)m;
        } while (lo < threshold);
        uint64_t j = (uint64_t)(m >> 64);
        uint32_t t = o->perm[i - 1];
        o->perm[i - 1] = o->perm[j];
        o->perm[j] = t;
    }
    o->epoch = epoch;
}

uint64_t tr_order_item(tr_order *o, uint64_t g) {
    uint64_t epoch = g / o->count, i = g % o->count;
    if (!o->shuffle) return i;
    if (epoch != o->epoch) make_perm(o, epoch);
    return o->perm[i];
}

void tr_order_free(tr_order *o) {
    free(o->perm);
    o->perm = NULL;
}
