// test_tokenize.c — `shards train-tokenizer` and `shards tokenize` end to end: the token
// shards hold exactly the ids of encoding each whole file (after an end-of-text token),
// although large files are cut into pieces and encoded in parallel — also where a special
// token containing a newline could be cut; output bytes are the same for 1 and 2 threads;
// training is deterministic. Runs the tool from build/bin (make test runs from the root).
#include <sys/wait.h>

#include "shards/token_source.h"
#include "shards/tokenizer.h"
#include "tests/shards/util.h"
#include "tests/test.h"

static int run(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// About `bytes` of varied text: lines of words, numbers, unicode, runs of spaces, tabs,
// special tokens at line starts and inside lines, and a newline-bearing special.
static char *make_text(uint64_t *s, size_t bytes, size_t *len) {
    static const char *words[] = {"the", "Compute", "x", "answer", "don't", "we'll", "héllo", "naïve", "日本語",
                                  "Ω", "  ", "\t", "3.14", "(12 + 7) * 3", "=", "def f(x):", "    return",
                                  "<|step|>", "<|answer|>", "<|a\nb|>", "!!", "\xff\xfe", "\r\n", "１２３"};
    bbuf b = {0};
    while (b.n < bytes) {
        int n = 1 + (int)rnd(s, 12);
        for (int i = 0; i < n; i++) {
            const char *w = words[rnd(s, sizeof words / sizeof *words)];
            bbuf_put(&b, w, strlen(w));
            if (rnd(s, 3)) bbuf_u8(&b, ' ');
        }
        if (rnd(s, 7) == 0) {
            char num[32];
            int k = snprintf(num, sizeof num, "%llu", (unsigned long long)(rng_next(s) % 1000000));
            bbuf_put(&b, num, (size_t)k);
        }
        bbuf_u8(&b, '\n');
        if (rnd(s, 5) == 0) bbuf_put(&b, "<|a\nb|>", 7);  // a special right where a cut could go
        if (rnd(s, 9) == 0) bbuf_put(&b, "\n\n", 2);
    }
    *len = b.n;
    bbuf_u8(&b, 0);
    return (char *)b.p;
}

static int files_equal(const char *a, const char *b) {
    char *x, *y;
    size_t xl, yl;
    berr e;
    if (read_file(a, &x, &xl, &e) || read_file(b, &y, &yl, &e)) return 0;
    int eq = xl == yl && memcmp(x, y, xl) == 0;
    free(x);
    free(y);
    return eq;
}

int main(void) {
    uint64_t s = 2024;
    char *root = scratch_dir("tokenize");
    berr e;
    setenv("SOURCE_DATE_EPOCH", "1717200000", 1);
    size_t la, lb;
    char *ta = make_text(&s, 2600000, &la), *tb = make_text(&s, 300000, &lb);
    char *fa = xasprintf("%s/a.txt", root), *fb = xasprintf("%s/b.txt", root), *fe = xasprintf("%s/empty.txt", root);
    write_file_atomic(fa, ta, la, &e);
    write_file_atomic(fb, tb, lb, &e);
    write_file_atomic(fe, "", 0, &e);

    // Train twice: identical files.
    char *cmd = xasprintf("build/bin/shards train-tokenizer --vocab-size 800 --special '<|endoftext|>' --special "
                          "'<|step|>' --special '<|answer|>' --special \"$(printf '<|a\\nb|>')\" --out %s/tok1.bpe "
                          "--gpt2-vocab %s/vocab.json --gpt2-merges %s/merges.txt %s %s 2>/dev/null",
                          root, root, root, fb, fe);
    CHECK(run(cmd) == 0, "train-tokenizer");
    free(cmd);
    cmd = xasprintf("build/bin/shards train-tokenizer --vocab-size 800 --special '<|endoftext|>' --special "
                    "'<|step|>' --special '<|answer|>' --special \"$(printf '<|a\\nb|>')\" --out %s/tok2.bpe %s %s "
                    "2>/dev/null",
                    root, fb, fe);
    CHECK(run(cmd) == 0, "train-tokenizer again");
    free(cmd);
    char *t1 = xasprintf("%s/tok1.bpe", root), *t2 = xasprintf("%s/tok2.bpe", root);
    CHECK(files_equal(t1, t2), "training is deterministic");
    bpe *t = bpe_load(t1, &e);
    CHECK(t != NULL, "load: %s", e.msg);
    if (!t) {
        rm_rf(root);
        return test_summary();
    }
    CHECK(bpe_vocab_size(t) == 800 && bpe_special(t, "<|a\nb|>") >= 0 && bpe_pretok_mode(t) == BPE_PRETOK_DIGITS,
          "vocab size, specials, digits pre-tokenisation");

    // Tokenize with 1 and 2 threads, in the default 1 MiB pieces and in 700-byte ones (many cuts,
    // some of them next to the newline inside <|a\nb|>).
    for (int th = 1; th <= 3; th++) {
        cmd = xasprintf("build/bin/shards tokenize --tokenizer %s --out %s/out%d --threads %d --record-tokens 10000 "
                        "--shard-records 8 --frame-bytes 65536 %s %s %s %s 2>/dev/null",
                        t1, root, th, th == 3 ? 2 : th, th == 3 ? "--piece-bytes 700" : "", fa, fe, fb);
        CHECK(run(cmd) == 0, "tokenize with %d threads", th);
        free(cmd);
    }
    // Reference: EOT + encode(whole file), per file.
    uint32_t eot = (uint32_t)bpe_special(t, "<|endoftext|>");
    uint32_t *ia, *ib;
    size_t na = bpe_encode(t, ta, la, &ia), nb = bpe_encode(t, tb, lb, &ib);
    size_t n = 3 + na + nb;
    uint32_t *want = xmalloc(n * 4);
    size_t k = 0;
    want[k++] = eot;
    memcpy(want + k, ia, na * 4);
    k += na;
    want[k++] = eot;  // the empty file
    want[k++] = eot;
    memcpy(want + k, ib, nb * 4);
    char *o1 = xasprintf("%s/out1", root), *o2 = xasprintf("%s/out2", root), *o3 = xasprintf("%s/out3", root);
    for (int which = 0; which < 2; which++) {
    const char *paths[] = {which ? o3 : o1};
    token_source *src = token_source_open(paths, 1, &e);
    CHECK(src != NULL, "open output: %s", e.msg);
    if (src) {
        uint64_t got_n = token_source_count(src);
        CHECK(got_n == n, "%llu tokens, want %zu", (unsigned long long)got_n, n);
        uint32_t *got = xmalloc(n * 4);
        if (got_n == n) {
            CHECK(token_source_read(src, 0, n, got, &e) == 0, "read: %s", e.msg);
            size_t first = 0;
            while (first < n && got[first] == want[first]) first++;
            CHECK(first == n, "ids equal whole-file encoding (first difference at %zu of %zu)", first, n);
        }
        free(got);
        token_source_close(src);
    }
    }
    // Same bytes for 1 and 2 threads.
    int same = 1;
    for (int i = 0; i < 64; i++) {
        char *x = xasprintf("%s/tokens-%08d.shard", o1, i), *y = xasprintf("%s/tokens-%08d.shard", o2, i);
        int ex = access(x, F_OK) == 0, ey = access(y, F_OK) == 0;
        if (ex != ey || (ex && !files_equal(x, y))) same = 0;
        free(x);
        free(y);
    }
    CHECK(same, "1 and 2 threads write identical shards");
    // Refusals: a second run into the same producer, a missing special, a bad flag.
    cmd = xasprintf("build/bin/shards tokenize --tokenizer %s --out %s %s 2>/dev/null", t1, o1, fb);
    CHECK(run(cmd) == 1, "re-tokenizing into the same producer is refused");
    free(cmd);
    cmd = xasprintf("build/bin/shards tokenize --tokenizer %s --eot '<|nope|>' --out %s/x %s 2>/dev/null", t1, root, fb);
    CHECK(run(cmd) == 1, "unknown --eot is refused");
    free(cmd);
    cmd = xasprintf("build/bin/shards tokenize --tokenizer %s --out %s/x --threads 0 %s 2>/dev/null", t1, root, fb);
    CHECK(run(cmd) == 2, "--threads 0 is a usage error");
    free(cmd);
    cmd = xasprintf("build/bin/shards train-tokenizer --vocab-size 100 --out %s/y.bpe %s 2>/dev/null", root, fb);
    CHECK(run(cmd) == 2, "--vocab-size below 257 is a usage error");
    free(cmd);
    cmd = xasprintf("build/bin/shards tokenize --gpt2-vocab %s/vocab.json --gpt2-merges %s/merges.txt --pretok digits "
                    "--out %s/gpt2 %s 2>/dev/null && build/bin/shards verify --quiet --kind tokens %s/gpt2 >/dev/null",
                    root, root, root, fb, root);
    CHECK(run(cmd) == 0, "tokenize with the exported GPT-2 files");
    free(cmd);
    free(want);
    free(ia);
    free(ib);
    bpe_free(t);
    free(o1);
    free(o2);
    free(o3);
    free(t1);
    free(t2);
    free(ta);
    free(tb);
    free(fa);
    free(fb);
    free(fe);
    rm_rf(root);
    free(root);
    return test_summary();
}
