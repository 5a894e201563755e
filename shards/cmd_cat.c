// cmd_cat.c — `shards cat`: records as JSON lines.
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "shards/cmd.h"
#include "shards/records.h"
#include "shards/shard.h"
#include "shards/stream.h"
#include "shards/tokenizer.h"

static const char *HELP =
    "usage: shards cat [options] PATH...\n"
    "\n"
    "Prints the records of shard files and shard directories as JSON lines, one object per\n"
    "record, in order (a directory's shards by producer, then seq). Record numbers run across\n"
    "all paths given. Strings are UTF-8; a byte that is not valid UTF-8 is written as \\udcXX.\n"
    "\n"
    "  --from N    skip the first N records (default 0)\n"
    "  --count N   print at most N records (default: all); N may use K/M/G\n"
    "  --tokenizer FILE  for token records, add the decoded text (\"text\") using this berry\n"
    "              tokenizer file\n"
    "  --quiet     no configuration line on stderr\n"
    "  --help      this text\n"
    "\n"
    "example: shards cat --from 10 --count 2 data/problems\n";

typedef struct cat_state {
    uint64_t skip, left;  // records still to skip, still to print
    uint64_t printed;
    const bpe *tok;       // decodes token records when set
} cat_state;

// A token record with its decoded text.
static int print_tokens_text(const bpe *tok, uint32_t schema, const uint8_t *rec, size_t len, berr *e) {
    tokens_rec t;
    if (tokens_decode(rec, len, schema, &t, e)) return -1;
    char *text;
    size_t n;
    int rc = bpe_decode(tok, t.ids, t.n, &text, &n, e);
    if (!rc) {
        printf("{\"n\":%u,\"ids\":[", t.n);
        for (uint32_t i = 0; i < t.n; i++) printf(i ? ",%u" : "%u", t.ids[i]);
        printf("],\"text\":");
        json_string(stdout, text, n);
        printf("}\n");
        free(text);
    }
    tokens_free(&t);
    return rc;
}

static int cat_file(const char *path, cat_state *st, berr *e) {
    if (st->left == 0) return 0;
    shard_reader *r = shard_open(path, e);
    if (!r) return -1;
    const shard_info *in = shard_get_info(r);
    int rc = 0;
    uint64_t i = 0;
    if (st->skip >= in->count) {
        st->skip -= in->count;
        i = in->count;
    } else {
        i = st->skip;
        st->skip = 0;
    }
    for (; i < in->count && st->left > 0; i++) {
        const uint8_t *rec;
        size_t len;
        if (shard_get(r, i, &rec, &len, e)) {
            rc = -1;
            break;
        }
        if (st->tok && in->kind == SHARD_TOKENS) {
            if (print_tokens_text(st->tok, in->schema_version, rec, len, e)) {
                rc = berr_wrap(e, "%s: record %llu", path, (unsigned long long)i);
                break;
            }
        } else if (record_print_json(stdout, in->kind, in->schema_version, rec, len, e)) {
            rc = record_refused(e, path, i, in);
            break;
        }
        st->left--;
        st->printed++;
    }
    shard_close(r);
    return rc;
}

int cmd_cat(int argc, char **argv) {
    static const struct option opts[] = {
        {"from", required_argument, 0, 'f'}, {"count", required_argument, 0, 'c'},
        {"quiet", no_argument, 0, 'q'},      {"tokenizer", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0},
    };
    int64_t from = 0, count = -1;
    int quiet = 0, c;
    const char *tok_file = NULL;
    berr e;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (parse_count("--from", optarg, 0, INT64_MAX, &from, &e)) return cmd_usage_error("cat", "%s", e.msg);
            break;
        case 'c':
            if (parse_count("--count", optarg, 0, INT64_MAX, &count, &e)) return cmd_usage_error("cat", "%s", e.msg);
            break;
        case 'q': quiet = 1; break;
        case 't': tok_file = optarg; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cmd_usage_error("cat", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cmd_usage_error("cat", "no shard file or directory given");
    if (!quiet) {
        fprintf(stderr, "shards cat: from=%lld count=", (long long)from);
        if (count < 0) fprintf(stderr, "all");
        else fprintf(stderr, "%lld", (long long)count);
        fprintf(stderr, " tokenizer=%s paths=%d\n", tok_file ? tok_file : "none", argc - optind);
    }
    cat_state st = {(uint64_t)from, count < 0 ? UINT64_MAX : (uint64_t)count, 0, NULL};
    bpe *tok = NULL;
    if (tok_file && !(tok = bpe_load(tok_file, &e))) return cmd_fail("cat", &e);
    st.tok = tok;
    for (int a = optind; a < argc; a++) {
        int rc = 0;
        if (path_is_dir(argv[a])) {
            shard_dir_listing l;
            rc = shard_dir_list(argv[a], &l, &e);
            for (size_t i = 0; !rc && i < l.n_shards; i++) {
                char *p = xasprintf("%s/%s", argv[a], l.shards[i].name);
                rc = cat_file(p, &st, &e);
                free(p);
            }
            shard_dir_listing_free(&l);  // zeroed when listing failed
        } else {
            rc = cat_file(argv[a], &st, &e);
        }
        if (fflush(stdout) != 0) {
            berr_set(&e, "writing standard output failed");
            rc = -1;
        }
        if (rc) {
            bpe_free(tok);
            return cmd_fail("cat", &e);
        }
    }
    bpe_free(tok);
    return 0;
}
