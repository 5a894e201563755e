// tasks_build.h — what the generators share: a problem under construction (text buffers,
// id and split), seeded random helpers, and formatting of numbers, fractions, polynomials.
// Internal to verify/tasks_*.c.
#pragma once
#include <stdarg.h>
#include <stdint.h>

#include "kernels/base.h"
#include "shards/records.h"

typedef struct tasks_build {
    uint32_t task;
    int difficulty;
    int want_split;   // -1: any split
    int heldout_pct;
    uint64_t rng;     // the draw's random state
    bbuf prompt, answer, tests, solution, canon;
    uint64_t id;
    uint32_t split;
} tasks_build;

void tb_init(tasks_build *b);
void tb_free(tasks_build *b);
// Empties the buffers and starts a problem of (task, difficulty) from draw_seed.
void tb_start(tasks_build *b, uint32_t task, int difficulty, uint64_t draw_seed, int want_split, int heldout_pct);
// Fixes the id and split from b->canon (the canonical statement). Returns 1 if the problem
// is of the wanted split (the generator goes on), 0 if not (the generator stops).
int tb_statement_done(tasks_build *b);
// Copies the finished problem into out (malloc'd strings).
void tb_emit(const tasks_build *b, problem_rec *out);

// ---- text ---------------------------------------------------------------------------------
void tb_puts(bbuf *o, const char *s);
void tb_printf(bbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tb_putc(bbuf *o, char c);
void tb_i64(bbuf *o, int64_t v);  // decimal, without printf (the generators' hot path)
void tb_step(bbuf *o);    // opens a reasoning step: "<|step|>"
void tb_answer(bbuf *o);  // the answer marker: "<|answer|>"

// ---- random -------------------------------------------------------------------------------
// Uniform in [lo, hi] (hi - lo < 2^32; the modulo bias is below 2^-31).
int64_t tb_range(uint64_t *rng, int64_t lo, int64_t hi);
// Uniform in [lo, hi] excluding 0.
int64_t tb_range_nz(uint64_t *rng, int64_t lo, int64_t hi);
int tb_chance(uint64_t *rng, int percent);

// ---- numbers ------------------------------------------------------------------------------
int64_t tb_gcd(int64_t a, int64_t b);  // non-negative
// p/q in lowest terms with a positive denominator ("-7/3", or "4" when q divides p).
void tb_fraction(bbuf *o, int64_t p, int64_t q);
// An integer; negative ones in parentheses when paren_neg ("(-3)").
void tb_int(bbuf *o, int64_t v, int paren_neg);

// ---- polynomials in x (dense, int64 coefficients) -----------------------------------------
#define TB_POLY_MAX 8
typedef struct tb_poly {
    int deg;                    // -1 for the zero polynomial
    int64_t c[TB_POLY_MAX + 1];  // c[i] is the coefficient of x^i
} tb_poly;
void tb_poly_zero(tb_poly *p);
void tb_poly_trim(tb_poly *p);
// Returns 0, or -1 when the degree or a coefficient (|c| > 1e12) grows too large.
int tb_poly_mul(tb_poly *r, const tb_poly *a, const tb_poly *b);
int tb_poly_add(tb_poly *r, const tb_poly *a, const tb_poly *b);
// "3x^2 - x + 4" (descending, "0" for zero).
void tb_poly_text(bbuf *o, const tb_poly *p);
// One monomial c*x^k as a term of a sum: first ? "-3x^2" : " - 3x^2" / " + 3x^2".
void tb_term_text(bbuf *o, int64_t c, int k, int first);
