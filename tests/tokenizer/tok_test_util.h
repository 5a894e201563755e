// tok_test_util.h — helpers shared by the tokenizer tests: random texts that mix every
// kind of character the pre-tokeniser distinguishes, and naive reference implementations
// (slow, obviously correct) of BPE encoding and training to check the fast ones against.
#pragma once
#include <stdlib.h>
#include <string.h>

#include "kernels/base.h"
#include "shards/tokenizer.h"
#include "shards/tokenizer_internal.h"
#include "shards/tokenizer_pretok.h"

// Pieces random texts are made of: ASCII, contractions, digits, white space of all kinds,
// multi-byte letters/numbers/marks/symbols, and (when invalid != 0) bytes that are not UTF-8.
static const char *const tt_valid_pieces[] = {
    "a", "b", "e", "s", "t", "the", "The", " ", " ", "  ", "\t", "\n", "\r\n", "\n\n", "'", "'s", "'t", "'re", "'ve",
    "'m", "'ll", "'d", "'S", "'LL", "0", "1", "7", "42", "3.14", "+", "-", "=", "(", ")", "!", "?", ".", ",", ";", "{",
    "}", "_", "\"", "\\", "/", "#", "é", "ü", "ß", "Ж", "ж", "Ω", "日", "本", "語", "😀", "👍🏽", "e\xcc\x81", "²", "½",
    "٣", "Ⅻ", "\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\xa8", "\xc2\x85", "\x0b", "\x0c", "\x1c", "\x01", "\x7f",
    "<|endoftext|>", "<|step|>", "<|", "|>",
};
static const char *const tt_invalid_pieces[] = {
    "\x80", "\xff", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\x80", "\xe2\x82", "\xf0\x9f\x98",
};

// Appends a random text of about n bytes to b.
static inline void tt_random_text(bbuf *b, uint64_t *rng, size_t n, int invalid) {
    size_t nv = sizeof tt_valid_pieces / sizeof *tt_valid_pieces, ni = sizeof tt_invalid_pieces / sizeof *tt_invalid_pieces;
    size_t start = b->n;
    while (b->n - start < n) {
        uint64_t r = rng_next(rng);
        const char *p;
        if (invalid && r % 10 == 0) p = tt_invalid_pieces[(r >> 8) % ni];
        else if (invalid && r % 10 == 1) {
            uint8_t c = (uint8_t)(r >> 16);  // any byte at all
            bbuf_u8(b, c);
            continue;
        } else p = tt_valid_pieces[(r >> 8) % nv];
        bbuf_put(b, p, strlen(p));
    }
}

// Appends a text that looks like prose, code and arithmetic, for training.
static inline void tt_corpus(bbuf *b, uint64_t *rng, size_t n) {
    static const char *const words[] = {"the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with",
                                        "be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which",
                                        "but", "have", "an", "had", "they", "you", "were", "their", "one", "all", "we",
                                        "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who",
                                        "so", "no", "return", "int", "for", "while", "café", "naïve", "über", "мир",
                                        "данные", "日本", "数据", "x", "y", "i", "sum", "value"};
    size_t nw = sizeof words / sizeof *words, start = b->n;
    char num[32];
    while (b->n - start < n) {
        uint64_t r = rng_next(rng);
        switch (r % 16) {
        case 0:
            snprintf(num, sizeof num, " %u + %u = %u", (unsigned)(r >> 8) % 1000, (unsigned)(r >> 20) % 1000,
                     (unsigned)((r >> 8) % 1000 + (r >> 20) % 1000));
            bbuf_put(b, num, strlen(num));
            break;
        case 1: bbuf_put(b, ".\n", 2); break;
        case 2: bbuf_put(b, ", ", 2); break;
        case 3: bbuf_put(b, "'s", 2); break;
        case 4: bbuf_put(b, "    ", 4); break;
        case 5: {  // a made-up word of 1-4 syllables: many distinct words, as in real text
            static const char *const syl[] = {"ka", "lo", "mi", "ne", "ru", "sta", "ver", "tion", "ing", "pre", "con",
                                              "al", "ex", "ble", "ment", "dor", "qui", "za", "phe", "ous"};
            bbuf_u8(b, ' ');
            for (uint64_t k = 0, ns = 1 + (r >> 8) % 4; k < ns; k++) {
                const char *x = syl[(r >> (16 + 5 * k)) % 20];
                bbuf_put(b, x, strlen(x));
            }
            break;
        }
        default: {
            const char *w = words[(r >> 8) % nw];
            // Zipf-like: earlier words more often.
            if ((r >> 32) % 3 == 0) w = words[(r >> 40) % 8];
            bbuf_u8(b, ' ');
            bbuf_put(b, w, strlen(w));
        }
        }
    }
}

// Pre-tokenises s[0..n) (one segment) and writes the pieces joined by '|' into out.
static inline void tt_pretok_join(const char *s, size_t n, int pretok, bbuf *out) {
    out->n = 0;
    for (size_t i = 0; i < n;) {
        size_t j = bpe_pretok_next((const uint8_t *)s, n, i, pretok == BPE_PRETOK_DIGITS);
        if (i) bbuf_u8(out, '|');
        bbuf_put(out, s + i, j - i);
        i = j;
    }
    bbuf_u8(out, 0);
}

// Rank of the merge rule (a, b) by scanning the rule list, or UINT32_MAX.
static inline uint32_t tt_rank(const bpe *t, uint32_t a, uint32_t b, uint32_t *result) {
    for (uint32_t k = 0; k < t->nmerges; k++)
        if (t->merges[3 * k] == a && t->merges[3 * k + 1] == b) {
            *result = t->merges[3 * k + 2];
            return k;
        }
    return UINT32_MAX;
}

// GPT-2's encoder.py: repeatedly take the pair of lowest rank and merge all its
// occurrences left to right. Appends the ids of the pre-token w[0..n) to out.
static inline void tt_naive_word(const bpe *t, const uint8_t *w, size_t n, uint32_t *out, size_t *nout) {
    uint32_t *s = malloc((n ? n : 1) * sizeof *s);
    size_t m = n;
    for (size_t k = 0; k < n; k++) s[k] = t->byte_id[w[k]];
    for (;;) {
        uint32_t best = UINT32_MAX, res = 0, a = 0, b = 0;
        for (size_t k = 0; k + 1 < m; k++) {
            uint32_t r2, rk = tt_rank(t, s[k], s[k + 1], &r2);
            if (rk < best) best = rk, res = r2, a = s[k], b = s[k + 1];
        }
        if (best == UINT32_MAX) break;
        size_t o = 0;
        for (size_t k = 0; k < m;) {
            if (k + 1 < m && s[k] == a && s[k + 1] == b) s[o++] = res, k += 2;
            else s[o++] = s[k++];
        }
        m = o;
    }
    memcpy(out + *nout, s, m * sizeof *s);
    *nout += m;
    free(s);
}

// Reference encoding: specials found by brute force (leftmost, then longest), the
// pre-tokeniser, and tt_naive_word. out needs room for len ids.
static inline size_t tt_naive_encode(const bpe *t, const char *text, size_t len, uint32_t *out) {
    const uint8_t *s = (const uint8_t *)text;
    size_t n = 0, seg = 0, p = 0;
    while (p <= len) {
        size_t best = 0;
        uint32_t id = 0;
        for (uint32_t k = 0; p < len && k < t->nspecials; k++) {
            uint32_t sid = t->special_ids[k];
            size_t l = t->tok_len[sid];
            if (l > best && l <= len - p && memcmp(s + p, t->bytes + t->tok_off[sid], l) == 0) best = l, id = sid;
        }
        if (best || p == len) {
            for (size_t i = seg; i < p;) {
                size_t j = seg + bpe_pretok_next(s + seg, p - seg, i - seg, t->pretok == BPE_PRETOK_DIGITS);
                tt_naive_word(t, s + i, j - i, out, &n);
                i = j;
            }
            if (p == len) break;
            out[n++] = id;
            p += best;
            seg = p;
        } else {
            p++;
        }
    }
    return n;
}
