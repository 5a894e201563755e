// test_zero.c — ZeRO-1 in the model (kernels/gpt2_shard.c) and the partition (comm.h), on
// the CPU backend in one process: a full-range shard update equals gpt2_update bit for bit;
// two half-shards updated by two "ranks" equal one full update; host checkpoint IO writes
// the very bytes gpt2_save writes and reads them back; moments move between shard and host.
#include <string.h>
#include <unistd.h>

#include "kernels/comm.h"
#include "kernels/gpt2.h"
#include "tests/test.h"

static kb_ctx *ctx;
static const gpt2_config cfg = {.L = 2, .C = 32, .NH = 2, .V = 100, .Vp = 128, .maxT = 16};
static const gpt2_opt opt = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 0.5f};
enum { B = 2, T = 16 };

static void batch(uint64_t seed, int32_t *tok, int32_t *tgt) {
    uint64_t r = seed;
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int32_t)(rng_next(&r) % cfg.V);
        tgt[i] = (int32_t)(rng_next(&r) % cfg.V);
    }
}

static void grads_for(gpt2 *m, int step) {
    int32_t tok[B * T], tgt[B * T];
    batch(100 + (uint64_t)step, tok, tgt);
    gpt2_zero_grad(m);
    gpt2_forward_backward(m, tok, tgt, B, T, 1.0f / (B * T), 0);
}

static float *params_of(gpt2 *m) {
    float *p = xmalloc(m->n_params * 4);
    gpt2_get_params(m, p);
    return p;
}

static void test_partition(void) {
    size_t ns[] = {0, 1, 7, 64, 1000, 12345};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
        for (int w = 1; w <= 5; w++) {
            size_t covered = 0, expect_off = 0;
            int ok = 1;
            for (int r = 0; r < w; r++) {
                comm_part p = comm_partition(ns[k], w, r, 64);
                ok &= p.n_pad >= ns[k] && p.n_pad == p.shard * (size_t)w && p.len <= p.shard;
                if (w > 1) ok &= p.shard % 64 == 0 && p.off == p.shard * (size_t)r;
                if (p.len) ok &= p.off == expect_off;
                expect_off += p.len;
                covered += p.len;
            }
            CHECK(ok && covered == ns[k], "partition of %zu over %d ranks is not an exact tiling", ns[k], w);
        }
    comm_part one = comm_partition(1000, 1, 0, 64);
    CHECK(one.n_pad == 1000 && one.len == 1000 && one.off == 0, "one rank must own everything unpadded");
}

// gpt2_update_shard over [0, n) is gpt2_update, bit for bit, over several steps.
static void test_full_shard_equals_update(void) {
    gpt2 a, b;
    gpt2_build(&a, ctx, &cfg, B, T, 1);
    gpt2_build(&b, ctx, &cfg, B, T, 1);
    gpt2_init(&a, 5);
    gpt2_init(&b, 5);
    gpt2_shard s = {.off = 0, .len = b.n_params, .n_pad = b.n_params};
    gpt2_set_shard(&b, &s);
    for (int step = 0; step < 4; step++) {
        grads_for(&a, step);
        grads_for(&b, step);
        gpt2_update(&a, &opt, 1e-2f);
        kb_norm_squared(ctx, b.stats + 1, b.grads, b.n_params, 0);
        gpt2_update_shard(&b, &s, &opt, 1e-2f, b.stats + 1);
    }
    float *pa = params_of(&a), *pb = params_of(&b);
    CHECK(memcmp(pa, pb, a.n_params * 4) == 0, "full-range shard update differs from gpt2_update");
    CHECK(a.step == b.step && b.step == 4, "step counts %d %d", a.step, b.step);
    free(pa);
    free(pb);
    gpt2_free(&a);
    gpt2_free(&b);
}

// Two ranks, each owning half (padded), updated from the same gradients and the global
// norm, reassemble to the full update exactly (AdamW is elementwise).
static void test_two_shards(void) {
    gpt2 full, r[2];
    gpt2_build(&full, ctx, &cfg, B, T, 1);
    gpt2_init(&full, 9);
    gpt2_shard s[2];
    for (int k = 0; k < 2; k++) {
        gpt2_build(&r[k], ctx, &cfg, B, T, 1);
        gpt2_init(&r[k], 9);
        comm_part p = comm_partition(r[k].n_params, 2, k, 64);
        s[k] = (gpt2_shard){.off = p.off, .len = p.len, .n_pad = p.n_pad};
        gpt2_set_shard(&r[k], &s[k]);
    }
    REQUIRE(s[0].off + s[0].len == s[1].off && s[1].off + s[1].len == full.n_params, "shards do not tile");
    REQUIRE(s[0].off < full.n_decay && s[0].off + s[0].len > 0, "test needs a shard with decayed params");
    float *host = xmalloc(s[0].n_pad * 4);
    for (int step = 0; step < 3; step++) {
        grads_for(&full, step);
        gpt2_update(&full, &opt, 3e-3f);
        for (int k = 0; k < 2; k++) {
            grads_for(&r[k], step);
            // the global norm² (what the all-reduce of the shard norms gives)
            kb_norm_squared(ctx, r[k].stats + 1, r[k].grads, r[k].n_params, 0);
            gpt2_update_shard(&r[k], &s[k], &opt, 3e-3f, r[k].stats + 1);
        }
        // "all-gather": each rank's block into both
        for (int k = 0; k < 2; k++) {
            kb_download(ctx, host + s[k].off, r[k].params + s[k].off, s[k].len * 4);
        }
        for (int k = 0; k < 2; k++) {
            kb_upload(ctx, r[k].params, host, r[k].n_params * 4);
            gpt2_refresh_working(&r[k]);
        }
    }
    float *pf = params_of(&full), *p0 = params_of(&r[0]), *p1 = params_of(&r[1]);
    CHECK(memcmp(pf, p0, full.n_params * 4) == 0 && memcmp(pf, p1, full.n_params * 4) == 0,
          "two half-shard updates do not reassemble to the full update");
    // The padded tail of the grads stays zero (a reduce-scatter over it must add nothing).
    float tail[64];
    size_t ntail = s[0].n_pad - full.n_params;
    REQUIRE(ntail < 64, "tail %zu", ntail);
    if (ntail) {
        kb_download(ctx, tail, r[1].grads + full.n_params, ntail * 4);
        int zero = 1;
        for (size_t i = 0; i < ntail; i++) zero &= tail[i] == 0.0f;
        CHECK(zero, "padded gradient tail is not zero");
    }
    // Moments round-trip between shard and host.
    float *hm = xmalloc(s[1].len * 4), *hv = xmalloc(s[1].len * 4);
    gpt2_get_moments(&r[1], &s[1], hm, hv);
    float *fm = xmalloc(full.n_params * 4);
    kb_download(ctx, fm, full.m, full.n_params * 4);
    CHECK(memcmp(hm, fm + s[1].off, s[1].len * 4) == 0, "shard moments differ from the full run's");
    for (size_t i = 0; i < s[1].len; i++) hm[i] = (float)i, hv[i] = (float)(2 * i);
    gpt2_set_moments(&r[1], &s[1], hm, hv);
    float *hm2 = xmalloc(s[1].len * 4), *hv2 = xmalloc(s[1].len * 4);
    gpt2_get_moments(&r[1], &s[1], hm2, hv2);
    CHECK(memcmp(hm, hm2, s[1].len * 4) == 0 && memcmp(hv, hv2, s[1].len * 4) == 0, "set/get moments");
    free(hm), free(hv), free(hm2), free(hv2), free(fm);
    free(pf), free(p0), free(p1), free(host);
    gpt2_free(&full);
    gpt2_free(&r[0]);
    gpt2_free(&r[1]);
}

static int files_equal(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    berr e;
    if (read_file(a, &x, &nx, &e) || read_file(b, &y, &ny, &e)) return 0;
    int eq = nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return eq;
}

static void test_host_checkpoint(void) {
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, B, T, 1);
    gpt2_init(&m, 11);
    for (int step = 0; step < 2; step++) {
        grads_for(&m, step);
        gpt2_update(&m, &opt, 1e-2f);
    }
    char dir[] = "/tmp/berry_zeroXXXXXX";
    REQUIRE(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
    char *p1 = xasprintf("%s/a.bin", dir), *p2 = xasprintf("%s/b.bin", dir);
    const char extra[] = "trainer state";
    berr e;
    CHECK(gpt2_save(&m, p1, 1, extra, sizeof extra, &e) == 0, "save: %s", e.msg);
    size_t n = m.n_params;
    float *hp = xmalloc(n * 4), *hm = xmalloc(n * 4), *hv = xmalloc(n * 4);
    gpt2_get_params(&m, hp);
    kb_download(ctx, hm, m.m, n * 4);
    kb_download(ctx, hv, m.v, n * 4);
    CHECK(gpt2_save_host(&cfg, m.step, hp, hm, hv, extra, sizeof extra, p2, &e) == 0, "save_host: %s", e.msg);
    CHECK(files_equal(p1, p2), "gpt2_save_host wrote different bytes than gpt2_save");

    gpt2_ckpt_info info;
    float *lp, *lm, *lv;
    void *ex;
    size_t exn;
    CHECK(gpt2_load_host(p2, &info, &lp, &lm, &lv, &ex, &exn, &e) == 0, "load_host: %s", e.msg);
    CHECK(info.step == 2 && info.has_opt && exn == sizeof extra && memcmp(ex, extra, exn) == 0, "info/extra");
    CHECK(memcmp(lp, hp, n * 4) == 0 && memcmp(lm, hm, n * 4) == 0 && memcmp(lv, hv, n * 4) == 0, "arrays");
    free(lp), free(lm), free(lv), free(ex);

    // without moments; and a corrupted file is refused with the format's message
    CHECK(gpt2_save_host(&cfg, 7, hp, NULL, NULL, NULL, 0, p2, &e) == 0, "save_host params only: %s", e.msg);
    CHECK(gpt2_load_host(p2, &info, &lp, &lm, &lv, NULL, NULL, &e) == 0 && !info.has_opt && lm == NULL && lv == NULL,
          "params-only load: %s", e.msg);
    free(lp);
    FILE *f = fopen(p2, "r+b");
    fseek(f, 300, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 300, SEEK_SET);
    fputc(ch ^ 0x5a, f);
    fclose(f);
    CHECK(gpt2_load_host(p2, &info, &lp, &lm, &lv, NULL, NULL, &e) != 0 && strstr(e.msg, "checksum"),
          "corrupt file accepted or wrong message: %s", e.msg);
    unlink(p1);
    unlink(p2);
    rmdir(dir);
    free(p1), free(p2), free(hp), free(hm), free(hv);
    gpt2_free(&m);
}

int main(void) {
    berr e;
    ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    test_partition();
    test_full_shard_equals_update();
    test_two_shards();
    test_host_checkpoint();
    kb_close(ctx);
    return test_summary();
}
