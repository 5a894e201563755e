// cmd.h — the subcommands of the `shards` tool (shards_main.c dispatches to them). Each takes
// argv with its options and arguments starting at argv[first] and returns the process exit
// status; options are parsed by kernels/train/cli.h, like every berry command.
#pragma once
#include <stdint.h>

#include "kernels/base.h"
#include "kernels/train/cli.h"

int cmd_cat(int argc, char **argv, int first);
int cmd_stat(int argc, char **argv, int first);
int cmd_verify(int argc, char **argv, int first);
int cmd_import_llmc(int argc, char **argv, int first);
int cmd_tokenize(int argc, char **argv, int first);
int cmd_train_tokenizer(int argc, char **argv, int first);

// Shared helpers (shards_main.c).
int path_is_dir(const char *path);
// Reads a whole input file for tokenizing/training ("-" is stdin).
int cmd_read_input(const char *path, char **buf, size_t *len, berr *e);
