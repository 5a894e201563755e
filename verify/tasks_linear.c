// tasks_linear.c — linear equations in x. Levels 1-3 have integer solutions, level 4 a
// fraction, and level 5 (either) puts parentheses on both sides. The forms of the levels
// differ, so a statement determines its level (an id never has two difficulties). The worked
// solution expands, moves the x terms left and the numbers right, then divides.
#include "verify/tasks_build.h"
#include "verify/tasks_gen.h"

// "Ax + B" (terms that are 0 left out; "0" if both are).
static void lin_text(bbuf *o, int64_t A, int64_t B) {
    if (A) tb_term_text(o, A, 1, 1);
    if (B || !A) tb_term_text(o, B, 0, A == 0);
}

// "p(qx + r)" with p != 0 and q != 0.
static void scaled_text(bbuf *o, int64_t p, int64_t q, int64_t r) {
    if (p == -1) tb_putc(o, '-');
    else if (p != 1) tb_printf(o, "%lld", (long long)p);
    tb_putc(o, '(');
    lin_text(o, q, r);
    tb_putc(o, ')');
}

// "2x", "x", "-x" — a monomial as an object of a sentence.
static void mono_text(bbuf *o, int64_t c) {
    tb_term_text(o, c, 1, 1);
}

static void state(bbuf *o, int64_t A, int64_t B, int64_t C, int64_t D) {
    lin_text(o, A, B);
    tb_puts(o, " = ");
    lin_text(o, C, D);
    tb_putc(o, '\n');
}

int tasks_gen_linear(tasks_build *b) {
    uint64_t *g = &b->rng;
    int d = b->difficulty;
    int64_t A = 0, B = 0, C = 0, D = 0;          // Ax + B = Cx + D after expansion
    int64_t p = 0, q = 0, r = 0, s = 0, u = 0, v = 0, w = 0;  // level 5's unexpanded form
    bbuf *P = &b->prompt;
    tb_puts(P, "Solve for x: ");
    if (d == 1) {
        int64_t x = tb_range(g, -20, 20), a = tb_range(g, 1, 20);
        int form = (int)tb_range(g, 0, 2);
        if (form == 0) { A = 1; B = a; }
        else if (form == 1) { A = 1; B = -a; }
        else { A = tb_range(g, 2, 12) * (tb_chance(g, 30) ? -1 : 1); }
        D = A * x + B;
        state(P, A, B, 0, D);
    } else if (d == 2) {
        int64_t x = tb_range(g, -20, 20);
        A = tb_range(g, 2, 12) * (tb_chance(g, 30) ? -1 : 1);
        B = tb_range_nz(g, -50, 50);
        D = A * x + B;
        state(P, A, B, 0, D);
    } else if (d == 3) {
        int64_t x = tb_range(g, -30, 30);
        do {
            A = tb_range_nz(g, -12, 12);
            C = tb_range_nz(g, -12, 12);
        } while (A == C);
        B = tb_range(g, -60, 60);
        D = (A - C) * x + B;
        state(P, A, B, C, D);
    } else if (d == 4) {
        // A fractional solution, which also keeps level 4 statements apart from level 3's.
        do {
            A = tb_range_nz(g, -20, 20);
            C = tb_range_nz(g, -20, 20);
            B = tb_range(g, -60, 60);
            D = tb_range(g, -60, 60);
        } while (A == C || (D - B) % (A - C) == 0);
        state(P, A, B, C, D);
    } else {
        do {
            p = tb_range_nz(g, -9, 9);
            q = tb_range_nz(g, -9, 9);
            r = tb_range_nz(g, -9, 9);
            s = tb_range(g, -30, 30);
            u = tb_range_nz(g, -9, 9);
            v = tb_range_nz(g, -9, 9);
            w = tb_range(g, -9, 9);
            A = p * q;
            B = p * r + s;
            C = u * v;
            D = u * w;
        } while (A == C || p == 1 || u == 1);
        scaled_text(P, p, q, r);
        if (s) tb_term_text(P, s, 0, 0);
        tb_puts(P, " = ");
        scaled_text(P, u, v, w);
        tb_putc(P, '\n');
    }
    // The prompt ends "... = ...\n"; the statement reads better with a full stop.
    P->n--;
    tb_puts(P, ".\n");
    bbuf_put(&b->canon, P->p, P->n);
    if (!tb_statement_done(b)) return 0;

    bbuf *S = &b->solution;
    if (d == 5) {
        tb_step(S);
        tb_puts(S, "Expand the left side: ");
        scaled_text(S, p, q, r);
        if (s) tb_term_text(S, s, 0, 0);
        tb_puts(S, " = ");
        lin_text(S, A, B);
        tb_puts(S, "\n");
        tb_step(S);
        tb_puts(S, "Expand the right side: ");
        scaled_text(S, u, v, w);
        tb_puts(S, " = ");
        lin_text(S, C, D);
        tb_puts(S, "\n");
    }
    if (C) {
        tb_step(S);
        tb_puts(S, C > 0 ? "Subtract " : "Add ");
        mono_text(S, C > 0 ? C : -C);
        tb_puts(S, C > 0 ? " from both sides: " : " to both sides: ");
        A -= C;
        C = 0;
        state(S, A, B, C, D);
    }
    if (B) {
        tb_step(S);
        tb_printf(S, "%s %lld %s both sides: ", B > 0 ? "Subtract" : "Add", (long long)(B > 0 ? B : -B), B > 0 ? "from" : "to");
        D -= B;
        B = 0;
        state(S, A, B, C, D);
    }
    if (A != 1) {
        tb_step(S);
        tb_printf(S, "Divide both sides by %lld: x = ", (long long)A);
        tb_fraction(S, D, A);
        tb_putc(S, '\n');
    }
    tb_fraction(&b->answer, D, A);
    tb_answer(S);
    bbuf_put(S, b->answer.p, b->answer.n);
    tb_putc(S, '\n');
    return 1;
}
