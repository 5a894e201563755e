// runlog.c — the jsonl run log (see runlog.h).
#include "kernels/train/runlog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tr_log_number(const char *line, const char *key, double *out) {
    // A small scanner: strings are skipped whole (escapes included), so a key only matches
    // where it is a member name of the top-level object.
    int depth = 0;
    size_t kl = strlen(key);
    for (const char *p = line; *p; p++) {
        if (*p == '"') {
            const char *s = ++p;
            while (*p && *p != '"') p += (*p == '\\' && p[1]) ? 2 : 1;
            if (!*p) return 0;
            const char *q = p + 1;
            while (*q == ' ') q++;
            if (depth == 1 && *q == ':' && (size_t)(p - s) == kl && memcmp(s, key, kl) == 0) {
                char *end;
                errno = 0;
                double v = strtod(q + 1, &end);
                if (end == q + 1 || errno) return 0;
                *out = v;
                return 1;
            }
        } else if (*p == '{' || *p == '[') depth++;
        else if (*p == '}' || *p == ']') depth--;
    }
    return 0;
}

int tr_log_open(tr_log *l, const char *path, int64_t keep_upto, int64_t *dropped, berr *e) {
    memset(l, 0, sizeof *l);
    if (dropped) *dropped = 0;
    if (keep_upto >= 0 && access(path, F_OK) == 0) {
        char *buf;
        size_t len;
        if (read_file(path, &buf, &len, e)) return -1;
        bbuf keep = {0};
        size_t i = 0;
        while (i < len) {
            char *nl = memchr(buf + i, '\n', len - i);
            if (!nl) {  // a partial last line from a killed run
                if (dropped) (*dropped)++;
                break;
            }
            *nl = 0;
            double step;
            if (tr_log_number(buf + i, "step", &step) && step <= (double)keep_upto) {
                bbuf_put(&keep, buf + i, strlen(buf + i));
                bbuf_u8(&keep, '\n');
            } else if (dropped) (*dropped)++;
            i = (size_t)(nl - buf) + 1;
        }
        int rc = write_file_atomic(path, keep.p ? (void *)keep.p : (void *)"", keep.n, e);
        free(buf);
        bbuf_free(&keep);
        if (rc) return -1;
    }
    l->f = fopen(path, keep_upto >= 0 ? "a" : "w");
    if (!l->f) return berr_set(e, "cannot open the run log %s: %s", path, strerror(errno));
    l->path = xstrdup(path);
    return 0;
}

FILE *tr_log_begin(tr_log *l) {
    if (l->f) fputc('{', l->f);
    return l->f;
}

void tr_log_end(tr_log *l) {
    if (!l->f) return;
    fputs("}\n", l->f);
    fflush(l->f);
}

void tr_log_rec(tr_log *l, const char *fmt, ...) {
    if (!l->f) return;
    va_list ap;
    va_start(ap, fmt);
    fputc('{', l->f);
    vfprintf(l->f, fmt, ap);
    va_end(ap);
    fputs("}\n", l->f);
    fflush(l->f);
}

void tr_log_close(tr_log *l) {
    if (l->f) fclose(l->f);
    free(l->path);
    memset(l, 0, sizeof *l);
}
