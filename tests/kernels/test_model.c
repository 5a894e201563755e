// test_model.c — the GPT-2 model on the CPU backend: finite-difference gradient check of
// every parameter tensor, checkpoint round-trip and corruption, overfitting one batch, the
// FLOP counters against 6N + 6·L·C·T, config validation.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/gpt2.h"
#include "tests/test.h"

static kb_ctx *ctx;

static gpt2_config tiny(int heads) {
    gpt2_config c = {.L = 2, .C = 32, .NH = 2, .V = 64, .Vp = 128, .maxT = 16, .n_scalar = heads};
    return c;
}

// L(θ) = Σ_i nll_i / N + Σ dhead · head(θ), evaluated in forward only.
static double objective(gpt2 *m, const int32_t *tok, const int32_t *tgt, int B, int T, const float *dh) {
    int N = B * T;
    gpt2_reset_loss(m);
    gpt2_forward(m, tok, tgt, B, T);
    double ls;
    gpt2_read_stats(m, &ls, NULL);
    double L = ls / N;
    if (dh) {
        float *h = xmalloc((size_t)N * m->cfg.n_scalar * 4);
        kb_download_act(ctx, h, m->head_out, (size_t)N * m->cfg.n_scalar);
        for (int i = 0; i < N * m->cfg.n_scalar; i++) L += (double)dh[i] * h[i];
        free(h);
    }
    return L;
}

static void test_gradcheck(void) {
    gpt2_config cfg = tiny(1);
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, 2, 16, 1);
    gpt2_init(&m, 3);
    // Larger-than-GPT-2 weights so every path carries signal at this size.
    float *p = xmalloc(m.n_params * 4);
    gpt2_get_params(&m, p);
    uint64_t r = 17;
    for (size_t i = 0; i < m.n_params; i++) p[i] += 0.1f * rng_normal(&r);
    gpt2_set_params(&m, p);
    int B = 2, T = 16, N = B * T;
    int32_t tok[32], tgt[32];
    float dh[32];
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)(rng_next(&r) % cfg.V);
        tgt[i] = i % 9 == 4 ? -1 : (int32_t)(rng_next(&r) % cfg.V);
        dh[i] = 0.05f * rng_normal(&r);
    }
    gpt2_zero_grad(&m);
    kb_upload_act(ctx, m.dhead, dh, N);
    gpt2_forward_backward(&m, tok, tgt, B, T, 1.0f / N, 1);
    float *g = xmalloc(m.n_params * 4);
    kb_download(ctx, g, m.grads, m.n_params * 4);
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        size_t off = m.off[t], n = m.size[t];
        if (t == GPT2_WTE) n = (size_t)cfg.V * cfg.C;  // padding rows never get gradient
        // the 12 elements with the largest analytic gradient, plus 4 random ones
        size_t pick[16];
        int np = 0;
        for (int k = 0; k < 12 && k < (int)n; k++) {
            size_t best = 0;
            float bv = -1;
            for (size_t i = 0; i < n; i++) {
                int used = 0;
                for (int j = 0; j < np; j++) used |= pick[j] == i;
                if (!used && fabsf(g[off + i]) > bv) bv = fabsf(g[off + i]), best = i;
            }
            pick[np++] = best;
        }
        for (int k = 0; k < 4; k++) pick[np++] = rng_next(&r) % n;
        double num = 0, den = 0, worst = 0;
        for (int k = 0; k < np; k++) {
            size_t i = off + pick[k];
            float keep = p[i];
            double eps = 1e-2;
            p[i] = keep + (float)eps;
            gpt2_set_params(&m, p);
            double lp = objective(&m, tok, tgt, B, T, dh);
            p[i] = keep - (float)eps;
            gpt2_set_params(&m, p);
            double lm = objective(&m, tok, tgt, B, T, dh);
            p[i] = keep;
            double fd = (lp - lm) / (2 * eps), an = g[i];
            num += (fd - an) * (fd - an);
            den += an * an;
            double err = fabs(fd - an) / (fabs(an) + 1e-4);
            if (err > worst) worst = err;
        }
        gpt2_set_params(&m, p);
        double rel = sqrt(num / (den + 1e-30));
        CHECK(rel < 2e-2 && den > 0, "gradient of %s: relative error %.3e vs finite differences (worst element %.3e)",
              gpt2_tensor_name(t), rel, worst);
    }
    free(p);
    free(g);
    gpt2_free(&m);
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
        CHECK(truncate(bad, cut) == 0, "truncate");
        CHECK(load_fails_with(&b, bad, bad), "truncation at %ld was not caught", cut);
    }
    copy_file(path, bad);
    {
        char *buf;
        size_t n;
        read_file(bad, &buf, &n, &e);
        CHECK(truncate(bad, (off_t)n - 5) == 0, "truncate");
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
