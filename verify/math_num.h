// math_num.h — exact numbers for the math verifier: signed integers of bounded size
// (MB_LIMBS 32-bit limbs, about 385 decimal digits) and unreduced rationals built on them.
//
// Capacity is fixed so that a hostile answer cannot make a check slow or allocate: an
// operation whose result would not fit returns MQ_OVERFLOW instead. Rationals are kept
// unreduced (no gcd, which would be the expensive part) and compared by cross
// multiplication into a double-width buffer, which cannot overflow.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MB_LIMBS 40  // 1280 bits

enum { MQ_OK = 0, MQ_OVERFLOW = -1, MQ_DIVZERO = -2 };

// Magnitude in little-endian limbs d[0..n), no leading zero limb; zero is n == 0, neg == 0.
typedef struct mb_int {
    uint32_t n;
    int32_t neg;
    uint32_t d[MB_LIMBS];
} mb_int;

void mb_set_i64(mb_int *r, int64_t v);
int mb_is_zero(const mb_int *a);
int mb_cmp(const mb_int *a, const mb_int *b);  // -1, 0, 1 (signed comparison)
// r may alias a or b in all of these.
int mb_add(mb_int *r, const mb_int *a, const mb_int *b);
int mb_sub(mb_int *r, const mb_int *a, const mb_int *b);
int mb_mul(mb_int *r, const mb_int *a, const mb_int *b);
// r = |r| * m + add, keeping r's sign (used to read decimal digits).
int mb_mul_add_small(mb_int *r, uint32_t m, uint32_t add);
// Decimal digits s[0..n) (only '0'..'9') into a non-negative integer.
int mb_from_decimal(mb_int *r, const char *s, size_t n);
// Decimal text with a leading '-' when negative; returns the length, or -1 if cap is too small.
int mb_to_decimal(const mb_int *a, char *buf, size_t cap);

// A rational num/den with den > 0, not necessarily in lowest terms.
typedef struct mq_rat {
    mb_int num, den;
} mq_rat;

void mq_set_i64(mq_rat *r, int64_t v);
void mq_set_int(mq_rat *r, const mb_int *v);
int mq_is_zero(const mq_rat *a);
int mq_eq(const mq_rat *a, const mq_rat *b);  // exact equality of values
int mq_add(mq_rat *r, const mq_rat *a, const mq_rat *b);
int mq_sub(mq_rat *r, const mq_rat *a, const mq_rat *b);
int mq_mul(mq_rat *r, const mq_rat *a, const mq_rat *b);
int mq_div(mq_rat *r, const mq_rat *a, const mq_rat *b);  // MQ_DIVZERO when b == 0
void mq_neg(mq_rat *r);
// r = a^k for |k| <= 64; a negative k inverts (MQ_DIVZERO for 0^-k); 0^0 = 1.
int mq_pow(mq_rat *r, const mq_rat *a, int k);

#ifdef __cplusplus
}
#endif
