// dev_util.h — helpers for device tests: two contexts (CPU reference, CUDA), random inputs
// rounded to bf16 so both backends see identical values, NaN-poisoned outputs, and the
// comparison of a GPU result with the CPU reference.
//
//   dev_open()                      both contexts; the random seed (fresh each run, printed;
//                                   BERRY_TEST_SEED=N replays a run) seeds rnd() and g_rng
//   dev_compare(name, gpu, cpu, n, k)   one CHECK, passing when both
//        ‖gpu − cpu‖ / ‖cpu‖ ≤ k·ε                              (the whole tensor)
//        |gpu_i − cpu_i| ≤ DEV_ELEM·k·ε·(|cpu_i| + rms(cpu))   (every element; a NaN fails,
//                                                  a non-finite cpu_i must be matched exactly)
//     with ε = DEV_EPS = 2⁻⁸, bf16's unit roundoff: k counts bf16 roundings (K_OUT ≈ 2.6 for
//     one rounded output with fp32 accumulation, K_GRAD ≈ 5 for gradients through several,
//     K_MODEL ≈ 7.7 for whole-model gradients; DEV_K(tol) for fp32 results: DEV_K(1e-4)).
//     k = 0 asks for equality.
//     The per-element bound is DEV_ELEM = 4 times looser than the aggregate one, and relative
//     to the element plus the tensor's rms, so rounding noise passes and a wrong element
//     (a zeroed slice, a skipped tile, a stale row) does not. The printed line gives both
//     errors as fractions of their bounds.
//   dev_compare_ok(gpu, cpu, n, k, &r)  the same test without recording a check
//   dev_check_catches(name, gpu, cpu, n, k)  the comparison's own mutation test, on a real
//     GPU result that passed: copies with a zeroed slice of 16 elements, with one NaN, and
//     scaled by 1 + 2kε must each fail (three CHECKs)
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/test.h"

static kb_ctx *CPU, *GPU;
static uint64_t g_rng;  // seeded by dev_open (test_seed: fresh each run, printed)

static inline void dev_open(void) {
    berr e;
    CPU = kb_open(KB_CPU, 0, &e);
    if (!CPU) die("cpu backend: %s", e.msg);
    GPU = kb_open(KB_CUDA, 0, &e);
    if (!GPU) die("cuda backend: %s", e.msg);
    printf("device: %s\n", kb_device_name(GPU));
    g_rng = test_seed(0);
}

static inline float bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000u;
    memcpy(&x, &u, 4);
    return x;
}

// Fresh random values (never zeros), already representable in bf16.
static inline float *rnd(size_t n, float scale) {
    float *x = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        float v = scale * rng_normal(&g_rng);
        if (v == 0) v = scale * 1e-3f;
        x[i] = bf16_round(v);
    }
    return x;
}

// An activation buffer on a context holding host values.
static inline kb_act *act_of(kb_ctx *c, const float *h, size_t n) {
    kb_act *p = kb_alloc(c, n * kb_act_size(c));
    kb_upload_act(c, p, h, n);
    return p;
}
static inline float *f32_of(kb_ctx *c, const float *h, size_t n) {
    float *p = kb_alloc(c, n * 4);
    kb_upload(c, p, h, n * 4);
    return p;
}
static inline int32_t *i32_of(kb_ctx *c, const int32_t *h, size_t n) {
    int32_t *p = kb_alloc(c, n * 4);
    kb_upload(c, p, h, n * 4);
    return p;
}
// An output buffer poisoned with NaN, so an element the op does not write fails.
static inline kb_act *act_nan(kb_ctx *c, size_t n) {
    float *h = xmalloc(n * 4);
    for (size_t i = 0; i < n; i++) h[i] = NAN;
    kb_act *p = act_of(c, h, n);
    free(h);
    return p;
}
static inline float *f32_nan(kb_ctx *c, size_t n) {
    float *h = xmalloc(n * 4);
    for (size_t i = 0; i < n; i++) h[i] = NAN;
    float *p = f32_of(c, h, n);
    free(h);
    return p;
}
static inline float *get_act(kb_ctx *c, const kb_act *p, size_t n) {
    float *h = xmalloc(n * 4);
    kb_download_act(c, h, p, n);
    return h;
}
static inline float *get_f32(kb_ctx *c, const float *p, size_t n) {
    float *h = xmalloc(n * 4);
    kb_download(c, h, p, n * 4);
    return h;
}

#define DEV_EPS (1.0 / 256)      // bf16's unit roundoff, 2^-8
#define DEV_ELEM 4.0              // the per-element bound, in units of the aggregate one
#define DEV_K(tol) ((tol) / DEV_EPS)
// The usual k: one bf16-rounded output with fp32 accumulation (≈ 2.6 roundings), gradients
// through several roundings (≈ 5), whole-model gradients (≈ 7.7).
#define K_OUT DEV_K(1e-2)
#define K_GRAD DEV_K(2e-2)
#define K_MODEL DEV_K(3e-2)

typedef struct dev_cmp {
    double rel;         // ‖gpu − cpu‖ / ‖cpu‖ (INFINITY with a NaN)
    double elem;        // worst |gpu_i − cpu_i| / (|cpu_i| + rms), in units of ε
    size_t worst, bad;  // that element; elements over their bound
} dev_cmp;

static inline int dev_compare_ok(const float *gpu, const float *cpu, size_t n, double k, dev_cmp *r) {
    // A non-finite reference value (a -inf lse of an empty range) must be matched exactly and
    // stays out of the norms.
    double num = 0, den = 0;
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(cpu[i])) den += (double)cpu[i] * cpu[i], nf++;
    double rms = nf ? sqrt(den / nf) : 0, lim_elem = DEV_ELEM * k * DEV_EPS;
    dev_cmp q = {0, -1, 0, 0};
    for (size_t i = 0; i < n; i++) {
        double e;
        if (!isfinite(cpu[i])) {
            e = gpu[i] == cpu[i] ? 0 : INFINITY;
        } else {
            double d = (double)gpu[i] - cpu[i], scale = fabs(cpu[i]) + rms;
            e = isfinite(gpu[i]) ? (d == 0 ? 0 : scale > 0 ? fabs(d) / scale : INFINITY) : INFINITY;
            num += isfinite(gpu[i]) ? d * d : INFINITY;
        }
        if (!(e <= lim_elem) && e != 0) q.bad++;
        if (e / DEV_EPS > q.elem) q.elem = e / DEV_EPS, q.worst = i;
    }
    q.rel = den > 0 ? sqrt(num / den) : sqrt(num);
    if (r) *r = q;
    return q.rel <= k * DEV_EPS && q.bad == 0;
}

// Compares n values of a GPU result with the CPU reference and records one check.
static inline int dev_compare(const char *name, const float *gpu, const float *cpu, size_t n, double k) {
    dev_cmp q;
    int ok = dev_compare_ok(gpu, cpu, n, k, &q);
    double agg_bound = k * DEV_EPS, elem_bound = DEV_ELEM * k;
    if (k > 0)
        printf("  %-44s rel err %.2e (%.2f of bound), worst element %.2f of bound%s\n", name, q.rel, q.rel / agg_bound,
               q.elem / elem_bound, ok ? "" : "  <-- FAIL");
    else
        printf("  %-44s %s\n", name, ok ? "equal" : "DIFFER  <-- FAIL");
    CHECK(ok, "%s: rel err %.3e (bound %.2e), %zu of %zu elements over %.1f·ε·(|ref| + rms) (worst [%zu]: gpu %.7g, "
              "cpu %.7g)",
          name, q.rel, agg_bound, q.bad, n, elem_bound, q.worst, n ? gpu[q.worst] : 0.0, n ? cpu[q.worst] : 0.0);
    return ok;
}

// The older form: a relative tolerance instead of k.
#define EXPECT_CLOSE(name, gpu_h, cpu_h, n, tol) dev_compare(name, gpu_h, cpu_h, n, DEV_K(tol))

// The comparison's mutation test on a GPU result that passed (see the top of the file).
static inline void dev_check_catches(const char *name, const float *gpu, const float *cpu, size_t n, double k) {
    REQUIRE(n >= 64 && k > 0, "dev_check_catches needs a tensor of 64 elements or more and k > 0 (%s)", name);
    float *bad = xmalloc(n * 4);
    size_t at = (size_t)(rng_next(&g_rng) % (n - 16));
    memcpy(bad, gpu, n * 4);
    for (size_t i = at; i < at + 16; i++) bad[i] = 0;
    int zeroed = !dev_compare_ok(bad, cpu, n, k, NULL);
    CHECK(zeroed, "%s: a copy with 16 zeroed elements at %zu passed the comparison", name, at);
    memcpy(bad, gpu, n * 4);
    bad[at] = NAN;
    int nan = !dev_compare_ok(bad, cpu, n, k, NULL);
    CHECK(nan, "%s: a copy with a NaN at %zu passed the comparison", name, at);
    for (size_t i = 0; i < n; i++) bad[i] = (float)(cpu[i] * (1 + 2 * k * DEV_EPS));
    int scaled = !dev_compare_ok(bad, cpu, n, k, NULL);
    CHECK(scaled, "%s: the reference scaled by 1 + 2kε passed the comparison", name);
    printf("  %-44s zeroed slice %s, NaN %s, scaled copy %s\n", "(the comparison's mutation test)",
           zeroed ? "caught" : "MISSED", nan ? "caught" : "MISSED", scaled ? "caught" : "MISSED");
    free(bad);
}
