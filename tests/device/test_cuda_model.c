// test_cuda_model.c — the whole GPT-2 on CUDA against the CPU reference: same weights
// (bf16-exact), same batch (a fresh seed each run, printed); loss and every gradient tensor
// compared as a whole and element by element (dev_compare). Then determinism: two
// CUDA training runs with the same seed give bit-identical losses over 20 steps. Device only.
#include <stdlib.h>

#include "kernels/gpt2.h"
#include "tests/device/dev_util.h"

static void compare_model(int L, int C, int NH, int V, int B, int T, int heads) {
    printf("model L=%d C=%d NH=%d V=%d B=%d T=%d heads=%d\n", L, C, NH, V, B, T, heads);
    gpt2_config cfg = gpt2_config_depth(L, V, T);
    cfg.C = C;
    cfg.NH = NH;
    cfg.n_scalar = heads;
    gpt2 mc, mg;
    gpt2_build(&mc, CPU, &cfg, B, T, 1);
    gpt2_build(&mg, GPU, &cfg, B, T, 1);
    gpt2_init(&mc, 42);
    float *p = xmalloc(mc.n_params * 4);
    gpt2_get_params(&mc, p);
    for (size_t i = 0; i < mc.n_params; i++) p[i] = bf16_round(p[i]);
    gpt2_set_params(&mc, p);
    gpt2_set_params(&mg, p);
    int N = B * T;
    int32_t *tok = xmalloc(N * 4), *tgt = xmalloc(N * 4);
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)(rng_next(&g_rng) % V);
        tgt[i] = i % 11 == 5 ? -1 : (int32_t)(rng_next(&g_rng) % V);  // some masked targets
    }
    float *dh = heads ? rnd((size_t)N * heads, 0.01f) : NULL;
    gpt2 *ms[2] = {&mc, &mg};
    double loss[2];
    float *grads[2];
    for (int k = 0; k < 2; k++) {
        gpt2_zero_grad(ms[k]);
        if (heads) kb_upload_act(ms[k]->ctx, ms[k]->dhead, dh, (size_t)N * heads);
        gpt2_forward_backward(ms[k], tok, tgt, B, T, 1.0f / N, heads > 0);
        gpt2_read_stats(ms[k], &loss[k], NULL);
        grads[k] = get_f32(ms[k]->ctx, ms[k]->grads, ms[k]->n_params);
    }
    printf("  loss sum cpu %.6f cuda %.6f\n", loss[0], loss[1]);
    CHECK(fabs(loss[0] - loss[1]) <= 5e-3 * fabs(loss[0]), "loss %.6f vs %.6f", loss[1], loss[0]);
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        if (!mc.size[t]) continue;
        char name[64];
        snprintf(name, sizeof name, "grad %s", gpt2_tensor_name(t));
        dev_compare(name, grads[1] + mc.off[t], grads[0] + mc.off[t], mc.size[t], K_MODEL);
        if (t == GPT2_QKVW) dev_check_catches(name, grads[1] + mc.off[t], grads[0] + mc.off[t], mc.size[t], K_MODEL);
    }
    free(grads[0]), free(grads[1]), free(p), free(tok), free(tgt), free(dh);
    gpt2_free(&mc);
    gpt2_free(&mg);
}

// 20 training steps on random data; returns the loss of each step.
static void train_run(float *losses, int steps) {
    gpt2_config cfg = gpt2_config_depth(4, 2000, 256);
    gpt2 m;
    gpt2_build(&m, GPU, &cfg, 8, 256, 1);
    gpt2_init(&m, 7);
    gpt2_opt o = {0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    int N = 8 * 256;
    int32_t *tok = xmalloc(N * 4), *tgt = xmalloc(N * 4);
    uint64_t r = 99;
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < N; i++) {
            tok[i] = (int32_t)(rng_next(&r) % 2000);
            tgt[i] = (tok[i] * 7 + 3) % 2000;  // learnable
        }
        gpt2_zero_grad(&m);
        gpt2_forward_backward(&m, tok, tgt, 8, 256, 1.0f / N, 0);
        gpt2_update(&m, &o, 1e-3f);
        double ls;
        gpt2_read_stats(&m, &ls, NULL);
        losses[s] = (float)(ls / N);
    }
    free(tok), free(tgt);
    gpt2_free(&m);
}

int main(void) {
    dev_open();
    compare_model(2, 128, 2, 500, 4, 64, 0);
    compare_model(2, 256, 4, 1000, 2, 200, 1);
    compare_model(3, 64, 4, 300, 3, 50, 0);  // head size 16
    float a[20], b[20];
    train_run(a, 20);
    train_run(b, 20);
    int same = memcmp(a, b, sizeof a) == 0;
    printf("determinism: losses %.5f -> %.5f over 20 steps, runs %s\n", a[0], a[19], same ? "bit-identical" : "DIFFER");
    CHECK(same, "two runs with the same seed gave different losses");
    CHECK(a[19] < a[0], "loss did not fall (%.4f -> %.4f)", a[0], a[19]);
    kb_close(GPU);
    kb_close(CPU);
    return test_summary();
}
