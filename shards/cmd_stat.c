// cmd_stat.c — `shards stat` and `shards verify`.
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shards/cmd.h"
#include "shards/records.h"
#include "shards/shard.h"
#include "shards/stream.h"
#include "shards/token_source.h"

static const cli_cmd stat_cmd = {
    "shards stat",
    "usage: shards stat [options] PATH...\n"
    "\n"
    "For a shard file: its header fields (kind, schema, producer, creation time), record count,\n"
    "sizes, compression ratio, frames, and its metadata (the input cursor of a stage's output).\n"
    "For a directory: whether it is closed, each producer's shards and state, totals, unfinished\n"
    "temporaries, and one line per shard. llm.c token files (.bin) are described too.\n",
    NULL, 1, "example: shards stat data/tokens data/tokens/tokens-00000000.shard\n"};

typedef struct verify_opts {
    char *kind;
} verify_opts;

static const cli_opt verify_list[] = {
    {CLI_STR, "kind", offsetof(verify_opts, kind), NULL, 0, 0, NULL, 0, "K",
     "every shard must hold records of kind K (tokens, problems, trajectories, verdicts, scores, bytes)"},
};
static const cli_table verify_table = CLI_TABLE(verify_list);
static const cli_cmd verify_cmd = {
    "shards verify",
    "usage: shards verify [options] PATH...\n"
    "\n"
    "Reads everything and checks it: header and index checksums, every frame's checksum, the\n"
    "index against the records, every record against its kind's schema. For a directory also\n"
    "the shard names, the CLOSED manifest and the producers' manifests against the shards\n"
    "present, and that all shards hold one kind. llm.c token files (.bin): header and size.\n"
    "Prints one line per file (with --quiet only failures and the summary); exits 1 if anything\n"
    "failed.\n",
    &verify_table, 1, "example: shards verify --kind trajectories data/trajectories\n"};

static double ratio(uint64_t raw, uint64_t file) { return file ? (double)raw / (double)file : 0.0; }

static int ends_with_bin(const char *p) {
    size_t n = strlen(p);
    return n > 4 && strcmp(p + n - 4, ".bin") == 0;
}

static void print_meta(const uint8_t *m, size_t n) {
    int text = 1;
    for (size_t i = 0; i < n; i++)
        if (!(m[i] == '\n' || (m[i] >= 0x20 && m[i] < 0x7f))) text = 0;
    if (!text) {
        printf("meta: %zu bytes (binary)\n", n);
        return;
    }
    printf("meta: |\n  ");
    for (size_t i = 0; i < n; i++) {
        putchar(m[i]);
        if (m[i] == '\n' && i + 1 < n) fputs("  ", stdout);
    }
    if (n && m[n - 1] != '\n') putchar('\n');
}

static int stat_file(const char *path, berr *e) {
    if (ends_with_bin(path) && llmc_tokens_sniff(path, e) == 1) {
        uint64_t n;
        if (llmc_tokens_check(path, &n, e)) return -1;
        printf("path: %s\nformat: llm.c token file (version %d, uint16 tokens)\ntokens: %llu\nfile_bytes: %llu\n", path,
               LLMC_TOKENS_VERSION, (unsigned long long)n, (unsigned long long)(LLMC_HEADER_INTS * 4 + 2 * n));
        return 0;
    }
    shard_reader *r = shard_open(path, e);
    if (!r) return -1;
    const shard_info *in = shard_get_info(r);
    char when[64] = "?";
    time_t t = (time_t)in->created_unix;
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("path: %s\nformat_version: %u\nkind: %s\nschema_version: %u\nproducer: %s\ncreated: %s (%lld)\n", path,
           in->format_version, shard_kind_name(in->kind), in->schema_version, in->producer, when,
           (long long)in->created_unix);
    printf("records: %llu\n", (unsigned long long)in->count);
    if (in->kind == SHARD_TOKENS) printf("tokens: %llu\n", (unsigned long long)in->key_sum);
    printf("raw_bytes: %llu\nfile_bytes: %llu\ncompression: %.2fx\nframes: %u (target %u bytes each)\n",
           (unsigned long long)in->raw_bytes, (unsigned long long)in->file_bytes, ratio(in->raw_bytes, in->file_bytes),
           in->frames, in->frame_target);
    size_t ml;
    const uint8_t *m = shard_get_meta(r, &ml);
    if (m) print_meta(m, ml);
    shard_close(r);
    return 0;
}

static int stat_dir(const char *dir, berr *e) {
    shard_dir_listing l;
    if (shard_dir_list(dir, &l, e)) return -1;
    printf("dir: %s\n", dir);
    if (l.closed) printf("state: closed (CLOSED lists %zu shards from %u producers)\n", l.n_manifest, l.producers);
    else printf("state: open (%zu producers closed so far)\n", l.n_closed_producers);
    uint64_t records = 0, raw = 0, file = 0, tokens = 0;
    int rc = 0;
    // Per producer: shard count, records; then the shard lines.
    bbuf lines = {0};
    size_t i = 0;
    while (i < l.n_shards && !rc) {
        const char *prod = l.shards[i].producer;
        uint64_t p_shards = 0, p_records = 0;
        for (; i < l.n_shards && !strcmp(l.shards[i].producer, prod); i++) {
            char *p = xasprintf("%s/%s", dir, l.shards[i].name);
            shard_reader *r = shard_open(p, e);
            free(p);
            if (!r) {
                rc = -1;
                break;
            }
            const shard_info *in = shard_get_info(r);
            char line[512];
            int n = snprintf(line, sizeof line, "shard %s %s records=%llu raw_bytes=%llu file_bytes=%llu %.2fx\n",
                             l.shards[i].name, shard_kind_name(in->kind), (unsigned long long)in->count,
                             (unsigned long long)in->raw_bytes, (unsigned long long)in->file_bytes,
                             ratio(in->raw_bytes, in->file_bytes));
            bbuf_put(&lines, line, (size_t)n);
            p_shards++;
            p_records += in->count;
            records += in->count;
            raw += in->raw_bytes;
            file += in->file_bytes;
            if (in->kind == SHARD_TOKENS) tokens += in->key_sum;
            shard_close(r);
        }
        int closed = 0;
        for (size_t k = 0; k < l.n_closed_producers; k++) closed |= !strcmp(l.closed_producers[k], prod);
        if (!rc)
            printf("producer %s: %llu shards, %llu records, %s\n", prod, (unsigned long long)p_shards,
                   (unsigned long long)p_records, closed ? "closed" : "open");
    }
    if (!rc) {
        // Producers that closed without publishing anything.
        for (size_t k = 0; k < l.n_closed_producers; k++) {
            int has = 0;
            for (size_t j = 0; j < l.n_shards; j++) has |= !strcmp(l.shards[j].producer, l.closed_producers[k]);
            if (!has) printf("producer %s: 0 shards, 0 records, closed\n", l.closed_producers[k]);
        }
        printf("shards: %zu\nrecords: %llu\n", l.n_shards, (unsigned long long)records);
        if (tokens) printf("tokens: %llu\n", (unsigned long long)tokens);
        printf("raw_bytes: %llu\nfile_bytes: %llu\ncompression: %.2fx\ntemporaries: %zu\n", (unsigned long long)raw,
               (unsigned long long)file, ratio(raw, file), l.n_temps);
        fwrite(lines.p, 1, lines.n, stdout);
    }
    bbuf_free(&lines);
    shard_dir_listing_free(&l);
    return rc;
}

int cmd_stat(int argc, char **argv, int first) {
    cli_args pos;
    int rc = cli_command(&stat_cmd, NULL, argc, argv, first, NULL, &pos);
    if (rc != CLI_GO) return rc;
    if (pos.n == 0) return cli_usage_error(&stat_cmd, "no shard file or directory given");
    if (!cli_quiet) fprintf(stderr, "shards stat: paths=%d\n", pos.n);
    berr e;
    rc = 0;
    for (int a = 0; a < pos.n && !rc; a++) {
        if (a > 0) putchar('\n');
        rc = path_is_dir(pos.v[a]) ? stat_dir(pos.v[a], &e) : stat_file(pos.v[a], &e);
    }
    cli_args_free(&pos);
    if (rc) return cli_fail(stat_cmd.name, &e);
    return fflush(stdout) == 0 ? 0 : 1;
}

// ---- verify -------------------------------------------------------------------------------------------

static int verify_file(const char *path, uint32_t kind, int quiet, uint64_t *records, uint32_t *seen_kind, berr *e) {
    if (ends_with_bin(path) && llmc_tokens_sniff(path, e) == 1) {
        uint64_t n;
        if (kind && kind != SHARD_TOKENS) return berr_set(e, "%s: an llm.c token file, expected %s", path, shard_kind_name(kind));
        if (llmc_tokens_check(path, &n, e)) return -1;
        if (!quiet) printf("ok %s: llm.c token file, %llu tokens\n", path, (unsigned long long)n);
        return 0;
    }
    shard_reader *r = shard_open(path, e);
    if (!r) return -1;
    int rc = shard_verify_reader(r, kind, e);
    const shard_info *in = shard_get_info(r);
    if (!rc && !quiet)
        printf("ok %s: %llu %s records (schema %u), %u frames\n", path, (unsigned long long)in->count,
               shard_kind_name(in->kind), in->schema_version, in->frames);
    if (!rc) {
        *records += in->count;
        if (seen_kind) {
            if (*seen_kind && *seen_kind != in->kind)
                rc = berr_set(e, "%s: holds %s records, other shards of the directory hold %s", path,
                              shard_kind_name(in->kind), shard_kind_name(*seen_kind));
            *seen_kind = in->kind;
        }
    }
    shard_close(r);
    return rc;
}

static int verify_dir(const char *dir, uint32_t kind, int quiet, int *failures, uint64_t *n_shards, uint64_t *records) {
    berr e;
    int failures_before = *failures;
    shard_dir_listing l;
    if (shard_dir_list(dir, &l, &e)) {
        printf("FAIL %s\n", e.msg);
        (*failures)++;
        return 0;
    }
    uint32_t seen = 0;
    char **failed = xcalloc(l.n_shards + 1, sizeof *failed);  // paths of the shards already reported
    size_t n_failed = 0;
    for (size_t i = 0; i < l.n_shards; i++) {
        char *p = xasprintf("%s/%s", dir, l.shards[i].name);
        if (verify_file(p, kind, quiet, records, &seen, &e)) {
            printf("FAIL %s\n", e.msg);
            (*failures)++;
            failed[n_failed++] = p;
            p = NULL;
        }
        (*n_shards)++;
        free(p);
    }
    // The manifests are checked against the shards; a shard already reported broken is not
    // reported a second time for the same damage.
    if (shard_dir_check_manifests(dir, &e)) {
        int again = 0;
        for (size_t k = 0; k < n_failed && !again; k++) {
            size_t n = strlen(failed[k]);
            again = !strncmp(e.msg, failed[k], n) && (e.msg[n] == ':' || e.msg[n] == ' ');
        }
        if (!again) {
            printf("FAIL %s\n", e.msg);
            (*failures)++;
        }
    }
    for (size_t k = 0; k < n_failed; k++) free(failed[k]);
    free(failed);
    printf("%s %s: %zu shards, %s, %zu temporaries\n", *failures > failures_before ? "FAIL" : "ok", dir, l.n_shards,
           l.closed ? "closed" : "open (no CLOSED yet)", l.n_temps);
    shard_dir_listing_free(&l);
    return 0;
}

int cmd_verify(int argc, char **argv, int first) {
    verify_opts o;
    cli_args pos;
    int rc = cli_command(&verify_cmd, &o, argc, argv, first, NULL, &pos);
    if (rc != CLI_GO) return rc;
    int quiet = cli_quiet;
    uint32_t kind = o.kind ? shard_kind_from_name(o.kind) : 0;
    if (o.kind && !kind)
        rc = cli_usage_error(&verify_cmd, "--kind must be tokens, problems, trajectories, verdicts, scores or bytes, got '%s'",
                             o.kind);
    else if (pos.n == 0) rc = cli_usage_error(&verify_cmd, "no shard file or directory given");
    cli_free(&verify_table, &o);
    if (rc != CLI_GO) {
        cli_args_free(&pos);
        return rc;
    }
    if (!quiet) fprintf(stderr, "shards verify: kind=%s paths=%d\n", kind ? shard_kind_name(kind) : "any", pos.n);
    int failures = 0;
    uint64_t shards = 0, records = 0;
    for (int a = 0; a < pos.n; a++) {
        if (path_is_dir(pos.v[a])) {
            verify_dir(pos.v[a], kind, quiet, &failures, &shards, &records);
        } else {
            berr e;
            shards++;
            if (verify_file(pos.v[a], kind, quiet, &records, NULL, &e)) {
                printf("FAIL %s\n", e.msg);
                failures++;
            }
        }
    }
    printf("verified %llu files, %llu records: %s\n", (unsigned long long)shards, (unsigned long long)records,
           failures ? "FAILED" : "all ok");
    if (failures) fprintf(stderr, "shards verify: error: %d failure(s)\n", failures);
    fflush(stdout);
    cli_args_free(&pos);
    return failures ? 1 : 0;
}
