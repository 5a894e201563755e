// svgplot.h — line plots as standalone SVG (no dependencies): loss curves, RL curves, the
// best-of-N accuracy plot. A plot is written to an open stream, so an HTML report can inline
// it, or to a file atomically.
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "kernels/base.h"

typedef struct svg_series {
    const char *label;   // legend text (NULL: not in the legend)
    const char *color;   // e.g. "#1f77b4" (NULL: the next of a fixed palette)
    int markers;         // 1: a dot at every point
    double *x, *y;
    size_t n, cap;
} svg_series;

void svg_series_push(svg_series *s, double x, double y);
void svg_series_free(svg_series *s);  // frees the points

typedef struct svg_plot {
    const char *title, *xlabel, *ylabel;
    int width, height;  // pixels (0: 800 × 480)
    int log2x;          // x on a log₂ axis, ticks at powers of two (best-of-N)
    int max_points;     // a longer series is averaged down to about this many (0: 2000)
} svg_plot;

// Series with no points are skipped; non-finite points are dropped. Thinning changes the
// series in place; *thinned (may be NULL) is set to the largest averaging factor used.
void svg_plot_write(FILE *f, const svg_plot *p, svg_series *s, int ns, int *thinned);
int svg_plot_save(const char *path, const svg_plot *p, svg_series *s, int ns, int *thinned, berr *e);
