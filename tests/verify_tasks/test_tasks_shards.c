// test_tasks_shards.c — tasks_generate end to end: rolling problem shards, a closed
// directory whose records equal the stream's, a finished directory refused, and runs killed
// with SIGKILL at random moments then resumed, which must end with the same directory as
// an uninterrupted run (and refuse to resume with other options).
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernels/base.h"
#include "shards/records.h"
#include "shards/stream.h"
#include "tests/test.h"
#include "verify/tasks.h"

static tasks_opts make_opts(uint64_t seed, int64_t count, int64_t per_shard) {
    tasks_opts o;
    tasks_opts_default(&o);
    o.seed = seed;
    o.count = count;
    o.shard_records = per_shard;
    o.progress = 0;
    return o;
}

// Digest of every record of the directory in (producer, seq, index) order; -1 on error.
static int dir_digest_t(const char *dir, uint64_t *digest, uint64_t *records, size_t *shards, int *closed, int allow_temps) {
    shard_dir_listing l;
    berr e;
    if (shard_dir_list(dir, &l, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    uint64_t h = 0, n = 0;
    int rc = 0;
    for (size_t i = 0; i < l.n_shards && !rc; i++) {
        char *path = xasprintf("%s/%s", dir, l.shards[i].name);
        shard_reader *r = shard_open(path, &e);
        if (!r) {
            fprintf(stderr, "%s\n", e.msg);
            rc = -1;
        } else {
            for (uint64_t k = 0; k < shard_get_info(r)->count && !rc; k++) {
                const uint8_t *rec;
                size_t len;
                if (shard_get(r, k, &rec, &len, &e)) {
                    fprintf(stderr, "%s\n", e.msg);
                    rc = -1;
                    break;
                }
                h = hash64(rec, len, h);
                n++;
            }
            shard_close(r);
        }
        free(path);
    }
    *digest = h;
    *records = n;
    *shards = l.n_shards;
    *closed = l.closed;
    if (!allow_temps) CHECK(l.n_temps == 0, "%s: %zu temporaries left behind", dir, l.n_temps);
    shard_dir_listing_free(&l);
    return rc;
}

static int dir_digest(const char *dir, uint64_t *digest, uint64_t *records, size_t *shards, int *closed) {
    return dir_digest_t(dir, digest, records, shards, closed, 0);
}

static void rm_rf(const char *dir) {
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
}

static void test_generate(const char *root) {
    char *dir = xasprintf("%s/clean", root);
    tasks_opts o = make_opts(5, 2500, 1000);
    berr e;
    CHECK(tasks_generate(&o, dir, &e) == 0, "generate: %s", e.msg);
    CHECK(shard_dir_check_manifests(dir, &e) == 0, "manifests: %s", e.msg);
    shard_dir_listing l;
    CHECK(shard_dir_list(dir, &l, &e) == 0, "list: %s", e.msg);
    CHECK(l.closed && l.n_shards == 3, "closed with 3 shards (1000, 1000, 500): closed %d, %zu shards", l.closed, l.n_shards);
    for (size_t i = 0; i < l.n_shards; i++) {
        char *path = xasprintf("%s/%s", dir, l.shards[i].name);
        CHECK(shard_verify(path, SHARD_PROBLEMS, &e) == 0, "verify %s: %s", path, e.msg);
        free(path);
    }
    shard_dir_listing_free(&l);

    // The streamed records are the generator's, in order.
    stream_opts so;
    memset(&so, 0, sizeof so);
    so.parts = 1;
    so.expect_kind = SHARD_PROBLEMS;
    stream_reader *sr = stream_open(dir, &so, &e);
    CHECK(sr != NULL, "stream_open: %s", e.msg);
    tasks_stream ts;
    tasks_stream_init(&ts, &o, &e);
    int n = 0, mismatch = 0, nseen = 0;
    uint64_t *seen = xcalloc(4096, sizeof *seen);
    for (;;) {
        const uint8_t *rec;
        size_t len;
        stream_pos pos;
        int r = sr ? stream_next(sr, 1, &rec, &len, &pos, &e) : -1;
        if (r != STREAM_RECORD) {
            CHECK(r == STREAM_END, "stream ended with %d: %s", r, e.msg);
            break;
        }
        problem_rec got, want;
        if (problem_decode(rec, len, pos.schema, &got, &e)) {
            CHECK(0, "decode record %d: %s", n, e.msg);
            break;
        }
        // The directory holds the stream's distinct problems in order (repeats skipped).
        for (;;) {
            tasks_stream_next(&ts, &want, &e);
            int dup = 0;
            for (int k = 0; k < nseen && !dup; k++) dup = seen[k] == want.id;
            if (!dup) break;
            problem_free(&want);
        }
        seen[nseen++] = want.id;
        mismatch += got.id != want.id || got.task != want.task || got.split != want.split || got.difficulty != want.difficulty ||
                    strcmp(got.prompt, want.prompt) || strcmp(got.answer, want.answer) || strcmp(got.tests, want.tests) ||
                    strcmp(got.solution, want.solution) || pos.key != want.id;
        problem_free(&got);
        problem_free(&want);
        n++;
    }
    if (sr) stream_close(sr);
    tasks_stream_free(&ts);
    free(seen);
    CHECK(n == 2500 && mismatch == 0, "read %d records back, %d differ from the stream", n, mismatch);

    // A finished directory is not written again.
    CHECK(tasks_generate(&o, dir, &e) != 0 && strstr(e.msg, "already finished"), "second run refused: %s", e.msg);
    // Bad options are refused before anything is created.
    char *nodir = xasprintf("%s/never", root);
    tasks_opts bad = o;
    bad.shard_records = 0;
    CHECK(tasks_generate(&bad, nodir, &e) != 0 && access(nodir, F_OK) != 0, "bad options: nothing created (%s)", e.msg);
    free(nodir);
    free(dir);
}

// Starts tasks_generate in a child and kills it once `wait_shards` shards exist (or after
// `delay_ms`); returns 0 if the child was killed, 1 if it finished first.
static int run_and_kill(const tasks_opts *o, const char *dir, int wait_shards, int delay_ms) {
    pid_t pid = fork();
    if (pid == 0) {
        berr e;
        _exit(tasks_generate(o, dir, &e) == 0 ? 0 : 1);
    }
    double t0 = now_sec();
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) return 1;
        int ready = now_sec() - t0 >= delay_ms / 1000.0;
        if (wait_shards) {
            char *name = xasprintf("%s/tasks-%08d.shard", dir, wait_shards - 1);
            ready = access(name, F_OK) == 0;
            free(name);
        }
        if (ready) break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 0;
}

static void test_resume(const char *root) {
    tasks_opts o = make_opts(77, 60000, 1000);
    berr e;
    char *clean = xasprintf("%s/resume-clean", root);
    CHECK(tasks_generate(&o, clean, &e) == 0, "clean run: %s", e.msg);
    uint64_t want, want_n, got, got_n;
    size_t want_shards, got_shards;
    int closed;
    CHECK(dir_digest(clean, &want, &want_n, &want_shards, &closed) == 0 && want_n == 60000 && want_shards == 60 && closed, "clean directory");

    uint64_t g = (uint64_t)time(NULL);
    for (int round = 0; round < 4; round++) {
        char *dir = xasprintf("%s/resume-%d", root, round);
        int killed = 0;
        // Round 0 waits for a published shard (a resume with shards); the others kill at random moments.
        if (round == 0) killed = !run_and_kill(&o, dir, 2, 0);
        else killed = !run_and_kill(&o, dir, 0, (int)(rng_next(&g) % 400));
        if (round == 0) {
            CHECK(killed, "the first run was killed before it finished");
            // Resuming with other options is refused and leaves the directory as it was.
            tasks_opts other = o;
            other.seed = 78;
            CHECK(tasks_generate(&other, dir, &e) != 0 && strstr(e.msg, "not written by this command"), "other options refused: %s", e.msg);
        }
        // A second kill during the resumed run, then the final run.
        if (round >= 2) run_and_kill(&o, dir, 0, (int)(rng_next(&g) % 300));
        // A kill that came after the run closed the directory leaves nothing to resume (at most
        // a temporary of its last clean-up, which readers ignore).
        int finished = dir_digest_t(dir, &got, &got_n, &got_shards, &closed, 1) == 0 && closed;
        if (!finished) CHECK(tasks_generate(&o, dir, &e) == 0, "resume round %d: %s", round, e.msg);
        CHECK(dir_digest_t(dir, &got, &got_n, &got_shards, &closed, finished) == 0, "read resumed directory");
        CHECK(got == want && got_n == want_n && got_shards == want_shards && closed,
              "round %d (killed: %d): resumed directory differs from the clean one (%" PRIu64 " records in %zu shards, closed %d)", round, killed,
              got_n, got_shards, closed);
        CHECK(shard_dir_check_manifests(dir, &e) == 0, "manifests after resume: %s", e.msg);
        free(dir);
    }
    free(clean);
}

int main(void) {
    char root[] = "/tmp/berry_tasks_shards_XXXXXX";
    if (!mkdtemp(root)) die("mkdtemp failed");
    test_generate(root);
    test_resume(root);
    rm_rf(root);
    return test_summary();
}
