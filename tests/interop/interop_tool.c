// interop_tool.c — the test helper of tests/interop: compares model files of any format berry
// reads, dumps berry's CPU logits, decodes greedily, and fuzzes a file's reader.
//   interop_tool same A B [--bf16]   configs equal and every parameter bit-identical (--bf16: B
//                                    holds A rounded to bf16, nearest even); wte padding rows
//                                    are compared too
//   interop_tool logits CKPT OUT T1 T2 ...   fp32 logits (T x V, row-major) of one sequence
//   interop_tool greedy CKPT N T1 T2 ...     prints N greedy tokens after the prompt (argmax,
//                                            lowest id on ties), by full recompute
//   interop_tool heads LM OUT N      OUT: LM with N scalar heads (seeded N(0, 0.02) weights, and
//                                    biases set to 0.01·(h+1) so that they are not all zero)
//   interop_tool encode TOK.bpe      berry's ids of standard input (one text), space-separated
//   interop_tool fuzz FILE N SEED    N mutated copies (byte flips in the first 4 KiB, random
//                                    truncations): no crash, every refusal names the copy,
//                                    every truncation refused; prints "N passed, M failed"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/gpt2.h"
#include "kernels/model_io/safetensors.h"
#include "shards/tokenizer.h"

static int load(const char *path, gpt2_ckpt_info *info, float **p) {
    berr e;
    float *m, *v;
    if (gpt2_load_host(path, info, p, &m, &v, NULL, NULL, &e)) {
        fprintf(stderr, "interop_tool: %s\n", e.msg);
        return -1;
    }
    free(m), free(v);
    return 0;
}

static int cmd_same(int argc, char **argv) {
    if (argc < 4) return 2;
    int bf16 = argc > 4 && strcmp(argv[4], "--bf16") == 0;
    gpt2_ckpt_info a, b;
    float *pa, *pb;
    if (load(argv[2], &a, &pa) || load(argv[3], &b, &pb)) return 1;
    const gpt2_config *x = &a.cfg, *y = &b.cfg;
    if (x->L != y->L || x->C != y->C || x->NH != y->NH || x->V != y->V || x->Vp != y->Vp || x->maxT != y->maxT ||
        x->n_scalar != y->n_scalar) {
        fprintf(stderr, "configs differ: L=%d/%d C=%d/%d NH=%d/%d V=%d/%d maxT=%d/%d heads=%d/%d\n", x->L, y->L, x->C,
                y->C, x->NH, y->NH, x->V, y->V, x->maxT, y->maxT, x->n_scalar, y->n_scalar);
        return 1;
    }
    size_t n = gpt2_param_count(x), bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        float want = bf16 ? st_bf16_to_f32(st_f32_to_bf16(pa[i])) : pa[i];
        if (memcmp(&want, &pb[i], 4)) {
            if (!bad) first = i;
            bad++;
        }
    }
    if (bad) fprintf(stderr, "%zu of %zu parameters differ (first at %zu: %.9g vs %.9g)\n", bad, n, first, pa[first], pb[first]);
    else printf("identical: %zu parameters%s\n", n, bf16 ? " (bf16-rounded)" : "");
    free(pa), free(pb);
    return bad ? 1 : 0;
}

static int build(const char *path, gpt2 *m, kb_ctx **ctx, int T) {
    gpt2_ckpt_info info;
    float *p;
    berr e;
    if (load(path, &info, &p)) return -1;
    *ctx = kb_open(KB_CPU, 0, &e);
    if (!*ctx) return fprintf(stderr, "%s\n", e.msg), -1;
    if (T > info.cfg.maxT) return fprintf(stderr, "%d tokens exceed the context %d\n", T, info.cfg.maxT), -1;
    gpt2_build(m, *ctx, &info.cfg, 1, info.cfg.maxT, 0);
    gpt2_set_params(m, p);
    kb_sync(*ctx);
    free(p);
    return 0;
}

static int cmd_logits(int argc, char **argv) {
    if (argc < 5) return 2;
    int T = argc - 4;
    int32_t *tok = xmalloc((size_t)T * 4), *rows = xmalloc((size_t)T * 4);
    for (int i = 0; i < T; i++) tok[i] = atoi(argv[4 + i]), rows[i] = i;
    gpt2 m;
    kb_ctx *ctx;
    if (build(argv[2], &m, &ctx, T)) return 1;
    int V = m.cfg.V, Vp = m.cfg.Vp;
    for (int i = 0; i < T; i++)
        if (tok[i] < 0 || tok[i] >= V) return fprintf(stderr, "token %d out of range\n", tok[i]), 1;
    float *lg = xmalloc((size_t)T * (size_t)Vp * 4);
    gpt2_logits(&m, tok, 1, T, rows, T, lg);
    FILE *f = fopen(argv[3], "wb");
    if (!f) return perror(argv[3]), 1;
    for (int i = 0; i < T; i++) fwrite(lg + (size_t)i * Vp, 4, (size_t)V, f);  // the real vocabulary only
    fclose(f);
    printf("logits: %d x %d\n", T, V);
    free(lg), free(tok), free(rows);
    gpt2_free(&m);
    kb_close(ctx);
    return 0;
}

static int cmd_greedy(int argc, char **argv) {
    if (argc < 5) return 2;
    int N = atoi(argv[3]), T0 = argc - 4, T = T0 + N;
    int32_t *tok = xmalloc((size_t)T * 4);
    for (int i = 0; i < T0; i++) tok[i] = atoi(argv[4 + i]);
    gpt2 m;
    kb_ctx *ctx;
    if (build(argv[2], &m, &ctx, T)) return 1;
    float *lg = xmalloc((size_t)m.cfg.Vp * 4);
    for (int t = T0; t < T; t++) {
        int32_t row = t - 1;
        gpt2_logits(&m, tok, 1, t, &row, 1, lg);
        int best = 0;
        for (int j = 1; j < m.cfg.V; j++)
            if (lg[j] > lg[best]) best = j;
        tok[t] = best;
    }
    for (int t = T0; t < T; t++) printf("%s%d", t > T0 ? " " : "", tok[t]);
    printf("\n");
    free(lg), free(tok);
    gpt2_free(&m);
    kb_close(ctx);
    return 0;
}

static int cmd_fuzz(int argc, char **argv) {
    if (argc < 5) return 2;
    berr e;
    char *buf;
    size_t len;
    if (read_file(argv[2], &buf, &len, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    int N = atoi(argv[3]), pass = 0, fail = 0, refused = 0, loaded = 0;
    uint64_t s = (uint64_t)atoll(argv[4]);
    char *tmp = xasprintf("%s.fuzz.%d", argv[2], (int)getpid());
    char *mut = xmalloc(len + 1);
    for (int i = 0; i < N; i++) {
        memcpy(mut, buf, len);
        size_t n = len;
        int trunc = rng_next(&s) % 3 == 0;
        if (trunc) n = (size_t)(rng_next(&s) % len);
        else {
            size_t span = len < 4096 ? len : 4096;
            int flips = 1 + (int)(rng_next(&s) % 4);
            for (int k = 0; k < flips; k++) mut[rng_next(&s) % span] ^= (char)(1u << (rng_next(&s) % 8));
        }
        if (write_file_atomic(tmp, mut, n, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        gpt2_ckpt_info info;
        float *p = NULL, *m = NULL, *v = NULL;
        int rc = gpt2_load_host(tmp, &info, &p, &m, &v, NULL, NULL, &e);
        free(p), free(m), free(v);
        if (rc) {
            refused++;
            if (!strstr(e.msg, tmp)) fail++, fprintf(stderr, "FAIL: refusal does not name the file: %s\n", e.msg);
            else pass++;
        } else {
            loaded++;
            if (trunc) fail++, fprintf(stderr, "FAIL: a copy truncated to %zu of %zu bytes was loaded\n", n, len);
            else pass++;
        }
        if (i < 3 && rc) printf("e.g. %s\n", e.msg);
    }
    unlink(tmp);
    printf("fuzz %s: %d mutations, %d refused, %d loaded (flips in tensor data or in free text load)\n", argv[2], N,
           refused, loaded);
    printf("%d passed, %d failed\n", pass, fail);
    free(tmp), free(mut), free(buf);
    return fail ? 1 : 0;
}

static int cmd_heads(int argc, char **argv) {
    if (argc < 5) return 2;
    gpt2_ckpt_info info;
    berr e;
    if (gpt2_ckpt_info_read(argv[2], &info, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    info.cfg.n_scalar = atoi(argv[4]);
    kb_ctx *ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) return fprintf(stderr, "%s\n", e.msg), 1;
    gpt2 m;
    gpt2_build(&m, ctx, &info.cfg, 1, info.cfg.maxT, 0);
    if (gpt2_load_trunk(&m, argv[2], 7, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    float *p = xmalloc(m.n_params * 4);
    gpt2_get_params(&m, p);
    for (int h = 0; h < info.cfg.n_scalar; h++) p[m.off[GPT2_HEADB] + (size_t)h] = 0.01f * (float)(h + 1);
    int rc = gpt2_save_host(&info.cfg, 0, p, NULL, NULL, NULL, 0, argv[3], &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    free(p);
    gpt2_free(&m);
    kb_close(ctx);
    return rc ? 1 : 0;
}

static int cmd_encode(int argc, char **argv) {
    if (argc < 3) return 2;
    berr e;
    bpe *t = bpe_load(argv[2], &e);
    if (!t) return fprintf(stderr, "%s\n", e.msg), 1;
    bbuf in = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) bbuf_put(&in, chunk, n);
    uint32_t *ids;
    size_t k = bpe_encode(t, (const char *)in.p, in.n, &ids);
    for (size_t i = 0; i < k; i++) printf("%s%u", i ? " " : "", ids[i]);
    printf("\n");
    free(ids);
    bbuf_free(&in);
    bpe_free(t);
    return 0;
}

int main(int argc, char **argv) {
    int rc = 2;
    if (argc >= 2 && strcmp(argv[1], "same") == 0) rc = cmd_same(argc, argv);
    else if (argc >= 2 && strcmp(argv[1], "logits") == 0) rc = cmd_logits(argc, argv);
    else if (argc >= 2 && strcmp(argv[1], "greedy") == 0) rc = cmd_greedy(argc, argv);
    else if (argc >= 2 && strcmp(argv[1], "heads") == 0) rc = cmd_heads(argc, argv);
    else if (argc >= 2 && strcmp(argv[1], "encode") == 0) rc = cmd_encode(argc, argv);
    else if (argc >= 2 && strcmp(argv[1], "fuzz") == 0) rc = cmd_fuzz(argc, argv);
    if (rc == 2) fprintf(stderr, "usage: interop_tool same A B [--bf16] | logits CKPT OUT T... | greedy CKPT N T... | heads LM OUT N | encode TOK | fuzz FILE N SEED\n");
    return rc;
}
