// test_stream.c — shard directories and streaming, in one process: the directory writer
// (rolling, numbering, locking, stale temporaries, closing with one and several producers),
// listing checks, stream readers (order, parts, waiting, cursors), and stages (restart
// after a simulated crash, commits without output).
#include "shards/stream.h"
#include "tests/shards/util.h"
#include "tests/test.h"

// A bytes record "<tag>:<i>".
static size_t rec_of(char *buf, const char *tag, int i) { return (size_t)sprintf(buf, "%s:%d", tag, i); }

static int count_files(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    size_t k = strlen(suffix);
    while (d && (de = readdir(d))) {
        size_t m = strlen(de->d_name);
        n += m >= k && strcmp(de->d_name + m - k, suffix) == 0;
    }
    if (d) closedir(d);
    return n;
}

static void test_dir_writer(const char *root) {
    char *dir = xasprintf("%s/w", root);
    berr e;
    shard_dir_opts o = {.max_records = 10};
    shard_dir_writer *w = shard_dir_writer_open(dir, "gen", SHARD_BYTES, 1, &o, &e);
    CHECK(w != NULL, "open: %s", e.msg);
    char buf[64];
    for (int i = 0; i < 25; i++) shard_dir_append(w, buf, rec_of(buf, "a", i), &e);
    CHECK(shard_dir_published(w) == 2 && shard_dir_pending(w) == 5, "rolled every 10 records");
    CHECK(strcmp(shard_dir_last_name(w), "gen-00000001.shard") == 0, "last name %s", shard_dir_last_name(w));
    // The same producer cannot be opened twice.
    shard_dir_writer *w2 = shard_dir_writer_open(dir, "gen", SHARD_BYTES, 1, &o, &e);
    CHECK(!w2 && strstr(e.msg, "another process"), "second writer as the same producer: %s", e.msg);
    CHECK(shard_dir_publish(w, "m", 1, &e) == 0 && shard_dir_published(w) == 3, "publish with meta");
    CHECK(shard_dir_publish(w, NULL, 0, &e) == 0 && shard_dir_published(w) == 3, "nothing to publish");
    CHECK(shard_dir_publish(w, "m2", 2, &e) == 0 && shard_dir_published(w) == 4, "empty shard with meta");
    shard_dir_abort(w);
    // Reopening continues the numbering and removes this producer's stale temporaries only.
    char *stale = xasprintf("%s/gen-00000009.shard.tmp.99999", dir), *other = xasprintf("%s/zzz-00000000.shard.tmp.1", dir);
    write_file_atomic(stale, "x", 1, &e);
    write_file_atomic(other, "x", 1, &e);
    w = shard_dir_writer_open(dir, "gen", SHARD_BYTES, 1, &o, &e);
    CHECK(w && shard_dir_published(w) == 4, "reopen sees 4 shards");
    CHECK(access(stale, F_OK) != 0 && access(other, F_OK) == 0, "only our stale temporary removed");
    unlink(other);
    shard_dir_append(w, buf, rec_of(buf, "b", 0), &e);
    CHECK(shard_dir_close(w, &e) == 0, "close: %s", e.msg);
    shard_dir_listing l;
    CHECK(shard_dir_list(dir, &l, &e) == 0, "list: %s", e.msg);
    CHECK(l.closed && l.n_shards == 5 && l.n_manifest == 5 && l.producers == 1, "closed with 5 shards");
    CHECK(l.n_shards == 5 && l.shards[4].seq == 4 && strcmp(l.shards[4].producer, "gen") == 0, "numbering continued");
    shard_dir_listing_free(&l);
    CHECK(shard_dir_check_manifests(dir, &e) == 0, "manifests agree: %s", e.msg);
    // A closed producer cannot add; a new producer cannot join a closed directory.
    w = shard_dir_writer_open(dir, "gen", SHARD_BYTES, 1, &o, &e);
    CHECK(w && shard_dir_writer_is_closed(w), "reopened closed producer");
    CHECK(w && shard_dir_append(w, "x", 1, &e) != 0 && strstr(e.msg, "already closed"), "append after close: %s", e.msg);
    CHECK(w && shard_dir_close(w, &e) == 0, "closing again is harmless: %s", e.msg);
    CHECK(!shard_dir_writer_open(dir, "late", SHARD_BYTES, 1, &o, &e) && strstr(e.msg, "closed"), "late producer: %s",
          e.msg);
    CHECK(!shard_dir_writer_open(dir, "bad name", SHARD_BYTES, 1, &o, &e) && strstr(e.msg, "producer name"),
          "bad producer name: %s", e.msg);
    // Listing rejects a foreign shard name and a shard the manifest does not list.
    char *odd = xasprintf("%s/odd.shard", dir);
    write_file_atomic(odd, "x", 1, &e);
    CHECK(shard_dir_list(dir, &l, &e) != 0 && strstr(e.msg, "odd.shard"), "bad shard name: %s", e.msg);
    unlink(odd);
    char *extra = xasprintf("%s/gen-00000099.shard", dir), *first = xasprintf("%s/gen-00000000.shard", dir);
    link(first, extra);
    CHECK(shard_dir_list(dir, &l, &e) != 0 && strstr(e.msg, "does not list"), "unlisted shard: %s", e.msg);
    unlink(extra);
    char *moved = xasprintf("%s/moved", root);
    rename(first, moved);
    CHECK(shard_dir_list(dir, &l, &e) != 0 && strstr(e.msg, "missing"), "missing shard: %s", e.msg);
    rename(moved, first);
    // A manifest entry that disagrees with its shard.
    char *closed_path = xasprintf("%s/gen.closed", dir);
    char *text;
    size_t len;
    read_file(closed_path, &text, &len, &e);
    char *p = strstr(text, "gen-00000000.shard 10 ");
    if (p) p[19] = '9';
    write_file_atomic(closed_path, text, len, &e);
    CHECK(shard_dir_check_manifests(dir, &e) != 0 && strstr(e.msg, "lists 90 records"), "manifest mismatch: %s", e.msg);
    free(text);
    free(closed_path);
    free(moved);
    free(extra);
    free(first);
    free(odd);
    free(stale);
    free(other);
    free(dir);
}

static void test_multi_producer(const char *root) {
    char *dir = xasprintf("%s/mp", root);
    berr e;
    shard_dir_opts o = {.max_records = 3, .producers = 2};
    shard_dir_writer *a = shard_dir_writer_open(dir, "a", SHARD_BYTES, 1, &o, &e);
    shard_dir_writer *b = shard_dir_writer_open(dir, "b", SHARD_BYTES, 1, &o, &e);
    char buf[64];
    for (int i = 0; i < 7; i++) {
        shard_dir_append(a, buf, rec_of(buf, "a", i), &e);
        shard_dir_append(b, buf, rec_of(buf, "b", i), &e);
    }
    CHECK(shard_dir_close(a, &e) == 0, "close a");
    shard_dir_listing l;
    shard_dir_list(dir, &l, &e);
    CHECK(!l.closed && l.n_closed_producers == 1, "one of two producers closed: not CLOSED");
    shard_dir_listing_free(&l);
    CHECK(shard_dir_close(b, &e) == 0, "close b: %s", e.msg);
    shard_dir_list(dir, &l, &e);
    CHECK(l.closed && l.n_manifest == 6 && l.producers == 2, "CLOSED lists both producers' 6 shards");
    shard_dir_listing_free(&l);
    // A producer closing without publishing anything.
    char *dir2 = xasprintf("%s/mp2", root);
    shard_dir_opts o2 = {.producers = 2};
    a = shard_dir_writer_open(dir2, "a", SHARD_BYTES, 1, &o2, &e);
    b = shard_dir_writer_open(dir2, "b", SHARD_BYTES, 1, &o2, &e);
    shard_dir_append(a, "x", 1, &e);
    CHECK(shard_dir_close(b, &e) == 0 && shard_dir_close(a, &e) == 0, "close");
    shard_dir_list(dir2, &l, &e);
    CHECK(l.closed && l.n_manifest == 1, "CLOSED with an empty producer");
    shard_dir_listing_free(&l);
    free(dir2);
    free(dir);
}

// Reads everything a stream gives into a string list "<record>\n".
static int drain(stream_reader *s, bbuf *out, int max, berr *e) {
    const uint8_t *rec;
    size_t len;
    stream_pos pos;
    int n = 0, r;
    while (n < max && (r = stream_next(s, 0, &rec, &len, &pos, e)) == STREAM_RECORD) {
        bbuf_put(out, rec, len);
        bbuf_u8(out, '\n');
        n++;
    }
    return n;
}

static void test_stream_reader(const char *root) {
    char *dir = xasprintf("%s/sr", root);
    berr e;
    shard_dir_opts o = {.max_records = 4, .producers = 2};
    shard_dir_writer *a = shard_dir_writer_open(dir, "a", SHARD_BYTES, 1, &o, &e);
    shard_dir_writer *b = shard_dir_writer_open(dir, "b", SHARD_BYTES, 1, &o, &e);
    char buf[64];
    for (int i = 0; i < 10; i++) shard_dir_append(a, buf, rec_of(buf, "a", i), &e);
    for (int i = 0; i < 6; i++) shard_dir_append(b, buf, rec_of(buf, "b", i), &e);
    // Published so far: a-0 (a:0-3), a-1 (a:4-7), b-0 (b:0-3); pending a:8-9, b:4-5.
    stream_reader *s = stream_open(dir, NULL, &e);
    bbuf got = {0};
    const uint8_t *rec;
    size_t len;
    stream_pos pos;
    int n = drain(s, &got, 1000, &e);
    CHECK(n == 12, "12 published records, got %d", n);
    bbuf_u8(&got, 0);
    CHECK(strcmp((char *)got.p, "a:0\na:1\na:2\na:3\nb:0\nb:1\nb:2\nb:3\na:4\na:5\na:6\na:7\n") == 0,
          "order: (seq, producer): %s", got.p);
    CHECK(stream_next(s, 0, &rec, &len, &pos, &e) == STREAM_EMPTY, "open and drained: empty");
    char *cur = stream_cursor(s, 5);
    CHECK(strcmp(cur, "berry-cursor 1\ncommit 5\npart 0 1\ninput a 2 0\ninput b 1 0\n") == 0, "cursor text: %s", cur);
    free(cur);
    shard_dir_close(a, &e);
    shard_dir_close(b, &e);
    got.n = 0;
    n = drain(s, &got, 1000, &e);
    CHECK(n == 4, "the rest after closing: %d", n);
    CHECK(stream_next(s, 1, &rec, &len, &pos, &e) == STREAM_END, "closed and drained: end");
    CHECK(stream_records_read(s) == 16, "16 records");
    stream_close(s);

    // Cursor: stop in the middle of a shard, save, continue in a new reader.
    char *cpath = xasprintf("%s/consumer.cursor", root);
    s = stream_open(dir, NULL, &e);
    got.n = 0;
    drain(s, &got, 6, &e);
    CHECK(stream_save_cursor(s, cpath, &e) == 0, "save cursor");
    stream_close(s);
    s = stream_open(dir, NULL, &e);
    CHECK(stream_load_cursor(s, cpath, &e) == 0, "load cursor: %s", e.msg);
    drain(s, &got, 1000, &e);
    CHECK(stream_next(s, 1, &rec, &len, &pos, &e) == STREAM_END, "end after resuming");
    stream_close(s);
    bbuf_u8(&got, 0);
    CHECK(strcmp((char *)got.p,
                 "a:0\na:1\na:2\na:3\nb:0\nb:1\nb:2\nb:3\na:4\na:5\na:6\na:7\nb:4\nb:5\na:8\na:9\n") == 0,
          "stop and resume gives every record once: %s", got.p);

    // Parts: 3 consumers split the shards; together they read each record once.
    int total = 0, shards_seen = 0;
    for (uint32_t k = 0; k < 3; k++) {
        stream_opts so = {.part = k, .parts = 3};
        s = stream_open(dir, &so, &e);
        got.n = 0;
        total += drain(s, &got, 1000, &e);
        CHECK(stream_next(s, 1, &rec, &len, &pos, &e) == STREAM_END, "part %u ends", k);
        stream_close(s);
        shards_seen++;
    }
    CHECK(total == 16, "3 parts read %d records in all", total);
    stream_opts bad = {.part = 3, .parts = 3};
    CHECK(!stream_open(dir, &bad, &e) && strstr(e.msg, "part 3 of 3"), "part out of range: %s", e.msg);
    // A cursor of another part is refused.
    stream_opts p1 = {.part = 1, .parts = 2};
    s = stream_open(dir, &p1, &e);
    CHECK(stream_load_cursor(s, cpath, &e) != 0 && strstr(e.msg, "part 0 of 1"), "foreign cursor: %s", e.msg);
    stream_close(s);
    // Kind check and idle timeout.
    stream_opts kind = {.expect_kind = SHARD_TOKENS};
    s = stream_open(dir, &kind, &e);
    CHECK(stream_next(s, 1, &rec, &len, &pos, &e) == -1 && strstr(e.msg, "expected tokens"), "kind: %s", e.msg);
    stream_close(s);
    char *open_dir = xasprintf("%s/never-closed", root);
    mkdir_p(open_dir, &e);
    stream_opts idle = {.idle_timeout = 0.2, .poll_seconds = 0.02};
    s = stream_open(open_dir, &idle, &e);
    double t0 = now_sec();
    CHECK(stream_next(s, 1, &rec, &len, &pos, &e) == -1 && strstr(e.msg, "no new shard"), "idle timeout: %s", e.msg);
    CHECK(now_sec() - t0 < 2, "timed out promptly");
    stream_close(s);
    free(open_dir);
    bbuf_free(&got);
    free(cpath);
    free(dir);
}

// A stage that copies each input record r to outputs "r#0" .. "r#k" (k = r's index % 3).
static int run_stage(const char *in, const char *out, uint64_t crash_after, int *ended, berr *e) {
    stage_opts o = {.out_kind = SHARD_BYTES, .out_schema = 1, .out = {.max_records = 5}, .in = {.poll_seconds = 0.01}};
    stream_stage *st = stage_open(in, out, "copy", &o, e);
    if (!st) return -1;
    const uint8_t *rec;
    size_t len;
    stream_pos pos;
    int r;
    uint64_t n = 0;
    char buf[128];
    while ((r = stage_next(st, &rec, &len, &pos, e)) == STREAM_RECORD) {
        if (n++ == crash_after) {
            stage_abort(st);  // like kill -9: nothing since the last commit survives
            *ended = 0;
            return 0;
        }
        for (uint64_t k = 0; k <= pos.record % 3; k++) {
            int m = snprintf(buf, sizeof buf, "%.*s#%llu", (int)len, (const char *)rec, (unsigned long long)k);
            if (stage_emit(st, buf, (size_t)m, e)) {
                stage_abort(st);
                return -1;
            }
        }
    }
    if (r < 0) {
        stage_abort(st);
        return -1;
    }
    *ended = 1;
    return stage_close(st, e);
}

static void test_stage(const char *root) {
    char *in = xasprintf("%s/st-in", root), *out = xasprintf("%s/st-out", root);
    berr e;
    shard_dir_opts o = {.max_records = 7};
    shard_dir_writer *w = shard_dir_writer_open(in, "src", SHARD_BYTES, 1, &o, &e);
    char buf[64];
    int expect = 0;
    for (int i = 0; i < 100; i++) shard_dir_append(w, buf, rec_of(buf, "r", i), &e);
    shard_dir_close(w, &e);
    // Records per shard of 7: record index in its shard is i % 7; outputs: i%7%3 + 1.
    for (int i = 0; i < 100; i++) expect += i % 7 % 3 + 1;
    // Crash (abort without commit) several times, then finish.
    uint64_t crashes[] = {0, 3, 17, 1, 40, 8};
    int ended = 0;
    for (size_t c = 0; c < sizeof crashes / sizeof crashes[0]; c++)
        CHECK(run_stage(in, out, crashes[c], &ended, &e) == 0 && !ended, "crashed run %zu: %s", c, e.msg);
    CHECK(run_stage(in, out, UINT64_MAX, &ended, &e) == 0 && ended, "final run: %s", e.msg);
    // Every output exactly once.
    stream_reader *s = stream_open(out, NULL, &e);
    const uint8_t *rec;
    size_t len;
    stream_pos pos;
    char *seen = xcalloc(100 * 3, 1);
    int n = 0, dup = 0, r;
    while ((r = stream_next(s, 1, &rec, &len, &pos, &e)) == STREAM_RECORD) {
        int i, k;
        char tmp[64];
        memcpy(tmp, rec, len);
        tmp[len] = 0;
        if (sscanf(tmp, "r:%d#%d", &i, &k) == 2 && i >= 0 && i < 100 && k >= 0 && k < 3) dup += seen[i * 3 + k]++ > 0;
        n++;
    }
    CHECK(r == STREAM_END, "output closed: %s", r < 0 ? e.msg : "");
    CHECK(n == expect && dup == 0, "%d outputs (want %d), %d duplicates", n, expect, dup);
    stream_close(s);
    free(seen);
    // Running it again finds it finished.
    CHECK(run_stage(in, out, UINT64_MAX, &ended, &e) == 0 && ended, "rerun of a finished stage: %s", e.msg);
    CHECK(count_files(out, ".shard") > 0 && count_files(out, ".tmp.") == 0, "no temporaries left");
    free(in);
    free(out);
}

// A filtering stage: most inputs produce nothing, so commits go to the cursor file.
static void test_filter_stage(const char *root) {
    char *in = xasprintf("%s/f-in", root), *out = xasprintf("%s/f-out", root);
    berr e;
    shard_dir_opts o = {.max_records = 10};
    shard_dir_writer *w = shard_dir_writer_open(in, "src", SHARD_BYTES, 1, &o, &e);
    char buf[64];
    for (int i = 0; i < 50; i++) shard_dir_append(w, buf, rec_of(buf, "r", i), &e);
    shard_dir_close(w, &e);
    stage_opts so = {.out_kind = SHARD_BYTES, .out_schema = 1, .commit_records = 4};
    for (int run = 0; run < 2; run++) {
        stream_stage *st = stage_open(in, out, "filter", &so, &e);
        CHECK(st != NULL, "open: %s", e.msg);
        const uint8_t *rec;
        size_t len;
        stream_pos pos;
        int r, n = 0;
        while ((r = stage_next(st, &rec, &len, &pos, &e)) == STREAM_RECORD) {
            n++;
            if (len == 3 && memcmp(rec, "r:4", 3) == 0) stage_emit(st, rec, len, &e);  // keeps one record
            if (run == 0 && n == 21) break;  // stop after 21 inputs: 20 committed, 1 lost
        }
        if (run == 0) {
            CHECK(stage_commits(st) == 5, "5 commits of 4 inputs: %llu", (unsigned long long)stage_commits(st));
            stage_abort(st);
            char *cp = xasprintf("%s/filter.cursor", out);
            CHECK(access(cp, F_OK) == 0, "cursor file written for commits without output");
            free(cp);
        } else {
            CHECK(r == STREAM_END && stage_close(st, &e) == 0, "finish: %s", e.msg);
        }
    }
    stream_reader *s = stream_open(out, NULL, &e);
    bbuf got = {0};
    int n = drain(s, &got, 1000, &e);
    bbuf_u8(&got, 0);
    CHECK(n == 1 && strcmp((char *)got.p, "r:4\n") == 0, "filter output once: %d: %s", n, got.p);
    stream_close(s);
    bbuf_free(&got);
    free(in);
    free(out);
}

// A shard published while a consumer lists the directory may be missed while a later one of
// the same producer is seen: the consumer must wait for the gap to fill, never skip it.
static void write_named(const char *dir, const char *name, const char *rec) {
    berr e;
    char *p = xasprintf("%s/%s", dir, name);
    shard_writer *w = shard_create(p, SHARD_BYTES, 1, "gap", &e);
    shard_append(w, rec, strlen(rec), &e);
    if (shard_finish(w, &e)) die("%s", e.msg);
    free(p);
}

static void test_gaps(const char *root) {
    char *dir = xasprintf("%s/gaps", root);
    berr e;
    // A consumer may start before its input directory exists.
    stream_reader *s = stream_open(dir, NULL, &e);
    CHECK(s != NULL, "open a directory that does not exist yet: %s", e.msg);
    bbuf got = {0};
    const uint8_t *rec;
    size_t len;
    stream_pos pos;
    CHECK(s && stream_next(s, 0, &rec, &len, &pos, &e) == STREAM_EMPTY, "nothing yet");
    mkdir_p(dir, &e);
    write_named(dir, "p-00000000.shard", "zero");
    write_named(dir, "p-00000002.shard", "two");
    drain(s, &got, 100, &e);
    CHECK(stream_next(s, 0, &rec, &len, &pos, &e) == STREAM_EMPTY, "waits at the gap");
    write_named(dir, "p-00000001.shard", "one");
    drain(s, &got, 100, &e);
    bbuf_u8(&got, 0);
    CHECK(strcmp((char *)got.p, "zero\none\ntwo\n") == 0, "gap filled, order kept: %s", got.p);
    stream_close(s);
    // In a closed directory a gap is an error.
    char *p1 = xasprintf("%s/p-00000001.shard", dir), *closed = xasprintf("%s/CLOSED", dir);
    unlink(p1);
    char *text = xasprintf("berry-closed 1\nproducers 1\nshard p-00000000.shard 1 1\nshard p-00000002.shard 1 1\n");
    write_file_atomic(closed, text, strlen(text), &e);
    s = stream_open(dir, NULL, &e);
    got.n = 0;
    drain(s, &got, 100, &e);
    CHECK(stream_next(s, 0, &rec, &len, &pos, &e) == -1 && strstr(e.msg, "p-00000001.shard is missing"),
          "gap in a closed directory: %s", e.msg);
    stream_close(s);
    bbuf_free(&got);
    free(text);
    free(closed);
    free(p1);
    free(dir);
}

int main(void) {
    char *root = scratch_dir("stream");
    test_gaps(root);
    test_dir_writer(root);
    test_multi_producer(root);
    test_stream_reader(root);
    test_stage(root);
    test_filter_stage(root);
    rm_rf(root);
    free(root);
    return test_summary();
}
