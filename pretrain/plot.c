// plot.c — `pretrain plot`: the loss curve of a run log (log.jsonl) as a standalone SVG:
// training loss per step, validation loss per evaluation, axes with round ticks.
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/cli.h"
#include "pretrain/pretrain.h"
#include "pretrain/runlog.h"

typedef struct plot_opts {
    char *log, *out, *title;
    int width, height;
} plot_opts;

#define F(x) offsetof(plot_opts, x)
static const cli_opt plot_opt_list[] = {
    {CLI_STR, "log", F(log), NULL, 0, 0, NULL, CLI_LOCAL, "FILE", "run log (DIR/log.jsonl of a pretrain run; required)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, CLI_LOCAL, "FILE", "SVG file to write (required)"},
    {CLI_STR, "title", F(title), NULL, 0, 0, NULL, CLI_LOCAL, "TEXT", "title (default: the log's path)"},
    {CLI_INT, "width", F(width), "800", 200, 10000, NULL, CLI_LOCAL, "PX", "width"},
    {CLI_INT, "height", F(height), "480", 150, 10000, NULL, CLI_LOCAL, "PX", "height"},
};
#undef F
static const cli_table plot_table = {plot_opt_list, (int)(sizeof plot_opt_list / sizeof plot_opt_list[0])};

typedef struct series {
    double *x, *y;
    size_t n, cap;
} series;

static void push(series *s, double x, double y) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->x = xrealloc(s->x, s->cap * sizeof(double));
        s->y = xrealloc(s->y, s->cap * sizeof(double));
    }
    s->x[s->n] = x;
    s->y[s->n++] = y;
}

// Averages consecutive points into at most `max` points (long runs stay readable and small).
static int thin(series *s, size_t max) {
    if (s->n <= max) return 1;
    size_t per = (s->n + max - 1) / max, k = 0;
    for (size_t i = 0; i < s->n; i += per) {
        size_t end = i + per < s->n ? i + per : s->n;
        double sx = 0, sy = 0;
        for (size_t j = i; j < end; j++) sx += s->x[j], sy += s->y[j];
        s->x[k] = sx / (double)(end - i);
        s->y[k++] = sy / (double)(end - i);
    }
    s->n = k;
    return (int)per;
}

// Round tick spacing: 1, 2 or 5 times a power of ten, about `want` ticks over [lo, hi].
static double tick_step(double lo, double hi, int want) {
    double raw = (hi - lo) / want, p = pow(10, floor(log10(raw))), r = raw / p;
    return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * p;
}

static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static int read_log(const char *path, series *train, series *val, berr *e) {
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, e)) return -1;
    size_t i = 0;
    int line = 0;
    while (i < len) {
        line++;
        char *nl = memchr(buf + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (buf + i)) : len - i;
        buf[i + n] = 0;
        char *l = buf + i;
        i += n + 1;
        if (!*l) continue;
        if (l[0] != '{' || l[n - 1] != '}') {
            free(buf);
            return berr_set(e, "%s: line %d is not a JSON object (a run log has one per line)", path, line);
        }
        double step, v;
        if (!pt_log_number(l, "step", &step)) continue;
        if (pt_log_number(l, "loss", &v) && isfinite(v)) push(train, step, v);
        if (pt_log_number(l, "val_loss", &v) && isfinite(v)) push(val, step, v);
    }
    free(buf);
    if (train->n == 0 && val->n == 0) return berr_set(e, "%s: no loss records (is it a pretrain run log?)", path);
    return 0;
}

static int write_svg(const plot_opts *o, series *train, series *val, berr *e) {
    int per = thin(train, 2000);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    series *all[2] = {train, val};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < all[s]->n; i++) {
            x0 = fmin(x0, all[s]->x[i]), x1 = fmax(x1, all[s]->x[i]);
            y0 = fmin(y0, all[s]->y[i]), y1 = fmax(y1, all[s]->y[i]);
        }
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) y1 = y0 + 1;
    double pad = 0.05 * (y1 - y0);
    y0 -= pad, y1 += pad;
    const double W = o->width, H = o->height, L = 70, R = 20, T = 40, B = 50;
    double pw = W - L - R, ph = H - T - B;
#define PX(x) (L + ((x) - x0) / (x1 - x0) * pw)
#define PY(y) (T + (1 - ((y) - y0) / (y1 - y0)) * ph)
    atomic_file af;
    if (atomic_open(&af, o->out, e)) return -1;
    FILE *f = af.f;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    fprintf(f, "<rect width=\"%g\" height=\"%g\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%g\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", W / 2);
    xml_text(f, o->title ? o->title : o->log);
    fputs("</text>\n", f);
    // grid and ticks
    double ys = tick_step(y0, y1, 6), xs = tick_step(x0, x1, 8);
    for (double y = ceil(y0 / ys) * ys; y <= y1; y += ys)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                L, PY(y), L + pw, PY(y), L - 6, PY(y) + 4, fabs(y) < 1e-12 ? 0 : y);
    for (double x = ceil(x0 / xs) * xs; x <= x1; x += xs)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                PX(x), T, PX(x), T + ph, PX(x), T + ph + 16, x);
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#444\"/>\n", L, T, pw, ph);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">step</text>\n", L + pw / 2, H - 12);
    fprintf(f, "<text x=\"16\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 16 %g)\">loss</text>\n",
            T + ph / 2, T + ph / 2);
    if (train->n) {
        fputs("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.2\" points=\"", f);
        for (size_t i = 0; i < train->n; i++) fprintf(f, "%.1f,%.1f ", PX(train->x[i]), PY(train->y[i]));
        fputs("\"/>\n", f);
    }
    if (val->n) {
        fputs("<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" points=\"", f);
        for (size_t i = 0; i < val->n; i++) fprintf(f, "%.1f,%.1f ", PX(val->x[i]), PY(val->y[i]));
        fputs("\"/>\n", f);
        for (size_t i = 0; i < val->n; i++)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#d62728\"/>\n", PX(val->x[i]), PY(val->y[i]));
    }
    // legend
    double lx = L + pw - 190, ly = T + 16;
    if (train->n) {
        fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#1f77b4\" stroke-width=\"2\"/>"
                   "<text x=\"%g\" y=\"%g\">train loss%s</text>\n",
                lx, ly, lx + 20, ly, lx + 26, ly + 4, per > 1 ? " (mean of steps)" : "");
        ly += 18;
    }
    if (val->n)
        fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#d62728\" stroke-width=\"2\"/>"
                   "<text x=\"%g\" y=\"%g\">validation loss</text>\n",
                lx, ly, lx + 20, ly, lx + 26, ly + 4);
    fputs("</svg>\n", f);
#undef PX
#undef PY
    if (ferror(f)) {
        atomic_abort(&af);
        return berr_set(e, "write to %s failed", o->out);
    }
    return atomic_commit(&af, e);
}

int pt_plot_main(int argc, char **argv, int first) {
    plot_opts o;
    berr e;
    if (cli_defaults(&plot_table, &o, &e)) die("%s", e.msg);
    int rc = cli_parse(&plot_table, &o, argc, argv, first, NULL, &e);
    if (rc == 1) {
        cli_help(stdout, &plot_table, "usage: pretrain plot --log DIR/log.jsonl --out loss.svg [options]\n");
        return 0;
    }
    if (rc == 0 && (!o.log || !o.out)) rc = berr_set(&e, "--log and --out are required (see --help)");
    if (rc < 0) {
        fprintf(stderr, "error: %s\n", e.msg);
        return 2;
    }
    series train = {0}, val = {0};
    rc = read_log(o.log, &train, &val, &e);
    if (!rc) rc = write_svg(&o, &train, &val, &e);
    if (rc) fprintf(stderr, "error: %s\n", e.msg);
    else fprintf(stderr, "plot: %s: %zu training points, %zu validation points\n", o.out, train.n, val.n);
    free(train.x), free(train.y), free(val.x), free(val.y);
    cli_free(&plot_table, &o);
    return rc ? 1 : 0;
}
