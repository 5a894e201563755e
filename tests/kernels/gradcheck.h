// gradcheck.h — finite-difference checks of analytic gradients, element by element, and the
// mutation checks that prove such a check can fail. Header-only; include after tests/test.h.
//
// Every new gradient (an op's backward, a loss, a scalar head, a whole model) gets one:
//
//   static double loss(void *arg);          // the objective at the current values of x[0..n)
//                                           // (it reads x itself: uploads it, runs the forward)
//   uint64_t rng = test_seed(1234);         // fixed default, BERRY_TEST_SEED replays another
//   gc_opts o = gc_defaults();              // 32 samples, step 1e-2, fourth order, tol 4e-3
//   gc_ref r = gc_sample(loss, arg, x, n, &o, &rng);  // finite differences at random elements
//   gc_check("my loss: dx", &r, grad);      // CHECK: every sampled element within tolerance
//   gc_check_mutations("my loss: dx", &r, grad, n, &rng);  // CHECKs: wrong copies of grad fail
//   gc_ref_free(&r);
//
// or all of it in one call: gc_check_all("my loss: dx", loss, arg, x, grad, n, &o, &rng).
//
// What passes: for each sampled element i (drawn uniformly over the whole tensor, not the
// largest gradients),  |g_i − fd_i| ≤ tol · (|fd_i| + rms(fd))  where rms(fd) is the root
// mean square of the tensor's sampled finite differences: relative for large elements,
// relative to the tensor's scale for elements near zero. A NaN fails. One CHECK per tensor.
//
// The finite difference is Richardson-extrapolated (error O(h⁴)): d(h) = (f(x+h) − f(x−h)) /
// (the step actually taken in float), fd = (4·d(h) − d(2h)) / 3, with h = step·max(1, |x_i|).
// An fp32 objective (the CPU backend) rounds to about 1e-7 of its value, so an element's fd
// is good to about 1e-7·|f| / h: keep the objective O(1) and the gradients not much below
// 1e-3·|f| where the check must be tight (scale inputs or weights up if they are).
//
// The mutations a check must catch (gc_check_mutations, one CHECK each):
//   GC_ZERO_HALF   a random half of the elements zeroed (a missed accumulation, a wrong mask)
//   GC_SCALE       every element × 1.015 (a wrong constant factor: a mean over the wrong count)
// gc_mutate() makes these and GC_ZERO_SMALL (every |g| below a threshold zeroed) for tests
// that build their own, and gc_compare() evaluates any candidate gradient against the same
// finite differences without printing (a mutated or deliberately broken backward's gradient
// goes through gc_compare and must come back failing).
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/base.h"
#include "tests/test.h"

typedef double (*gc_objective)(void *arg);

typedef struct gc_opts {
    int samples;    // elements checked per tensor (all of them when the tensor is smaller)
    double step;    // h = step·max(1, |x_i|)
    int order;      // 4: Richardson (4 evaluations per element); 2: plain central difference
    double tol;     // the per-element tolerance above
} gc_opts;

static inline gc_opts gc_defaults(void) { return (gc_opts){.samples = 32, .step = 1e-2, .order = 4, .tol = 4e-3}; }

typedef struct gc_ref {
    size_t n, ns;   // tensor size, samples taken
    size_t *idx;    // sampled indices (distinct)
    double *fd;     // finite difference at each
    double rms;     // rms of fd over the samples
    double tol;
} gc_ref;

typedef struct gc_result {
    size_t bad;           // sampled elements out of tolerance
    size_t worst;         // sample with the largest error / allowance
    double worst_ratio;   // that error / allowance (≤ 1 passes; INFINITY for a NaN)
    double worst_g, worst_fd;
    size_t worst_i;       // its index in the tensor
} gc_result;

// f's derivative along x[i] (x[i] restored afterwards).
static inline double gc_fd_at(gc_objective f, void *arg, float *x, size_t i, const gc_opts *o) {
    float keep = x[i];
    double h = o->step * fmax(1.0, fabs((double)keep)), d[2];
    for (int k = 0; k < (o->order == 4 ? 2 : 1); k++) {
        float up = (float)(keep + (k + 1) * h), down = (float)(keep - (k + 1) * h);
        x[i] = up;
        double fu = f(arg);
        x[i] = down;
        double fdn = f(arg);
        d[k] = (fu - fdn) / ((double)up - (double)down);
    }
    x[i] = keep;
    return o->order == 4 ? (4 * d[0] - d[1]) / 3 : d[0];
}

// Finite differences of f at o->samples distinct elements of x[0..n), drawn uniformly.
static inline gc_ref gc_sample(gc_objective f, void *arg, float *x, size_t n, const gc_opts *o, uint64_t *rng) {
    gc_ref r = {.n = n, .tol = o->tol};
    r.ns = (size_t)o->samples < n ? (size_t)o->samples : n;
    r.idx = xmalloc((r.ns ? r.ns : 1) * sizeof(size_t));
    r.fd = xmalloc((r.ns ? r.ns : 1) * sizeof(double));
    for (size_t k = 0; k < r.ns; k++) {
        size_t i;
        int dup;
        do {
            i = r.ns == n ? k : (size_t)(rng_next(rng) % n);
            dup = 0;
            for (size_t j = 0; j < k && !dup; j++) dup = r.idx[j] == i;
        } while (dup);
        r.idx[k] = i;
    }
    double ss = 0;
    for (size_t k = 0; k < r.ns; k++) {
        r.fd[k] = gc_fd_at(f, arg, x, r.idx[k], o);
        ss += r.fd[k] * r.fd[k];
    }
    r.rms = r.ns ? sqrt(ss / r.ns) : 0;
    return r;
}

static inline void gc_ref_free(gc_ref *r) {
    free(r->idx);
    free(r->fd);
    r->idx = NULL;
    r->fd = NULL;
}

// Evaluates a candidate gradient g[0..n) at the sampled elements; returns 1 when it passes.
static inline int gc_compare(const gc_ref *r, const float *g, gc_result *res) {
    gc_result q = {0};
    q.worst_ratio = -1;
    for (size_t k = 0; k < r->ns; k++) {
        double a = g[r->idx[k]], err = fabs(a - r->fd[k]), lim = r->tol * (fabs(r->fd[k]) + r->rms);
        double ratio = err <= lim ? (lim > 0 ? err / lim : 0) : (lim > 0 && err == err ? err / lim : INFINITY);
        if (!(err <= lim)) q.bad++;
        if (ratio > q.worst_ratio) {
            q.worst_ratio = ratio, q.worst = k, q.worst_g = a, q.worst_fd = r->fd[k], q.worst_i = r->idx[k];
        }
    }
    if (res) *res = q;
    return r->ns > 0 && q.bad == 0;
}

// One CHECK: the gradient g of the tensor `name` agrees with the finite differences at every
// sampled element. Prints one line with the margin either way.
static inline int gc_check(const char *name, const gc_ref *r, const float *g) {
    gc_result q;
    int ok = gc_compare(r, g, &q);
    printf("  gradcheck %-28s %3zu samples, rms %.2e, worst error %.2f of tolerance%s\n", name, r->ns, r->rms,
           q.worst_ratio, ok ? "" : "  <-- FAIL");
    CHECK(ok, "%s: %zu of %zu sampled elements off (worst [%zu]: analytic %.6e, finite difference %.6e, %.1fx the "
              "tolerance %.0e·(|fd| + rms %.2e))",
          name, q.bad, r->ns, q.worst_i, q.worst_g, q.worst_fd, q.worst_ratio, r->tol, r->rms);
    return ok;
}

enum gc_mutation { GC_ZERO_HALF, GC_ZERO_SMALL, GC_SCALE };

// A mutated copy of g[0..n): GC_ZERO_HALF zeroes each element with probability 1/2,
// GC_ZERO_SMALL zeroes every |g| < param, GC_SCALE multiplies by param.
static inline float *gc_mutate(const float *g, size_t n, int kind, double param, uint64_t *rng) {
    float *m = xmalloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        float v = g[i];
        if (kind == GC_ZERO_HALF && (rng_next(rng) & 1)) v = 0;
        if (kind == GC_ZERO_SMALL && fabsf(v) < param) v = 0;
        if (kind == GC_SCALE) v = (float)(v * param);
        m[i] = v;
    }
    return m;
}

// CHECKs that the check of r fails on a random half of g zeroed and on g × 1.015. (A
// mutation that left every sampled element as it was — a tensor of one element keeping it —
// is drawn again, up to 8 times.)
static inline void gc_check_mutations(const char *name, const gc_ref *r, const float *g, size_t n, uint64_t *rng) {
    static const struct {
        int kind;
        double param;
        const char *what;
    } muts[] = {{GC_ZERO_HALF, 0, "a random half zeroed"}, {GC_SCALE, 1.015, "scaled by 1.015"}};
    for (size_t k = 0; k < sizeof muts / sizeof muts[0]; k++) {
        float *m = NULL;
        int changed = 0;
        for (int tries = 0; tries < 8 && !changed; tries++) {
            free(m);
            m = gc_mutate(g, n, muts[k].kind, muts[k].param, rng);
            for (size_t s = 0; s < r->ns; s++) changed |= m[r->idx[s]] != g[r->idx[s]];
        }
        gc_result q;
        int passed = gc_compare(r, m, &q);
        CHECK(changed && !passed, "%s: the gradient check passed a wrong gradient (%s%s): worst sample %.2f of tolerance",
              name, muts[k].what, changed ? "" : ", which changed no sampled element", q.worst_ratio);
        free(m);
    }
}

// gc_sample + gc_check + gc_check_mutations + gc_ref_free. Returns gc_check's result.
static inline int gc_check_all(const char *name, gc_objective f, void *arg, float *x, const float *g, size_t n,
                               const gc_opts *o, uint64_t *rng) {
    gc_ref r = gc_sample(f, arg, x, n, o, rng);
    int ok = gc_check(name, &r, g);
    gc_check_mutations(name, &r, g, n, rng);
    gc_ref_free(&r);
    return ok;
}
