// test_model.c — the GPT-2 model on the CPU backend: finite-difference gradient check of
// every parameter tensor, element by element at random elements (tests/kernels/gradcheck.h),
// with the mutations it must catch (wrong copies of the true gradient, three deliberately
// broken backward passes); checkpoint round-trip and corruption, overfitting one batch, the
// FLOP counters against 6N + 6·L·C·T, config validation.
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/backend.h"  // the op table, swapped to make deliberately broken backwards
#include "kernels/gpt2.h"
#include "tests/kernels/gradcheck.h"
#include "tests/test.h"

static kb_ctx *ctx;

static gpt2_config tiny(int heads) {
    gpt2_config c = {.L = 2, .C = 32, .NH = 2, .V = 64, .Vp = 128, .maxT = 16, .n_scalar = heads};
    return c;
}

// ---- whole-model gradient check ---------------------------------------------------------------
//
// L(θ) = Σ_i nll_i / N + Σ dhead · head(θ), evaluated by the forward alone; its gradient by
// gpt2_forward_backward. Every parameter tensor is checked element by element against finite
// differences at random elements (tests/kernels/gradcheck.h), and the check is shown to fail
// on wrong gradients: mutated copies of the true one and three deliberately broken backwards.

typedef struct model_obj {
    gpt2 *m;
    float *p;  // the parameters the objective runs with (perturbed in place by the check)
    const int32_t *tok, *tgt;
    const float *dh;
    int B, T;
} model_obj;

static double model_loss(void *arg) {
    model_obj *o = arg;
    gpt2 *m = o->m;
    int N = o->B * o->T;
    gpt2_set_params(m, o->p);
    gpt2_reset_loss(m);
    gpt2_forward(m, o->tok, o->tgt, o->B, o->T);
    float *l = xmalloc((size_t)N * 4), *h = xmalloc((size_t)N * m->cfg.n_scalar * 4 + 4);
    kb_download(ctx, l, m->losses, (size_t)N * 4);
    kb_download_act(ctx, h, m->head_out, (size_t)N * m->cfg.n_scalar);
    double L = 0;
    for (int i = 0; i < N; i++) L += o->tgt[i] >= 0 ? (double)l[i] : 0;
    L /= N;
    for (int i = 0; i < N * m->cfg.n_scalar; i++) L += (double)o->dh[i] * h[i];
    free(l), free(h);
    return L;
}

// Deliberately broken backward passes, made by swapping entries of the backend's op table
// for the length of one gpt2_forward_backward (the real kernels do the rest).
enum { BROKEN_NONE, BROKEN_NO_GELU_GRAD, BROKEN_SKIP_ATTENTION, BROKEN_LN_OVERWRITES, N_BROKEN };
static const char *const broken_name[N_BROKEN] = {
    "the true backward",
    "GELU's derivative dropped from the MLP backward",
    "the last layer's attention backward skipped",
    "layernorm backward overwriting the residual gradient instead of adding to it",
};
static const kb_ops *real_ops;
static int attn_calls;
static void no_gelu_matmul_backward(kb_ctx *c, kb_act *dinp, float *dw, float *db, const kb_act *dout,
                                    const kb_act *inp, const kb_act *w, const kb_act *gelu_in, int N, int C, int OC) {
    real_ops->matmul_backward(c, dinp, dw, db, dout, inp, w, NULL, N, C, OC);
}
static void skip_attention_backward(kb_ctx *c, kb_act *dqkv, const kb_act *dout, const kb_act *qkv,
                                    const kb_act *out, const float *lse, int B, int T, int C, int NH) {
    if (attn_calls++ == 0) real_ops->zero(c, dqkv, (size_t)B * T * 3 * C * real_ops->act_size);  // layer L-1 comes first
    else real_ops->attention_backward(c, dqkv, dout, qkv, out, lse, B, T, C, NH);
}
static void overwriting_layernorm_backward(kb_ctx *c, kb_act *dinp, float *dw, float *db, const kb_act *dout,
                                           const kb_act *inp, const kb_act *w, const float *mean, const float *rstd,
                                           int N, int C) {
    real_ops->zero(c, dinp, (size_t)N * C * real_ops->act_size);
    real_ops->layernorm_backward(c, dinp, dw, db, dout, inp, w, mean, rstd, N, C);
}

static void gradient_of(model_obj *o, int broken, float *g) {
    gpt2 *m = o->m;
    kb_ops ops = *ctx->ops;
    real_ops = ctx->ops;
    attn_calls = 0;
    if (broken == BROKEN_NO_GELU_GRAD) ops.matmul_backward = no_gelu_matmul_backward;
    if (broken == BROKEN_SKIP_ATTENTION) ops.attention_backward = skip_attention_backward;
    if (broken == BROKEN_LN_OVERWRITES) ops.layernorm_backward = overwriting_layernorm_backward;
    ctx->ops = &ops;
    int N = o->B * o->T;
    gpt2_set_params(m, o->p);
    gpt2_zero_grad(m);
    kb_upload_act(ctx, m->dhead, o->dh, (size_t)N * m->cfg.n_scalar);
    gpt2_forward_backward(m, o->tok, o->tgt, o->B, o->T, 1.0f / N, 1);
    ctx->ops = real_ops;
    kb_download(ctx, g, m->grads, m->n_params * 4);
}

// How many tensors' checks fail on gradient g (the names of those that pass in `which`).
static int tensors_failing(const gpt2 *m, gc_ref *refs, const float *g, char *which, size_t wn) {
    int n = 0;
    size_t at = 0;
    which[0] = 0;
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        if (!refs[t].ns || gc_compare(&refs[t], g + m->off[t], NULL)) {
            if (at < wn) at += (size_t)snprintf(which + at, wn - at, " %s", gpt2_tensor_name(t));
            continue;
        }
        n++;
    }
    return n;
}

// The helper itself on a function with a known gradient: f(x) = Σ w_i·tanh(x_i) + (Σ x_i)² / n,
// ∂f/∂x_i = w_i·(1 − tanh²(x_i)) + 2·Σx / n, evaluated in float like a kernel would be. The
// exact gradient passes; the standard mutations and a wrong derivative of tanh fail.
typedef struct tanh_obj {
    const float *x, *w;
    size_t n;
} tanh_obj;
static double tanh_loss(void *arg) {
    tanh_obj *o = arg;
    float s = 0, t = 0;
    for (size_t i = 0; i < o->n; i++) s += o->w[i] * tanhf(o->x[i]), t += o->x[i];
    return (double)s + (double)t * t / o->n;
}
static void test_gradcheck_helper(uint64_t *r) {
    size_t n = 300;
    float *x = xmalloc(n * 4), *w = xmalloc(n * 4), *g = xmalloc(n * 4), *off = xmalloc(n * 4);
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(r), w[i] = rng_normal(r);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += x[i];
    for (size_t i = 0; i < n; i++) {
        double th = tanh(x[i]);
        g[i] = (float)(w[i] * (1 - th * th) + 2 * sum / n);
        off[i] = (float)(w[i] * (1 - fabs(th)) + 2 * sum / n);  // tanh' taken as 1 − |tanh|
    }
    tanh_obj o = {x, w, n};
    gc_opts opt = gc_defaults();
    printf("gradcheck.h on a known gradient\n");
    gc_check_all("tanh + square of the sum", tanh_loss, &o, x, g, n, &opt, r);
    gc_ref ref = gc_sample(tanh_loss, &o, x, n, &opt, r);
    CHECK(!gc_compare(&ref, off, NULL), "the gradient check passed a wrong derivative of tanh");
    gc_ref_free(&ref);
    free(x), free(w), free(g), free(off);
}

static void test_gradcheck(void) {
    // Thousands of forwards of a tiny model: one thread (the results do not depend on the
    // thread count; test_cpu_ops checks that), so that a busy machine's descheduled OpenMP
    // threads do not stretch each one.
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    gpt2_config cfg = tiny(1);
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, 2, 16, 1);
    gpt2_init(&m, 3);
    // Larger-than-GPT-2 weights so every path carries signal at this size.
    float *p = xmalloc(m.n_params * 4);
    gpt2_get_params(&m, p);
    uint64_t r = test_seed(17);
    test_gradcheck_helper(&r);
    for (size_t i = 0; i < m.n_params; i++) p[i] += 0.1f * rng_normal(&r);
    int B = 2, T = 16, N = B * T;
    int32_t tok[32], tgt[32];
    float dh[32];
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)(rng_next(&r) % cfg.V);
        tgt[i] = i % 9 == 4 ? -1 : (int32_t)(rng_next(&r) % cfg.V);
        dh[i] = 0.05f * rng_normal(&r);
    }
    model_obj o = {&m, p, tok, tgt, dh, B, T};
    float *g = xmalloc(m.n_params * 4);
    gradient_of(&o, BROKEN_NONE, g);

    gc_opts opt = gc_defaults();
    gc_ref refs[GPT2_NTENSORS];
    double t0 = now_sec();
    printf("whole-model gradient check: %d random elements per tensor\n", opt.samples);
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        size_t n = m.size[t];
        if (t == GPT2_WTE) n = (size_t)cfg.V * cfg.C;  // padding rows never get gradient
        refs[t] = gc_sample(model_loss, &o, p + m.off[t], n, &opt, &r);
        gc_check(gpt2_tensor_name(t), &refs[t], g + m.off[t]);
    }
    printf("  (%.1fs)\n", now_sec() - t0);

    // Mutations of the true gradient. Zeroing half and scaling must fail in every tensor
    // where they changed a sampled element at all (a one-element tensor may keep its
    // element when half are zeroed); zeroing the small entries in every tensor where it
    // moved a sampled element by more than twice the tolerance, and in one at least.
    static const struct {
        int kind;
        double param;
        const char *what;
    } muts[] = {{GC_ZERO_HALF, 0, "a random half of every tensor zeroed"},
                {GC_ZERO_SMALL, 1e-3, "every |g| < 1e-3 zeroed"},
                {GC_SCALE, 1.015, "every element scaled by 1.015"}};
    char which[256];
    for (size_t k = 0; k < sizeof muts / sizeof muts[0]; k++) {
        float *mg = gc_mutate(g, m.n_params, muts[k].kind, muts[k].param, &r);
        int changed = 0, material = 0;
        for (int t = 0; t < GPT2_NTENSORS; t++) {
            const gc_ref *q = &refs[t];
            int ch = 0, mat = 0;
            for (size_t s = 0; s < q->ns; s++) {
                size_t i = m.off[t] + q->idx[s];
                ch |= mg[i] != g[i];
                mat |= fabs((double)mg[i] - g[i]) > 2 * q->tol * (fabs(q->fd[s]) + q->rms);
            }
            changed += ch, material += mat;
        }
        int caught = tensors_failing(&m, refs, mg, which, sizeof which);
        int need = muts[k].kind == GC_ZERO_SMALL ? material : changed;
        printf("  mutation: %-38s caught in %2d of %d tensors (changed at the samples in %d, by over 2x the "
               "tolerance in %d)\n",
               muts[k].what, caught, GPT2_NTENSORS, changed, material);
        CHECK(caught >= need && caught > 0,
              "the gradient check missed a wrong gradient (%s): caught in %d tensors, should be %d", muts[k].what,
              caught, need);
        free(mg);
    }
    // Deliberately broken backward passes: each must fail the check.
    for (int b = BROKEN_NONE + 1; b < N_BROKEN; b++) {
        float *bg = xmalloc(m.n_params * 4);
        gradient_of(&o, b, bg);
        int caught = tensors_failing(&m, refs, bg, which, sizeof which);
        printf("  broken backward: %s: caught in %d tensors (passed:%s)\n", broken_name[b], caught, which);
        CHECK(caught > 0, "the gradient check passed a broken backward: %s", broken_name[b]);
        free(bg);
    }
    // And the op table is the real one again: the true gradient comes back.
    float *again = xmalloc(m.n_params * 4);
    gradient_of(&o, BROKEN_NONE, again);
    CHECK(memcmp(again, g, m.n_params * 4) == 0, "the true gradient changed after the broken backwards");
    free(again);
    for (int t = 0; t < GPT2_NTENSORS; t++) gc_ref_free(&refs[t]);
    free(p);
    free(g);
    gpt2_free(&m);
    omp_set_num_threads(threads);
}

static void corrupt_byte(const char *path, long off) {
    FILE *f = fopen(path, "r+b");
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
}

static int load_fails_with(gpt2 *m, const char *path, const char *needle) {
    berr e = {{0}};
    int rc = gpt2_load(m, path, 0, NULL, NULL, &e);
    if (rc == 0) return 0;
    if (!strstr(e.msg, needle)) {
        fprintf(stderr, "  (message was: %s)\n", e.msg);
        return 0;
    }
    return 1;
}

static void copy_file(const char *from, const char *to) {
    char *buf;
    size_t n;
    berr e;
    if (read_file(from, &buf, &n, &e)) die("%s", e.msg);
    if (write_file_atomic(to, buf, n, &e)) die("%s", e.msg);
    free(buf);
}

static void test_checkpoint(void) {
    char dir[] = "/tmp/berry_ckpt_XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp");
    char *path = xasprintf("%s/m.ckpt", dir), *bad = xasprintf("%s/bad.ckpt", dir);
    gpt2_config cfg = tiny(2);
    gpt2 a, b;
    gpt2_build(&a, ctx, &cfg, 2, 16, 1);
    gpt2_init(&a, 11);
    // take two steps so m, v and step are non-trivial
    gpt2_opt o = {0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    int32_t tok[32];
    for (int i = 0; i < 32; i++) tok[i] = i % cfg.V;
    for (int s = 0; s < 2; s++) {
        gpt2_zero_grad(&a);
        gpt2_forward_backward(&a, tok, tok, 2, 16, 1.0f / 32, 0);
        gpt2_update(&a, &o, 1e-3f);
    }
    const char extra[] = "trainer-state: step=2 cursor=77";
    berr e;
    CHECK(gpt2_save(&a, path, 1, extra, sizeof extra, &e) == 0, "save: %s", e.msg);
    gpt2_ckpt_info info;
    CHECK(gpt2_ckpt_info_read(path, &info, &e) == 0, "info: %s", e.msg);
    CHECK(info.cfg.L == 2 && info.cfg.n_scalar == 2 && info.has_opt && info.step == 2 && info.extra_bytes == sizeof extra,
          "header fields read back wrong");
    gpt2_build(&b, ctx, &info.cfg, 2, 16, 1);
    void *ex = NULL;
    size_t exn = 0;
    CHECK(gpt2_load(&b, path, 1, &ex, &exn, &e) == 0, "load: %s", e.msg);
    size_t nb = a.n_params * 4;
    CHECK(memcmp(a.params, b.params, nb) == 0, "params differ after round-trip");
    CHECK(memcmp(a.m, b.m, nb) == 0 && memcmp(a.v, b.v, nb) == 0, "optimizer state differs after round-trip");
    CHECK(b.step == 2 && exn == sizeof extra && ex && memcmp(ex, extra, exn) == 0, "step/extra differ after round-trip");
    free(ex);

    // corruption: header byte, payload byte, truncation, magic, version, trailing data
    copy_file(path, bad);
    corrupt_byte(bad, 20);
    CHECK(load_fails_with(&b, bad, "header checksum"), "a flipped header byte was not caught");
    copy_file(path, bad);
    corrupt_byte(bad, 256 + 1000);
    CHECK(load_fails_with(&b, bad, "payload checksum"), "a flipped payload byte was not caught");
    copy_file(path, bad);
    corrupt_byte(bad, 0);
    CHECK(load_fails_with(&b, bad, "bad magic"), "a bad magic was not caught");
    for (long cut = 0; cut < 300; cut += 37) {
        copy_file(path, bad);
        REQUIRE(truncate(bad, cut) == 0, "truncate %s", bad);
        CHECK(load_fails_with(&b, bad, bad), "truncation at %ld was not caught", cut);
    }
    copy_file(path, bad);
    {
        char *buf;
        size_t n;
        read_file(bad, &buf, &n, &e);
        REQUIRE(truncate(bad, (off_t)n - 5) == 0, "truncate %s", bad);
        CHECK(load_fails_with(&b, bad, "truncated or trailing"), "a short payload was not caught");
        put_le32((uint8_t *)buf + 8, 2);  // version 2, with a valid header checksum
        put_le64((uint8_t *)buf + 248, hash64(buf, 248, 0));
        write_file_atomic(bad, buf, n, &e);
        CHECK(load_fails_with(&b, bad, "version 2"), "an unknown version was not refused by name");
        free(buf);
    }
    // a config mismatch is refused, naming both
    gpt2_config other = tiny(2);
    other.C = 64;
    gpt2 c;
    gpt2_build(&c, ctx, &other, 1, 16, 0);
    CHECK(load_fails_with(&c, path, "differs from the model"), "a config mismatch was not refused");
    gpt2_free(&c);
    // an interrupted save (temporary written, never renamed) leaves the old file loadable
    atomic_file af;
    atomic_open(&af, path, &e);
    atomic_write(&af, "garbage", 7, &e);
    fclose(af.f);
    af.f = NULL;  // "crash": the temporary stays, the rename never happens
    CHECK(gpt2_load(&b, path, 1, NULL, NULL, &e) == 0, "checkpoint unusable after an interrupted save: %s", e.msg);
    unlink(af.tmp);
    free(af.tmp);
    free(af.path);
    unlink(path);
    unlink(bad);
    rmdir(dir);
    free(path);
    free(bad);
    gpt2_free(&a);
    gpt2_free(&b);
}

static void test_overfit(void) {
    gpt2_config cfg = {.L = 2, .C = 64, .NH = 4, .V = 64, .Vp = 128, .maxT = 32};
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, 4, 32, 1);
    gpt2_init(&m, 5);
    int N = 4 * 32;
    int32_t tok[129];
    uint64_t r = 23;
    for (int i = 0; i <= N; i++) tok[i] = (int32_t)(rng_next(&r) % cfg.V);
    gpt2_opt o = {0.9f, 0.95f, 1e-8f, 0.0f, 1.0f};
    double first = 0, last = 0, ls;
    double t0 = now_sec();
    for (int s = 0; s < 400; s++) {
        gpt2_zero_grad(&m);
        gpt2_forward_backward(&m, tok, tok + 1, 4, 32, 1.0f / N, 0);
        gpt2_update(&m, &o, 3e-3f);
        gpt2_read_stats(&m, &ls, NULL);
        if (s == 0) first = ls / N;
        last = ls / N;
        if (last < 0.05) break;
    }
    printf("overfit one batch: loss %.3f -> %.4f (ln V = %.3f) in %.1fs\n", first, last, log(cfg.V), now_sec() - t0);
    CHECK(fabs(first - log(cfg.V)) < 0.3, "initial loss %.3f is not near ln V", first);
    CHECK(last < 0.1, "loss only fell to %.4f", last);
    gpt2_free(&m);
}

static void test_flop_counts(void) {
    // d12 at T=1024, counted without executing (dry run).
    gpt2_config cfg = gpt2_config_depth(12, 50257, 1024);
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, 1, 1024, 1);
    int32_t *tok = xcalloc(1024, 4);
    kb_set_stage(ctx, "count");
    kb_counts_reset(ctx);
    kb_set_dry_run(ctx, 1);
    gpt2_zero_grad(&m);
    gpt2_forward_backward(&m, tok, tok, 1, 1024, 1.0f / 1024, 0);
    gpt2_update(&m, &(gpt2_opt){0.9f, 0.95f, 1e-8f, 0.1f, 1.0f}, 1e-4f);
    kb_set_dry_run(ctx, 0);
    const kb_counts *c = kb_counts_of(ctx, "count");
    double mm = 0;
    for (int p = 0; p < KB_NPHASES; p++) mm += c->flops[p][KB_MATMUL] + c->flops[p][KB_ATTENTION];
    double rule = gpt2_flops_per_token_rule(&m, 1024) * 1024;
    printf("d12 T=1024: counted matmul+attention %.4e FLOPs/step, 6N+6LCT %.4e, ratio %.4f; all ops %.4e\n", mm, rule,
           mm / rule, kb_counts_total_flops(c));
    CHECK(fabs(mm / rule - 1) < 0.01, "counted FLOPs differ from 6N+6LCT by %.2f%%", 100 * (mm / rule - 1));
    CHECK(c->flops[KB_BWD][KB_MATMUL] > 1.99 * c->flops[KB_FWD][KB_MATMUL], "backward matmul FLOPs not ~2x forward");
    kb_set_stage(ctx, "default");
    free(tok);
    gpt2_free(&m);
}

static void test_config_check(void) {
    berr e;
    gpt2_config c = tiny(0);
    CHECK(gpt2_config_check(&c, &e) == 0, "tiny config rejected: %s", e.msg);
    c.NH = 3;
    CHECK(gpt2_config_check(&c, &e) != 0 && strstr(e.msg, "NH=3"), "bad heads accepted");
    c = tiny(0);
    c.Vp = 100;
    CHECK(gpt2_config_check(&c, &e) != 0 && strstr(e.msg, "Vp=100"), "bad padded vocab accepted");
    c = tiny(0);
    c.L = 0;
    CHECK(gpt2_config_check(&c, &e) != 0 && strstr(e.msg, "L=0"), "zero layers accepted");
    gpt2_config d = gpt2_config_depth(12, 50257, 1024);
    CHECK(d.C == 768 && d.NH == 12 && d.Vp == 50304, "d12 config is not GPT-2 124M's");
    CHECK(gpt2_param_count(&d) == 124475904, "d12 parameter count %zu", gpt2_param_count(&d));
}

int main(void) {
    berr e;
    ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    test_config_check();
    test_gradcheck();
    test_checkpoint();
    test_overfit();
    test_flop_counts();
    kb_close(ctx);
    return test_summary();
}
