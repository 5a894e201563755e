// tasks_algebra.c — small algebra on polynomials in x, three families:
//   expand    "Expand (2x - 1)(x + 3)."            answer: a polynomial, checked by evaluation
//   simplify  "Simplify 3(x - 2) - 2(4 - x) + x."  answer: a polynomial
//   evaluate  "Evaluate 2x^2 - 3x + 1 at x = -2."  answer: a number
// The difficulty sets the number and degree of the factors/terms and the coefficient range;
// each level's statements have a form of their own, so a statement determines its level.
#include "verify/tasks_build.h"
#include "verify/tasks_gen.h"

static tb_poly lin(int64_t a, int64_t b) {
    tb_poly p;
    tb_poly_zero(&p);
    p.c[1] = a;
    p.c[0] = b;
    p.deg = 1;
    tb_poly_trim(&p);
    return p;
}

static tb_poly quad(int64_t a, int64_t b, int64_t c) {
    tb_poly p = lin(b, c);
    p.c[2] = a;
    p.deg = 2;
    tb_poly_trim(&p);
    return p;
}

static int64_t sgn_range(uint64_t *g, int64_t lo, int64_t hi) {
    int64_t v = tb_range(g, lo, hi);
    return tb_chance(g, 50) ? -v : v;
}

// Polynomial in ascending order ("4 - x"), for variety in statements.
static void poly_text_ascending(bbuf *o, const tb_poly *p) {
    int first = 1;
    for (int i = 0; i <= p->deg; i++) {
        if (p->c[i] == 0) continue;
        tb_term_text(o, p->c[i], i, first);
        first = 0;
    }
    if (first) tb_putc(o, '0');
}

// ---- expand -----------------------------------------------------------------------------------

// Every product of a term of a with a term of b, as a sum ("2x^2 + 6x - x - 3").
static int distributed_text(bbuf *o, const tb_poly *a, const tb_poly *b) {
    int first = 1, terms = 0;
    for (int i = a->deg; i >= 0; i--)
        for (int j = b->deg; j >= 0; j--) {
            if (!a->c[i] || !b->c[j]) continue;
            tb_term_text(o, a->c[i] * b->c[j], i + j, first);
            first = 0;
            terms++;
        }
    return terms;
}

static int count_terms(const tb_poly *p) {
    int n = 0;
    for (int i = 0; i <= p->deg; i++) n += p->c[i] != 0;
    return n;
}

static int gen_expand(tasks_build *b) {
    uint64_t *g = &b->rng;
    int d = b->difficulty;
    tb_poly f[4];
    int nf = 0, power = 0;
    if (d == 1) {
        f[nf++] = lin(1, tb_range_nz(g, -9, 9));
        f[nf++] = lin(1, tb_range_nz(g, -9, 9));
    } else if (d == 2) {
        do {  // not both monic: that is level 1's form
            nf = 0;
            f[nf++] = lin(sgn_range(g, 1, 6), sgn_range(g, 1, 9));
            f[nf++] = lin(sgn_range(g, 1, 6), sgn_range(g, 1, 9));
        } while (f[0].c[1] == 1 && f[1].c[1] == 1);
    } else if (d == 3) {
        if (tb_chance(g, 50)) {
            for (int k = 0; k < 3; k++) f[nf++] = lin(1, tb_range_nz(g, -9, 9));
        } else {
            f[nf++] = lin(sgn_range(g, 1, 5), sgn_range(g, 1, 9));
            f[nf++] = quad(sgn_range(g, 1, 5), tb_range(g, -9, 9), sgn_range(g, 1, 9));
        }
    } else if (d == 4) {
        do {  // not all monic: that is level 3's form
            nf = 0;
            for (int k = 0; k < 3; k++) f[nf++] = lin(sgn_range(g, 1, 5), sgn_range(g, 1, 9));
        } while (f[0].c[1] == 1 && f[1].c[1] == 1 && f[2].c[1] == 1);
    } else {
        if (tb_chance(g, 40)) {
            power = (int)tb_range(g, 3, 4);
            tb_poly base = lin(sgn_range(g, 1, 3), sgn_range(g, 1, 5));
            for (int k = 0; k < power; k++) f[nf++] = base;
        } else {
            f[nf++] = lin(sgn_range(g, 1, 5), sgn_range(g, 1, 9));
            f[nf++] = lin(sgn_range(g, 1, 5), sgn_range(g, 1, 9));
            f[nf++] = quad(sgn_range(g, 1, 5), tb_range(g, -9, 9), sgn_range(g, 1, 9));
        }
    }
    bbuf *P = &b->prompt;
    tb_puts(P, "Expand ");
    for (int k = 0; k < (power ? 1 : nf); k++) {
        tb_putc(P, '(');
        tb_poly_text(P, &f[k]);
        tb_putc(P, ')');
    }
    if (power) tb_printf(P, "^%d", power);
    tb_puts(P, ".\n");
    bbuf_put(&b->canon, P->p, P->n);
    if (!tb_statement_done(b)) return 0;

    bbuf *S = &b->solution;
    tb_poly cur = f[0];
    if (power) {
        tb_step(S);
        tb_putc(S, '(');
        tb_poly_text(S, &f[0]);
        tb_printf(S, ")^%d is the product of %d equal factors.\n", power, power);
    }
    for (int k = 1; k < nf; k++) {
        tb_poly next;
        if (tb_poly_mul(&next, &cur, &f[k])) die("algebra generator: coefficients out of range (a bug in its ranges)");
        tb_step(S);
        tb_putc(S, '(');
        tb_poly_text(S, &cur);
        tb_puts(S, ")(");
        tb_poly_text(S, &f[k]);
        tb_puts(S, ") = ");
        int terms = distributed_text(S, &cur, &f[k]);
        if (terms != count_terms(&next)) {
            tb_puts(S, " = ");
            tb_poly_text(S, &next);
        }
        tb_putc(S, '\n');
        cur = next;
    }
    tb_poly_text(&b->answer, &cur);
    return 1;
}

// ---- simplify ---------------------------------------------------------------------------------

typedef struct sterm {
    int64_t c;     // multiplier in front of the parentheses; 0 for a bare monomial
    tb_poly p;     // the parenthesised polynomial, or the monomial itself
    int ascending; // how the statement writes p
} sterm;

static int gen_simplify(tasks_build *b) {
    uint64_t *g = &b->rng;
    int d = b->difficulty;
    int nterms = d + 1;
    sterm t[TASKS_MAX_DIFFICULTY + 1];
    int any_paren = 0;
    for (int k = 0; k < nterms; k++) {
        sterm *s = &t[k];
        s->ascending = tb_chance(g, 25);
        if (tb_chance(g, 30) && !(k == nterms - 1 && !any_paren)) {
            int deg = d >= 3 ? (int)tb_range(g, 0, 2) : (int)tb_range(g, 0, 1);
            tb_poly_zero(&s->p);
            s->p.c[deg] = sgn_range(g, 1, 9);
            s->p.deg = deg;
            s->c = 0;
        } else {
            any_paren = 1;
            s->c = sgn_range(g, 2, d >= 4 ? 12 : 9);
            if (tb_chance(g, 25)) s->c = s->c < 0 ? -1 : 1;
            if (d >= 3 && tb_chance(g, 40)) s->p = quad(sgn_range(g, 1, 5), tb_range(g, -9, 9), tb_range(g, -9, 9));
            else s->p = lin(sgn_range(g, 1, 9), sgn_range(g, 1, 12));
        }
    }
    bbuf *P = &b->prompt;
    tb_puts(P, "Simplify ");
    for (int k = 0; k < nterms; k++) {
        sterm *s = &t[k];
        if (s->c == 0) {  // a bare monomial
            int deg = s->p.deg;
            tb_term_text(P, s->p.c[deg], deg, k == 0);
            continue;
        }
        int64_t m = s->c < 0 ? -s->c : s->c;
        if (k == 0) {
            if (s->c < 0) tb_putc(P, '-');
        } else {
            tb_puts(P, s->c < 0 ? " - " : " + ");
        }
        if (m != 1) tb_printf(P, "%lld", (long long)m);
        tb_putc(P, '(');
        if (s->ascending) poly_text_ascending(P, &s->p);
        else tb_poly_text(P, &s->p);
        tb_putc(P, ')');
    }
    tb_puts(P, ".\n");
    bbuf_put(&b->canon, P->p, P->n);
    if (!tb_statement_done(b)) return 0;

    bbuf *S = &b->solution;
    tb_poly parts[TASKS_MAX_DIFFICULTY + 1], sum;
    tb_poly_zero(&sum);
    for (int k = 0; k < nterms; k++) {
        sterm *s = &t[k];
        if (s->c == 0) {
            parts[k] = s->p;
        } else {
            tb_poly cst;
            tb_poly_zero(&cst);
            cst.c[0] = s->c;
            cst.deg = 0;
            if (tb_poly_mul(&parts[k], &cst, &s->p)) die("algebra generator: coefficients out of range (a bug in its ranges)");
            tb_step(S);
            if (s->c == -1) tb_putc(S, '-');
            else if (s->c != 1) tb_printf(S, "%lld", (long long)s->c);
            tb_putc(S, '(');
            if (s->ascending) poly_text_ascending(S, &s->p);
            else tb_poly_text(S, &s->p);
            tb_puts(S, ") = ");
            tb_poly_text(S, &parts[k]);
            tb_putc(S, '\n');
        }
        if (tb_poly_add(&sum, &sum, &parts[k])) die("algebra generator: coefficients out of range (a bug in its ranges)");
    }
    tb_step(S);
    tb_puts(S, "Combine like terms: ");
    int first = 1;
    for (int k = 0; k < nterms; k++)
        for (int i = parts[k].deg; i >= 0; i--) {
            if (!parts[k].c[i]) continue;
            tb_term_text(S, parts[k].c[i], i, first);
            first = 0;
        }
    tb_puts(S, " = ");
    tb_poly_text(S, &sum);
    tb_putc(S, '\n');
    tb_poly_text(&b->answer, &sum);
    return 1;
}

// ---- evaluate ---------------------------------------------------------------------------------

static int64_t ipow(int64_t x, int k) {
    int64_t r = 1;
    while (k-- > 0) r *= x;
    return r;
}

static int gen_evaluate(tasks_build *b) {
    uint64_t *g = &b->rng;
    int d = b->difficulty;
    int deg = d;  // the degree tells the level, so a statement has one difficulty
    int64_t xmax = d <= 2 ? 9 : d == 3 ? 6 : d == 4 ? 5 : 4;
    tb_poly p;
    tb_poly_zero(&p);
    p.deg = deg;
    p.c[deg] = sgn_range(g, 1, d >= 4 ? 12 : 9);
    for (int i = 0; i < deg; i++) p.c[i] = tb_chance(g, 20) ? 0 : tb_range(g, -12, 12);
    int64_t x = tb_range_nz(g, -xmax, xmax);
    bbuf *P = &b->prompt;
    tb_puts(P, "Evaluate ");
    tb_poly_text(P, &p);
    tb_printf(P, " at x = %lld.\n", (long long)x);
    bbuf_put(&b->canon, P->p, P->n);
    if (!tb_statement_done(b)) return 0;

    bbuf *S = &b->solution;
    int64_t vals[TB_POLY_MAX + 1], total = 0;
    int nv = 0;
    for (int i = p.deg; i >= 0; i--) {
        if (!p.c[i]) continue;
        int64_t v = p.c[i] * ipow(x, i);
        vals[nv++] = v;
        total += v;
        if (i == 0 || (i == 1 && p.c[i] == 1)) continue;  // nothing to compute for this term
        // "3 * (-2)^2 = 3 * 4 = 12", "(-2)^2 = 4", "-5 * 3 = -15"
        tb_step(S);
        if (p.c[i] != 1) tb_printf(S, "%lld * ", (long long)p.c[i]);
        tb_int(S, x, 1);
        if (i >= 2) {
            tb_printf(S, "^%d", i);
            if (p.c[i] != 1) tb_printf(S, " = %lld * %lld", (long long)p.c[i], (long long)ipow(x, i));
        }
        tb_printf(S, " = %lld\n", (long long)v);
    }
    if (nv > 1) {
        tb_step(S);
        for (int k = 0; k < nv; k++) {
            if (k == 0) tb_printf(S, "%lld", (long long)vals[k]);
            else tb_printf(S, " %c %lld", vals[k] < 0 ? '-' : '+', (long long)(vals[k] < 0 ? -vals[k] : vals[k]));
        }
        tb_printf(S, " = %lld\n", (long long)total);
    }
    tb_printf(&b->answer, "%lld", (long long)total);
    return 1;
}

int tasks_gen_algebra(tasks_build *b) {
    int family = (int)tb_range(&b->rng, 0, 2);
    int ok = family == 0 ? gen_expand(b) : family == 1 ? gen_simplify(b) : gen_evaluate(b);
    if (!ok) return 0;
    tb_answer(&b->solution);
    bbuf_put(&b->solution, b->answer.p, b->answer.n);
    tb_putc(&b->solution, '\n');
    return 1;
}
