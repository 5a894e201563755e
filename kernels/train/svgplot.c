// svgplot.c — standalone SVG line plots (see svgplot.h).
#include "kernels/train/svgplot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                                      "#7f7f7f"};

void svg_series_push(svg_series *s, double x, double y) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->x = xrealloc(s->x, s->cap * sizeof(double));
        s->y = xrealloc(s->y, s->cap * sizeof(double));
    }
    s->x[s->n] = x;
    s->y[s->n++] = y;
}

void svg_series_free(svg_series *s) {
    free(s->x);
    free(s->y);
    s->x = s->y = NULL;
    s->n = s->cap = 0;
}

// Averages consecutive points into at most `max` points (long runs stay readable and small).
static int thin(svg_series *s, size_t max) {
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

static int usable(const svg_plot *p, double x, double y) { return isfinite(x) && isfinite(y) && (!p->log2x || x > 0); }

void svg_plot_write(FILE *f, const svg_plot *p, svg_series *s, int ns, int *thinned) {
    int per_max = 1;
    for (int k = 0; k < ns; k++) {
        size_t j = 0;  // drop points that cannot be drawn
        for (size_t i = 0; i < s[k].n; i++)
            if (usable(p, s[k].x[i], s[k].y[i])) s[k].x[j] = s[k].x[i], s[k].y[j++] = s[k].y[i];
        s[k].n = j;
        int per = thin(&s[k], p->max_points > 0 ? (size_t)p->max_points : 2000);
        if (per > per_max) per_max = per;
    }
    if (thinned) *thinned = per_max;
#define XV(v) (p->log2x ? log2(v) : (v))
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            x0 = fmin(x0, XV(s[k].x[i])), x1 = fmax(x1, XV(s[k].x[i]));
            y0 = fmin(y0, s[k].y[i]), y1 = fmax(y1, s[k].y[i]);
        }
    if (!(x1 >= x0)) x0 = 0, x1 = 1;
    if (!(y1 >= y0)) y0 = 0, y1 = 1;
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) y1 = y0 + 1;
    double pad = 0.05 * (y1 - y0);
    y0 -= pad, y1 += pad;
    const double W = p->width > 0 ? p->width : 800, H = p->height > 0 ? p->height : 480, L = 70, R = 20, T = 40,
                 B = 50;
    double pw = W - L - R, ph = H - T - B;
#define PX(x) (L + (XV(x) - x0) / (x1 - x0) * pw)
#define PY(y) (T + (1 - ((y) - y0) / (y1 - y0)) * ph)
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    fprintf(f, "<rect width=\"%g\" height=\"%g\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%g\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", W / 2);
    xml_text(f, p->title ? p->title : "");
    fputs("</text>\n", f);
    double ys = tick_step(y0, y1, 6);
    for (double y = ceil(y0 / ys) * ys; y <= y1; y += ys)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                L, PY(y), L + pw, PY(y), L - 6, PY(y) + 4, fabs(y) < 1e-12 ? 0 : y);
    if (p->log2x) {
        for (double e = ceil(x0); e <= x1 + 1e-9; e += 1) {
            double px = L + (e - x0) / (x1 - x0) * pw;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                    px, T, px, T + ph, px, T + ph + 16, exp2(e));
        }
    } else {
        double xs = tick_step(x0, x1, 8);
        for (double x = ceil(x0 / xs) * xs; x <= x1; x += xs)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                    PX(x), T, PX(x), T + ph, PX(x), T + ph + 16, x);
    }
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#444\"/>\n", L, T, pw, ph);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">", L + pw / 2, H - 12);
    xml_text(f, p->xlabel ? p->xlabel : "");
    fprintf(f, "</text>\n<text x=\"16\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 16 %g)\">", T + ph / 2,
            T + ph / 2);
    xml_text(f, p->ylabel ? p->ylabel : "");
    fputs("</text>\n", f);
    double lx = L + pw - 210, ly = T + 16;
    for (int k = 0, c = 0; k < ns; k++) {
        const char *col = s[k].color ? s[k].color : palette[c++ % 8];
        if (!s[k].n) continue;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.4\" points=\"", col);
        for (size_t i = 0; i < s[k].n; i++) fprintf(f, "%.1f,%.1f ", PX(s[k].x[i]), PY(s[k].y[i]));
        fputs("\"/>\n", f);
        if (s[k].markers)
            for (size_t i = 0; i < s[k].n; i++)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", PX(s[k].x[i]), PY(s[k].y[i]), col);
        if (s[k].label) {
            fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2\"/><text x=\"%g\" y=\"%g\">",
                    lx, ly, lx + 20, ly, col, lx + 26, ly + 4);
            xml_text(f, s[k].label);
            fputs("</text>\n", f);
            ly += 18;
        }
    }
    fputs("</svg>\n", f);
#undef PX
#undef PY
#undef XV
}

int svg_plot_save(const char *path, const svg_plot *p, svg_series *s, int ns, int *thinned, berr *e) {
    atomic_file af;
    if (atomic_open(&af, path, e)) return -1;
    svg_plot_write(af.f, p, s, ns, thinned);
    if (ferror(af.f)) {
        atomic_abort(&af);
        return berr_set(e, "write to %s failed", path);
    }
    return atomic_commit(&af, e);
}
