// cpu_layernorm.c — layernorm forward (optionally fused with the residual add), backward,
// and the plain residual add. eps = 1e-5, biased variance, as in GPT-2.
#include "kernels/cpu/cpu.h"

#define LN_EPS 1e-5f
#define LN_CHUNK 64                  // channels per task of the dw/db column sums
#define PAR_IF(n) if ((double)(n) > 32768)  // below this a parallel region costs more than it saves

// Σ x, CPU_VL lanes then the tail, fixed order.
static float row_sum(const float *x, int C) {
    vfloat acc = {0};
    int c = 0;
    for (; c + CPU_VL <= C; c += CPU_VL) acc += vload(x + c);
    float s = vsum(acc);
    for (; c < C; c++) s += x[c];
    return s;
}

// Σ (x - m)²
static float row_sq_dev(const float *x, float m, int C) {
    vfloat acc = {0}, vm = vbroadcast(m);
    int c = 0;
    for (; c + CPU_VL <= C; c += CPU_VL) {
        vfloat d = vload(x + c) - vm;
        acc = vfma(d, d, acc);
    }
    float s = vsum(acc);
    for (; c < C; c++) s += (x[c] - m) * (x[c] - m);
    return s;
}

static void ln_row(float *restrict y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                   int C) {
    float m = row_sum(x, C) / C;
    float s = 1.0f / sqrtf(row_sq_dev(x, m, C) / C + LN_EPS);
    for (int c = 0; c < C; c++) y[c] = (x[c] - m) * s * w[c] + b[c];
    if (mean) *mean = m;
    if (rstd) *rstd = s;
}

void cpu_layernorm_forward(kb_ctx *ctx, kb_act *out, float *mean, float *rstd, const kb_act *inp, const kb_act *w,
                           const kb_act *b, int N, int C) {
#pragma omp parallel PAR_IF((double)N * C)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++)
            ln_row(FP(out) + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL, CFP(inp) + (size_t)i * C,
                   CFP(w), CFP(b), C);
        CPU_FTZ_END
    }
}

void cpu_residual_layernorm_forward(kb_ctx *ctx, kb_act *resid_out, kb_act *out, float *mean, float *rstd,
                                    const kb_act *a, const kb_act *b, const kb_act *w, const kb_act *bias, int N,
                                    int C) {
#pragma omp parallel PAR_IF((double)N * C)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            float *r = FP(resid_out) + (size_t)i * C;  // may be a's row: each element is read before it is written
            const float *x = CFP(a) + (size_t)i * C, *y = CFP(b) + (size_t)i * C;
            for (int c = 0; c < C; c++) r[c] = x[c] + y[c];
            ln_row(FP(out) + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL, r, CFP(w), CFP(bias), C);
        }
        CPU_FTZ_END
    }
}

// With n = (x - mean)·rstd and g = dout·w:
//   dinp += rstd · (g - mean(g) - n · mean(g·n)),  dw += Σ_rows dout·n,  db += Σ_rows dout.
// dinp is row-parallel; dw/db are column sums (in double, rows in order) so that no two
// threads add into one channel.
void cpu_layernorm_backward(kb_ctx *ctx, kb_act *dinp, float *dw, float *db, const kb_act *dout, const kb_act *inp,
                            const kb_act *w, const float *mean, const float *rstd, int N, int C) {
    const float *d = CFP(dout), *x = CFP(inp), *wt = CFP(w);
#pragma omp parallel PAR_IF((double)N * C)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            const float *di = d + (size_t)i * C, *xi = x + (size_t)i * C;
            float *restrict gi = FP(dinp) + (size_t)i * C;
            float m = mean[i], s = rstd[i];
            vfloat acc_g = {0}, acc_gn = {0}, vm = vbroadcast(m), vs = vbroadcast(s);
            int c = 0;
            for (; c + CPU_VL <= C; c += CPU_VL) {
                vfloat g = vload(di + c) * vload(wt + c), n = (vload(xi + c) - vm) * vs;
                acc_g += g;
                acc_gn = vfma(g, n, acc_gn);
            }
            float sg = vsum(acc_g), sgn = vsum(acc_gn);
            for (; c < C; c++) {
                float g = di[c] * wt[c], n = (xi[c] - m) * s;
                sg += g;
                sgn += g * n;
            }
            float mg = sg / C, mgn = sgn / C;
            for (c = 0; c < C; c++) {
                float g = di[c] * wt[c], n = (xi[c] - m) * s;
                gi[c] += s * (g - mg - n * mgn);
            }
        }
        CPU_FTZ_END
    }
    int nchunks = (C + LN_CHUNK - 1) / LN_CHUNK;
#pragma omp parallel PAR_IF((double)N * C)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int ch = 0; ch < nchunks; ch++) {
            int c0 = ch * LN_CHUNK, width = C - c0 < LN_CHUNK ? C - c0 : LN_CHUNK;
            double acc_w[LN_CHUNK] = {0}, acc_b[LN_CHUNK] = {0};
            for (int i = 0; i < N; i++) {
                const float *di = d + (size_t)i * C + c0, *xi = x + (size_t)i * C + c0;
                float m = mean[i], s = rstd[i];
                for (int c = 0; c < width; c++) {
                    acc_w[c] += di[c] * ((xi[c] - m) * s);
                    acc_b[c] += di[c];
                }
            }
            for (int c = 0; c < width; c++) {
                dw[c0 + c] = (float)(dw[c0 + c] + acc_w[c]);
                db[c0 + c] = (float)(db[c0 + c] + acc_b[c]);
            }
        }
        CPU_FTZ_END
    }
}

void cpu_residual_forward(kb_ctx *ctx, kb_act *out, const kb_act *a, const kb_act *b, size_t n) {
    float *o = FP(out);
    const float *x = CFP(a), *y = CFP(b);
#pragma omp parallel PAR_IF(n)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) o[i] = x[i] + y[i];
        CPU_FTZ_END
    }
}
