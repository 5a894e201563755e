// tokenizer_pretok.h — the pre-tokenisation: how text is cut into the pieces that BPE merges
// within, written by hand (no regex library) so that it is fast and exactly specified.
//
// BPE_PRETOK_GPT2 reproduces GPT-2's regex
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// as HF tokenizers' ByteLevel pre-tokeniser runs it: at each position the first alternative
// that matches wins, each `+` is greedy, and `\s+(?!\S)` gives back one character when the
// run of white space is followed by a non-space (so " world" keeps its space).
//
// BPE_PRETOK_DIGITS first isolates every \p{N} character (the text is split before and
// after each one), then applies the GPT-2 rules within each piece; HF reproduces it with
// Sequence([Digits(individual_digits=True), ByteLevel(add_prefix_space=False)]). Within the
// GPT-2 rules this means: a number character is always a pre-token by itself, " ?" never
// joins a space to a number, and a run of white space that is followed by a number ends
// there (the piece ends), so it is kept whole: "a  1" -> "a", "  ", "1".
//
// Characters: text is decoded as UTF-8; a byte that does not begin a valid, complete,
// shortest-form sequence (stray continuation bytes, overlong forms, surrogates, values
// above U+10FFFF, truncated sequences) is one character of class "other" by itself. So
// every byte string has exactly one pre-tokenisation, and pre-tokens cover the text with
// no gaps, which is what makes encode/decode round-trip arbitrary bytes.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "shards/tokenizer_unicode.h"

// Class of each ASCII byte: letters, digits, the six ASCII white-space characters.
static const uint8_t bpe_ascii_class[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 0, 0,  // \t \n \v \f \r
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 0x1c-0x1f are not White_Space
    3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // space
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0,  // 0-9
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  // A-O
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,  // P-Z
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  // a-o
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,  // p-z
};

// Decodes the character at s[i] (i < len): returns its code point and sets *clen to its
// length in bytes, or returns -1 with *clen = 1 for a byte that is not valid UTF-8 there.
static inline int32_t bpe_utf8_decode(const uint8_t *s, size_t len, size_t i, size_t *clen) {
    uint32_t b0 = s[i];
    *clen = 1;
    if (b0 < 0x80) return (int32_t)b0;
    size_t left = len - i;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (left < 2 || (s[i + 1] & 0xC0) != 0x80) return -1;
        *clen = 2;
        return (int32_t)((b0 & 0x1F) << 6 | (s[i + 1] & 0x3Fu));
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (left < 3) return -1;
        uint32_t b1 = s[i + 1], b2 = s[i + 2];
        uint32_t lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;  // no overlongs, no surrogates
        if (b1 < lo || b1 > hi || (b2 & 0xC0) != 0x80) return -1;
        *clen = 3;
        return (int32_t)((b0 & 0x0F) << 12 | (b1 & 0x3F) << 6 | (b2 & 0x3F));
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (left < 4) return -1;
        uint32_t b1 = s[i + 1], b2 = s[i + 2], b3 = s[i + 3];
        uint32_t lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;  // no overlongs, <= U+10FFFF
        if (b1 < lo || b1 > hi || (b2 & 0xC0) != 0x80 || (b3 & 0xC0) != 0x80) return -1;
        *clen = 4;
        return (int32_t)((b0 & 0x07) << 18 | (b1 & 0x3F) << 12 | (b2 & 0x3F) << 6 | (b3 & 0x3F));
    }
    return -1;
}

// Class (BPE_CC_*) and byte length of the character at s[i]; invalid bytes are "other".
static inline int bpe_char_class(const uint8_t *s, size_t len, size_t i, size_t *clen) {
    if (s[i] < 0x80) {
        *clen = 1;
        return bpe_ascii_class[s[i]];
    }
    int32_t cp = bpe_utf8_decode(s, len, i, clen);
    return cp < 0 ? BPE_CC_OTHER : bpe_uc_class((uint32_t)cp);
}

// End of the run of characters of class cls that starts at i.
static inline size_t bpe_run_end(const uint8_t *s, size_t len, size_t i, int cls) {
    while (i < len) {
        if (s[i] < 0x80) {
            if (bpe_ascii_class[s[i]] != cls) break;
            i++;
            continue;
        }
        size_t cl;
        if (bpe_char_class(s, len, i, &cl) != cls) break;
        i += cl;
    }
    return i;
}

// End (exclusive) of the pre-token that starts at i (< len) in the segment s[0..len): the
// end of the segment counts as the end of the text for the regex's look-ahead. digits != 0
// selects BPE_PRETOK_DIGITS.
static inline size_t bpe_pretok_next(const uint8_t *s, size_t len, size_t i, int digits) {
    uint8_t c = s[i];
    if (c == '\'' && i + 1 < len) {  // 's 't 'm 'd 're 've 'll (lower case only, as in GPT-2)
        uint8_t d = s[i + 1];
        if (d == 's' || d == 't' || d == 'm' || d == 'd') return i + 2;
        if (i + 2 < len && ((d == 'r' && s[i + 2] == 'e') || (d == 'v' && s[i + 2] == 'e') || (d == 'l' && s[i + 2] == 'l')))
            return i + 3;
    }
    size_t cl;
    int cls = bpe_char_class(s, len, i, &cl);
    if (c == ' ' && i + 1 < len) {  // " ?X+": a space joins the run that follows it
        size_t cl2;
        int next = bpe_char_class(s, len, i + 1, &cl2);
        if (next == BPE_CC_LETTER || next == BPE_CC_OTHER || (next == BPE_CC_NUMBER && !digits))
            return bpe_run_end(s, len, i + 1 + cl2, next);
    }
    if (cls == BPE_CC_NUMBER) return digits ? i + cl : bpe_run_end(s, len, i + cl, cls);
    if (cls != BPE_CC_SPACE) return bpe_run_end(s, len, i + cl, cls);
    // White space: \s+(?!\S) takes the run but leaves its last character to the next
    // pre-token when a non-space follows; a run of one character is then taken by \s+.
    size_t last = i, j = i + cl;
    while (j < len) {
        size_t cl2;
        if (bpe_char_class(s, len, j, &cl2) != BPE_CC_SPACE) break;
        last = j;
        j += cl2;
    }
    if (j == len) return j;
    if (digits) {
        size_t cl2;
        if (bpe_char_class(s, len, j, &cl2) == BPE_CC_NUMBER) return j;  // the piece ends before a number
    }
    return last > i ? last : j;
}
