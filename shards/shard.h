// shard.h — the shard container: one file of zstd-compressed records with a checksummed
// header and index (format: shards/FORMAT.md), published atomically.
//
// A record is an opaque byte string here; records.h gives each kind its encoding. Each
// record also carries a 64-bit key in the index, defined by its kind (records.h,
// record_key): the token count for token records, the problem id for the others. Keys let
// a reader find token positions or problems without decompressing anything.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"

#ifdef __cplusplus
extern "C" {
#endif

enum shard_kind {
    SHARD_TOKENS = 1,
    SHARD_PROBLEMS = 2,
    SHARD_TRAJECTORIES = 3,
    SHARD_VERDICTS = 4,
    SHARD_SCORES = 5,
    SHARD_BYTES = 6,  // opaque byte strings (key 0): tests, ad-hoc tools
    SHARD_LABELS = 7, // Monte-Carlo labels of trajectory trees (reward label)
};
#define SHARD_KIND_MAX 7
const char *shard_kind_name(uint32_t kind);  // "tokens", "problems", ... or "unknown"
// Kind from its name ("tokens", ...); 0 if unknown.
uint32_t shard_kind_from_name(const char *name);

#define SHARD_FORMAT_VERSION 1
#define SHARD_HEADER_BYTES 160
#define SHARD_PRODUCER_MAX 64                  // including the terminating NUL
#define SHARD_RECORD_MAX (1u << 30)            // largest record, bytes
#define SHARD_META_MAX (1u << 20)              // largest metadata blob, bytes
#define SHARD_FRAME_DEFAULT (1u << 20)         // uncompressed bytes per frame, by default
#define SHARD_ZSTD_LEVEL_DEFAULT 3

typedef struct shard_info {
    uint32_t format_version;
    uint32_t kind;
    uint32_t schema_version;
    uint64_t count;         // records
    uint64_t raw_bytes;     // uncompressed record bytes
    uint64_t file_bytes;
    int64_t created_unix;   // seconds since the epoch
    char producer[SHARD_PRODUCER_MAX];
    uint32_t frames;        // zstd frames
    uint32_t frame_target;  // uncompressed bytes per frame the writer aimed at
    uint32_t meta_bytes;    // size of the metadata blob (shard_get_meta)
    uint64_t index_offset;  // where the index starts (frames end)
    uint64_t key_sum;       // sum of the record keys (for token shards: the token count)
} shard_info;

// ---- writing one shard ------------------------------------------------------------------------
// Records accumulate into zstd frames; shard_finish writes the index and header, fsyncs,
// renames the temporary over `path` and fsyncs the directory. Until then nothing is visible
// at `path`; shard_discard (or a crash) leaves nothing behind but a temporary
// ("<path>.tmp.<pid>") that readers never open.
typedef struct shard_write_opts {
    uint32_t frame_bytes;  // target uncompressed bytes per frame; 0 = SHARD_FRAME_DEFAULT
    int zstd_level;        // 0 = SHARD_ZSTD_LEVEL_DEFAULT; 1..19, or negative for the fast levels
} shard_write_opts;

typedef struct shard_writer shard_writer;
shard_writer *shard_create(const char *path, uint32_t kind, uint32_t schema_version, const char *producer,
                           berr *e);
// As shard_create with explicit options (o may be NULL for the defaults).
shard_writer *shard_create_opts(const char *path, uint32_t kind, uint32_t schema_version, const char *producer,
                                const shard_write_opts *o, berr *e);
// Appends one record. Its key is taken from the record by record_key (records.h), which
// also rejects a record too short to be of the shard's kind.
int shard_append(shard_writer *w, const void *rec, size_t len, berr *e);
// Metadata blob stored with the index (at most SHARD_META_MAX bytes); replaces any earlier one.
// The streaming layer keeps the input cursor an output shard covers here (FORMAT.md).
int shard_set_meta(shard_writer *w, const void *meta, size_t len, berr *e);
uint64_t shard_writer_count(const shard_writer *w);
uint64_t shard_writer_raw_bytes(const shard_writer *w);
const char *shard_writer_path(const shard_writer *w);
int shard_finish(shard_writer *w, berr *e);  // frees w, also on failure
void shard_discard(shard_writer *w);         // frees w

// ---- reading one shard --------------------------------------------------------------------------
// shard_open checks magic, versions, header and index checksums and the index's
// consistency; each frame's checksum is checked when the frame is first read. Errors name
// the file and the byte offset.
typedef struct shard_reader shard_reader;
shard_reader *shard_open(const char *path, berr *e);
// Reads a shard held in memory (buf must outlive the reader); `name` is used in messages.
shard_reader *shard_open_mem(const void *buf, size_t len, const char *name, berr *e);
const shard_info *shard_get_info(const shard_reader *r);
const char *shard_path(const shard_reader *r);
// Record i (random access through the index). The bytes stay valid until the next call on r.
int shard_get(shard_reader *r, uint64_t i, const uint8_t **rec, size_t *len, berr *e);
// Length and key of record i, from the index alone (i < count).
size_t shard_record_len(const shard_reader *r, uint64_t i);
uint64_t shard_record_key(const shard_reader *r, uint64_t i);
// The metadata blob (NULL and 0 when there is none).
const uint8_t *shard_get_meta(const shard_reader *r, size_t *len);
void shard_close(shard_reader *r);
// Reads and checks everything (every frame checksum, every record boundary); with
// expect_kind != 0 also that the shard holds that kind. Every record is decoded by its
// kind's decoder (schema check) and its key compared with the index.
int shard_verify(const char *path, uint32_t expect_kind, berr *e);
// The same over an open reader.
int shard_verify_reader(shard_reader *r, uint32_t expect_kind, berr *e);

#ifdef __cplusplus
}
#endif
