// rcli.c — the command-line rules of the reward subcommands (see rcli.h).
#include "reward/rcli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void rw_help(FILE *f, const rw_cmd *c) {
    cli_help(f, c->table, c->usage);
    fprintf(f, "  %-26s %s\n", "-h", "the same as --help");
}

int rw_usage_error(const rw_cmd *c, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n') *p = ' ';  // one line
    fprintf(stderr, "%s: error: %s\n", c->name, msg);
    return 2;
}

int rw_fail(const char *name, const berr *e) {
    fprintf(stderr, "%s: error: %s\n", name, e->msg);
    return 1;
}

int rw_given(const cli_table *t, const unsigned char *given, const char *name) {
    const cli_opt *o = cli_find(t, name);
    return given && o && given[o - t->opts];
}

static const char *type_name(cli_type t) {
    switch (t) {
    case CLI_INT: return "int";
    case CLI_COUNT: return "count";
    case CLI_F64: return "number";
    case CLI_STR: return "string";
    case CLI_FLAG: return "flag";
    case CLI_CHOICE: return "choice";
    default: return "string";
    }
}

// Levenshtein distance, for "did you mean".
static int edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    int *d = xmalloc((m + 1) * sizeof(int));
    for (size_t j = 0; j <= m; j++) d[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int prev = d[0];
        d[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int cur = d[j], sub = prev + (a[i - 1] != b[j - 1]);
            int best = d[j] + 1 < d[j - 1] + 1 ? d[j] + 1 : d[j - 1] + 1;
            d[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    int r = d[m];
    free(d);
    return r;
}

static const char *closest(const cli_table *t, const char *name) {
    const char *best = NULL;
    int bd = 1 << 30;
    for (int i = 0; i < t->n; i++) {
        if (t->opts[i].type == CLI_SECTION) continue;
        int d = edit_distance(name, t->opts[i].name);
        if (d < bd) bd = d, best = t->opts[i].name;
    }
    if (edit_distance(name, "help") < bd) best = "help", bd = edit_distance(name, "help");
    return bd <= 3 || (best && bd * 2 <= (int)strlen(name)) ? best : NULL;
}

int rw_parse(const rw_cmd *c, void *st, int argc, char **argv, int first, unsigned char *given) {
    const cli_table *t = c->table;
    berr e;
    if (cli_defaults(t, st, &e)) return rw_usage_error(c, "%s", e.msg);
    // The rules cli_parse does not know, checked first (and --help / --list-options anywhere).
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            rw_help(stdout, c);
            return 0;
        }
        if (!strcmp(a, "--list-options")) {
            for (int k = 0; k < t->n; k++)
                if (t->opts[k].type != CLI_SECTION) printf("--%s\t%s\n", t->opts[k].name, type_name(t->opts[k].type));
            printf("--help\tflag\n--list-options\tflag\n");
            return 0;
        }
    }
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            cli_free(t, st);
            return rw_usage_error(c, "unexpected argument '%s' (options are --name value; see --help)", a);
        }
        const char *eq = strchr(a, '=');
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - a - 2 : (long)strlen(a + 2)), a + 2);
        const cli_opt *o = cli_find(t, name);
        if (!o) {
            cli_free(t, st);
            for (int k = 0; k < t->n; k++)
                if (t->opts[k].type != CLI_SECTION && strncmp(t->opts[k].name, name, strlen(name)) == 0)
                    return rw_usage_error(c, "unknown option '--%s' (abbreviations are not accepted; did you mean --%s?)",
                                          name, t->opts[k].name);
            const char *near = closest(t, name);
            if (near) return rw_usage_error(c, "unknown option '--%s' (did you mean --%s?)", name, near);
            return rw_usage_error(c, "unknown option '--%s' (see --help)", name);
        }
        if (o->type == CLI_FLAG) {
            if (eq) {
                cli_free(t, st);
                return rw_usage_error(c, "--%s takes no value (got '%s')", name, a);
            }
            continue;
        }
        if (eq) continue;
        if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
            cli_free(t, st);
            return rw_usage_error(c, "--%s needs a value", name);
        }
        i++;
    }
    int rc = cli_parse(t, st, argc, argv, first, given, &e);
    if (rc < 0) {
        cli_free(t, st);
        return rw_usage_error(c, "%s", e.msg);
    }
    return RW_GO;
}
