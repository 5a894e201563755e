// test_bpe_train.c — training: the incremental trainer picks exactly the merges of a naive
// one that recounts every pair before each merge (same tie rule), on texts full of ties
// and overlapping pairs; determinism; the digits mode; specials; errors.
#include <string.h>

#include "tests/test.h"
#include "tests/tokenizer/tok_test_util.h"

typedef struct {
    uint64_t key;
    int64_t count;
} pc;

static int by_key(const void *a, const void *b) {
    uint64_t x = ((const pc *)a)->key, y = ((const pc *)b)->key;
    return x < y ? -1 : x > y;
}

// Naive trainer over the distinct pre-tokens: each merge recounts all pairs. Returns the
// number of merges made (<= want), filling merges[2k], merges[2k+1].
static uint32_t naive_train(const char *text, size_t len, int pretok, uint32_t want, uint32_t *merges) {
    // Words: every pre-token occurrence (no counting map: fine for small texts).
    size_t cap = len + 1, nw = 0;
    uint32_t **w = xmalloc(cap * sizeof *w);
    size_t *wl = xmalloc(cap * sizeof *wl);
    for (size_t i = 0; i < len;) {
        size_t j = bpe_pretok_next((const uint8_t *)text, len, i, pretok == BPE_PRETOK_DIGITS);
        w[nw] = xmalloc((j - i) * sizeof **w);
        for (size_t k = i; k < j; k++) w[nw][k - i] = (uint8_t)text[k];
        wl[nw++] = j - i;
        i = j;
    }
    pc *pairs = xmalloc(cap * sizeof *pairs);
    uint32_t done = 0;
    for (; done < want; done++) {
        size_t np = 0;
        for (size_t i = 0; i < nw; i++)
            for (size_t k = 0; k + 1 < wl[i]; k++) pairs[np++] = (pc){bpe_pair_key(w[i][k], w[i][k + 1]), 1};
        if (!np) break;
        qsort(pairs, np, sizeof *pairs, by_key);
        uint64_t best = 0;
        int64_t best_count = 0;
        for (size_t i = 0; i < np;) {
            size_t j = i;
            while (j < np && pairs[j].key == pairs[i].key) j++;
            // Sorted by key = (left, right) ascending, so '>' keeps the smallest on ties.
            if ((int64_t)(j - i) > best_count) best_count = (int64_t)(j - i), best = pairs[i].key;
            i = j;
        }
        uint32_t a = (uint32_t)(best >> 32), b = (uint32_t)best, z = 256 + done;
        merges[2 * done] = a;
        merges[2 * done + 1] = b;
        for (size_t i = 0; i < nw; i++) {
            size_t o = 0;
            for (size_t k = 0; k < wl[i];) {
                if (k + 1 < wl[i] && w[i][k] == a && w[i][k + 1] == b) w[i][o++] = z, k += 2;
                else w[i][o++] = w[i][k++];
            }
            wl[i] = o;
        }
    }
    for (size_t i = 0; i < nw; i++) free(w[i]);
    free(w);
    free(wl);
    free(pairs);
    return done;
}

static void compare_with_naive(const char *text, size_t len, int pretok, uint32_t nmerges, const char *what) {
    uint32_t *ref = xmalloc(2 * nmerges * sizeof *ref);
    uint32_t nref = naive_train(text, len, pretok, nmerges, ref);
    berr e;
    bpe *t = bpe_train(text, len, (int)(256 + nref), pretok, NULL, 0, &e);
    CHECK(t != NULL, "%s: training %u merges failed: %s", what, nref, e.msg);
    if (t) {
        uint32_t first_diff = UINT32_MAX;
        for (uint32_t k = 0; k < nref && first_diff == UINT32_MAX; k++)
            if (t->merges[3 * k] != ref[2 * k] || t->merges[3 * k + 1] != ref[2 * k + 1]) first_diff = k;
        CHECK(t->nmerges == nref && first_diff == UINT32_MAX, "%s (%s): merge #%u differs from the naive trainer's", what,
              bpe_pretok_name(pretok), first_diff);
        bpe_free(t);
    }
    if (nref < nmerges) {  // the text ran out of pairs: one more merge must fail cleanly
        t = bpe_train(text, len, (int)(256 + nref + 1), pretok, NULL, 0, &e);
        CHECK(!t && strstr(e.msg, "allows only"), "%s: asking past the last pair: %s", what, t ? "succeeded" : e.msg);
        bpe_free(t);
    }
    free(ref);
}

int main(void) {
    uint64_t rng = 99;
    bbuf b = {0};
    // Tiny alphabets: many ties, runs like "aaaa" whose pairs overlap, (z, z) pairs.
    const char *alphabets[] = {"ab", "a", "ab ", "abc  ", "aab'1 ", "xy\n "};
    for (int i = 0; i < 60; i++) {
        const char *al = alphabets[i % 6];
        size_t na = strlen(al);
        b.n = 0;
        size_t n = 20 + rng_next(&rng) % 3000;
        for (size_t k = 0; k < n; k++) bbuf_u8(&b, (uint8_t)al[rng_next(&rng) % na]);
        compare_with_naive((const char *)b.p, b.n, i % 4 == 3 ? BPE_PRETOK_DIGITS : BPE_PRETOK_GPT2, 120, "small alphabet");
    }
    for (int i = 0; i < 10; i++) {
        b.n = 0;
        tt_corpus(&b, &rng, 4000 + rng_next(&rng) % 8000);
        tt_random_text(&b, &rng, 1000, i % 2);
        compare_with_naive((const char *)b.p, b.n, i % 2 ? BPE_PRETOK_DIGITS : BPE_PRETOK_GPT2, 300, "mixed text");
    }

    // The tie rule by hand: "ab cd" has three pairs of count 1; (' ', 'c') has the smallest
    // left id, then ('a', 'b'), then (" c", 'd').
    berr e;
    bpe *t = bpe_train("ab cd", 5, 259, BPE_PRETOK_GPT2, NULL, 0, &e);
    CHECK(t && t->merges[0] == ' ' && t->merges[1] == 'c' && t->merges[3] == 'a' && t->merges[4] == 'b' &&
              t->merges[6] == 256 && t->merges[7] == 'd',
          "tie rule on \"ab cd\"");
    bpe_free(t);
    t = bpe_train("ab cd", 5, 260, BPE_PRETOK_GPT2, NULL, 0, &e);
    CHECK(!t && strstr(e.msg, "allows only 3 merges") && strstr(e.msg, "vocab_size <= 259"), "exhausted: %s", e.msg);

    // A larger corpus: determinism, digits never merge in the digits mode, specials are
    // cut out of the text and come last.
    b.n = 0;
    tt_corpus(&b, &rng, 1500000);
    for (int k = 0; k < 2000; k++) bbuf_put(&b, "<|endoftext|>", 13);
    const char *sp[] = {"<|endoftext|>", "<|step|>"};
    double t0 = now_sec();
    bpe *t1 = bpe_train((const char *)b.p, b.n, 2000, BPE_PRETOK_DIGITS, sp, 2, &e);
    double secs = now_sec() - t0;
    CHECK(t1 != NULL, "training 2000 ids on 1.5 MB: %s", e.msg);
    bpe *t2 = bpe_train((const char *)b.p, b.n, 2000, BPE_PRETOK_DIGITS, sp, 2, &e);
    if (t1 && t2) {
        printf("trained 2000 ids on %.1f MB in %.2f s\n", b.n / 1e6, secs);
        int same = t1->nmerges == t2->nmerges && memcmp(t1->merges, t2->merges, 3 * t1->nmerges * sizeof *t1->merges) == 0;
        CHECK(same, "two trainings on the same text differ");
        int digit_merged = 0, spans_special = 0;
        for (uint32_t id = 256; id < t1->vocab_size - 2; id++) {
            const uint8_t *s = t1->bytes + t1->tok_off[id];
            for (uint32_t k = 0; k < t1->tok_len[id]; k++) digit_merged |= s[k] >= '0' && s[k] <= '9';
            spans_special |= memmem(s, t1->tok_len[id], "<|endoftext|>", 13) != NULL || memmem(s, t1->tok_len[id], "|><|", 4) != NULL;
        }
        CHECK(!digit_merged, "digits mode: a merged token contains a digit");
        CHECK(!spans_special, "a merged token spans a special token");
        CHECK(bpe_special(t1, "<|endoftext|>") == 1998 && bpe_special(t1, "<|step|>") == 1999, "special ids");
        CHECK(bpe_vocab_size(t1) == 2000 && bpe_pretok_mode(t1) == BPE_PRETOK_DIGITS, "size and mode");
    }
    bpe_free(t1);
    bpe_free(t2);
    // gpt2 mode does merge digits.
    t = bpe_train((const char *)b.p, b.n, 1000, BPE_PRETOK_GPT2, NULL, 0, &e);
    int digit_pair = 0;
    for (uint32_t k = 0; t && k < t->nmerges; k++) {
        uint32_t id = t->merges[3 * k + 2];
        const uint8_t *s = t->bytes + t->tok_off[id];
        for (uint32_t i = 0; i + 1 < t->tok_len[id]; i++)
            digit_pair |= s[i] >= '0' && s[i] <= '9' && s[i + 1] >= '0' && s[i + 1] <= '9';
    }
    CHECK(t && digit_pair, "gpt2 mode: some token holds two digits");
    bpe_free(t);

    // Argument errors.
    t = bpe_train("abc", 3, 255, BPE_PRETOK_GPT2, NULL, 0, &e);
    CHECK(!t && strstr(e.msg, "vocab_size 255"), "vocab_size below 256: %s", e.msg);
    t = bpe_train("abc", 3, 257, BPE_PRETOK_GPT2, sp, 2, &e);
    CHECK(!t && strstr(e.msg, "vocab_size 257"), "vocab_size below 256 + specials: %s", e.msg);
    t = bpe_train("abc", 3, 300, 7, NULL, 0, &e);
    CHECK(!t && strstr(e.msg, "pre-tokenisation"), "bad mode: %s", e.msg);
    const char *dup[] = {"<|a|>", "<|a|>"};
    t = bpe_train("abc", 3, 259, BPE_PRETOK_GPT2, dup, 2, &e);
    CHECK(!t && strstr(e.msg, "same text"), "duplicate specials: %s", e.msg);
    const char *empty[] = {""};
    t = bpe_train("abc", 3, 258, BPE_PRETOK_GPT2, empty, 1, &e);
    CHECK(!t && strstr(e.msg, "empty"), "empty special: %s", e.msg);
    t = bpe_train("", 0, 256, BPE_PRETOK_GPT2, NULL, 0, &e);
    CHECK(t && bpe_vocab_size(t) == 256, "no merges on empty text is fine");
    bpe_free(t);
    bbuf_free(&b);
    return test_summary();
}
