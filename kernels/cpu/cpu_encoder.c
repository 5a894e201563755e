// cpu_encoder.c — token + position embedding forward/backward, and row gathering.
#include "kernels/cpu/cpu.h"

#define ENC_CHUNK 64  // channels per task of the backward scatter-add

void cpu_encoder_forward(kb_ctx *ctx, kb_act *out, const int32_t *tokens, const int32_t *positions, const kb_act *wte,
                         const kb_act *wpe, int N, int T, int C) {
    float *o = FP(out);
    const float *te = CFP(wte), *pe = CFP(wpe);
#pragma omp parallel if ((double)N * C > 32768)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            int pos = positions ? positions[i] : i % T;
            const float *a = te + (size_t)tokens[i] * C, *b = pe + (size_t)pos * C;
            float *restrict y = o + (size_t)i * C;
            for (int c = 0; c < C; c++) y[c] = a[c] + b[c];
        }
        CPU_FTZ_END
    }
}

// dwte[tokens[i]] += dout[i] and dwpe[i % T] += dout[i]. Tokens repeat, so rows cannot be
// split between threads without races or atomics; channels can: each task owns a slice of
// channels of every embedding row and adds the rows in order i = 0, 1, ...
void cpu_encoder_backward(kb_ctx *ctx, float *dwte, float *dwpe, const kb_act *dout, const int32_t *tokens, int N,
                          int T, int C, int V) {
    for (int i = 0; i < N; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            die("kb_encoder_backward: token %d at row %d is outside the vocabulary [0, %d)", tokens[i], i, V);
    const float *d = CFP(dout);
    int nchunks = (C + ENC_CHUNK - 1) / ENC_CHUNK;
#pragma omp parallel if ((double)N * C > 32768)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int ch = 0; ch < nchunks; ch++) {
            int c0 = ch * ENC_CHUNK, width = C - c0 < ENC_CHUNK ? C - c0 : ENC_CHUNK;
            for (int i = 0; i < N; i++) {
                const float *g = d + (size_t)i * C + c0;
                float *restrict te = dwte + (size_t)tokens[i] * C + c0;
                float *restrict pe = dwpe + (size_t)(i % T) * C + c0;
                for (int c = 0; c < width; c++) {
                    te[c] += g[c];
                    pe[c] += g[c];
                }
            }
        }
        CPU_FTZ_END
    }
}

void cpu_gather_rows(kb_ctx *ctx, kb_act *out, const kb_act *inp, const int32_t *rows, int N, int C) {
    float *o = FP(out);
    const float *x = CFP(inp);
#pragma omp parallel if ((double)N * C > 65536)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) memcpy(o + (size_t)i * C, x + (size_t)rows[i] * C, (size_t)C * sizeof(float));
        CPU_FTZ_END
    }
}
