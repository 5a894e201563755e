// cli.h — berry's one command-line parser. One table per command drives parsing, defaults,
// --help, the config echo, the JSON config record and the copy of the run configuration a
// checkpoint carries for --resume; a dispatcher runs the subcommands of a multi-command
// binary. Every binary and subcommand uses it, so they all behave the same. The rules (and
// tests/cli/test_conformance.sh, which holds every binary in build/bin to them) are in
// kernels/train/README.md, "Options":
//   - long options only, "--name value" or "--name=value"; no abbreviations; an unknown option
//     gets "did you mean --x?" for the closest name;
//   - a value never starts with "--" unless given as --name=--value: "--out --steps 5" is
//     "--out needs a value", as is a valued option at the end;
//   - every command has --help and -h (its own table, on stdout, exit 0), --quiet (no config
//     echo or progress lines) and --list-options (one "--name<TAB>type" line per option);
//   - errors go to stderr as "<binary> <command>: error: <message>"; exit status 2 for a usage
//     error (an unknown, missing or bad option), 1 for a failure while running.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/base.h"

typedef enum {
    CLI_SECTION,  // a heading in --help, no value
    CLI_INT,      // int, range [lo, hi]
    CLI_COUNT,    // int64_t, range [lo, hi], K/M/G suffixes (powers of 1000)
    CLI_F64,      // double, range [lo, hi]
    CLI_STR,      // char * (malloc'd copy; NULL when unset)
    CLI_FLAG,     // int 0/1, no argument
    CLI_CHOICE,   // int index into choices (NULL-terminated)
    CLI_BYTES,    // int64_t bytes, range [lo, hi]: 512M, 16G, 1.5G, 64KiB (K/M/G/T: powers of 1024)
    CLI_LIST,     // cli_list: a string option that may be repeated, each value appended
} cli_type;

typedef struct cli_list {
    char **v;
    int n;
} cli_list;

// What --resume does with an option's stored value.
enum {
    CLI_LOCAL = 0,  // not stored: this invocation's value
    CLI_KEEP = 1,   // stored; giving a different value on resume is an error
    CLI_FREE = 2,   // stored; the command line may override it on resume
};

typedef struct cli_opt {
    cli_type type;
    const char *name;  // long option, without "--"
    size_t off;        // offsetof the field in the options struct
    const char *def;   // default, parsed like a command-line value (NULL: unset / 0)
    double lo, hi;     // ranges for numbers
    const char *const *choices;
    int resume;
    const char *meta;  // argument placeholder in --help
    const char *help;
} cli_opt;

typedef struct cli_table {
    const cli_opt *opts;
    int n;
} cli_table;

#define CLI_TABLE(list) {list, (int)(sizeof list / sizeof list[0])}

// Positional arguments (pointers into argv; v is malloc'd: cli_args_free).
typedef struct cli_args {
    char **v;
    int n;
} cli_args;
void cli_args_free(cli_args *a);

// Set by the parser: --quiet was given (no config echo, no progress lines).
extern int cli_quiet;

// ---- a command: parse, help, errors -----------------------------------------------------------
typedef struct cli_cmd {
    const char *name;        // "verify gen", "rollout": what messages start with
    const char *usage;       // the --help text before the option list ("usage: verify gen --out DIR [options]\n...")
    const cli_table *table;  // its options (NULL: none but the standard ones)
    int positional;          // 1: arguments that are not options are returned in cli_args; 0: refused
    const char *footer;      // --help text after the option list (NULL: none)
} cli_cmd;

#define CLI_GO (-1)
// Parses argv[first..argc) for command c into st (defaults first); given[] (t->n entries, may
// be NULL) marks the options set, pos (may be NULL when c->positional is 0) gets the
// positional arguments. Returns CLI_GO when the command should run; otherwise the exit status
// with everything printed: 0 after --help, -h or --list-options (stdout), 2 after a usage
// error (stderr). Also makes c->name the prefix of die() and cli_fail() messages.
int cli_command(const cli_cmd *c, void *st, int argc, char **argv, int first, unsigned char *given, cli_args *pos);
void cli_command_help(FILE *f, const cli_cmd *c);
// What --list-options prints: "--name<TAB>type" (type: int, count, bytes, number, string,
// flag, choice, list), the standard options included.
void cli_list_options(FILE *f, const cli_table *t);
// "<name>: error: <msg> (see <name> --help)" on stderr; returns 2 (the status of a usage error).
int cli_usage_error(const cli_cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// "<name>: error: <msg>" on stderr; returns 1 (the status of a failure while running).
int cli_fail(const char *name, const berr *e);
// Whether option `name` of t was given (given[] from cli_command / cli_parse).
int cli_given(const cli_table *t, const unsigned char *given, const char *name);
// One config line on stderr unless --quiet: "<name>: opt=value opt=value ...<extra>"; an option
// without a default that was not given shows "-".
void cli_echo_line(const char *name, const cli_table *t, const void *st, const unsigned char *given, const char *extra);

// ---- checks of paths, before any work (messages name the option) -------------------------------
// An input directory must exist (a streaming stage would otherwise wait for it for ever).
int cli_check_input_dir(const char *opt, const char *path, berr *e);
// An output file: not a directory; its directory exists and is writable.
int cli_check_output_file(const char *opt, const char *path, berr *e);
// An output directory: a writable directory, or creatable (its nearest existing ancestor is a
// writable directory).
int cli_check_output_dir(const char *opt, const char *path, berr *e);

// ---- subcommands ---------------------------------------------------------------------------------
typedef struct cli_sub {
    const char *name;
    int (*main)(int argc, char **argv, int first);  // options start at argv[first]
    const char *summary;                            // one line for the command list
} cli_sub;

typedef struct cli_prog {
    const char *name;   // "verify"
    const char *about;  // a paragraph after the command list (NULL: none)
    const cli_sub *subs;
    int n;
    int default_sub;    // the sub run when the first argument is an option (-1: none)
} cli_prog;

// Runs the subcommand argv[1]: `X SUB ...`; `X help`, `X --help`, `X -h` (the list, exit 0);
// `X help SUB` (= `X SUB --help`); `X --list-commands` (the names, one a line); `X` alone
// (the list on stderr, exit 2); an unknown command gets "did you mean".
int cli_dispatch(const cli_prog *p, int argc, char **argv);

// ---- the table engine -------------------------------------------------------------------------
// Sets every option to its default (0 / NULL / empty where it has none).
int cli_defaults(const cli_table *t, void *st, berr *e);
// Parses argv[first..argc) ("--name value" or "--name=value"); marks given[i] for each option
// set (given has t->n entries). Unknown or abbreviated options, missing and bad values are
// errors naming the option; positional arguments are returned in *pos, or are errors when pos
// is NULL. Returns 1 if --help or -h was given, 2 for --list-options, 0 otherwise, -1 on error.
int cli_parse_args(const cli_table *t, void *st, int argc, char **argv, int first, unsigned char *given, cli_args *pos,
                   berr *e);
int cli_parse(const cli_table *t, void *st, int argc, char **argv, int first, unsigned char *given, berr *e);
// Sets one option from text (as if given on the command line).
int cli_set(const cli_table *t, void *st, const char *name, const char *value, berr *e);
const cli_opt *cli_find(const cli_table *t, const char *name);
// Canonical text of a value ("" for an unset string); same text parses back to the same value.
void cli_value(const cli_opt *o, const void *st, char *buf, size_t size);
// "512M"-style text of a byte count (exact: "1536K" rather than "1.5M"), for messages.
void cli_format_bytes(int64_t v, char *buf, size_t size);

void cli_help(FILE *f, const cli_table *t, const char *usage);
// "  name  value" lines for every option (the config echo).
void cli_echo(FILE *f, const cli_table *t, const void *st);
// "name": value pairs (no braces), for a JSON record.
void cli_json_fields(FILE *f, const cli_table *t, const void *st);
// "name=value\n" for every option whose resume mode is not CLI_LOCAL.
void cli_serialize(bbuf *out, const cli_table *t, const void *st);
// Reads serialize()'s text back, setting each option; unknown names are an error.
int cli_deserialize(const cli_table *t, void *st, const char *text, size_t len, berr *e);
// --resume: the stored options (serialize()'s text) become the defaults, the command line
// (cmd, parsed with given[]) is applied over them: CLI_LOCAL options and given CLI_FREE ones
// take the command line's value; a given CLI_KEEP option must equal the stored one. Into *out.
int cli_merge_resume(const cli_table *t, const void *cmd, const unsigned char *given, const char *stored, size_t stored_len,
                     void *out, berr *e);
void cli_free(const cli_table *t, void *st);  // frees strings and lists
