// tasks_code_numbers.c — code task families on integers: digit sums, clamping, coprime
// counts, primes, a reduction process, base conversion, linear recurrences, coin and stair
// counting. Each family: parameters, specification, plan, reference code, tests (in C).
#include <string.h>

#include "verify/tasks_code.h"

static const char *const ORDINAL_POWER[] = {"", "", "squares of the ", "cubes of the "};

// ---- digit_sum(n): level 1 ------------------------------------------------------------------
// p[0] base 2..10, p[1] power 1..3

static void digit_sum_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 2, 10);
    p[1] = tb_range(g, 1, 3);
}
static void digit_sum_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns the sum of the %s", ORDINAL_POWER[p[1]]);
    if (p[0] == 10) tb_puts(o, "decimal digits of the non-negative integer n");
    else tb_printf(o, "digits of the non-negative integer n written in base %lld", (long long)p[0]);
}
static void digit_sum_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "The last digit of n in base %lld is n %% %lld; n //= %lld removes it.\n", (long long)p[0], (long long)p[0], (long long)p[0]);
    tb_step(o);
    tb_printf(o, "Add each digit%s to a total until n is 0.\n", p[1] == 2 ? " squared" : p[1] == 3 ? " cubed" : "");
}
static void digit_sum_code(bbuf *o, const int64_t *p) {
    tb_puts(o, "def digit_sum(n):\n    total = 0\n    while n > 0:\n");
    if (p[1] == 1) tb_printf(o, "        total += n %% %lld\n", (long long)p[0]);
    else tb_printf(o, "        total += (n %% %lld) ** %lld\n", (long long)p[0], (long long)p[1]);
    tb_printf(o, "        n //= %lld\n    return total\n", (long long)p[0]);
}
static void digit_sum_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t n;
    if (k == 0) n = 0;
    else if (k == 1) n = p[0] - 1;
    else {
        int64_t lim = 1;
        for (int d = (int)tb_range(g, 1, 12); d > 0; d--) lim *= 10;
        n = tb_range(g, 0, lim - 1);
    }
    int64_t total = 0;
    for (int64_t m = n; m > 0; m /= p[0]) {
        int64_t d = m % p[0], t = d;
        for (int e = 1; e < p[1]; e++) t *= d;
        total += t;
    }
    py_int(call, n);
    py_int(expect, total);
}

// ---- clamp(x): level 1 ----------------------------------------------------------------------
// p[0] lo, p[1] hi

static void clamp_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, -50, 40);
    p[1] = tb_range(g, p[0] + 1, p[0] + 60);
}
static void clamp_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns the integer x limited to the range from %lld to %lld: %lld if x is below %lld, %lld if x is above %lld, and x itself otherwise",
              (long long)p[0], (long long)p[1], (long long)p[0], (long long)p[0], (long long)p[1], (long long)p[1]);
}
static void clamp_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "min(%lld, x) caps x at %lld, and max(%lld, ...) raises the result to at least %lld.\n", (long long)p[1], (long long)p[1],
              (long long)p[0], (long long)p[0]);
}
static void clamp_code(bbuf *o, const int64_t *p) {
    tb_printf(o, "def clamp(x):\n    return max(%lld, min(%lld, x))\n", (long long)p[0], (long long)p[1]);
}
static void clamp_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t x = k == 0 ? p[0] : k == 1 ? p[1] : k == 2 ? p[0] - 1 : k == 3 ? p[1] + 1 : tb_range(g, p[0] - 40, p[1] + 40);
    py_int(call, x);
    py_int(expect, x < p[0] ? p[0] : x > p[1] ? p[1] : x);
}

// ---- count_coprime(n): level 2 ----------------------------------------------------------------
// p[0] m 2..60

static void coprime_params(uint64_t *g, int64_t *p) { p[0] = tb_range(g, 2, 60); }
static void coprime_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns how many integers k with 1 <= k <= n have no common divisor greater than 1 with %lld (n is a non-negative integer)",
              (long long)p[0]);
}
static void coprime_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "Compute gcd(k, m) with Euclid's algorithm: replace (a, b) by (b, a % b) until b is 0.\n");
    tb_step(o);
    tb_printf(o, "Count the k from 1 to n whose gcd with %lld is 1.\n", (long long)p[0]);
}
static void coprime_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def count_coprime(n):\n"
              "    def gcd(a, b):\n"
              "        while b:\n"
              "            a, b = b, a %% b\n"
              "        return a\n"
              "    return sum(1 for k in range(1, n + 1) if gcd(k, %lld) == 1)\n",
              (long long)p[0]);
}
static void coprime_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t n = k == 0 ? 0 : k == 1 ? 1 : tb_range(g, 0, 500), count = 0;
    for (int64_t i = 1; i <= n; i++) count += tb_gcd(i, p[0]) == 1;
    py_int(call, n);
    py_int(expect, count);
}

// ---- count_primes(n): level 2 -----------------------------------------------------------------
// p[0] modulus 1..6, p[1] remainder coprime to it (other remainders hold at most one prime,
// which would make the function nearly constant)

static void primes_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 1, 6);
    do p[1] = tb_range(g, 0, p[0] - 1);
    while (p[0] > 1 && tb_gcd(p[1], p[0]) != 1);
}
static void primes_spec(bbuf *o, const int64_t *p) {
    if (p[0] == 1) tb_puts(o, "returns how many prime numbers are less than or equal to the integer n");
    else tb_printf(o, "returns how many prime numbers p <= n leave the remainder %lld when divided by %lld (n is an integer)", (long long)p[1], (long long)p[0]);
}
static void primes_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "A number p >= 2 is prime if no d with d * d <= p divides it.\n");
    tb_step(o);
    if (p[0] == 1) tb_puts(o, "Count the primes from 2 to n.\n");
    else tb_printf(o, "Count the primes p from 2 to n with p %% %lld == %lld.\n", (long long)p[0], (long long)p[1]);
}
static void primes_code(bbuf *o, const int64_t *p) {
    tb_puts(o,
            "def count_primes(n):\n"
            "    count = 0\n"
            "    for p in range(2, n + 1):\n"
            "        is_prime = True\n"
            "        d = 2\n"
            "        while d * d <= p:\n"
            "            if p % d == 0:\n"
            "                is_prime = False\n"
            "                break\n"
            "            d += 1\n");
    if (p[0] == 1) tb_puts(o, "        if is_prime:\n");
    else tb_printf(o, "        if is_prime and p %% %lld == %lld:\n", (long long)p[0], (long long)p[1]);
    tb_puts(o, "            count += 1\n    return count\n");
}
static void primes_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t n = k == 0 ? 0 : k == 1 ? 2 : k == 2 ? 1 : tb_range(g, -5, 2000), count = 0;
    uint8_t composite[2001] = {0};  // a sieve of Eratosthenes up to n
    for (int64_t i = 2; i * i <= n; i++)
        if (!composite[i])
            for (int64_t j = i * i; j <= n; j += i) composite[j] = 1;
    for (int64_t i = 2; i <= n; i++) count += !composite[i] && i % p[0] == p[1];
    py_int(call, n);
    py_int(expect, count);
}

// ---- reduce_steps(n): level 2 -----------------------------------------------------------------
// p[0] divisor 2..9, p[1] target 1..5

static void reduce_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 2, 9);
    p[1] = tb_range(g, 1, 5);
}
static void reduce_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns the number of steps needed to bring the positive integer n down to at most %lld, where one step replaces n by n // %lld if n is divisible by %lld and by n + 1 otherwise",
              (long long)p[1], (long long)p[0], (long long)p[0]);
}
static void reduce_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "Loop while n > %lld, applying one step and counting it.\n", (long long)p[1]);
}
static void reduce_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def reduce_steps(n):\n"
              "    steps = 0\n"
              "    while n > %lld:\n"
              "        if n %% %lld == 0:\n"
              "            n //= %lld\n"
              "        else:\n"
              "            n += 1\n"
              "        steps += 1\n"
              "    return steps\n",
              (long long)p[1], (long long)p[0], (long long)p[0]);
}
static void reduce_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t n = k == 0 ? 1 : k == 1 ? p[1] + 1 : tb_range(g, 1, 5000), steps = 0;
    py_int(call, n);
    while (n > p[1]) {
        n = n % p[0] == 0 ? n / p[0] : n + 1;
        steps++;
    }
    py_int(expect, steps);
}

// ---- to_base(n): level 4 ----------------------------------------------------------------------
// p[0] base 2..16, p[1] width 1..8 (1: no padding)

static void to_base_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 2, 16);
    p[1] = tb_range(g, 1, 8);
}
static void to_base_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns the non-negative integer n written in base %lld as a string", (long long)p[0]);
    if (p[0] > 10) tb_printf(o, " (digits 0-9, then lowercase a-%c)", (char)('a' + p[0] - 11));
    if (p[1] > 1) tb_printf(o, ", padded on the left with zeros to at least %lld characters", (long long)p[1]);
    else tb_puts(o, ", without leading zeros (\"0\" for zero)");
}
static void to_base_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "Take digits from the lowest with n %% %lld and n //= %lld, putting each in front.\n", (long long)p[0], (long long)p[0]);
    tb_step(o);
    tb_printf(o, "Zero gives \"0\"%s.\n", p[1] > 1 ? "; then pad with zeros on the left" : "");
}
static void to_base_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def to_base(n):\n"
              "    digits = \"0123456789abcdef\"\n"
              "    out = \"\"\n"
              "    while n > 0:\n"
              "        out = digits[n %% %lld] + out\n"
              "        n //= %lld\n"
              "    if out == \"\":\n"
              "        out = \"0\"\n",
              (long long)p[0], (long long)p[0]);
    if (p[1] > 1) tb_printf(o, "    return out.rjust(%lld, \"0\")\n", (long long)p[1]);
    else tb_puts(o, "    return out\n");
}
static void to_base_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t n = k == 0 ? 0 : k == 1 ? p[0] : tb_range(g, 0, k % 2 ? 100 : 100000000);
    char buf[80];
    int len = 0;
    for (int64_t m = n; m > 0; m /= p[0]) buf[len++] = "0123456789abcdef"[m % p[0]];
    if (!len) buf[len++] = '0';
    while (len < p[1]) buf[len++] = '0';
    for (int i = 0; i < len / 2; i++) {
        char t = buf[i];
        buf[i] = buf[len - 1 - i];
        buf[len - 1 - i] = t;
    }
    py_int(call, n);
    py_str(expect, buf, (size_t)len);
}

// ---- sequence_term(n): level 4 ----------------------------------------------------------------
// p[0] a(0), p[1] a(1), p[2] P, p[3] Q:  a(k) = P*a(k-1) + Q*a(k-2)

static int seq_constant(const int64_t *p) {
    int64_t a = p[0], b = p[1];
    for (int i = 0; i < 8; i++) {
        if (a != b) return 0;
        int64_t c = p[2] * b + p[3] * a;
        a = b;
        b = c;
    }
    return 1;
}
static void seq_params(uint64_t *g, int64_t *p) {
    do {  // a constant sequence (e.g. a(0) = a(1) = 0) would make a trivial task
        p[0] = tb_range(g, -3, 3);
        p[1] = tb_range(g, -3, 3);
        p[2] = tb_range_nz(g, -3, 3);
        p[3] = tb_range_nz(g, -3, 3);
    } while (seq_constant(p));
}
static void seq_rule(bbuf *o, const int64_t *p) {
    if (p[2] == -1) tb_puts(o, "-a(k-1)");
    else if (p[2] == 1) tb_puts(o, "a(k-1)");
    else tb_printf(o, "%lld*a(k-1)", (long long)p[2]);
    int64_t q = p[3] < 0 ? -p[3] : p[3];
    tb_puts(o, p[3] < 0 ? " - " : " + ");
    if (q != 1) tb_printf(o, "%lld*", (long long)q);
    tb_puts(o, "a(k-2)");
}
static void seq_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns a(n) for the non-negative integer n, where a(0) = %lld, a(1) = %lld and a(k) = ", (long long)p[0], (long long)p[1]);
    seq_rule(o, p);
    tb_puts(o, " for k >= 2");
}
static void seq_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "Keep two neighbouring terms (a, b) = (a(k), a(k+1)) and step n times: (a, b) becomes (b, %lld * b %c %lld * a).\n",
              (long long)p[2], p[3] < 0 ? '-' : '+', (long long)(p[3] < 0 ? -p[3] : p[3]));
}
static void seq_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def sequence_term(n):\n"
              "    a, b = %lld, %lld\n"
              "    for _ in range(n):\n"
              "        a, b = b, %lld * b + %lld * a\n"
              "    return a\n",
              (long long)p[0], (long long)p[1], (long long)p[2], (long long)p[3]);
}
static void seq_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t n = k == 0 ? 0 : k == 1 ? 1 : k == 2 ? 2 : tb_range(g, 0, 20);
    int64_t a = p[0], b = p[1];
    for (int64_t i = 0; i < n; i++) {
        int64_t c = p[2] * b + p[3] * a;
        a = b;
        b = c;
    }
    py_int(call, n);
    py_int(expect, a);
}

// ---- coin_ways(n) and stair_ways(n): level 5 --------------------------------------------------
// p[0] bitmask of the coin values (bit v for value v)

static int mask_values(int64_t mask, int64_t *v) {
    int n = 0;
    for (int i = 1; i < 63; i++)
        if (mask >> i & 1) v[n++] = i;
    return n;
}

static int64_t draw_mask(uint64_t *g, int lo_value, int hi_value, int min_count, int max_count) {
    int count = (int)tb_range(g, min_count, max_count);
    int64_t mask = 0;
    while (__builtin_popcountll((unsigned long long)mask) < count) mask |= (int64_t)1 << tb_range(g, lo_value, hi_value);
    return mask;
}

// "1, 3 and 4" / "1, 3 or 4"
static void word_list(bbuf *o, const int64_t *v, int n, const char *last) {
    for (int i = 0; i < n; i++) tb_printf(o, "%s%lld", i == 0 ? "" : i == n - 1 ? last : ", ", (long long)v[i]);
}
static void tuple_text(bbuf *o, const int64_t *v, int n) {
    tb_putc(o, '(');
    for (int i = 0; i < n; i++) tb_printf(o, "%s%lld", i ? ", " : "", (long long)v[i]);
    tb_putc(o, ')');
}

static void coin_params(uint64_t *g, int64_t *p) { p[0] = draw_mask(g, 1, 12, 2, 4); }
static void coin_spec(bbuf *o, const int64_t *p) {
    int64_t v[64];
    int n = mask_values(p[0], v);
    tb_puts(o, "returns the number of ways to pay the non-negative amount n with coins of values ");
    word_list(o, v, n, " and ");
    tb_puts(o, ", each value usable any number of times (the order of the coins does not matter)");
}
static void coin_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "ways[a] counts the ways to pay a; start with ways[0] = 1.\n");
    tb_step(o);
    tb_puts(o, "For one coin value c at a time, add ways[a - c] to ways[a] for a from c up to n, so each combination is counted once.\n");
}
static void coin_code(bbuf *o, const int64_t *p) {
    int64_t v[64];
    int n = mask_values(p[0], v);
    tb_puts(o, "def coin_ways(n):\n    ways = [1] + [0] * n\n    for c in ");
    tuple_text(o, v, n);
    tb_puts(o, ":\n        for a in range(c, n + 1):\n            ways[a] += ways[a - c]\n    return ways[n]\n");
}
static void coin_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t v[64], ways[64] = {1};
    int nv = mask_values(p[0], v);
    int n = k == 0 ? 0 : k == 1 ? (int)v[0] : (int)tb_range(g, 1, 60);
    for (int i = 0; i < nv; i++)
        for (int a = (int)v[i]; a <= n; a++) ways[a] += ways[a - v[i]];
    py_int(call, n);
    py_int(expect, ways[n]);
}

static void stair_params(uint64_t *g, int64_t *p) { p[0] = draw_mask(g, 1, 5, 2, 3); }
static void stair_spec(bbuf *o, const int64_t *p) {
    int64_t v[64];
    int n = mask_values(p[0], v);
    tb_puts(o, "returns the number of ways to climb a staircase of n steps (n >= 0) when each move climbs ");
    word_list(o, v, n, " or ");
    tb_puts(o, " steps; different orders of moves count as different ways");
}
static void stair_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "ways[i] counts the ways to reach step i; ways[0] = 1.\n");
    tb_step(o);
    tb_puts(o, "The last move to step i climbs s steps for some allowed s, so ways[i] is the sum of ways[i - s].\n");
}
static void stair_code(bbuf *o, const int64_t *p) {
    int64_t v[64];
    int n = mask_values(p[0], v);
    tb_puts(o, "def stair_ways(n):\n    ways = [1] + [0] * n\n    for i in range(1, n + 1):\n        for s in ");
    tuple_text(o, v, n);
    tb_puts(o, ":\n            if s <= i:\n                ways[i] += ways[i - s]\n    return ways[n]\n");
}
static void stair_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int64_t v[64], ways[64] = {1};
    int nv = mask_values(p[0], v);
    int n = k == 0 ? 0 : k == 1 ? 1 : (int)tb_range(g, 2, 30);
    for (int i = 1; i <= n; i++) {
        ways[i] = 0;
        for (int j = 0; j < nv; j++)
            if (v[j] <= i) ways[i] += ways[i - v[j]];
    }
    py_int(call, n);
    py_int(expect, ways[n]);
}

const code_family CODE_FAMILIES_NUMBERS[] = {
    {"digit_sum", "n", 1, digit_sum_params, digit_sum_spec, digit_sum_plan, digit_sum_code, digit_sum_test},
    {"clamp", "x", 1, clamp_params, clamp_spec, clamp_plan, clamp_code, clamp_test},
    {"count_coprime", "n", 2, coprime_params, coprime_spec, coprime_plan, coprime_code, coprime_test},
    {"count_primes", "n", 2, primes_params, primes_spec, primes_plan, primes_code, primes_test},
    {"reduce_steps", "n", 2, reduce_params, reduce_spec, reduce_plan, reduce_code, reduce_test},
    {"to_base", "n", 4, to_base_params, to_base_spec, to_base_plan, to_base_code, to_base_test},
    {"sequence_term", "n", 4, seq_params, seq_spec, seq_plan, seq_code, seq_test},
    {"coin_ways", "n", 5, coin_params, coin_spec, coin_plan, coin_code, coin_test},
    {"stair_ways", "n", 5, stair_params, stair_spec, stair_plan, stair_code, stair_test},
};
const int CODE_FAMILIES_NUMBERS_N = (int)(sizeof CODE_FAMILIES_NUMBERS / sizeof CODE_FAMILIES_NUMBERS[0]);
