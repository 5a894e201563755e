// tokenizer_encode.c — encoding: split at special tokens, pre-tokenise, and BPE-merge each
// pre-token, with a cache from pre-token bytes to ids (most pre-tokens in text repeat).
//
// The merge loop applies, while any applies, the merge rule of lowest rank among adjacent
// symbol pairs, at its leftmost occurrence — what HF tokenizers' BPE model does (its
// priority queue orders by rank, then position), and equivalent to GPT-2's encoder.py.
// Short pre-tokens use a flat array (O(n) per merge, no allocation); long ones (runs of
// CJK text, long lines of '=') a heap over a linked list, O(n log n) in all.
#include <stdlib.h>
#include <string.h>

#include "shards/tokenizer.h"
#include "shards/tokenizer_internal.h"
#include "shards/tokenizer_pretok.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

enum {
    SMALL_WORD = 48,                 // longest pre-token merged with the flat array
    CACHE_MAX_WORD = 256,            // longer pre-tokens are not cached (they rarely repeat)
    CACHE_MAX_ENTRIES = 1 << 18,     // the cache is emptied when it holds this many (~15 MB)
};

// Not static so that the tests can route every pre-token through the heap path and make
// the cache overflow.
int bpe_small_word_limit = SMALL_WORD;
size_t bpe_cache_max_entries = CACHE_MAX_ENTRIES;

typedef struct {
    uint64_t hash;
    uint32_t key_off, key_len;  // key_len 0: empty slot
    uint32_t ids_off, nids;
} cache_slot;

struct bpe_encoder {
    const bpe *t;
    cache_slot *slots;
    size_t mask, used;
    bbuf keys;                       // bytes of the cached pre-tokens
    uint32_t *ids;                   // ids of the cached pre-tokens
    size_t nids, ids_cap;
    // Scratch for merging one pre-token.
    uint32_t *sym;
    uint64_t *val;
    int32_t *next, *prev;
    uint64_t *heap;
    size_t scratch_cap;
};

static void cache_init(bpe_encoder *enc, size_t slots) {
    enc->slots = xcalloc(slots, sizeof *enc->slots);
    enc->mask = slots - 1;
    enc->used = 0;
}

static void cache_clear(bpe_encoder *enc) {
    free(enc->slots);
    cache_init(enc, 1024);
    enc->keys.n = 0;
    enc->nids = 0;
}

bpe_encoder *bpe_encoder_new(const bpe *t) {
    bpe_encoder *enc = xcalloc(1, sizeof *enc);
    enc->t = t;
    cache_init(enc, 1024);
    return enc;
}

void bpe_encoder_free(bpe_encoder *enc) {
    if (!enc) return;
    free(enc->slots);
    bbuf_free(&enc->keys);
    free(enc->ids);
    free(enc->sym);
    free(enc->val);
    free(enc->next);
    free(enc->prev);
    free(enc->heap);
    free(enc);
}

static void cache_grow(bpe_encoder *enc) {
    cache_slot *old = enc->slots;
    size_t n = enc->mask + 1;
    enc->slots = xcalloc(2 * n, sizeof *enc->slots);
    enc->mask = 2 * n - 1;
    for (size_t i = 0; i < n; i++) {
        if (!old[i].key_len) continue;
        size_t j = old[i].hash & enc->mask;
        while (enc->slots[j].key_len) j = (j + 1) & enc->mask;
        enc->slots[j] = old[i];
    }
    free(old);
}

static void scratch_reserve(bpe_encoder *enc, size_t n) {
    if (n <= enc->scratch_cap) return;
    size_t cap = enc->scratch_cap ? enc->scratch_cap : 256;
    while (cap < n) cap *= 2;
    enc->sym = xrealloc(enc->sym, cap * sizeof *enc->sym);
    enc->val = xrealloc(enc->val, cap * sizeof *enc->val);
    enc->next = xrealloc(enc->next, cap * sizeof *enc->next);
    enc->prev = xrealloc(enc->prev, cap * sizeof *enc->prev);
    enc->heap = xrealloc(enc->heap, 3 * cap * sizeof *enc->heap);  // n - 1 pairs + 2 per merge
    enc->scratch_cap = cap;
}

// Merges a short pre-token: sym[0..m) with val[k] = merge value of (sym[k], sym[k+1]).
static size_t merge_small(const bpe *t, uint32_t *sym, uint64_t *val, size_t m) {
    for (size_t k = 0; k + 1 < m; k++) val[k] = bpe_merge_lookup(t, sym[k], sym[k + 1]);
    while (m > 1) {
        uint64_t best = BPE_NO_MERGE;
        size_t bk = 0;
        for (size_t k = 0; k + 1 < m; k++)
            if (val[k] < best) {  // strict: the leftmost of equal ranks
                best = val[k];
                bk = k;
            }
        if (best == BPE_NO_MERGE) break;
        sym[bk] = (uint32_t)best;
        memmove(sym + bk + 1, sym + bk + 2, (m - bk - 2) * sizeof *sym);
        if (bk + 3 < m) memmove(val + bk + 1, val + bk + 2, (m - bk - 3) * sizeof *val);
        m--;
        if (bk > 0) val[bk - 1] = bpe_merge_lookup(t, sym[bk - 1], sym[bk]);
        if (bk + 1 < m) val[bk] = bpe_merge_lookup(t, sym[bk], sym[bk + 1]);
    }
    return m;
}

// Binary min-heap of (rank << 32 | position).
static void heap_push(uint64_t *h, size_t *n, uint64_t v) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n) {
    uint64_t top = h[0], v = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (v <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = v;
    return top;
}

static void push_pair(const bpe *t, bpe_encoder *enc, size_t *hn, int32_t pos) {
    if (pos < 0 || enc->next[pos] < 0) return;
    int32_t nx = enc->next[pos];
    uint64_t v = bpe_merge_lookup(t, enc->sym[pos], enc->sym[nx]);
    if (v != BPE_NO_MERGE) heap_push(enc->heap, hn, (v >> 32) << 32 | (uint32_t)pos);
}

// Merges a long pre-token: symbols form a linked list; the heap holds candidate merges,
// checked against the current symbols when popped (entries go stale as neighbours merge).
static size_t merge_heap(const bpe *t, bpe_encoder *enc, size_t m) {
    uint32_t *sym = enc->sym;
    int32_t *next = enc->next, *prev = enc->prev;
    for (size_t k = 0; k < m; k++) {
        next[k] = k + 1 < m ? (int32_t)(k + 1) : -1;
        prev[k] = (int32_t)k - 1;
    }
    size_t hn = 0;
    for (size_t k = 0; k + 1 < m; k++) push_pair(t, enc, &hn, (int32_t)k);
    while (hn) {
        uint64_t top = heap_pop(enc->heap, &hn);
        int32_t pos = (int32_t)(uint32_t)top, nx = next[pos];
        if (sym[pos] == UINT32_MAX || nx < 0) continue;  // merged away, or now last
        uint64_t v = bpe_merge_lookup(t, sym[pos], sym[nx]);
        if (v == BPE_NO_MERGE || (v >> 32) != (top >> 32)) continue;  // the pair changed
        sym[pos] = (uint32_t)v;
        sym[nx] = UINT32_MAX;
        next[pos] = next[nx];
        if (next[nx] >= 0) prev[next[nx]] = pos;
        if (prev[pos] >= 0) push_pair(t, enc, &hn, prev[pos]);
        push_pair(t, enc, &hn, pos);
    }
    size_t out = 0;
    for (int32_t k = 0; k >= 0; k = next[k]) sym[out++] = sym[k];
    return out;
}

// BPE of one pre-token w[0..n), n >= 2: leaves the ids in enc->sym, returns their count.
static size_t merge_word(bpe_encoder *enc, const uint8_t *w, size_t n) {
    const bpe *t = enc->t;
    scratch_reserve(enc, n);
    for (size_t k = 0; k < n; k++) enc->sym[k] = t->byte_id[w[k]];
    if ((int)n <= bpe_small_word_limit) return merge_small(t, enc->sym, enc->val, n);
    return merge_heap(t, enc, n);
}

// Appends the ids of pre-token w[0..n) at out (room for n ids guaranteed); returns count.
static size_t encode_word(bpe_encoder *enc, const uint8_t *w, size_t n, uint32_t *out) {
    const bpe *t = enc->t;
    if (n == 1) {
        out[0] = t->byte_id[w[0]];
        return 1;
    }
    if (n > CACHE_MAX_WORD) {
        size_t m = merge_word(enc, w, n);
        memcpy(out, enc->sym, m * sizeof *out);
        return m;
    }
    uint64_t h = XXH3_64bits(w, n);
    size_t i = h & enc->mask;
    for (;; i = (i + 1) & enc->mask) {
        cache_slot *s = &enc->slots[i];
        if (!s->key_len) break;
        if (s->hash == h && s->key_len == n && memcmp(enc->keys.p + s->key_off, w, n) == 0) {
            memcpy(out, enc->ids + s->ids_off, s->nids * sizeof *out);
            return s->nids;
        }
    }
    size_t m = merge_word(enc, w, n);
    memcpy(out, enc->sym, m * sizeof *out);
    if (enc->used >= bpe_cache_max_entries || enc->keys.n + n > UINT32_MAX || enc->nids + m > UINT32_MAX) {
        cache_clear(enc);  // bounded memory; results do not depend on what is cached
        i = h & enc->mask;
    } else if (2 * (enc->used + 1) > enc->mask + 1) {
        cache_grow(enc);
        i = h & enc->mask;
    }
    while (enc->slots[i].key_len) i = (i + 1) & enc->mask;
    if (enc->nids + m > enc->ids_cap) {
        enc->ids_cap = enc->ids_cap ? 2 * enc->ids_cap : 4096;
        while (enc->nids + m > enc->ids_cap) enc->ids_cap *= 2;
        enc->ids = xrealloc(enc->ids, enc->ids_cap * sizeof *enc->ids);
    }
    cache_slot *s = &enc->slots[i];
    s->hash = h;
    s->key_off = (uint32_t)enc->keys.n;
    s->key_len = (uint32_t)n;
    s->ids_off = (uint32_t)enc->nids;
    s->nids = (uint32_t)m;
    bbuf_put(&enc->keys, w, n);
    memcpy(enc->ids + enc->nids, enc->sym, m * sizeof *enc->ids);
    enc->nids += m;
    enc->used++;
    return m;
}

size_t bpe_encoder_append(bpe_encoder *enc, const char *text, size_t len, uint32_t **ids, size_t *n, size_t *cap) {
    const bpe *t = enc->t;
    const uint8_t *s = (const uint8_t *)text;
    int digits = t->pretok == BPE_PRETOK_DIGITS;
    // Every id covers at least one byte, so len ids always suffice.
    if (*n + len > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *n + len) c *= 2;
        *ids = xrealloc(*ids, c * sizeof **ids);
        *cap = c;
    }
    uint32_t *out = *ids + *n;
    size_t start = *n, pos = 0;
    while (pos < len) {
        size_t sp_len = 0;
        uint32_t sp_id = 0;
        size_t seg_end = bpe_find_special(t, s, len, pos, &sp_len, &sp_id);
        const uint8_t *seg = s + pos;
        size_t seg_len = seg_end - pos;
        for (size_t i = 0; i < seg_len;) {
            size_t j = bpe_pretok_next(seg, seg_len, i, digits);
            out += encode_word(enc, seg + i, j - i, out);
            i = j;
        }
        pos = seg_end;
        if (sp_len) {
            *out++ = sp_id;
            pos += sp_len;
        }
    }
    *n = (size_t)(out - *ids);
    return *n - start;
}

size_t bpe_encode(const bpe *t, const char *text, size_t len, uint32_t **ids) {
    bpe_encoder *enc = bpe_encoder_new(t);
    size_t n = 0, cap = 0;
    *ids = NULL;
    bpe_encoder_append(enc, text, len, ids, &n, &cap);
    *ids = *ids ? xrealloc(*ids, (n ? n : 1) * sizeof **ids) : xmalloc(sizeof **ids);  // room was for len ids
    bpe_encoder_free(enc);
    return n;
}
