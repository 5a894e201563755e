// math_expr.h — the small expression language of algebraic answers, and exact evaluation.
//
// Grammar (spaces are ignored between tokens; the only variable is x):
//
//   expr    := term (('+' | '-') term)*
//   term    := unary (('*' | '/') unary | implicit)*     implicit: a following 'x' or '('
//   unary   := ('+' | '-') unary | power                  so -x^2 = -(x^2)
//   power   := atom [('^' | '**') exponent]              no chains: x^2^3 is rejected
//   exponent:= ['+' | '-'] digits | '(' ['+' | '-'] digits ')'      |exponent| <= 64
//   atom    := number | 'x' | '(' expr ')'
//   number  := digits ['.' digits*] | '.' digits
//
// So `3x`, `2(x+1)`, `(x+1)(x-1)`, `x(x+2)`, `-x^2+1/2` parse; `x2`, `2 3`, `2^x` do not.
// Parsing produces nodes in post-order (children before parents), so evaluation is one
// loop over an array. Alongside, each node carries upper bounds on the degrees of the
// numerator and denominator polynomials its construction denotes; the verifier uses them
// to decide equivalence exactly from finitely many evaluations (see math_check.c).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "verify/math_num.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MX_MAX_NODES 128  // nodes per expression
#define MX_MAX_LITS 32    // number literals per expression
#define MX_MAX_NEST 32    // nesting of parentheses and unary signs
#define MX_MAX_EXPONENT 64
#define MX_MAX_DEGREE 32  // bound on numerator/denominator degree, and on undefined points

enum mx_op { MX_NUM, MX_VAR, MX_NEG, MX_ADD, MX_SUB, MX_MUL, MX_DIV, MX_POW };

typedef struct mx_node {
    uint8_t op;        // enum mx_op
    uint8_t a, b;      // operand node indices (a for NEG/POW, a and b for binary ops)
    int8_t k;          // exponent of POW
    uint8_t lit;       // literal index of NUM
    uint16_t ndeg, ddeg;  // degree bounds of this node's numerator/denominator polynomials
} mx_node;

typedef struct mx_expr {
    int n, nlit;
    int has_var;
    uint32_t bad;      // bound on the number of points where evaluation is undefined
    mx_node node[MX_MAX_NODES];
    mq_rat lit[MX_MAX_LITS];
} mx_expr;

// Parses s[0..n) (ASCII). On error returns -1 and writes a reason naming the offset into err.
int mx_parse(mx_expr *x, const char *s, size_t n, char *err, size_t errcap);
// Evaluates at x = at. vals must hold x->n rationals (scratch). Returns MQ_OK, MQ_DIVZERO or
// MQ_OVERFLOW; the value is vals[x->n - 1].
int mx_eval(const mx_expr *x, const mq_rat *at, mq_rat *vals);

#ifdef __cplusplus
}
#endif
