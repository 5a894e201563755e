// token_source.c — random access by token position over berry token shards and llm.c
// token files (see token_source.h).
#include "shards/token_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shards/records.h"
#include "shards/shard.h"
#include "shards/stream.h"

#define OPEN_CACHE 8  // shard readers kept open (an LRU)

static int pread_all(int fd, void *dst, size_t n, uint64_t off, const char *path, berr *e) {
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(fd, (uint8_t *)dst + done, n - done, (off_t)(off + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return berr_set(e, "%s: read failed at byte offset %llu: %s", path,
                                     (unsigned long long)(off + done), strerror(errno));
        if (got == 0)
            return berr_set(e, "%s: truncated at byte offset %llu", path, (unsigned long long)(off + done));
        done += (size_t)got;
    }
    return 0;
}

int llmc_tokens_sniff(const char *path, berr *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return berr_set(e, "cannot open %s: %s", path, strerror(errno));
    uint8_t h[4];
    ssize_t got = pread(fd, h, 4, 0);
    close(fd);
    return got == 4 && le32(h) == LLMC_TOKENS_MAGIC;
}

int llmc_tokens_check(const char *path, uint64_t *count, berr *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return berr_set(e, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    uint8_t h[LLMC_HEADER_INTS * 4];
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) rc = berr_set(e, "%s: not a regular file", path);
    else if ((uint64_t)st.st_size < sizeof h)
        rc = berr_set(e, "%s: truncated: %lld bytes, the llm.c header alone is %zu (at byte offset %lld)", path,
                      (long long)st.st_size, sizeof h, (long long)st.st_size);
    else rc = pread_all(fd, h, sizeof h, 0, path, e);
    close(fd);
    if (rc) return -1;
    if (le32(h) != LLMC_TOKENS_MAGIC)
        return berr_set(e, "%s: bad magic %u at byte offset 0 (an llm.c token file has %d)", path, le32(h),
                        LLMC_TOKENS_MAGIC);
    if (le32(h + 4) != LLMC_TOKENS_VERSION)
        return berr_set(e, "%s: unsupported llm.c token file version %u at byte offset 4 (this build reads %d: uint16 "
                        "tokens)", path, le32(h + 4), LLMC_TOKENS_VERSION);
    uint32_t n = le32(h + 8);
    if (n > INT32_MAX) return berr_set(e, "%s: negative token count at byte offset 8", path);
    uint64_t want = sizeof h + 2ull * n;
    if ((uint64_t)st.st_size != want)
        return berr_set(e, "%s: the header (byte offset 8) says %u tokens, so %llu bytes, the file has %lld%s", path, n,
                        (unsigned long long)want, (long long)st.st_size,
                        (uint64_t)st.st_size < want ? " (truncated)" : "");
    *count = n;
    return 0;
}

// ---- segments --------------------------------------------------------------------------------------

typedef struct segment {
    char *path;
    int llmc;              // 1: llm.c file, 0: berry token shard
    uint64_t first, count; // global position of its first token, tokens
    uint64_t records;
    uint64_t *rec_start;   // shards: token position of each record in the segment (records + 1)
    uint32_t schema;
} segment;

typedef struct cached {
    size_t seg;
    shard_reader *r;  // shards
    int fd;           // llm.c files
    uint64_t used;
} cached;

struct token_source {
    segment *segs;
    size_t n, cap;
    uint64_t total;
    cached cache[OPEN_CACHE];
    uint64_t clock;
    uint8_t *buf;
    size_t buf_cap;
};

uint64_t token_source_count(const token_source *t) { return t->total; }
size_t token_source_files(const token_source *t) { return t->n; }
const char *token_source_file(const token_source *t, size_t i, uint64_t *first, uint64_t *count) {
    if (first) *first = t->segs[i].first;
    if (count) *count = t->segs[i].count;
    return t->segs[i].path;
}

void token_source_close(token_source *t) {
    if (!t) return;
    for (int i = 0; i < OPEN_CACHE; i++) {
        shard_close(t->cache[i].r);
        if (t->cache[i].fd >= 0) close(t->cache[i].fd);
    }
    for (size_t i = 0; i < t->n; i++) {
        free(t->segs[i].path);
        free(t->segs[i].rec_start);
    }
    free(t->segs);
    free(t->buf);
    free(t);
}

static segment *add_seg(token_source *t, const char *path) {
    if (t->n == t->cap) t->segs = xrealloc(t->segs, (t->cap = t->cap ? 2 * t->cap : 16) * sizeof *t->segs);
    segment *s = &t->segs[t->n++];
    memset(s, 0, sizeof *s);
    s->path = xstrdup(path);
    s->first = t->total;
    return s;
}

static int add_file(token_source *t, const char *path, berr *e) {
    int llmc = llmc_tokens_sniff(path, e);
    if (llmc < 0) return -1;
    if (llmc) {
        uint64_t n;
        if (llmc_tokens_check(path, &n, e)) return -1;
        segment *s = add_seg(t, path);
        s->llmc = 1;
        s->count = n;
        t->total += n;
        return 0;
    }
    shard_reader *r = shard_open(path, e);
    if (!r) return -1;
    const shard_info *in = shard_get_info(r);
    if (in->kind != SHARD_TOKENS) {
        berr_set(e, "%s: holds %s records, not tokens", path, shard_kind_name(in->kind));
        shard_close(r);
        return -1;
    }
    segment *s = add_seg(t, path);
    s->records = in->count;
    s->schema = in->schema_version;
    s->rec_start = xmalloc((in->count + 1) * sizeof *s->rec_start);
    uint64_t pos = 0;
    for (uint64_t i = 0; i < in->count; i++) {
        s->rec_start[i] = pos;
        pos += shard_record_key(r, i);
    }
    s->rec_start[in->count] = pos;
    s->count = pos;
    t->total += pos;
    shard_close(r);
    return 0;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int add_dir(token_source *t, const char *dir, berr *e) {
    shard_dir_listing l;
    if (shard_dir_list(dir, &l, e)) return -1;
    int rc = 0;
    for (size_t i = 0; i < l.n_shards && !rc; i++) {
        char *p = xasprintf("%s/%s", dir, l.shards[i].name);
        rc = add_file(t, p, e);
        free(p);
    }
    shard_dir_listing_free(&l);
    if (rc) return -1;
    DIR *d = opendir(dir);
    if (!d) return berr_set(e, "cannot open directory %s: %s", dir, strerror(errno));
    char **bins = NULL;
    size_t nb = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t k = strlen(de->d_name);
        if (de->d_name[0] == '.' || k < 5 || strcmp(de->d_name + k - 4, ".bin") != 0) continue;
        if (nb == cap) bins = xrealloc(bins, (cap = cap ? 2 * cap : 16) * sizeof *bins);
        bins[nb++] = xasprintf("%s/%s", dir, de->d_name);
    }
    closedir(d);
    if (nb > 1) qsort(bins, nb, sizeof *bins, name_cmp);
    for (size_t i = 0; i < nb; i++) {
        if (!rc) rc = add_file(t, bins[i], e);
        free(bins[i]);
    }
    free(bins);
    return rc;
}

token_source *token_source_open(const char *const *paths, int n, berr *e) {
    token_source *t = xcalloc(1, sizeof *t);
    for (int i = 0; i < OPEN_CACHE; i++) t->cache[i].fd = -1;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            berr_set(e, "cannot open %s: %s", paths[i], strerror(errno));
            token_source_close(t);
            return NULL;
        }
        if ((S_ISDIR(st.st_mode) ? add_dir(t, paths[i], e) : add_file(t, paths[i], e))) {
            token_source_close(t);
            return NULL;
        }
    }
    return t;
}

// The open handle of segment k, opening it (evicting the least recently used) if needed.
static cached *handle(token_source *t, size_t k, berr *e) {
    cached *victim = &t->cache[0];
    for (int i = 0; i < OPEN_CACHE; i++) {
        cached *c = &t->cache[i];
        if ((c->r || c->fd >= 0) && c->seg == k) {
            c->used = ++t->clock;
            return c;
        }
        if (c->used < victim->used) victim = c;
    }
    shard_close(victim->r);
    victim->r = NULL;
    if (victim->fd >= 0) close(victim->fd);
    victim->fd = -1;
    const segment *s = &t->segs[k];
    if (s->llmc) {
        victim->fd = open(s->path, O_RDONLY | O_CLOEXEC);
        if (victim->fd < 0) {
            berr_set(e, "cannot open %s: %s", s->path, strerror(errno));
            return NULL;
        }
    } else {
        victim->r = shard_open(s->path, e);
        if (!victim->r) return NULL;
        const shard_info *in = shard_get_info(victim->r);
        if (in->count != s->records || in->key_sum != s->count) {
            berr_set(e, "%s: changed since the token source was opened", s->path);
            shard_close(victim->r);
            victim->r = NULL;
            return NULL;
        }
    }
    victim->seg = k;
    victim->used = ++t->clock;
    return victim;
}

// Reads n tokens starting at position off of segment k (the range lies inside it).
static int read_segment(token_source *t, size_t k, uint64_t off, size_t n, uint32_t *out, berr *e) {
    const segment *s = &t->segs[k];
    cached *c = handle(t, k, e);
    if (!c) return -1;
    if (s->llmc) {
        if (2 * n > t->buf_cap) {
            free(t->buf);
            t->buf = xmalloc(t->buf_cap = 2 * n);
        }
        if (pread_all(c->fd, t->buf, 2 * n, LLMC_HEADER_INTS * 4 + 2 * off, s->path, e)) return -1;
        for (size_t i = 0; i < n; i++) out[i] = (uint32_t)t->buf[2 * i] | (uint32_t)t->buf[2 * i + 1] << 8;
        return 0;
    }
    // The record holding position off: the last with rec_start <= off (skipping empty records).
    uint64_t lo = 0, hi = s->records - 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (s->rec_start[mid] <= off) lo = mid;
        else hi = mid - 1;
    }
    for (uint64_t i = lo; n > 0; i++) {
        const uint8_t *rec;
        size_t len;
        if (shard_get(c->r, i, &rec, &len, e)) return -1;
        tokens_view v;
        if (tokens_view_decode(rec, len, s->schema, &v, e)) return record_refused(e, s->path, i, shard_get_info(c->r));
        uint64_t want = s->rec_start[i + 1] - s->rec_start[i];
        if (v.n != want)
            return berr_set(e, "%s: record %llu holds %u tokens, its index key says %llu", s->path,
                            (unsigned long long)i, v.n, (unsigned long long)want);
        uint64_t from = off - s->rec_start[i];
        size_t take = (size_t)(v.n - from < n ? v.n - from : n);
        for (size_t j = 0; j < take; j++) out[j] = tokens_view_at(&v, (uint32_t)(from + j));
        out += take;
        off += take;
        n -= take;
    }
    return 0;
}

int token_source_read(token_source *t, uint64_t off, size_t n, uint32_t *out, berr *e) {
    if (off > t->total || n > t->total - off)
        return berr_set(e, "token range [%llu, %llu) passes the end of the stream (%llu tokens)", (unsigned long long)off,
                        (unsigned long long)(off + n), (unsigned long long)t->total);
    // First segment that ends after off.
    size_t lo = 0, hi = t->n - 1;
    while (n > 0 && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->segs[mid].first + t->segs[mid].count <= off) lo = mid + 1;
        else hi = mid;
    }
    for (size_t k = lo; n > 0; k++) {
        const segment *s = &t->segs[k];
        if (off >= s->first + s->count) continue;  // empty segments
        uint64_t in = off - s->first;
        size_t take = (size_t)(s->count - in < n ? s->count - in : n);
        if (read_segment(t, k, in, take, out, e)) return -1;
        out += take;
        off += take;
        n -= take;
    }
    return 0;
}
