// test_cuda_ops.c — every CUDA op against the CPU reference on the same (bf16-exact) random
// inputs (a fresh seed each run, printed), with NaN-poisoned outputs; each result within
// bf16 tolerance as a whole and element by element (dev_compare), and the comparison shown
// to reject a zeroed slice of a real GPU output (dev_check_catches). Device only.
#include <stdlib.h>

#include "tests/device/dev_util.h"


static void test_matmul(int N, int C, int OC, int bias, int gelu) {
    char name[128];
    snprintf(name, sizeof name, "matmul N=%d C=%d OC=%d%s%s", N, C, OC, bias ? " +bias" : "", gelu ? " +gelu" : "");
    printf("%s\n", name);
    float *x = rnd((size_t)N * C, 1), *w = rnd((size_t)OC * C, 0.1f), *b = rnd(OC, 0.5f);
    float *dout = rnd((size_t)N * OC, 1), *dw0 = rnd((size_t)OC * C, 1), *db0 = rnd(OC, 1);
    float *gin = rnd((size_t)N * C, 1);  // a pre-GELU activation for the backward's GELU path
    kb_ctx *cs[2] = {CPU, GPU};
    float *res[2][6];
    for (int k = 0; k < 2; k++) {
        kb_ctx *c = cs[k];
        kb_act *X = act_of(c, x, (size_t)N * C), *Wt = act_of(c, w, (size_t)OC * C), *B = act_of(c, b, OC);
        kb_act *O = act_nan(c, (size_t)N * OC), *P = gelu ? act_nan(c, (size_t)N * OC) : NULL;
        kb_matmul_forward(c, O, P, X, Wt, bias ? B : NULL, N, C, OC);
        res[k][0] = get_act(c, O, (size_t)N * OC);
        res[k][1] = gelu ? get_act(c, P, (size_t)N * OC) : NULL;
        kb_act *D = act_of(c, dout, (size_t)N * OC), *G = act_of(c, gin, (size_t)N * C);
        kb_act *DI = act_nan(c, (size_t)N * C);
        float *DW = f32_of(c, dw0, (size_t)OC * C), *DB = f32_of(c, db0, OC);
        kb_matmul_backward(c, DI, DW, bias ? DB : NULL, D, X, Wt, gelu ? G : NULL, N, C, OC);
        res[k][2] = get_act(c, DI, (size_t)N * C);
        res[k][3] = get_f32(c, DW, (size_t)OC * C);
        res[k][4] = get_f32(c, DB, OC);
        void *bufs[] = {X, Wt, B, O, P, D, G, DI, DW, DB};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) kb_free(c, bufs[i]);
    }
    dev_compare("forward out", res[1][0], res[0][0], (size_t)N * OC, K_OUT);
    if ((size_t)N * OC >= 64) dev_check_catches("forward out", res[1][0], res[0][0], (size_t)N * OC, K_OUT);
    if (gelu) dev_compare("forward pre-gelu", res[1][1], res[0][1], (size_t)N * OC, K_OUT);
    dev_compare("backward dinp", res[1][2], res[0][2], (size_t)N * C, K_OUT);
    dev_compare("backward dw (+=)", res[1][3], res[0][3], (size_t)OC * C, K_OUT);
    if (bias) dev_compare("backward db (+=)", res[1][4], res[0][4], OC, K_OUT);
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 5; j++) free(res[k][j]);
    free(x), free(w), free(b), free(dout), free(dw0), free(db0), free(gin);
}

static void test_attention(int B, int T, int C, int NH) {
    printf("attention B=%d T=%d C=%d NH=%d (head size %d)\n", B, T, C, NH, C / NH);
    size_t n3 = (size_t)B * T * 3 * C, n = (size_t)B * T * C, nl = (size_t)B * NH * T;
    float *qkv = rnd(n3, 1), *dout = rnd(n, 1);
    kb_ctx *cs[2] = {CPU, GPU};
    float *res[2][3];
    for (int k = 0; k < 2; k++) {
        kb_ctx *c = cs[k];
        kb_act *Q = act_of(c, qkv, n3), *O = act_nan(c, n), *D = act_of(c, dout, n), *DQ = act_nan(c, n3);
        float *L = f32_nan(c, nl);
        kb_attention_forward(c, O, L, Q, B, T, C, NH);
        res[k][0] = get_act(c, O, n);
        res[k][1] = get_f32(c, L, nl);
        // Backward from the reference's own output on both sides, so only backward differs.
        if (k == 1) kb_upload_act(c, O, res[0][0], n);
        kb_attention_backward(c, DQ, D, Q, O, L, B, T, C, NH);
        res[k][2] = get_act(c, DQ, n3);
        void *bufs[] = {Q, O, D, DQ, L};
        for (size_t i = 0; i < 5; i++) kb_free(c, bufs[i]);
    }
    dev_compare("forward out", res[1][0], res[0][0], n, K_OUT);
    dev_compare("forward lse", res[1][1], res[0][1], nl, DEV_K(1e-3));
    dev_compare("backward dqkv", res[1][2], res[0][2], n3, K_GRAD);
    dev_check_catches("backward dqkv", res[1][2], res[0][2], n3, K_GRAD);
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 3; j++) free(res[k][j]);
    free(qkv), free(dout);
}

static void test_layernorm(int N, int C) {
    printf("layernorm N=%d C=%d\n", N, C);
    size_t n = (size_t)N * C;
    float *x = rnd(n, 1), *r = rnd(n, 1), *w = rnd(C, 1), *b = rnd(C, 1), *dout = rnd(n, 1);
    float *di0 = rnd(n, 1), *dw0 = rnd(C, 1), *db0 = rnd(C, 1);
    kb_ctx *cs[2] = {CPU, GPU};
    float *res[2][8];
    for (int k = 0; k < 2; k++) {
        kb_ctx *c = cs[k];
        kb_act *X = act_of(c, x, n), *R = act_of(c, r, n), *Wt = act_of(c, w, C), *Bs = act_of(c, b, C);
        kb_act *O = act_nan(c, n), *RO = act_nan(c, n), *D = act_of(c, dout, n), *DI = act_of(c, di0, n);
        float *M = f32_nan(c, N), *S = f32_nan(c, N), *DW = f32_of(c, dw0, C), *DB = f32_of(c, db0, C);
        kb_layernorm_forward(c, O, M, S, X, Wt, Bs, N, C);
        res[k][0] = get_act(c, O, n);
        res[k][1] = get_f32(c, M, N);
        res[k][2] = get_f32(c, S, N);
        kb_residual_layernorm_forward(c, RO, O, M, S, X, R, Wt, Bs, N, C);
        res[k][3] = get_act(c, RO, n);
        res[k][4] = get_act(c, O, n);
        kb_layernorm_backward(c, DI, DW, DB, D, RO, Wt, M, S, N, C);
        res[k][5] = get_act(c, DI, n);
        res[k][6] = get_f32(c, DW, C);
        res[k][7] = get_f32(c, DB, C);
        void *bufs[] = {X, R, Wt, Bs, O, RO, D, DI, M, S, DW, DB};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) kb_free(c, bufs[i]);
    }
    dev_compare("forward out", res[1][0], res[0][0], n, K_OUT);
    dev_compare("forward mean", res[1][1], res[0][1], N, DEV_K(1e-3));
    dev_compare("forward rstd", res[1][2], res[0][2], N, DEV_K(1e-3));
    dev_compare("residual+ln residual", res[1][3], res[0][3], n, K_OUT);
    dev_compare("residual+ln out", res[1][4], res[0][4], n, K_OUT);
    dev_compare("backward dinp (+=)", res[1][5], res[0][5], n, K_OUT);
    dev_compare("backward dw (+=)", res[1][6], res[0][6], C, K_OUT);
    dev_compare("backward db (+=)", res[1][7], res[0][7], C, K_OUT);
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 8; j++) free(res[k][j]);
    free(x), free(r), free(w), free(b), free(dout), free(di0), free(dw0), free(db0);
}

static void test_classifier(int N, int V, int Vp, float inv_temp, int with_rs) {
    printf("classifier N=%d V=%d Vp=%d inv_temp=%.2f%s\n", N, V, Vp, inv_temp, with_rs ? " row_scale" : "");
    size_t n = (size_t)N * Vp;
    float *lg = rnd(n, 2), *rs = rnd(N, 1);
    int32_t *tg = xmalloc(N * 4);
    for (int i = 0; i < N; i++) tg[i] = i % 7 == 3 ? -1 : (int32_t)(rng_next(&g_rng) % V);
    kb_ctx *cs[2] = {CPU, GPU};
    float *res[2][4];
    for (int k = 0; k < 2; k++) {
        kb_ctx *c = cs[k];
        kb_act *L = act_of(c, lg, n);
        float *NL = f32_nan(c, N), *EN = f32_nan(c, N), *RS = f32_of(c, rs, N);
        int32_t *TG = i32_of(c, tg, N);
        kb_classifier(c, L, NL, EN, TG, with_rs ? RS : NULL, 0.25f, inv_temp, N, V, Vp, 0);
        res[k][0] = get_f32(c, NL, N);
        res[k][1] = get_f32(c, EN, N);
        kb_classifier(c, L, NL, NULL, TG, with_rs ? RS : NULL, 0.25f, inv_temp, N, V, Vp, 1);
        res[k][2] = get_f32(c, NL, N);
        res[k][3] = get_act(c, L, n);
        void *bufs[] = {L, NL, EN, RS, TG};
        for (size_t i = 0; i < 5; i++) kb_free(c, bufs[i]);
    }
    dev_compare("nll", res[1][0], res[0][0], N, DEV_K(1e-4));
    dev_compare("entropy", res[1][1], res[0][1], N, DEV_K(1e-4));
    dev_compare("nll (grad pass)", res[1][2], res[0][2], N, DEV_K(1e-4));
    dev_compare("dlogits in place", res[1][3], res[0][3], n, K_OUT);
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 4; j++) free(res[k][j]);
    free(lg), free(rs), free(tg);
}

static void test_encoder(int B, int T, int C, int V, int with_pos) {
    printf("encoder B=%d T=%d C=%d V=%d%s\n", B, T, C, V, with_pos ? " positions" : "");
    int N = B * T;
    float *wte = rnd((size_t)V * C, 1), *wpe = rnd((size_t)T * C, 1), *dout = rnd((size_t)N * C, 1);
    float *dwte0 = rnd((size_t)V * C, 1), *dwpe0 = rnd((size_t)T * C, 1);
    int32_t *tok = xmalloc(N * 4), *pos = xmalloc(N * 4);
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)(rng_next(&g_rng) % V);
        pos[i] = (int32_t)(rng_next(&g_rng) % T);
    }
    kb_ctx *cs[2] = {CPU, GPU};
    float *res[2][3];
    for (int k = 0; k < 2; k++) {
        kb_ctx *c = cs[k];
        kb_act *E = act_of(c, wte, (size_t)V * C), *P = act_of(c, wpe, (size_t)T * C), *O = act_nan(c, (size_t)N * C);
        kb_act *D = act_of(c, dout, (size_t)N * C);
        float *DE = f32_of(c, dwte0, (size_t)V * C), *DP = f32_of(c, dwpe0, (size_t)T * C);
        int32_t *TK = i32_of(c, tok, N), *PS = i32_of(c, pos, N);
        kb_encoder_forward(c, O, TK, with_pos ? PS : NULL, E, P, N, T, C);
        res[k][0] = get_act(c, O, (size_t)N * C);
        kb_encoder_backward(c, DE, DP, D, TK, N, T, C, V);
        res[k][1] = get_f32(c, DE, (size_t)V * C);
        res[k][2] = get_f32(c, DP, (size_t)T * C);
        void *bufs[] = {E, P, O, D, DE, DP, TK, PS};
        for (size_t i = 0; i < 8; i++) kb_free(c, bufs[i]);
    }
    dev_compare("forward", res[1][0], res[0][0], (size_t)N * C, K_OUT);
    dev_compare("backward dwte (+=)", res[1][1], res[0][1], (size_t)V * C, DEV_K(1e-5));
    dev_compare("backward dwpe (+=)", res[1][2], res[0][2], (size_t)T * C, DEV_K(1e-5));
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 3; j++) free(res[k][j]);
    free(wte), free(wpe), free(dout), free(dwte0), free(dwpe0), free(tok), free(pos);
}

static void test_optimizer(size_t n) {
    printf("adamw / norm / sum n=%zu\n", n);
    float *p = rnd(n, 1), *g = rnd(n, 1), *m = rnd(n, 0.1f), *v = xmalloc(n * 4);
    for (size_t i = 0; i < n; i++) v[i] = fabsf(p[i]) * 0.01f + 1e-4f;
    kb_ctx *cs[2] = {CPU, GPU};
    float *res[2][6];
    for (int k = 0; k < 2; k++) {
        kb_ctx *c = cs[k];
        float *P = f32_of(c, p, n), *G = f32_of(c, g, n), *M = f32_of(c, m, n), *Vv = f32_of(c, v, n);
        float *NS = f32_nan(c, 1), *SM = f32_nan(c, 1);
        kb_act *PA = k ? act_nan(c, n) : NULL;
        kb_norm_squared(c, NS, G, n, 0);
        kb_sum(c, SM, G, n, 0);
        kb_sum(c, SM, G, n, 1);
        res[k][0] = get_f32(c, NS, 1);
        res[k][1] = get_f32(c, SM, 1);
        kb_adamw(c, P, PA, G, M, Vv, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3, NS, 0.5f);
        res[k][2] = get_f32(c, P, n);
        res[k][3] = get_f32(c, M, n);
        res[k][4] = get_f32(c, Vv, n);
        res[k][5] = PA ? get_act(c, PA, n) : NULL;
        void *bufs[] = {P, G, M, Vv, NS, SM, PA};
        for (size_t i = 0; i < 7; i++) kb_free(c, bufs[i]);
    }
    dev_compare("norm squared", res[1][0], res[0][0], 1, DEV_K(1e-5));
    dev_compare("sum, twice accumulated", res[1][1], res[0][1], 1, DEV_K(1e-4));
    dev_compare("adamw params", res[1][2], res[0][2], n, DEV_K(1e-6));
    dev_compare("adamw m", res[1][3], res[0][3], n, DEV_K(1e-6));
    dev_compare("adamw v", res[1][4], res[0][4], n, DEV_K(1e-6));
    dev_compare("adamw bf16 working copy", res[1][5], res[0][2], n, DEV_K(4e-3));
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 6; j++) free(res[k][j]);
    free(p), free(g), free(m), free(v);
}

static void test_misc(void) {
    printf("residual / gather / f32_to_act\n");
    size_t n = 100003;
    int N = 37, C = 64, R = 100;
    float *a = rnd(n, 1), *b = rnd(n, 1), *src = rnd((size_t)R * C, 1);
    int32_t *rows = xmalloc(N * 4);
    for (int i = 0; i < N; i++) rows[i] = (int32_t)(rng_next(&g_rng) % R);
    kb_ctx *cs[2] = {CPU, GPU};
    float *res[2][3];
    for (int k = 0; k < 2; k++) {
        kb_ctx *c = cs[k];
        kb_act *A = act_of(c, a, n), *Bb = act_of(c, b, n), *O = act_nan(c, n);
        kb_act *S = act_of(c, src, (size_t)R * C), *G = act_nan(c, (size_t)N * C), *F = act_nan(c, n);
        int32_t *RW = i32_of(c, rows, N);
        float *AF = f32_of(c, a, n);
        kb_residual_forward(c, O, A, Bb, n);
        kb_gather_rows(c, G, S, RW, N, C);
        kb_f32_to_act(c, F, AF, n);
        res[k][0] = get_act(c, O, n);
        res[k][1] = get_act(c, G, (size_t)N * C);
        res[k][2] = get_act(c, F, n);
        void *bufs[] = {A, Bb, O, S, G, F, RW, AF};
        for (size_t i = 0; i < 8; i++) kb_free(c, bufs[i]);
    }
    dev_compare("residual", res[1][0], res[0][0], n, K_OUT);
    dev_compare("gather rows", res[1][1], res[0][1], (size_t)N * C, 0);
    dev_compare("f32 to act", res[1][2], res[0][2], n, 0);
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 3; j++) free(res[k][j]);
    free(a), free(b), free(src), free(rows);
}

int main(void) {
    dev_open();
    test_matmul(517, 256, 384, 1, 0);
    test_matmul(517, 256, 1024, 1, 1);
    test_matmul(300, 768, 2304, 1, 0);
    test_matmul(129, 64, 640, 0, 0);  // the classifier's shape: no bias
    test_matmul(77, 64, 1, 1, 0);     // a scalar head: cuBLASLt may have no algorithm
    test_attention(2, 200, 256, 4);   // head 64, T not a multiple of the tile
    test_attention(1, 1024, 768, 12); // d12's shape
    test_attention(2, 130, 128, 4);   // head 32
    test_attention(2, 96, 256, 2);    // head 128
    test_attention(2, 64, 64, 4);     // head 16
    test_attention(2, 50, 96, 4);     // head 24: the simple path
    test_layernorm(333, 768);
    test_layernorm(65, 136);
    test_layernorm(9, 4096);          // wider than the register path
    test_classifier(37, 1000, 1024, 1.0f, 0);
    test_classifier(19, 50257, 50304, 0.7f, 1);
    test_encoder(4, 100, 64, 50, 0);
    test_encoder(2, 64, 768, 5000, 1);
    test_encoder(4, 300, 64, 2, 0);   // long runs of one token across many chunks
    test_encoder(8, 256, 64, 1, 1);   // a single token everywhere
    test_optimizer(1000003);
    test_misc();
    kb_close(GPU);
    kb_close(CPU);
    return test_summary();
}
