// test_bpe_io.c — vocabulary files: berry's file and GPT-2's vocab.json + merges.txt round
// trip; a hand-written GPT-2-style vocabulary loads (escapes, CRLF, <|endoftext|>); every
// corruption or truncation of berry's file and a catalogue of broken GPT-2 files give a
// clear error naming the file and place, never a crash or a wrong vocabulary.
#include <string.h>
#include <unistd.h>

#include "tests/test.h"
#include "tests/tokenizer/tok_test_util.h"

static char dir[256];

static char *path(const char *name) { return xasprintf("%s/%s", dir, name); }

// Plain writes, no fsync: the tests write thousands of input files. Unlinking first
// avoids ext4's flush-on-close for files truncated and rewritten (auto_da_alloc).
static void put_bytes(const char *p, const void *buf, size_t n) {
    unlink(p);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) die("cannot write %s", p);
}

static void put(const char *name, const char *text) {
    char *p = path(name);
    put_bytes(p, text, strlen(text));
    free(p);
}

static int same_encoding(const bpe *a, const bpe *b, uint64_t seed) {
    bbuf txt = {0};
    int same = 1;
    for (int i = 0; i < 50 && same; i++) {
        txt.n = 0;
        tt_random_text(&txt, &seed, 500, i % 2);
        uint32_t *x, *y;
        size_t nx = bpe_encode(a, (const char *)txt.p, txt.n, &x), ny = bpe_encode(b, (const char *)txt.p, txt.n, &y);
        same = nx == ny && memcmp(x, y, nx * sizeof *x) == 0;
        free(x);
        free(y);
    }
    bbuf_free(&txt);
    return same;
}

static void test_round_trips(void) {
    bbuf corpus = {0};
    uint64_t rng = 5;
    tt_corpus(&corpus, &rng, 200000);
    const char *sp[] = {"<|endoftext|>", "<|step|>", "<|answer|>", "\"quote\\d\"\t"};
    berr e;
    bpe *t = bpe_train((const char *)corpus.p, corpus.n, 800, BPE_PRETOK_DIGITS, sp, 4, &e);
    if (!t) die("%s", e.msg);
    char *bf = path("tok.bpe"), *vj = path("vocab.json"), *mt = path("merges.txt");
    CHECK(bpe_save(t, bf, &e) == 0, "save: %s", e.msg);
    bpe *l = bpe_load(bf, &e);
    CHECK(l && bpe_vocab_size(l) == 800 && bpe_pretok_mode(l) == BPE_PRETOK_DIGITS && bpe_num_specials(l) == 4,
          "berry file round trip: %s", l ? "" : e.msg);
    if (l) CHECK(same_encoding(t, l, 11), "berry file: encodings differ after loading");

    CHECK(bpe_save_gpt2(t, vj, mt, &e) == 0, "save_gpt2: %s", e.msg);
    bpe *g = bpe_load_gpt2(vj, mt, BPE_PRETOK_DIGITS, &e);
    CHECK(g && bpe_vocab_size(g) == 800 && bpe_num_specials(g) == 4 && bpe_special(g, "<|step|>") == bpe_special(t, "<|step|>") &&
              bpe_special(g, sp[3]) == 799,
          "GPT-2 files round trip: %s", g ? "" : e.msg);
    if (g) {
        CHECK(same_encoding(t, g, 12), "GPT-2 files: encodings differ after loading");
        // Saving what was loaded gives the same bytes.
        char *vj2 = path("vocab2.json"), *mt2 = path("merges2.txt");
        CHECK(bpe_save_gpt2(g, vj2, mt2, &e) == 0, "re-save: %s", e.msg);
        char *a, *b;
        size_t na, nb;
        read_file(vj, &a, &na, &e);
        read_file(vj2, &b, &nb, &e);
        CHECK(na == nb && memcmp(a, b, na) == 0, "vocab.json differs after load + save");
        free(a);
        free(b);
        read_file(mt, &a, &na, &e);
        read_file(mt2, &b, &nb, &e);
        CHECK(na == nb && memcmp(a, b, na) == 0, "merges.txt differs after load + save");
        CHECK(na > 14 && memcmp(a, "#version: 0.2\n", 14) == 0, "merges.txt header");
        free(a);
        free(b);
        free(vj2);
        free(mt2);
    }
    // And the same vocabulary through berry's file from a GPT-2 load.
    if (g) {
        CHECK(bpe_save(g, bf, &e) == 0, "save loaded: %s", e.msg);
        bpe *l2 = bpe_load(bf, &e);
        CHECK(l2 && same_encoding(t, l2, 13), "GPT-2 -> berry file -> load");
        bpe_free(l2);
    }

    // Corruption: every flipped byte and every truncation of berry's file is refused with
    // the file's name in the message.
    bpe *small = bpe_train((const char *)corpus.p, 5000, 300, BPE_PRETOK_GPT2, sp, 1, &e);
    CHECK(bpe_save(small, bf, &e) == 0, "save small: %s", e.msg);
    char *orig;
    size_t n;
    read_file(bf, &orig, &n, &e);
    char *bad = path("bad.bpe");
    int flips_ok = 1, truncs_ok = 1;
    for (size_t i = 0; i < n; i++) {
        orig[i] ^= (char)(1u << (i % 8));
        put_bytes(bad, orig, n);
        orig[i] ^= (char)(1u << (i % 8));
        bpe *x = bpe_load(bad, &e);
        if (x || !strstr(e.msg, bad) || !strstr(e.msg, "byte offset")) {
            if (flips_ok) fprintf(stderr, "flip at %zu: %s\n", i, x ? "loaded" : e.msg);
            flips_ok = 0;
        }
        bpe_free(x);
    }
    for (size_t len = 0; len < n; len++) {
        put_bytes(bad, orig, len);
        bpe *x = bpe_load(bad, &e);
        if (x || !strstr(e.msg, bad)) {
            if (truncs_ok) fprintf(stderr, "truncation to %zu: %s\n", len, x ? "loaded" : e.msg);
            truncs_ok = 0;
        }
        bpe_free(x);
    }
    CHECK(flips_ok, "every flipped bit of a %zu-byte file is detected", n);
    CHECK(truncs_ok, "every truncation of a %zu-byte file is detected", n);
    // A file with a valid checksum but inconsistent content is still refused.
    {
        // Make merge rule 0's result id point at a byte token, then fix the checksum.
        size_t moff = n - 8 - 12 * (size_t)small->nmerges;
        put_le32((uint8_t *)orig + moff + 8, 'a');
        put_le64((uint8_t *)orig + n - 8, hash64(orig, n - 8, 0));
        write_file_atomic(bad, orig, n, &e);
        bpe *x = bpe_load(bad, &e);
        CHECK(!x && strstr(e.msg, "merge rule #0") && strstr(e.msg, bad), "inconsistent merge refused: %s", e.msg);
        bpe_free(x);
    }
    put("notberry.bpe", "{\"a\": 0}");
    char *nb = path("notberry.bpe");
    bpe *x = bpe_load(nb, &e);
    CHECK(!x && strstr(e.msg, "bad magic") == NULL && strstr(e.msg, "too short"), "short file: %s", e.msg);
    put("notberry.bpe", "{\"a\": 0, \"b\": 1, \"c\": 2, \"d\": 3, \"e\": 4}");
    x = bpe_load(nb, &e);
    CHECK(!x && strstr(e.msg, "bad magic"), "not a berry file: %s", e.msg);
    x = bpe_load("/nonexistent/tok.bpe", &e);
    CHECK(!x && strstr(e.msg, "/nonexistent/tok.bpe"), "missing file: %s", e.msg);
    free(nb);
    free(orig);
    free(bad);
    bpe_free(small);
    bpe_free(t);
    bpe_free(l);
    bpe_free(g);
    free(bf);
    free(vj);
    free(mt);
    bbuf_free(&corpus);
}

// A GPT-2-style vocabulary written by hand: the 256 byte characters, a few merges,
// <|endoftext|> last, JSON escapes, a CRLF merges file.
static void write_gpt2_bytes(bbuf *v) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        unsigned cp = keep ? (unsigned)b : 256u + (unsigned)n++;
        char buf[32];
        if (cp == '"') snprintf(buf, sizeof buf, "\"\\\"\": %d, ", b);
        else if (cp == '\\') snprintf(buf, sizeof buf, "\"\\\\\": %d, ", b);
        else snprintf(buf, sizeof buf, "\"\\u%04x\": %d, ", cp, b);  // ids = byte values here
        bbuf_put(v, buf, strlen(buf));
    }
}

static void test_gpt2_files(void) {
    bbuf v = {0};
    bbuf_put(&v, "{ ", 2);
    write_gpt2_bytes(&v);
    const char *rest = "\"\\u0120t\": 256, \"he\": 257, \"\\u0120the\": 258, \"\\u0120t\\u0068\": 259, \"<|endoftext|>\": 260 }\n";
    bbuf_put(&v, rest, strlen(rest) + 1);
    put("g.json", (const char *)v.p);
    // Ġt h -> Ġth (259) comes last so that "Ġthe" can be made as Ġt + he.
    put("g.txt", "#version: 0.2\r\n\xc4\xa0 t\r\nh e\r\n\xc4\xa0t he\r\n\xc4\xa0t h\r\n");
    char *gj = path("g.json"), *gt = path("g.txt");
    berr e;
    bpe *t = bpe_load_gpt2(gj, gt, BPE_PRETOK_GPT2, &e);
    CHECK(t != NULL, "hand-written GPT-2 files: %s", t ? "" : e.msg);
    if (t) {
        CHECK(bpe_vocab_size(t) == 261 && bpe_special(t, "<|endoftext|>") == 260 && bpe_num_specials(t) == 1, "special found");
        uint32_t *ids;
        size_t n = bpe_encode(t, " the then<|endoftext|>", 22, &ids);
        // " the" -> Ġt+he -> Ġthe; " then" -> Ġthe n; then the special.
        CHECK(n == 4 && ids[0] == 258 && ids[1] == 258 && ids[2] == 'n' && ids[3] == 260, "encode with the hand-written vocab");
        free(ids);
        bpe_free(t);
    }

    // Broken files, each with what the error must name.
    struct {
        const char *vocab_tail, *merges, *want1, *want2;
    } cases[] = {
        {"\"<|endoftext|>\": 256 }", "#version: 0.2\n", NULL, NULL},  // fine: no merges at all
        {"\"ab\": 256 }", "a b\n", NULL, NULL},                         // fine: one merge, no header
        {"\"ab\": 257 }", "a b\n", "c.json", "out of range"},
        {"\"ab\": 255 }", "a b\n", "c.json", "appears twice"},
        {"\"ab\": 256, \"ab\": 257 }", "a b\n", "c.json", "appears twice"},
        {"\"ab\": 256 ", "a b\n", "c.json", "expected ',' or '}'"},
        {"\"ab\": 256 } x", "a b\n", "c.json", "after the JSON object"},
        {"\"ab\": -1 }", "a b\n", "c.json", "non-negative"},
        {"\"ab\": 2.5 }", "a b\n", "c.json", "whole number"},
        {"\"a\\q\": 256 }", "a b\n", "c.json", "unknown escape"},
        {"\"a\\ud800\": 256 }", "a b\n", "c.json", "surrogate"},
        {"\"a\x01\": 256 }", "a b\n", "c.json", "control character"},
        {"\"a\xff\": 256 }", "a b\n", "c.json", "invalid UTF-8"},
        {"\"ab\": 256 }", "#version: 0.2\na b\nab c d\n", "line 3", "two tokens"},
        {"\"ab\": 256 }", "a b\n\n", "line 2", "two tokens"},
        {"\"ab\": 256 }", "a q9\n", "line 1", "'q9' is not in"},
        {"\"ab\": 256 }", "a c\n", "line 1", "'ac' is not in"},
        {"\"ab\": 256 }", "a b\na b\n", "line 2", "repeats the pair"},
        {"\"ab\": 256 }", "#version: 0.2\na b\na b\n", "line 3", "repeats the pair"},
        {"\"ab\": 256 }", "\xc3\x84 \xc3\x85\n", "line 1", "is not in"},
        {"\"ab\": 256, \"<|x|>\": 257 }", "a b\nab <|x|>\n", "line 2", "is not in"},
        {"\"ab\": 256, \"abc\": 257, \"<|x|>\": 258, \"ab<|x|>\": 259 }", "a b\nab <|x|>\n", "line 2", "special"},
        {"\"ab\": 256 }", "a a\n", "line 1", "'aa' is not in"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bbuf w = {0};
        bbuf_put(&w, "{", 1);
        write_gpt2_bytes(&w);
        bbuf_put(&w, cases[i].vocab_tail, strlen(cases[i].vocab_tail) + 1);
        put("c.json", (const char *)w.p);
        put("c.txt", cases[i].merges);
        bbuf_free(&w);
        char *cj = path("c.json"), *ct = path("c.txt");
        bpe *x = bpe_load_gpt2(cj, ct, BPE_PRETOK_GPT2, &e);
        if (!cases[i].want1) CHECK(x != NULL, "case %zu should load: %s", i, x ? "" : e.msg);
        else
            CHECK(!x && strstr(e.msg, cases[i].want1) && strstr(e.msg, cases[i].want2), "case %zu: want '%s' and '%s', got: %s", i,
                  cases[i].want1, cases[i].want2, x ? "loaded" : e.msg);
        bpe_free(x);
        free(cj);
        free(ct);
    }
    // A vocabulary without all 256 bytes.
    put("h.json", "{\"a\": 0, \"b\": 1}");
    put("h.txt", "");
    char *hj = path("h.json"), *ht = path("h.txt");
    bpe *x = bpe_load_gpt2(hj, ht, BPE_PRETOK_GPT2, &e);
    CHECK(!x && strstr(e.msg, "no token for byte 0x00") && strstr(e.msg, "h.json"), "missing bytes: %s", e.msg);
    x = bpe_load_gpt2(hj, "/nonexistent/merges.txt", BPE_PRETOK_GPT2, &e);
    CHECK(!x && strstr(e.msg, "/nonexistent/merges.txt"), "missing merges file: %s", e.msg);
    x = bpe_load_gpt2(gj, gt, 9, &e);
    CHECK(!x && strstr(e.msg, "pre-tokenisation"), "bad mode: %s", e.msg);
    free(hj);
    free(ht);
    free(gj);
    free(gt);
    bbuf_free(&v);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/berry_test_bpe_io.%d", (int)getpid());
    berr e;
    if (mkdir_p(dir, &e)) die("%s", e.msg);
    test_round_trips();
    test_gpt2_files();
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
    free(cmd);
    return test_summary();
}
