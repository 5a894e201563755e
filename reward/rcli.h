// rcli.h — how every `reward` subcommand reads its command line, on kernels/train/cli.h tables.
//
// The rules (the ones every berry binary follows): long options only, "--name value" or
// "--name=value", no abbreviations (an unknown option gets "did you mean --x?" for the closest
// name); a value never starts with "--" unless written --name=--value; --help and -h print the
// command's options on stdout and exit 0; --list-options prints "--name<TAB>type" lines; every
// table has --quiet. A usage error is one line "reward <sub>: error: <message>" on stderr, exit
// status 2, and nothing created; a failure while running is "reward <sub>: error: ...", exit 1.
// This is a thin layer over cli_parse, kept small so that the shared dispatcher can replace it.
#pragma once
#include <stdio.h>

#include "kernels/train/cli.h"

typedef struct rw_cmd {
    const char *name;        // "reward train": the prefix of every message
    const char *usage;       // the --help text before the options
    const cli_table *table;  // must hold a CLI_FLAG "quiet"
} rw_cmd;

#define RW_GO (-1)
// Defaults, then argv[first..argc). Returns RW_GO when the command should run; else the exit
// status, everything printed: 0 after --help / -h / --list-options, 2 after a usage error.
// given[] (t->n entries, may be NULL) marks the options set.
int rw_parse(const rw_cmd *c, void *st, int argc, char **argv, int first, unsigned char *given);
void rw_help(FILE *f, const rw_cmd *c);
// "<name>: error: <message>" on stderr; returns 2.
int rw_usage_error(const rw_cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// "<name>: error: <e->msg>" on stderr; returns 1.
int rw_fail(const char *name, const berr *e);
// Whether option `name` was given.
int rw_given(const cli_table *t, const unsigned char *given, const char *name);
