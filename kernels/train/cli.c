// cli.c — the option-table engine, the command wrapper and the subcommand dispatcher (see
// cli.h; the rules are in kernels/train/README.md, "Options").
#include "kernels/train/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIELD(st, o, T) ((T *)((char *)(st) + (o)->off))
#define CFIELD(st, o, T) ((const T *)((const char *)(st) + (o)->off))

int cli_quiet;

// The options every command has besides its table.
static const char *const std_names[] = {"help", "quiet", "list-options"};
enum { N_STD = 3 };

const cli_opt *cli_find(const cli_table *t, const char *name) {
    for (int i = 0; t && i < t->n; i++)
        if (t->opts[i].type != CLI_SECTION && strcmp(t->opts[i].name, name) == 0) return &t->opts[i];
    return NULL;
}

void cli_args_free(cli_args *a) {
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

// ---- byte sizes ----------------------------------------------------------------------------------

static int parse_bytes(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out, berr *e) {
    if (!s || !*s) return berr_set(e, "%s needs a size in bytes such as 512M or 16G, got an empty value", flag);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double mul = 1;
    if (end != s) {
        switch (*end) {
        case 'K': case 'k': mul = 1024.0, end++; break;
        case 'M': case 'm': mul = 1048576.0, end++; break;
        case 'G': case 'g': mul = 1073741824.0, end++; break;
        case 'T': case 't': mul = 1099511627776.0, end++; break;
        }
        if (mul > 1 && end[0] == 'i' && end[1] == 'B') end += 2;
        else if (*end == 'B') end++;
    }
    if (end == s || *end || errno || !isfinite(v) || v < 0 || s[0] == '+' || s[0] == ' ' || strchr(s, 'x') ||
        strchr(s, 'X') || strchr(s, 'e') || strchr(s, 'E'))
        return berr_set(e, "%s needs a size in bytes such as 512M, 16G or 1048576 (K, M, G, T: powers of 1024), got '%s'",
                        flag, s);
    double b = v * mul;
    if (b > 9.0e18) return berr_set(e, "%s: %s is too large", flag, s);
    if (b != floor(b)) return berr_set(e, "%s: %s is not a whole number of bytes", flag, s);
    int64_t x = (int64_t)b;
    if (x < lo || x > hi) {
        char a[32], c[32];
        cli_format_bytes(lo, a, sizeof a);
        cli_format_bytes(hi, c, sizeof c);
        return berr_set(e, "%s must be between %s and %s bytes, got %s", flag, a, c, s);
    }
    *out = x;
    return 0;
}

void cli_format_bytes(int64_t v, char *buf, size_t size) {
    static const char units[] = "KMGTP";
    int u = -1;
    while (v != 0 && u < 4 && v % 1024 == 0) v /= 1024, u++;
    if (u < 0) snprintf(buf, size, "%lld", (long long)v);
    else snprintf(buf, size, "%lld%c", (long long)v, units[u]);
}

// ---- values ---------------------------------------------------------------------------------------

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
    case CLI_BYTES: {
        int64_t x = 0;
        if (parse_bytes(flag, v, (int64_t)o->lo, (int64_t)o->hi, &x, e)) return -1;
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
    case CLI_LIST: {
        if (!v || !*v) return berr_set(e, "%s needs a value", flag);
        cli_list *l = FIELD(st, o, cli_list);
        l->v = xrealloc(l->v, (size_t)(l->n + 1) * sizeof *l->v);
        l->v[l->n++] = xstrdup(v);
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

static void list_free(cli_list *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int cli_defaults(const cli_table *t, void *st, berr *e) {
    for (int i = 0; t && i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION) continue;
        switch (o->type) {  // an option without a default is unset / 0
        case CLI_STR: *FIELD(st, o, char *) = NULL; break;
        case CLI_LIST: *FIELD(st, o, cli_list) = (cli_list){0}; break;
        case CLI_INT: case CLI_FLAG: case CLI_CHOICE: *FIELD(st, o, int) = 0; break;
        case CLI_COUNT: case CLI_BYTES: *FIELD(st, o, int64_t) = 0; break;
        case CLI_F64: *FIELD(st, o, double) = 0; break;
        case CLI_SECTION: break;
        }
        if (o->def && set_value(o, st, o->def, e)) return berr_wrap(e, "default of --%s", o->name);
    }
    return 0;
}

// ---- suggestions ------------------------------------------------------------------------------------

// Optimal string alignment distance (Levenshtein with adjacent transpositions).
static int edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) return 1000;
    int d[65][65];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int c = a[i - 1] != b[j - 1];
            int x = d[i - 1][j] + 1, y = d[i][j - 1] + 1, z = d[i - 1][j - 1] + c;
            int best = x < y ? x : y;
            if (z < best) best = z;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

// The closest of names[0..n) to `word` when it is close enough to be a typo, else NULL.
static const char *closest(const char *word, const char *const *names, int n) {
    const char *best = NULL;
    int bd = 1000;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(word, names[i]);
        if (d < bd) bd = d, best = names[i];
    }
    int len = (int)strlen(word);
    int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    return bd <= limit ? best : NULL;
}

// Every option name of t and the standard ones (a malloc'd array of borrowed pointers).
static const char **all_names(const cli_table *t, int *n) {
    const char **v = xcalloc((size_t)(t ? t->n : 0) + N_STD, sizeof *v);
    int k = 0;
    for (int i = 0; t && i < t->n; i++)
        if (t->opts[i].type != CLI_SECTION) v[k++] = t->opts[i].name;
    for (int i = 0; i < N_STD; i++) v[k++] = std_names[i];
    *n = k;
    return v;
}

static int unknown_option(const cli_table *t, const char *tok, const char *name, berr *e) {
    int n;
    const char **names = all_names(t, &n);
    // A prefix of some names: an abbreviation.
    char list[512] = "";
    int np = 0;
    size_t nl = strlen(name);
    for (int i = 0; i < n && nl > 0; i++)
        if (strncmp(names[i], name, nl) == 0) {
            if (np < 4)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s--%s", np ? " or " : "", names[i]);
            np++;
        }
    int rc;
    if (np) {
        rc = berr_set(e, "unknown option '%s' (abbreviations are not accepted; did you mean %s?)", tok, list);
    } else {
        const char *c = closest(name, names, n);
        if (c) rc = berr_set(e, "unknown option '%s'; did you mean --%s?", tok, c);
        else rc = berr_set(e, "unknown option '%s'", tok);
    }
    free(names);
    return rc;
}

// ---- parsing ------------------------------------------------------------------------------------------

static int is_option_word(const char *s) { return s[0] == '-' && s[1] == '-' && s[2]; }

int cli_parse_args(const cli_table *t, void *st, int argc, char **argv, int first, unsigned char *given, cli_args *pos,
                   berr *e) {
    if (pos) *pos = (cli_args){0};
    int only_positional = 0;
    for (int a = first; a < argc; a++) {
        const char *tok = argv[a];
        if (only_positional || tok[0] != '-' || tok[1] == 0) {  // "-" is a positional (standard input)
            if (!pos) {
                berr_set(e, "unexpected argument '%s' (options are --name value)", tok);
                goto fail;
            }
            pos->v = xrealloc(pos->v, (size_t)(pos->n + 1) * sizeof *pos->v);
            pos->v[pos->n++] = argv[a];
            continue;
        }
        if (strcmp(tok, "--") == 0) {
            if (!pos) {
                berr_set(e, "unexpected argument '--' (this command takes no arguments but options)");
                goto fail;
            }
            only_positional = 1;
            continue;
        }
        if (strcmp(tok, "-h") == 0) return 1;
        if (tok[1] != '-') {  // a single dash: berry has long options only
            const cli_opt *o = cli_find(t, tok + 1);
            if (o || !strcmp(tok + 1, "help") || !strcmp(tok + 1, "quiet"))
                berr_set(e, "unknown option '%s'; did you mean --%s?", tok, tok + 1);
            else berr_set(e, "unknown option '%s' (options are --name value)", tok);
            goto fail;
        }
        char name[128];
        const char *eq = strchr(tok, '=');
        size_t nl = eq ? (size_t)(eq - tok - 2) : strlen(tok + 2);
        snprintf(name, sizeof name, "%.*s", (int)nl, tok + 2);
        const char *inline_value = eq ? eq + 1 : NULL;
        if (!strcmp(name, "help") || !strcmp(name, "quiet") || !strcmp(name, "list-options")) {
            if (inline_value) {
                berr_set(e, "--%s takes no value (got '%s')", name, tok);
                goto fail;
            }
            if (!strcmp(name, "help")) return 1;
            if (!strcmp(name, "list-options")) return 2;
            cli_quiet = 1;
            continue;
        }
        const cli_opt *o = cli_find(t, name);
        if (!o) {
            char shown[140];  // (the message names the option, not its value)
            snprintf(shown, sizeof shown, "--%s", name);
            unknown_option(t, shown, name, e);
            goto fail;
        }
        const char *value = NULL;
        if (o->type == CLI_FLAG) {
            if (inline_value) {
                berr_set(e, "--%s takes no value (got '%s')", o->name, tok);
                goto fail;
            }
        } else if (inline_value) {
            value = inline_value;
        } else {
            if (a + 1 >= argc || is_option_word(argv[a + 1])) {
                if (a + 1 >= argc) berr_set(e, "--%s needs a value", o->name);
                else
                    berr_set(e, "--%s needs a value ('%s' is an option; write --%s=%s if it is the value)",
                             o->name, argv[a + 1], o->name, argv[a + 1]);
                goto fail;
            }
            value = argv[++a];
        }
        if (set_value(o, st, value, e)) goto fail;
        if (given) given[o - t->opts] = 1;
    }
    return 0;
fail:
    if (pos) cli_args_free(pos);
    return -1;
}

int cli_parse(const cli_table *t, void *st, int argc, char **argv, int first, unsigned char *given, berr *e) {
    return cli_parse_args(t, st, argc, argv, first, given, NULL, e);
}

void cli_value(const cli_opt *o, const void *st, char *buf, size_t size) {
    switch (o->type) {
    case CLI_INT: case CLI_FLAG: snprintf(buf, size, "%d", *CFIELD(st, o, int)); break;
    case CLI_COUNT: case CLI_BYTES: snprintf(buf, size, "%lld", (long long)*CFIELD(st, o, int64_t)); break;
    case CLI_F64: snprintf(buf, size, "%.17g", *CFIELD(st, o, double)); break;
    case CLI_STR: snprintf(buf, size, "%s", *CFIELD(st, o, char *) ? *CFIELD(st, o, char *) : ""); break;
    case CLI_CHOICE: snprintf(buf, size, "%s", o->choices[*CFIELD(st, o, int)]); break;
    case CLI_LIST: {
        const cli_list *l = CFIELD(st, o, cli_list);
        buf[0] = 0;
        for (int i = 0; i < l->n; i++) snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? "," : "", l->v[i]);
        break;
    }
    case CLI_SECTION: buf[0] = 0; break;
    }
}

// The short form for humans: %g for doubles, 512M for sizes, "-" for nothing.
static void human_value(const cli_opt *o, const void *st, char *buf, size_t size) {
    if (o->type == CLI_F64) snprintf(buf, size, "%g", *CFIELD(st, o, double));
    else if (o->type == CLI_BYTES) cli_format_bytes(*CFIELD(st, o, int64_t), buf, size);
    else if (o->type == CLI_STR && !*CFIELD(st, o, char *)) snprintf(buf, size, "-");
    else if (o->type == CLI_LIST && CFIELD(st, o, cli_list)->n == 0) snprintf(buf, size, "-");
    else cli_value(o, st, buf, size);
}

static const char *type_name(cli_type t) {
    switch (t) {
    case CLI_INT: return "int";
    case CLI_COUNT: return "count";
    case CLI_BYTES: return "bytes";
    case CLI_F64: return "number";
    case CLI_STR: return "string";
    case CLI_FLAG: return "flag";
    case CLI_CHOICE: return "choice";
    case CLI_LIST: return "list";
    case CLI_SECTION: break;
    }
    return "?";
}

// "  --name META   help text [default]", the text wrapped at 100 columns under itself.
static void help_line(FILE *f, const char *left, const char *help) {
    enum { COL = 28, WIDTH = 100 };
    int at = fprintf(f, "  %-26s", left), first = 1;
    for (const char *p = help; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        int w = (int)strcspn(p, " ");
        if (!first && at + 1 + w > WIDTH) at = fprintf(f, "\n%*s", COL, "") - 1;
        fputc(' ', f);
        fwrite(p, 1, (size_t)w, f);
        at += 1 + w, p += w, first = 0;
    }
    fputc('\n', f);
}

void cli_help(FILE *f, const cli_table *t, const char *usage) {
    fputs(usage, f);
    int sectioned = t && t->n && t->opts[0].type == CLI_SECTION;
    if (!sectioned && t && t->n) fputs("\nOptions:\n", f);
    for (int i = 0; t && i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION) {
            fprintf(f, "\n%s:\n", o->help);
            continue;
        }
        char left[96], text[1024];
        if (o->type == CLI_FLAG) snprintf(left, sizeof left, "--%s", o->name);
        else snprintf(left, sizeof left, "--%s %s", o->name, o->meta ? o->meta : "N");
        snprintf(text, sizeof text, "%s%s%s%s%s", o->help, o->def && o->type != CLI_FLAG ? " [" : "",
                 o->def && o->type != CLI_FLAG ? o->def : "", o->def && o->type != CLI_FLAG ? "]" : "",
                 o->type == CLI_LIST ? " (repeatable)" : "");
        help_line(f, left, text);
    }
    fputs("\nStandard options:\n", f);
    help_line(f, "--quiet", "no configuration echo or progress lines on stderr");
    help_line(f, "--list-options", "the options, one \"--name<TAB>type\" line each");
    help_line(f, "--help, -h", "this text");
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

void cli_echo_line(const char *name, const cli_table *t, const void *st, const unsigned char *given, const char *extra) {
    if (cli_quiet) return;
    char v[4096];
    fprintf(stderr, "%s:", name);
    for (int i = 0; t && i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION) continue;
        if (given && !given[i] && !o->def && o->type != CLI_FLAG) snprintf(v, sizeof v, "-");
        else human_value(o, st, v, sizeof v);
        fprintf(stderr, " %s=%s", o->name, v);
    }
    fprintf(stderr, "%s\n", extra ? extra : "");
}

void cli_json_fields(FILE *f, const cli_table *t, const void *st) {
    char v[4096];
    int first = 1;
    for (int i = 0; i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION) continue;
        fprintf(f, "%s\"%s\": ", first ? "" : ", ", o->name);
        first = 0;
        if (o->type == CLI_LIST) {
            const cli_list *l = CFIELD(st, o, cli_list);
            fputc('[', f);
            for (int k = 0; k < l->n; k++) {
                if (k) fputs(", ", f);
                json_string(f, l->v[k], strlen(l->v[k]));
            }
            fputc(']', f);
        } else if (o->type == CLI_STR || o->type == CLI_CHOICE) {
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
        if (o->type == CLI_SECTION || o->type == CLI_LIST || o->resume == CLI_LOCAL) continue;
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
    for (int i = 0; t && i < t->n; i++) {
        if (t->opts[i].type == CLI_STR) {
            free(*FIELD(st, &t->opts[i], char *));
            *FIELD(st, &t->opts[i], char *) = NULL;
        } else if (t->opts[i].type == CLI_LIST) {
            list_free(FIELD(st, &t->opts[i], cli_list));
        }
    }
}

int cli_merge_resume(const cli_table *t, const void *cmd, const unsigned char *given, const char *stored, size_t stored_len,
                     void *out, berr *e) {
    if (cli_defaults(t, out, e) || cli_deserialize(t, out, stored, stored_len, e)) return -1;
    char a[4096], b[4096];
    for (int i = 0; i < t->n; i++) {
        const cli_opt *o = &t->opts[i];
        if (o->type == CLI_SECTION || o->type == CLI_LIST) continue;
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

// ---- commands -------------------------------------------------------------------------------------------

void cli_command_help(FILE *f, const cli_cmd *c) {
    cli_help(f, c->table, c->usage);
    if (c->footer) {
        fputc('\n', f);
        fputs(c->footer, f);
    }
}

void cli_list_options(FILE *f, const cli_table *t) {
    for (int i = 0; t && i < t->n; i++)
        if (t->opts[i].type != CLI_SECTION) fprintf(f, "--%s\t%s\n", t->opts[i].name, type_name(t->opts[i].type));
    fprintf(f, "--quiet\tflag\n--list-options\tflag\n--help\tflag\n");
}

int cli_usage_error(const cli_cmd *c, const char *fmt, ...) {
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: error: %s (see %s --help)\n", c->name, msg, c->name);
    return 2;
}

int cli_fail(const char *name, const berr *e) {
    fprintf(stderr, "%s: error: %s\n", name, e->msg);
    return 1;
}

int cli_given(const cli_table *t, const unsigned char *given, const char *name) {
    const cli_opt *o = cli_find(t, name);
    return given && o && given[o - t->opts];
}

int cli_command(const cli_cmd *c, void *st, int argc, char **argv, int first, unsigned char *given, cli_args *pos) {
    berr e;
    berr_prog = c->name;
    cli_quiet = 0;
    if (cli_defaults(c->table, st, &e)) {
        fprintf(stderr, "%s: error: internal: %s\n", c->name, e.msg);
        return 1;
    }
    int rc = cli_parse_args(c->table, st, argc, argv, first, given, c->positional ? pos : NULL, &e);
    if (rc == 1 || rc == 2) {
        if (rc == 1) cli_command_help(stdout, c);
        else cli_list_options(stdout, c->table);
        cli_free(c->table, st);
        if (pos) cli_args_free(pos);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (rc < 0) {
        cli_free(c->table, st);
        return cli_usage_error(c, "%s", e.msg);
    }
    return CLI_GO;
}

// ---- paths ------------------------------------------------------------------------------------------

int cli_check_input_dir(const char *opt, const char *path, berr *e) {
    struct stat s;
    if (stat(path, &s) != 0) return berr_set(e, "%s %s: %s", opt, path, errno == ENOENT ? "no such directory" : strerror(errno));
    if (!S_ISDIR(s.st_mode)) return berr_set(e, "%s %s: not a directory", opt, path);
    return 0;
}

static char *parent_of(const char *path) {
    char *p = xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = 0;  // "dir/" names dir
    char *slash = strrchr(p, '/');
    if (!slash) {
        free(p);
        return xstrdup(".");
    }
    if (slash == p) slash[1] = 0;
    else *slash = 0;
    return p;
}

// `what` says what would be done in dir ("write the file in", "create it in").
static int writable_dir(const char *opt, const char *path, const char *dir, const char *what, berr *e) {
    struct stat s;
    if (stat(dir, &s) != 0) return berr_set(e, "%s %s: cannot %s %s: %s", opt, path, what, dir, strerror(errno));
    if (!S_ISDIR(s.st_mode)) return berr_set(e, "%s %s: cannot %s %s: not a directory", opt, path, what, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return berr_set(e, "%s %s: cannot %s %s: %s", opt, path, what, dir, strerror(errno));
    return 0;
}

int cli_check_output_file(const char *opt, const char *path, berr *e) {
    struct stat s;
    if (!*path) return berr_set(e, "%s needs a file name", opt);
    if (stat(path, &s) == 0 && S_ISDIR(s.st_mode))
        return berr_set(e, "%s %s is a directory: give the name of the file to write", opt, path);
    char *dir = parent_of(path);
    int rc = 0;
    if (stat(dir, &s) != 0 && errno == ENOENT) rc = berr_set(e, "%s %s: directory %s does not exist", opt, path, dir);
    else rc = writable_dir(opt, path, dir, "write it in", e);
    free(dir);
    return rc;
}

int cli_check_output_dir(const char *opt, const char *path, berr *e) {
    struct stat s;
    if (!*path) return berr_set(e, "%s needs a directory name", opt);
    if (stat(path, &s) == 0) {
        if (!S_ISDIR(s.st_mode)) return berr_set(e, "%s %s exists and is not a directory", opt, path);
        if (access(path, W_OK | X_OK) != 0) return berr_set(e, "%s %s: cannot write in it: %s", opt, path, strerror(errno));
        return 0;
    }
    if (errno != ENOENT) return berr_set(e, "%s %s: %s", opt, path, strerror(errno));
    // Created later: its nearest existing ancestor must let us.
    char *dir = parent_of(path);
    while (stat(dir, &s) != 0 && errno == ENOENT && strcmp(dir, ".") != 0 && strcmp(dir, "/") != 0) {
        char *up = parent_of(dir);
        free(dir);
        dir = up;
    }
    int rc = writable_dir(opt, path, dir, "create it in", e);
    free(dir);
    return rc;
}

// ---- subcommands ------------------------------------------------------------------------------------------

static void prog_usage(FILE *f, const cli_prog *p) {
    const cli_sub *d = p->default_sub >= 0 ? &p->subs[p->default_sub] : NULL;
    fprintf(f, "usage: %s <command> [options]\n\nCommands:\n", p->name);
    if (d) fprintf(f, "  (%s is the default: `%s OPTIONS` is `%s %s OPTIONS`)\n", d->name, p->name, p->name, d->name);
    for (int i = 0; i < p->n; i++) fprintf(f, "  %-16s %s\n", p->subs[i].name, p->subs[i].summary);
    fprintf(f, "\n`%s <command> --help` (or `%s help <command>`) describes each.\n", p->name, p->name);
    if (p->about) fprintf(f, "%s", p->about);
}

static const cli_sub *find_sub(const cli_prog *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->subs[i].name, name)) return &p->subs[i];
    return NULL;
}

static int unknown_command(const cli_prog *p, const char *word) {
    const char **names = xcalloc((size_t)p->n, sizeof *names);
    for (int i = 0; i < p->n; i++) names[i] = p->subs[i].name;
    const char *c = closest(word, names, p->n);
    // A unique prefix gets the suggestion too (commands are not abbreviated either).
    for (int i = 0; !c && i < p->n; i++)
        if (*word && !strncmp(names[i], word, strlen(word))) c = names[i];
    if (c) fprintf(stderr, "%s: error: unknown command '%s'; did you mean '%s'? (see %s --help)\n", p->name, word, c, p->name);
    else fprintf(stderr, "%s: error: unknown command '%s' (see %s --help)\n", p->name, word, p->name);
    free(names);
    return 2;
}

int cli_dispatch(const cli_prog *p, int argc, char **argv) {
    berr_prog = p->name;
    if (argc < 2) {
        fprintf(stderr, "%s: error: no command given\n", p->name);
        prog_usage(stderr, p);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || (!strcmp(c, "help") && argc == 2)) {
        prog_usage(stdout, p);
        if (p->default_sub >= 0) {  // and the default command's options
            char *av[] = {argv[0], (char *)p->subs[p->default_sub].name, "--help", NULL};
            fputc('\n', stdout);
            return p->subs[p->default_sub].main(3, av, 2);
        }
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (!strcmp(c, "--list-commands")) {
        if (argc > 2) {
            fprintf(stderr, "%s: error: --list-commands takes no arguments (see %s --help)\n", p->name, p->name);
            return 2;
        }
        for (int i = 0; i < p->n; i++) printf("%s\n", p->subs[i].name);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (!strcmp(c, "help")) {
        if (argc > 3) {
            fprintf(stderr, "%s: error: help takes one command name (see %s --help)\n", p->name, p->name);
            return 2;
        }
        const cli_sub *s = find_sub(p, argv[2]);
        if (!s) return unknown_command(p, argv[2]);
        char *av[] = {argv[0], (char *)s->name, "--help", NULL};
        return s->main(3, av, 2);
    }
    if (c[0] == '-') {
        if (p->default_sub >= 0) return p->subs[p->default_sub].main(argc, argv, 1);
        fprintf(stderr, "%s: error: '%s' before a command: give the command first, e.g. %s %s %s (see %s --help)\n", p->name,
                c, p->name, p->subs[0].name, c, p->name);
        return 2;
    }
    const cli_sub *s = find_sub(p, c);
    if (!s) return unknown_command(p, c);
    return s->main(argc, argv, 2);
}
