// cmd.h — the subcommands of the `shards` tool (shards_main.c dispatches to them).
// Each takes the arguments after the subcommand name (argv[0] is the subcommand) and
// returns the process exit status.
#pragma once
#include <stdint.h>

#include "kernels/base.h"

int cmd_cat(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_import_llmc(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_train_tokenizer(int argc, char **argv);

// Shared helpers (shards_main.c).
int path_is_dir(const char *path);
// Prints "shards <sub>: error: <msg>" and returns 1 (the exit status for a failure).
int cmd_fail(const char *sub, const berr *e);
// Prints "shards <sub>: <msg>; see shards <sub> --help" and returns 2 (bad usage).
int cmd_usage_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Reads a whole input file for tokenizing/training ("-" is stdin).
int cmd_read_input(const char *path, char **buf, size_t *len, berr *e);
