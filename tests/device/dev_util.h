// dev_util.h — helpers for device tests: two contexts (CPU reference, CUDA), random inputs
// rounded to bf16 so both backends see identical values, NaN-poisoned outputs, and the
// relative error ‖a − ref‖ / ‖ref‖.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/test.h"

static kb_ctx *CPU, *GPU;
static uint64_t g_rng = 12345;

static inline void dev_open(void) {
    berr e;
    CPU = kb_open(KB_CPU, 0, &e);
    if (!CPU) die("cpu backend: %s", e.msg);
    GPU = kb_open(KB_CUDA, 0, &e);
    if (!GPU) die("cuda backend: %s", e.msg);
    printf("device: %s\n", kb_device_name(GPU));
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

static inline double rel_err(const float *a, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

// Compares n values of a GPU result with the CPU reference and records one check.
#define EXPECT_CLOSE(name, gpu_h, cpu_h, n, tol)                                                  \
    do {                                                                                          \
        double re_ = rel_err(gpu_h, cpu_h, n);                                                    \
        printf("  %-44s rel err %.2e%s\n", name, re_, re_ <= (tol) ? "" : "  <-- FAIL");          \
        CHECK(re_ <= (tol), "%s: relative error %.3e above %.1e", name, re_, (double)(tol));     \
    } while (0)
