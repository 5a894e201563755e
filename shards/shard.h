// shard.h — the shard container: one file of zstd-compressed records with a checksummed
// header and index (format: shards/FORMAT.md), published atomically.
//
// A record is an opaque byte string here; records.h gives each kind its encoding.
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
};
const char *shard_kind_name(uint32_t kind);  // "tokens", "problems", ... or "unknown"

#define SHARD_PRODUCER_MAX 64

typedef struct shard_info {
    uint32_t format_version;
    uint32_t kind;
    uint32_t schema_version;
    uint64_t count;         // records
    uint64_t raw_bytes;     // uncompressed record bytes
    uint64_t file_bytes;
    int64_t created_unix;   // seconds since the epoch
    char producer[SHARD_PRODUCER_MAX];
} shard_info;

// ---- writing one shard ------------------------------------------------------------------------
// Records accumulate into zstd frames; shard_finish writes the index and header, fsyncs,
// renames the temporary over `path` and fsyncs the directory. Until then nothing is visible
// at `path`; shard_discard (or a crash) leaves nothing behind but a temporary that readers
// never open.
typedef struct shard_writer shard_writer;
shard_writer *shard_create(const char *path, uint32_t kind, uint32_t schema_version, const char *producer,
                           berr *e);
int shard_append(shard_writer *w, const void *rec, size_t len, berr *e);
uint64_t shard_writer_count(const shard_writer *w);
uint64_t shard_writer_raw_bytes(const shard_writer *w);
int shard_finish(shard_writer *w, berr *e);  // frees w, also on failure
void shard_discard(shard_writer *w);         // frees w

// ---- reading one shard --------------------------------------------------------------------------
// shard_open checks magic, versions, header and index checksums; each frame's checksum is
// checked when the frame is first read. Errors name the file and the byte offset.
typedef struct shard_reader shard_reader;
shard_reader *shard_open(const char *path, berr *e);
const shard_info *shard_get_info(const shard_reader *r);
const char *shard_path(const shard_reader *r);
// Record i (random access through the index). The bytes stay valid until the next call on r.
int shard_get(shard_reader *r, uint64_t i, const uint8_t **rec, size_t *len, berr *e);
void shard_close(shard_reader *r);
// Reads and checks everything (every frame checksum, every record boundary); with
// expect_kind != 0 also that the shard holds that kind.
int shard_verify(const char *path, uint32_t expect_kind, berr *e);

#ifdef __cplusplus
}
#endif
