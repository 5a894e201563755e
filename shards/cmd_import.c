// cmd_import.c — `shards import-llmc`: llm.c token files -> berry token shards.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shards/cmd.h"
#include "shards/records.h"
#include "shards/stream.h"
#include "shards/token_source.h"

static const char *HELP =
    "usage: shards import-llmc --out DIR [options] FILE...\n"
    "\n"
    "Converts llm.c token files (header of 256 int32: magic 20240520, version 1, token count;\n"
    "then uint16 tokens) into berry token shards in DIR, in the order given, and closes DIR.\n"
    "Each file's tokens become records of --record-tokens tokens (its last record may be\n"
    "shorter); a shard is published every --shard-records records. Token order and values are\n"
    "kept exactly. Pretraining can also read .bin files directly (shards/token_source.h).\n"
    "\n"
    "  --out DIR            output directory (created if missing)\n"
    "  --producer NAME      producer name in DIR (default llmc); must have no shards there yet\n"
    "  --record-tokens N    tokens per record (default 64K = 65536)\n"
    "  --shard-records N    records per shard (default 1024)\n"
    "  --frame-bytes N      uncompressed bytes per zstd frame (default 1048576)\n"
    "  --level N            zstd level (default 3)\n"
    "  --help               this text\n"
    "\n"
    "example: shards import-llmc --out data/tokens fineweb_val_000000.bin fineweb_train_000001.bin\n";

int cmd_import_llmc(int argc, char **argv) {
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},           {"producer", required_argument, 0, 'p'},
        {"record-tokens", required_argument, 0, 'r'}, {"shard-records", required_argument, 0, 's'},
        {"frame-bytes", required_argument, 0, 'f'},   {"level", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0},
    };
    const char *out = NULL, *producer = "llmc";
    int64_t record_tokens = 65536, shard_records = 1024, frame_bytes = SHARD_FRAME_DEFAULT;
    int level = SHARD_ZSTD_LEVEL_DEFAULT, c;
    berr e;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'o': out = optarg; break;
        case 'p': producer = optarg; break;
        case 'r': rc = parse_count("--record-tokens", optarg, 1, SHARD_RECORD_MAX / 4 - 2, &record_tokens, &e); break;
        case 's': rc = parse_count("--shard-records", optarg, 1, INT64_MAX, &shard_records, &e); break;
        case 'f': rc = parse_count("--frame-bytes", optarg, 1, SHARD_RECORD_MAX, &frame_bytes, &e); break;
        case 'l': rc = parse_int("--level", optarg, -7, 19, &level, &e); break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cmd_usage_error("import-llmc", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
        if (rc) return cmd_usage_error("import-llmc", "%s", e.msg);
    }
    if (!out) return cmd_usage_error("import-llmc", "--out DIR is required");
    if (optind >= argc) return cmd_usage_error("import-llmc", "no llm.c token file given");
    if (level == 0) return cmd_usage_error("import-llmc", "--level 0 is not a zstd level; use 1..19 or -7..-1");
    if (!shard_producer_name_ok(producer))
        return cmd_usage_error("import-llmc", "--producer '%s' must be 1..48 characters of [A-Za-z0-9._-]", producer);
    fprintf(stderr,
            "shards import-llmc: out=%s producer=%s record_tokens=%lld shard_records=%lld frame_bytes=%lld level=%d "
            "files=%d\n",
            out, producer, (long long)record_tokens, (long long)shard_records, (long long)frame_bytes, level,
            argc - optind);

    // Check every input before writing anything.
    uint64_t total = 0;
    uint64_t *counts = xmalloc(sizeof(uint64_t) * (size_t)(argc - optind));
    for (int a = optind; a < argc; a++) {
        if (llmc_tokens_check(argv[a], &counts[a - optind], &e)) {
            free(counts);
            return cmd_fail("import-llmc", &e);
        }
        total += counts[a - optind];
    }
    shard_dir_opts o = {.max_records = (uint64_t)shard_records,
                        .shard = {.frame_bytes = (uint32_t)frame_bytes, .zstd_level = level}};
    shard_dir_writer *w = shard_dir_writer_open(out, producer, SHARD_TOKENS, TOKENS_SCHEMA, &o, &e);
    if (!w) {
        free(counts);
        return cmd_fail("import-llmc", &e);
    }
    if (shard_dir_published(w) || shard_dir_writer_is_closed(w)) {
        berr_set(&e, "%s already holds shards of producer %s: remove them or choose another --producer", out, producer);
        shard_dir_abort(w);
        free(counts);
        return cmd_fail("import-llmc", &e);
    }
    uint8_t *raw = xmalloc((size_t)record_tokens * 2);
    uint32_t *ids = xmalloc((size_t)record_tokens * 4);
    bbuf rec = {0};
    uint64_t done = 0;
    double t0 = now_sec(), last = t0;
    int rc = 0;
    for (int a = optind; a < argc && !rc; a++) {
        int fd = open(argv[a], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = berr_set(&e, "cannot open %s: %s", argv[a], strerror(errno));
            break;
        }
        uint64_t n = counts[a - optind];
        for (uint64_t at = 0; at < n && !rc; at += (uint64_t)record_tokens) {
            size_t k = (size_t)(n - at < (uint64_t)record_tokens ? n - at : (uint64_t)record_tokens);
            size_t got = 0;
            while (got < 2 * k && !rc) {
                ssize_t r = pread(fd, raw + got, 2 * k - got, (off_t)(LLMC_HEADER_INTS * 4 + 2 * at + got));
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0) rc = berr_set(&e, "%s: read failed at byte offset %llu: %s", argv[a],
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
            if (now - last > 5) {
                fprintf(stderr, "shards import-llmc: %llu / %llu tokens (%.1f%%), %.1f M tokens/s\n",
                        (unsigned long long)done, (unsigned long long)total, 100.0 * (double)done / (double)total,
                        (double)done / (now - t0) / 1e6);
                last = now;
            }
        }
        close(fd);
        if (!rc) fprintf(stderr, "shards import-llmc: %s: %llu tokens\n", argv[a], (unsigned long long)n);
    }
    free(raw);
    free(ids);
    bbuf_free(&rec);
    free(counts);
    if (rc) {
        shard_dir_abort(w);  // published shards stay; the directory is not closed
        return cmd_fail("import-llmc", &e);
    }
    uint64_t shards = shard_dir_published(w) + (shard_dir_pending(w) ? 1 : 0);
    if (shard_dir_close(w, &e)) return cmd_fail("import-llmc", &e);
    fprintf(stderr, "shards import-llmc: wrote %llu tokens in %llu shards to %s (closed) in %.1f s\n",
            (unsigned long long)done, (unsigned long long)shards, out, now_sec() - t0);
    return 0;
}
