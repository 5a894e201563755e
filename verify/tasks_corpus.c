// tasks_corpus.c — the built-in text corpus: worked solutions from the generators, plus
// plain-text filler documents of number facts in sentences (multiplication tables,
// sums, counting, properties of numbers, fractions, ordering, Python's integer operators).
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "shards/task_format.h"
#include "verify/tasks.h"
#include "verify/tasks_build.h"

#define FILLER_SALT 0x66696c6c6572ull  // "filler": keeps filler draws apart from problem draws
#define FLUSH_BYTES (1u << 20)

void tasks_corpus_document(bbuf *out, const problem_rec *p) {
    tb_puts(out, p->prompt);
    tb_puts(out, p->solution);
    tb_puts(out, BERRY_EOT);
}

static int is_prime_small(int64_t n) {
    if (n < 2) return 0;
    for (int64_t d = 2; d * d <= n; d++)
        if (n % d == 0) return 0;
    return 1;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void tasks_filler_document(bbuf *out, uint64_t seed) {
    uint64_t g = seed;
    int theme = (int)tb_range(&g, 0, 6);
    switch (theme) {
    case 0: {  // a multiplication table
        int64_t a = tb_range(&g, 2, 19), from = tb_range(&g, 1, 5);
        tb_printf(out, "The multiplication table of %lld.", (long long)a);
        for (int64_t i = from; i < from + 8; i++) tb_printf(out, " %lld times %lld is %lld.", (long long)a, (long long)i, (long long)(a * i));
        break;
    }
    case 1: {  // sums and differences
        int n = (int)tb_range(&g, 4, 8);
        for (int i = 0; i < n; i++) {
            int64_t a = tb_range(&g, 0, 999), b = tb_range(&g, 0, 999);
            if (tb_chance(&g, 50)) tb_printf(out, "%s%lld plus %lld is %lld.", i ? " " : "", (long long)a, (long long)b, (long long)(a + b));
            else tb_printf(out, "%s%lld minus %lld is %lld.", i ? " " : "", (long long)a, (long long)b, (long long)(a - b));
        }
        break;
    }
    case 2: {  // counting by a step
        int64_t step = tb_range(&g, 2, 12) * (tb_chance(&g, 20) ? -1 : 1), start = tb_range(&g, -50, 100);
        tb_printf(out, "Counting by %lld from %lld:", (long long)step, (long long)start);
        for (int i = 0; i < 10; i++) tb_printf(out, "%s %lld", i ? "," : "", (long long)(start + step * i));
        tb_putc(out, '.');
        break;
    }
    case 3: {  // properties of a number
        int64_t n = tb_range(&g, 2, 999), digits = 0;
        for (int64_t m = n; m; m /= 10) digits += m % 10;
        tb_printf(out, "%lld is %s. ", (long long)n, n % 2 ? "odd" : "even");
        tb_printf(out, "%lld %s a prime number. ", (long long)n, is_prime_small(n) ? "is" : "is not");
        tb_printf(out, "The digits of %lld add up to %lld. ", (long long)n, (long long)digits);
        tb_printf(out, "%lld squared is %lld. ", (long long)n, (long long)(n * n));
        tb_printf(out, "Half of %lld is %lld%s.", (long long)n, (long long)(n / 2), n % 2 ? " and a half" : "");
        break;
    }
    case 4: {  // fractions in lowest terms
        int n = (int)tb_range(&g, 2, 5);
        for (int i = 0; i < n; i++) {
            int64_t q = tb_range(&g, 2, 12), p = tb_range(&g, 1, 3 * q), k = tb_range(&g, 2, 9);
            int64_t gg = tb_gcd(p * k, q * k);
            tb_printf(out, "%s%lld/%lld in lowest terms is ", i ? " " : "", (long long)(p * k), (long long)(q * k));
            tb_fraction(out, p * k, q * k);
            tb_printf(out, ", dividing both by %lld.", (long long)gg);
        }
        break;
    }
    case 5: {  // ordering
        int64_t v[8], s[8];
        int n = (int)tb_range(&g, 3, 7);
        for (int i = 0; i < n; i++) s[i] = v[i] = tb_range(&g, -99, 99);
        qsort(s, (size_t)n, sizeof *s, cmp_i64);
        tb_puts(out, "Sorted from smallest to largest, ");
        for (int i = 0; i < n; i++) tb_printf(out, "%s%lld", i == 0 ? "" : i == n - 1 ? " and " : ", ", (long long)v[i]);
        tb_puts(out, " become ");
        for (int i = 0; i < n; i++) tb_printf(out, "%s%lld", i ? ", " : "", (long long)s[i]);
        tb_printf(out, ". The largest is %lld and the smallest is %lld.", (long long)s[n - 1], (long long)s[0]);
        break;
    }
    default: {  // Python's integer division and remainder
        int n = (int)tb_range(&g, 3, 6);
        tb_puts(out, "In Python,");
        for (int i = 0; i < n; i++) {
            int64_t a = tb_range(&g, -60, 200), b = tb_range(&g, 2, 12);
            int64_t q = a / b, r = a % b;
            if (r < 0) {  // Python floors
                r += b;
                q -= 1;
            }
            tb_printf(out, "%s %lld // %lld is %lld and %lld %% %lld is %lld", i ? ";" : "", (long long)a, (long long)b, (long long)q, (long long)a,
                      (long long)b, (long long)r);
        }
        tb_putc(out, '.');
        break;
    }
    }
    tb_putc(out, '\n');
    tb_puts(out, BERRY_EOT);
}

int tasks_write_corpus(const tasks_opts *o, const char *path, berr *e) {
    tasks_stream s;
    if (tasks_stream_init(&s, o, e)) return berr_wrap(e, "corpus %s", path);
    atomic_file af;
    if (atomic_open(&af, path, e)) {
        tasks_stream_free(&s);
        return -1;
    }
    bbuf buf = {0};
    int rc = 0;
    int64_t problems = 0, fillers = 0, bytes = 0;
    double t0 = now_sec(), last = t0;
    for (int64_t i = 0; i < o->count && !rc; i++) {
        uint64_t fseed = mix64(o->seed ^ FILLER_SALT, (uint64_t)i);
        if ((int)(rng_next(&fseed) % 100) < o->filler_pct) {
            tasks_filler_document(&buf, fseed);
            fillers++;
        } else {
            problem_rec p;
            if (tasks_stream_next(&s, &p, e)) {
                rc = berr_wrap(e, "corpus %s, document %lld", path, (long long)i);
                break;
            }
            tasks_corpus_document(&buf, &p);
            problem_free(&p);
            problems++;
        }
        if (buf.n >= FLUSH_BYTES || i + 1 == o->count) {
            rc = atomic_write(&af, buf.p, buf.n, e);
            bytes += (int64_t)buf.n;
            buf.n = 0;
        }
        if (o->progress && now_sec() - last >= 2.0) {
            last = now_sec();
            fprintf(stderr, "corpus: %lld / %lld documents, %.1f MB, %.0f docs/s\n", (long long)(i + 1), (long long)o->count, bytes / 1e6,
                    (double)(i + 1) / (last - t0));
        }
    }
    bbuf_free(&buf);
    tasks_stream_free(&s);
    if (rc) {
        atomic_abort(&af);
        return -1;
    }
    if (atomic_commit(&af, e)) return -1;
    if (o->progress)
        fprintf(stderr, "corpus: wrote %s: %lld documents (%lld worked problems, %lld filler), %.1f MB in %.1f s\n", path, (long long)o->count,
                (long long)problems, (long long)fillers, bytes / 1e6, now_sec() - t0);
    return 0;
}
