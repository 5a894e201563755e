// verify_cli.h — the `verify` executable's commands and the option handling they share.
#pragma once
#include <getopt.h>
#include <stdio.h>

#include "kernels/base.h"
#include "verify/sandbox.h"

int verify_cmd_gen(int argc, char **argv);     // problem shards (tasks_generate)
int verify_cmd_corpus(int argc, char **argv);  // the built-in text corpus (tasks_write_corpus)
int verify_cmd_check(int argc, char **argv);   // candidate file + problems -> verdict shards
int verify_cmd_run(int argc, char **argv);     // streaming: trajectory shards -> verdict shards
int verify_cmd_info(int argc, char **argv);    // sandbox layers

// Sandbox flags, shared by check, run and sandbox-info. Option values >= 1000 are theirs.
enum {
    VOPT_WORKERS = 1000, VOPT_PYTHON, VOPT_CPU, VOPT_WALL, VOPT_MEMORY, VOPT_FILE_SIZE, VOPT_OUTPUT_CAP,
    VOPT_OPEN_FILES, VOPT_PROCESSES, VOPT_SCRATCH_DIR, VOPT_SCRATCH_SIZE, VOPT_UID, VOPT_ALLOW_WEAK,
    VOPT_SANDBOX_LAST
};
#define VERIFY_SANDBOX_LONGOPTS                                                                          \
    {"workers", required_argument, 0, VOPT_WORKERS}, {"python", required_argument, 0, VOPT_PYTHON},      \
    {"cpu-seconds", required_argument, 0, VOPT_CPU}, {"wall-seconds", required_argument, 0, VOPT_WALL}, \
    {"memory", required_argument, 0, VOPT_MEMORY}, {"file-size", required_argument, 0, VOPT_FILE_SIZE}, \
    {"output-cap", required_argument, 0, VOPT_OUTPUT_CAP},                                             \
    {"open-files", required_argument, 0, VOPT_OPEN_FILES},                                             \
    {"processes", required_argument, 0, VOPT_PROCESSES},                                              \
    {"scratch-dir", required_argument, 0, VOPT_SCRATCH_DIR},                                           \
    {"scratch-size", required_argument, 0, VOPT_SCRATCH_SIZE},                                         \
    {"sandbox-uid", required_argument, 0, VOPT_UID},                                                   \
    {"allow-weak-sandbox", no_argument, 0, VOPT_ALLOW_WEAK}

void verify_sandbox_defaults(sandbox_config *c);  // sandbox_config_default + workers = 2 x CPUs
// Applies one sandbox option; returns 1 if opt was one, 0 if not, -1 on a bad value.
int verify_sandbox_opt(sandbox_config *c, int opt, const char *arg, berr *e);
void verify_sandbox_usage(FILE *f);
void verify_sandbox_echo(FILE *f, const sandbox_config *c);

// Sizes: a count with an optional K/M/G suffix (powers of 1024), e.g. "512M".
int verify_parse_bytes(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out, berr *e);

int verify_fail(const char *cmd, const berr *e);                  // prints "verify CMD: error: ..."; returns 1
int verify_usage_error(const char *cmd, const char *fmt, ...)     // prints the problem; returns 2
    __attribute__((format(printf, 2, 3)));
