// test_token_source.c — one token stream over berry token shards and llm.c token files:
// total count, random ranges equal to the concatenated reference (across records, shards
// and files, with empty records and wide ids), and llm.c header checks.
#include "shards/stream.h"
#include "shards/token_source.h"
#include "tests/shards/util.h"
#include "tests/test.h"

typedef struct tokvec {
    uint32_t *v;
    size_t n, cap;
} tokvec;

static void push(tokvec *t, uint32_t x) {
    if (t->n == t->cap) t->v = xrealloc(t->v, (t->cap = t->cap ? 2 * t->cap : 1024) * 4);
    t->v[t->n++] = x;
}

static void write_llmc(const char *path, uint32_t n, uint64_t *s, tokvec *ref) {
    bbuf b = {0};
    for (int i = 0; i < 256; i++) bbuf_u32(&b, i == 0 ? LLMC_TOKENS_MAGIC : i == 1 ? 1 : i == 2 ? n : 0);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t x = rnd(s, 65536);
        uint8_t le[2] = {(uint8_t)x, (uint8_t)(x >> 8)};
        bbuf_put(&b, le, 2);
        push(ref, x);
    }
    berr e;
    if (write_file_atomic(path, b.p, b.n, &e)) die("%s", e.msg);
    bbuf_free(&b);
}

// Token shards in dir (producer `prod`): `records` records of random sizes (some empty, some
// with ids beyond uint16).
static void write_token_dir(const char *dir, const char *prod, int records, uint64_t *s, tokvec *ref) {
    berr e;
    shard_dir_opts o = {.max_records = 7, .shard = {.frame_bytes = 2048}};
    shard_dir_writer *w = shard_dir_writer_open(dir, prod, SHARD_TOKENS, 1, &o, &e);
    if (!w) die("%s", e.msg);
    bbuf b = {0};
    for (int r = 0; r < records; r++) {
        uint32_t n = rnd(s, 5) == 0 ? 0 : rnd(s, 3000);
        uint32_t max = rnd(s, 4) == 0 ? 200000 : 50257;
        uint32_t *ids = xmalloc((size_t)(n ? n : 1) * 4);
        for (uint32_t i = 0; i < n; i++) push(ref, ids[i] = rnd(s, max));
        b.n = 0;
        tokens_encode(&b, ids, n);
        if (shard_dir_append(w, b.p, b.n, &e)) die("%s", e.msg);
        free(ids);
    }
    if (shard_dir_close(w, &e)) die("%s", e.msg);
    bbuf_free(&b);
}

static void check_ranges(token_source *t, const tokvec *ref, uint64_t *s, const char *what) {
    berr e;
    CHECK(token_source_count(t) == ref->n, "%s: count %llu, want %zu", what, (unsigned long long)token_source_count(t),
          ref->n);
    uint32_t *buf = xmalloc(20000 * 4);
    int bad = 0;
    for (int it = 0; it < 2000; it++) {
        size_t n = it % 3 == 0 ? rnd(s, 20000) : rnd(s, 300);
        if (n > ref->n) n = ref->n;
        uint64_t off = rnd(s, (uint32_t)(ref->n - n + 1));
        if (token_source_read(t, off, n, buf, &e) || !mem_eq(buf, ref->v + off, n * 4)) {
            if (bad++ < 3) fprintf(stderr, "%s: range [%llu, +%zu) differs: %s\n", what, (unsigned long long)off, n, e.msg);
        }
    }
    CHECK(bad == 0, "%s: %d ranges differ", what, bad);
    // The whole stream in one read, and the empty read at the end.
    uint32_t *all = xmalloc((ref->n ? ref->n : 1) * 4);
    CHECK(token_source_read(t, 0, ref->n, all, &e) == 0 && mem_eq(all, ref->v, ref->n * 4), "%s: whole stream", what);
    CHECK(token_source_read(t, ref->n, 0, all, &e) == 0, "%s: empty read at the end", what);
    CHECK(token_source_read(t, ref->n - 5, 6, all, &e) != 0 && strstr(e.msg, "passes the end"), "%s: past the end: %s",
          what, e.msg);
    free(all);
    free(buf);
}

int main(void) {
    uint64_t s = 31337;
    char *root = scratch_dir("toksrc");
    berr e;
    tokvec ref = {0};
    // A directory of shards from one producer, then two llm.c files, then another dir
    // holding shards and .bin files.
    char *d1 = xasprintf("%s/d1", root), *b1 = xasprintf("%s/a.bin", root), *b2 = xasprintf("%s/b.bin", root);
    char *d2 = xasprintf("%s/d2", root);
    write_token_dir(d1, "tok", 60, &s, &ref);
    write_llmc(b1, 5000, &s, &ref);
    write_llmc(b2, 0, &s, &ref);
    write_token_dir(d2, "tok", 20, &s, &ref);
    char *b3 = xasprintf("%s/x-001.bin", d2), *b4 = xasprintf("%s/x-000.bin", d2);
    // In d2 the .bin files come after the shards, in name order: x-000 before x-001.
    tokvec tail = {0}, tail2 = {0};
    write_llmc(b4, 777, &s, &tail);
    write_llmc(b3, 1234, &s, &tail2);
    for (size_t i = 0; i < tail.n; i++) push(&ref, tail.v[i]);
    for (size_t i = 0; i < tail2.n; i++) push(&ref, tail2.v[i]);
    const char *paths[] = {d1, b1, b2, d2};
    token_source *t = token_source_open(paths, 4, &e);
    CHECK(t != NULL, "open: %s", e.msg);
    if (t) {
        check_ranges(t, &ref, &s, "mixed");
        uint64_t first, count;
        const char *f = token_source_file(t, token_source_files(t) - 1, &first, &count);
        CHECK(strstr(f, "x-001.bin") && count == 1234 && first + count == ref.n, "last file %s", f);
        token_source_close(t);
    }
    // One llm.c file alone.
    tokvec one = {0};
    char *b5 = xasprintf("%s/one.bin", root);
    write_llmc(b5, 100000, &s, &one);
    const char *p1[] = {b5};
    t = token_source_open(p1, 1, &e);
    CHECK(t != NULL, "open one: %s", e.msg);
    if (t) check_ranges(t, &one, &s, "llm.c");
    token_source_close(t);
    // llm.c header checks.
    char *bad = xasprintf("%s/bad.bin", root);
    char *text;
    size_t len;
    read_file(b5, &text, &len, &e);
    uint64_t n;
    put_le32((uint8_t *)text + 4, 2);
    write_file_atomic(bad, text, len, &e);
    CHECK(llmc_tokens_check(bad, &n, &e) != 0 && strstr(e.msg, "version 2 at byte offset 4"), "version: %s", e.msg);
    put_le32((uint8_t *)text + 4, 1);
    write_file_atomic(bad, text, len - 1, &e);
    CHECK(llmc_tokens_check(bad, &n, &e) != 0 && strstr(e.msg, "truncated"), "truncated: %s", e.msg);
    write_file_atomic(bad, text, 100, &e);
    CHECK(llmc_tokens_check(bad, &n, &e) != 0 && strstr(e.msg, "header alone"), "short header: %s", e.msg);
    text[0] ^= 1;
    write_file_atomic(bad, text, len, &e);
    CHECK(llmc_tokens_check(bad, &n, &e) != 0 && strstr(e.msg, "bad magic"), "magic: %s", e.msg);
    const char *p2[] = {bad};
    CHECK(!token_source_open(p2, 1, &e) && strstr(e.msg, "bad magic"), "source over a non-shard file: %s", e.msg);
    free(text);
    // A shard of another kind.
    char *prob = xasprintf("%s/p.shard", root);
    shard_writer *w = shard_create(prob, SHARD_PROBLEMS, 1, "x", &e);
    shard_finish(w, &e);
    const char *p3[] = {prob};
    CHECK(!token_source_open(p3, 1, &e) && strstr(e.msg, "not tokens"), "problems shard: %s", e.msg);
    free(prob);
    free(bad);
    free(b5);
    free(one.v);
    free(tail.v);
    free(tail2.v);
    free(ref.v);
    free(b1);
    free(b2);
    free(b3);
    free(b4);
    free(d1);
    free(d2);
    rm_rf(root);
    free(root);
    return test_summary();
}
