// tasks_code_lists.c — code task families on lists and grids: element-wise maps, counting
// by remainder, fizzbuzz, running aggregates, pair counting, k-th values, grid transforms,
// interval merging, runs, windows, maximum sublists, increasing subsequences, islands.
#include <stdlib.h>
#include <string.h>

#include "verify/tasks_code.h"

#define LIST_MAX 16

// [[1, 2], [3, 4]]
static void py_grid(bbuf *o, const int64_t *g, int rows, int cols) {
    tb_putc(o, '[');
    for (int r = 0; r < rows; r++) {
        if (r) tb_puts(o, ", ");
        py_int_list(o, g + r * cols, cols);
    }
    tb_putc(o, ']');
}

// "3 * x - 4", "-x + 2", "x - 7"
static void affine_text(bbuf *o, int64_t a, int64_t b) {
    if (a == 1) tb_putc(o, 'x');
    else if (a == -1) tb_puts(o, "-x");
    else tb_printf(o, "%lld * x", (long long)a);
    if (b) tb_printf(o, " %c %lld", b < 0 ? '-' : '+', (long long)(b < 0 ? -b : b));
}

// ---- transform_list(xs): level 1 ----------------------------------------------------------------
// p[0] a (nonzero), p[1] b; not the identity

static void tl_params(uint64_t *g, int64_t *p) {
    do {
        p[0] = tb_range_nz(g, -9, 9);
        p[1] = tb_range(g, -20, 20);
    } while (p[0] == 1 && p[1] == 0);
}
static void tl_spec(bbuf *o, const int64_t *p) {
    tb_puts(o, "returns a new list in which every element x of the list xs is replaced by ");
    affine_text(o, p[0], p[1]);
}
static void tl_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "A list comprehension applies ");
    affine_text(o, p[0], p[1]);
    tb_puts(o, " to each element in order.\n");
}
static void tl_code(bbuf *o, const int64_t *p) {
    tb_puts(o, "def transform_list(xs):\n    return [");
    affine_text(o, p[0], p[1]);
    tb_puts(o, " for x in xs]\n");
}
static void tl_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t xs[LIST_MAX], ys[LIST_MAX];
    int n = k == 0 ? 0 : rand_int_list(g, xs, 8, -50, 50);
    for (int i = 0; i < n; i++) ys[i] = p[0] * xs[i] + p[1];
    py_int_list(call, xs, n);
    py_int_list(expect, ys, n);
}

// ---- count_mod(xs): level 1 -------------------------------------------------------------------
// p[0] m 2..12, p[1] r

static void cm_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 2, 12);
    p[1] = tb_range(g, 0, p[0] - 1);
}
static void cm_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns how many elements x of the list of integers xs satisfy x %% %lld == %lld (Python's %%, which is never negative here)",
              (long long)p[0], (long long)p[1]);
}
static void cm_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "Count the elements whose remainder modulo %lld is %lld.\n", (long long)p[0], (long long)p[1]);
}
static void cm_code(bbuf *o, const int64_t *p) {
    tb_printf(o, "def count_mod(xs):\n    return sum(1 for x in xs if x %% %lld == %lld)\n", (long long)p[0], (long long)p[1]);
}
static void cm_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t xs[LIST_MAX];
    int n = k == 0 ? 0 : rand_int_list(g, xs, 12, -100, 100), count = 0;
    for (int i = 0; i < n; i++) count += py_mod(xs[i], p[0]) == p[1];
    py_int_list(call, xs, n);
    py_int(expect, count);
}

// ---- fizzbuzz(n): level 2 ---------------------------------------------------------------------
// p[0], p[1] distinct divisors 2..9; p[2], p[3] distinct word indices

static const char *const FB_WORDS[] = {"Fizz", "Buzz", "Bang", "Pop", "Zap", "Boom", "Ping", "Pong", "Tick", "Tock", "Hop", "Zing"};

static void fb_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 2, 9);
    do p[1] = tb_range(g, 2, 9);
    while (p[1] == p[0]);
    p[2] = tb_range(g, 0, 11);
    do p[3] = tb_range(g, 0, 11);
    while (p[3] == p[2]);
}
static void fb_spec(bbuf *o, const int64_t *p) {
    const char *w1 = FB_WORDS[p[2]], *w2 = FB_WORDS[p[3]];
    tb_printf(o, "returns a list of strings for the numbers 1 to n: \"%s%s\" if the number is divisible by both %lld and %lld, \"%s\" if only by %lld, \"%s\" if only by %lld, and the number itself as a string otherwise",
              w1, w2, (long long)p[0], (long long)p[1], w1, (long long)p[0], w2, (long long)p[1]);
}
static void fb_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "For each i from 1 to n, test divisibility by both %lld and %lld first, then by each alone.\n", (long long)p[0], (long long)p[1]);
}
static void fb_code(bbuf *o, const int64_t *p) {
    const char *w1 = FB_WORDS[p[2]], *w2 = FB_WORDS[p[3]];
    tb_printf(o,
              "def fizzbuzz(n):\n"
              "    out = []\n"
              "    for i in range(1, n + 1):\n"
              "        if i %% %lld == 0 and i %% %lld == 0:\n"
              "            out.append(\"%s%s\")\n"
              "        elif i %% %lld == 0:\n"
              "            out.append(\"%s\")\n"
              "        elif i %% %lld == 0:\n"
              "            out.append(\"%s\")\n"
              "        else:\n"
              "            out.append(str(i))\n"
              "    return out\n",
              (long long)p[0], (long long)p[1], w1, w2, (long long)p[0], w1, (long long)p[1], w2);
}
static void fb_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int n = k == 0 ? 0 : k == 1 ? (int)(p[0] * p[1]) : (int)tb_range(g, 1, 20);
    py_int(call, n);
    tb_putc(expect, '[');
    for (int i = 1; i <= n; i++) {
        if (i > 1) tb_puts(expect, ", ");
        int a = i % p[0] == 0, b = i % p[1] == 0;
        if (a && b) tb_printf(expect, "\"%s%s\"", FB_WORDS[p[2]], FB_WORDS[p[3]]);
        else if (a) tb_printf(expect, "\"%s\"", FB_WORDS[p[2]]);
        else if (b) tb_printf(expect, "\"%s\"", FB_WORDS[p[3]]);
        else tb_printf(expect, "\"%d\"", i);
    }
    tb_putc(expect, ']');
}

// ---- running(xs): level 2 ---------------------------------------------------------------------
// p[0] 0 max, 1 min, 2 sum; p[1] start value

static void run_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 0, 2);
    p[1] = tb_range(g, -10, 10);
}
static void run_spec(bbuf *o, const int64_t *p) {
    if (p[0] == 2) tb_printf(o, "returns the list whose element i is %lld plus the sum of xs[0], ..., xs[i] (running totals starting from %lld)", (long long)p[1], (long long)p[1]);
    else tb_printf(o, "returns the list whose element i is the %s of %lld and xs[0], ..., xs[i]", p[0] == 0 ? "largest" : "smallest", (long long)p[1]);
}
static void run_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "Keep a current value, starting at %lld; for each x %s, and append it.\n", (long long)p[1],
              p[0] == 0 ? "take the max with x" : p[0] == 1 ? "take the min with x" : "add x");
}
static void run_code(bbuf *o, const int64_t *p) {
    tb_printf(o, "def running(xs):\n    out = []\n    cur = %lld\n    for x in xs:\n", (long long)p[1]);
    tb_puts(o, p[0] == 0 ? "        cur = max(cur, x)\n" : p[0] == 1 ? "        cur = min(cur, x)\n" : "        cur += x\n");
    tb_puts(o, "        out.append(cur)\n    return out\n");
}
static void run_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t xs[LIST_MAX], ys[LIST_MAX], cur = p[1];
    int n = k == 0 ? 0 : rand_int_list(g, xs, 10, -30, 30);
    for (int i = 0; i < n; i++) {
        if (p[0] == 0) cur = xs[i] > cur ? xs[i] : cur;
        else if (p[0] == 1) cur = xs[i] < cur ? xs[i] : cur;
        else cur += xs[i];
        ys[i] = cur;
    }
    py_int_list(call, xs, n);
    py_int_list(expect, ys, n);
}

// ---- pair_count(xs): level 3 ------------------------------------------------------------------
// p[0] m 2..10, p[1] r

static void pc_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 2, 10);
    p[1] = tb_range(g, 0, p[0] - 1);
}
static void pc_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns the number of pairs of positions i < j in the list of integers xs with (xs[i] + xs[j]) %% %lld == %lld", (long long)p[0], (long long)p[1]);
}
static void pc_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "Try every i and every j > i and count the pairs that satisfy the condition.\n");
}
static void pc_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def pair_count(xs):\n"
              "    count = 0\n"
              "    for i in range(len(xs)):\n"
              "        for j in range(i + 1, len(xs)):\n"
              "            if (xs[i] + xs[j]) %% %lld == %lld:\n"
              "                count += 1\n"
              "    return count\n",
              (long long)p[0], (long long)p[1]);
}
static void pc_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t xs[LIST_MAX];
    int n = k == 0 ? 0 : k == 1 ? (xs[0] = 5, 1) : rand_int_list(g, xs, 12, -40, 40), count = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) count += py_mod(xs[i] + xs[j], p[0]) == p[1];
    py_int_list(call, xs, n);
    py_int(expect, count);
}

// ---- kth_value(xs): level 3 -------------------------------------------------------------------
// p[0] k 1..4, p[1] 0 largest, 1 smallest

static const char *const ORD[] = {"", "", "2nd", "3rd", "4th"};

static void kv_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 1, 4);
    p[1] = tb_range(g, 0, 1);
}
static void kv_spec(bbuf *o, const int64_t *p) {
    const char *which = p[1] ? "smallest" : "largest";
    if (p[0] == 1) tb_printf(o, "returns the %s value in the list of integers xs, or None if xs is empty", which);
    else tb_printf(o, "returns the %s %s distinct value in the list of integers xs, or None if xs has fewer than %lld distinct values", ORD[p[0]], which, (long long)p[0]);
}
static void kv_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "Sort the distinct values %s; answer position %lld if there are enough of them.\n", p[1] ? "in increasing order" : "in decreasing order",
              (long long)(p[0] - 1));
}
static void kv_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def kth_value(xs):\n"
              "    values = sorted(set(xs)%s)\n"
              "    if len(values) < %lld:\n"
              "        return None\n"
              "    return values[%lld]\n",
              p[1] ? "" : ", reverse=True", (long long)p[0], (long long)(p[0] - 1));
}
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}
static void kv_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t xs[LIST_MAX] = {0}, s[LIST_MAX];
    int n = k == 0 ? 0 : rand_int_list(g, xs, 8, -9, 9);
    py_int_list(call, xs, n);
    memcpy(s, xs, (size_t)n * sizeof *xs);
    qsort(s, (size_t)n, sizeof *s, cmp_i64);
    int nd = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || s[i] != s[i - 1]) s[nd++] = s[i];
    if (nd < p[0]) py_none(expect);
    else py_int(expect, p[1] ? s[p[0] - 1] : s[nd - p[0]]);
}

// ---- transform_grid(grid): level 4 ------------------------------------------------------------
// p[0] operation 0..5, p[1] amount added to every entry 0..9

static const char *const GRID_OPS[] = {
    "rotated 90 degrees clockwise",
    "rotated 180 degrees",
    "rotated 90 degrees counterclockwise",
    "transposed (row i becomes column i)",
    "mirrored left to right (each row reversed)",
    "flipped upside down (the order of the rows reversed)",
};
static const char *const GRID_CODE[] = {
    "[list(row) for row in zip(*grid[::-1])]",
    "[row[::-1] for row in grid[::-1]]",
    "[list(row) for row in zip(*grid)][::-1]",
    "[list(row) for row in zip(*grid)]",
    "[row[::-1] for row in grid]",
    "[list(row) for row in grid[::-1]]",
};

static void tg_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 0, 5);
    p[1] = tb_range(g, 0, 9);
}
static void tg_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "takes a grid (a non-empty list of equally long non-empty lists of integers) and returns a new grid: the input %s", GRID_OPS[p[0]]);
    if (p[1]) tb_printf(o, ", with %lld added to every entry", (long long)p[1]);
}
static void tg_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "%s gives the grid %s.\n", GRID_CODE[p[0]], GRID_OPS[p[0]]);
    if (p[1]) {
        tb_step(o);
        tb_printf(o, "Then add %lld to each entry of each row.\n", (long long)p[1]);
    }
}
static void tg_code(bbuf *o, const int64_t *p) {
    tb_printf(o, "def transform_grid(grid):\n    out = %s\n", GRID_CODE[p[0]]);
    if (p[1]) tb_printf(o, "    out = [[v + %lld for v in row] for row in out]\n", (long long)p[1]);
    tb_puts(o, "    return out\n");
}
static void tg_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int rows = k == 0 ? 1 : (int)tb_range(g, 1, 4), cols = k == 0 ? 1 : (int)tb_range(g, 1, 4);
    int64_t in[16], out[16];
    for (int i = 0; i < rows * cols; i++) in[i] = tb_range(g, 0, 9);
    int orows = p[0] == 0 || p[0] == 2 || p[0] == 3 ? cols : rows, ocols = orows == rows ? cols : rows;
    for (int r = 0; r < orows; r++)
        for (int c = 0; c < ocols; c++) {
            int sr, sc;  // source cell of out[r][c]
            switch (p[0]) {
            case 0: sr = rows - 1 - c; sc = r; break;
            case 1: sr = rows - 1 - r; sc = cols - 1 - c; break;
            case 2: sr = c; sc = cols - 1 - r; break;
            case 3: sr = c; sc = r; break;
            case 4: sr = r; sc = cols - 1 - c; break;
            default: sr = rows - 1 - r; sc = c; break;
            }
            out[r * ocols + c] = in[sr * cols + sc] + p[1];
        }
    py_grid(call, in, rows, cols);
    py_grid(expect, out, orows, ocols);
}

// ---- merge_intervals(iv): level 4 -------------------------------------------------------------
// p[0] 1: adjacent intervals ([1, 3] and [4, 6]) merge too

static void mi_params(uint64_t *g, int64_t *p) { p[0] = tb_range(g, 0, 1); }
static void mi_spec(bbuf *o, const int64_t *p) {
    tb_puts(o, "takes a list of intervals [start, end] of integers (start <= end, in any order) and returns the list of merged intervals sorted by start, where intervals that overlap (share at least one integer)");
    tb_puts(o, p[0] ? " or are adjacent (one ends at e and the other starts at e + 1) are merged into one" : " are merged into one");
}
static void mi_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "Sort the intervals; then each one either extends the last merged interval or starts a new one.\n");
    tb_step(o);
    tb_printf(o, "It extends the last one when its start is <= the last end%s.\n", p[0] ? " + 1" : "");
}
static void mi_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def merge_intervals(iv):\n"
              "    out = []\n"
              "    for s, e in sorted(iv):\n"
              "        if out and s <= out[-1][1]%s:\n"
              "            out[-1][1] = max(out[-1][1], e)\n"
              "        else:\n"
              "            out.append([s, e])\n"
              "    return out\n",
              p[0] ? " + 1" : "");
}
static int cmp_pair(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] < y[1] ? -1 : x[1] > y[1];
}
static void mi_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t iv[8][2], s[8][2], out[8][2];
    int n = k == 0 ? 0 : (int)tb_range(g, 1, 6), no = 0;
    for (int i = 0; i < n; i++) {
        iv[i][0] = tb_range(g, 0, 30);
        iv[i][1] = iv[i][0] + tb_range(g, 0, 8);
    }
    tb_putc(call, '[');
    for (int i = 0; i < n; i++) {
        if (i) tb_puts(call, ", ");
        py_int_list(call, iv[i], 2);
    }
    tb_putc(call, ']');
    memcpy(s, iv, sizeof iv);
    qsort(s, (size_t)n, sizeof s[0], cmp_pair);
    for (int i = 0; i < n; i++) {
        if (no && s[i][0] <= out[no - 1][1] + p[0]) {
            if (s[i][1] > out[no - 1][1]) out[no - 1][1] = s[i][1];
        } else {
            out[no][0] = s[i][0];
            out[no][1] = s[i][1];
            no++;
        }
    }
    tb_putc(expect, '[');
    for (int i = 0; i < no; i++) {
        if (i) tb_puts(expect, ", ");
        py_int_list(expect, out[i], 2);
    }
    tb_putc(expect, ']');
}

// ---- longest_run(xs): level 4 -----------------------------------------------------------------
// p[0] 0 increasing, 1 non-decreasing, 2 decreasing, 3 equal, 4..8: |difference| <= p[0] - 3

static const char *const RUN_TEXT[] = {"greater than", "greater than or equal to", "less than", "equal to"};
static const char *const RUN_COND[] = {"xs[i] > xs[i - 1]", "xs[i] >= xs[i - 1]", "xs[i] < xs[i - 1]", "xs[i] == xs[i - 1]"};

static void lr_params(uint64_t *g, int64_t *p) { p[0] = tb_range(g, 0, 8); }
static void lr_spec(bbuf *o, const int64_t *p) {
    tb_puts(o, "returns the length of the longest contiguous stretch of the list of integers xs in which every element is ");
    if (p[0] < 4) tb_printf(o, "%s the one before it", RUN_TEXT[p[0]]);
    else tb_printf(o, "at most %lld away from the one before it (absolute difference)", (long long)(p[0] - 3));
    tb_puts(o, " (0 for an empty list)");
}
static void lr_cond(bbuf *o, const int64_t *p) {
    if (p[0] < 4) tb_puts(o, RUN_COND[p[0]]);
    else tb_printf(o, "abs(xs[i] - xs[i - 1]) <= %lld", (long long)(p[0] - 3));
}
static void lr_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "Scan once: the current stretch grows by one when ");
    lr_cond(o, p);
    tb_puts(o, ", else restarts at 1; keep the best length.\n");
}
static void lr_code(bbuf *o, const int64_t *p) {
    tb_puts(o, "def longest_run(xs):\n    best = 0\n    cur = 0\n    for i in range(len(xs)):\n        if i > 0 and ");
    lr_cond(o, p);
    tb_puts(o, ":\n            cur += 1\n        else:\n            cur = 1\n        best = max(best, cur)\n    return best\n");
}
static void lr_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t xs[LIST_MAX];
    int n = k == 0 ? 0 : rand_int_list(g, xs, 12, 0, 9), best = 0, cur = 0;
    for (int i = 0; i < n; i++) {
        int ok = 0;
        if (i > 0) {
            int64_t d = xs[i] - xs[i - 1];
            ok = p[0] == 0 ? d > 0 : p[0] == 1 ? d >= 0 : p[0] == 2 ? d < 0 : p[0] == 3 ? d == 0 : (d < 0 ? -d : d) <= p[0] - 3;
        }
        cur = ok ? cur + 1 : 1;
        if (cur > best) best = cur;
    }
    py_int_list(call, xs, n);
    py_int(expect, best);
}

// ---- window_sum(xs): level 4 ------------------------------------------------------------------
// p[0] window 1..8, p[1] 0 largest, 1 smallest

static void ws_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 1, 8);
    p[1] = tb_range(g, 0, 1);
}
static void ws_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns the %s sum of %lld consecutive elements of the list of integers xs, or None if xs has fewer than %lld elements",
              p[1] ? "smallest" : "largest", (long long)p[0], (long long)p[0]);
}
static void ws_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "Sum each slice xs[i:i + %lld] for i from 0 to len(xs) - %lld and take the %s.\n", (long long)p[0], (long long)p[0], p[1] ? "minimum" : "maximum");
}
static void ws_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def window_sum(xs):\n"
              "    if len(xs) < %lld:\n"
              "        return None\n"
              "    return %s(sum(xs[i:i + %lld]) for i in range(len(xs) - %lld + 1))\n",
              (long long)p[0], p[1] ? "min" : "max", (long long)p[0], (long long)p[0]);
}
static void ws_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t xs[LIST_MAX];
    int n = k == 0 ? (int)p[0] - 1 : k == 1 ? (int)p[0] : (int)tb_range(g, 0, 14);
    for (int i = 0; i < n; i++) xs[i] = tb_range(g, -20, 20);
    py_int_list(call, xs, n);
    if (n < p[0]) {
        py_none(expect);
        return;
    }
    int64_t best = 0;
    for (int i = 0; i + p[0] <= n; i++) {
        int64_t s = 0;
        for (int j = 0; j < p[0]; j++) s += xs[i + j];
        if (i == 0 || (p[1] ? s < best : s > best)) best = s;
    }
    py_int(expect, best);
}

// ---- max_subarray(xs): level 5 ----------------------------------------------------------------
// p[0] maximum length 0..8 (0: no limit)

static void ms_params(uint64_t *g, int64_t *p) { p[0] = tb_range(g, 0, 8); }
static void ms_spec(bbuf *o, const int64_t *p) {
    tb_puts(o, "returns the largest sum of a non-empty contiguous part of the non-empty list of integers xs");
    if (p[0]) tb_printf(o, " that has at most %lld elements", (long long)p[0]);
}
static void ms_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "For each start i, extend the part one element at a time%s, keeping a running sum.\n", p[0] ? " (at most the length limit)" : "");
    tb_step(o);
    tb_puts(o, "The answer is the best running sum seen; start from xs[0] so all-negative lists work.\n");
}
static void ms_code(bbuf *o, const int64_t *p) {
    tb_puts(o, "def max_subarray(xs):\n    best = xs[0]\n    for i in range(len(xs)):\n        total = 0\n");
    if (p[0]) tb_printf(o, "        for j in range(i, min(len(xs), i + %lld)):\n", (long long)p[0]);
    else tb_puts(o, "        for j in range(i, len(xs)):\n");
    tb_puts(o, "            total += xs[j]\n            best = max(best, total)\n    return best\n");
}
static void ms_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t xs[LIST_MAX];
    int n = k == 0 ? 1 : (int)tb_range(g, 1, 12);
    for (int i = 0; i < n; i++) xs[i] = tb_range(g, -20, 20);
    int64_t best = xs[0];
    for (int i = 0; i < n; i++) {
        int64_t total = 0;
        for (int j = i; j < n && (p[0] == 0 || j < i + p[0]); j++) {
            total += xs[j];
            if (total > best) best = total;
        }
    }
    py_int_list(call, xs, n);
    py_int(expect, best);
}

// ---- lis_length(xs): level 5 ------------------------------------------------------------------
// p[0] 0 strictly increasing, 1 non-decreasing, 2 strictly decreasing, 3 non-increasing

static const char *const LIS_TEXT[] = {"strictly increasing", "non-decreasing", "strictly decreasing", "non-increasing"};
static const char *const LIS_OP[] = {"<", "<=", ">", ">="};

static void lis_params(uint64_t *g, int64_t *p) { p[0] = tb_range(g, 0, 3); }
static void lis_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns the length of the longest %s subsequence of the list of integers xs (its elements need not be adjacent; 0 for an empty list)", LIS_TEXT[p[0]]);
}
static void lis_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "best[i] is the longest such subsequence ending at i: 1 plus the best best[j] over j < i with xs[j] %s xs[i].\n", LIS_OP[p[0]]);
}
static void lis_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def lis_length(xs):\n"
              "    best = [1] * len(xs)\n"
              "    for i in range(len(xs)):\n"
              "        for j in range(i):\n"
              "            if xs[j] %s xs[i]:\n"
              "                best[i] = max(best[i], best[j] + 1)\n"
              "    return max(best) if best else 0\n",
              LIS_OP[p[0]]);
}
static void lis_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t xs[LIST_MAX];
    int best[LIST_MAX], n = k == 0 ? 0 : rand_int_list(g, xs, 12, 0, 15), ans = 0;
    for (int i = 0; i < n; i++) {
        best[i] = 1;
        for (int j = 0; j < i; j++) {
            int64_t a = xs[j], b = xs[i];
            int ok = p[0] == 0 ? a < b : p[0] == 1 ? a <= b : p[0] == 2 ? a > b : a >= b;
            if (ok && best[j] + 1 > best[i]) best[i] = best[j] + 1;
        }
        if (best[i] > ans) ans = best[i];
    }
    py_int_list(call, xs, n);
    py_int(expect, ans);
}

// ---- count_islands(grid): level 5 -------------------------------------------------------------
// p[0] 1: diagonal neighbours connect too; p[1] minimum island size 1..3

static void ci_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 0, 1);
    p[1] = tb_range(g, 1, 3);
}
static void ci_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "takes a grid (a non-empty list of equally long non-empty lists of 0s and 1s) and returns the number of islands: groups of 1s connected horizontally or vertically%s",
              p[0] ? " or diagonally" : "");
    if (p[1] > 1) tb_printf(o, ", counting only islands of at least %lld cells", (long long)p[1]);
}
static void ci_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "From each unvisited 1, walk its island with a stack, marking cells seen and counting them (%s neighbours).\n", p[0] ? "8" : "4");
    tb_step(o);
    if (p[1] > 1) tb_printf(o, "Count the islands with at least %lld cells.\n", (long long)p[1]);
    else tb_puts(o, "Each walk started is one island.\n");
}
static void ci_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def count_islands(grid):\n"
              "    rows, cols = len(grid), len(grid[0])\n"
              "    seen = [[False] * cols for _ in range(rows)]\n"
              "    count = 0\n"
              "    for r in range(rows):\n"
              "        for c in range(cols):\n"
              "            if grid[r][c] != 1 or seen[r][c]:\n"
              "                continue\n"
              "            seen[r][c] = True\n"
              "            stack = [(r, c)]\n"
              "            size = 0\n"
              "            while stack:\n"
              "                y, x = stack.pop()\n"
              "                size += 1\n"
              "                for dy in (-1, 0, 1):\n"
              "                    for dx in (-1, 0, 1):\n"
              "                        if %s:\n"
              "                            continue\n"
              "                        ny, nx = y + dy, x + dx\n"
              "                        if 0 <= ny < rows and 0 <= nx < cols and grid[ny][nx] == 1 and not seen[ny][nx]:\n"
              "                            seen[ny][nx] = True\n"
              "                            stack.append((ny, nx))\n"
              "            if size >= %lld:\n"
              "                count += 1\n"
              "    return count\n",
              p[0] ? "dy == 0 and dx == 0" : "(dy == 0) == (dx == 0)", (long long)p[1]);
}
static void ci_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int rows = k == 0 ? 1 : (int)tb_range(g, 1, 6), cols = k == 0 ? 1 : (int)tb_range(g, 1, 6);
    int64_t cell[36];
    int label[36], stack[36], count = 0;
    for (int i = 0; i < rows * cols; i++) {
        cell[i] = k == 0 ? 1 : tb_chance(g, 45);
        label[i] = 0;
    }
    for (int i = 0; i < rows * cols; i++) {
        if (cell[i] != 1 || label[i]) continue;
        int top = 0, size = 0;
        label[i] = 1;
        stack[top++] = i;
        while (top) {
            int cur = stack[--top], y = cur / cols, x = cur % cols;
            size++;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    if (p[0] ? (dy == 0 && dx == 0) : ((dy == 0) == (dx == 0))) continue;
                    int ny = y + dy, nx = x + dx;
                    if (ny < 0 || ny >= rows || nx < 0 || nx >= cols) continue;
                    int j = ny * cols + nx;
                    if (cell[j] == 1 && !label[j]) {
                        label[j] = 1;
                        stack[top++] = j;
                    }
                }
        }
        count += size >= p[1];
    }
    py_grid(call, cell, rows, cols);
    py_int(expect, count);
}

const code_family CODE_FAMILIES_LISTS[] = {
    {"transform_list", "xs", 1, tl_params, tl_spec, tl_plan, tl_code, tl_test},
    {"count_mod", "xs", 1, cm_params, cm_spec, cm_plan, cm_code, cm_test},
    {"fizzbuzz", "n", 2, fb_params, fb_spec, fb_plan, fb_code, fb_test},
    {"running", "xs", 2, run_params, run_spec, run_plan, run_code, run_test},
    {"pair_count", "xs", 3, pc_params, pc_spec, pc_plan, pc_code, pc_test},
    {"kth_value", "xs", 3, kv_params, kv_spec, kv_plan, kv_code, kv_test},
    {"transform_grid", "grid", 4, tg_params, tg_spec, tg_plan, tg_code, tg_test},
    {"merge_intervals", "iv", 4, mi_params, mi_spec, mi_plan, mi_code, mi_test},
    {"longest_run", "xs", 4, lr_params, lr_spec, lr_plan, lr_code, lr_test},
    {"window_sum", "xs", 4, ws_params, ws_spec, ws_plan, ws_code, ws_test},
    {"max_subarray", "xs", 5, ms_params, ms_spec, ms_plan, ms_code, ms_test},
    {"lis_length", "xs", 5, lis_params, lis_spec, lis_plan, lis_code, lis_test},
    {"count_islands", "grid", 5, ci_params, ci_spec, ci_plan, ci_code, ci_test},
};
const int CODE_FAMILIES_LISTS_N = (int)(sizeof CODE_FAMILIES_LISTS / sizeof CODE_FAMILIES_LISTS[0]);
