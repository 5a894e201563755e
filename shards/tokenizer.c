// tokenizer.c — the vocabulary: building and validating it, special tokens, decoding and
// accessors. Encoding is in tokenizer_encode.c, training in tokenizer_train.c, files in
// tokenizer_io.c.
#include "shards/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "shards/tokenizer_internal.h"
#include "shards/tokenizer_pretok.h"
#include "shards/tokenizer_strmap.h"

int bpe_pretok_from_name(const char *name) {
    if (name && strcmp(name, "gpt2") == 0) return BPE_PRETOK_GPT2;
    if (name && strcmp(name, "digits") == 0) return BPE_PRETOK_DIGITS;
    return -1;
}

const char *bpe_pretok_name(int pretok) {
    return pretok == BPE_PRETOK_GPT2 ? "gpt2" : pretok == BPE_PRETOK_DIGITS ? "digits" : "unknown";
}

// ---- building -----------------------------------------------------------------------------

bpe *bpe_new_empty(int pretok) {
    bpe *t = xcalloc(1, sizeof *t);
    t->pretok = pretok;
    t->special_one_first = -1;
    return t;
}

uint32_t bpe_push_token(bpe *t, int kind, const uint8_t *bytes, size_t len) {
    if (t->vocab_size == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 512;
        t->kind = xrealloc(t->kind, t->cap);
        t->tok_off = xrealloc(t->tok_off, t->cap * sizeof *t->tok_off);
        t->tok_len = xrealloc(t->tok_len, t->cap * sizeof *t->tok_len);
    }
    if (t->nbytes + len > t->bytes_cap) {
        while (t->nbytes + len > t->bytes_cap) t->bytes_cap = t->bytes_cap ? 2 * t->bytes_cap : 4096;
        t->bytes = xrealloc(t->bytes, t->bytes_cap);
    }
    if (t->nbytes + len > UINT32_MAX) die("tokenizer: token bytes exceed 4 GiB");
    uint32_t id = t->vocab_size++;
    t->kind[id] = (uint8_t)kind;
    t->tok_off[id] = (uint32_t)t->nbytes;
    t->tok_len[id] = (uint32_t)len;
    if (len) memcpy(t->bytes + t->nbytes, bytes, len);
    t->nbytes += len;
    return id;
}

void bpe_push_merge(bpe *t, uint32_t left, uint32_t right, uint32_t result) {
    if (t->nmerges == t->merges_cap) {
        t->merges_cap = t->merges_cap ? 2 * t->merges_cap : 512;
        t->merges = xrealloc(t->merges, 3 * (size_t)t->merges_cap * sizeof *t->merges);
    }
    uint32_t *m = t->merges + 3 * (size_t)t->nmerges++;
    m[0] = left;
    m[1] = right;
    m[2] = result;
}

int bpe_valid_utf8(const uint8_t *s, size_t len) {
    for (size_t i = 0; i < len;) {
        size_t cl;
        if (bpe_utf8_decode(s, len, i, &cl) < 0) return 0;
        i += cl;
    }
    return 1;
}

int bpe_check_special_text(const char *name, size_t len, berr *e) {
    if (len == 0) return berr_set(e, "a special token cannot be empty");
    if (len > BPE_MAX_SPECIAL_LEN)
        return berr_set(e, "special token '%.40s...' is %zu bytes long; the limit is %d", name, len, BPE_MAX_SPECIAL_LEN);
    if (!bpe_valid_utf8((const uint8_t *)name, len)) return berr_set(e, "special token '%.*s' is not valid UTF-8", (int)len, name);
    return 0;
}

static const uint8_t *tok(const bpe *t, uint32_t id) { return t->bytes + t->tok_off[id]; }

static void merge_where(char *buf, size_t n, uint32_t rank, int merge_line0) {
    if (merge_line0 > 0) snprintf(buf, n, "line %u", (unsigned)(merge_line0 + rank));
    else snprintf(buf, n, "merge rule #%u", (unsigned)rank);
}

// Rebuilds byte_id, the merge table and the special tables, checking every invariant.
static int build_tables(bpe *t, int merge_line0, berr *e) {
    uint32_t V = t->vocab_size;
    if (t->pretok != BPE_PRETOK_GPT2 && t->pretok != BPE_PRETOK_DIGITS)
        return berr_set(e, "unknown pre-tokenisation mode %d (want %d=gpt2 or %d=digits)", t->pretok, BPE_PRETOK_GPT2, BPE_PRETOK_DIGITS);
    if (V > BPE_MAX_VOCAB) return berr_set(e, "vocabulary of %u ids exceeds the limit of %u", V, BPE_MAX_VOCAB);
    for (int b = 0; b < 256; b++) t->byte_id[b] = UINT32_MAX;
    uint32_t nspecials = 0;
    for (uint32_t id = 0; id < V; id++) {
        if (t->kind[id] == BPE_KIND_BYTE) {
            if (t->tok_len[id] != 1) return berr_set(e, "byte token id %u has %u bytes, not 1", id, t->tok_len[id]);
            uint8_t b = tok(t, id)[0];
            if (t->byte_id[b] != UINT32_MAX) return berr_set(e, "byte 0x%02x has two tokens, ids %u and %u", b, t->byte_id[b], id);
            t->byte_id[b] = id;
        } else if (t->kind[id] == BPE_KIND_SPECIAL) {
            if (bpe_check_special_text((const char *)tok(t, id), t->tok_len[id], e)) return berr_wrap(e, "token id %u", id);
            nspecials++;
        } else if (t->kind[id] != BPE_KIND_MERGE) {
            return berr_set(e, "token id %u has unknown kind %u", id, t->kind[id]);
        }
    }
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] == UINT32_MAX) return berr_set(e, "byte 0x%02x has no token: a byte-level vocabulary needs all 256", b);

    // Merge rules: parts are bytes or merge results, the result's bytes are the parts'
    // bytes joined, each pair has one rule, and every merge-kind token is produced by one.
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)t->nmerges + 2) cap *= 2;
    free(t->mm_keys);
    free(t->mm_vals);
    t->mm_keys = xmalloc(cap * sizeof *t->mm_keys);
    t->mm_vals = xmalloc(cap * sizeof *t->mm_vals);
    memset(t->mm_keys, 0xff, cap * sizeof *t->mm_keys);
    t->mm_mask = cap - 1;
    uint8_t *produced = xcalloc(V ? V : 1, 1);
    char where[64];
    int rc = 0;
    for (uint32_t k = 0; k < t->nmerges && !rc; k++) {
        const uint32_t *m = t->merges + 3 * (size_t)k;
        merge_where(where, sizeof where, k, merge_line0);
        if (m[0] >= V || m[1] >= V || m[2] >= V) {
            rc = berr_set(e, "%s: ids (%u, %u) -> %u out of range for a vocabulary of %u", where, m[0], m[1], m[2], V);
            break;
        }
        if (t->kind[m[0]] == BPE_KIND_SPECIAL || t->kind[m[1]] == BPE_KIND_SPECIAL) {
            rc = berr_set(e, "%s: a part (id %u or %u) is a special token, which can never be merged", where, m[0], m[1]);
            break;
        }
        if (t->kind[m[2]] != BPE_KIND_MERGE) {
            rc = berr_set(e, "%s: its result id %u is a %s token", where, m[2], t->kind[m[2]] == BPE_KIND_BYTE ? "byte" : "special");
            break;
        }
        uint32_t ll = t->tok_len[m[0]], rl = t->tok_len[m[1]];
        if ((uint64_t)ll + rl != t->tok_len[m[2]] || memcmp(tok(t, m[0]), tok(t, m[2]), ll) != 0 ||
            memcmp(tok(t, m[1]), tok(t, m[2]) + ll, rl) != 0) {
            rc = berr_set(e, "%s: the bytes of id %u are not those of id %u followed by id %u", where, m[2], m[0], m[1]);
            break;
        }
        uint64_t key = bpe_pair_key(m[0], m[1]);
        uint64_t h = bpe_mix(key) & t->mm_mask;
        while (t->mm_keys[h] != UINT64_MAX && t->mm_keys[h] != key) h = (h + 1) & t->mm_mask;
        if (t->mm_keys[h] == key) {
            char first[64];
            merge_where(first, sizeof first, (uint32_t)(t->mm_vals[h] >> 32), merge_line0);
            rc = berr_set(e, "%s repeats the pair (%u, %u) of %s", where, m[0], m[1], first);
            break;
        }
        t->mm_keys[h] = key;
        t->mm_vals[h] = (uint64_t)k << 32 | m[2];
        produced[m[2]] = 1;
    }
    for (uint32_t id = 0; id < V && !rc; id++)
        if (t->kind[id] == BPE_KIND_MERGE && !produced[id])
            rc = berr_set(e, "token id %u is marked as a merge result but no merge rule produces it", id);
    free(produced);
    if (rc) return rc;

    // Specials: distinct, and none equal to the text of an ordinary token.
    bpe_strmap texts;
    bpe_strmap_init(&texts, V);
    for (uint32_t id = 0; id < V && !rc; id++) {
        if (t->kind[id] == BPE_KIND_SPECIAL) continue;
        bpe_strmap_put(&texts, tok(t, id), t->tok_len[id], id);
    }
    free(t->special_ids);
    t->special_ids = xmalloc((nspecials ? nspecials : 1) * sizeof *t->special_ids);
    t->nspecials = 0;
    memset(t->special_first, 0, sizeof t->special_first);
    t->special_one_first = -1;
    for (uint32_t id = 0; id < V && !rc; id++) {
        if (t->kind[id] != BPE_KIND_SPECIAL) continue;
        uint32_t prev = bpe_strmap_put(&texts, tok(t, id), t->tok_len[id], id);
        if (prev != id) {
            rc = berr_set(e, "special token id %u '%.*s' has the same text as %s token id %u", id, (int)t->tok_len[id],
                          (const char *)tok(t, id), t->kind[prev] == BPE_KIND_SPECIAL ? "special" : "ordinary", prev);
            break;
        }
        uint8_t first = tok(t, id)[0];
        if (t->nspecials == 0) t->special_one_first = first;
        else if (t->special_one_first != first) t->special_one_first = -2;
        t->special_first[first] = 1;
        t->special_ids[t->nspecials++] = id;
    }
    if (t->special_one_first < 0) t->special_one_first = -1;
    bpe_strmap_free(&texts);
    return rc;
}

bpe *bpe_finish_lines(bpe *t, int merge_line0, berr *e) {
    if (build_tables(t, merge_line0, e)) {
        bpe_free(t);
        return NULL;
    }
    return t;
}

bpe *bpe_finish(bpe *t, berr *e) { return bpe_finish_lines(t, 0, e); }

void bpe_free(bpe *t) {
    if (!t) return;
    free(t->kind);
    free(t->tok_off);
    free(t->tok_len);
    free(t->bytes);
    free(t->merges);
    free(t->mm_keys);
    free(t->mm_vals);
    free(t->special_ids);
    free(t);
}

// ---- accessors and special tokens -----------------------------------------------------------

int bpe_vocab_size(const bpe *t) { return (int)t->vocab_size; }
int bpe_pretok_mode(const bpe *t) { return t->pretok; }
int bpe_num_specials(const bpe *t) { return (int)t->nspecials; }
int bpe_special_at(const bpe *t, int i) { return i >= 0 && (uint32_t)i < t->nspecials ? (int)t->special_ids[i] : -1; }

int bpe_special(const bpe *t, const char *name) {
    size_t len = strlen(name);
    for (uint32_t k = 0; k < t->nspecials; k++) {
        uint32_t id = t->special_ids[k];
        if (t->tok_len[id] == len && memcmp(tok(t, id), name, len) == 0) return (int)id;
    }
    return -1;
}

int bpe_add_special(bpe *t, const char *name, berr *e) {
    int have = bpe_special(t, name);
    if (have >= 0) return have;
    size_t len = strlen(name);
    if (bpe_check_special_text(name, len, e)) return -1;
    if (t->vocab_size >= BPE_MAX_VOCAB) return berr_set(e, "cannot add special token '%s': the vocabulary is full (%u ids)", name, t->vocab_size);
    uint32_t id = bpe_push_token(t, BPE_KIND_SPECIAL, (const uint8_t *)name, len);
    if (build_tables(t, 0, e)) {  // only the new token can be at fault: take it back
        t->vocab_size--;
        t->nbytes -= len;
        berr ignored;
        if (build_tables(t, 0, &ignored)) die("tokenizer: vocabulary became inconsistent after rejecting a special token");
        return -1;
    }
    return (int)id;
}

size_t bpe_find_special(const bpe *t, const uint8_t *s, size_t len, size_t from, size_t *sp_len, uint32_t *sp_id) {
    if (!t->nspecials) return len;
    for (size_t p = from; p < len; p++) {
        if (t->special_one_first >= 0) {
            const uint8_t *q = memchr(s + p, t->special_one_first, len - p);
            if (!q) return len;
            p = (size_t)(q - s);
        } else if (!t->special_first[s[p]]) {
            continue;
        }
        size_t best = 0;
        for (uint32_t k = 0; k < t->nspecials; k++) {
            uint32_t id = t->special_ids[k];
            size_t l = t->tok_len[id];
            if (l > best && l <= len - p && memcmp(s + p, tok(t, id), l) == 0) {
                best = l;
                *sp_id = id;
            }
        }
        if (best) {
            *sp_len = best;
            return p;
        }
    }
    return len;
}

// ---- decoding ---------------------------------------------------------------------------------

const char *bpe_token_bytes(const bpe *t, uint32_t id, size_t *len) {
    if (id >= t->vocab_size) return NULL;
    *len = t->tok_len[id];
    return (const char *)tok(t, id);
}

int bpe_decode(const bpe *t, const uint32_t *ids, size_t n, char **out, size_t *out_len, berr *e) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= t->vocab_size)
            return berr_set(e, "token id %u at position %zu is out of range (vocabulary of %u)", ids[i], i, t->vocab_size);
        total += t->tok_len[ids[i]];
    }
    char *buf = xmalloc(total + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + o, tok(t, ids[i]), t->tok_len[ids[i]]);
        o += t->tok_len[ids[i]];
    }
    buf[o] = 0;
    *out = buf;
    *out_len = o;
    return 0;
}
