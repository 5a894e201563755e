// cmd_cat.c — `shards cat`: records as JSON lines.
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shards/cmd.h"
#include "shards/records.h"
#include "shards/shard.h"
#include "shards/stream.h"
#include "shards/tokenizer.h"

typedef struct cat_opts {
    int64_t from, count;
    char *tokenizer;
} cat_opts;

#define F(x) offsetof(cat_opts, x)
static const cli_opt opt_list[] = {
    {CLI_COUNT, "from", F(from), "0", 0, 9e18, NULL, 0, "N", "skip the first N records"},
    {CLI_COUNT, "count", F(count), NULL, 0, 9e18, NULL, 0, "N", "print at most N records (default: all); N may use K/M/G"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, 0, "FILE",
     "for token records, add the decoded text (\"text\") using this berry tokenizer file"},
};
#undef F
static const cli_table table = CLI_TABLE(opt_list);
static const cli_cmd cmd = {
    "shards cat",
    "usage: shards cat [options] PATH...\n"
    "\n"
    "Prints the records of shard files and shard directories as JSON lines, one object per\n"
    "record, in order (a directory's shards by producer, then seq). Record numbers run across\n"
    "all paths given. Strings are UTF-8; a byte that is not valid UTF-8 is written as \\udcXX.\n",
    &table, 1, "example: shards cat --from 10 --count 2 data/problems\n"};

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

int cmd_cat(int argc, char **argv, int first) {
    cat_opts o;
    cli_args pos;
    unsigned char given[sizeof opt_list / sizeof opt_list[0]] = {0};
    int rc = cli_command(&cmd, &o, argc, argv, first, given, &pos);
    if (rc != CLI_GO) return rc;
    if (pos.n == 0) {
        cli_free(&table, &o);
        return cli_usage_error(&cmd, "no shard file or directory given");
    }
    int64_t from = o.from, count = cli_given(&table, given, "count") ? o.count : -1;
    const char *tok_file = o.tokenizer;
    berr e;
    char extra[32];
    snprintf(extra, sizeof extra, " paths=%d", pos.n);
    cli_echo_line(cmd.name, &table, &o, given, extra);
    cat_state st = {(uint64_t)from, count < 0 ? UINT64_MAX : (uint64_t)count, 0, NULL};
    bpe *tok = NULL;
    if (tok_file && !(tok = bpe_load(tok_file, &e))) {
        cli_free(&table, &o);
        cli_args_free(&pos);
        return cli_fail(cmd.name, &e);
    }
    st.tok = tok;
    rc = 0;
    for (int a = 0; a < pos.n && !rc; a++) {
        const char *path = pos.v[a];
        if (path_is_dir(path)) {
            shard_dir_listing l;
            rc = shard_dir_list(path, &l, &e);
            for (size_t i = 0; !rc && i < l.n_shards; i++) {
                char *p = xasprintf("%s/%s", path, l.shards[i].name);
                rc = cat_file(p, &st, &e);
                free(p);
            }
            shard_dir_listing_free(&l);  // zeroed when listing failed
        } else {
            rc = cat_file(path, &st, &e);
        }
        if (!rc && fflush(stdout) != 0) rc = berr_set(&e, "writing standard output failed");
    }
    bpe_free(tok);
    cli_free(&table, &o);
    cli_args_free(&pos);
    return rc ? cli_fail(cmd.name, &e) : 0;
}
