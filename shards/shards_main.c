// shards_main.c — the `shards` tool: inspect, verify and produce shard files and
// directories (see shards/README.md).
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shards/cmd.h"

static const char *USAGE =
    "usage: shards <command> [options] [args]\n"
    "\n"
    "Commands:\n"
    "  cat              print records as JSON lines (files or directories; --from, --count)\n"
    "  stat             header fields, counts, sizes, compression; directory manifest and state\n"
    "  verify           check checksums, index and every record's schema (files or directories)\n"
    "  tokenize         text files -> token shards (with a tokenizer file)\n"
    "  train-tokenizer  corpus files -> byte-level BPE tokenizer file\n"
    "  import-llmc      llm.c token files (.bin) -> token shards\n"
    "\n"
    "`shards <command> --help` describes each. Formats: shards/FORMAT.md.\n";

int path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cmd_fail(const char *sub, const berr *e) {
    fprintf(stderr, "shards %s: error: %s\n", sub, e->msg);
    return 1;
}

int cmd_usage_error(const char *sub, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "shards %s: ", sub);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; see shards %s --help\n", sub);
    va_end(ap);
    return 2;
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

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"cat", cmd_cat},           {"stat", cmd_stat},
        {"verify", cmd_verify},     {"tokenize", cmd_tokenize},
        {"train-tokenizer", cmd_train_tokenizer}, {"import-llmc", cmd_import_llmc},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(c, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "shards: unknown command '%s'\n\n%s", c, USAGE);
    return 2;
}
