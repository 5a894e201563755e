// tokenizer_strmap.c — see tokenizer_strmap.h.
#include "shards/tokenizer_strmap.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/base.h"

void bpe_strmap_init(bpe_strmap *m, size_t expected) {
    size_t cap = 16;
    while (cap < 2 * expected + 2) cap *= 2;
    m->keys = xcalloc(cap, sizeof *m->keys);
    m->lens = xcalloc(cap, sizeof *m->lens);
    m->vals = xcalloc(cap, sizeof *m->vals);
    m->hashes = xcalloc(cap, sizeof *m->hashes);
    m->mask = cap - 1;
    m->used = 0;
}

void bpe_strmap_free(bpe_strmap *m) {
    free(m->keys);
    free(m->lens);
    free(m->vals);
    free(m->hashes);
    memset(m, 0, sizeof *m);
}

static size_t find_slot(const bpe_strmap *m, const uint8_t *key, size_t len, uint64_t h) {
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        if (!m->keys[i]) return i;
        if (m->hashes[i] == h && m->lens[i] == len && memcmp(m->keys[i], key, len) == 0) return i;
    }
}

static void grow(bpe_strmap *m) {
    bpe_strmap n;
    bpe_strmap_init(&n, (m->mask + 1));
    for (size_t i = 0; i <= m->mask; i++) {
        if (!m->keys[i]) continue;
        size_t j = find_slot(&n, m->keys[i], m->lens[i], m->hashes[i]);
        n.keys[j] = m->keys[i];
        n.lens[j] = m->lens[i];
        n.vals[j] = m->vals[i];
        n.hashes[j] = m->hashes[i];
    }
    n.used = m->used;
    bpe_strmap_free(m);
    *m = n;
}

uint32_t bpe_strmap_put(bpe_strmap *m, const uint8_t *key, size_t len, uint32_t val) {
    if (2 * (m->used + 1) > m->mask + 1) grow(m);
    uint64_t h = hash64(key, len, 0);
    size_t i = find_slot(m, key, len, h);
    if (m->keys[i]) return m->vals[i];
    // A zero-length key still needs a non-NULL pointer to mark the slot used.
    m->keys[i] = len ? key : (const uint8_t *)"";
    m->lens[i] = (uint32_t)len;
    m->vals[i] = val;
    m->hashes[i] = h;
    m->used++;
    return val;
}

uint32_t bpe_strmap_get(const bpe_strmap *m, const uint8_t *key, size_t len) {
    size_t i = find_slot(m, key, len, hash64(key, len, 0));
    return m->keys[i] ? m->vals[i] : UINT32_MAX;
}
