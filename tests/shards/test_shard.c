// test_shard.c — the container: round trips of every kind at many record sizes (0 bytes to
// a few MB) and frame sizes, empty shards, random access equal to sequential reads, keys
// and metadata, header fields, atomic publication, and writer argument checks.
#include "tests/shards/util.h"
#include "tests/test.h"

typedef struct recs {
    bbuf *v;
    size_t n;
} recs;

static void recs_free(recs *r) {
    for (size_t i = 0; i < r->n; i++) bbuf_free(&r->v[i]);
    free(r->v);
}

// Writes n random records of `kind` (sizes up to max_size) to path; returns them.
static recs write_random(const char *path, uint32_t kind, size_t n, uint32_t max_size, uint32_t frame, uint64_t *s) {
    recs r = {xcalloc(n ? n : 1, sizeof(bbuf)), n};
    berr e;
    shard_write_opts o = {frame, rnd(s, 2) ? 1 : 0};
    shard_writer *w = shard_create_opts(path, kind, record_schema_max(kind), "test-writer", &o, &e);
    CHECK(w != NULL, "create %s: %s", path, e.msg);
    if (!w) return r;
    for (size_t i = 0; i < n; i++) {
        // Mostly small records, some large ones.
        uint32_t size = rnd(s, 10) == 0 ? max_size : rnd(s, max_size / 16 + 2);
        rand_record(s, kind, size, &r.v[i]);
        int rc = shard_append(w, r.v[i].p, r.v[i].n, &e);
        EXPECT(rc == 0, "append %zu: %s", i, e.msg);
    }
    CHECK_EXPECTED("append %zu records to %s", n, path);
    CHECK(shard_writer_count(w) == n, "writer count");
    CHECK(access(path, F_OK) != 0, "nothing visible at %s before finish", path);
    CHECK(shard_finish(w, &e) == 0, "finish: %s", e.msg);
    return r;
}

static void check_reads(const char *path, uint32_t kind, const recs *r, uint64_t *s) {
    berr e;
    shard_reader *rd = shard_open(path, &e);
    CHECK(rd != NULL, "open %s: %s", path, e.msg);
    if (!rd) return;
    const shard_info *in = shard_get_info(rd);
    uint64_t raw = 0;
    for (size_t i = 0; i < r->n; i++) raw += r->v[i].n;
    CHECK(in->count == r->n && in->kind == kind && in->raw_bytes == raw && in->schema_version == record_schema_max(kind),
          "info: count %llu kind %u raw %llu", (unsigned long long)in->count, in->kind, (unsigned long long)in->raw_bytes);
    CHECK(strcmp(in->producer, "test-writer") == 0, "producer '%s'", in->producer);
    struct stat st;
    stat(path, &st);
    CHECK(in->file_bytes == (uint64_t)st.st_size, "file_bytes");
    // Sequential.
    int bad = 0;
    for (size_t i = 0; i < r->n; i++) {
        const uint8_t *p;
        size_t len;
        if (shard_get(rd, i, &p, &len, &e) || len != r->v[i].n || !mem_eq(p, r->v[i].p, len)) bad++;
        if (shard_record_len(rd, i) != r->v[i].n) bad++;
        uint64_t key;
        if (record_key(kind, 1, r->v[i].p, r->v[i].n, &key, &e) || shard_record_key(rd, i) != key) bad++;
    }
    CHECK(bad == 0, "%d sequential reads differ", bad);
    // Random access, from a fresh reader and the same one.
    shard_reader *rd2 = shard_open(path, &e);
    bad = 0;
    for (size_t k = 0; k < 3 * r->n && r->n; k++) {
        size_t i = rnd(s, (uint32_t)r->n);
        const uint8_t *p;
        size_t len;
        shard_reader *which = k % 2 ? rd : rd2;
        if (shard_get(which, i, &p, &len, &e) || len != r->v[i].n || !mem_eq(p, r->v[i].p, len)) bad++;
    }
    CHECK(bad == 0, "%d random reads differ", bad);
    const uint8_t *p;
    size_t len;
    CHECK(shard_get(rd, r->n, &p, &len, &e) != 0 && strstr(e.msg, "requested"), "read past the end: %s", e.msg);
    CHECK(shard_verify_reader(rd2, kind, &e) == 0, "verify: %s", e.msg);
    uint32_t other = kind == SHARD_BYTES ? SHARD_TOKENS : SHARD_BYTES;
    CHECK(shard_verify_reader(rd2, other, &e) != 0 && strstr(e.msg, "expected"), "verify of the wrong kind: %s", e.msg);
    shard_close(rd2);
    shard_close(rd);
}

int main(void) {
    uint64_t s = 777;
    char *dir = scratch_dir("shard");
    berr e;
    // Every kind, several frame sizes, up to a few MB per record.
    uint32_t frames[] = {1, 4096, 1u << 20};
    for (uint32_t kind = 1; kind <= SHARD_KIND_MAX; kind++)
        for (int f = 0; f < 3; f++) {
            char *path = xasprintf("%s/k%u-f%d.shard", dir, kind, f);
            size_t n = f == 0 ? 30 : 300;
            uint32_t max_size = kind == SHARD_BYTES && f == 2 ? 3u << 20 : 60000;
            recs r = write_random(path, kind, n, max_size, frames[f], &s);
            check_reads(path, kind, &r, &s);
            shard_reader *rd = shard_open(path, &e);
            if (rd) {
                CHECK(f != 0 || shard_get_info(rd)->frames == n, "frame size 1 gives one frame per record");
                CHECK(f != 2 || shard_get_info(rd)->frames < n / 4, "1 MiB frames hold many records (%u frames)",
                      shard_get_info(rd)->frames);
                shard_close(rd);
            }
            recs_free(&r);
            free(path);
        }
    // A record larger than the frame target gets a frame of its own; 0-byte records.
    {
        char *path = xasprintf("%s/big.shard", dir);
        shard_write_opts o = {65536, 0};
        shard_writer *w = shard_create_opts(path, SHARD_BYTES, 1, "test-writer", &o, &e);
        bbuf big = {0};
        bbuf_reserve(&big, 5u << 20);
        for (size_t i = 0; i < (5u << 20); i++) big.p[i] = (uint8_t)(i * 2654435761u >> 13);
        big.n = 5u << 20;
        recs r = {xcalloc(5, sizeof(bbuf)), 5};
        bbuf_put(&r.v[1], "x", 1);
        bbuf_put(&r.v[2], big.p, big.n);
        bbuf_put(&r.v[4], big.p, 1000);
        for (int i = 0; i < 5; i++) CHECK(shard_append(w, r.v[i].p, r.v[i].n, &e) == 0, "append: %s", e.msg);
        CHECK(shard_finish(w, &e) == 0, "finish: %s", e.msg);
        check_reads(path, SHARD_BYTES, &r, &s);
        shard_reader *rd = shard_open(path, &e);
        CHECK(rd && shard_get_info(rd)->frames == 3, "frames: [0,1] [big] [empty, 1000]: got %u",
              rd ? shard_get_info(rd)->frames : 0);
        shard_close(rd);
        recs_free(&r);
        bbuf_free(&big);
        free(path);
    }
    // Empty shards of every kind.
    for (uint32_t kind = 1; kind <= SHARD_KIND_MAX; kind++) {
        char *path = xasprintf("%s/empty%u.shard", dir, kind);
        shard_writer *w = shard_create(path, kind, record_schema_max(kind), "test-writer", &e);
        CHECK(w && shard_finish(w, &e) == 0, "empty shard: %s", e.msg);
        recs r = {NULL, 0};
        check_reads(path, kind, &r, &s);
        shard_reader *rd = shard_open(path, &e);
        CHECK(rd && shard_get_info(rd)->frames == 0 && shard_get_info(rd)->file_bytes == SHARD_HEADER_BYTES,
              "an empty shard is a bare header");
        shard_close(rd);
        free(path);
    }
    // Metadata, creation time, key sums.
    {
        char *path = xasprintf("%s/meta.shard", dir);
        setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
        shard_writer *w = shard_create(path, SHARD_TOKENS, 1, "meta-test", &e);
        uint32_t ids[5] = {1, 2, 3, 4, 5};
        bbuf b = {0};
        tokens_encode(&b, ids, 5);
        shard_append(w, b.p, b.n, &e);
        b.n = 0;
        tokens_encode(&b, ids, 2);
        shard_append(w, b.p, b.n, &e);
        CHECK(shard_set_meta(w, "first", 5, &e) == 0, "meta");
        CHECK(shard_set_meta(w, "cursor text\n", 12, &e) == 0, "meta replaced");
        char *huge = xcalloc(SHARD_META_MAX + 1, 1);
        CHECK(shard_set_meta(w, huge, SHARD_META_MAX + 1, &e) != 0 && strstr(e.msg, "maximum"), "meta too big: %s",
              e.msg);
        free(huge);
        CHECK(shard_finish(w, &e) == 0, "finish");
        unsetenv("SOURCE_DATE_EPOCH");
        shard_reader *rd = shard_open(path, &e);
        size_t ml;
        const uint8_t *m = rd ? shard_get_meta(rd, &ml) : NULL;
        CHECK(m && ml == 12 && memcmp(m, "cursor text\n", 12) == 0, "meta read back");
        CHECK(rd && shard_get_info(rd)->created_unix == 1700000000, "SOURCE_DATE_EPOCH sets the creation time");
        CHECK(rd && shard_get_info(rd)->key_sum == 7, "token key sum");
        CHECK(rd && shard_record_key(rd, 0) == 5 && shard_record_key(rd, 1) == 2, "token keys");
        shard_close(rd);
        // Two writers of the same content give identical bytes (determinism).
        char *a = xasprintf("%s/det-a.shard", dir), *b2 = xasprintf("%s/det-b.shard", dir);
        setenv("SOURCE_DATE_EPOCH", "5", 1);
        for (int k = 0; k < 2; k++) {
            uint64_t s2 = 99;
            recs r = write_random(k ? b2 : a, SHARD_PROBLEMS, 50, 3000, 8192, &s2);
            recs_free(&r);
        }
        unsetenv("SOURCE_DATE_EPOCH");
        char *x, *y;
        size_t xl, yl;
        read_file(a, &x, &xl, &e);
        read_file(b2, &y, &yl, &e);
        CHECK(xl == yl && memcmp(x, y, xl) == 0, "same records, same bytes");
        free(x);
        free(y);
        free(a);
        free(b2);
        bbuf_free(&b);
        free(path);
    }
    // Writer argument checks and rejected records; discard leaves nothing behind.
    {
        char *path = xasprintf("%s/args.shard", dir);
        CHECK(!shard_create(path, 0, 1, "p", &e) && strstr(e.msg, "kind"), "kind 0: %s", e.msg);
        CHECK(!shard_create(path, SHARD_TOKENS, 2, "p", &e) && strstr(e.msg, "schema"), "schema 2: %s", e.msg);
        CHECK(!shard_create(path, SHARD_TOKENS, 1, "has space", &e) && strstr(e.msg, "producer"), "producer: %s", e.msg);
        shard_write_opts o = {0, 99};
        CHECK(!shard_create_opts(path, SHARD_TOKENS, 1, "p", &o, &e) && strstr(e.msg, "level"), "level: %s", e.msg);
        shard_writer *w = shard_create(path, SHARD_TOKENS, 1, "p", &e);
        CHECK(shard_append(w, "abc", 3, &e) != 0 && strstr(e.msg, "record 0"), "bad token record: %s", e.msg);
        shard_discard(w);
        DIR *d = opendir(dir);
        struct dirent *de;
        int leftovers = 0;
        while ((de = readdir(d))) leftovers += strncmp(de->d_name, "args.shard", 10) == 0;
        closedir(d);
        CHECK(leftovers == 0, "discard leaves neither the shard nor its temporary");
        char *bad_path = xasprintf("%s/no/such/dir/x.shard", dir);
        CHECK(!shard_create(bad_path, SHARD_TOKENS, 1, "p", &e) && strstr(e.msg, "cannot create"),
              "unwritable path: %s", e.msg);
        free(bad_path);
        CHECK(!shard_open(path, &e) && strstr(e.msg, "cannot open"), "missing file: %s", e.msg);
        free(path);
    }
    rm_rf(dir);
    free(dir);
    return test_summary();
}
