// tokenizer_train.c — byte-level BPE training.
//
// 1. The text is cut at special tokens and pre-tokenised; distinct pre-tokens ("words") are
//    counted. Words of one byte are dropped: they hold no pair.
// 2. Every adjacent symbol pair gets a count (summed over words, weighted by word count)
//    and the list of words it occurs in; a max-heap orders pairs by (count, then smaller
//    left id, then smaller right id).
// 3. Each merge pops the best pair, rewrites only the words on its list, and adjusts the
//    counts of the pairs around each merged occurrence. Pairs not involving the new token
//    can only lose count, so heap entries are upper bounds: an entry whose count is stale
//    is pushed back with the current count when popped (lazy update). Pairs involving the
//    new token are created during the merge and pushed once after it.
#include <stdlib.h>
#include <string.h>

#include "shards/tokenizer.h"
#include "shards/tokenizer_internal.h"
#include "shards/tokenizer_pretok.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

// ---- counting words -----------------------------------------------------------------------

typedef struct {
    uint64_t hash;
    uint64_t off;    // into the byte arena
    uint32_t len;    // 0: empty slot
    int64_t count;
} word_slot;

typedef struct {
    word_slot *slots;
    size_t mask, used;
    bbuf bytes;
} word_counts;

static void wc_grow(word_counts *wc) {
    size_t n = wc->mask + 1;
    word_slot *old = wc->slots;
    wc->slots = xcalloc(2 * n, sizeof *wc->slots);
    wc->mask = 2 * n - 1;
    for (size_t i = 0; i < n; i++) {
        if (!old[i].len) continue;
        size_t j = old[i].hash & wc->mask;
        while (wc->slots[j].len) j = (j + 1) & wc->mask;
        wc->slots[j] = old[i];
    }
    free(old);
}

static void wc_add(word_counts *wc, const uint8_t *w, size_t n) {
    uint64_t h = XXH3_64bits(w, n);
    size_t i = h & wc->mask;
    for (;; i = (i + 1) & wc->mask) {
        word_slot *s = &wc->slots[i];
        if (!s->len) break;
        if (s->hash == h && s->len == n && memcmp(wc->bytes.p + s->off, w, n) == 0) {
            s->count++;
            return;
        }
    }
    if (2 * (wc->used + 1) > wc->mask + 1) {
        wc_grow(wc);
        i = h & wc->mask;
        while (wc->slots[i].len) i = (i + 1) & wc->mask;
    }
    word_slot *s = &wc->slots[i];
    s->hash = h;
    s->off = wc->bytes.n;
    s->len = (uint32_t)n;
    s->count = 1;
    bbuf_put(&wc->bytes, w, n);
    wc->used++;
}

// ---- pairs ----------------------------------------------------------------------------------

typedef struct {
    int64_t count;
    uint32_t left, right;
    uint32_t *words;     // words the pair occurs in (may hold stale entries)
    uint32_t nwords, cap;
} pair_info;

typedef struct {
    int64_t count;
    uint32_t left, right;
} heap_entry;

typedef struct {
    // words
    uint32_t *sym;       // symbols of all words, back to back
    uint64_t *w_off;
    uint32_t *w_len;
    int64_t *w_count;
    uint32_t nwords;
    // pairs
    pair_info *pairs;
    uint32_t npairs, pairs_cap;
    uint64_t *pm_keys;   // pair key -> index in pm_vals; empty = UINT64_MAX
    uint32_t *pm_vals;
    size_t pm_mask;
    // heap
    heap_entry *heap;
    size_t nheap, heap_cap;
    // pairs created by the current merge
    uint32_t *fresh;
    size_t nfresh, fresh_cap;
} trainer;

static uint32_t pair_find(const trainer *tr, uint64_t key) {
    for (size_t h = bpe_mix(key) & tr->pm_mask;; h = (h + 1) & tr->pm_mask) {
        if (tr->pm_keys[h] == key) return tr->pm_vals[h];
        if (tr->pm_keys[h] == UINT64_MAX) return UINT32_MAX;
    }
}

static void pm_insert(trainer *tr, uint64_t key, uint32_t val) {
    size_t h = bpe_mix(key) & tr->pm_mask;
    while (tr->pm_keys[h] != UINT64_MAX) h = (h + 1) & tr->pm_mask;
    tr->pm_keys[h] = key;
    tr->pm_vals[h] = val;
}

static uint32_t pair_get_or_add(trainer *tr, uint32_t left, uint32_t right, int *created) {
    uint64_t key = bpe_pair_key(left, right);
    uint32_t idx = pair_find(tr, key);
    *created = 0;
    if (idx != UINT32_MAX) return idx;
    if (2 * ((size_t)tr->npairs + 1) > tr->pm_mask + 1) {
        size_t n = tr->pm_mask + 1;
        uint64_t *ok = tr->pm_keys;
        uint32_t *ov = tr->pm_vals;
        tr->pm_keys = xmalloc(2 * n * sizeof *tr->pm_keys);
        memset(tr->pm_keys, 0xff, 2 * n * sizeof *tr->pm_keys);
        tr->pm_vals = xmalloc(2 * n * sizeof *tr->pm_vals);
        tr->pm_mask = 2 * n - 1;
        for (size_t i = 0; i < n; i++)
            if (ok[i] != UINT64_MAX) pm_insert(tr, ok[i], ov[i]);
        free(ok);
        free(ov);
    }
    if (tr->npairs == tr->pairs_cap) {
        tr->pairs_cap = tr->pairs_cap ? 2 * tr->pairs_cap : 4096;
        tr->pairs = xrealloc(tr->pairs, (size_t)tr->pairs_cap * sizeof *tr->pairs);
    }
    idx = tr->npairs++;
    tr->pairs[idx] = (pair_info){.left = left, .right = right};
    pm_insert(tr, key, idx);
    *created = 1;
    return idx;
}

static void pair_note_word(pair_info *p, uint32_t w) {
    if (p->nwords && p->words[p->nwords - 1] == w) return;
    if (p->nwords == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 4;
        p->words = xrealloc(p->words, p->cap * sizeof *p->words);
    }
    p->words[p->nwords++] = w;
}

// Adds delta to the count of (left, right); a pair gaining count gains word w.
static void pair_add(trainer *tr, uint32_t left, uint32_t right, int64_t delta, uint32_t w) {
    int created;
    uint32_t idx = pair_get_or_add(tr, left, right, &created);
    pair_info *p = &tr->pairs[idx];
    p->count += delta;
    if (delta > 0) pair_note_word(p, w);
    if (created) {
        if (tr->nfresh == tr->fresh_cap) {
            tr->fresh_cap = tr->fresh_cap ? 2 * tr->fresh_cap : 1024;
            tr->fresh = xrealloc(tr->fresh, tr->fresh_cap * sizeof *tr->fresh);
        }
        tr->fresh[tr->nfresh++] = idx;
    }
}

// ---- heap: best = highest count, then smaller left id, then smaller right id -------------------

static int better(const heap_entry *a, const heap_entry *b) {
    if (a->count != b->count) return a->count > b->count;
    if (a->left != b->left) return a->left < b->left;
    return a->right < b->right;
}

static void heap_push(trainer *tr, int64_t count, uint32_t left, uint32_t right) {
    if (tr->nheap == tr->heap_cap) {
        tr->heap_cap = tr->heap_cap ? 2 * tr->heap_cap : 4096;
        tr->heap = xrealloc(tr->heap, tr->heap_cap * sizeof *tr->heap);
    }
    heap_entry v = {count, left, right};
    size_t i = tr->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!better(&v, &tr->heap[p])) break;
        tr->heap[i] = tr->heap[p];
        i = p;
    }
    tr->heap[i] = v;
}

static heap_entry heap_pop(trainer *tr) {
    heap_entry top = tr->heap[0], v = tr->heap[--tr->nheap];
    size_t i = 0, n = tr->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && better(&tr->heap[c + 1], &tr->heap[c])) c++;
        if (!better(&tr->heap[c], &v)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    if (n) tr->heap[i] = v;
    return top;
}

// Rewrites word w, replacing each non-overlapping (a, b), left to right, by z, and moves
// the counts of the neighbouring pairs accordingly.
static void merge_in_word(trainer *tr, uint32_t w, uint32_t a, uint32_t b, uint32_t z) {
    uint32_t *s = tr->sym + tr->w_off[w];
    uint32_t n = tr->w_len[w], o = 0;
    int64_t c = tr->w_count[w];
    int prev_merged = 0;  // the symbol just written is a z made at the previous position
    for (uint32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            if (o > 0) {
                if (prev_merged) {
                    pair_add(tr, z, z, c, w);  // (b, a) was already taken off below
                } else {
                    pair_add(tr, s[o - 1], a, -c, w);
                    pair_add(tr, s[o - 1], z, c, w);
                }
            }
            if (i + 2 < n) {
                pair_add(tr, b, s[i + 2], -c, w);
                int next_merges = i + 3 < n && s[i + 2] == a && s[i + 3] == b;
                if (!next_merges) pair_add(tr, z, s[i + 2], c, w);
            }
            s[o++] = z;
            i += 2;
            prev_merged = 1;
        } else {
            s[o++] = s[i++];
            prev_merged = 0;
        }
    }
    tr->w_len[w] = o;
}

static void trainer_free(trainer *tr) {
    free(tr->sym);
    free(tr->w_off);
    free(tr->w_len);
    free(tr->w_count);
    for (uint32_t i = 0; i < tr->npairs; i++) free(tr->pairs[i].words);
    free(tr->pairs);
    free(tr->pm_keys);
    free(tr->pm_vals);
    free(tr->heap);
    free(tr->fresh);
}

// ---- training ---------------------------------------------------------------------------------

bpe *bpe_train_progress(const char *text, size_t len, int vocab_size, int pretok, const char *const *specials,
                        int nspecials, bpe_progress_fn progress, void *ctx, berr *e) {
    if (pretok != BPE_PRETOK_GPT2 && pretok != BPE_PRETOK_DIGITS) {
        berr_set(e, "unknown pre-tokenisation mode %d (want %d=gpt2 or %d=digits)", pretok, BPE_PRETOK_GPT2, BPE_PRETOK_DIGITS);
        return NULL;
    }
    if (nspecials < 0 || (nspecials > 0 && !specials)) {
        berr_set(e, "bad list of special tokens (count %d)", nspecials);
        return NULL;
    }
    if (vocab_size < 256 + nspecials || (uint32_t)vocab_size > BPE_MAX_VOCAB) {
        berr_set(e, "vocab_size %d must be in [%d, %u] (256 bytes + %d specials + merges)", vocab_size, 256 + nspecials,
                 BPE_MAX_VOCAB, nspecials);
        return NULL;
    }
    if (len > UINT32_MAX) {
        berr_set(e, "training text of %zu bytes is over the 4 GiB limit", len);
        return NULL;
    }
    uint32_t nmerges = (uint32_t)(vocab_size - 256 - nspecials);

    // The byte tokens and the specials alone: validates the specials and finds them in text.
    bpe *base = bpe_new_empty(pretok);
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        bpe_push_token(base, BPE_KIND_BYTE, &c, 1);
    }
    for (int k = 0; k < nspecials; k++) {
        if (!specials[k]) {
            berr_set(e, "special token %d is NULL", k);
            bpe_free(base);
            return NULL;
        }
        bpe_push_token(base, BPE_KIND_SPECIAL, (const uint8_t *)specials[k], strlen(specials[k]));
    }
    if (!(base = bpe_finish(base, e))) return NULL;

    // 1. Count words.
    word_counts wc = {0};
    wc.slots = xcalloc(1 << 16, sizeof *wc.slots);
    wc.mask = (1 << 16) - 1;
    const uint8_t *s = (const uint8_t *)text;
    int digits = pretok == BPE_PRETOK_DIGITS;
    size_t pos = 0, next_report = 0;
    while (pos < len) {
        size_t sp_len = 0;
        uint32_t sp_id;
        size_t seg_end = bpe_find_special(base, s, len, pos, &sp_len, &sp_id);
        for (size_t i = pos; i < seg_end;) {
            size_t j = pos + bpe_pretok_next(s + pos, seg_end - pos, i - pos, digits);
            if (j - i > 1) wc_add(&wc, s + i, j - i);
            i = j;
            if (progress && i >= next_report) {
                progress(ctx, "count", (int64_t)i, (int64_t)len);
                next_report = i + (16u << 20);
            }
        }
        pos = seg_end + sp_len;
    }
    if (progress) progress(ctx, "count", (int64_t)len, (int64_t)len);

    // 2. Words as symbol arrays (a byte's id is its value), and their pairs.
    trainer tr = {0};
    tr.nwords = (uint32_t)wc.used;
    tr.sym = xmalloc((wc.bytes.n ? wc.bytes.n : 1) * sizeof *tr.sym);
    tr.w_off = xmalloc((wc.used ? wc.used : 1) * sizeof *tr.w_off);
    tr.w_len = xmalloc((wc.used ? wc.used : 1) * sizeof *tr.w_len);
    tr.w_count = xmalloc((wc.used ? wc.used : 1) * sizeof *tr.w_count);
    // Word order does not matter: counts are sums, and the heap's order is total.
    uint32_t nw = 0;
    for (size_t i = 0; i <= wc.mask; i++) {
        if (!wc.slots[i].len) continue;
        tr.w_off[nw] = wc.slots[i].off;
        tr.w_len[nw] = wc.slots[i].len;
        tr.w_count[nw] = wc.slots[i].count;
        nw++;
    }
    for (size_t i = 0; i < wc.bytes.n; i++) tr.sym[i] = wc.bytes.p[i];
    free(wc.slots);
    bbuf_free(&wc.bytes);
    tr.pm_mask = (1 << 16) - 1;
    tr.pm_keys = xmalloc((tr.pm_mask + 1) * sizeof *tr.pm_keys);
    memset(tr.pm_keys, 0xff, (tr.pm_mask + 1) * sizeof *tr.pm_keys);
    tr.pm_vals = xmalloc((tr.pm_mask + 1) * sizeof *tr.pm_vals);
    for (uint32_t w = 0; w < tr.nwords; w++) {
        const uint32_t *ws = tr.sym + tr.w_off[w];
        for (uint32_t k = 0; k + 1 < tr.w_len[w]; k++) pair_add(&tr, ws[k], ws[k + 1], tr.w_count[w], w);
    }
    for (uint32_t i = 0; i < tr.npairs; i++) heap_push(&tr, tr.pairs[i].count, tr.pairs[i].left, tr.pairs[i].right);

    // 3. Merge.
    uint32_t *merges = xmalloc((nmerges ? nmerges : 1) * 2 * sizeof *merges);
    uint32_t *stamp = xmalloc((tr.nwords ? tr.nwords : 1) * sizeof *stamp);
    memset(stamp, 0xff, (tr.nwords ? tr.nwords : 1) * sizeof *stamp);
    uint32_t done = 0;
    while (done < nmerges) {
        if (tr.nheap == 0) break;
        heap_entry top = heap_pop(&tr);
        uint32_t idx = pair_find(&tr, bpe_pair_key(top.left, top.right));
        int64_t cur = tr.pairs[idx].count;
        if (cur != top.count) {
            if (cur > 0) heap_push(&tr, cur, top.left, top.right);
            continue;
        }
        if (cur <= 0) continue;
        uint32_t z = 256 + done, a = top.left, b = top.right;
        merges[2 * done] = a;
        merges[2 * done + 1] = b;
        tr.nfresh = 0;
        uint32_t *list = tr.pairs[idx].words, nlist = tr.pairs[idx].nwords;
        tr.pairs[idx].words = NULL;
        tr.pairs[idx].nwords = tr.pairs[idx].cap = 0;
        for (uint32_t k = 0; k < nlist; k++) {
            uint32_t w = list[k];
            if (stamp[w] == done) continue;
            stamp[w] = done;
            merge_in_word(&tr, w, a, b, z);
        }
        free(list);
        tr.pairs[idx].count = 0;
        for (size_t k = 0; k < tr.nfresh; k++) {
            const pair_info *p = &tr.pairs[tr.fresh[k]];
            if (p->count > 0) heap_push(&tr, p->count, p->left, p->right);
        }
        done++;
        if (progress && (done % 256 == 0 || done == nmerges)) progress(ctx, "merge", done, nmerges);
    }
    trainer_free(&tr);
    free(stamp);
    if (done < nmerges) {
        berr_set(e, "the training text allows only %u merges (no adjacent pair is left to merge), but vocab_size %d "
                    "needs %u; use vocab_size <= %u or more text", done, vocab_size, nmerges, 256 + done + (uint32_t)nspecials);
        free(merges);
        bpe_free(base);
        return NULL;
    }

    // 4. The vocabulary: bytes, merges in order, specials.
    bpe *t = bpe_new_empty(pretok);
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        bpe_push_token(t, BPE_KIND_BYTE, &c, 1);
    }
    bbuf joined = {0};
    for (uint32_t k = 0; k < nmerges; k++) {
        uint32_t a = merges[2 * k], b = merges[2 * k + 1];
        joined.n = 0;
        bbuf_put(&joined, t->bytes + t->tok_off[a], t->tok_len[a]);
        bbuf_put(&joined, t->bytes + t->tok_off[b], t->tok_len[b]);
        uint32_t z = bpe_push_token(t, BPE_KIND_MERGE, joined.p, joined.n);
        bpe_push_merge(t, a, b, z);
    }
    bbuf_free(&joined);
    free(merges);
    for (int k = 0; k < nspecials; k++) bpe_push_token(t, BPE_KIND_SPECIAL, (const uint8_t *)specials[k], strlen(specials[k]));
    bpe_free(base);
    return bpe_finish(t, e);
}

bpe *bpe_train(const char *text, size_t len, int vocab_size, int pretok, const char *const *specials, int nspecials,
               berr *e) {
    return bpe_train_progress(text, len, vocab_size, pretok, specials, nspecials, NULL, NULL, e);
}
