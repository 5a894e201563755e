// op_test.h — what the CPU-backend op tests (test_cpu_ops, test_cpu_decode) share: one
// context and one generator, host buffers, device copies and downloads, and the comparisons
// against double-precision references. Header-only; include after tests/test.h.
//
//   ctx, rng                 the context and generator (main opens ctx; rng = test_seed(N))
//   host_rand(n, scale)      n random normals × scale, never zero;  host_nan(n): n NaNs
//   rnd_int(n)               uniform in [0, n);  dnew(n): n zeroed doubles;  to_d(x, n): as doubles
//   dev_act/dev_f32/dev_i32(host, n)  device copies;  dev_act_nan/dev_f32_nan(n) (dev_nan):
//                            NaN-poisoned outputs, so an element an op does not write fails
//   get_act/get_f32(p, n)    a device buffer downloaded into a new host array
//   FREE_DEV(p, ...)         kb_free each
//   check_tensor(what, got, ref, n, tol)  one CHECK: every |got − ref| ≤ tol·(|ref| + rms(ref))
//   check_lse(what, got, ref, n, tol)     one CHECK: −inf exactly where ref is, else ≤ tol·(1 + |ref|)
//   CHECK_BITS(what, a, b, n)             one CHECK: n floats bit-identical
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/test.h"

static kb_ctx *ctx;
static uint64_t rng;

// ---- buffers ------------------------------------------------------------------------------------

static inline float *host_rand(size_t n, float scale) {
    float *x = xmalloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        float v;
        do v = scale * rng_normal(&rng);
        while (v == 0);
        x[i] = v;
    }
    return x;
}
static inline float *host_nan(size_t n) {
    float *x = xmalloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = NAN;
    return x;
}
static inline int32_t rnd_int(int n) { return (int32_t)(rng_next(&rng) % (uint64_t)n); }
static inline double *dnew(size_t n) { return xcalloc(n ? n : 1, sizeof(double)); }
static inline double *to_d(const float *x, size_t n) {
    double *d = dnew(n);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}
static inline void *dev_copy(const void *host, size_t bytes) {
    void *p = kb_alloc(ctx, bytes ? bytes : 4);
    if (bytes) kb_upload(ctx, p, host, bytes);
    return p;
}
static inline float *dev_f32(const float *host, size_t n) { return dev_copy(host, n * sizeof(float)); }
static inline int32_t *dev_i32(const int32_t *host, size_t n) { return dev_copy(host, n * sizeof(int32_t)); }
static inline kb_act *dev_act(const float *host, size_t n) {
    kb_act *p = kb_alloc(ctx, (n ? n : 1) * kb_act_size(ctx));
    if (n) kb_upload_act(ctx, p, host, n);
    return p;
}
static inline kb_act *dev_act_nan(size_t n) {
    float *h = host_nan(n);
    kb_act *p = dev_act(h, n);
    free(h);
    return p;
}
static inline float *dev_f32_nan(size_t n) {
    float *h = host_nan(n);
    float *p = dev_f32(h, n);
    free(h);
    return p;
}
#define dev_nan dev_f32_nan  // the CPU backend's activations are fp32: either buffer kind
static inline float *get_act(const kb_act *p, size_t n) {
    float *h = xmalloc((n ? n : 1) * sizeof(float));
    if (n) kb_download_act(ctx, h, p, n);
    return h;
}
static inline float *get_f32(const void *p, size_t n) {
    float *h = xmalloc((n ? n : 1) * sizeof(float));
    if (n) kb_download(ctx, h, p, n * sizeof(float));
    return h;
}
static inline void free_all(void **p, int n) {
    for (int i = 0; i < n; i++) kb_free(ctx, p[i]);
}
#define FREE_DEV(...)                                  \
    do {                                               \
        void *list_[] = {__VA_ARGS__};                 \
        free_all(list_, sizeof list_ / sizeof *list_); \
    } while (0)

// ---- comparison ---------------------------------------------------------------------------------

// Passes when every |got - ref| <= tol·(|ref| + rms(ref)): relative for large elements,
// relative to the tensor's scale for elements near zero (where fp32 cancellation lives).
// A NaN fails. One CHECK per tensor.
static inline void check_tensor(const char *what, const float *got, const double *ref, size_t n, double tol) {
    double rms = 0;
    for (size_t i = 0; i < n; i++) rms += ref[i] * ref[i];
    rms = n ? sqrt(rms / n) : 0;
    size_t bad = 0, worst = 0;
    double worst_ratio = -1;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]), lim = tol * (fabs(ref[i]) + rms);
        double ratio = err <= lim ? (lim > 0 ? err / lim : 0) : (err == err && lim > 0 ? err / lim : INFINITY);
        if (!(err <= lim)) bad++;
        if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
    }
    CHECK(bad == 0, "%s: %zu of %zu elements off (worst [%zu]: got %.9g, want %.9g, tol %g)", what, bad, n, worst,
          n ? got[worst] : 0.0, n ? ref[worst] : 0.0, tol);
}
// Log-sum-exps: -inf exactly where the reference is -inf, else within tol·(1 + |ref|).
static inline void check_lse(const char *what, const float *got, const double *ref, size_t n, double tol) {
    size_t bad = 0, first = n;
    for (size_t i = 0; i < n; i++) {
        int ok = isinf(ref[i]) ? (isinf(got[i]) && got[i] < 0) : fabs((double)got[i] - ref[i]) <= tol * (1 + fabs(ref[i]));
        if (!ok && bad++ == 0) first = i;
    }
    CHECK(bad == 0, "%s: %zu of %zu values off (first [%zu]: got %.9g, want %.9g)", what, bad, n, first,
          first < n ? got[first] : 0.0, first < n ? ref[first] : 0.0);
}
static inline size_t first_diff(const void *a, const void *b, size_t n_floats) {
    const uint32_t *x = a, *y = b;
    for (size_t i = 0; i < n_floats; i++)
        if (x[i] != y[i]) return i;
    return n_floats;
}
#define CHECK_BITS(what, a, b, n)                                                                              \
    do {                                                                                                       \
        size_t n_ = (n), d_ = first_diff((a), (b), n_);                                                        \
        CHECK(d_ == n_, "%s: not bit-identical (first difference at %zu of %zu: %.9g vs %.9g)", what, d_, n_, \
              d_ < n_ ? (double)((const float *)(a))[d_] : 0.0, d_ < n_ ? (double)((const float *)(b))[d_] : 0.0); \
    } while (0)
