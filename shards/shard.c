// shard.c — the shard container (layout: shards/FORMAT.md).
//
// A writer fills a raw frame buffer with records, compresses it into one zstd frame when it
// reaches the target size, and appends the compressed bytes to a temporary file. At the end
// it appends the index (frame table, record lengths, record keys, metadata), rewrites the
// header at offset 0 and publishes the file atomically.
//
// A reader trusts nothing: every field is checked against the file size and against the
// other fields before it is used, the header and index by their XXH64 checksums at open, and
// each frame by its checksum before it is decompressed.
#include "shards/shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "shards/records.h"

static const char SHARD_MAGIC[8] = {'B', 'R', 'Y', 'S', 'H', 'A', 'R', 'D'};
#define FRAME_ENTRY_BYTES 48  // offset, compressed bytes, raw bytes, first record, records, xxh64
#define HASH_SEED 0

// Fuzz builds skip checksum comparisons so that the fuzzer reaches the index checks, zstd and
// the record decoders behind them (the convention zstd and libFuzzer users share). Every
// other check stays: the reader must be memory-safe on any bytes, checksums or not.
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CHECKSUM_BAD(stored, computed) ((void)(stored), (void)(computed), 0)
#else
#define CHECKSUM_BAD(stored, computed) ((stored) != (computed))
#endif

// Header field offsets (FORMAT.md, "Header").
enum {
    H_MAGIC = 0,
    H_FORMAT = 8,
    H_HEADER_BYTES = 12,
    H_KIND = 16,
    H_SCHEMA = 20,
    H_COUNT = 24,
    H_RAW = 32,
    H_CREATED = 40,
    H_FILE_BYTES = 48,
    H_INDEX_OFFSET = 56,
    H_FRAMES = 64,
    H_META = 68,
    H_FRAME_TARGET = 72,
    H_RESERVED = 76,
    H_INDEX_HASH = 80,
    H_PRODUCER = 88,
    H_HEADER_HASH = 152,
};

static const char *KIND_NAMES[] = {NULL, "tokens", "problems", "trajectories", "verdicts", "scores", "bytes", "labels"};

const char *shard_kind_name(uint32_t kind) {
    return kind >= 1 && kind <= SHARD_KIND_MAX ? KIND_NAMES[kind] : "unknown";
}

uint32_t shard_kind_from_name(const char *name) {
    for (uint32_t k = 1; k <= SHARD_KIND_MAX; k++)
        if (strcmp(name, KIND_NAMES[k]) == 0) return k;
    return 0;
}

// A producer name is printable ASCII without spaces, shorter than SHARD_PRODUCER_MAX.
static int producer_ok(const char *p, size_t n) {
    if (n == 0 || n >= SHARD_PRODUCER_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f) return 0;
    return 1;
}

// ---- writer -------------------------------------------------------------------------------------

struct shard_writer {
    atomic_file af;
    char *path;
    uint32_t kind, schema;
    char producer[SHARD_PRODUCER_MAX];
    uint32_t frame_target;
    ZSTD_CCtx *cctx;
    bbuf frame;          // raw bytes of the records of the open frame
    uint64_t frame_first, frame_records;
    bbuf ftab;           // frame table entries, little-endian
    bbuf lens, keys;     // per record: u32 length, u64 key
    bbuf meta;
    bbuf cbuf;           // compression output
    uint64_t file_off;   // bytes written so far (header placeholder included)
    uint64_t count, raw_bytes;
    int failed;
};

static int64_t creation_time(void) {
    // SOURCE_DATE_EPOCH makes shards bit-for-bit reproducible (reproducible-builds.org).
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (s && *s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (!*end && v >= 0) return v;
    }
    return (int64_t)time(NULL);
}

shard_writer *shard_create_opts(const char *path, uint32_t kind, uint32_t schema_version, const char *producer,
                                const shard_write_opts *o, berr *e) {
    if (kind < 1 || kind > SHARD_KIND_MAX) {
        berr_set(e, "%s: unknown record kind %u", path, kind);
        return NULL;
    }
    uint32_t max_schema = record_schema_max(kind);
    if (schema_version < 1 || schema_version > max_schema) {
        berr_set(e, "%s: schema version %u of kind %s is not one this build writes (1..%u)", path, schema_version,
                 shard_kind_name(kind), max_schema);
        return NULL;
    }
    if (!producer || !producer_ok(producer, strlen(producer))) {
        berr_set(e, "%s: producer name '%s' must be 1..%d printable characters without spaces", path,
                 producer ? producer : "(null)", SHARD_PRODUCER_MAX - 1);
        return NULL;
    }
    uint32_t frame_target = o && o->frame_bytes ? o->frame_bytes : SHARD_FRAME_DEFAULT;
    if (frame_target > SHARD_RECORD_MAX) {
        berr_set(e, "%s: frame size %u is larger than the maximum %u", path, frame_target, SHARD_RECORD_MAX);
        return NULL;
    }
    int level = o && o->zstd_level ? o->zstd_level : SHARD_ZSTD_LEVEL_DEFAULT;
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
        berr_set(e, "%s: zstd level %d is outside [%d, %d]", path, level, ZSTD_minCLevel(), ZSTD_maxCLevel());
        return NULL;
    }
    shard_writer *w = xcalloc(1, sizeof *w);
    if (atomic_open(&w->af, path, e)) {
        free(w);
        return NULL;
    }
    w->path = xstrdup(path);
    w->kind = kind;
    w->schema = schema_version;
    snprintf(w->producer, sizeof w->producer, "%s", producer);
    w->frame_target = frame_target;
    w->cctx = ZSTD_createCCtx();
    if (!w->cctx) die("zstd: cannot create a compression context");
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1);
    uint8_t zero[SHARD_HEADER_BYTES] = {0};  // placeholder; the real header is written last
    if (atomic_write(&w->af, zero, sizeof zero, e)) {
        shard_discard(w);
        return NULL;
    }
    w->file_off = SHARD_HEADER_BYTES;
    return w;
}

shard_writer *shard_create(const char *path, uint32_t kind, uint32_t schema_version, const char *producer, berr *e) {
    return shard_create_opts(path, kind, schema_version, producer, NULL, e);
}

static int flush_frame(shard_writer *w, berr *e) {
    if (w->frame_records == 0) return 0;
    size_t bound = ZSTD_compressBound(w->frame.n);
    w->cbuf.n = 0;
    bbuf_reserve(&w->cbuf, bound);
    size_t c = ZSTD_compress2(w->cctx, w->cbuf.p, bound, w->frame.p, w->frame.n);
    if (ZSTD_isError(c)) return berr_set(e, "%s: zstd compression failed: %s", w->path, ZSTD_getErrorName(c));
    if (atomic_write(&w->af, w->cbuf.p, c, e)) return -1;
    bbuf_u64(&w->ftab, w->file_off);
    bbuf_u64(&w->ftab, c);
    bbuf_u64(&w->ftab, w->frame.n);
    bbuf_u64(&w->ftab, w->frame_first);
    bbuf_u64(&w->ftab, w->frame_records);
    bbuf_u64(&w->ftab, hash64(w->cbuf.p, c, HASH_SEED));
    w->file_off += c;
    w->frame.n = 0;
    w->frame_first = w->count;
    w->frame_records = 0;
    return 0;
}

int shard_append(shard_writer *w, const void *rec, size_t len, berr *e) {
    if (w->failed) return berr_set(e, "%s: writer failed earlier", w->path);
    if (len > SHARD_RECORD_MAX)
        return berr_set(e, "%s: record %llu has %zu bytes, more than the maximum %u", w->path,
                        (unsigned long long)w->count, len, SHARD_RECORD_MAX);
    if (w->ftab.n / FRAME_ENTRY_BYTES >= UINT32_MAX - 1)
        return berr_set(e, "%s: too many frames in one shard", w->path);
    // The readers' own validation (records.h, record_check): a record they would refuse is
    // never published. The writer fails and its temporary goes at once; the caller's
    // shard_finish then publishes nothing.
    uint64_t key;
    if (record_check(w->kind, w->schema, rec, len, &key, e)) {
        w->failed = 1;
        if (w->af.f) atomic_abort(&w->af);
        return berr_wrap(e, "%s: record %llu refused on write (the shard is discarded, nothing is published)", w->path,
                         (unsigned long long)w->count);
    }
    if (w->frame_records && w->frame.n + len > w->frame_target && flush_frame(w, e)) {
        w->failed = 1;
        return -1;
    }
    bbuf_put(&w->frame, rec, len);
    bbuf_u32(&w->lens, (uint32_t)len);
    bbuf_u64(&w->keys, key);
    w->frame_records++;
    w->count++;
    w->raw_bytes += len;
    if (w->frame.n >= w->frame_target && flush_frame(w, e)) {
        w->failed = 1;
        return -1;
    }
    return 0;
}

int shard_set_meta(shard_writer *w, const void *meta, size_t len, berr *e) {
    if (len > SHARD_META_MAX)
        return berr_set(e, "%s: metadata of %zu bytes is larger than the maximum %u", w->path, len, SHARD_META_MAX);
    w->meta.n = 0;
    bbuf_put(&w->meta, meta, len);
    return 0;
}

uint64_t shard_writer_count(const shard_writer *w) { return w->count; }
uint64_t shard_writer_raw_bytes(const shard_writer *w) { return w->raw_bytes; }
const char *shard_writer_path(const shard_writer *w) { return w->path; }

static void writer_free(shard_writer *w) {
    ZSTD_freeCCtx(w->cctx);
    bbuf_free(&w->frame);
    bbuf_free(&w->ftab);
    bbuf_free(&w->lens);
    bbuf_free(&w->keys);
    bbuf_free(&w->meta);
    bbuf_free(&w->cbuf);
    free(w->path);
    free(w);
}

void shard_discard(shard_writer *w) {
    if (!w) return;
    if (w->af.f) atomic_abort(&w->af);
    writer_free(w);
}

int shard_finish(shard_writer *w, berr *e) {
    if (w->failed) {
        berr_set(e, "%s: writer failed earlier; nothing published", w->path);
        shard_discard(w);
        return -1;
    }
    if (flush_frame(w, e)) {
        shard_discard(w);
        return -1;
    }
    uint64_t frames = w->ftab.n / FRAME_ENTRY_BYTES;
    bbuf index = {0};
    bbuf_put(&index, w->ftab.p, w->ftab.n);
    bbuf_put(&index, w->lens.p, w->lens.n);
    bbuf_put(&index, w->keys.p, w->keys.n);
    bbuf_put(&index, w->meta.p, w->meta.n);
    uint64_t index_offset = w->file_off;
    uint64_t file_bytes = index_offset + index.n;

    uint8_t h[SHARD_HEADER_BYTES] = {0};
    memcpy(h + H_MAGIC, SHARD_MAGIC, 8);
    put_le32(h + H_FORMAT, SHARD_FORMAT_VERSION);
    put_le32(h + H_HEADER_BYTES, SHARD_HEADER_BYTES);
    put_le32(h + H_KIND, w->kind);
    put_le32(h + H_SCHEMA, w->schema);
    put_le64(h + H_COUNT, w->count);
    put_le64(h + H_RAW, w->raw_bytes);
    put_le64(h + H_CREATED, (uint64_t)creation_time());
    put_le64(h + H_FILE_BYTES, file_bytes);
    put_le64(h + H_INDEX_OFFSET, index_offset);
    put_le32(h + H_FRAMES, (uint32_t)frames);
    put_le32(h + H_META, (uint32_t)w->meta.n);
    put_le32(h + H_FRAME_TARGET, w->frame_target);
    put_le64(h + H_INDEX_HASH, hash64(index.p, index.n, HASH_SEED));
    memcpy(h + H_PRODUCER, w->producer, strlen(w->producer));
    put_le64(h + H_HEADER_HASH, hash64(h, H_HEADER_HASH, HASH_SEED));

    int rc = atomic_write(&w->af, index.p, index.n, e);
    bbuf_free(&index);
    if (!rc && fseek(w->af.f, 0, SEEK_SET) != 0)
        rc = berr_set(e, "seek in %s failed: %s", w->af.tmp, strerror(errno));
    if (!rc) rc = atomic_write(&w->af, h, sizeof h, e);
    if (rc) {
        shard_discard(w);
        return -1;
    }
    rc = atomic_commit(&w->af, e);  // frees af whether or not it succeeds
    writer_free(w);
    return rc;
}

// ---- reader -------------------------------------------------------------------------------------

typedef struct frame_ent {
    uint64_t off, comp, raw, first, n, hash;
} frame_ent;

struct shard_reader {
    char *path;
    int fd;               // -1 for a reader over memory
    const uint8_t *mem;
    shard_info info;
    uint8_t *index;       // the whole index region, owned
    frame_ent *frames;
    const uint8_t *lens, *keys, *meta;
    // The frame decompressed last, with the offsets of its records.
    int64_t cur;
    uint8_t *raw;
    size_t raw_cap;
    uint64_t *rec_off;
    size_t rec_off_cap;
    uint8_t *cbuf;
    size_t cbuf_cap;
    ZSTD_DCtx *dctx;
};

const shard_info *shard_get_info(const shard_reader *r) { return &r->info; }
const char *shard_path(const shard_reader *r) { return r->path; }

void shard_close(shard_reader *r) {
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    free(r->path);
    free(r->index);
    free(r->frames);
    free(r->raw);
    free(r->rec_off);
    free(r->cbuf);
    ZSTD_freeDCtx(r->dctx);
    free(r);
}

// Reads exactly n bytes at off (both already checked against the file size).
static int read_at(shard_reader *r, void *dst, size_t n, uint64_t off, berr *e) {
    if (r->mem) {
        memcpy(dst, r->mem + off, n);
        return 0;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(r->fd, (uint8_t *)dst + done, n - done, (off_t)(off + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return berr_set(e, "%s: read failed at byte offset %llu: %s", r->path,
                                     (unsigned long long)(off + done), strerror(errno));
        if (got == 0)
            return berr_set(e, "%s: file shrank while reading: truncated at byte offset %llu", r->path,
                            (unsigned long long)(off + done));
        done += (size_t)got;
    }
    return 0;
}

// Checks the header and the index and fills r->info, r->frames; size is the file's length.
static int open_checks(shard_reader *r, uint64_t size, berr *e) {
    const char *p = r->path;
    uint8_t h[SHARD_HEADER_BYTES];
    if (size < SHARD_HEADER_BYTES)
        return berr_set(e, "%s: truncated: %llu bytes, a shard header alone is %d (at byte offset %llu)", p,
                        (unsigned long long)size, SHARD_HEADER_BYTES, (unsigned long long)size);
    if (read_at(r, h, sizeof h, 0, e)) return -1;
    if (memcmp(h + H_MAGIC, SHARD_MAGIC, 8) != 0)
        return berr_set(e, "%s: bad magic at byte offset 0: not a berry shard", p);
    uint32_t fmt = le32(h + H_FORMAT);
    if (fmt != SHARD_FORMAT_VERSION)
        return berr_set(e, "%s: unsupported format version %u at byte offset %d (this build reads version %d)", p, fmt,
                        H_FORMAT, SHARD_FORMAT_VERSION);
    if (le32(h + H_HEADER_BYTES) != SHARD_HEADER_BYTES)
        return berr_set(e, "%s: header size %u at byte offset %d, expected %d", p, le32(h + H_HEADER_BYTES),
                        H_HEADER_BYTES, SHARD_HEADER_BYTES);
    if (CHECKSUM_BAD(le64(h + H_HEADER_HASH), hash64(h, H_HEADER_HASH, HASH_SEED)))
        return berr_set(e, "%s: header checksum mismatch (header bytes 0-%d, checksum at byte offset %d)", p,
                        SHARD_HEADER_BYTES - 1, H_HEADER_HASH);

    shard_info *in = &r->info;
    in->format_version = fmt;
    in->kind = le32(h + H_KIND);
    in->schema_version = le32(h + H_SCHEMA);
    in->count = le64(h + H_COUNT);
    in->raw_bytes = le64(h + H_RAW);
    in->created_unix = (int64_t)le64(h + H_CREATED);
    in->file_bytes = le64(h + H_FILE_BYTES);
    in->index_offset = le64(h + H_INDEX_OFFSET);
    in->frames = le32(h + H_FRAMES);
    in->meta_bytes = le32(h + H_META);
    in->frame_target = le32(h + H_FRAME_TARGET);

    if (in->kind < 1 || in->kind > SHARD_KIND_MAX)
        return berr_set(e, "%s: unknown record kind %u at byte offset %d", p, in->kind, H_KIND);
    uint32_t max_schema = record_schema_max(in->kind);
    if (in->schema_version < 1 || in->schema_version > max_schema)
        return berr_set(e, "%s: schema version %u of kind %s at byte offset %d is not one this build reads (1..%u)", p,
                        in->schema_version, shard_kind_name(in->kind), H_SCHEMA, max_schema);
    const char *prod = (const char *)h + H_PRODUCER;
    size_t plen = strnlen(prod, SHARD_PRODUCER_MAX);
    int pad_ok = 1;
    for (size_t i = plen; i < SHARD_PRODUCER_MAX; i++) pad_ok &= prod[i] == 0;
    if (!producer_ok(prod, plen) || !pad_ok)
        return berr_set(e, "%s: malformed producer name at byte offset %d", p, H_PRODUCER);
    memcpy(in->producer, prod, plen);
    in->producer[plen] = 0;
    if (le32(h + H_RESERVED) != 0) return berr_set(e, "%s: reserved field at byte offset %d is not zero", p, H_RESERVED);
    if (in->frame_target == 0 || in->frame_target > SHARD_RECORD_MAX)
        return berr_set(e, "%s: frame size %u at byte offset %d is out of range", p, in->frame_target, H_FRAME_TARGET);

    if (size < in->file_bytes)
        return berr_set(e, "%s: truncated: %llu bytes present, the header says %llu (at byte offset %llu)", p,
                        (unsigned long long)size, (unsigned long long)in->file_bytes, (unsigned long long)size);
    if (size > in->file_bytes)
        return berr_set(e, "%s: %llu bytes of unexpected data after the end of the shard at byte offset %llu", p,
                        (unsigned long long)(size - in->file_bytes), (unsigned long long)in->file_bytes);
    if (in->index_offset < SHARD_HEADER_BYTES || in->index_offset > in->file_bytes)
        return berr_set(e, "%s: index offset %llu at byte offset %d lies outside the file (%llu bytes)", p,
                        (unsigned long long)in->index_offset, H_INDEX_OFFSET, (unsigned long long)in->file_bytes);
    if (in->meta_bytes > SHARD_META_MAX)
        return berr_set(e, "%s: metadata size %u at byte offset %d is larger than the maximum %u", p, in->meta_bytes,
                        H_META, SHARD_META_MAX);
    uint64_t index_bytes = in->file_bytes - in->index_offset;
    // Sizes are checked against the index length before they are multiplied.
    if (in->count > index_bytes / 12 || in->frames > index_bytes / FRAME_ENTRY_BYTES ||
        (uint64_t)in->frames * FRAME_ENTRY_BYTES + in->count * 12 + in->meta_bytes != index_bytes)
        return berr_set(e, "%s: index at byte offset %llu has %llu bytes, which does not fit %u frames, %llu records "
                        "and %u metadata bytes",
                        p, (unsigned long long)in->index_offset, (unsigned long long)index_bytes, in->frames,
                        (unsigned long long)in->count, in->meta_bytes);
    if ((in->count == 0) != (in->frames == 0))
        return berr_set(e, "%s: header at byte offset %d says %llu records in %u frames", p, H_COUNT,
                        (unsigned long long)in->count, in->frames);

    r->index = xmalloc(index_bytes ? index_bytes : 1);
    if (read_at(r, r->index, index_bytes, in->index_offset, e)) return -1;
    if (CHECKSUM_BAD(le64(h + H_INDEX_HASH), hash64(r->index, index_bytes, HASH_SEED)))
        return berr_set(e, "%s: index checksum mismatch (index at byte offset %llu, %llu bytes)", p,
                        (unsigned long long)in->index_offset, (unsigned long long)index_bytes);
    const uint8_t *ft = r->index;
    r->lens = ft + (size_t)in->frames * FRAME_ENTRY_BYTES;
    r->keys = r->lens + in->count * 4;
    r->meta = r->keys + in->count * 8;
    r->frames = xcalloc(in->frames ? in->frames : 1, sizeof *r->frames);

    uint64_t off = SHARD_HEADER_BYTES, first = 0, raw_total = 0, key_sum = 0;
    for (uint32_t f = 0; f < in->frames; f++) {
        const uint8_t *q = ft + (size_t)f * FRAME_ENTRY_BYTES;
        frame_ent *fe = &r->frames[f];
        fe->off = le64(q);
        fe->comp = le64(q + 8);
        fe->raw = le64(q + 16);
        fe->first = le64(q + 24);
        fe->n = le64(q + 32);
        fe->hash = le64(q + 40);
        unsigned long long at = (unsigned long long)(in->index_offset + (uint64_t)f * FRAME_ENTRY_BYTES);
        if (fe->off != off || fe->comp == 0 || fe->comp > in->index_offset - off)
            return berr_set(e, "%s: frame %u entry (index byte offset %llu): frame bytes [%llu, +%llu) do not follow "
                            "the previous frame at %llu within the frame area",
                            p, f, at, (unsigned long long)fe->off, (unsigned long long)fe->comp,
                            (unsigned long long)off);
        if (fe->first != first || fe->n == 0 || fe->n > in->count - first)
            return berr_set(e, "%s: frame %u entry (index byte offset %llu): records [%llu, +%llu) do not follow record "
                            "%llu within %llu records",
                            p, f, at, (unsigned long long)fe->first, (unsigned long long)fe->n,
                            (unsigned long long)first, (unsigned long long)in->count);
        if (fe->raw > SHARD_RECORD_MAX)
            return berr_set(e, "%s: frame %u entry (index byte offset %llu): %llu uncompressed bytes exceed the "
                            "maximum %u",
                            p, f, at, (unsigned long long)fe->raw, SHARD_RECORD_MAX);
        uint64_t sum = 0;
        for (uint64_t i = fe->first; i < fe->first + fe->n; i++) sum += le32(r->lens + i * 4);
        if (sum != fe->raw)
            return berr_set(e, "%s: frame %u entry (index byte offset %llu): record lengths add up to %llu bytes, the "
                            "frame holds %llu",
                            p, f, at, (unsigned long long)sum, (unsigned long long)fe->raw);
        off += fe->comp;
        first += fe->n;
        raw_total += fe->raw;
    }
    if (off != in->index_offset || first != in->count)
        return berr_set(e, "%s: frames end at byte offset %llu with %llu records, the header says %llu and %llu", p,
                        (unsigned long long)off, (unsigned long long)first, (unsigned long long)in->index_offset,
                        (unsigned long long)in->count);
    if (raw_total != in->raw_bytes)
        return berr_set(e, "%s: records hold %llu bytes, the header at byte offset %d says %llu", p,
                        (unsigned long long)raw_total, H_RAW, (unsigned long long)in->raw_bytes);
    for (uint64_t i = 0; i < in->count; i++) key_sum += le64(r->keys + i * 8);
    in->key_sum = key_sum;
    return 0;
}

static shard_reader *reader_new(const char *name) {
    shard_reader *r = xcalloc(1, sizeof *r);
    r->path = xstrdup(name);
    r->fd = -1;
    r->cur = -1;
    r->dctx = ZSTD_createDCtx();
    if (!r->dctx) die("zstd: cannot create a decompression context");
    return r;
}

shard_reader *shard_open(const char *path, berr *e) {
    shard_reader *r = reader_new(path);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (r->fd < 0) {
        berr_set(e, "cannot open shard %s: %s", path, strerror(errno));
        goto fail;
    }
    if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        berr_set(e, "%s: not a regular file", path);
        goto fail;
    }
    if (open_checks(r, (uint64_t)st.st_size, e)) goto fail;
    return r;
fail:
    shard_close(r);
    return NULL;
}

shard_reader *shard_open_mem(const void *buf, size_t len, const char *name, berr *e) {
    shard_reader *r = reader_new(name);
    r->mem = buf;
    if (open_checks(r, len, e)) {
        shard_close(r);
        return NULL;
    }
    return r;
}

// Decompresses frame f into r->raw after checking its checksum.
static int load_frame(shard_reader *r, uint32_t f, berr *e) {
    if (r->cur == (int64_t)f) return 0;
    r->cur = -1;
    const frame_ent *fe = &r->frames[f];
    const uint8_t *comp;
    if (r->mem) {
        comp = r->mem + fe->off;
    } else {
        if (fe->comp > r->cbuf_cap) {
            free(r->cbuf);
            r->cbuf = xmalloc(fe->comp);
            r->cbuf_cap = fe->comp;
        }
        if (read_at(r, r->cbuf, fe->comp, fe->off, e)) return -1;
        comp = r->cbuf;
    }
    if (CHECKSUM_BAD(fe->hash, hash64(comp, fe->comp, HASH_SEED)))
        return berr_set(e, "%s: frame %u at byte offset %llu (%llu bytes): checksum mismatch", r->path, f,
                        (unsigned long long)fe->off, (unsigned long long)fe->comp);
    size_t fsz = ZSTD_findFrameCompressedSize(comp, fe->comp);
    unsigned long long content = ZSTD_getFrameContentSize(comp, fe->comp);
    if (ZSTD_isError(fsz) || fsz != fe->comp || content != fe->raw)
        return berr_set(e, "%s: frame %u at byte offset %llu is not one zstd frame of %llu bytes", r->path, f,
                        (unsigned long long)fe->off, (unsigned long long)fe->raw);
    if (fe->raw > r->raw_cap) {
        free(r->raw);
        r->raw = xmalloc(fe->raw);
        r->raw_cap = fe->raw;
    }
    size_t got = ZSTD_decompressDCtx(r->dctx, r->raw, fe->raw, comp, fe->comp);
    if (ZSTD_isError(got) || got != fe->raw)
        return berr_set(e, "%s: frame %u at byte offset %llu: zstd: %s", r->path, f, (unsigned long long)fe->off,
                        ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong decompressed size");
    if (fe->n + 1 > r->rec_off_cap) {
        free(r->rec_off);
        r->rec_off_cap = fe->n + 1;
        r->rec_off = xmalloc(r->rec_off_cap * sizeof *r->rec_off);
    }
    uint64_t o = 0;
    for (uint64_t i = 0; i < fe->n; i++) {
        r->rec_off[i] = o;
        o += le32(r->lens + (fe->first + i) * 4);
    }
    r->rec_off[fe->n] = o;
    r->cur = f;
    return 0;
}

static uint32_t frame_of(const shard_reader *r, uint64_t i) {
    uint32_t lo = 0, hi = r->info.frames - 1;  // the last frame whose first record <= i
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (r->frames[mid].first <= i) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

int shard_get(shard_reader *r, uint64_t i, const uint8_t **rec, size_t *len, berr *e) {
    if (i >= r->info.count)
        return berr_set(e, "%s: record %llu requested, the shard has %llu", r->path, (unsigned long long)i,
                        (unsigned long long)r->info.count);
    uint32_t f = frame_of(r, i);
    if (load_frame(r, f, e)) return -1;
    uint64_t k = i - r->frames[f].first;
    *rec = r->raw + r->rec_off[k];
    *len = (size_t)(r->rec_off[k + 1] - r->rec_off[k]);
    return 0;
}

size_t shard_record_len(const shard_reader *r, uint64_t i) { return le32(r->lens + i * 4); }
uint64_t shard_record_key(const shard_reader *r, uint64_t i) { return le64(r->keys + i * 8); }

const uint8_t *shard_get_meta(const shard_reader *r, size_t *len) {
    *len = r->info.meta_bytes;
    return r->info.meta_bytes ? r->meta : NULL;
}

int shard_verify_reader(shard_reader *r, uint32_t expect_kind, berr *e) {
    const shard_info *in = &r->info;
    if (expect_kind && in->kind != expect_kind)
        return berr_set(e, "%s: holds %s records, expected %s", r->path, shard_kind_name(in->kind),
                        shard_kind_name(expect_kind));
    for (uint64_t i = 0; i < in->count; i++) {
        const uint8_t *rec;
        size_t len;
        if (shard_get(r, i, &rec, &len, e)) return -1;
        uint64_t key;
        if (record_check(in->kind, in->schema_version, rec, len, &key, e)) {
            uint32_t f = frame_of(r, i);
            berr_wrap(e, "in frame %u at byte offset %llu", f, (unsigned long long)r->frames[f].off);
            return record_refused(e, r->path, i, in);
        }
        if (key != shard_record_key(r, i))
            return berr_set(e, "%s: record %llu has key %llu, the index (at byte offset %llu) says %llu", r->path,
                            (unsigned long long)i, (unsigned long long)key,
                            (unsigned long long)(in->index_offset + (uint64_t)in->frames * FRAME_ENTRY_BYTES +
                                                 in->count * 4 + i * 8),
                            (unsigned long long)shard_record_key(r, i));
    }
    return 0;
}

int shard_verify(const char *path, uint32_t expect_kind, berr *e) {
    shard_reader *r = shard_open(path, e);
    if (!r) return -1;
    int rc = shard_verify_reader(r, expect_kind, e);
    shard_close(r);
    return rc;
}
