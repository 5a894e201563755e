// math_expr.c — recursive-descent parser and evaluator for algebraic answers; see math_expr.h.
#include "verify/math_expr.h"

#include <stdio.h>
#include <string.h>

typedef struct parser {
    mx_expr *x;
    const char *s;
    size_t n, i;
    int nest;
    char *err;
    size_t errcap;
    int failed;
} parser;

static int fail(parser *p, const char *what) {
    if (!p->failed) {
        p->failed = 1;
        if (p->i < p->n) {
            unsigned char c = (unsigned char)p->s[p->i];
            if (c >= 0x20 && c < 0x7f) snprintf(p->err, p->errcap, "%s at offset %zu ('%c')", what, p->i, c);
            else snprintf(p->err, p->errcap, "%s at offset %zu (byte 0x%02x)", what, p->i, c);
        } else {
            snprintf(p->err, p->errcap, "%s at the end", what);
        }
    }
    return -1;
}

static void skip_space(parser *p) {
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\v' && c != '\f') break;
        p->i++;
    }
}

static int peek(parser *p) {
    skip_space(p);
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

// Appends a node after checking the degree bounds; returns its index or -1.
static int push(parser *p, mx_node nd, uint32_t ndeg, uint32_t ddeg) {
    if (ndeg > MX_MAX_DEGREE || ddeg > MX_MAX_DEGREE) return fail(p, "expression degree too high (limit 32)");
    if (p->x->n >= MX_MAX_NODES) return fail(p, "expression too large (limit 128 nodes)");
    nd.ndeg = (uint16_t)ndeg;
    nd.ddeg = (uint16_t)ddeg;
    p->x->node[p->x->n] = nd;
    return p->x->n++;
}

static int push_binary(parser *p, int op, int a, int b) {
    const mx_node *A = &p->x->node[a], *B = &p->x->node[b];
    uint32_t na = A->ndeg, da = A->ddeg, nb = B->ndeg, db = B->ddeg, nd, dd;
    switch (op) {
    case MX_ADD:
    case MX_SUB:  // (Pa Qb +- Pb Qa) / (Qa Qb)
        nd = na + db > nb + da ? na + db : nb + da;
        dd = da + db;
        break;
    case MX_MUL:
        nd = na + nb;
        dd = da + db;
        break;
    default:  // MX_DIV: (Pa Qb) / (Qa Pb); undefined where Pb vanishes (at most nb points)
        nd = na + db;
        dd = da + nb;
        p->x->bad += nb;
        if (p->x->bad > MX_MAX_DEGREE) return fail(p, "too many divisions by expressions in x (limit 32 degrees)");
        break;
    }
    mx_node node = {.op = (uint8_t)op, .a = (uint8_t)a, .b = (uint8_t)b};
    return push(p, node, nd, dd);
}

static int parse_expr(parser *p);

static int parse_number(parser *p) {
    size_t start = p->i;
    size_t int_start = p->i;
    while (p->i < p->n && is_digit(p->s[p->i])) p->i++;
    size_t int_len = p->i - int_start, frac_start = p->i, frac_len = 0;
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        frac_start = p->i;
        while (p->i < p->n && is_digit(p->s[p->i])) p->i++;
        frac_len = p->i - frac_start;
    }
    if (int_len + frac_len == 0) {
        p->i = start;
        return fail(p, "expected a number");
    }
    if (p->x->nlit >= MX_MAX_LITS) return fail(p, "too many numbers (limit 32)");
    // value = (integer digits followed by fraction digits) / 10^frac_len
    mq_rat *lit = &p->x->lit[p->x->nlit];
    mb_int *num = &lit->num, *den = &lit->den;
    if (mb_from_decimal(num, p->s + int_start, int_len) || mb_from_decimal(den, "1", 1)) return fail(p, "number too large");
    for (size_t j = 0; j < frac_len; j++)
        if (mb_mul_add_small(num, 10, (uint32_t)(p->s[frac_start + j] - '0')) || mb_mul_add_small(den, 10, 0))
            return fail(p, "number too large");
    mx_node nd = {.op = MX_NUM, .lit = (uint8_t)p->x->nlit++};
    return push(p, nd, 0, 0);
}

static int parse_atom(parser *p) {
    int c = peek(p);
    if (c == 'x') {
        p->i++;
        p->x->has_var = 1;
        mx_node nd = {.op = MX_VAR};
        return push(p, nd, 1, 0);
    }
    if (c == '(') {
        if (++p->nest > MX_MAX_NEST) return fail(p, "nesting too deep (limit 32)");
        p->i++;
        int e = parse_expr(p);
        if (e < 0) return -1;
        if (peek(p) != ')') return fail(p, "expected ')'");
        p->i++;
        p->nest--;
        return e;
    }
    if (is_digit(c) || c == '.') return parse_number(p);
    if (c < 0) return fail(p, "expected a number, 'x' or '('");
    return fail(p, "unexpected character");
}

// Exponent: an optionally signed integer literal, optionally in parentheses.
static int parse_exponent(parser *p, int *k) {
    int paren = 0, neg = 0;
    int c = peek(p);
    if (c == '(') {
        paren = 1;
        p->i++;
        c = peek(p);
    }
    if (c == '+' || c == '-') {
        neg = c == '-';
        p->i++;
        c = peek(p);
    }
    if (!is_digit(c)) return fail(p, "exponent must be an integer");
    long v = 0;
    while (p->i < p->n && is_digit(p->s[p->i])) {
        v = v * 10 + (p->s[p->i] - '0');
        if (v > MX_MAX_EXPONENT) return fail(p, "exponent too large (limit 64)");
        p->i++;
    }
    if (p->i < p->n && p->s[p->i] == '.') return fail(p, "exponent must be an integer");
    if (paren) {
        if (peek(p) != ')') return fail(p, "expected ')' after exponent");
        p->i++;
    }
    *k = neg ? (int)-v : (int)v;
    return 0;
}

static int at_power_op(parser *p) {
    int c = peek(p);
    if (c == '^') return 1;
    return c == '*' && p->i + 1 < p->n && p->s[p->i + 1] == '*';
}

static int parse_power(parser *p) {
    int a = parse_atom(p);
    if (a < 0) return -1;
    if (!at_power_op(p)) return a;
    p->i += p->s[p->i] == '^' ? 1 : 2;
    int k;
    if (parse_exponent(p, &k)) return -1;
    if (at_power_op(p)) return fail(p, "chained exponents are ambiguous; use parentheses");
    const mx_node *A = &p->x->node[a];
    uint32_t mag = (uint32_t)(k < 0 ? -k : k);
    uint32_t na = A->ndeg, da = A->ddeg;
    if (k < 0) {  // (Qa/Pa)^|k|: undefined where Pa vanishes
        p->x->bad += na;
        if (p->x->bad > MX_MAX_DEGREE) return fail(p, "too many divisions by expressions in x (limit 32 degrees)");
    }
    mx_node nd = {.op = MX_POW, .a = (uint8_t)a, .k = (int8_t)k};
    return k < 0 ? push(p, nd, da * mag, na * mag) : push(p, nd, na * mag, da * mag);
}

static int parse_unary(parser *p) {
    int c = peek(p);
    if (c == '+' || c == '-') {
        if (++p->nest > MX_MAX_NEST) return fail(p, "nesting too deep (limit 32)");
        p->i++;
        int a = parse_unary(p);
        if (a < 0) return -1;
        p->nest--;
        if (c == '+') return a;
        mx_node nd = {.op = MX_NEG, .a = (uint8_t)a};
        return push(p, nd, p->x->node[a].ndeg, p->x->node[a].ddeg);
    }
    return parse_power(p);
}

static int parse_term(parser *p) {
    int a = parse_unary(p);
    if (a < 0) return -1;
    for (;;) {
        int c = peek(p);
        int op;
        if (c == '*' && !at_power_op(p)) {
            op = MX_MUL;
            p->i++;
        } else if (c == '/') {
            op = MX_DIV;
            p->i++;
        } else if (c == 'x' || c == '(') {
            op = MX_MUL;  // implicit multiplication: 3x, 2(x+1), (x+1)(x-1)
        } else if (is_digit(c) || c == '.') {
            return fail(p, "a number cannot follow a factor without an operator");
        } else {
            return a;
        }
        int b = op == MX_MUL && (c == 'x' || c == '(') ? parse_power(p) : parse_unary(p);
        if (b < 0) return -1;
        a = push_binary(p, op, a, b);
        if (a < 0) return -1;
    }
}

static int parse_expr(parser *p) {
    int a = parse_term(p);
    if (a < 0) return -1;
    for (;;) {
        int c = peek(p);
        if (c != '+' && c != '-') return a;
        p->i++;
        int b = parse_term(p);
        if (b < 0) return -1;
        a = push_binary(p, c == '+' ? MX_ADD : MX_SUB, a, b);
        if (a < 0) return -1;
    }
}

int mx_parse(mx_expr *x, const char *s, size_t n, char *err, size_t errcap) {
    x->n = 0;
    x->nlit = 0;
    x->has_var = 0;
    x->bad = 0;
    parser p = {.x = x, .s = s, .n = n, .err = err, .errcap = errcap};
    if (errcap) err[0] = 0;
    int root = parse_expr(&p);
    if (root < 0) return -1;
    if (peek(&p) >= 0) return fail(&p, p.s[p.i] == ')' ? "unbalanced ')'" : "unexpected character");
    return 0;
}

int mx_eval(const mx_expr *x, const mq_rat *at, mq_rat *vals) {
    for (int i = 0; i < x->n; i++) {
        const mx_node *nd = &x->node[i];
        mq_rat *v = &vals[i];
        int rc = MQ_OK;
        switch (nd->op) {
        case MX_NUM: *v = x->lit[nd->lit]; break;
        case MX_VAR: *v = *at; break;
        case MX_NEG:
            *v = vals[nd->a];
            mq_neg(v);
            break;
        case MX_ADD: rc = mq_add(v, &vals[nd->a], &vals[nd->b]); break;
        case MX_SUB: rc = mq_sub(v, &vals[nd->a], &vals[nd->b]); break;
        case MX_MUL: rc = mq_mul(v, &vals[nd->a], &vals[nd->b]); break;
        case MX_DIV: rc = mq_div(v, &vals[nd->a], &vals[nd->b]); break;
        case MX_POW: rc = mq_pow(v, &vals[nd->a], nd->k); break;
        default: rc = MQ_OVERFLOW; break;
        }
        if (rc) return rc;
    }
    return MQ_OK;
}
