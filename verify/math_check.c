// math_check.c — answer extraction, normalisation and exact comparison; see math.h.
#include "verify/math.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/math_expr.h"
#include "shards/task_format.h"

static int set_detail(math_verdict *v, uint32_t outcome, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_detail(math_verdict *v, uint32_t outcome, const char *fmt, ...) {
    v->outcome = outcome;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    va_end(ap);
    return 0;
}

// A short, printable rendering of untrusted text for a detail message (truncated for
// display only; the comparison always uses the whole answer).
static const char *quote(char *buf, size_t cap, const char *s, size_t n) {
    size_t o = 0, limit = cap > 8 ? cap - 8 : 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o >= limit || (i >= 60 && n > 64)) {
            snprintf(buf + o, cap - o, "...");
            return buf;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\') buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    buf[o] = 0;
    return buf;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

int math_extract_answer(const char *text, size_t len, const char **ans, size_t *ans_len, char *why, size_t whycap) {
    const size_t mlen = sizeof BERRY_ANSWER - 1;
    const char *eot = memmem(text, len, BERRY_EOT, sizeof BERRY_EOT - 1);
    size_t end = eot ? (size_t)(eot - text) : len;
    const char *first = NULL;
    size_t count = 0, pos = 0;
    while (pos < end) {
        const char *m = memmem(text + pos, end - pos, BERRY_ANSWER, mlen);
        if (!m || (size_t)(m - text) + mlen > end) break;
        if (!first) first = m;
        count++;
        pos = (size_t)(m - text) + mlen;
    }
    if (count == 0) {
        snprintf(why, whycap, "no answer marker");
        return -1;
    }
    if (count > 1) {
        snprintf(why, whycap, "%zu answer markers (expected exactly one)", count);
        return -1;
    }
    size_t b = (size_t)(first - text) + mlen, e = b;
    while (e < end && text[e] != '\n') e++;
    while (b < e && is_space(text[b])) b++;
    while (e > b && is_space(text[e - 1])) e--;
    if (e == b) {
        snprintf(why, whycap, "empty answer");
        return -1;
    }
    if (e - b > MATH_MAX_ANSWER) {
        snprintf(why, whycap, "answer too long (%zu bytes, limit %d)", e - b, MATH_MAX_ANSWER);
        return -1;
    }
    *ans = text + b;
    *ans_len = e - b;
    return 0;
}

// Copies s into out (cap >= n + 1) with U+2212 MINUS SIGN replaced by '-', trimmed.
static size_t normalize(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 2 < n && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x88 && (unsigned char)s[i + 2] == 0x92) {
            out[o++] = '-';
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    size_t b = 0;
    while (b < o && is_space(out[b])) b++;
    while (o > b && is_space(out[o - 1])) o--;
    memmove(out, out + b, o - b);
    out[o - b] = 0;
    return o - b;
}

// One unsigned decimal: digits (optionally grouped 1,234,567) [. digits*] | . digits.
static int parse_unsigned(const char *s, size_t n, size_t *i, mq_rat *out, char *err, size_t errcap) {
    char digits[MATH_MAX_ANSWER + 1];
    size_t nd = 0, start = *i, j = *i;
    size_t group = 0;  // digits since the last comma
    int grouped = 0;
    while (j < n && (is_digit(s[j]) || s[j] == ',')) {
        if (s[j] == ',') {
            // A thousands separator: 1-3 digits before the first, exactly 3 between and after.
            if (group == 0 || (!grouped && group > 3) || (grouped && group != 3) || j + 3 >= n ||
                !is_digit(s[j + 1]) || !is_digit(s[j + 2]) || !is_digit(s[j + 3]) || (j + 4 < n && is_digit(s[j + 4]))) {
                snprintf(err, errcap, "misplaced ',' at offset %zu (thousands separators must group 3 digits)", j);
                return -1;
            }
            grouped = 1;
            group = 0;
        } else {
            digits[nd++] = s[j];
            group++;
        }
        j++;
    }
    size_t frac = 0;
    if (j < n && s[j] == '.') {
        j++;
        while (j < n && is_digit(s[j])) {
            digits[nd++] = s[j++];
            frac++;
        }
    }
    if (nd == 0) {
        snprintf(err, errcap, "expected digits at offset %zu", start);
        return -1;
    }
    if (mb_from_decimal(&out->num, digits, nd)) {
        snprintf(err, errcap, "number too large");
        return -1;
    }
    mb_set_i64(&out->den, 1);
    for (size_t k = 0; k < frac; k++)
        if (mb_mul_add_small(&out->den, 10, 0)) {
            snprintf(err, errcap, "number too large");
            return -1;
        }
    *i = j;
    return 0;
}

static void skip_spaces(const char *s, size_t n, size_t *i) {
    while (*i < n && is_space(s[*i])) (*i)++;
}

// [sign] unsigned, spaces allowed after the sign.
static int parse_signed(const char *s, size_t n, size_t *i, mq_rat *out, char *err, size_t errcap) {
    int neg = 0;
    if (*i < n && (s[*i] == '-' || s[*i] == '+')) {
        neg = s[*i] == '-';
        (*i)++;
        skip_spaces(s, n, i);
    }
    if (parse_unsigned(s, n, i, out, err, errcap)) return -1;
    if (neg) mq_neg(out);
    return 0;
}

static int parse_number_ascii(const char *s, size_t n, mq_rat *out, char *err, size_t errcap) {
    size_t i = 0;
    if (n == 0) {
        snprintf(err, errcap, "empty");
        return -1;
    }
    if (parse_signed(s, n, &i, out, err, errcap)) return -1;
    skip_spaces(s, n, &i);
    if (i < n && s[i] == '/') {
        i++;
        skip_spaces(s, n, &i);
        mq_rat den;
        if (parse_signed(s, n, &i, &den, err, errcap)) return -1;
        int rc = mq_div(out, out, &den);
        if (rc == MQ_DIVZERO) {
            snprintf(err, errcap, "division by zero");
            return -1;
        }
        if (rc) {
            snprintf(err, errcap, "number too large");
            return -1;
        }
        skip_spaces(s, n, &i);
    }
    if (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) snprintf(err, errcap, "unexpected '%c' at offset %zu", c, i);
        else snprintf(err, errcap, "unexpected byte 0x%02x at offset %zu", c, i);
        return -1;
    }
    return 0;
}

int math_parse_number(const char *s, size_t n, mq_rat *out, char *err, size_t errcap) {
    if (n > MATH_MAX_ANSWER) {
        snprintf(err, errcap, "too long (%zu bytes, limit %d)", n, MATH_MAX_ANSWER);
        return -1;
    }
    char buf[MATH_MAX_ANSWER + 1];
    size_t m = normalize(s, n, buf);
    return parse_number_ascii(buf, m, out, err, errcap);
}

// "x = ..." or "x=..." at the start of a linear equation's answer.
static size_t strip_var_prefix(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && s[i] == 'x') {
        i++;
        while (i < n && is_space(s[i])) i++;
        if (i < n && s[i] == '=') {
            i++;
            while (i < n && is_space(s[i])) i++;
            return i;
        }
    }
    return 0;
}

// Evaluation points 2, -2, 3, -3, 4, ...
static int64_t point(int j) { return (int64_t)(j / 2 + 2) * (j % 2 ? -1 : 1); }

// Equivalence of two expressions by exact evaluation. Both denote rational functions
// P1/Q1 and P2/Q2 with degree bounds from the parser; P1 Q2 - P2 Q1 has degree at most
// D = max(n1 + d2, n2 + d1), so agreement at D + 1 points where both are defined proves
// they are the same function. Points where one is undefined (a divisor vanishes) are
// skipped; there are at most bad1 + bad2 of them unless a divisor is identically zero.
static int compare_expressions(const mx_expr *c, const mx_expr *r, const char *cq, const char *rq, math_verdict *v) {
    const mx_node *cn = &c->node[c->n - 1], *rn = &r->node[r->n - 1];
    uint32_t d1 = (uint32_t)cn->ndeg + rn->ddeg, d2 = (uint32_t)rn->ndeg + cn->ddeg;
    uint32_t need = (d1 > d2 ? d1 : d2) + 1, max_skip = c->bad + r->bad;
    mq_rat *vals = malloc(sizeof(mq_rat) * (size_t)(c->n + r->n));
    if (!vals) return set_detail(v, OUTCOME_FAIL, "out of memory comparing '%s' with '%s'", cq, rq);
    mq_rat *cv = vals, *rv = vals + c->n;
    uint32_t agree = 0, skipped = 0;
    int done = 0;
    for (int j = 0; !done; j++) {
        mq_rat at;
        mq_set_i64(&at, point(j));
        int rc1 = mx_eval(c, &at, cv), rc2 = mx_eval(r, &at, rv);
        if (rc1 == MQ_OVERFLOW || rc2 == MQ_OVERFLOW) {
            set_detail(v, OUTCOME_FAIL, "numbers too large evaluating '%s' at x = %lld", rc1 ? cq : rq, (long long)point(j));
            done = 1;
        } else if (rc1 || rc2) {
            if (++skipped > max_skip) {
                set_detail(v, OUTCOME_FAIL, "'%s' is undefined (division by zero) at too many points", rc1 ? cq : rq);
                done = 1;
            }
        } else if (!mq_eq(&cv[c->n - 1], &rv[r->n - 1])) {
            set_detail(v, OUTCOME_FAIL, "'%s' is not equivalent to the reference '%s' (they differ at x = %lld)", cq, rq,
                       (long long)point(j));
            done = 1;
        } else if (++agree == need) {
            set_detail(v, OUTCOME_PASS, "'%s' is equivalent to the reference '%s' (%u points)", cq, rq, need);
            done = 1;
        }
    }
    free(vals);
    return 0;
}

int math_compare(const char *cand, size_t n, const char *ref, uint32_t task, math_verdict *v) {
    char cq[96], rq[96], err[160];
    char cbuf[MATH_MAX_ANSWER + 1], rbuf[MATH_MAX_ANSWER + 1];
    size_t rn_raw = strlen(ref);
    quote(cq, sizeof cq, cand, n);
    quote(rq, sizeof rq, ref, rn_raw);
    if (n > MATH_MAX_ANSWER) return set_detail(v, OUTCOME_FAIL, "answer too long (%zu bytes, limit %d)", n, MATH_MAX_ANSWER);
    if (rn_raw > MATH_MAX_ANSWER) {
        set_detail(v, OUTCOME_FAIL, "reference answer too long (%zu bytes)", rn_raw);
        return -1;
    }
    size_t cn = normalize(cand, n, cbuf), rn = normalize(ref, rn_raw, rbuf);
    const char *c = cbuf;
    if (task == TASK_LINEAR) {
        size_t skip = strip_var_prefix(c, cn);
        c += skip;
        cn -= skip;
    }
    if (cn == 0) return set_detail(v, OUTCOME_FAIL, "empty answer");

    mq_rat rval, cval;
    if (parse_number_ascii(rbuf, rn, &rval, err, sizeof err) == 0) {
        if (parse_number_ascii(c, cn, &cval, err, sizeof err))
            return set_detail(v, OUTCOME_FAIL, "cannot parse '%s' as a number: %s", cq, err);
        if (mq_eq(&cval, &rval)) return set_detail(v, OUTCOME_PASS, "'%s' equals the reference '%s'", cq, rq);
        return set_detail(v, OUTCOME_FAIL, "'%s' is not the reference '%s'", cq, rq);
    }

    // An algebraic reference: both sides are expressions in x.
    mx_expr *ex = malloc(2 * sizeof *ex);
    if (!ex) return set_detail(v, OUTCOME_FAIL, "out of memory");
    int rc = 0;
    if (mx_parse(&ex[1], rbuf, rn, err, sizeof err)) {
        set_detail(v, OUTCOME_FAIL, "reference answer '%s' is neither a number nor an expression in x: %s", rq, err);
        rc = -1;
    } else if (mx_parse(&ex[0], c, cn, err, sizeof err)) {
        set_detail(v, OUTCOME_FAIL, "cannot parse '%s' as an expression in x: %s", cq, err);
    } else {
        compare_expressions(&ex[0], &ex[1], cq, rq, v);
    }
    free(ex);
    return rc;
}

int math_check(const char *completion, size_t len, const problem_rec *p, math_verdict *v) {
    if (p->task != TASK_ARITH && p->task != TASK_LINEAR && p->task != TASK_ALGEBRA) {
        set_detail(v, OUTCOME_FAIL, "problem %016llx has task kind %u, not a math task (arith, linear, algebra)",
                   (unsigned long long)p->id, p->task);
        return -1;
    }
    if (!p->answer || !p->answer[0]) {
        set_detail(v, OUTCOME_FAIL, "problem %016llx has no reference answer", (unsigned long long)p->id);
        return -1;
    }
    const char *ans;
    size_t n;
    char why[128];
    if (math_extract_answer(completion, len, &ans, &n, why, sizeof why)) return set_detail(v, OUTCOME_FAIL, "%s", why);
    return math_compare(ans, n, p->answer, p->task, v);
}
