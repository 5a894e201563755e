// stream.c — consumers of a shard directory (durable cursor, split between parts) and the
// exactly-once stage that consumes one directory and publishes another
// (protocol: shards/FORMAT.md, "Streaming" and "Exactly once").
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shards/records.h"
#include "shards/stream.h"

// Per input producer: shards with seq < seq are done, and records < rec of shard seq.
typedef struct prod_cursor {
    char *producer;
    uint64_t seq, rec;
} prod_cursor;

struct stream_reader {
    char *dir;
    stream_opts o;
    prod_cursor *cur;
    size_t n_cur, cap_cur;
    int started;
    shard_dir_listing listing;
    int have_listing;
    shard_reader *open;
    size_t open_cursor;  // index into cur of the open shard's producer
    uint64_t open_seq;
    char *open_name;
    uint64_t records_read;
    int inotify_fd;
    double last_progress;
};

static int rescan(stream_reader *s, berr *e);

static int part_of(const stream_reader *s, const char *name) {
    return s->o.parts <= 1 || hash64(name, strlen(name), 0) % s->o.parts == s->o.part;
}

static prod_cursor *cursor_for(stream_reader *s, const char *producer, size_t *index) {
    for (size_t i = 0; i < s->n_cur; i++)
        if (strcmp(s->cur[i].producer, producer) == 0) {
            if (index) *index = i;
            return &s->cur[i];
        }
    if (s->n_cur == s->cap_cur) s->cur = xrealloc(s->cur, (s->cap_cur = s->cap_cur ? 2 * s->cap_cur : 8) * sizeof *s->cur);
    s->cur[s->n_cur] = (prod_cursor){xstrdup(producer), 0, 0};
    if (index) *index = s->n_cur;
    return &s->cur[s->n_cur++];
}

stream_reader *stream_open(const char *dir, const stream_opts *o, berr *e) {
    stream_reader *s = xcalloc(1, sizeof *s);
    s->inotify_fd = -1;
    s->dir = xstrdup(dir);
    if (o) s->o = *o;
    if (s->o.parts == 0) s->o.parts = 1;
    if (s->o.part >= s->o.parts) {
        berr_set(e, "%s: consumer part %u of %u does not exist (parts count from 0)", dir, s->o.part, s->o.parts);
        stream_close(s);
        return NULL;
    }
    if (s->o.poll_seconds <= 0) s->o.poll_seconds = 0.05;
    // The directory may not exist yet (its producer starts later): that reads as empty.
    if (rescan(s, e)) {
        stream_close(s);
        return NULL;
    }
    s->last_progress = now_sec();
    return s;
}

void stream_close(stream_reader *s) {
    if (!s) return;
    shard_close(s->open);
    if (s->have_listing) shard_dir_listing_free(&s->listing);
    for (size_t i = 0; i < s->n_cur; i++) free(s->cur[i].producer);
    free(s->cur);
    free(s->open_name);
    if (s->inotify_fd >= 0) close(s->inotify_fd);
    free(s->dir);
    free(s);
}

uint64_t stream_records_read(const stream_reader *s) { return s->records_read; }

// ---- cursor text -------------------------------------------------------------------------------------
//   berry-cursor 1
//   commit <n>
//   part <k> <n>
//   input <producer> <next seq> <next record>     (one line per input producer, sorted)

static int pc_cmp(const void *a, const void *b) {
    return strcmp(((const prod_cursor *)a)->producer, ((const prod_cursor *)b)->producer);
}

char *stream_cursor(const stream_reader *s, uint64_t commit) {
    prod_cursor *v = xmalloc((s->n_cur ? s->n_cur : 1) * sizeof *v);
    if (s->n_cur) memcpy(v, s->cur, s->n_cur * sizeof *v);
    if (s->n_cur > 1) qsort(v, s->n_cur, sizeof *v, pc_cmp);
    bbuf b = {0};
    char line[256];
    int n = snprintf(line, sizeof line, "berry-cursor 1\ncommit %llu\npart %u %u\n", (unsigned long long)commit,
                     s->o.part, s->o.parts);
    bbuf_put(&b, line, (size_t)n);
    for (size_t i = 0; i < s->n_cur; i++) {
        n = snprintf(line, sizeof line, "input %s %llu %llu\n", v[i].producer, (unsigned long long)v[i].seq,
                     (unsigned long long)v[i].rec);
        bbuf_put(&b, line, (size_t)n);
    }
    free(v);
    bbuf_u8(&b, 0);
    return (char *)b.p;
}

static int u64_token(const char *t, uint64_t *v) {
    if (!*t || strlen(t) > 20) return -1;
    uint64_t x = 0;
    for (; *t; t++) {
        if (*t < '0' || *t > '9' || x > (UINT64_MAX - 9) / 10) return -1;
        x = x * 10 + (uint64_t)(*t - '0');
    }
    *v = x;
    return 0;
}

// Parses cursor text into (commit, part, parts, producer cursors); the caller frees *pcs.
static int cursor_parse(const char *text, size_t len, uint64_t *commit, uint32_t *part, uint32_t *parts,
                        prod_cursor **pcs, size_t *n_pcs, berr *e) {
    *pcs = NULL;
    *n_pcs = 0;
    if (memchr(text, 0, len)) return berr_set(e, "cursor holds a NUL byte");
    char *buf = xmalloc(len + 1);
    memcpy(buf, text, len);
    buf[len] = 0;
    int rc = 0, line_no = 0, have_commit = 0, have_part = 0;
    size_t cap = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char *tok[5], *s2 = NULL;
        int nt = 0;
        for (char *t = strtok_r(line, " ", &s2); t && nt < 5; t = strtok_r(NULL, " ", &s2)) tok[nt++] = t;
        uint64_t a = 0, b = 0;
        if (line_no == 1) {
            if (nt != 2 || strcmp(tok[0], "berry-cursor") || strcmp(tok[1], "1"))
                rc = berr_set(e, "cursor line 1: expected 'berry-cursor 1'");
        } else if (nt == 2 && !strcmp(tok[0], "commit") && !have_commit) {
            if (u64_token(tok[1], commit)) rc = berr_set(e, "cursor line %d: bad commit number", line_no);
            have_commit = 1;
        } else if (nt == 3 && !strcmp(tok[0], "part") && !have_part) {
            if (u64_token(tok[1], &a) || u64_token(tok[2], &b) || b == 0 || a >= b || b > UINT32_MAX)
                rc = berr_set(e, "cursor line %d: bad part", line_no);
            *part = (uint32_t)a;
            *parts = (uint32_t)b;
            have_part = 1;
        } else if (nt == 4 && !strcmp(tok[0], "input")) {
            if (!shard_producer_name_ok(tok[1]) || u64_token(tok[2], &a) || u64_token(tok[3], &b)) {
                rc = berr_set(e, "cursor line %d: malformed input line", line_no);
                break;
            }
            for (size_t i = 0; i < *n_pcs; i++)
                if (!strcmp((*pcs)[i].producer, tok[1])) rc = berr_set(e, "cursor line %d: producer %s twice", line_no, tok[1]);
            if (*n_pcs == cap) *pcs = xrealloc(*pcs, (cap = cap ? 2 * cap : 8) * sizeof **pcs);
            (*pcs)[(*n_pcs)++] = (prod_cursor){xstrdup(tok[1]), a, b};
        } else {
            rc = berr_set(e, "cursor line %d: unexpected line", line_no);
        }
    }
    free(buf);
    if (!rc && (!have_commit || !have_part)) rc = berr_set(e, "cursor is incomplete");
    if (rc) {
        for (size_t i = 0; i < *n_pcs; i++) free((*pcs)[i].producer);
        free(*pcs);
        *pcs = NULL;
        *n_pcs = 0;
    }
    return rc;
}

int stream_set_cursor(stream_reader *s, const char *text, size_t len, uint64_t *commit, berr *e) {
    if (s->started) return berr_set(e, "%s: the cursor can only be set before reading", s->dir);
    uint64_t c = 0;
    uint32_t part = 0, parts = 0;
    prod_cursor *pcs;
    size_t n;
    if (cursor_parse(text, len, &c, &part, &parts, &pcs, &n, e)) return -1;
    if (part != s->o.part || parts != s->o.parts) {
        for (size_t i = 0; i < n; i++) free(pcs[i].producer);
        free(pcs);
        return berr_set(e, "%s: the cursor belongs to consumer part %u of %u, this is part %u of %u", s->dir, part,
                        parts, s->o.part, s->o.parts);
    }
    for (size_t i = 0; i < s->n_cur; i++) free(s->cur[i].producer);
    free(s->cur);
    s->cur = pcs;
    s->n_cur = s->cap_cur = n;
    if (commit) *commit = c;
    return 0;
}

int stream_save_cursor(const stream_reader *s, const char *path, berr *e) {
    char *t = stream_cursor(s, 0);
    int rc = write_file_atomic(path, t, strlen(t), e);
    free(t);
    return rc;
}

int stream_load_cursor(stream_reader *s, const char *path, berr *e) {
    if (access(path, F_OK) != 0) return 0;
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, e)) return -1;
    int rc = stream_set_cursor(s, buf, len, NULL, e);
    free(buf);
    if (rc) berr_wrap(e, "%s", path);
    return rc;
}

// ---- reading ------------------------------------------------------------------------------------------

// Opens the next shard of this part that is not done: the smallest (seq, producer) among
// each producer's next shard. Returns 1 if one was opened, 0 if none is available.
//
// A producer numbers its shards 0, 1, 2, ... and publishes them in order, but one readdir
// pass can miss a shard published during it while seeing a later one. So a shard is taken
// only when every seq from the cursor up to it is in the listing (of any part): a gap
// means "not visible yet" in an open directory, and an error in a closed one.
static int open_next_shard(stream_reader *s, berr *e) {
    const shard_dir_entry *best = NULL;
    const shard_dir_entry *v = s->listing.shards;
    size_t n = s->listing.n_shards;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && !strcmp(v[j].producer, v[i].producer)) j++;  // [i, j): one producer, by seq
        uint64_t expect = cursor_for(s, v[i].producer, NULL)->seq;
        for (size_t k = i; k < j; k++) {
            if (v[k].seq < expect) continue;
            if (v[k].seq != expect) {
                if (s->listing.closed)
                    return berr_set(e, "%s: %s-%0*llu.shard is missing (a producer's shards are numbered without gaps)",
                                    s->dir, v[k].producer, SHARD_SEQ_DIGITS, (unsigned long long)expect);
                break;
            }
            expect++;
            if (!part_of(s, v[k].name)) continue;
            if (!best || v[k].seq < best->seq || (v[k].seq == best->seq && strcmp(v[k].producer, best->producer) < 0))
                best = &v[k];
            break;
        }
        i = j;
    }
    if (!best) return 0;
    size_t ci;
    prod_cursor *pc = cursor_for(s, best->producer, &ci);
    if (best->seq > pc->seq && pc->rec > 0)
        return berr_set(e, "%s: the cursor is at record %llu of %s-%0*llu.shard, which is missing", s->dir,
                        (unsigned long long)pc->rec, pc->producer, SHARD_SEQ_DIGITS, (unsigned long long)pc->seq);
    char *path = xasprintf("%s/%s", s->dir, best->name);
    shard_reader *r = shard_open(path, e);
    free(path);
    if (!r) return -1;
    const shard_info *in = shard_get_info(r);
    if (s->o.expect_kind && in->kind != s->o.expect_kind) {
        berr_set(e, "%s/%s: holds %s records, expected %s", s->dir, best->name, shard_kind_name(in->kind),
                 shard_kind_name(s->o.expect_kind));
        shard_close(r);
        return -1;
    }
    if (best->seq > pc->seq) {
        pc->seq = best->seq;
        pc->rec = 0;
    }
    if (pc->rec > in->count) {
        berr_set(e, "%s/%s: the cursor is at record %llu, the shard has %llu", s->dir, best->name,
                 (unsigned long long)pc->rec, (unsigned long long)in->count);
        shard_close(r);
        return -1;
    }
    s->open = r;
    s->open_cursor = ci;
    s->open_seq = best->seq;
    free(s->open_name);
    s->open_name = xstrdup(best->name);
    s->last_progress = now_sec();
    return 1;
}

static int rescan(stream_reader *s, berr *e) {
    shard_dir_listing l;
    struct stat st;
    if (stat(s->dir, &st) != 0 && errno == ENOENT) {
        memset(&l, 0, sizeof l);  // not created yet: nothing published
    } else {
        if (shard_dir_list(s->dir, &l, e)) return -1;
        // inotify only makes waiting quicker; the poll interval keeps it correct without it.
        if (s->inotify_fd < 0) {
            s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
            if (s->inotify_fd >= 0 &&
                inotify_add_watch(s->inotify_fd, s->dir, IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE) < 0) {
                close(s->inotify_fd);
                s->inotify_fd = -2;  // do not try again
            }
        }
    }
    if (s->have_listing) shard_dir_listing_free(&s->listing);
    s->listing = l;
    s->have_listing = 1;
    return 0;
}

// Sleeps until the directory changes or the poll interval passes.
static void wait_for_change(stream_reader *s) {
    int ms = (int)(s->o.poll_seconds * 1000);
    if (ms < 1) ms = 1;
    if (s->inotify_fd >= 0) {
        struct pollfd p = {.fd = s->inotify_fd, .events = POLLIN};
        if (poll(&p, 1, ms) > 0) {
            char buf[4096];
            while (read(s->inotify_fd, buf, sizeof buf) > 0) {
            }
        }
    } else {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int stream_next(stream_reader *s, int wait, const uint8_t **rec, size_t *len, stream_pos *pos, berr *e) {
    s->started = 1;
    for (;;) {
        if (s->open) {
            prod_cursor *pc = &s->cur[s->open_cursor];
            const shard_info *in = shard_get_info(s->open);
            if (pc->rec < in->count) {
                if (shard_get(s->open, pc->rec, rec, len, e)) return -1;
                if (pos) {
                    pos->shard = s->open_name;
                    pos->producer = pc->producer;
                    pos->seq = s->open_seq;
                    pos->record = pc->rec;
                    pos->kind = in->kind;
                    pos->schema = in->schema_version;
                    pos->key = shard_record_key(s->open, pc->rec);
                    pos->info = in;
                }
                pc->rec++;
                s->records_read++;
                return STREAM_RECORD;
            }
            pc->seq = s->open_seq + 1;
            pc->rec = 0;
            shard_close(s->open);
            s->open = NULL;
            continue;
        }
        int got = open_next_shard(s, e);
        if (got < 0) return -1;
        if (got) continue;
        // Nothing left in the listing: finished if it was closed (then it lists every shard).
        if (s->listing.closed) return STREAM_END;
        if (rescan(s, e)) return -1;
        got = open_next_shard(s, e);
        if (got < 0) return -1;
        if (got) continue;
        if (s->listing.closed) return STREAM_END;
        if (!wait) return STREAM_EMPTY;
        if (s->o.idle_timeout > 0 && now_sec() - s->last_progress > s->o.idle_timeout)
            return berr_set(e, "%s: no new shard for %.1f s and the directory is not closed (no CLOSED file)", s->dir,
                            s->o.idle_timeout);
        wait_for_change(s);
    }
}

int stream_refused(const char *dir, const stream_pos *pos, berr *e) {
    char *path = xasprintf("%s/%s", dir, pos->shard);
    record_refused(e, path, pos->record, pos->info);
    free(path);
    return -1;
}

// ---- the exactly-once stage ---------------------------------------------------------------------------------

struct stream_stage {
    stream_reader *in;
    shard_dir_writer *out;
    stage_opts o;
    char *producer, *out_dir, *cursor_path;
    uint64_t commit;          // number of the last commit
    int dirty;                // input records consumed since the last commit
    uint64_t inputs_since;    // how many
    double last_commit;
    int ended;
};

const char *stage_producer(const stream_stage *st) { return st->producer; }
uint64_t stage_commits(const stream_stage *st) { return st->commit; }

void stage_abort(stream_stage *st) {
    if (!st) return;
    stream_close(st->in);
    shard_dir_abort(st->out);
    free(st->producer);
    free(st->out_dir);
    free(st->cursor_path);
    free(st);
}

// The cursor the last published output shard of this producer carries (NULL if none).
static int last_output_cursor(stream_stage *st, char **text, size_t *len, berr *e) {
    *text = NULL;
    const char *name = shard_dir_last_name(st->out);
    if (!*name) return 0;
    char *path = xasprintf("%s/%s", st->out_dir, name);
    shard_reader *r = shard_open(path, e);
    if (!r) {
        free(path);
        return -1;
    }
    size_t n;
    const uint8_t *m = shard_get_meta(r, &n);
    int rc = 0;
    if (!m) rc = berr_set(e, "%s: carries no input cursor; was it written by another program than stage %s?", path,
                          st->producer);
    else {
        *text = xmalloc(n + 1);
        memcpy(*text, m, n);
        (*text)[n] = 0;
        *len = n;
    }
    shard_close(r);
    free(path);
    return rc;
}

stream_stage *stage_open(const char *in_dir, const char *out_dir, const char *name, const stage_opts *o, berr *e) {
    stream_stage *st = xcalloc(1, sizeof *st);
    st->o = *o;
    uint32_t parts = o->in.parts ? o->in.parts : 1;
    st->producer = parts > 1 ? xasprintf("%s.p%uof%u", name, o->in.part, parts) : xstrdup(name);
    st->out_dir = xstrdup(out_dir);
    st->cursor_path = xasprintf("%s/%s.cursor", out_dir, st->producer);
    shard_dir_opts out = o->out;
    out.max_records = out.max_raw_bytes = 0;  // the stage decides when to publish (at commits)
    if (out.producers == 0) out.producers = parts;
    st->out = shard_dir_writer_open(out_dir, st->producer, o->out_kind, o->out_schema, &out, e);
    if (!st->out) goto fail;
    st->in = stream_open(in_dir, &o->in, e);
    if (!st->in) goto fail;

    // Restore: the newer of the last output shard's cursor and the cursor file.
    char *shard_text = NULL, *file_text = NULL;
    size_t shard_len = 0, file_len = 0;
    uint64_t shard_commit = 0, file_commit = 0;
    if (last_output_cursor(st, &shard_text, &shard_len, e)) goto fail;
    if (access(st->cursor_path, F_OK) == 0 && read_file(st->cursor_path, &file_text, &file_len, e)) {
        free(shard_text);
        goto fail;
    }
    int rc = 0;
    // Parse both (the reader keeps the last one set; set the older first).
    if (shard_text && stream_set_cursor(st->in, shard_text, shard_len, &shard_commit, e))
        rc = berr_wrap(e, "%s/%s", out_dir, shard_dir_last_name(st->out));
    if (!rc && file_text && stream_set_cursor(st->in, file_text, file_len, &file_commit, e))
        rc = berr_wrap(e, "%s", st->cursor_path);
    if (!rc && shard_text && file_text) {
        if (shard_commit > file_commit) rc = stream_set_cursor(st->in, shard_text, shard_len, NULL, e);
        else if (shard_commit == file_commit && (shard_len != file_len || memcmp(shard_text, file_text, file_len)))
            rc = berr_set(e, "%s and %s/%s hold different cursors for commit %llu", st->cursor_path, out_dir,
                          shard_dir_last_name(st->out), (unsigned long long)file_commit);
    }
    st->commit = shard_commit > file_commit ? shard_commit : file_commit;
    free(shard_text);
    free(file_text);
    if (rc) goto fail;
    st->last_commit = now_sec();
    return st;
fail:
    stage_abort(st);
    return NULL;
}

int stage_commit(stream_stage *st, berr *e) {
    if (!st->dirty && !shard_dir_pending(st->out)) return 0;
    char *text = stream_cursor(st->in, st->commit + 1);
    int rc = 0;
    // Publishing the output shard is the commit; the cursor file only records commits that
    // published nothing (and spares a restart from opening the last shard).
    if (shard_dir_pending(st->out)) rc = shard_dir_publish(st->out, text, strlen(text), e);
    if (!rc) rc = write_file_atomic(st->cursor_path, text, strlen(text), e);
    free(text);
    if (rc) return -1;
    st->commit++;
    st->dirty = 0;
    st->inputs_since = 0;
    st->last_commit = now_sec();
    return 0;
}

static int commit_due(const stream_stage *st) {
    if (!st->dirty) return 0;
    uint64_t pend = shard_dir_pending(st->out);
    if (st->o.out.max_records && pend >= st->o.out.max_records) return 1;
    if (st->o.out.max_raw_bytes && shard_dir_pending_bytes(st->out) >= st->o.out.max_raw_bytes) return 1;
    if (st->o.commit_records && st->inputs_since >= st->o.commit_records) return 1;
    if (st->o.commit_seconds > 0 && pend && now_sec() - st->last_commit >= st->o.commit_seconds) return 1;
    return 0;
}

int stage_next(stream_stage *st, const uint8_t **rec, size_t *len, stream_pos *pos, berr *e) {
    if (commit_due(st) && stage_commit(st, e)) return -1;
    int r = stream_next(st->in, 0, rec, len, pos, e);
    if (r == STREAM_EMPTY) {
        // Hand what we have downstream before waiting.
        if (stage_commit(st, e)) return -1;
        r = stream_next(st->in, 1, rec, len, pos, e);
    }
    if (r == STREAM_RECORD) {
        if (shard_dir_writer_is_closed(st->out))
            return berr_set(e, "%s: stage %s already closed its output, yet input %s has record %llu left",
                            st->out_dir, st->producer, pos ? pos->shard : "?", pos ? (unsigned long long)pos->record : 0ull);
        st->dirty = 1;
        st->inputs_since++;
    }
    if (r == STREAM_END) st->ended = 1;
    return r;
}

int stage_emit(stream_stage *st, const void *rec, size_t len, berr *e) {
    return shard_dir_append(st->out, rec, len, e);
}

int stage_close(stream_stage *st, berr *e) {
    int rc = 0;
    if (!st->ended) rc = berr_set(e, "stage %s: closed before its input was drained", st->producer);
    if (!rc) rc = stage_commit(st, e);
    if (!rc) {
        rc = shard_dir_close(st->out, e);
        st->out = NULL;
    }
    stage_abort(st);
    return rc;
}
