// tasks_build.c — shared generator plumbing; see tasks_build.h.
#include "verify/tasks_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shards/task_format.h"
#include "verify/tasks.h"

void tb_init(tasks_build *b) { memset(b, 0, sizeof *b); }

void tb_free(tasks_build *b) {
    bbuf_free(&b->prompt);
    bbuf_free(&b->answer);
    bbuf_free(&b->tests);
    bbuf_free(&b->solution);
    bbuf_free(&b->canon);
}

static const char *kind_label(uint32_t task) {
    switch (task) {
    case TASK_ARITH: return "arith";
    case TASK_LINEAR: return "linear";
    case TASK_ALGEBRA: return "algebra";
    case TASK_CODE: return "code";
    default: return "unknown";
    }
}

void tb_start(tasks_build *b, uint32_t task, int difficulty, uint64_t draw_seed, int want_split, int heldout_pct) {
    b->task = task;
    b->difficulty = difficulty;
    b->want_split = want_split;
    b->heldout_pct = heldout_pct;
    b->rng = draw_seed;
    b->prompt.n = b->answer.n = b->tests.n = b->solution.n = b->canon.n = 0;
    b->id = 0;
    b->split = 0;
    // The canonical statement starts with the task name, so equal texts of different kinds differ.
    tb_puts(&b->canon, kind_label(task));
    tb_putc(&b->canon, '\n');
}

uint32_t tasks_split_of(uint64_t id, int heldout_pct) {
    return id % 100 < (uint64_t)heldout_pct ? SPLIT_HELDOUT : SPLIT_TRAIN;
}

int tb_statement_done(tasks_build *b) {
    b->id = hash64(b->canon.p, b->canon.n, 0);
    b->split = tasks_split_of(b->id, b->heldout_pct);
    return b->want_split < 0 || (uint32_t)b->want_split == b->split;
}

static char *dup_buf(const bbuf *x) {
    char *s = xmalloc(x->n + 1);
    if (x->n) memcpy(s, x->p, x->n);
    s[x->n] = 0;
    return s;
}

void tb_emit(const tasks_build *b, problem_rec *out) {
    out->id = b->id;
    out->task = b->task;
    out->split = b->split;
    out->difficulty = (uint32_t)b->difficulty;
    out->prompt = dup_buf(&b->prompt);
    out->answer = dup_buf(&b->answer);
    out->tests = dup_buf(&b->tests);
    out->solution = dup_buf(&b->solution);
}

// ---- text ---------------------------------------------------------------------------------

void tb_puts(bbuf *o, const char *s) { bbuf_put(o, s, strlen(s)); }
void tb_putc(bbuf *o, char c) {
    bbuf_reserve(o, 1);
    o->p[o->n++] = (uint8_t)c;
}

void tb_i64(bbuf *o, int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    bbuf_reserve(o, (size_t)n + 1);
    if (v < 0) o->p[o->n++] = '-';
    while (n) o->p[o->n++] = (uint8_t)tmp[--n];
}
void tb_step(bbuf *o) { bbuf_put(o, BERRY_STEP, sizeof BERRY_STEP - 1); }
void tb_answer(bbuf *o) { bbuf_put(o, BERRY_ANSWER, sizeof BERRY_ANSWER - 1); }

void tb_printf(bbuf *o, const char *fmt, ...) {
    va_list ap;
    bbuf_reserve(o, 128);
    va_start(ap, fmt);
    int n = vsnprintf((char *)o->p + o->n, o->cap - o->n, fmt, ap);
    va_end(ap);
    if (n < 0) die("tb_printf: bad format '%s'", fmt);
    if ((size_t)n >= o->cap - o->n) {
        bbuf_reserve(o, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf((char *)o->p + o->n, o->cap - o->n, fmt, ap);
        va_end(ap);
    }
    o->n += (size_t)n;
}

// ---- random -------------------------------------------------------------------------------

int64_t tb_range(uint64_t *rng, int64_t lo, int64_t hi) {
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(rng_next(rng) % span);
}

int64_t tb_range_nz(uint64_t *rng, int64_t lo, int64_t hi) {
    for (;;) {
        int64_t v = tb_range(rng, lo, hi);
        if (v != 0) return v;
    }
}

int tb_chance(uint64_t *rng, int percent) { return (int)(rng_next(rng) % 100) < percent; }

// ---- numbers ------------------------------------------------------------------------------

int64_t tb_gcd(int64_t a, int64_t b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

void tb_fraction(bbuf *o, int64_t p, int64_t q) {
    if (q < 0) {
        p = -p;
        q = -q;
    }
    int64_t g = tb_gcd(p, q);
    if (g > 1) {
        p /= g;
        q /= g;
    }
    tb_i64(o, p);
    if (q != 1) {
        tb_putc(o, '/');
        tb_i64(o, q);
    }
}

void tb_int(bbuf *o, int64_t v, int paren_neg) {
    int paren = v < 0 && paren_neg;
    if (paren) tb_putc(o, '(');
    tb_i64(o, v);
    if (paren) tb_putc(o, ')');
}

// ---- polynomials ------------------------------------------------------------------------------

#define TB_COEF_LIMIT 1000000000000ll

void tb_poly_zero(tb_poly *p) {
    memset(p, 0, sizeof *p);
    p->deg = -1;
}

void tb_poly_trim(tb_poly *p) {
    while (p->deg >= 0 && p->c[p->deg] == 0) p->deg--;
}

int tb_poly_mul(tb_poly *r, const tb_poly *a, const tb_poly *b) {
    tb_poly t;
    tb_poly_zero(&t);
    if (a->deg < 0 || b->deg < 0) {
        *r = t;
        return 0;
    }
    if (a->deg + b->deg > TB_POLY_MAX) return -1;
    for (int i = 0; i <= a->deg; i++)
        for (int j = 0; j <= b->deg; j++) {
            __int128 v = (__int128)a->c[i] * b->c[j] + t.c[i + j];
            if (v > TB_COEF_LIMIT || v < -TB_COEF_LIMIT) return -1;
            t.c[i + j] = (int64_t)v;
        }
    t.deg = a->deg + b->deg;
    tb_poly_trim(&t);
    *r = t;
    return 0;
}

int tb_poly_add(tb_poly *r, const tb_poly *a, const tb_poly *b) {
    tb_poly t;
    tb_poly_zero(&t);
    t.deg = a->deg > b->deg ? a->deg : b->deg;
    for (int i = 0; i <= t.deg; i++) {
        int64_t v = (i <= a->deg ? a->c[i] : 0) + (i <= b->deg ? b->c[i] : 0);
        if (v > TB_COEF_LIMIT || v < -TB_COEF_LIMIT) return -1;
        t.c[i] = v;
    }
    tb_poly_trim(&t);
    *r = t;
    return 0;
}

void tb_term_text(bbuf *o, int64_t c, int k, int first) {
    int64_t m = c < 0 ? -c : c;
    if (first) {
        if (c < 0) tb_putc(o, '-');
    } else {
        tb_puts(o, c < 0 ? " - " : " + ");
    }
    if (k == 0 || m != 1) tb_i64(o, m);
    if (k >= 1) tb_putc(o, 'x');
    if (k >= 2) {
        tb_putc(o, '^');
        tb_i64(o, k);
    }
}

void tb_poly_text(bbuf *o, const tb_poly *p) {
    int first = 1;
    for (int i = p->deg; i >= 0; i--) {
        if (p->c[i] == 0) continue;
        tb_term_text(o, p->c[i], i, first);
        first = 0;
    }
    if (first) tb_putc(o, '0');
}
