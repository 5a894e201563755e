// cli.c — the option-table engine (see cli.h).
#include "kernels/train/cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


#define FIELD(st, o, T) ((T *)((char *)(st) + (o)->off))
#define CFIELD(st, o, T) ((const T *)((const char *)(st) + (o)->off))

const cli_opt *cli_find(const cli_table *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (t->opts[i].type != CLI_SECTION && strcmp(t->opts[i].name, name) == 0) return &t->opts[i];
    return NULL;
}

static int set_value(const cli_opt *o, void *st, const char *v, berr *e) {
    char flag[96];
    snprintf(flag, sizeof flag, "--%s", o->name);
    switch (o->type) {
    case CLI_INT: {
        int x;
        if (parse_int(flag, v, (int)o->lo, (int)o->hi, &x, e)) return -1;
        *FIELD(st, o, int) = x;
        return 0;
    }
    case CLI_COUNT: {
        int64_t x;
        if (parse_count(flag, v, (int64_t)o->lo, (int64_t)o->hi, &x, e)) return -1;
        *FIELD(st, o, int64_t) = x;
        return 0;
    }
    case CLI_F64: {
        double x;
        if (parse_f64(flag, v, o->lo, o->hi, &x, e)) return -1;
        *FIELD(st, o, double) = x;
        return 0;
    }
    case CLI_STR: {
        if (!v || !*v) return berr_set(e, "%s needs a value", flag);
        if (strchr(v, '\n')) return berr_set(e, "%s: a value with a newline is not accepted", flag);
        char **p = FIELD(st, o, char *);
        free(*p);
        *p = xstrdup(v);
        return 0;
    }
    case CLI_FLAG: {
        if (!v || strcmp(v, "1") == 0) *FIELD(st, o, int) = 1;
        else if (strcmp(v, "0") == 0) *FIELD(st, o, int) = 0;
        else return berr_set(e, "%s takes no value (got '%s')", flag, v);
        return 0;
    }
    case CLI_CHOICE: {
        for (int k = 0; o->choices[k]; k++)
            if (v && strcmp(v, o->choices[k]) == 0) {
                *FIELD(st, o, int) = k;
                return 0;
            }
        char list[256] = "";
        for (int k = 0; o->choices[k]; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", o->choices[k]);
        return berr_set(e, "%s must be one of %s, got '%s'", flag, list, v ? v : "");
    }
    case CLI_SECTION: break;
    }
    return berr_set(e, "%s: internal: bad option type", flag);
}

int cli_set(const cli_table *t, void *st, const char *name, const char *value, berr *e) {
    const cli_opt *o = cli_find(t, name);
    if (!o) return berr_set(e, "unknown option --%s", name);
    return set_value(o, st, value, e);
}

int cli_defaults(const cli_table *t, void *st, berr *e) {
    for (int i = 0; i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION) continue;
        if (o->type == CLI_STR) *FIELD(st, o, char *) = NULL;
        if (o->def && set_value(o, st, o->def, e)) return berr_wrap(e, "default of --%s", o->name);
    }
    return 0;
}

int cli_parse(const cli_table *t, void *st, int argc, char **argv, int first, unsigned char *given, berr *e) {
    struct option *lo = xcalloc((size_t)t->n + 2, sizeof *lo);
    int *index_of = xcalloc((size_t)t->n + 2, sizeof *index_of);
    int k = 0;
    for (int i = 0; i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION) continue;
        lo[k] = (struct option){o->name, o->type == CLI_FLAG ? no_argument : required_argument, NULL, 0};
        index_of[k++] = i;
    }
    lo[k] = (struct option){"help", no_argument, NULL, 0};
    index_of[k++] = -1;
    int rc = 0;
    // getopt_long sees argv[first-1..argc) as its whole argv (optind = 0 re-initialises it);
    // "+" stops at the first positional argument, ":" reports a missing value as ':'.
    char **av = argv + first - 1;
    int ac = argc - first + 1;
    optind = 0;
    opterr = 0;
    for (;;) {
        int at = optind ? optind : 1, li = -1;
        int c = getopt_long(ac, av, "+:h", lo, &li);
        if (c == -1) break;
        const char *tok = at < ac ? av[at] : "";
        if (c == 'h') {
            rc = 1;
            break;
        }
        if (c == '?' || c == ':') {
            const char *eq = strchr(tok, '=');
            const cli_opt *o = NULL;
            if (eq && strncmp(tok, "--", 2) == 0) {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)(eq - tok - 2), tok + 2);
                o = cli_find(t, name);
            }
            if (c == ':') rc = berr_set(e, "option %s needs a value", tok);
            else if (o && o->type == CLI_FLAG) rc = berr_set(e, "--%s takes no value (got '%s')", o->name, tok);
            else rc = berr_set(e, "unknown option '%s' (see --help)", tok);
            break;
        }
        // getopt_long accepts unique prefixes; berry does not (a typo must not pick an option).
        size_t nl = strlen(lo[li].name);
        if (strncmp(tok, "--", 2) != 0 || strncmp(tok + 2, lo[li].name, nl) != 0 || (tok[2 + nl] && tok[2 + nl] != '=')) {
            rc = berr_set(e, "unknown option '%s' (abbreviations are not accepted; did you mean --%s?)", tok, lo[li].name);
            break;
        }
        int i = index_of[li];
        if (i < 0) {
            rc = 1;
            break;
        }
        if (set_value(&t->opts[i], st, optarg, e)) {
            rc = -1;
            break;
        }
        if (given) given[i] = 1;
    }
    if (rc == 0 && optind < ac) rc = berr_set(e, "unexpected argument '%s' (options are --name value)", av[optind]);
    free(lo);
    free(index_of);
    return rc;
}

void cli_value(const cli_opt *o, const void *st, char *buf, size_t size) {
    switch (o->type) {
    case CLI_INT: case CLI_FLAG: snprintf(buf, size, "%d", *CFIELD(st, o, int)); break;
    case CLI_COUNT: snprintf(buf, size, "%lld", (long long)*CFIELD(st, o, int64_t)); break;
    case CLI_F64: snprintf(buf, size, "%.17g", *CFIELD(st, o, double)); break;
    case CLI_STR: snprintf(buf, size, "%s", *CFIELD(st, o, char *) ? *CFIELD(st, o, char *) : ""); break;
    case CLI_CHOICE: snprintf(buf, size, "%s", o->choices[*CFIELD(st, o, int)]); break;
    case CLI_SECTION: buf[0] = 0; break;
    }
}

// The short form for humans: %g for doubles.
static void human_value(const cli_opt *o, const void *st, char *buf, size_t size) {
    if (o->type == CLI_F64) snprintf(buf, size, "%g", *CFIELD(st, o, double));
    else if (o->type == CLI_STR && !*CFIELD(st, o, char *)) snprintf(buf, size, "-");
    else cli_value(o, st, buf, size);
}

void cli_help(FILE *f, const cli_table *t, const char *usage) {
    fputs(usage, f);
    for (int i = 0; i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION) {
            fprintf(f, "\n%s:\n", o->help);
            continue;
        }
        char left[96];
        if (o->type == CLI_FLAG) snprintf(left, sizeof left, "--%s", o->name);
        else snprintf(left, sizeof left, "--%s %s", o->name, o->meta ? o->meta : "N");
        fprintf(f, "  %-26s %s", left, o->help);
        if (o->def && o->type != CLI_FLAG) fprintf(f, " [%s]", o->def);
        fputc('\n', f);
    }
    fprintf(f, "  %-26s %s\n", "--help", "this text");
}

void cli_echo(FILE *f, const cli_table *t, const void *st) {
    char v[4096];
    for (int i = 0; i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION) continue;
        human_value(o, st, v, sizeof v);
        fprintf(f, "  %-18s %s\n", o->name, v);
    }
}

void cli_json_fields(FILE *f, const cli_table *t, const void *st) {
    char v[4096];
    int first = 1;
    for (int i = 0; i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION) continue;
        fprintf(f, "%s\"%s\": ", first ? "" : ", ", o->name);
        first = 0;
        if (o->type == CLI_STR || o->type == CLI_CHOICE) {
            if (o->type == CLI_STR && !*CFIELD(st, o, char *)) {
                fputs("null", f);
                continue;
            }
            cli_value(o, st, v, sizeof v);
            json_string(f, v, strlen(v));
        } else {
            cli_value(o, st, v, sizeof v);
            if (o->type == CLI_F64 && !isfinite(*CFIELD(st, o, double))) fputs("null", f);
            else fputs(v, f);
        }
    }
}

void cli_serialize(bbuf *out, const cli_table *t, const void *st) {
    char v[4096];
    for (int i = 0; i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION || o->resume == CLI_LOCAL) continue;
        cli_value(o, st, v, sizeof v);
        bbuf_put(out, o->name, strlen(o->name));
        bbuf_u8(out, '=');
        bbuf_put(out, v, strlen(v));
        bbuf_u8(out, '\n');
    }
}

int cli_deserialize(const cli_table *t, void *st, const char *text, size_t len, berr *e) {
    size_t i = 0;
    int line = 0;
    while (i < len) {
        line++;
        const char *nl = memchr(text + i, '\n', len - i);
        if (!nl) return berr_set(e, "stored options: line %d is not terminated", line);
        size_t n = (size_t)(nl - (text + i));
        char *ln = xmalloc(n + 1);
        memcpy(ln, text + i, n);
        ln[n] = 0;
        i += n + 1;
        char *eq = strchr(ln, '=');
        if (!eq) {
            free(ln);
            return berr_set(e, "stored options: line %d has no '='", line);
        }
        *eq = 0;
        const cli_opt *o = cli_find(t, ln);
        int rc = 0;
        if (!o) rc = berr_set(e, "stored options: unknown option '%s' (written by another version?)", ln);
        else if (o->type == CLI_STR && !eq[1]) {
            free(*FIELD(st, o, char *));
            *FIELD(st, o, char *) = NULL;
        } else if (set_value(o, st, eq + 1, e)) rc = berr_wrap(e, "stored options, line %d", line);
        free(ln);
        if (rc) return -1;
    }
    return 0;
}

void cli_free(const cli_table *t, void *st) {
    for (int i = 0; i < t->n; i++)
        if (t->opts[i].type == CLI_STR) {
            free(*FIELD(st, &t->opts[i], char *));
            *FIELD(st, &t->opts[i], char *) = NULL;
        }
}

int cli_merge_resume(const cli_table *t, const void *cmd, const unsigned char *given, const char *stored, size_t stored_len,
                     void *out, berr *e) {
    if (cli_defaults(t, out, e) || cli_deserialize(t, out, stored, stored_len, e)) return -1;
    char a[4096], b[4096];
    for (int i = 0; i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION) continue;
        cli_value(o, cmd, a, sizeof a);
        if (o->resume == CLI_LOCAL || (o->resume == CLI_FREE && given[i])) {
            if (o->type == CLI_STR && !a[0]) {
                char **f = (char **)((char *)out + o->off);
                free(*f);
                *f = NULL;
            } else if (cli_set(t, out, o->name, a, e)) return -1;
        } else if (o->resume == CLI_KEEP && given[i]) {
            cli_value(o, out, b, sizeof b);
            if (strcmp(a, b) != 0)
                return berr_set(e, "--%s %s differs from the resumed run's %s: a resumed run keeps its configuration "
                                   "(start a new run with --init-from to change it)", o->name, a, b[0] ? b : "(unset)");
        }
    }
    return 0;
}
