// cpu_matmul.c — matmul forward/backward (bias and GELU fused) on top of cpu_gemm.
//
// Forward:  out(N,OC) = inp(N,C)·W(OC,C)ᵀ + bias, GELU applied in the tile epilogue.
// Backward: dinp = dout·W (times gelu'(gelu_in)), dW += doutᵀ·inp, db += Σ_rows dout.
// Buffers must not alias each other.
#include "kernels/cpu/cpu.h"

#define BIAS_CHUNK 64  // output channels per task of the bias-gradient column sums

void cpu_matmul_forward(kb_ctx *ctx, kb_act *out, kb_act *pre_gelu, const kb_act *inp, const kb_act *w,
                        const kb_act *bias, int N, int C, int OC) {
    gemm_view A = {CFP(inp), C, 1};
    gemm_view B = {CFP(w), 1, C};  // B(k, j) = W[j][k]
    gemm_epilogue ep = {.bias = CFP(bias), .gelu_out = pre_gelu ? FP(out) : NULL};
    float *dst = pre_gelu ? FP(pre_gelu) : FP(out);
    cpu_gemm(ctx, N, OC, C, A, B, dst, OC, 0, (bias || pre_gelu) ? &ep : NULL);
}

// db[o] += Σ_n dout[n][o], each column summed in double over rows in order.
static void bias_grad(float *db, const float *dout, int N, int OC) {
    int nchunks = (OC + BIAS_CHUNK - 1) / BIAS_CHUNK;
#pragma omp parallel if ((double)N * OC > 32768)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int ch = 0; ch < nchunks; ch++) {
            int o0 = ch * BIAS_CHUNK, width = OC - o0 < BIAS_CHUNK ? OC - o0 : BIAS_CHUNK;
            double acc[BIAS_CHUNK] = {0};
            for (int n = 0; n < N; n++) {
                const float *d = dout + (size_t)n * OC + o0;
                for (int j = 0; j < width; j++) acc[j] += d[j];
            }
            for (int j = 0; j < width; j++) db[o0 + j] = (float)(db[o0 + j] + acc[j]);
        }
        CPU_FTZ_END
    }
}

void cpu_matmul_backward(kb_ctx *ctx, kb_act *dinp, float *dw, float *db, const kb_act *dout, const kb_act *inp,
                         const kb_act *w, const kb_act *gelu_in, int N, int C, int OC) {
    if (dinp) {
        gemm_view A = {CFP(dout), OC, 1};
        gemm_view B = {CFP(w), C, 1};
        gemm_epilogue ep = {.gelu_grad_at = CFP(gelu_in)};
        cpu_gemm(ctx, N, C, OC, A, B, FP(dinp), C, 0, gelu_in ? &ep : NULL);
    }
    gemm_view At = {CFP(dout), 1, OC};  // A(o, n) = dout[n][o]
    gemm_view I = {CFP(inp), C, 1};
    cpu_gemm(ctx, OC, C, N, At, I, dw, C, 1, NULL);
    if (db) bias_grad(db, CFP(dout), N, OC);
}
