// tasks_arith.c — multi-step integer arithmetic: a random expression tree with + - * and
// exact /, negatives and parentheses; the worked solution evaluates one operation per step
// (innermost first, left to right) and rewrites the remaining expression.
#include <string.h>

#include "verify/tasks_build.h"
#include "verify/tasks_gen.h"

#define ARITH_LIMIT 1000000000000ll  // |every intermediate value| stays below this
#define ARITH_MAX_NODES 32

typedef struct arith_level {
    int ops;          // binary operations
    int64_t leaf_max; // operands in [1, leaf_max]
    int64_t mul_max;  // operands directly under * or / stay below this
    int neg_pct;      // chance that an operand is negative
    int div;          // exact division allowed
} arith_level;

static const arith_level LEVELS[TASKS_MAX_DIFFICULTY + 1] = {
    {0},
    {2, 20, 10, 0, 0},
    {3, 99, 12, 15, 0},
    {4, 999, 50, 20, 1},
    {5, 9999, 99, 25, 1},
    {6, 99999, 999, 30, 1},
};

typedef struct anode {
    char op;  // '+', '-', '*', '/', or 0 for a number
    int l, r;
    int64_t v;
} anode;

typedef struct atree {
    anode n[ARITH_MAX_NODES];
    int count;
    int overflow;
} atree;

static int leaf(atree *t, uint64_t *rng, int64_t max, int neg_pct) {
    anode *a = &t->n[t->count];
    a->op = 0;
    a->v = tb_range(rng, 1, max);
    if (tb_chance(rng, neg_pct)) a->v = -a->v;
    return t->count++;
}

static int64_t apply(atree *t, char op, int64_t a, int64_t b) {
    __int128 v = op == '+' ? (__int128)a + b : op == '-' ? (__int128)a - b : op == '*' ? (__int128)a * b : (__int128)(a / b);
    if (v >= ARITH_LIMIT || v <= -ARITH_LIMIT) {
        t->overflow = 1;
        return 0;
    }
    return (int64_t)v;
}

// Builds a subtree with `ops` operations; operand size follows the parent operation.
static int build(atree *t, uint64_t *rng, const arith_level *L, int ops, int64_t operand_max) {
    if (ops == 0) return leaf(t, rng, operand_max, L->neg_pct);
    int roll = (int)tb_range(rng, 0, 99);
    char op = roll < 35 ? '+' : roll < 65 ? '-' : roll < 90 || !L->div ? '*' : '/';
    int self = t->count++;
    int l, r;
    if (op == '/') {
        // The divisor is a number chosen among the divisors of the dividend's value.
        l = build(t, rng, L, ops - 1, L->leaf_max);
        int64_t lv = t->n[l].v, m = lv < 0 ? -lv : lv;
        int64_t divs[64];
        int nd = 0;
        for (int64_t d = 2; d <= L->mul_max && nd < 64; d++)
            if (m % d == 0) divs[nd++] = d;
        r = t->count++;
        t->n[r].op = 0;
        if (nd == 0 || m == 0) {
            op = '*';
            t->n[r].v = tb_range(rng, 2, L->mul_max);
        } else {
            t->n[r].v = divs[tb_range(rng, 0, nd - 1)];
        }
        if (tb_chance(rng, L->neg_pct)) t->n[r].v = -t->n[r].v;
    } else {
        int lops = (int)tb_range(rng, 0, ops - 1);
        int64_t child_max = op == '*' ? L->mul_max : L->leaf_max;
        l = build(t, rng, L, lops, child_max);
        r = build(t, rng, L, ops - 1 - lops, child_max);
    }
    anode *a = &t->n[self];
    a->op = op;
    a->l = l;
    a->r = r;
    a->v = apply(t, op, t->n[l].v, t->n[r].v);
    return self;
}

static int prec(const anode *a) { return a->op == '+' || a->op == '-' ? 1 : a->op ? 2 : 3; }

// Minimal parentheses for the tree's own order: a lower-precedence child, or a right child
// of equal precedence (so "a - (b + c)" and "a * (b * c)" keep their shape), and negative
// numbers inside a larger expression.
static void render(bbuf *o, const atree *t, int i, int parent_prec, int is_right, int whole) {
    const anode *a = &t->n[i];
    if (!a->op) {
        tb_int(o, a->v, !whole);
        return;
    }
    int p = prec(a);
    int paren = p < parent_prec || (is_right && p == parent_prec);
    if (paren) tb_putc(o, '(');
    render(o, t, a->l, p, 0, 0);
    tb_putc(o, ' ');
    tb_putc(o, a->op);
    tb_putc(o, ' ');
    render(o, t, a->r, p, 1, 0);
    if (paren) tb_putc(o, ')');
}

// "347 * 28 = 347 * 20 + 347 * 8 = 6940 + 2776 = 9716" for two positive multi-digit factors.
static void mul_step(bbuf *o, int64_t a, int64_t b, int64_t v) {
    tb_int(o, a, 1);
    tb_puts(o, " * ");
    tb_int(o, b, 1);
    if (a >= 10 && b >= 10) {
        int64_t big = a, small = b;
        if (b > a) {
            big = b;
            small = a;
        }
        int64_t parts[20];
        int np = 0;
        for (int64_t place = 1; small / place > 0 && np < 20; place *= 10) {
            int64_t digit = small / place % 10;
            if (digit) parts[np++] = digit * place;
        }
        if (np > 1) {
            tb_puts(o, " = ");
            for (int k = np - 1; k >= 0; k--) tb_printf(o, "%s%lld * %lld", k == np - 1 ? "" : " + ", (long long)big, (long long)parts[k]);
            tb_puts(o, " = ");
            for (int k = np - 1; k >= 0; k--) tb_printf(o, "%s%lld", k == np - 1 ? "" : " + ", (long long)(big * parts[k]));
        }
    }
    tb_printf(o, " = %lld", (long long)v);
}

static void solve(tasks_build *b, atree *t, int root, int i) {
    anode *a = &t->n[i];
    if (!a->op) return;
    solve(b, t, root, a->l);
    solve(b, t, root, a->r);
    int64_t lv = t->n[a->l].v, rv = t->n[a->r].v;
    tb_step(&b->solution);
    if (a->op == '*' && b->difficulty >= 3) {
        mul_step(&b->solution, lv, rv, a->v);
    } else {
        tb_int(&b->solution, lv, 1);
        tb_putc(&b->solution, ' ');
        tb_putc(&b->solution, a->op);
        tb_putc(&b->solution, ' ');
        tb_int(&b->solution, rv, 1);
        tb_puts(&b->solution, " = ");
        tb_i64(&b->solution, a->v);
    }
    a->op = 0;  // this operation is done: the node is now a number
    if (i != root) {
        tb_puts(&b->solution, ", leaving ");
        render(&b->solution, t, root, 0, 0, 1);
    }
    tb_putc(&b->solution, '\n');
}

int tasks_gen_arith(tasks_build *b) {
    const arith_level *L = &LEVELS[b->difficulty];
    atree t;
    int root;
    do {
        t.count = 0;
        t.overflow = 0;
        root = build(&t, &b->rng, L, L->ops, L->leaf_max);
    } while (t.overflow);
    tb_puts(&b->prompt, "Compute ");
    render(&b->prompt, &t, root, 0, 0, 1);
    tb_puts(&b->prompt, ".\n");
    bbuf_put(&b->canon, b->prompt.p, b->prompt.n);
    if (!tb_statement_done(b)) return 0;
    tb_i64(&b->answer, t.n[root].v);
    solve(b, &t, root, root);
    tb_answer(&b->solution);
    bbuf_put(&b->solution, b->answer.p, b->answer.n);
    tb_putc(&b->solution, '\n');
    return 1;
}
