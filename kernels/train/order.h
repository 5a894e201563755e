// order.h — the order in which training items (sequence start offsets, or SFT examples)
// are visited: one seeded permutation per epoch, concatenated into an endless stream. A
// stream position g names epoch g / count and the (g % count)-th item of that epoch's
// permutation, so a run's data position is a single number, independent of the rank count.
#pragma once
#include <stdint.h>

typedef struct tr_order {
    uint64_t count;  // items per epoch
    uint64_t seed;
    int shuffle;     // 0: identity order (evaluation)
    uint64_t epoch;  // epoch whose permutation is in perm
    uint32_t *perm;
} tr_order;

void tr_order_init(tr_order *o, uint64_t count, uint64_t seed, int shuffle);
// The item at stream position g.
uint64_t tr_order_item(tr_order *o, uint64_t g);
void tr_order_free(tr_order *o);
