// cpu_optimizer.c — sums and gradient norm², AdamW, and scaling of fp32 buffers.
#include <stdlib.h>

#include "kernels/cpu/cpu.h"

#define SUM_CHUNK 16384  // elements per partial sum: a function of n only, so the bits are too
#define SUM_LANES 8
#define PAR_IF(n) if ((double)(n) > 65536)

// out[0] (=|+=) Σ x (or Σ x²): fixed chunks, each summed in double over 8 lanes, partials
// added in chunk order. The chunking depends on n alone, so the bits do not depend on the
// thread count.
static void reduce(kb_ctx *ctx, float *out, const float *x, size_t n, int accumulate, int squares) {
    size_t nchunks = (n + SUM_CHUNK - 1) / SUM_CHUNK;
    double *partial = cpu_scratch(ctx, (nchunks ? nchunks : 1) * sizeof(double));
#pragma omp parallel PAR_IF(n)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (size_t ch = 0; ch < nchunks; ch++) {
            size_t i0 = ch * SUM_CHUNK, i1 = i0 + SUM_CHUNK < n ? i0 + SUM_CHUNK : n, i = i0;
            double lane[SUM_LANES] = {0};
            if (squares) {
                for (; i + SUM_LANES <= i1; i += SUM_LANES)
                    for (int l = 0; l < SUM_LANES; l++) lane[l] += (double)x[i + l] * x[i + l];
            } else {
                for (; i + SUM_LANES <= i1; i += SUM_LANES)
                    for (int l = 0; l < SUM_LANES; l++) lane[l] += x[i + l];
            }
            double s = 0;
            for (int l = 0; l < SUM_LANES; l++) s += lane[l];
            for (; i < i1; i++) s += squares ? (double)x[i] * x[i] : x[i];
            partial[ch] = s;
        }
        CPU_FTZ_END
    }
    double total = accumulate ? out[0] : 0.0;
    for (size_t ch = 0; ch < nchunks; ch++) total += partial[ch];
    out[0] = (float)total;
}

void cpu_sum(kb_ctx *ctx, float *out, const float *x, size_t n, int accumulate) { reduce(ctx, out, x, n, accumulate, 0); }
void cpu_norm_squared(kb_ctx *ctx, float *out, const float *g, size_t n, int accumulate) {
    reduce(ctx, out, g, n, accumulate, 1);
}

// PyTorch AdamW: m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g², m̂ = m/(1-β1^t), v̂ = v/(1-β2^t),
// p -= lr·(m̂/(√v̂ + eps) + wd·p), with g first scaled by min(1, clip/√norm_sq) if norm_sq.
void cpu_adamw(kb_ctx *ctx, float *params, kb_act *params_act, const float *grads, float *m, float *v, size_t n,
               float lr, float beta1, float beta2, float eps, float weight_decay, int t, const float *norm_sq,
               float clip) {
    float gscale = 1.0f;
    if (norm_sq) {
        float norm = sqrtf(*norm_sq);
        if (norm > clip) gscale = clip / norm;
    }
    float bc1 = (float)(1.0 - pow(beta1, t)), bc2 = (float)(1.0 - pow(beta2, t));
    float *copy = (params_act && (void *)params_act != (void *)params) ? FP(params_act) : NULL;
    size_t nvec = n / CPU_VL;
#pragma omp parallel PAR_IF(n)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (size_t k = 0; k <= nvec; k++) {
            size_t i0 = k * CPU_VL;
            if (k < nvec) {
                vfloat g = vload(grads + i0) * gscale;
                vfloat mi = beta1 * vload(m + i0) + (1.0f - beta1) * g;
                vfloat vi = beta2 * vload(v + i0) + (1.0f - beta2) * g * g;
                vfloat p = vload(params + i0);
                p = p - lr * ((mi / bc1) / (vsqrt(vi / bc2) + eps) + weight_decay * p);
                vstore(m + i0, mi);
                vstore(v + i0, vi);
                vstore(params + i0, p);
                if (copy) vstore(copy + i0, p);
            } else {  // the tail, same arithmetic one element at a time
                for (size_t i = i0; i < n; i++) {
                    float g = grads[i] * gscale;
                    float mi = beta1 * m[i] + (1.0f - beta1) * g;
                    float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
                    float p = params[i];
                    p = p - lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + weight_decay * p);
                    m[i] = mi;
                    v[i] = vi;
                    params[i] = p;
                    if (copy) copy[i] = p;
                }
            }
        }
        CPU_FTZ_END
    }
}

void cpu_scale_f32(kb_ctx *ctx, float *x, float s, size_t n) {
#pragma omp parallel PAR_IF(n)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) x[i] *= s;
        CPU_FTZ_END
    }
}
