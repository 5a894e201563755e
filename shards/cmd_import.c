// cmd_import.c — `shards import-llmc`: llm.c token files -> berry token shards.
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shards/cmd.h"
#include "shards/records.h"
#include "shards/stream.h"
#include "shards/token_source.h"

typedef struct import_opts {
    char *out, *producer;
    int64_t record_tokens, shard_records, frame_bytes;
    int level;
} import_opts;

#define F(x) offsetof(import_opts, x)
static const cli_opt opt_list[] = {
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "output directory (created if missing; required)"},
    {CLI_STR, "producer", F(producer), "llmc", 0, 0, NULL, 0, "NAME", "producer name in DIR; must have no shards there yet"},
    {CLI_COUNT, "record-tokens", F(record_tokens), "65536", 1, SHARD_RECORD_MAX / 4 - 2, NULL, 0, "N", "tokens per record"},
    {CLI_COUNT, "shard-records", F(shard_records), "1024", 1, 9e18, NULL, 0, "N", "records per shard"},
    {CLI_BYTES, "frame-bytes", F(frame_bytes), "1M", 1, SHARD_RECORD_MAX, NULL, 0, "BYTES", "uncompressed bytes per zstd frame"},
    {CLI_INT, "level", F(level), "3", -7, 19, NULL, 0, "N", "zstd level (1..19, or -7..-1 for the fast levels)"},
};
#undef F
static const cli_table table = CLI_TABLE(opt_list);
static const cli_cmd cmd = {
    "shards import-llmc",
    "usage: shards import-llmc --out DIR [options] FILE...\n"
    "\n"
    "Converts llm.c token files (header of 256 int32: magic 20240520, version 1, token count;\n"
    "then uint16 tokens) into berry token shards in DIR, in the order given, and closes DIR.\n"
    "Each file's tokens become records of --record-tokens tokens (its last record may be\n"
    "shorter); a shard is published every --shard-records records. Token order and values are\n"
    "kept exactly. Pretraining can also read .bin files directly (shards/token_source.h).\n",
    &table, 1, "example: shards import-llmc --out data/tokens fineweb_val_000000.bin fineweb_train_000001.bin\n"};

int cmd_import_llmc(int argc, char **argv, int first) {
    import_opts o;
    cli_args pos;
    unsigned char given[sizeof opt_list / sizeof opt_list[0]] = {0};
    int rc = cli_command(&cmd, &o, argc, argv, first, given, &pos);
    if (rc != CLI_GO) return rc;
    const char *out = o.out, *producer = o.producer;
    int64_t record_tokens = o.record_tokens, shard_records = o.shard_records, frame_bytes = o.frame_bytes;
    int level = o.level;
    berr e;
    const char *problem = !out ? "--out DIR is required"
                          : pos.n == 0 ? "no llm.c token file given"
                          : level == 0 ? "--level 0 is not a zstd level; use 1..19 or -7..-1"
                          : !shard_producer_name_ok(producer) ? "--producer must be 1..48 characters of [A-Za-z0-9._-]"
                          : NULL;
    if (problem) rc = cli_usage_error(&cmd, "%s", problem);
    else if (cli_check_output_dir("--out", out, &e)) rc = cli_fail(cmd.name, &e);
    if (rc != CLI_GO) {
        cli_free(&table, &o);
        cli_args_free(&pos);
        return rc;
    }
    char extra[32];
    snprintf(extra, sizeof extra, " files=%d", pos.n);
    cli_echo_line(cmd.name, &table, &o, given, extra);
    int argc0 = pos.n;
    char **files = pos.v;
    // Check every input before writing anything.
    uint64_t total = 0;
    uint64_t *counts = xmalloc(sizeof(uint64_t) * (size_t)argc0);
    shard_dir_writer *w = NULL;
    for (int a = 0; a < argc0; a++) {
        if (llmc_tokens_check(files[a], &counts[a], &e)) goto fail_early;
        total += counts[a];
    }
    shard_dir_opts dopts = {.max_records = (uint64_t)shard_records,
                            .shard = {.frame_bytes = (uint32_t)frame_bytes, .zstd_level = level}};
    w = shard_dir_writer_open(out, producer, SHARD_TOKENS, TOKENS_SCHEMA, &dopts, &e);
    if (!w) goto fail_early;
    if (shard_dir_published(w) || shard_dir_writer_is_closed(w)) {
        berr_set(&e, "%s already holds shards of producer %s: remove them or choose another --producer", out, producer);
        shard_dir_abort(w);
        goto fail_early;
    }
    uint8_t *raw = xmalloc((size_t)record_tokens * 2);
    uint32_t *ids = xmalloc((size_t)record_tokens * 4);
    bbuf rec = {0};
    uint64_t done = 0;
    double t0 = now_sec(), last = t0;
    rc = 0;
    for (int a = 0; a < argc0 && !rc; a++) {
        int fd = open(files[a], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = berr_set(&e, "cannot open %s: %s", files[a], strerror(errno));
            break;
        }
        uint64_t n = counts[a];
        for (uint64_t at = 0; at < n && !rc; at += (uint64_t)record_tokens) {
            size_t k = (size_t)(n - at < (uint64_t)record_tokens ? n - at : (uint64_t)record_tokens);
            size_t got = 0;
            while (got < 2 * k && !rc) {
                ssize_t r = pread(fd, raw + got, 2 * k - got, (off_t)(LLMC_HEADER_INTS * 4 + 2 * at + got));
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0) rc = berr_set(&e, "%s: read failed at byte offset %llu: %s", files[a],
                                          (unsigned long long)(LLMC_HEADER_INTS * 4 + 2 * at + got),
                                          r < 0 ? strerror(errno) : "file shrank");
                else got += (size_t)r;
            }
            if (rc) break;
            for (size_t i = 0; i < k; i++) ids[i] = (uint32_t)raw[2 * i] | (uint32_t)raw[2 * i + 1] << 8;
            rec.n = 0;
            tokens_encode(&rec, ids, (uint32_t)k);
            rc = shard_dir_append(w, rec.p, rec.n, &e);
            done += k;
            double now = now_sec();
            if (now - last > 5 && !cli_quiet) {
                fprintf(stderr, "shards import-llmc: %llu / %llu tokens (%.1f%%), %.1f M tokens/s\n",
                        (unsigned long long)done, (unsigned long long)total, 100.0 * (double)done / (double)total,
                        (double)done / (now - t0) / 1e6);
                last = now;
            }
        }
        close(fd);
        if (!rc && !cli_quiet) fprintf(stderr, "shards import-llmc: %s: %llu tokens\n", files[a], (unsigned long long)n);
    }
    free(raw);
    free(ids);
    bbuf_free(&rec);
    free(counts);
    counts = NULL;
    if (rc) {
        shard_dir_abort(w);  // published shards stay; the directory is not closed
        w = NULL;
        goto fail_early;
    }
    uint64_t shards = shard_dir_published(w) + (shard_dir_pending(w) ? 1 : 0);
    rc = shard_dir_close(w, &e);
    if (!rc)
        fprintf(stderr, "shards import-llmc: wrote %llu tokens in %llu shards to %s (closed) in %.1f s\n",
                (unsigned long long)done, (unsigned long long)shards, out, now_sec() - t0);
    cli_free(&table, &o);
    cli_args_free(&pos);
    return rc ? cli_fail(cmd.name, &e) : 0;
fail_early:
    free(counts);
    cli_free(&table, &o);
    cli_args_free(&pos);
    return cli_fail(cmd.name, &e);
}
