// fuzz_shard.c — libFuzzer target over everything that parses untrusted bytes:
//   input starting with the shard magic: open it, read every record, verify, print JSON;
//   input starting with 'c': the rest is a consumer cursor (stream_set_cursor);
//   anything else: byte 0 picks a record kind, the rest is one record (decode, check, JSON).
// Built with -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, so checksums do not stop the
// fuzzer before the index checks, zstd and the decoders (shard.c).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shards/records.h"
#include "shards/shard.h"
#include "shards/stream.h"

static FILE *devnull;
static stream_reader *cursor_reader;
static char *cursor_dir;  // kept reachable for LeakSanitizer

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    berr e;
    if (!devnull) {
        devnull = fopen("/dev/null", "w");
        const char *base = getenv("TMPDIR");
        char *tmpl = xasprintf("%s/berry-fuzz-cursor.XXXXXX", base && *base ? base : "/tmp");
        cursor_dir = mkdtemp(tmpl);
        if (!devnull || !cursor_dir) abort();
        cursor_reader = stream_open(cursor_dir, NULL, &e);
        if (!cursor_reader) abort();
    }
    if (size >= 8 && memcmp(data, "BRYSHARD", 8) == 0) {
        shard_reader *r = shard_open_mem(data, size, "fuzz.shard", &e);
        if (!r) return 0;
        const shard_info *in = shard_get_info(r);
        for (uint64_t i = 0; i < in->count && i < 4096; i++) {
            const uint8_t *rec;
            size_t len;
            if (shard_get(r, i, &rec, &len, &e)) break;
            if (len != shard_record_len(r, i)) abort();
            record_print_json(devnull, in->kind, in->schema_version, rec, len, &e);
        }
        shard_verify_reader(r, 0, &e);
        size_t ml;
        shard_get_meta(r, &ml);
        shard_close(r);
        return 0;
    }
    if (size >= 1 && data[0] == 'c') {
        uint64_t commit;
        if (stream_set_cursor(cursor_reader, (const char *)data + 1, size - 1, &commit, &e) == 0) {
            char *t = stream_cursor(cursor_reader, commit);
            free(t);
        }
        return 0;
    }
    if (size < 1) return 0;
    uint32_t kind = 1 + data[0] % SHARD_KIND_MAX;
    // Copy so that the record is exactly size-1 bytes long (ASan sees any overread).
    uint8_t *rec = malloc(size - 1 ? size - 1 : 1);
    memcpy(rec, data + 1, size - 1);
    uint64_t key, key2;
    int ok = record_check(kind, 1, rec, size - 1, &key, &e) == 0;
    if (ok && (record_key(kind, 1, rec, size - 1, &key2, &e) != 0 || key != key2)) abort();
    if (record_print_json(devnull, kind, 1, rec, size - 1, &e) == 0 && !ok) abort();  // print decodes the same way
    free(rec);
    return 0;
}
