// test_bpe_encode.c — encoding and decoding: the fast encoder (flat and heap merge loops,
// pre-token cache) equals a naive GPT-2-style reference, any byte string round-trips, and
// special tokens are matched leftmost-longest.
#include <string.h>

#include "tests/test.h"
#include "tests/tokenizer/tok_test_util.h"

static const char *const SPECIALS[] = {"<|endoftext|>", "<|step|>", "<|answer|>"};

static bpe *train_small(int pretok, int vocab) {
    bbuf corpus = {0};
    uint64_t rng = 7;
    tt_corpus(&corpus, &rng, 300000);
    tt_random_text(&corpus, &rng, 50000, 0);
    berr e;
    bpe *t = bpe_train((const char *)corpus.p, corpus.n, vocab, pretok, SPECIALS, 3, &e);
    if (!t) die("training failed: %s", e.msg);
    bbuf_free(&corpus);
    return t;
}

static int same_ids(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

// Encodes text with bpe_encode and the naive reference; expects equality and round trip
// (EXPECTs: the caller's CHECK_EXPECTED records one check for a batch of texts).
static int check_text(const bpe *t, const char *text, size_t len, const char *what) {
    uint32_t *ids, *ref = xmalloc((len + 1) * sizeof *ref);
    size_t n = bpe_encode(t, text, len, &ids);
    size_t nr = tt_naive_encode(t, text, len, ref);
    int ok = same_ids(ids, n, ref, nr);
    EXPECT(ok, "%s (%s, %zu bytes): fast encoder gave %zu ids, reference %zu", what, bpe_pretok_name(t->pretok), len, n, nr);
    char *back;
    size_t blen;
    berr e;
    int rc = bpe_decode(t, ids, n, &back, &blen, &e);
    int rt = rc == 0 && blen == len && (len == 0 || memcmp(back, text, len) == 0);
    EXPECT(rt, "%s (%s, %zu bytes): decode(encode(x)) != x", what, bpe_pretok_name(t->pretok), len);
    if (rc == 0) free(back);
    free(ids);
    free(ref);
    return ok && rt;
}

static void test_mode(int pretok) {
    bpe *t = train_small(pretok, 256 + 600 + 3);
    uint64_t rng = 1234 + (uint64_t)pretok;
    bbuf b = {0};
    // Random texts: valid UTF-8 mixes and arbitrary bytes, many lengths including 0.
    int bad = 0;
    for (int i = 0; i < 400 && bad < 5; i++) {
        b.n = 0;
        size_t n = i < 20 ? (size_t)i : rng_next(&rng) % 1500;
        tt_random_text(&b, &rng, n, i % 2);
        bad += !check_text(t, (const char *)b.p, b.n, "random text");
    }
    CHECK_EXPECTED("%s: 400 random texts encode as the reference does and round-trip", bpe_pretok_name(pretok));
    // Raw random bytes, every value.
    for (int i = 0; i < 100 && bad < 5; i++) {
        b.n = 0;
        size_t n = rng_next(&rng) % 600;
        for (size_t k = 0; k < n; k++) bbuf_u8(&b, (uint8_t)rng_next(&rng));
        bad += !check_text(t, (const char *)b.p, b.n, "random bytes");
    }
    CHECK_EXPECTED("%s: 100 texts of random bytes encode as the reference does and round-trip", bpe_pretok_name(pretok));
    uint8_t all[256];
    for (int k = 0; k < 256; k++) all[k] = (uint8_t)k;
    check_text(t, (const char *)all, 256, "all 256 byte values");
    CHECK_EXPECTED("%s: all 256 byte values", bpe_pretok_name(pretok));

    // The heap merge loop gives the same ids as the flat one: force it for every pre-token,
    // and use long pre-tokens (runs of one character, a long CJK run, long words).
    int saved = bpe_small_word_limit;
    bpe_small_word_limit = 1;
    for (int i = 0; i < 150 && bad < 5; i++) {
        b.n = 0;
        tt_random_text(&b, &rng, rng_next(&rng) % 800, i % 2);
        bad += !check_text(t, (const char *)b.p, b.n, "random text, heap merge loop");
    }
    CHECK_EXPECTED("%s: 150 random texts through the heap merge loop", bpe_pretok_name(pretok));
    bpe_small_word_limit = saved;
    const char *longs[] = {"a", "ab", " the", "日本", "=", "'s", " ", "e\xcc\x81"};
    for (size_t k = 0; k < sizeof longs / sizeof *longs; k++) {
        b.n = 0;
        while (b.n < 300) bbuf_put(&b, longs[k], strlen(longs[k]));
        check_text(t, (const char *)b.p, b.n, "long pre-token");
        CHECK_EXPECTED("300-byte run of '%s' encodes as the reference does and round-trips", longs[k]);
        // Longer still: compare the two fast loops (the reference is quadratic in rules).
        while (b.n < 20000) bbuf_put(&b, longs[k], strlen(longs[k]));
        uint32_t *x, *y;
        size_t nx = bpe_encode(t, (const char *)b.p, b.n, &x);
        bpe_small_word_limit = 1;
        size_t ny = bpe_encode(t, (const char *)b.p, b.n, &y);
        bpe_small_word_limit = 1 << 30;  // flat loop for every length
        uint32_t *z;
        size_t nz = bpe_encode(t, (const char *)b.p, b.n, &z);
        bpe_small_word_limit = saved;
        CHECK(same_ids(x, nx, y, ny) && same_ids(x, nx, z, nz), "20000-byte run of '%s': flat and heap loops differ", longs[k]);
        free(x);
        free(y);
        free(z);
    }

    // One encoder over many texts (cache reused, also overflowing) = fresh encodes.
    size_t saved_max = bpe_cache_max_entries;
    for (int round = 0; round < 2; round++) {
        bpe_cache_max_entries = round ? 8 : saved_max;
        bpe_encoder *enc = bpe_encoder_new(t);
        uint32_t *acc = NULL, *ids;
        size_t nacc = 0, cap = 0, want_total = 0;
        int same = 1;
        for (int i = 0; i < 200; i++) {
            b.n = 0;
            tt_random_text(&b, &rng, rng_next(&rng) % 400, i % 3 == 0);
            size_t before = nacc;
            size_t got = bpe_encoder_append(enc, (const char *)b.p, b.n, &acc, &nacc, &cap);
            size_t n = bpe_encode(t, (const char *)b.p, b.n, &ids);
            same &= got == n && nacc == before + n && same_ids(acc + before, got, ids, n);
            want_total += n;
            free(ids);
        }
        CHECK(same && nacc == want_total, "encoder reuse (cache limit %zu) differs from fresh encodes", bpe_cache_max_entries);
        free(acc);
        bpe_encoder_free(enc);
    }
    bpe_cache_max_entries = saved_max;

    // Empty text.
    uint32_t *ids;
    CHECK(bpe_encode(t, "", 0, &ids) == 0 && ids != NULL, "empty text gives no ids");
    free(ids);
    bbuf_free(&b);
    bpe_free(t);
}

static void test_specials(void) {
    bpe *t = train_small(BPE_PRETOK_DIGITS, 256 + 100 + 3);
    berr e;
    int eot = bpe_special(t, "<|endoftext|>"), step = bpe_special(t, "<|step|>"), ans = bpe_special(t, "<|answer|>");
    CHECK(eot == 356 && step == 357 && ans == 358, "specials come last, in order: %d %d %d", eot, step, ans);
    CHECK(bpe_num_specials(t) == 3 && bpe_special_at(t, 0) == eot && bpe_special_at(t, 2) == ans && bpe_special_at(t, 3) == -1,
          "special listing");
    CHECK(bpe_special(t, "<|nope|>") == -1, "unknown special");
    int ext = bpe_add_special(t, "<|endoftext|>x", &e);
    CHECK(ext == 359 && bpe_vocab_size(t) == 360, "added special gets the next id (%d)", ext);
    CHECK(bpe_add_special(t, "<|step|>", &e) == step, "adding an existing special returns its id");
    CHECK(bpe_add_special(t, "", &e) < 0 && strstr(e.msg, "empty"), "empty special rejected: %s", e.msg);
    CHECK(bpe_add_special(t, "\xff", &e) < 0 && strstr(e.msg, "UTF-8"), "invalid UTF-8 special rejected: %s", e.msg);
    CHECK(bpe_add_special(t, "a", &e) < 0 && strstr(e.msg, "ordinary"), "special equal to a byte token rejected: %s", e.msg);
    CHECK(bpe_vocab_size(t) == 360 && bpe_special(t, "a") == -1, "a rejected special leaves the vocabulary as it was");

    // Leftmost, then longest; adjacent specials; specials inside words.
    const char *text = "<|endoftext|>x<|endoftext|><|step|>ab<|step|>c<|answer|";
    uint32_t *ids;
    size_t n = bpe_encode(t, text, strlen(text), &ids);
    CHECK(n >= 4 && ids[0] == (uint32_t)ext && ids[1] == (uint32_t)eot && ids[2] == (uint32_t)step, "special ids in order");
    size_t nsp = 0;
    for (size_t i = 0; i < n; i++) nsp += ids[i] >= 356;
    CHECK(nsp == 4, "4 specials found, got %zu (a truncated special is plain text)", nsp);
    check_text(t, text, strlen(text), "specials");
    CHECK_EXPECTED("text with specials encodes as the reference does and round-trips");
    free(ids);
    // A special splits pre-tokens: "a<|step|>b" = "a", special, "b" even though "ab" would merge.
    n = bpe_encode(t, "a<|step|>b", 10, &ids);
    CHECK(n == 3 && ids[0] == 'a' && ids[1] == (uint32_t)step && ids[2] == 'b', "special splits a word (%zu ids)", n);
    free(ids);

    // Decoding: specials give their text; an id out of range is an error.
    uint32_t seq[] = {(uint32_t)step, 'h', 'i', (uint32_t)eot};
    char *out;
    size_t olen;
    CHECK(bpe_decode(t, seq, 4, &out, &olen, &e) == 0 && olen == 23 && strcmp(out, "<|step|>hi<|endoftext|>") == 0,
          "decode with specials");
    free(out);
    uint32_t badseq[] = {'a', 360};
    CHECK(bpe_decode(t, badseq, 2, &out, &olen, &e) < 0 && strstr(e.msg, "360") && strstr(e.msg, "position 1"),
          "decode rejects an out-of-range id: %s", e.msg);
    size_t tl;
    CHECK(bpe_token_bytes(t, 360, &tl) == NULL && bpe_token_bytes(t, 'q', &tl) && tl == 1, "token bytes");
    bpe_free(t);
}

int main(void) {
    test_mode(BPE_PRETOK_GPT2);
    test_mode(BPE_PRETOK_DIGITS);
    test_specials();
    return test_summary();
}
