// cli.h — table-driven command-line options: one table per subcommand drives parsing
// (getopt_long, no abbreviations), defaults, --help, the config echo, the JSON config record,
// and the copy of the run configuration a checkpoint carries for --resume.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/base.h"

typedef enum {
    CLI_SECTION,  // a heading in --help, no value
    CLI_INT,      // int, range [lo, hi]
    CLI_COUNT,    // int64_t, range [lo, hi], K/M/G suffixes
    CLI_F64,      // double, range [lo, hi]
    CLI_STR,      // char * (malloc'd copy; NULL when unset)
    CLI_FLAG,     // int 0/1, no argument
    CLI_CHOICE,   // int index into choices (NULL-terminated)
} cli_type;

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

// Sets every option to its default.
int cli_defaults(const cli_table *t, void *st, berr *e);
// Parses argv[first..argc) ("--name value" or "--name=value"); marks given[i] for each option
// set (given has t->n entries). Positional arguments, unknown or abbreviated options and bad
// values are errors naming the option. Returns 1 if --help was given, 0 otherwise, -1 on error.
int cli_parse(const cli_table *t, void *st, int argc, char **argv, int first, unsigned char *given, berr *e);
// Sets one option from text (as if given on the command line).
int cli_set(const cli_table *t, void *st, const char *name, const char *value, berr *e);
const cli_opt *cli_find(const cli_table *t, const char *name);
// Canonical text of a value ("" for an unset string); same text parses back to the same value.
void cli_value(const cli_opt *o, const void *st, char *buf, size_t size);

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
void cli_free(const cli_table *t, void *st);  // frees strings
