// verify_cli.h — the `verify` executable's commands and the sandbox options they share
// (options are parsed by kernels/train/cli.h, like every berry command).
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "kernels/base.h"
#include "kernels/train/cli.h"
#include "verify/sandbox.h"

// Each takes argv with its options starting at argv[first] and returns the exit status.
int verify_cmd_gen(int argc, char **argv, int first);     // problem shards (tasks_generate)
int verify_cmd_import(int argc, char **argv, int first);  // JSON-lines problems -> problem shards (verify_import.c)
int verify_cmd_corpus(int argc, char **argv, int first);  // the built-in text corpus (tasks_write_corpus)
int verify_cmd_check(int argc, char **argv, int first);   // candidate file + problems -> verdict shards
int verify_cmd_run(int argc, char **argv, int first);     // streaming: trajectory shards -> verdict shards
int verify_cmd_info(int argc, char **argv, int first);    // sandbox layers

// The sandbox options of check, run and sandbox-info: a member `m` of the command's options
// struct T, and its table entries (VERIFY_SANDBOX_OPTS(T, m) inside the command's cli_opt list).
typedef struct verify_sandbox_opts {
    int workers;  // 0: not given (2 per CPU; sandbox-info: 1)
    char *python, *scratch_dir;
    double cpu_seconds, wall_seconds;
    int64_t memory, file_size, output_cap, scratch_size;
    int open_files, processes, sandbox_uid, allow_weak;
} verify_sandbox_opts;

#define VOPT_(T, m, f) offsetof(T, m) + offsetof(verify_sandbox_opts, f)
#define VERIFY_SANDBOX_OPTS(T, m)                                                                                         \
    {CLI_SECTION, NULL, 0, NULL, 0, 0, NULL, 0, NULL, "Sandbox (code checks)"},                                            \
    {CLI_INT, "workers", VOPT_(T, m, workers), NULL, 1, 256, NULL, 0, "N", "sandbox worker processes (default: 2 per CPU)"}, \
    {CLI_STR, "python", VOPT_(T, m, python), NULL, 0, 0, NULL, 0, "PATH",                                                  \
     "interpreter for candidates (default: python3 on PATH; shims are resolved)"},                                        \
    {CLI_F64, "cpu-seconds", VOPT_(T, m, cpu_seconds), "2", 0.001, 3600, NULL, 0, "S",                                   \
     "CPU limit per check, rounded up to whole seconds"},                                                                 \
    {CLI_F64, "wall-seconds", VOPT_(T, m, wall_seconds), "4", 0.001, 3600, NULL, 0, "S", "wall-clock limit per check"},   \
    {CLI_BYTES, "memory", VOPT_(T, m, memory), "512M", 64 << 20, 1099511627776.0, NULL, 0, "SIZE",                        \
     "address-space limit per check"},                                                                                    \
    {CLI_BYTES, "file-size", VOPT_(T, m, file_size), "16M", 0, 1099511627776.0, NULL, 0, "SIZE",                           \
     "largest file a check may write"},                                                                                   \
    {CLI_BYTES, "output-cap", VOPT_(T, m, output_cap), "1M", 1, 1073741824.0, NULL, 0, "SIZE",                             \
     "stdout+stderr per check; more is a violation"},                                                                    \
    {CLI_INT, "open-files", VOPT_(T, m, open_files), "64", 8, 4096, NULL, 0, "N", "open-file limit per check"},           \
    {CLI_INT, "processes", VOPT_(T, m, processes), "32", 4, 4096, NULL, 0, "N", "process/thread limit per worker uid"},   \
    {CLI_BYTES, "scratch-size", VOPT_(T, m, scratch_size), "64M", 1 << 20, 17179869184.0, NULL, 0, "SIZE",                 \
     "tmpfs scratch per worker"},                                                                                         \
    {CLI_STR, "scratch-dir", VOPT_(T, m, scratch_dir), NULL, 0, 0, NULL, 0, "DIR",                                         \
     "host directory for scratch when there is no mount namespace (default $TMPDIR or /tmp)"},                           \
    {CLI_INT, "sandbox-uid", VOPT_(T, m, sandbox_uid), "65534", 1, 2147483646, NULL, 0, "N",                              \
     "outside uid/gid of the workers when run as root"},                                                                 \
    {CLI_FLAG, "allow-weak-sandbox", VOPT_(T, m, allow_weak), NULL, 0, 0, NULL, 0, NULL,                                   \
     "run even if some sandbox layers cannot be set up (they are listed)"}

// sandbox_config_default, then the options (workers 0: 2 per CPU). The config points into o.
void verify_sandbox_config(const verify_sandbox_opts *o, sandbox_config *c);
void verify_sandbox_echo(FILE *f, const sandbox_config *c);  // (nothing with --quiet)
