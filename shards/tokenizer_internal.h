// tokenizer_internal.h — the in-memory vocabulary shared by tokenizer*.c (not part of the
// contract: other modules use shards/tokenizer.h).
//
// A vocabulary is a list of tokens, each of one kind:
//   byte     one byte; every byte value has exactly one byte token
//   merge    the result of at least one merge rule (left, right) -> result, whose bytes are
//            bytes(left) + bytes(right)
//   special  a text matched verbatim in the input before pre-tokenisation (e.g. <|endoftext|>)
// Merge rules are ranked by their order: during encoding the rule of lowest rank applies
// first. Several rules may produce the same token (HF-trained vocabularies have such).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "shards/tokenizer.h"

enum { BPE_KIND_BYTE = 0, BPE_KIND_MERGE = 1, BPE_KIND_SPECIAL = 2 };
#define BPE_MAX_VOCAB (1u << 24)
#define BPE_MAX_SPECIAL_LEN 256
#define BPE_NO_MERGE UINT64_MAX

struct bpe {
    int pretok;
    uint32_t vocab_size;
    uint8_t *kind;       // [vocab_size]
    uint32_t *tok_off;   // [vocab_size] offset of each token's bytes in bytes
    uint32_t *tok_len;   // [vocab_size]
    uint8_t *bytes;      // all token bytes, back to back
    size_t nbytes, bytes_cap;
    uint32_t cap;        // capacity of kind/tok_off/tok_len

    uint32_t nmerges, merges_cap;
    uint32_t *merges;    // [3 * nmerges]: left, right, result, in rank order

    // Built by bpe_finish: byte -> id, pair -> (rank << 32 | result), specials.
    uint32_t byte_id[256];
    uint64_t *mm_keys, *mm_vals;  // open addressing; key (left << 32 | right), empty = UINT64_MAX
    uint64_t mm_mask;
    uint32_t nspecials;
    uint32_t *special_ids;        // [nspecials], in id order
    uint8_t special_first[256];   // 1 where some special starts with that byte
    int special_one_first;        // the first byte all specials share, or -1
};

// Building a vocabulary: push tokens in id order and merges in rank order, then finish,
// which validates everything and builds the look-up tables (frees t on failure).
bpe *bpe_new_empty(int pretok);
uint32_t bpe_push_token(bpe *t, int kind, const uint8_t *bytes, size_t len);
void bpe_push_merge(bpe *t, uint32_t left, uint32_t right, uint32_t result);
bpe *bpe_finish(bpe *t, berr *e);
// The same, naming merge rule k as "line merge_line0 + k" in errors (for merges.txt).
bpe *bpe_finish_lines(bpe *t, int merge_line0, berr *e);

static inline uint64_t bpe_pair_key(uint32_t left, uint32_t right) { return (uint64_t)left << 32 | right; }
static inline uint64_t bpe_mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}
// (rank << 32 | result) of the merge rule for (left, right), or BPE_NO_MERGE.
static inline uint64_t bpe_merge_lookup(const bpe *t, uint32_t left, uint32_t right) {
    uint64_t key = bpe_pair_key(left, right);
    for (uint64_t h = bpe_mix(key) & t->mm_mask;; h = (h + 1) & t->mm_mask) {
        if (t->mm_keys[h] == key) return t->mm_vals[h];
        if (t->mm_keys[h] == UINT64_MAX) return BPE_NO_MERGE;
    }
}

// Checks that a special token's text is usable: 1..BPE_MAX_SPECIAL_LEN bytes of valid UTF-8.
int bpe_check_special_text(const char *name, size_t len, berr *e);
// 1 if s[0..len) is valid UTF-8.
int bpe_valid_utf8(const uint8_t *s, size_t len);

// Splits text at special tokens: returns the start of the leftmost-longest special match
// at or after from (or len if none) and sets *sp_len and *sp_id for it.
size_t bpe_find_special(const bpe *t, const uint8_t *s, size_t len, size_t from, size_t *sp_len, uint32_t *sp_id);

// Encoder tuning, exposed for the tests: pre-tokens longer than bpe_small_word_limit bytes
// are merged with the heap; the pre-token cache is emptied at bpe_cache_max_entries.
extern int bpe_small_word_limit;
extern size_t bpe_cache_max_entries;
