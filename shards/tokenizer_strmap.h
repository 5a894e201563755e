// tokenizer_strmap.h — a small open-addressing map from byte strings to uint32 values, for
// the tokenizer's validation and file loading (token text -> id, duplicate checks).
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct bpe_strmap {
    const uint8_t **keys;  // borrowed pointers: the caller keeps the bytes alive
    uint32_t *lens, *vals;
    uint64_t *hashes;
    size_t mask, used;
} bpe_strmap;

void bpe_strmap_init(bpe_strmap *m, size_t expected);
void bpe_strmap_free(bpe_strmap *m);
// Inserts key -> val unless key is present; returns the value now stored for key (so a
// return different from val means the key was already there).
uint32_t bpe_strmap_put(bpe_strmap *m, const uint8_t *key, size_t len, uint32_t val);
// Value for key, or UINT32_MAX.
uint32_t bpe_strmap_get(const bpe_strmap *m, const uint8_t *key, size_t len);
