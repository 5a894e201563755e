// test_corrupt.c — damaged shards: every single-bit flip of a small shard, a dense random
// sample of flips in a larger one, a truncation at every byte, wrong magic/version/kind/
// schema, and index inconsistencies behind valid checksums. Each must fail with a message
// naming the file and a byte offset; none may crash or return data. Also built with
// AddressSanitizer/UBSan (test_corrupt_san).
#include "tests/shards/util.h"
#include "tests/test.h"

static const char *NAME = "corrupt-test.shard";

// Opens and reads everything; 0 if the whole shard read and verified.
static int read_all(const uint8_t *buf, size_t len, berr *e) {
    shard_reader *r = shard_open_mem(buf, len, NAME, e);
    if (!r) return -1;
    int rc = shard_verify_reader(r, 0, e);
    shard_close(r);
    return rc;
}

static int good_message(const berr *e) { return strstr(e->msg, NAME) && strstr(e->msg, "byte offset"); }

// Builds a shard in memory (via a file) holding `n` records of `kind` and returns its bytes.
static uint8_t *build(const char *dir, uint32_t kind, int n, uint32_t size, uint32_t frame, size_t *len, uint64_t *s) {
    char *path = xasprintf("%s/%s", dir, NAME);
    berr e;
    shard_write_opts o = {frame, 0};
    shard_writer *w = shard_create_opts(path, kind, 1, "corrupt", &o, &e);
    bbuf b = {0};
    for (int i = 0; i < n; i++) {
        rand_record(s, kind, size, &b);
        if (shard_append(w, b.p, b.n, &e)) die("append: %s", e.msg);
    }
    shard_set_meta(w, "meta", 4, &e);
    if (shard_finish(w, &e)) die("finish: %s", e.msg);
    char *buf;
    if (read_file(path, &buf, len, &e)) die("%s", e.msg);
    unlink(path);
    free(path);
    bbuf_free(&b);
    return (uint8_t *)buf;
}

static void flip_test(const uint8_t *orig, size_t len, size_t trials, uint64_t *s, const char *what) {
    uint8_t *buf = xmalloc(len);
    size_t accepted = 0, unclear = 0, bits = len * 8;
    for (size_t t = 0; t < trials; t++) {
        size_t bit = trials >= bits ? t : rng_next(s) % bits;
        memcpy(buf, orig, len);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        berr e = {{0}};
        if (read_all(buf, len, &e) == 0) {
            if (accepted++ < 3) fprintf(stderr, "  %s: flip of bit %zu (byte %zu) went unnoticed\n", what, bit, bit / 8);
        } else if (!good_message(&e)) {
            if (unclear++ < 3) fprintf(stderr, "  %s: flip of bit %zu: message without file/offset: %s\n", what, bit, e.msg);
        }
    }
    CHECK(accepted == 0, "%s: %zu of %zu bit flips were accepted", what, accepted, trials);
    CHECK(unclear == 0, "%s: %zu of %zu errors did not name the file and offset", what, unclear, trials);
    free(buf);
}

static void truncation_test(const uint8_t *orig, size_t len, size_t step, const char *what) {
    size_t accepted = 0, unclear = 0;
    for (size_t k = 0; k < len; k += step) {
        uint8_t *buf = xmalloc(k ? k : 1);  // exactly k bytes: ASan sees any read past them
        memcpy(buf, orig, k);
        berr e = {{0}};
        if (read_all(buf, k, &e) == 0) accepted++;
        else if (!good_message(&e)) {
            if (unclear++ < 3) fprintf(stderr, "  %s: truncation at %zu: %s\n", what, k, e.msg);
        }
        free(buf);
    }
    CHECK(accepted == 0, "%s: %zu truncations accepted", what, accepted);
    CHECK(unclear == 0, "%s: %zu truncation errors did not name the file and offset", what, unclear);
    // Appended bytes are rejected too.
    uint8_t *buf = xmalloc(len + 1);
    memcpy(buf, orig, len);
    buf[len] = 0;
    berr e;
    CHECK(read_all(buf, len + 1, &e) != 0 && strstr(e.msg, "unexpected data"), "%s: trailing byte: %s", what, e.msg);
    free(buf);
}

static void rehash_header(uint8_t *b) { put_le64(b + 152, hash64(b, 152, 0)); }

static void field_tests(const uint8_t *orig, size_t len) {
    uint8_t *b = xmalloc(len);
    berr e;
#define EXPECT_REFUSED(cond_msg, ...)                                                              \
    do {                                                                                   \
        int rc_ = read_all(b, len, &e);                                                    \
        CHECK(rc_ != 0 && strstr(e.msg, cond_msg) && good_message(&e), __VA_ARGS__);       \
        if (rc_ == 0 || !strstr(e.msg, cond_msg)) fprintf(stderr, "  got: %s\n", rc_ ? e.msg : "success"); \
        memcpy(b, orig, len);                                                              \
    } while (0)
    memcpy(b, orig, len);
    memcpy(b, "NOTSHARD", 8);
    EXPECT_REFUSED("bad magic at byte offset 0", "wrong magic");
    put_le32(b + 8, 2);
    EXPECT_REFUSED("unsupported format version 2 at byte offset 8", "newer format version");
    put_le32(b + 8, 0);
    EXPECT_REFUSED("unsupported format version 0", "format version 0");
    put_le32(b + 16, 77);
    rehash_header(b);
    EXPECT_REFUSED("unknown record kind 77 at byte offset 16", "unknown kind behind a valid header checksum");
    put_le32(b + 20, 2);
    rehash_header(b);
    EXPECT_REFUSED("schema version 2 of kind problems at byte offset 20", "newer schema behind a valid header checksum");
    put_le64(b + 48, len + 10);
    rehash_header(b);
    EXPECT_REFUSED("truncated", "file shorter than the header says");
    b[88] = ' ';
    rehash_header(b);
    EXPECT_REFUSED("producer", "malformed producer");
    // Index inconsistencies behind valid index and header checksums.
    uint64_t index_off = le64(orig + 56);
    uint32_t frames = le32(orig + 64);
    uint8_t *lens = b + index_off + (size_t)frames * 48;
    put_le32(lens, le32(lens) + 1);
    put_le64(b + 80, hash64(b + index_off, len - index_off, 0));
    rehash_header(b);
    EXPECT_REFUSED("record lengths add up", "record lengths disagree with the frame size");
    put_le64(b + index_off, 161);  // frame 0 offset
    put_le64(b + 80, hash64(b + index_off, len - index_off, 0));
    rehash_header(b);
    EXPECT_REFUSED("do not follow", "frame offsets not contiguous");
    put_le64(b + 24, le64(orig + 24) + 1);  // record count
    rehash_header(b);
    EXPECT_REFUSED("does not fit", "record count disagrees with the index size");
    free(b);
#undef EXPECT_REFUSED
}

// A record that passes the checksums but breaks its kind's schema (written by an older
// writer: today's refuses it) is caught by verify.
static void schema_test(const char *dir) {
    char *path = xasprintf("%s/schema.shard", dir);
    berr e;
    problem_rec p = {1, TASK_ARITH, 0, 1, "q", "a", "", ""};
    bbuf b[2] = {{0}, {0}};
    problem_encode(&b[0], &p);
    problem_encode(&b[1], &p);
    put_le32(b[1].p + 8, 99);  // task kind 99: the key (id) is still readable, the record is not valid
    write_unchecked_shard(path, SHARD_PROBLEMS, "corrupt", b, 2);
    int rc = shard_verify(path, SHARD_PROBLEMS, &e);
    CHECK(rc != 0 && strstr(e.msg, "record 1") && strstr(e.msg, "task kind 99") && strstr(e.msg, "byte offset"),
          "invalid record found by verify: %s", e.msg);
    bbuf_free(&b[0]), bbuf_free(&b[1]);
    free(path);
}

// The file-backed reader gives the same verdicts as the in-memory one.
static void file_tests(const char *dir, const uint8_t *orig, size_t len, uint64_t *s) {
    char *path = xasprintf("%s/%s", dir, NAME);
    int bad = 0;
    uint8_t *buf = xmalloc(len);
    for (int t = 0; t < 200; t++) {
        memcpy(buf, orig, len);
        size_t k = len;
        if (t % 2) k = rnd(s, (uint32_t)len);
        else buf[rnd(s, (uint32_t)len)] ^= (uint8_t)(1u << rnd(s, 8));
        berr e;
        if (write_file_atomic(path, buf, k, &e)) die("%s", e.msg);
        int rc = shard_verify(path, 0, &e);
        if (rc == 0 || !strstr(e.msg, path) || !strstr(e.msg, "byte offset")) {
            if (bad++ < 3) fprintf(stderr, "  file trial %d: %s\n", t, rc ? e.msg : "accepted");
        }
    }
    CHECK(bad == 0, "%d damaged files accepted or unclear", bad);
    berr e;
    write_file_atomic(path, orig, len, &e);
    CHECK(shard_verify(path, 0, &e) == 0, "the undamaged file verifies: %s", e.msg);
    free(buf);
    unlink(path);
    free(path);
}

int main(void) {
    uint64_t s = 4242;
    char *dir = scratch_dir("corrupt");
    size_t len;
    // Small: 3 problem records in 2 frames: every bit, every truncation.
    uint8_t *small = build(dir, SHARD_PROBLEMS, 3, 40, 64, &len, &s);
    berr e;
    CHECK(read_all(small, len, &e) == 0, "small shard reads: %s", e.msg);
    fprintf(stderr, "small shard: %zu bytes, %zu bit flips\n", len, len * 8);
    flip_test(small, len, len * 8, &s, "small");
    truncation_test(small, len, 1, "small");
    field_tests(small, len);
    file_tests(dir, small, len, &s);
    free(small);
    // Larger: trajectories over many frames; a dense sample of flips, every 7th truncation.
    uint8_t *big = build(dir, SHARD_TRAJECTORIES, 40, 3000, 8192, &len, &s);
    CHECK(read_all(big, len, &e) == 0, "larger shard reads: %s", e.msg);
    size_t trials = getenv("CORRUPT_TRIALS") ? (size_t)atol(getenv("CORRUPT_TRIALS")) : 6000;
    fprintf(stderr, "larger shard: %zu bytes, %zu random bit flips\n", len, trials);
    flip_test(big, len, trials, &s, "larger");
    truncation_test(big, len, 7, "larger");
    free(big);
    // Empty shard: every bit.
    uint8_t *empty = build(dir, SHARD_VERDICTS, 0, 0, 64, &len, &s);
    flip_test(empty, len, len * 8, &s, "empty");
    truncation_test(empty, len, 1, "empty");
    free(empty);
    schema_test(dir);
    rm_rf(dir);
    free(dir);
    return test_summary();
}
