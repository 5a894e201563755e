// test_cpu_ops.c — every op of the CPU backend against straightforward double-precision
// loops, on fresh random inputs (never zeros) at several sizes, odd ones included.
// Outputs are poisoned with NaN first, so an element an op fails to write fails the test;
// "+=" outputs are pre-filled with random values. Backward ops are also checked against
// central finite differences of a double-precision forward (attention, layernorm,
// classifier, matmul+GELU). Then: FLOP counters, 1 thread vs 2 threads bit for bit, and a
// row giving the same bits alone or inside a batch.
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/kernels/op_test.h"
#include "tests/test.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

// ---- double-precision references ------------------------------------------------------------------

static double gelu_d(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
static double gelu_grad_d(double x) {
    double k = sqrt(2 / M_PI), t = tanh(k * (x + 0.044715 * x * x * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
}

// pre = inp·Wᵀ + bias (double inputs).
static void matmul_ref(double *pre, const double *inp, const double *w, const double *bias, int N, int C, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0;
            for (int c = 0; c < C; c++) s += inp[(size_t)n * C + c] * w[(size_t)o * C + c];
            pre[(size_t)n * OC + o] = s;
        }
}

// Causal attention in double: out (B,T,C), lse (B,NH,T).
static void attention_ref(double *out, double *lse, const double *qkv, int B, int T, int C, int NH) {
    int hs = C / NH;
    double scale = 1 / sqrt((double)hs), *s = dnew(T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                double m = -INFINITY, l = 0;
                for (int j = 0; j <= t; j++) {
                    const double *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    double d = 0;
                    for (int i = 0; i < hs; i++) d += q[i] * k[i];
                    s[j] = d * scale;
                    if (s[j] > m) m = s[j];
                }
                for (int j = 0; j <= t; j++) l += exp(s[j] - m);
                double *o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0;
                for (int j = 0; j <= t; j++) {
                    const double *v = qkv + ((size_t)b * T + j) * 3 * C + 2 * C + h * hs;
                    double p = exp(s[j] - m) / l;
                    for (int i = 0; i < hs; i++) o[i] += p * v[i];
                }
                if (lse) lse[((size_t)b * NH + h) * T + t] = m + log(l);
            }
    free(s);
}

static void layernorm_ref(double *out, double *mean, double *rstd, const double *x, const double *w, const double *b,
                          int N, int C) {
    for (int n = 0; n < N; n++) {
        const double *xi = x + (size_t)n * C;
        double m = 0, v = 0;
        for (int c = 0; c < C; c++) m += xi[c];
        m /= C;
        for (int c = 0; c < C; c++) v += (xi[c] - m) * (xi[c] - m);
        double s = 1 / sqrt(v / C + 1e-5);
        for (int c = 0; c < C; c++) out[(size_t)n * C + c] = (xi[c] - m) * s * w[c] + b[c];
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = s;
    }
}

// nll and entropy of one row of logits (double), z = logits·inv_temp over V columns.
static void softmax_row_ref(const double *logits, int V, double inv_temp, int target, double *nll, double *entropy,
                            double *p) {
    double m = -INFINITY, l = 0;
    for (int j = 0; j < V; j++) m = fmax(m, logits[j] * inv_temp);
    for (int j = 0; j < V; j++) l += exp(logits[j] * inv_temp - m);
    double lse = m + log(l), ent = 0;
    for (int j = 0; j < V; j++) {
        double pj = exp(logits[j] * inv_temp - lse);
        if (p) p[j] = pj;
        ent -= pj * (logits[j] * inv_temp - lse);
    }
    if (nll) *nll = lse - logits[target] * inv_temp;
    if (entropy) *entropy = ent;
}

// Central finite difference of f at x[i] (double), step h·max(1, |x[i]|).
typedef double (*objective_fn)(void *);
static double fd(objective_fn f, void *arg, double *x, double h) {
    double keep = *x, step = h * fmax(1.0, fabs(keep));
    *x = keep + step;
    double up = f(arg);
    *x = keep - step;
    double down = f(arg);
    *x = keep;
    return (up - down) / (2 * step);
}

// ---- context and memory ---------------------------------------------------------------------------

static void test_context_and_memory(void) {
    CHECK(strcmp(kb_backend_name(ctx), "cpu") == 0, "backend name %s", kb_backend_name(ctx));
    CHECK(kb_backend_of(ctx) == KB_CPU, "backend id");
    CHECK(kb_act_size(ctx) == 4, "act size %zu", kb_act_size(ctx));
    char want[64];
    snprintf(want, sizeof want, "cpu (%d thread", omp_get_max_threads());
    CHECK(strncmp(kb_device_name(ctx), want, strlen(want)) == 0, "device name '%s'", kb_device_name(ctx));
    // The peak that MFU divides by is a nominal figure; what can be checked without restating
    // it is that a real matmul on this machine does not beat it (MFU would exceed 100%).
    {
        int N = 256, C = 512, OC = 512, reps = 5;
        float *hi = host_rand((size_t)N * C, 1), *hw = host_rand((size_t)OC * C, 0.1f);
        kb_act *in = dev_act(hi, (size_t)N * C), *w = dev_act(hw, (size_t)OC * C), *out = dev_act_nan((size_t)N * OC);
        kb_matmul_forward(ctx, out, NULL, in, w, NULL, N, C, OC);  // warm-up
        double best = INFINITY;
        for (int r = 0; r < reps; r++) {
            double t0 = now_sec();
            kb_matmul_forward(ctx, out, NULL, in, w, NULL, N, C, OC);
            kb_sync(ctx);
            best = fmin(best, now_sec() - t0);
        }
        double achieved = 2.0 * N * C * OC / best, peak = kb_peak_flops(ctx);
        printf("matmul %dx%dx%d: %.1f GFLOP/s, %.0f%% of the peak MFU divides by (%.1f GFLOP/s)\n", N, C, OC,
               achieved / 1e9, 100 * achieved / peak, peak / 1e9);
        CHECK(isfinite(peak) && peak > 0 && achieved <= peak, "peak flops %g below a measured matmul's %g",
              peak, achieved);
        free(hi), free(hw);
        kb_free(ctx, in), kb_free(ctx, w), kb_free(ctx, out);
    }

    size_t before = kb_bytes_allocated(ctx), sizes[] = {1, 3, 64, 1000, 4097, 1 << 20};
    void *p[6];
    size_t total = 0;
    for (int i = 0; i < 6; i++) {
        p[i] = kb_alloc(ctx, sizes[i]);
        total += sizes[i];
        CHECK(((uintptr_t)p[i] & 63) == 0, "allocation of %zu bytes is not 64-byte aligned: %p", sizes[i], p[i]);
        memset(p[i], 0xAB, sizes[i]);  // the whole size is usable
    }
    CHECK(kb_bytes_allocated(ctx) == before + total, "bytes allocated %zu, want %zu", kb_bytes_allocated(ctx),
          before + total);
    CHECK(kb_peak_bytes(ctx) >= before + total, "peak bytes %zu", kb_peak_bytes(ctx));
    for (int i = 0; i < 6; i++) kb_free(ctx, p[i]);
    CHECK(kb_bytes_allocated(ctx) == before, "bytes allocated after free %zu, want %zu", kb_bytes_allocated(ctx),
          before);

    // upload / copy / download / zero / act conversions round-trip exactly
    size_t n = 1003;
    float *h = host_rand(n, 1), *back = host_nan(n);
    float *a = kb_alloc(ctx, n * 4), *b = kb_alloc(ctx, n * 4);
    kb_upload(ctx, a, h, n * 4);
    kb_copy(ctx, b, a, n * 4);
    kb_download(ctx, back, b, n * 4);
    CHECK(memcmp(h, back, n * 4) == 0, "upload/copy/download changed the bytes");
    kb_zero(ctx, b, n * 4);
    kb_download(ctx, back, b, n * 4);
    int zeros = 1;
    for (size_t i = 0; i < n; i++) zeros &= back[i] == 0;
    CHECK(zeros, "kb_zero left non-zero bytes");
    kb_act *x = kb_alloc(ctx, n * kb_act_size(ctx));
    kb_upload_act(ctx, x, h, n);
    kb_download_act(ctx, back, x, n);
    CHECK(memcmp(h, back, n * 4) == 0, "upload_act/download_act changed the values");
    kb_f32_to_act(ctx, x, b, n);
    kb_download_act(ctx, back, x, n);
    CHECK(back[0] == 0 && back[n - 1] == 0, "f32_to_act did not copy");
    CHECK(kb_at(ctx, x, 5) == (kb_act *)((float *)x + 5), "kb_at offset");
    kb_sync(ctx);
    kb_free(ctx, a);
    kb_free(ctx, b);
    kb_free(ctx, x);
    free(h);
    free(back);
}

// ---- matmul ---------------------------------------------------------------------------------------

static void test_matmul_forward(void) {
    // (N, C, OC): single elements, odd sizes, K over the 256 block, tiles with ragged edges
    int sizes[][3] = {{1, 1, 1}, {5, 7, 3}, {37, 67, 129}, {130, 300, 95}, {9, 513, 33}, {200, 64, 257}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int N = sizes[s][0], C = sizes[s][1], OC = sizes[s][2];
        for (int variant = 0; variant < 4; variant++) {
            int use_bias = variant & 1, use_gelu = variant & 2;
            float *hi = host_rand((size_t)N * C, 1), *hw = host_rand((size_t)OC * C, 0.5f), *hb = host_rand(OC, 1);
            kb_act *inp = dev_act(hi, (size_t)N * C), *w = dev_act(hw, (size_t)OC * C), *b = dev_act(hb, OC);
            kb_act *out = dev_act_nan((size_t)N * OC), *pre = use_gelu ? dev_act_nan((size_t)N * OC) : NULL;
            kb_matmul_forward(ctx, out, pre, inp, w, use_bias ? b : NULL, N, C, OC);
            double *di = to_d(hi, (size_t)N * C), *dw = to_d(hw, (size_t)OC * C), *db = to_d(hb, OC);
            double *rpre = dnew((size_t)N * OC), *rout = dnew((size_t)N * OC);
            matmul_ref(rpre, di, dw, use_bias ? db : NULL, N, C, OC);
            for (size_t i = 0; i < (size_t)N * OC; i++) rout[i] = use_gelu ? gelu_d(rpre[i]) : rpre[i];
            char what[96];
            float *got = get_act(out, (size_t)N * OC);
            snprintf(what, sizeof what, "matmul fwd N=%d C=%d OC=%d bias=%d gelu=%d out", N, C, OC, use_bias, !!use_gelu);
            check_tensor(what, got, rout, (size_t)N * OC, 1e-5);
            free(got);
            if (use_gelu) {
                got = get_act(pre, (size_t)N * OC);
                snprintf(what, sizeof what, "matmul fwd N=%d C=%d OC=%d bias=%d pre_gelu", N, C, OC, use_bias);
                check_tensor(what, got, rpre, (size_t)N * OC, 1e-5);
                free(got);
                kb_free(ctx, pre);
            }
            free(hi), free(hw), free(hb), free(di), free(dw), free(db), free(rpre), free(rout);
            kb_free(ctx, inp), kb_free(ctx, w), kb_free(ctx, b), kb_free(ctx, out);
        }
    }
}

static void test_matmul_backward(void) {
    int sizes[][3] = {{1, 1, 1}, {5, 7, 3}, {37, 67, 129}, {300, 45, 70}, {64, 260, 31}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int N = sizes[s][0], C = sizes[s][1], OC = sizes[s][2];
        size_t nc = (size_t)N * C, oc = (size_t)OC * C, no = (size_t)N * OC;
        for (int variant = 0; variant < 3; variant++) {  // 0: plain, 1: through GELU, 2: no dinp, no db
            float *hd = host_rand(no, 1), *hg = host_rand(nc, 1), *hw = host_rand(oc, 0.5f);
            float *hdw0 = host_rand(oc, 1), *hdb0 = host_rand(OC, 1), *hi = xmalloc(nc * 4);
            // inp is what the layer saw: gelu(gelu_in) in the GELU variant
            for (size_t i = 0; i < nc; i++) hi[i] = variant == 1 ? (float)gelu_d(hg[i]) : hg[i];
            kb_act *dout = dev_act(hd, no), *inp = dev_act(hi, nc), *w = dev_act(hw, oc), *gin = dev_act(hg, nc);
            kb_act *dinp = variant == 2 ? NULL : dev_act_nan(nc);
            float *dw = dev_f32(hdw0, oc), *db = dev_f32(hdb0, OC);
            kb_matmul_backward(ctx, dinp, dw, variant == 2 ? NULL : db, dout, inp, w, variant == 1 ? gin : NULL, N, C, OC);

            double *rdinp = dnew(nc), *rdw = dnew(oc), *rdb = dnew(OC);
            for (int n = 0; n < N; n++)
                for (int c = 0; c < C; c++) {
                    double g = 0;
                    for (int o = 0; o < OC; o++) g += (double)hd[(size_t)n * OC + o] * hw[(size_t)o * C + c];
                    rdinp[(size_t)n * C + c] = variant == 1 ? g * gelu_grad_d(hg[(size_t)n * C + c]) : g;
                }
            for (int o = 0; o < OC; o++) {
                double sb = hdb0[o];
                for (int n = 0; n < N; n++) sb += hd[(size_t)n * OC + o];
                rdb[o] = variant == 2 ? hdb0[o] : sb;
                for (int c = 0; c < C; c++) {
                    double sw = hdw0[(size_t)o * C + c];
                    for (int n = 0; n < N; n++) sw += (double)hd[(size_t)n * OC + o] * hi[(size_t)n * C + c];
                    rdw[(size_t)o * C + c] = sw;
                }
            }
            char what[96];
            if (dinp) {
                float *got = get_act(dinp, nc);
                snprintf(what, sizeof what, "matmul bwd N=%d C=%d OC=%d gelu=%d dinp", N, C, OC, variant == 1);
                check_tensor(what, got, rdinp, nc, 1e-5);
                free(got);
                kb_free(ctx, dinp);
            }
            float *got = get_f32(dw, oc);
            snprintf(what, sizeof what, "matmul bwd N=%d C=%d OC=%d variant %d dw (+=)", N, C, OC, variant);
            check_tensor(what, got, rdw, oc, 1e-5);
            free(got);
            got = get_f32(db, OC);
            snprintf(what, sizeof what, "matmul bwd N=%d C=%d OC=%d variant %d db (+=)", N, C, OC, variant);
            check_tensor(what, got, rdb, OC, 1e-5);
            free(got);
            free(hd), free(hg), free(hw), free(hdw0), free(hdb0), free(hi), free(rdinp), free(rdw), free(rdb);
            kb_free(ctx, dout), kb_free(ctx, inp), kb_free(ctx, w), kb_free(ctx, gin), kb_free(ctx, dw), kb_free(ctx, db);
        }
    }
}

// L(g, W, b) = Σ dout · (gelu(g)·Wᵀ + b), in double.
typedef struct {
    int N, C, OC;
    double *g, *w, *b, *dout;
} mm_fd;
static double mm_objective(void *arg) {
    mm_fd *a = arg;
    double L = 0;
    for (int n = 0; n < a->N; n++)
        for (int o = 0; o < a->OC; o++) {
            double s = a->b[o];
            for (int c = 0; c < a->C; c++) s += gelu_d(a->g[(size_t)n * a->C + c]) * a->w[(size_t)o * a->C + c];
            L += a->dout[(size_t)n * a->OC + o] * s;
        }
    return L;
}

static void test_matmul_backward_fd(void) {
    int N = 6, C = 9, OC = 5;
    size_t nc = (size_t)N * C, oc = (size_t)OC * C, no = (size_t)N * OC;
    float *hd = host_rand(no, 1), *hg = host_rand(nc, 1), *hw = host_rand(oc, 0.5f), *hb = host_rand(OC, 1);
    float *hi = xmalloc(nc * 4);
    for (size_t i = 0; i < nc; i++) hi[i] = (float)gelu_d(hg[i]);
    kb_act *dout = dev_act(hd, no), *inp = dev_act(hi, nc), *w = dev_act(hw, oc), *gin = dev_act(hg, nc);
    kb_act *dinp = dev_act_nan(nc);
    float *dw = kb_alloc(ctx, oc * 4), *db = kb_alloc(ctx, OC * 4);
    kb_zero(ctx, dw, oc * 4);
    kb_zero(ctx, db, OC * 4);
    kb_matmul_backward(ctx, dinp, dw, db, dout, inp, w, gin, N, C, OC);
    mm_fd a = {N, C, OC, to_d(hg, nc), to_d(hw, oc), to_d(hb, OC), to_d(hd, no)};
    double *fg = dnew(nc), *fw = dnew(oc), *fb = dnew(OC);
    for (size_t i = 0; i < nc; i++) fg[i] = fd(mm_objective, &a, &a.g[i], 1e-5);
    for (size_t i = 0; i < oc; i++) fw[i] = fd(mm_objective, &a, &a.w[i], 1e-5);
    for (int i = 0; i < OC; i++) fb[i] = fd(mm_objective, &a, &a.b[i], 1e-5);
    float *got = get_act(dinp, nc);
    check_tensor("matmul+gelu bwd vs finite differences: dinp", got, fg, nc, 1e-5);
    free(got);
    got = get_f32(dw, oc);
    check_tensor("matmul+gelu bwd vs finite differences: dw", got, fw, oc, 1e-5);
    free(got);
    got = get_f32(db, OC);
    check_tensor("matmul+gelu bwd vs finite differences: db", got, fb, OC, 1e-5);
    free(got);
    free(hd), free(hg), free(hw), free(hb), free(hi), free(a.g), free(a.w), free(a.b), free(a.dout), free(fg), free(fw),
        free(fb);
    kb_free(ctx, dout), kb_free(ctx, inp), kb_free(ctx, w), kb_free(ctx, gin), kb_free(ctx, dinp), kb_free(ctx, dw),
        kb_free(ctx, db);
}

// ---- attention ------------------------------------------------------------------------------------

// L(qkv) = Σ dout · attention(qkv), in double.
typedef struct {
    int B, T, C, NH;
    double *qkv, *dout, *out;
} att_fd;
static double att_objective(void *arg) {
    att_fd *a = arg;
    size_t n = (size_t)a->B * a->T * a->C;
    attention_ref(a->out, NULL, a->qkv, a->B, a->T, a->C, a->NH);
    double L = 0;
    for (size_t i = 0; i < n; i++) L += a->dout[i] * a->out[i];
    return L;
}

// Analytic backward in double (for sizes where finite differences would be slow).
static void attention_bwd_ref(double *dqkv, const double *dout, const double *qkv, int B, int T, int C, int NH) {
    int hs = C / NH;
    double scale = 1 / sqrt((double)hs), *p = dnew(T), *dp = dnew(T);
    memset(dqkv, 0, (size_t)B * T * 3 * C * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                const double *g = dout + ((size_t)b * T + t) * C + h * hs;
                double m = -INFINITY, l = 0, D = 0;
                for (int j = 0; j <= t; j++) {
                    const double *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    const double *v = k + C;
                    double d = 0, e = 0;
                    for (int i = 0; i < hs; i++) d += q[i] * k[i], e += g[i] * v[i];
                    p[j] = d * scale;
                    dp[j] = e;
                    if (p[j] > m) m = p[j];
                }
                for (int j = 0; j <= t; j++) l += exp(p[j] - m);
                for (int j = 0; j <= t; j++) p[j] = exp(p[j] - m) / l, D += p[j] * dp[j];
                for (int j = 0; j <= t; j++) {
                    double ds = p[j] * (dp[j] - D) * scale;
                    double *dq = dqkv + ((size_t)b * T + t) * 3 * C + h * hs;
                    double *dk = dqkv + ((size_t)b * T + j) * 3 * C + C + h * hs, *dv = dk + C;
                    const double *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    for (int i = 0; i < hs; i++) {
                        dq[i] += ds * k[i];
                        dk[i] += ds * q[i];
                        dv[i] += p[j] * g[i];
                    }
                }
            }
    free(p);
    free(dp);
}

static void test_attention(void) {
    // (B, T, C, NH): one token, odd head sizes, T over a vector width, a GPT-2-like head size
    int sizes[][4] = {{1, 1, 4, 1}, {2, 7, 12, 3}, {2, 19, 6, 2}, {3, 33, 40, 5}, {1, 70, 64, 2}, {2, 50, 128, 2}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int B = sizes[s][0], T = sizes[s][1], C = sizes[s][2], NH = sizes[s][3];
        size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, nl = (size_t)B * NH * T;
        float *hq = host_rand(nq, 1), *hd = host_rand(no, 1);
        kb_act *qkv = dev_act(hq, nq), *out = dev_act_nan(no), *dout = dev_act(hd, no), *dqkv = dev_act_nan(nq);
        float *lse = dev_f32_nan(nl);
        kb_attention_forward(ctx, out, lse, qkv, B, T, C, NH);
        kb_attention_backward(ctx, dqkv, dout, qkv, out, lse, B, T, C, NH);

        double *dq = to_d(hq, nq), *dd = to_d(hd, no), *rout = dnew(no), *rlse = dnew(nl), *rdq = dnew(nq);
        attention_ref(rout, rlse, dq, B, T, C, NH);
        char what[96];
        float *got = get_act(out, no);
        snprintf(what, sizeof what, "attention fwd B=%d T=%d C=%d NH=%d out", B, T, C, NH);
        check_tensor(what, got, rout, no, 1e-5);
        free(got);
        got = get_f32(lse, nl);
        snprintf(what, sizeof what, "attention fwd B=%d T=%d C=%d NH=%d lse", B, T, C, NH);
        check_tensor(what, got, rlse, nl, 1e-6);
        free(got);

        got = get_act(dqkv, nq);
        if (nq <= 1000) {  // finite differences of the double forward
            att_fd a = {B, T, C, NH, dq, dd, dnew(no)};
            for (size_t i = 0; i < nq; i++) rdq[i] = fd(att_objective, &a, &dq[i], 1e-5);
            free(a.out);
            snprintf(what, sizeof what, "attention bwd B=%d T=%d C=%d NH=%d dqkv vs finite differences", B, T, C, NH);
        } else {
            attention_bwd_ref(rdq, dd, dq, B, T, C, NH);
            snprintf(what, sizeof what, "attention bwd B=%d T=%d C=%d NH=%d dqkv", B, T, C, NH);
        }
        check_tensor(what, got, rdq, nq, 2e-5);
        free(got);
        free(hq), free(hd), free(dq), free(dd), free(rout), free(rlse), free(rdq);
        kb_free(ctx, qkv), kb_free(ctx, out), kb_free(ctx, dout), kb_free(ctx, dqkv), kb_free(ctx, lse);
    }
}

// ---- layernorm ------------------------------------------------------------------------------------

typedef struct {
    int N, C;
    double *x, *w, *b, *dout, *out;
} ln_fd;
static double ln_objective(void *arg) {
    ln_fd *a = arg;
    layernorm_ref(a->out, NULL, NULL, a->x, a->w, a->b, a->N, a->C);
    double L = 0;
    for (size_t i = 0; i < (size_t)a->N * a->C; i++) L += a->dout[i] * a->out[i];
    return L;
}

static void test_layernorm(void) {
    int sizes[][2] = {{1, 1}, {3, 5}, {4, 33}, {17, 67}, {64, 768}, {9, 1000}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int N = sizes[s][0], C = sizes[s][1];
        size_t nc = (size_t)N * C;
        float *hx = host_rand(nc, 2), *hy = host_rand(nc, 1), *hw = host_rand(C, 1), *hb = host_rand(C, 1);
        float *hd = host_rand(nc, 1), *hdi0 = host_rand(nc, 1), *hdw0 = host_rand(C, 1), *hdb0 = host_rand(C, 1);
        for (size_t i = 0; i < nc; i++) hx[i] += 0.5f;  // a non-zero mean
        kb_act *x = dev_act(hx, nc), *w = dev_act(hw, C), *b = dev_act(hb, C), *out = dev_act_nan(nc);
        float *mean = dev_f32_nan(N), *rstd = dev_f32_nan(N);
        kb_layernorm_forward(ctx, out, mean, rstd, x, w, b, N, C);

        double *dx = to_d(hx, nc), *dw = to_d(hw, C), *db = to_d(hb, C), *rout = dnew(nc), *rm = dnew(N), *rs = dnew(N);
        layernorm_ref(rout, rm, rs, dx, dw, db, N, C);
        char what[96];
        float *got = get_act(out, nc);
        snprintf(what, sizeof what, "layernorm fwd N=%d C=%d out", N, C);
        check_tensor(what, got, rout, nc, 1e-5);
        free(got);
        got = get_f32(mean, N);
        snprintf(what, sizeof what, "layernorm fwd N=%d C=%d mean", N, C);
        check_tensor(what, got, rm, N, 1e-6);
        free(got);
        got = get_f32(rstd, N);
        snprintf(what, sizeof what, "layernorm fwd N=%d C=%d rstd", N, C);
        check_tensor(what, got, rs, N, 1e-5);
        free(got);

        // mean/rstd may be NULL: same output bits
        kb_act *out2 = dev_act_nan(nc);
        kb_layernorm_forward(ctx, out2, NULL, NULL, x, w, b, N, C);
        float *g1 = get_act(out, nc), *g2 = get_act(out2, nc);
        CHECK(memcmp(g1, g2, nc * 4) == 0, "layernorm N=%d C=%d: output differs when mean/rstd are NULL", N, C);
        free(g1), free(g2);

        // residual + layernorm, in place (resid_out == a)
        kb_act *ra = dev_act(hx, nc), *rb = dev_act(hy, nc), *out3 = dev_act_nan(nc);
        float *mean3 = dev_f32_nan(N), *rstd3 = dev_f32_nan(N);
        kb_residual_layernorm_forward(ctx, ra, out3, mean3, rstd3, ra, rb, w, b, N, C);
        double *rsum = dnew(nc), *rout3 = dnew(nc), *rm3 = dnew(N), *rs3 = dnew(N);
        for (size_t i = 0; i < nc; i++) rsum[i] = (double)hx[i] + hy[i];
        layernorm_ref(rout3, rm3, rs3, rsum, dw, db, N, C);
        got = get_act(ra, nc);
        snprintf(what, sizeof what, "residual+layernorm N=%d C=%d resid (in place)", N, C);
        check_tensor(what, got, rsum, nc, 1e-7);
        free(got);
        got = get_act(out3, nc);
        snprintf(what, sizeof what, "residual+layernorm N=%d C=%d out", N, C);
        check_tensor(what, got, rout3, nc, 1e-5);
        free(got);
        got = get_f32(rstd3, N);
        snprintf(what, sizeof what, "residual+layernorm N=%d C=%d rstd", N, C);
        check_tensor(what, got, rs3, N, 1e-5);
        free(got);

        // backward: dinp, dw, db all +=
        kb_act *dout = dev_act(hd, nc), *dinp = dev_act(hdi0, nc);
        float *gw = dev_f32(hdw0, C), *gb = dev_f32(hdb0, C);
        kb_layernorm_backward(ctx, dinp, gw, gb, dout, x, w, mean, rstd, N, C);
        double *rdi = dnew(nc), *rdw = dnew(C), *rdb = dnew(C);
        if (nc <= 1200) {  // finite differences of the double forward
            ln_fd a = {N, C, dx, dw, db, to_d(hd, nc), dnew(nc)};
            for (size_t i = 0; i < nc; i++) rdi[i] = hdi0[i] + fd(ln_objective, &a, &dx[i], 1e-6);
            for (int c = 0; c < C; c++) rdw[c] = hdw0[c] + fd(ln_objective, &a, &dw[c], 1e-6);
            for (int c = 0; c < C; c++) rdb[c] = hdb0[c] + fd(ln_objective, &a, &db[c], 1e-6);
            free(a.dout), free(a.out);
        } else {  // the analytic gradient in double
            for (int n = 0; n < N; n++) {
                double sg = 0, sgn = 0;
                for (int c = 0; c < C; c++) {
                    double nrm = (dx[(size_t)n * C + c] - rm[n]) * rs[n], g = (double)hd[(size_t)n * C + c] * hw[c];
                    sg += g, sgn += g * nrm;
                }
                for (int c = 0; c < C; c++) {
                    double nrm = (dx[(size_t)n * C + c] - rm[n]) * rs[n], g = (double)hd[(size_t)n * C + c] * hw[c];
                    rdi[(size_t)n * C + c] = hdi0[(size_t)n * C + c] + rs[n] * (g - sg / C - nrm * sgn / C);
                }
            }
            for (int c = 0; c < C; c++) {
                rdw[c] = hdw0[c], rdb[c] = hdb0[c];
                for (int n = 0; n < N; n++) {
                    rdw[c] += hd[(size_t)n * C + c] * (dx[(size_t)n * C + c] - rm[n]) * rs[n];
                    rdb[c] += hd[(size_t)n * C + c];
                }
            }
        }
        const char *how = nc <= 1200 ? " vs finite differences" : "";
        got = get_act(dinp, nc);
        snprintf(what, sizeof what, "layernorm bwd N=%d C=%d dinp (+=)%s", N, C, how);
        check_tensor(what, got, rdi, nc, 2e-5);
        free(got);
        got = get_f32(gw, C);
        snprintf(what, sizeof what, "layernorm bwd N=%d C=%d dw (+=)%s", N, C, how);
        check_tensor(what, got, rdw, C, 2e-5);
        free(got);
        got = get_f32(gb, C);
        snprintf(what, sizeof what, "layernorm bwd N=%d C=%d db (+=)%s", N, C, how);
        check_tensor(what, got, rdb, C, 2e-5);
        free(got);

        free(hx), free(hy), free(hw), free(hb), free(hd), free(hdi0), free(hdw0), free(hdb0);
        free(dx), free(dw), free(db), free(rout), free(rm), free(rs), free(rsum), free(rout3), free(rm3), free(rs3);
        free(rdi), free(rdw), free(rdb);
        kb_free(ctx, x), kb_free(ctx, w), kb_free(ctx, b), kb_free(ctx, out), kb_free(ctx, mean), kb_free(ctx, rstd);
        kb_free(ctx, out2), kb_free(ctx, ra), kb_free(ctx, rb), kb_free(ctx, out3), kb_free(ctx, mean3),
            kb_free(ctx, rstd3);
        kb_free(ctx, dout), kb_free(ctx, dinp), kb_free(ctx, gw), kb_free(ctx, gb);
    }
}

// ---- classifier -----------------------------------------------------------------------------------

typedef struct {
    int N, V;
    double *logits, *scale, inv_temp;
    const int32_t *targets;
} cls_fd;
static double cls_objective(void *arg) {
    cls_fd *a = arg;
    double L = 0;
    for (int i = 0; i < a->N; i++) {
        if (a->targets[i] < 0) continue;
        double nll;
        softmax_row_ref(a->logits + (size_t)i * a->V, a->V, a->inv_temp, a->targets[i], &nll, NULL, NULL);
        L += a->scale[i] * nll;
    }
    return L;
}

static void test_classifier(void) {
    // (N, V, Vp)
    int sizes[][3] = {{1, 1, 1}, {5, 7, 16}, {9, 100, 128}, {33, 1000, 1024}, {4, 5003, 5120}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int N = sizes[s][0], V = sizes[s][1], Vp = sizes[s][2];
        size_t nv = (size_t)N * Vp;
        for (int variant = 0; variant < 4; variant++) {
            int want_grad = variant & 1, with_scale = variant & 2;
            float inv_temp = with_scale ? 0.7f : 1.0f, dscale = with_scale ? 0.37f : 1.0f;
            float *hl = host_rand(nv, 3), *hs = host_rand(N, 1);
            int32_t *ht = xmalloc(N * 4);
            for (int i = 0; i < N; i++) {
                ht[i] = (int32_t)(rng_next(&rng) % V);
                if (N > 1 && i % 4 == 1) ht[i] = -1;  // ignored rows
                for (int j = V; j < Vp; j++) hl[(size_t)i * Vp + j] = NAN;  // padding is never read
            }
            kb_act *logits = dev_act(hl, nv);
            float *nll = dev_f32_nan(N), *ent = dev_f32_nan(N), *rs = dev_f32(hs, N);
            int32_t *tg = dev_copy(ht, N * 4);
            kb_classifier(ctx, logits, nll, ent, tg, with_scale ? rs : NULL, dscale, inv_temp, N, V, Vp, want_grad);

            double *rnll = dnew(N), *rent = dnew(N), *rgrad = dnew(nv), *p = dnew(V), *dl = dnew((size_t)N * V);
            double *scale = dnew(N);
            for (int i = 0; i < N; i++) {
                for (int j = 0; j < V; j++) dl[(size_t)i * V + j] = hl[(size_t)i * Vp + j];
                scale[i] = (double)dscale * (with_scale ? hs[i] : 1.0);
                if (ht[i] < 0) continue;
                softmax_row_ref(dl + (size_t)i * V, V, inv_temp, ht[i], &rnll[i], &rent[i], p);
                for (int j = 0; j < V; j++)
                    rgrad[(size_t)i * Vp + j] = scale[i] * inv_temp * (p[j] - (j == ht[i]));
            }
            char what[128];
            float *got = get_f32(nll, N);
            snprintf(what, sizeof what, "classifier N=%d V=%d Vp=%d grad=%d scaled=%d nll", N, V, Vp, want_grad,
                     with_scale);
            check_tensor(what, got, rnll, N, 1e-5);
            free(got);
            got = get_f32(ent, N);
            snprintf(what, sizeof what, "classifier N=%d V=%d Vp=%d grad=%d scaled=%d entropy", N, V, Vp, want_grad,
                     with_scale);
            check_tensor(what, got, rent, N, 1e-5);
            free(got);
            got = get_act(logits, nv);
            if (want_grad) {
                snprintf(what, sizeof what, "classifier N=%d V=%d Vp=%d scaled=%d gradient (padding and ignored rows 0)",
                         N, V, Vp, with_scale);
                check_tensor(what, got, rgrad, nv, 2e-5);
                if (V <= 100) {  // and against finite differences of Σ scale·nll
                    cls_fd a = {N, V, dl, scale, inv_temp, ht};
                    double *fdg = dnew((size_t)N * V);
                    float *g = xmalloc((size_t)N * V * 4);
                    for (int i = 0; i < N; i++)
                        for (int j = 0; j < V; j++) {
                            fdg[(size_t)i * V + j] = fd(cls_objective, &a, &dl[(size_t)i * V + j], 1e-6);
                            g[(size_t)i * V + j] = got[(size_t)i * Vp + j];
                        }
                    snprintf(what, sizeof what, "classifier N=%d V=%d scaled=%d gradient vs finite differences", N, V,
                             with_scale);
                    check_tensor(what, g, fdg, (size_t)N * V, 2e-5);
                    free(fdg), free(g);
                }
            } else {
                CHECK(memcmp(got, hl, nv * 4) == 0, "classifier N=%d V=%d Vp=%d without grad changed the logits", N,
                      V, Vp);
            }
            free(got);
            free(hl), free(hs), free(ht), free(rnll), free(rent), free(rgrad), free(p), free(dl), free(scale);
            kb_free(ctx, logits), kb_free(ctx, nll), kb_free(ctx, ent), kb_free(ctx, rs), kb_free(ctx, tg);
        }
    }
    // entropy may be NULL; nll must not change
    int N = 3, V = 50;
    float *hl = host_rand((size_t)N * V, 2);
    int32_t ht[3] = {4, 0, 49};
    kb_act *a = dev_act(hl, (size_t)N * V), *b = dev_act(hl, (size_t)N * V);
    float *n1 = dev_f32_nan(N), *n2 = dev_f32_nan(N), *ent = dev_f32_nan(N);
    int32_t *tg = dev_copy(ht, sizeof ht);
    kb_classifier(ctx, a, n1, ent, tg, NULL, 1, 1, N, V, V, 1);
    kb_classifier(ctx, b, n2, NULL, tg, NULL, 1, 1, N, V, V, 1);
    float *g1 = get_f32(n1, N), *g2 = get_f32(n2, N), *l1 = get_act(a, (size_t)N * V), *l2 = get_act(b, (size_t)N * V);
    CHECK(memcmp(g1, g2, N * 4) == 0 && memcmp(l1, l2, (size_t)N * V * 4) == 0,
          "classifier results change when entropy is NULL");
    free(hl), free(g1), free(g2), free(l1), free(l2);
    kb_free(ctx, a), kb_free(ctx, b), kb_free(ctx, n1), kb_free(ctx, n2), kb_free(ctx, ent), kb_free(ctx, tg);
}

// ---- encoder, residual, gather, reductions, scaling ---------------------------------------------------

static void test_encoder(void) {
    int sizes[][4] = {{1, 1, 1, 1}, {10, 5, 7, 3}, {96, 32, 67, 9}, {300, 64, 200, 50}};  // N, T, C, V
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int N = sizes[s][0], T = sizes[s][1], C = sizes[s][2], V = sizes[s][3], maxT = T + 3;
        size_t nc = (size_t)N * C;
        float *hte = host_rand((size_t)V * C, 1), *hpe = host_rand((size_t)maxT * C, 1), *hd = host_rand(nc, 1);
        float *hdte0 = host_rand((size_t)V * C, 1), *hdpe0 = host_rand((size_t)T * C, 1);
        int32_t *tok = xmalloc(N * 4), *pos = xmalloc(N * 4);
        for (int i = 0; i < N; i++) {
            tok[i] = (int32_t)(rng_next(&rng) % V);  // V < N: tokens repeat
            pos[i] = (int32_t)(rng_next(&rng) % maxT);
        }
        kb_act *wte = dev_act(hte, (size_t)V * C), *wpe = dev_act(hpe, (size_t)maxT * C), *out = dev_act_nan(nc);
        int32_t *dtok = dev_copy(tok, N * 4), *dpos = dev_copy(pos, N * 4);
        char what[96];
        for (int with_pos = 0; with_pos < 2; with_pos++) {
            kb_encoder_forward(ctx, out, dtok, with_pos ? dpos : NULL, wte, wpe, N, T, C);
            double *ref = dnew(nc);
            for (int i = 0; i < N; i++) {
                int p = with_pos ? pos[i] : i % T;
                for (int c = 0; c < C; c++)
                    ref[(size_t)i * C + c] = (double)hte[(size_t)tok[i] * C + c] + hpe[(size_t)p * C + c];
            }
            float *got = get_act(out, nc);
            snprintf(what, sizeof what, "encoder fwd N=%d T=%d C=%d positions=%d", N, T, C, with_pos);
            check_tensor(what, got, ref, nc, 1e-7);
            free(got), free(ref);
            kb_free(ctx, out);
            out = dev_act_nan(nc);
        }
        kb_act *dout = dev_act(hd, nc);
        float *dte = dev_f32(hdte0, (size_t)V * C), *dpe = dev_f32(hdpe0, (size_t)T * C);
        kb_encoder_backward(ctx, dte, dpe, dout, dtok, N, T, C, V);
        double *rte = to_d(hdte0, (size_t)V * C), *rpe = to_d(hdpe0, (size_t)T * C);
        for (int i = 0; i < N; i++)
            for (int c = 0; c < C; c++) {
                rte[(size_t)tok[i] * C + c] += hd[(size_t)i * C + c];
                rpe[(size_t)(i % T) * C + c] += hd[(size_t)i * C + c];
            }
        float *got = get_f32(dte, (size_t)V * C);
        snprintf(what, sizeof what, "encoder bwd N=%d T=%d C=%d V=%d dwte (+=, repeated tokens)", N, T, C, V);
        check_tensor(what, got, rte, (size_t)V * C, 1e-5);
        free(got);
        got = get_f32(dpe, (size_t)T * C);
        snprintf(what, sizeof what, "encoder bwd N=%d T=%d C=%d dwpe (+=)", N, T, C);
        check_tensor(what, got, rpe, (size_t)T * C, 1e-5);
        free(got);
        free(hte), free(hpe), free(hd), free(hdte0), free(hdpe0), free(tok), free(pos), free(rte), free(rpe);
        kb_free(ctx, wte), kb_free(ctx, wpe), kb_free(ctx, out), kb_free(ctx, dtok), kb_free(ctx, dpos);
        kb_free(ctx, dout), kb_free(ctx, dte), kb_free(ctx, dpe);
    }
}

static void test_elementwise(void) {
    size_t sizes[] = {1, 17, 100003};
    for (int s = 0; s < 3; s++) {
        size_t n = sizes[s];
        float *ha = host_rand(n, 1), *hb = host_rand(n, 1);
        kb_act *a = dev_act(ha, n), *b = dev_act(hb, n), *out = dev_act_nan(n);
        kb_residual_forward(ctx, out, a, b, n);
        double *ref = dnew(n);
        for (size_t i = 0; i < n; i++) ref[i] = (double)ha[i] + hb[i];
        float *got = get_act(out, n);
        char what[64];
        snprintf(what, sizeof what, "residual n=%zu", n);
        check_tensor(what, got, ref, n, 1e-7);
        free(got);
        kb_residual_forward(ctx, a, a, b, n);  // in place
        got = get_act(a, n);
        snprintf(what, sizeof what, "residual in place n=%zu", n);
        check_tensor(what, got, ref, n, 1e-7);
        free(got);

        float *x = dev_f32(ha, n);
        kb_scale_f32(ctx, x, -0.37f, n);
        for (size_t i = 0; i < n; i++) ref[i] = (double)ha[i] * -0.37f;
        got = get_f32(x, n);
        snprintf(what, sizeof what, "scale_f32 n=%zu", n);
        check_tensor(what, got, ref, n, 1e-7);
        free(got);

        // sum and norm²: overwrite, then accumulate onto a non-zero start
        float *r = dev_f32_nan(1);
        double want = 0, want2 = 0;
        for (size_t i = 0; i < n; i++) want += ha[i], want2 += (double)ha[i] * ha[i];
        float *dx = dev_f32(ha, n), gotv;
        kb_sum(ctx, r, dx, n, 0);
        kb_download(ctx, &gotv, r, 4);
        snprintf(what, sizeof what, "sum n=%zu", n);
        check_tensor(what, &gotv, &want, 1, 1e-6);
        float start = 2.5f;
        kb_upload(ctx, r, &start, 4);
        kb_sum(ctx, r, dx, n, 1);
        kb_download(ctx, &gotv, r, 4);
        double w = want + 2.5;
        snprintf(what, sizeof what, "sum n=%zu accumulate", n);
        check_tensor(what, &gotv, &w, 1, 1e-6);
        kb_norm_squared(ctx, r, dx, n, 0);
        kb_download(ctx, &gotv, r, 4);
        snprintf(what, sizeof what, "norm_squared n=%zu", n);
        check_tensor(what, &gotv, &want2, 1, 1e-6);
        kb_upload(ctx, r, &start, 4);
        kb_norm_squared(ctx, r, dx, n, 1);
        kb_download(ctx, &gotv, r, 4);
        w = want2 + 2.5;
        snprintf(what, sizeof what, "norm_squared n=%zu accumulate", n);
        check_tensor(what, &gotv, &w, 1, 1e-6);

        free(ha), free(hb), free(ref);
        kb_free(ctx, a), kb_free(ctx, b), kb_free(ctx, out), kb_free(ctx, x), kb_free(ctx, r), kb_free(ctx, dx);
    }

    // gather rows
    int N = 7, C = 13, R = 20;
    float *hin = host_rand((size_t)R * C, 1);
    int32_t rows[7] = {19, 0, 3, 3, 11, 18, 7};
    kb_act *in = dev_act(hin, (size_t)R * C), *out = dev_act_nan((size_t)N * C);
    int32_t *drows = dev_copy(rows, sizeof rows);
    kb_gather_rows(ctx, out, in, drows, N, C);
    float *got = get_act(out, (size_t)N * C);
    int same = 1;
    for (int i = 0; i < N; i++) same &= memcmp(got + (size_t)i * C, hin + (size_t)rows[i] * C, C * 4) == 0;
    CHECK(same, "gather_rows copied the wrong rows");
    free(hin), free(got);
    kb_free(ctx, in), kb_free(ctx, out), kb_free(ctx, drows);
}

// ---- AdamW ------------------------------------------------------------------------------------------

static void test_adamw(void) {
    size_t sizes[] = {1, 37, 10007};
    for (int s = 0; s < 3; s++) {
        size_t n = sizes[s];
        for (int variant = 0; variant < 4; variant++) {  // clip none / inactive / active; act copy: none / same / separate
            float lr = 3e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = variant == 3 ? 0.0f : 0.1f, clip = 1.0f;
            float *hp = host_rand(n, 1), *hg = host_rand(n, 0.5f), *hm = host_rand(n, 0.1f), *hv = host_rand(n, 0.1f);
            for (size_t i = 0; i < n; i++) hv[i] = fabsf(hv[i]);
            double gn2 = 0;
            for (size_t i = 0; i < n; i++) gn2 += (double)hg[i] * hg[i];
            // variant 1: the norm is below the clip; variant 2: above it
            float norm_sq = variant == 1 ? (float)(clip * clip * 0.25) : variant == 2 ? (float)(gn2 + 4.0) : 0;
            float *p = dev_f32(hp, n), *g = dev_f32(hg, n), *m = dev_f32(hm, n), *v = dev_f32(hv, n);
            float *ns = dev_f32(&norm_sq, 1);
            kb_act *pact = variant == 2 ? dev_act_nan(n) : NULL;
            double *rp = to_d(hp, n), *rm = to_d(hm, n), *rv = to_d(hv, n);
            for (int t = 1; t <= 3; t++) {
                kb_adamw(ctx, p, variant == 1 ? (kb_act *)p : pact, g, m, v, n, lr, b1, b2, eps, wd, t,
                         variant == 1 || variant == 2 ? ns : NULL, clip);
                double gs = 1;
                if (variant == 1 || variant == 2) gs = fmin(1.0, clip / sqrt((double)norm_sq));
                for (size_t i = 0; i < n; i++) {
                    double gi = hg[i] * gs;
                    rm[i] = b1 * rm[i] + (1 - (double)b1) * gi;
                    rv[i] = b2 * rv[i] + (1 - (double)b2) * gi * gi;
                    double mh = rm[i] / (1 - pow(b1, t)), vh = rv[i] / (1 - pow(b2, t));
                    rp[i] -= lr * (mh / (sqrt(vh) + eps) + wd * rp[i]);
                }
            }
            char what[96];
            float *got = get_f32(p, n);
            snprintf(what, sizeof what, "adamw n=%zu variant %d params after 3 steps", n, variant);
            check_tensor(what, got, rp, n, 1e-5);
            if (pact) {
                float *ga = get_act(pact, n);
                CHECK(memcmp(ga, got, n * 4) == 0, "adamw n=%zu: params_act is not a copy of params", n);
                free(ga);
            }
            free(got);
            got = get_f32(m, n);
            snprintf(what, sizeof what, "adamw n=%zu variant %d m", n, variant);
            check_tensor(what, got, rm, n, 1e-5);
            free(got);
            got = get_f32(v, n);
            snprintf(what, sizeof what, "adamw n=%zu variant %d v", n, variant);
            check_tensor(what, got, rv, n, 1e-5);
            free(got);
            free(hp), free(hg), free(hm), free(hv), free(rp), free(rm), free(rv);
            kb_free(ctx, p), kb_free(ctx, g), kb_free(ctx, m), kb_free(ctx, v), kb_free(ctx, ns);
            if (pact) kb_free(ctx, pact);
        }
    }
}

// ---- counters -------------------------------------------------------------------------------------

static void test_counters(void) {
    int N = 13, C = 21, OC = 34;
    float *hi = host_rand((size_t)N * C, 1), *hw = host_rand((size_t)OC * C, 1), *hd = host_rand((size_t)N * OC, 1);
    kb_act *inp = dev_act(hi, (size_t)N * C), *w = dev_act(hw, (size_t)OC * C), *out = dev_act_nan((size_t)N * OC);
    kb_act *dout = dev_act(hd, (size_t)N * OC), *dinp = dev_act_nan((size_t)N * C);
    float *dw = kb_alloc(ctx, (size_t)OC * C * 4), *db = kb_alloc(ctx, OC * 4);
    kb_zero(ctx, dw, (size_t)OC * C * 4);
    kb_zero(ctx, db, OC * 4);
    kb_set_stage(ctx, "count");
    kb_matmul_forward(ctx, out, NULL, inp, w, NULL, N, C, OC);
    kb_matmul_backward(ctx, dinp, dw, db, dout, inp, w, NULL, N, C, OC);
    const kb_counts *c = kb_counts_of(ctx, "count");
    double mm = 2.0 * N * C * OC;
    CHECK(c && c->flops[KB_FWD][KB_MATMUL] == mm, "fwd matmul flops %g, want 2·N·C·OC = %g",
          c ? c->flops[KB_FWD][KB_MATMUL] : -1, mm);
    CHECK(c && c->calls[KB_FWD][KB_MATMUL] == 1 && c->calls[KB_BWD][KB_MATMUL] == 1, "matmul calls not counted once each");
    CHECK(c && c->flops[KB_BWD][KB_MATMUL] == 2 * mm + (double)N * OC, "bwd matmul flops %g, want %g",
          c ? c->flops[KB_BWD][KB_MATMUL] : -1, 2 * mm + (double)N * OC);
    CHECK(c && c->bytes[KB_FWD][KB_MATMUL] > 0 && c->flops[KB_FWD][KB_ATTENTION] == 0, "bytes/other cells");
    const kb_counts *d = kb_counts_of(ctx, "default");
    double before = d ? d->flops[KB_FWD][KB_MATMUL] : 0;
    kb_set_stage(ctx, "default");
    kb_matmul_forward(ctx, out, NULL, inp, w, NULL, N, C, OC);
    d = kb_counts_of(ctx, "default");
    CHECK(d && d->flops[KB_FWD][KB_MATMUL] == before + mm && c->flops[KB_FWD][KB_MATMUL] == mm,
          "ops charged to the wrong stage");
    free(hi), free(hw), free(hd);
    kb_free(ctx, inp), kb_free(ctx, w), kb_free(ctx, out), kb_free(ctx, dout), kb_free(ctx, dinp), kb_free(ctx, dw),
        kb_free(ctx, db);
}

// ---- determinism ------------------------------------------------------------------------------------

// Outputs of run_all_ops, concatenated.
static bbuf kept;
static void keep_act(const kb_act *p, size_t n) {
    float *h = get_act(p, n);
    bbuf_put(&kept, h, n * 4);
    free(h);
}
static void keep_f32(const float *p, size_t n) {
    float *h = get_f32(p, n);
    bbuf_put(&kept, h, n * 4);
    free(h);
}

// Runs every op at sizes that split across threads; returns the concatenated outputs.
static float *run_all_ops(size_t *len) {
    uint64_t keep = rng;
    rng = 777;  // same inputs on every run
    kept = (bbuf){0};
    {  // matmul forward (GELU) and backward
        int N = 300, C = 300, OC = 150;
        float *hi = host_rand((size_t)N * C, 1), *hw = host_rand((size_t)OC * C, 1), *hb = host_rand(OC, 1);
        float *hd = host_rand((size_t)N * OC, 1);
        kb_act *inp = dev_act(hi, (size_t)N * C), *w = dev_act(hw, (size_t)OC * C), *b = dev_act(hb, OC);
        kb_act *out = dev_act_nan((size_t)N * OC), *pre = dev_act_nan((size_t)N * OC), *dout = dev_act(hd, (size_t)N * OC);
        kb_act *dinp = dev_act_nan((size_t)N * C);
        float *dw = dev_f32(hw, (size_t)OC * C), *db = dev_f32(hb, OC);
        kb_matmul_forward(ctx, out, pre, inp, w, b, N, C, OC);
        kb_matmul_backward(ctx, dinp, dw, db, dout, inp, w, inp, N, C, OC);
        keep_act(out, (size_t)N * OC), keep_act(pre, (size_t)N * OC), keep_act(dinp, (size_t)N * C);
        keep_f32(dw, (size_t)OC * C), keep_f32(db, OC);
        free(hi), free(hw), free(hb), free(hd);
        kb_free(ctx, inp), kb_free(ctx, w), kb_free(ctx, b), kb_free(ctx, out), kb_free(ctx, pre), kb_free(ctx, dout);
        kb_free(ctx, dinp), kb_free(ctx, dw), kb_free(ctx, db);
    }
    {  // attention
        int B = 2, T = 64, C = 64, NH = 4;
        size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, nl = (size_t)B * NH * T;
        float *hq = host_rand(nq, 1), *hd = host_rand(no, 1);
        kb_act *qkv = dev_act(hq, nq), *out = dev_act_nan(no), *dout = dev_act(hd, no), *dqkv = dev_act_nan(nq);
        float *lse = dev_f32_nan(nl);
        kb_attention_forward(ctx, out, lse, qkv, B, T, C, NH);
        kb_attention_backward(ctx, dqkv, dout, qkv, out, lse, B, T, C, NH);
        keep_act(out, no), keep_f32(lse, nl), keep_act(dqkv, nq);
        free(hq), free(hd);
        kb_free(ctx, qkv), kb_free(ctx, out), kb_free(ctx, dout), kb_free(ctx, dqkv), kb_free(ctx, lse);
    }
    {  // layernorm forward/backward, residual
        int N = 500, C = 100;
        size_t nc = (size_t)N * C;
        float *hx = host_rand(nc, 1), *hw = host_rand(C, 1), *hd = host_rand(nc, 1);
        kb_act *x = dev_act(hx, nc), *w = dev_act(hw, C), *out = dev_act_nan(nc), *dout = dev_act(hd, nc);
        kb_act *r = dev_act_nan(nc), *dinp = dev_act(hd, nc);
        float *mean = dev_f32_nan(N), *rstd = dev_f32_nan(N), *dw = dev_f32(hw, C), *db = dev_f32(hw, C);
        kb_residual_layernorm_forward(ctx, r, out, mean, rstd, x, dout, w, w, N, C);
        kb_layernorm_backward(ctx, dinp, dw, db, dout, r, w, mean, rstd, N, C);
        keep_act(r, nc), keep_act(out, nc), keep_f32(mean, N), keep_f32(rstd, N), keep_act(dinp, nc);
        keep_f32(dw, C), keep_f32(db, C);
        kb_residual_forward(ctx, out, x, dout, nc);
        keep_act(out, nc);
        free(hx), free(hw), free(hd);
        kb_free(ctx, x), kb_free(ctx, w), kb_free(ctx, out), kb_free(ctx, dout), kb_free(ctx, r), kb_free(ctx, dinp);
        kb_free(ctx, mean), kb_free(ctx, rstd), kb_free(ctx, dw), kb_free(ctx, db);
    }
    {  // classifier
        int N = 64, V = 1000, Vp = 1024;
        float *hl = host_rand((size_t)N * Vp, 3);
        int32_t *ht = xmalloc(N * 4);
        for (int i = 0; i < N; i++) ht[i] = i % 5 == 0 ? -1 : (int32_t)(rng_next(&rng) % V);
        kb_act *logits = dev_act(hl, (size_t)N * Vp);
        float *nll = dev_f32_nan(N), *ent = dev_f32_nan(N);
        int32_t *tg = dev_copy(ht, N * 4);
        kb_classifier(ctx, logits, nll, ent, tg, NULL, 0.5f, 1.1f, N, V, Vp, 1);
        keep_act(logits, (size_t)N * Vp), keep_f32(nll, N), keep_f32(ent, N);
        free(hl), free(ht);
        kb_free(ctx, logits), kb_free(ctx, nll), kb_free(ctx, ent), kb_free(ctx, tg);
    }
    {  // encoder backward, norm, adamw
        int N = 400, T = 50, C = 200, V = 40;
        size_t nc = (size_t)N * C;
        float *hd = host_rand(nc, 1), *hte = host_rand((size_t)V * C, 1);
        int32_t *tok = xmalloc(N * 4);
        for (int i = 0; i < N; i++) tok[i] = (int32_t)(rng_next(&rng) % V);
        kb_act *dout = dev_act(hd, nc);
        float *dte = dev_f32(hte, (size_t)V * C), *dpe = dev_f32(hd, (size_t)T * C);
        int32_t *dtok = dev_copy(tok, N * 4);
        kb_encoder_backward(ctx, dte, dpe, dout, dtok, N, T, C, V);
        keep_f32(dte, (size_t)V * C), keep_f32(dpe, (size_t)T * C);
        size_t n = 200003;
        float *hp = host_rand(n, 1), *hg = host_rand(n, 1);
        float *p = dev_f32(hp, n), *g = dev_f32(hg, n), *m = dev_f32(hg, n), *v = dev_f32(hp, n), *ns = dev_f32_nan(1);
        kb_norm_squared(ctx, ns, g, n, 0);
        keep_f32(ns, 1);
        kb_sum(ctx, ns, g, n, 1);
        keep_f32(ns, 1);
        kb_scale_f32(ctx, v, 0.0f, n);
        kb_adamw(ctx, p, NULL, g, m, v, n, 1e-3f, 0.9f, 0.99f, 1e-8f, 0.1f, 2, ns, 0.5f);
        keep_f32(p, n), keep_f32(m, n), keep_f32(v, n);
        free(hd), free(hte), free(tok), free(hp), free(hg);
        kb_free(ctx, dout), kb_free(ctx, dte), kb_free(ctx, dpe), kb_free(ctx, dtok);
        kb_free(ctx, p), kb_free(ctx, g), kb_free(ctx, m), kb_free(ctx, v), kb_free(ctx, ns);
    }
    rng = keep;
    *len = kept.n / 4;
    return (float *)kept.p;
}

// Ops run with subnormals flushed (see kernels/cpu/cpu.h) but leave the caller's
// floating-point mode as it was.
static void test_subnormal_mode(void) {
    int N = 3, C = 40, OC = 33;
    float *hi = host_rand((size_t)N * C, 1e-20f), *hw = host_rand((size_t)OC * C, 1e-20f);
    kb_act *inp = dev_act(hi, (size_t)N * C), *w = dev_act(hw, (size_t)OC * C), *out = dev_act_nan((size_t)N * OC);
#if defined(__SSE__)
    unsigned int before = _mm_getcsr();
#endif
    kb_matmul_forward(ctx, out, NULL, inp, w, NULL, N, C, OC);  // products ~1e-40: subnormal
#if defined(__SSE__)
    CHECK(_mm_getcsr() == before, "an op changed the caller's MXCSR from %#x to %#x", before, _mm_getcsr());
#endif
    float *got = get_act(out, (size_t)N * OC);
    int zeros = 1;
    for (int i = 0; i < N * OC; i++) zeros &= got[i] == 0;
    CHECK(zeros, "matmul of 1e-20-sized inputs did not flush its subnormal results to zero (got %g)", got[0]);
    volatile float tiny = 1e-20f;
    CHECK(tiny * tiny != 0, "the caller's thread flushes subnormals after an op");
    free(hi), free(hw), free(got);
    kb_free(ctx, inp), kb_free(ctx, w), kb_free(ctx, out);
}

static void test_thread_count_independence(void) {
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    size_t n1, n2;
    float *a = run_all_ops(&n1);
    omp_set_num_threads(2);
    float *b = run_all_ops(&n2);
    omp_set_num_threads(threads);
    size_t first = n1;
    for (size_t i = 0; i < n1 && i < n2 && first == n1; i++)
        if (memcmp(&a[i], &b[i], 4) != 0) first = i;
    CHECK(n1 == n2 && first == n1, "1 thread and 2 threads differ (%zu vs %zu floats, first difference at %zu)", n1, n2,
          first);
    free(a);
    free(b);
}

// A row's results do not depend on the batch around it (what lets rollout reproduce the
// trainer's log-probs bit for bit).
static void test_batch_independence(void) {
    int N = 37, C = 300, OC = 70, row = 29;
    float *hi = host_rand((size_t)N * C, 1), *hw = host_rand((size_t)OC * C, 1), *hb = host_rand(OC, 1);
    kb_act *inp = dev_act(hi, (size_t)N * C), *w = dev_act(hw, (size_t)OC * C), *b = dev_act(hb, OC);
    kb_act *out = dev_act_nan((size_t)N * OC), *one = dev_act_nan(OC), *pre = dev_act_nan((size_t)N * OC),
           *pre1 = dev_act_nan(OC);
    kb_matmul_forward(ctx, out, pre, inp, w, b, N, C, OC);
    kb_matmul_forward(ctx, one, pre1, kb_at(ctx, inp, (size_t)row * C), w, b, 1, C, OC);
    float *go = get_act(out, (size_t)N * OC), *g1 = get_act(one, OC);
    CHECK(memcmp(go + (size_t)row * OC, g1, OC * 4) == 0, "matmul: a row alone differs from the same row in a batch");
    free(go), free(g1), free(hi), free(hw), free(hb);
    kb_free(ctx, inp), kb_free(ctx, w), kb_free(ctx, b), kb_free(ctx, out), kb_free(ctx, one), kb_free(ctx, pre),
        kb_free(ctx, pre1);

    int B = 3, T = 21, AC = 48, NH = 3;
    size_t nq = (size_t)B * T * 3 * AC, no = (size_t)B * T * AC;
    float *hq = host_rand(nq, 1);
    kb_act *qkv = dev_act(hq, nq), *ao = dev_act_nan(no), *ao1 = dev_act_nan(no / B);
    float *lse = dev_f32_nan((size_t)B * NH * T), *lse1 = dev_f32_nan((size_t)NH * T);
    kb_attention_forward(ctx, ao, lse, qkv, B, T, AC, NH);
    kb_attention_forward(ctx, ao1, lse1, kb_at(ctx, qkv, 2 * nq / B), 1, T, AC, NH);
    float *ga = get_act(ao, no), *ga1 = get_act(ao1, no / B);
    CHECK(memcmp(ga + 2 * no / B, ga1, no / B * 4) == 0, "attention: a sequence alone differs from the same in a batch");
    free(hq), free(ga), free(ga1);
    kb_free(ctx, qkv), kb_free(ctx, ao), kb_free(ctx, ao1), kb_free(ctx, lse), kb_free(ctx, lse1);
}

int main(void) {
    berr e;
    ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    printf("device: %s\n", kb_device_name(ctx));
    rng = test_seed(20261122);
    double t0 = now_sec();
    test_context_and_memory();
    test_matmul_forward();
    test_matmul_backward();
    test_matmul_backward_fd();
    test_attention();
    test_layernorm();
    test_classifier();
    test_encoder();
    test_elementwise();
    test_adamw();
    test_counters();
    test_subnormal_mode();
    test_thread_count_independence();
    test_batch_independence();
    printf("(%.1f s)\n", now_sec() - t0);
    size_t left = kb_bytes_allocated(ctx);
    CHECK(left == 0, "%zu bytes still allocated at the end: a test leaks device memory", left);
    kb_close(ctx);
    return test_summary();
}
