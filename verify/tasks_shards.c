// tasks_shards.c — tasks_generate: a problem stream written into a shard directory as
// producer "tasks", one shard per o->shard_records problems, then the directory closed.
//
// Each shard's metadata says which options made it and the stream index of its first
// record. A run killed part-way leaves whole shards only (the directory writer publishes
// by rename); running the same command again checks those shards' metadata, regenerates
// (and skips) the problems they hold, and continues from there, so the finished directory
// is the same as one written without interruption. Different options are refused.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shards/stream.h"
#include "verify/tasks.h"

#define PRODUCER "tasks"
#define META_MAGIC "berry tasks_generate v2\n"  // v2: repeats skipped, --count distinct problems

static void opts_line(char *buf, size_t cap, const tasks_opts *o) {
    snprintf(buf, cap, "kinds=0x%x difficulty=%d-%d split=%u heldout_pct=%d seed=%" PRIu64 " count=%lld shard_records=%lld", o->kinds,
             o->min_difficulty, o->max_difficulty, o->split, o->heldout_pct, o->seed, (long long)o->count, (long long)o->shard_records);
}

// Sums the records of the shards this producer already published, checking that they were
// made with the same options and follow each other in the stream.
static int published_records(const char *dir, const char *config, uint64_t *total, berr *e) {
    shard_dir_listing l;
    if (shard_dir_list(dir, &l, e)) return -1;
    int rc = 0;
    *total = 0;
    for (size_t i = 0; i < l.n_shards && !rc; i++) {
        if (strcmp(l.shards[i].producer, PRODUCER) != 0) continue;
        char *path = xasprintf("%s/%s", dir, l.shards[i].name);
        shard_reader *r = shard_open(path, e);
        if (!r) {
            rc = -1;
        } else {
            size_t mlen;
            const char *meta = (const char *)shard_get_meta(r, &mlen);
            char want[768];
            int n = snprintf(want, sizeof want, "%s%s\nfirst=%" PRIu64 "\n", META_MAGIC, config, *total);
            if (!meta || mlen != (size_t)n || memcmp(meta, want, mlen) != 0) {
                rc = berr_set(e,
                              "%s was not written by this command (other options, or not in stream order): expected metadata '%s'; "
                              "generate into a new directory or remove it",
                              path, want);
            } else if (shard_get_info(r)->kind != SHARD_PROBLEMS) {
                rc = berr_set(e, "%s holds %s records, not problems", path, shard_kind_name(shard_get_info(r)->kind));
            } else {
                *total += shard_get_info(r)->count;
            }
            shard_close(r);
        }
        free(path);
    }
    shard_dir_listing_free(&l);
    return rc;
}

// Ids seen so far (open addressing; 0 marks an empty slot, so id 0 is kept apart).
typedef struct id_set {
    uint64_t *slot;
    size_t cap, n;
    int has_zero;
} id_set;

// Adds id; 0 if it was already there.
static int id_set_add(id_set *s, uint64_t id) {
    if (id == 0) {
        if (s->has_zero) return 0;
        return s->has_zero = 1;
    }
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        uint64_t *old = s->slot, oc = s->cap;
        s->slot = xcalloc(cap, sizeof *s->slot);
        s->cap = cap;
        s->n = 0;
        for (size_t i = 0; i < oc; i++)
            if (old[i]) id_set_add(s, old[i]);
        free(old);
    }
    size_t k = (size_t)(mix64(id, 0x1d5e7) & (s->cap - 1));
    while (s->slot[k]) {
        if (s->slot[k] == id) return 0;
        k = (k + 1) & (s->cap - 1);
    }
    s->slot[k] = id;
    s->n++;
    return 1;
}

static void id_set_free(id_set *s) {
    free(s->slot);
    memset(s, 0, sizeof *s);
}

static int publish(shard_dir_writer *w, const char *config, uint64_t first, berr *e) {
    char meta[768];
    int n = snprintf(meta, sizeof meta, "%s%s\nfirst=%" PRIu64 "\n", META_MAGIC, config, first);
    return shard_dir_publish(w, meta, (size_t)n, e);
}

int tasks_generate(const tasks_opts *o, const char *out_dir, berr *e) {
    if (tasks_opts_check(o, e)) return -1;
    char config[512];
    opts_line(config, sizeof config, o);
    shard_dir_opts d;
    memset(&d, 0, sizeof d);  // no automatic rolling: each shard is published with its metadata
    shard_dir_writer *w = shard_dir_writer_open(out_dir, PRODUCER, SHARD_PROBLEMS, PROBLEM_SCHEMA, &d, e);
    if (!w) return berr_wrap(e, "generate into %s", out_dir);
    if (shard_dir_writer_is_closed(w)) {
        shard_dir_abort(w);
        return berr_set(e, "%s was already finished by an earlier run (producer '%s' closed it); generate into a new directory", out_dir, PRODUCER);
    }
    uint64_t done = 0;
    if (shard_dir_published(w) > 0 && published_records(out_dir, config, &done, e)) {
        shard_dir_abort(w);
        return berr_wrap(e, "resuming %s", out_dir);
    }
    if (done > (uint64_t)o->count) {
        shard_dir_abort(w);
        return berr_set(e, "%s already holds %" PRIu64 " problems, more than --count %lld", out_dir, done, (long long)o->count);
    }
    if (done && o->progress) fprintf(stderr, "generate: %s holds %" PRIu64 " problems from an earlier run; continuing after them\n", out_dir, done);

    tasks_stream s;
    if (tasks_stream_init(&s, o, e)) {
        shard_dir_abort(w);
        return -1;
    }
    bbuf rec = {0};
    problem_rec p;
    int rc = 0;
    double t0 = now_sec(), last = t0;
    uint64_t first = done, counts[TASK_CODE + 1] = {0};
    // A split holds each problem once: the stream's repeats (likely where a task space is
    // small, e.g. difficulty 1) are skipped, so --count is the number of distinct problems.
    id_set seen = {0};
    uint64_t drawn = 0, max_draws = 64 * (uint64_t)o->count + 4096;
    for (uint64_t i = 0; i < (uint64_t)o->count && !rc;) {
        if (drawn++ == max_draws) {
            rc = berr_set(e, "only %" PRIu64 " distinct problems in %" PRIu64 " draws: the tasks of these options (kinds, "
                             "difficulty, split) are too few for --count %lld", i, max_draws, (long long)o->count);
            break;
        }
        if (tasks_stream_next(&s, &p, e)) {
            rc = -1;
            break;
        }
        if (!id_set_add(&seen, p.id)) {
            problem_free(&p);
            continue;
        }
        if (i >= done) {
            rec.n = 0;
            problem_encode(&rec, &p);
            rc = shard_dir_append(w, rec.p, rec.n, e);
            counts[p.task]++;
            if (!rc && shard_dir_pending(w) == (uint64_t)o->shard_records) {
                rc = publish(w, config, first, e);
                first = i + 1;
            }
        }
        problem_free(&p);
        i++;
        if (o->progress && now_sec() - last >= 2.0) {
            last = now_sec();
            fprintf(stderr, "generate: %" PRIu64 " / %lld problems, %" PRIu64 " shards, %.0f problems/s\n", i, (long long)o->count,
                    shard_dir_published(w), (double)(i - done) / (last - t0));
        }
    }
    id_set_free(&seen);
    if (!rc && shard_dir_pending(w) > 0) rc = publish(w, config, first, e);
    bbuf_free(&rec);
    tasks_stream_free(&s);
    if (rc) {
        shard_dir_abort(w);  // published shards stay; a rerun continues after them
        return berr_wrap(e, "generate into %s", out_dir);
    }
    uint64_t shards = shard_dir_published(w);
    if (shard_dir_close(w, e)) return berr_wrap(e, "closing %s", out_dir);
    if (o->progress)
        fprintf(stderr, "generate: %s holds %lld problems in %" PRIu64 " shards, closed; this run wrote %" PRIu64 " (arith %" PRIu64 ", linear %" PRIu64
                        ", algebra %" PRIu64 ", code %" PRIu64 ") in %.1f s\n",
                out_dir, (long long)o->count, shards, (uint64_t)o->count - done, counts[TASK_ARITH], counts[TASK_LINEAR], counts[TASK_ALGEBRA],
                counts[TASK_CODE], now_sec() - t0);
    return 0;
}
