// stream.h — shard directories: producers that publish shards one by one and close the
// directory when done, consumers that take finished shards as they appear with a durable
// cursor, and stages that consume one directory and publish another exactly once.
// The protocol (names, markers, cursor, commit) is specified in shards/FORMAT.md.
//
// A directory holds shards named "<producer>-<seq>.shard" (seq: 8 or more decimal digits,
// counting up from 0 per producer). A shard is finished once its name exists: writers
// publish by rename. A producer that is done writes "<producer>.closed" (its manifest: every
// shard it published, with record counts and sizes); when every producer of the
// directory has done so, "CLOSED" (the union) marks the directory finished.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"
#include "shards/shard.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHARD_SEQ_DIGITS 8

// ---- listing a directory -------------------------------------------------------------------------
typedef struct shard_dir_entry {
    char *name;      // file name, e.g. "verify.p0of2-00000003.shard"
    char *producer;  // "verify.p0of2"
    uint64_t seq;    // 3
} shard_dir_entry;

typedef struct shard_manifest_entry {
    char *name;
    uint64_t records;
    uint64_t file_bytes;
} shard_manifest_entry;

typedef struct shard_dir_listing {
    shard_dir_entry *shards;  // sorted by (producer, seq)
    size_t n_shards;
    char **closed_producers;  // producers with a "<producer>.closed" marker, sorted
    size_t n_closed_producers;
    int closed;               // "CLOSED" exists
    uint32_t producers;       // producers the CLOSED manifest names (0 when not closed)
    shard_manifest_entry *manifest;  // the CLOSED manifest's shards (when closed), sorted by name
    size_t n_manifest;
    size_t n_temps;           // unfinished temporaries ("*.tmp.<pid>") present
} shard_dir_listing;

// Lists `dir`. Fails on a "*.shard" whose name does not follow the pattern, on a malformed
// CLOSED manifest, and when CLOSED exists but a shard it lists is missing or a shard is
// present that it does not list.
int shard_dir_list(const char *dir, shard_dir_listing *out, berr *e);
void shard_dir_listing_free(shard_dir_listing *l);
// Checks the manifests against the shards: each closed producer's "<producer>.closed" lists
// exactly that producer's shards, and every manifest entry (also CLOSED's) matches the
// shard's header (records, file bytes). Opens every listed shard (header and index only).
int shard_dir_check_manifests(const char *dir, berr *e);
// Parses "<producer>-<seq>.shard"; 0 on success. *producer is malloc'd.
int shard_name_parse(const char *name, char **producer, uint64_t *seq);
// A producer name is 1..48 characters of [A-Za-z0-9._-], not starting with '.' or '-'.
int shard_producer_name_ok(const char *producer);

// ---- writing a directory -----------------------------------------------------------------------
typedef struct shard_dir_opts {
    uint64_t max_records;    // publish the open shard after this many records (0 = no limit)
    uint64_t max_raw_bytes;  // ... or this many uncompressed bytes (0 = no limit)
    shard_write_opts shard;  // frame size, zstd level
    uint32_t producers;      // producers writing this directory; it is CLOSED when all are (0 = 1)
} shard_dir_opts;

typedef struct shard_dir_writer shard_dir_writer;
// Opens (creating the directory if needed) as producer `producer`. Holds an exclusive lock
// ("<dir>/.<producer>.lock") so that two processes never write as the same producer; removes
// the producer's stale temporaries; numbers new shards after the last one published.
shard_dir_writer *shard_dir_writer_open(const char *dir, const char *producer, uint32_t kind, uint32_t schema,
                                        const shard_dir_opts *o, berr *e);
int shard_dir_append(shard_dir_writer *w, const void *rec, size_t len, berr *e);  // may publish
// Publishes the open shard now, carrying `meta` (may be NULL); an empty shard is published
// only when meta is given. Returns 0 also when there was nothing to publish.
int shard_dir_publish(shard_dir_writer *w, const void *meta, size_t meta_len, berr *e);
// Records appended since the last publish.
uint64_t shard_dir_pending(const shard_dir_writer *w);
uint64_t shard_dir_pending_bytes(const shard_dir_writer *w);
// Shards this producer has in the directory (published by earlier runs too).
uint64_t shard_dir_published(const shard_dir_writer *w);
// Name of the producer's last published shard ("" if none).
const char *shard_dir_last_name(const shard_dir_writer *w);
// 1 if this producer already closed the directory (in an earlier run).
int shard_dir_writer_is_closed(const shard_dir_writer *w);
// Publishes what is open, writes "<producer>.closed" and, when every producer has closed,
// "CLOSED". Frees w. Calling it for a producer that was already closed only (re)checks CLOSED.
int shard_dir_close(shard_dir_writer *w, berr *e);
// Discards what was not published (the directory stays open). A producer that has published
// nothing in the directory leaves no trace: its lock file is removed, and the directory too
// if this writer created it and it is empty. Frees w.
void shard_dir_abort(shard_dir_writer *w);

// ---- consuming a directory -----------------------------------------------------------------------
// Shards are split between n consumers by a stable hash of the shard name: consumer k of n
// takes the shards with XXH64(name) % n == k. Within one input producer, a consumer takes
// its shards in seq order; the cursor keeps, per input producer, the next (seq, record).
typedef struct stream_opts {
    uint32_t part, parts;   // this consumer is part `part` of `parts` (0 of 1 by default)
    double poll_seconds;    // how often to rescan while waiting (default 0.05; inotify wakes it sooner)
    double idle_timeout;    // fail after this many seconds without a new shard (0 = wait forever)
    uint32_t expect_kind;   // 0 = any, else every shard must hold this kind
} stream_opts;

typedef struct stream_pos {
    const char *shard;     // file name
    const char *producer;
    uint64_t seq;
    uint64_t record;       // index in the shard
    uint32_t kind, schema;
    uint64_t key;
    const shard_info *info;  // the shard's header (its producer, creation time)
} stream_pos;

enum { STREAM_END = 0, STREAM_RECORD = 1, STREAM_EMPTY = 2 };

typedef struct stream_reader stream_reader;
// A directory that does not exist yet reads as open and empty (the producer may start later).
stream_reader *stream_open(const char *dir, const stream_opts *o, berr *e);
// Next record: STREAM_RECORD with *rec/*len (valid until the next call) and *pos;
// STREAM_END once the directory is closed and this part drained; with wait == 0,
// STREAM_EMPTY when nothing is available now; -1 on error. A record returned counts as
// consumed for the cursor.
int stream_next(stream_reader *s, int wait, const uint8_t **rec, size_t *len, stream_pos *pos, berr *e);
// A record returned at pos that the consumer's decoder refused (e holds why): the reader's
// policy, record_refused (records.h), with the shard's path under dir. Returns -1.
int stream_refused(const char *dir, const stream_pos *pos, berr *e);
// The cursor after the records returned so far, as text (FORMAT.md, "Cursor"); malloc'd.
// `commit` is stored with it.
char *stream_cursor(const stream_reader *s, uint64_t commit);
// Restores a cursor (before the first stream_next). Its part/parts must match.
int stream_set_cursor(stream_reader *s, const char *text, size_t len, uint64_t *commit, berr *e);
// Durable cursor for a plain consumer: atomically written file / read back (a missing file
// leaves the reader at the start).
int stream_save_cursor(const stream_reader *s, const char *path, berr *e);
int stream_load_cursor(stream_reader *s, const char *path, berr *e);
uint64_t stream_records_read(const stream_reader *s);  // returned by this reader object
void stream_close(stream_reader *s);

// ---- a stage: consume one directory, publish another, exactly once ------------------------------
// Output shards carry the input cursor they complete in their metadata; publishing one is
// the commit. On open, the cursor is restored from the newer of the producer's last output
// shard and its cursor file ("<out>/<producer>.cursor", written after commits that
// published nothing), so a stage killed at any moment and restarted neither repeats nor
// skips a record. Commits happen between input records only: every output of an input
// record lands in the same shard.
typedef struct stage_opts {
    stream_opts in;
    uint32_t out_kind, out_schema;
    shard_dir_opts out;     // max_records/max_raw_bytes: commit when this much output is pending;
                            // out.producers defaults to in.parts
    uint64_t commit_records;  // also commit after this many input records (0 = no limit)
    double commit_seconds;    // and at least this often while output is pending (0 = no limit)
} stage_opts;

typedef struct stream_stage stream_stage;
// The output producer is `name`, or "<name>.p<k>of<n>" when the input is split in n > 1 parts.
stream_stage *stage_open(const char *in_dir, const char *out_dir, const char *name, const stage_opts *o, berr *e);
// Commits if a threshold is reached (or before waiting for input), then returns the next
// input record as stream_next does (wait = 1): STREAM_RECORD, STREAM_END, or -1.
int stage_next(stream_stage *st, const uint8_t **rec, size_t *len, stream_pos *pos, berr *e);
int stage_emit(stream_stage *st, const void *rec, size_t len, berr *e);
int stage_commit(stream_stage *st, berr *e);
// After stage_next returned STREAM_END: final commit, closes the output producer. Frees st.
int stage_close(stream_stage *st, berr *e);
void stage_abort(stream_stage *st);  // drops uncommitted work; frees st
const char *stage_producer(const stream_stage *st);
uint64_t stage_commits(const stream_stage *st);

#ifdef __cplusplus
}
#endif
