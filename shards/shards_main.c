// shards_main.c — the `shards` tool: inspect, verify and produce shard files and
// directories (see shards/README.md).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shards/cmd.h"

int path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cmd_read_input(const char *path, char **buf, size_t *len, berr *e) {
    if (strcmp(path, "-") == 0) {
        size_t cap = 1 << 16, n = 0;
        char *b = xmalloc(cap);
        for (;;) {
            if (n + 1 >= cap) b = xrealloc(b, cap *= 2);
            size_t got = fread(b + n, 1, cap - n - 1, stdin);
            n += got;
            if (got == 0) break;
        }
        if (ferror(stdin)) {
            free(b);
            return berr_set(e, "read of standard input failed");
        }
        b[n] = 0;
        *buf = b;
        *len = n;
        return 0;
    }
    if (path_is_dir(path)) return berr_set(e, "%s is a directory, not a text file", path);
    return read_file(path, buf, len, e);
}

static const cli_sub subs[] = {
    {"cat", cmd_cat, "print records as JSON lines (files or directories; --from, --count)"},
    {"stat", cmd_stat, "header fields, counts, sizes, compression; directory manifest and state"},
    {"verify", cmd_verify, "check checksums, index and every record's schema (files or directories)"},
    {"tokenize", cmd_tokenize, "text files -> token shards (with a tokenizer file)"},
    {"train-tokenizer", cmd_train_tokenizer, "corpus files -> byte-level BPE tokenizer file"},
    {"import-llmc", cmd_import_llmc, "llm.c token files (.bin) -> token shards"},
};

static const cli_prog prog = {"shards", "Formats: shards/FORMAT.md.\n", subs, (int)(sizeof subs / sizeof subs[0]), -1};

int main(int argc, char **argv) { return cli_dispatch(&prog, argc, argv); }
