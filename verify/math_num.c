// math_num.c — bounded big integers and unreduced rationals; see math_num.h.
#include "verify/math_num.h"

#include <stdio.h>
#include <string.h>

// ---- magnitudes (arrays of limbs) -------------------------------------------------------------

static uint32_t mag_trim(const uint32_t *d, uint32_t n) {
    while (n && d[n - 1] == 0) n--;
    return n;
}

static int mag_cmp(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb) {
    if (na != nb) return na < nb ? -1 : 1;
    for (uint32_t i = na; i-- > 0;)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

// out = a + b; out has room for max(na, nb) + 1 limbs. Returns the limb count.
static uint32_t mag_add(uint32_t *out, const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb) {
    if (na < nb) {
        const uint32_t *t = a; a = b; b = t;
        uint32_t tn = na; na = nb; nb = tn;
    }
    uint64_t carry = 0;
    for (uint32_t i = 0; i < na; i++) {
        uint64_t s = (uint64_t)a[i] + (i < nb ? b[i] : 0) + carry;
        out[i] = (uint32_t)s;
        carry = s >> 32;
    }
    out[na] = (uint32_t)carry;
    return mag_trim(out, na + 1);
}

// out = a - b with |a| >= |b|. Returns the limb count.
static uint32_t mag_sub(uint32_t *out, const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb) {
    int64_t borrow = 0;
    for (uint32_t i = 0; i < na; i++) {
        int64_t s = (int64_t)a[i] - (i < nb ? b[i] : 0) - borrow;
        borrow = s < 0;
        out[i] = (uint32_t)(s + (borrow ? ((int64_t)1 << 32) : 0));
    }
    return mag_trim(out, na);
}

// out = a * b (schoolbook); out has room for na + nb limbs and must not alias a or b.
static uint32_t mag_mul(uint32_t *out, const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb) {
    if (!na || !nb) return 0;
    memset(out, 0, (size_t)(na + nb) * sizeof *out);
    for (uint32_t i = 0; i < na; i++) {
        uint64_t carry = 0, ai = a[i];
        for (uint32_t j = 0; j < nb; j++) {
            uint64_t t = ai * b[j] + out[i + j] + carry;
            out[i + j] = (uint32_t)t;
            carry = t >> 32;
        }
        out[i + nb] = (uint32_t)carry;
    }
    return mag_trim(out, na + nb);
}

// ---- signed integers --------------------------------------------------------------------------

void mb_set_i64(mb_int *r, int64_t v) {
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    r->neg = v < 0;
    r->d[0] = (uint32_t)m;
    r->d[1] = (uint32_t)(m >> 32);
    r->n = mag_trim(r->d, 2);
}

int mb_is_zero(const mb_int *a) { return a->n == 0; }

int mb_cmp(const mb_int *a, const mb_int *b) {
    if (a->neg != b->neg) return a->neg ? -1 : 1;
    int c = mag_cmp(a->d, a->n, b->d, b->n);
    return a->neg ? -c : c;
}

static void mb_copy(mb_int *r, const mb_int *a) {
    if (r == a) return;
    r->n = a->n;
    r->neg = a->neg;
    memcpy(r->d, a->d, a->n * sizeof *a->d);
}

// r = a + (negate_b ? -b : b)
static int mb_addsub(mb_int *r, const mb_int *a, const mb_int *b, int negate_b) {
    uint32_t tmp[MB_LIMBS + 1];
    int bneg = b->neg ^ (negate_b && b->n);
    uint32_t n;
    int neg;
    if (a->neg == bneg) {
        n = mag_add(tmp, a->d, a->n, b->d, b->n);
        neg = a->neg;
    } else if (mag_cmp(a->d, a->n, b->d, b->n) >= 0) {
        n = mag_sub(tmp, a->d, a->n, b->d, b->n);
        neg = a->neg;
    } else {
        n = mag_sub(tmp, b->d, b->n, a->d, a->n);
        neg = bneg;
    }
    if (n > MB_LIMBS) return MQ_OVERFLOW;
    memcpy(r->d, tmp, n * sizeof *tmp);
    r->n = n;
    r->neg = n ? neg : 0;
    return MQ_OK;
}

int mb_add(mb_int *r, const mb_int *a, const mb_int *b) { return mb_addsub(r, a, b, 0); }
int mb_sub(mb_int *r, const mb_int *a, const mb_int *b) { return mb_addsub(r, a, b, 1); }

int mb_mul(mb_int *r, const mb_int *a, const mb_int *b) {
    if (a->n + b->n > MB_LIMBS + 1) return MQ_OVERFLOW;  // the product has at least na+nb-1 limbs
    uint32_t tmp[2 * MB_LIMBS];
    uint32_t n = mag_mul(tmp, a->d, a->n, b->d, b->n);
    if (n > MB_LIMBS) return MQ_OVERFLOW;
    int neg = n ? (a->neg ^ b->neg) : 0;
    memcpy(r->d, tmp, n * sizeof *tmp);
    r->n = n;
    r->neg = neg;
    return MQ_OK;
}

int mb_mul_add_small(mb_int *r, uint32_t m, uint32_t add) {
    uint64_t carry = add;
    for (uint32_t i = 0; i < r->n; i++) {
        uint64_t t = (uint64_t)r->d[i] * m + carry;
        r->d[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry) {
        if (r->n == MB_LIMBS) return MQ_OVERFLOW;
        r->d[r->n++] = (uint32_t)carry;
    }
    r->n = mag_trim(r->d, r->n);
    if (!r->n) r->neg = 0;
    return MQ_OK;
}

int mb_from_decimal(mb_int *r, const char *s, size_t n) {
    r->n = 0;
    r->neg = 0;
    // Nine digits at a time: 10^9 fits in a limb.
    size_t i = 0;
    while (i < n) {
        size_t take = n - i < 9 ? n - i : 9;
        uint32_t chunk = 0, scale = 1;
        for (size_t j = 0; j < take; j++) {
            chunk = chunk * 10 + (uint32_t)(s[i + j] - '0');
            scale *= 10;
        }
        if (mb_mul_add_small(r, scale, chunk)) return MQ_OVERFLOW;
        i += take;
    }
    return MQ_OK;
}

int mb_to_decimal(const mb_int *a, char *buf, size_t cap) {
    // Repeated division by 10^9 of a copy of the magnitude; chunks come out lowest first.
    uint32_t mag[MB_LIMBS], chunks[MB_LIMBS * 2];
    uint32_t n = a->n, nchunks = 0;
    memcpy(mag, a->d, n * sizeof *mag);
    while (n) {
        uint64_t rem = 0;
        for (uint32_t i = n; i-- > 0;) {
            uint64_t cur = rem << 32 | mag[i];
            mag[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        chunks[nchunks++] = (uint32_t)rem;
        n = mag_trim(mag, n);
    }
    size_t len = 0;
    char tmp[16];
    if (a->neg) {
        if (len + 1 >= cap) return -1;
        buf[len++] = '-';
    }
    if (!nchunks) {
        if (len + 1 >= cap) return -1;
        buf[len++] = '0';
    }
    for (uint32_t i = nchunks; i-- > 0;) {
        int w = i == nchunks - 1 ? snprintf(tmp, sizeof tmp, "%u", chunks[i]) : snprintf(tmp, sizeof tmp, "%09u", chunks[i]);
        if (len + (size_t)w >= cap) return -1;
        memcpy(buf + len, tmp, (size_t)w);
        len += (size_t)w;
    }
    buf[len] = 0;
    return (int)len;
}

// ---- rationals --------------------------------------------------------------------------------

void mq_set_i64(mq_rat *r, int64_t v) {
    mb_set_i64(&r->num, v);
    mb_set_i64(&r->den, 1);
}

void mq_set_int(mq_rat *r, const mb_int *v) {
    mb_copy(&r->num, v);
    mb_set_i64(&r->den, 1);
}

int mq_is_zero(const mq_rat *a) { return a->num.n == 0; }

static int den_is_one(const mb_int *d) { return d->n == 1 && d->d[0] == 1; }

int mq_eq(const mq_rat *a, const mq_rat *b) {
    if (a->num.neg != b->num.neg) return 0;
    if (den_is_one(&a->den) && den_is_one(&b->den)) return mag_cmp(a->num.d, a->num.n, b->num.d, b->num.n) == 0;
    // a.num * b.den == b.num * a.den, in double width so it never overflows.
    uint32_t x[2 * MB_LIMBS], y[2 * MB_LIMBS];
    uint32_t nx = mag_mul(x, a->num.d, a->num.n, b->den.d, b->den.n);
    uint32_t ny = mag_mul(y, b->num.d, b->num.n, a->den.d, a->den.n);
    return mag_cmp(x, nx, y, ny) == 0;
}

static int mq_addsub(mq_rat *r, const mq_rat *a, const mq_rat *b, int negate_b) {
    if (den_is_one(&a->den) && den_is_one(&b->den)) {
        if (mb_addsub(&r->num, &a->num, &b->num, negate_b)) return MQ_OVERFLOW;
        mb_set_i64(&r->den, 1);
        return MQ_OK;
    }
    mb_int x, y, d;
    if (mb_mul(&x, &a->num, &b->den) || mb_mul(&y, &b->num, &a->den) || mb_mul(&d, &a->den, &b->den))
        return MQ_OVERFLOW;
    if (mb_addsub(&r->num, &x, &y, negate_b)) return MQ_OVERFLOW;
    mb_copy(&r->den, &d);
    return MQ_OK;
}

int mq_add(mq_rat *r, const mq_rat *a, const mq_rat *b) { return mq_addsub(r, a, b, 0); }
int mq_sub(mq_rat *r, const mq_rat *a, const mq_rat *b) { return mq_addsub(r, a, b, 1); }

int mq_mul(mq_rat *r, const mq_rat *a, const mq_rat *b) {
    mb_int n, d;
    if (mb_mul(&n, &a->num, &b->num) || mb_mul(&d, &a->den, &b->den)) return MQ_OVERFLOW;
    mb_copy(&r->num, &n);
    mb_copy(&r->den, &d);
    return MQ_OK;
}

int mq_div(mq_rat *r, const mq_rat *a, const mq_rat *b) {
    if (mq_is_zero(b)) return MQ_DIVZERO;
    mb_int n, d;
    if (mb_mul(&n, &a->num, &b->den) || mb_mul(&d, &a->den, &b->num)) return MQ_OVERFLOW;
    // Move the divisor's sign from the denominator to the numerator.
    if (d.neg) {
        d.neg = 0;
        if (n.n) n.neg = !n.neg;
    }
    mb_copy(&r->num, &n);
    mb_copy(&r->den, &d);
    return MQ_OK;
}

void mq_neg(mq_rat *r) {
    if (r->num.n) r->num.neg = !r->num.neg;
}

int mq_pow(mq_rat *r, const mq_rat *a, int k) {
    if (k < -64 || k > 64) return MQ_OVERFLOW;
    unsigned e = (unsigned)(k < 0 ? -k : k);
    mq_rat base = *a, acc;
    mq_set_i64(&acc, 1);
    while (e) {
        if (e & 1u)
            if (mq_mul(&acc, &acc, &base)) return MQ_OVERFLOW;
        e >>= 1;
        if (e)
            if (mq_mul(&base, &base, &base)) return MQ_OVERFLOW;
    }
    if (k < 0) {
        mq_rat one;
        mq_set_i64(&one, 1);
        int rc = mq_div(&acc, &one, &acc);
        if (rc) return rc;
    }
    *r = acc;
    return MQ_OK;
}
