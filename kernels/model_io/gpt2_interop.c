// gpt2_interop.c — format detection, HF safetensors import/export, config.json (see
// gpt2_interop.h). llm.c's file is in llmc_format.c, the container in safetensors.c.
#include "kernels/model_io/gpt2_interop.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/json.h"
#include "kernels/model_io/llmc_format.h"
#include "kernels/model_io/safetensors.h"

#define HF_WEIGHTS "model.safetensors"
#define HF_CONFIG "config.json"
#define HEADS_W "berry.heads.weight"
#define HEADS_B "berry.heads.bias"
#define LN_EPS 1e-5  // berry's layernorm (kernels/cpu/cpu_layernorm.c, the CUDA kernels)

const char *gpt2_format_name(int fmt) {
    switch (fmt) {
    case GPT2_FMT_BERRY: return "berry checkpoint";
    case GPT2_FMT_HF_DIR: return "Hugging Face model directory";
    case GPT2_FMT_SAFETENSORS: return "safetensors file";
    case GPT2_FMT_LLMC: return "llm.c model file";
    }
    return "unknown format";
}

int gpt2_detect_format(const char *path, berr *e) {
    struct stat sb;
    if (stat(path, &sb)) return berr_set(e, "cannot open checkpoint %s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return GPT2_FMT_HF_DIR;
    FILE *f = fopen(path, "rb");
    if (!f) return berr_set(e, "cannot open checkpoint %s: %s", path, strerror(errno));
    uint8_t h[9] = {0};
    size_t got = fread(h, 1, 9, f);
    fclose(f);
    if (got >= 8 && memcmp(h, "BERRYCKP", 8) == 0) return GPT2_FMT_BERRY;
    if (got >= 4 && llmc_is_model(h)) return GPT2_FMT_LLMC;
    if (got == 9 && h[8] == '{' && le64(h) >= 2 && le64(h) <= (uint64_t)sb.st_size - 8) return GPT2_FMT_SAFETENSORS;
    return berr_set(e, "%s: not a berry checkpoint (bad magic at offset 0), nor an llm.c model file, a safetensors file or "
                    "a Hugging Face model directory", path);
}

// ---- config.json ------------------------------------------------------------------------------

// config.json is one document: a value's column is its byte offset + 1.
#define BYTE_AT(v) ((v)->column - 1)

static int cfg_int(const char *path, const json_value *root, const char *key, int lo, int hi, int *out, berr *e) {
    const json_value *v = json_get(root, key);
    if (!v) return 1;  // absent
    int64_t x;
    berr why;
    if (json_int(v, lo, hi, &x, &why))
        return berr_set(e, "%s: \"%s\" at byte %zu must be an integer in [%d, %d]", path, key, BYTE_AT(v), lo, hi), -1;
    *out = (int)x;
    return 0;
}

static int is_bool(const json_value *v, int want) { return v->type == (want ? JSON_TRUE : JSON_FALSE); }

typedef struct hf_cfg {
    int NH, L, C, maxT, V;  // 0 where config.json does not say
} hf_cfg;

// Reads what berry needs from a GPT-2 config.json and refuses what berry's model cannot run
// (another activation, layernorm epsilon or attention scaling would give other logits).
static int read_hf_config(const char *path, hf_cfg *c, berr *e) {
    char *text;
    size_t n;
    memset(c, 0, sizeof *c);
    if (read_file(path, &text, &n, e)) return -1;
    json_doc doc;
    int rc = json_parse(&doc, text, n, e) ? berr_wrap(e, "%s", path) : 0;
    free(text);
    if (rc) {
        json_doc_free(&doc);
        return -1;
    }
    const json_value *root = doc.root, *v;
    if (root->type != JSON_OBJECT) rc = berr_set(e, "%s: not a JSON object", path);
    if (!rc && (v = json_get(root, "model_type")) && (v->type != JSON_STRING || strcmp(v->s, "gpt2")))
        rc = berr_set(e, "%s: model_type at byte %zu is not \"gpt2\"", path, BYTE_AT(v));
    if (!rc && (v = json_get(root, "activation_function")) &&
        (v->type != JSON_STRING || (strcmp(v->s, "gelu_new") && strcmp(v->s, "gelu_pytorch_tanh"))))
        rc = berr_set(e, "%s: activation_function at byte %zu is %s%s%s; berry's GELU is the tanh form (gelu_new)", path,
                      BYTE_AT(v), v->type == JSON_STRING ? "\"" : "", v->type == JSON_STRING ? v->s : "not a string",
                      v->type == JSON_STRING ? "\"" : "");
    if (!rc && (v = json_get(root, "layer_norm_epsilon")) && (v->type != JSON_NUMBER || fabs(strtod(v->s, NULL) - LN_EPS) > 1e-12))
        rc = berr_set(e, "%s: layer_norm_epsilon at byte %zu is not 1e-05 (berry's layernorm)", path, BYTE_AT(v));
    if (!rc && (v = json_get(root, "scale_attn_by_inverse_layer_idx")) && !is_bool(v, 0))
        rc = berr_set(e, "%s: scale_attn_by_inverse_layer_idx at byte %zu: berry scales attention by 1/sqrt(head size) only",
                      path, BYTE_AT(v));
    if (!rc && (v = json_get(root, "scale_attn_weights")) && !is_bool(v, 1))
        rc = berr_set(e, "%s: scale_attn_weights at byte %zu is not true", path, BYTE_AT(v));
    if (!rc && (v = json_get(root, "n_inner")) && v->type != JSON_NULL)
        rc = berr_set(e, "%s: n_inner at byte %zu is set; berry's MLP is 4 x n_embd", path, BYTE_AT(v));
    if (!rc && (v = json_get(root, "tie_word_embeddings")) && !is_bool(v, 1))
        rc = berr_set(e, "%s: tie_word_embeddings at byte %zu is not true; berry's classifier is wte", path, BYTE_AT(v));
    if (!rc && cfg_int(path, root, "n_head", 1, 1 << 16, &c->NH, e) < 0) rc = -1;
    if (!rc && cfg_int(path, root, "n_layer", 1, 1 << 16, &c->L, e) < 0) rc = -1;
    if (!rc && cfg_int(path, root, "n_embd", 1, 1 << 20, &c->C, e) < 0) rc = -1;
    if (!rc && cfg_int(path, root, "n_positions", 1, 1 << 24, &c->maxT, e) < 0) rc = -1;
    if (!rc && cfg_int(path, root, "vocab_size", 1, 1 << 28, &c->V, e) < 0) rc = -1;
    if (!rc && !c->NH) rc = berr_set(e, "%s: has no n_head", path);
    json_doc_free(&doc);
    return rc;
}

// ---- HF import ----------------------------------------------------------------------------------

typedef struct hf_in {
    st_file s;
    char *used;  // per tensor of s: consumed by the mapping
} hf_in;

// The tensor named name, with or without the "transformer." prefix.
static const st_tensor *hf_find(hf_in *h, const char *name) {
    char buf[160];
    snprintf(buf, sizeof buf, "transformer.%s", name);
    const st_tensor *a = st_find(&h->s, buf), *b = st_find(&h->s, name);
    return a ? a : b;
}

static int hf_tensor(hf_in *h, const char *name, int64_t d0, int64_t d1, const st_tensor **out, berr *e) {
    const st_tensor *t = hf_find(h, name);
    if (!t) return berr_set(e, "%s: has no tensor '%s' (nor 'transformer.%s')", h->s.path, name, name);
    int ndim = d1 < 0 ? 1 : 2;
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        char got[96] = "", want[48];
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        if (ndim == 1) snprintf(want, sizeof want, "%lld", (long long)d0);
        else snprintf(want, sizeof want, "%lld, %lld", (long long)d0, (long long)d1);
        return berr_set(e, "%s: tensor '%s' at file offset %llu has shape [%s], the config needs [%s]", h->s.path,
                        t->name, (unsigned long long)(h->s.data_start + t->begin), got, want);
    }
    h->used[t - h->s.t] = 1;
    *out = t;
    return 0;
}

// Reads tensor name of shape (d0, d1) (d1 < 0: 1-D) into dst; transposed (HF Conv1D (in, out)
// into berry's (out, in)) when tr. params NULL: shapes are checked, nothing is read.
static int hf_get(hf_in *h, const char *name, int64_t d0, int64_t d1, int tr, float *dst, float **tmp, size_t *cap,
                  berr *e) {
    const st_tensor *t;
    if (hf_tensor(h, name, d0, d1, &t, e)) return -1;
    if (!dst) return 0;
    if (!tr) return st_read_f32(&h->s, t, dst, e);
    if (t->numel > *cap) *tmp = xrealloc(*tmp, (*cap = t->numel) * sizeof(float));
    if (st_read_f32(&h->s, t, *tmp, e)) return -1;
    for (int64_t i = 0; i < d0; i++)
        for (int64_t o = 0; o < d1; o++) dst[o * d0 + i] = (*tmp)[i * d1 + o];
    return 0;
}

static int is_ignored(const char *name) {  // causal-mask buffers of old GPT-2 files
    const char *dot = strrchr(name, '.');
    return dot && (strcmp(dot, ".bias") == 0 || strcmp(dot, ".masked_bias") == 0) && dot - name >= 5 &&
           (strncmp(dot - 5, ".attn", 5) == 0);
}

static char *dir_of(const char *path) {
    const char *sl = strrchr(path, '/');
    return sl ? xasprintf("%.*s", (int)(sl - path), path) : xstrdup(".");
}

// path: a HF directory or a safetensors file; params NULL: config and shapes only.
static int hf_import(const char *path, int is_dir, gpt2_config *cfg, float **params, berr *e) {
    char *st_path = is_dir ? xasprintf("%s/%s", path, HF_WEIGHTS) : xstrdup(path);
    char *dir = is_dir ? xstrdup(path) : dir_of(path);
    char *cfg_path = xasprintf("%s/%s", dir, HF_CONFIG);
    char *index = xasprintf("%s/%s.index.json", dir, HF_WEIGHTS);
    hf_cfg hc = {0};
    struct stat sb;
    int rc = 0, have_cfg = stat(cfg_path, &sb) == 0;
    if (is_dir && stat(st_path, &sb) != 0)
        rc = stat(index, &sb) == 0 ? berr_set(e, "%s: a sharded checkpoint (%s.index.json); berry reads one %s", path, HF_WEIGHTS, HF_WEIGHTS)
                                   : berr_set(e, "%s: a directory without %s", path, HF_WEIGHTS);
    if (!rc && is_dir && !have_cfg) rc = berr_set(e, "%s: a directory without %s (it says n_head)", path, HF_CONFIG);
    if (!rc && have_cfg && read_hf_config(cfg_path, &hc, e)) rc = -1;
    hf_in h = {0};
    if (!rc && st_open(&h.s, st_path, e)) rc = -1;
    int opened = !rc;
    if (opened) h.used = xcalloc((size_t)h.s.n + 1, 1);
    gpt2_config c = {0};
    const st_tensor *wte = NULL, *wpe = NULL;
    if (!rc) {
        wte = hf_find(&h, "wte.weight"), wpe = hf_find(&h, "wpe.weight");
        if (!wte || !wpe) rc = berr_set(e, "%s: has no wte.weight / wpe.weight (is it a GPT-2?)", st_path);
        else if (wte->ndim != 2 || wpe->ndim != 2 || wte->shape[1] != wpe->shape[1] || wte->shape[1] > (1 << 20) ||
                 wte->shape[0] > (1 << 28) || wpe->shape[0] > (1 << 24))
            rc = berr_set(e, "%s: wte.weight (file offset %llu) and wpe.weight must be (V, C) and (maxT, C)", st_path,
                          (unsigned long long)(h.s.data_start + wte->begin));
    }
    if (!rc) {
        c.V = (int)wte->shape[0], c.C = (int)wte->shape[1], c.maxT = (int)wpe->shape[0];
        c.Vp = (c.V + 127) / 128 * 128;
        const char *mh = st_meta(&h.s, "berry.n_head");
        if (hc.NH) c.NH = hc.NH;
        else if (mh) c.NH = atoi(mh);
        else rc = berr_set(e, "%s: no %s beside it and no berry.n_head in its metadata: the head count is unknown", st_path, HF_CONFIG);
        // the layer count: config.json, else the highest h.{i} present
        for (int i = 0; i < h.s.n && !hc.L; i++) {
            const char *nm = h.s.t[i].name;
            if (strncmp(nm, "transformer.", 12) == 0) nm += 12;
            if (strncmp(nm, "h.", 2) == 0) {
                int l = atoi(nm + 2);
                if (l + 1 > c.L && l < 4096) c.L = l + 1;
            }
        }
        if (hc.L) c.L = hc.L;
        const st_tensor *hw = hf_find(&h, HEADS_W);
        c.n_scalar = hw && hw->ndim == 2 ? (int)hw->shape[0] : hw ? -1 : 0;
        if (!rc && c.n_scalar < 0) rc = berr_set(e, "%s: tensor '%s' is not (n_scalar, C)", st_path, HEADS_W);
        if (!rc && ((hc.C && hc.C != c.C) || (hc.V && hc.V != c.V) || (hc.maxT && hc.maxT != c.maxT)))
            rc = berr_set(e, "%s: says n_embd=%d vocab_size=%d n_positions=%d but %s has C=%d V=%d maxT=%d", cfg_path, hc.C,
                          hc.V, hc.maxT, st_path, c.C, c.V, c.maxT);
        if (!rc && gpt2_config_check(&c, e)) rc = berr_wrap(e, "%s: the model it holds", st_path);
    }
    float *p = NULL, *tmp = NULL;
    size_t cap = 0, off[GPT2_NTENSORS], size[GPT2_NTENSORS];
    if (!rc) {
        gpt2_layout(&c, off, size);
        if (params) p = xcalloc(gpt2_param_count(&c), sizeof(float));
        int64_t C = c.C;
#define AT(t, k) (p ? p + off[t] + (size_t)(k) : NULL)
        rc = hf_get(&h, "wte.weight", c.V, C, 0, AT(GPT2_WTE, 0), &tmp, &cap, e);
        if (!rc) rc = hf_get(&h, "wpe.weight", c.maxT, C, 0, AT(GPT2_WPE, 0), &tmp, &cap, e);
        for (int l = 0; !rc && l < c.L; l++) {
            struct { const char *n; int t; int64_t d0, d1; int tr; } m[] = {
                {"ln_1.weight", GPT2_LN1W, C, -1, 0},          {"ln_1.bias", GPT2_LN1B, C, -1, 0},
                {"attn.c_attn.weight", GPT2_QKVW, C, 3 * C, 1}, {"attn.c_attn.bias", GPT2_QKVB, 3 * C, -1, 0},
                {"attn.c_proj.weight", GPT2_ATTPROJW, C, C, 1}, {"attn.c_proj.bias", GPT2_ATTPROJB, C, -1, 0},
                {"ln_2.weight", GPT2_LN2W, C, -1, 0},          {"ln_2.bias", GPT2_LN2B, C, -1, 0},
                {"mlp.c_fc.weight", GPT2_FCW, C, 4 * C, 1},    {"mlp.c_fc.bias", GPT2_FCB, 4 * C, -1, 0},
                {"mlp.c_proj.weight", GPT2_FCPROJW, 4 * C, C, 1}, {"mlp.c_proj.bias", GPT2_FCPROJB, C, -1, 0},
            };
            for (size_t k = 0; !rc && k < sizeof m / sizeof m[0]; k++) {
                char nm[96];
                snprintf(nm, sizeof nm, "h.%d.%s", l, m[k].n);
                size_t per = size[m[k].t] / (size_t)c.L;
                rc = hf_get(&h, nm, m[k].d0, m[k].d1, m[k].tr, AT(m[k].t, per * (size_t)l), &tmp, &cap, e);
            }
        }
        if (!rc) rc = hf_get(&h, "ln_f.weight", C, -1, 0, AT(GPT2_LNFW, 0), &tmp, &cap, e);
        if (!rc) rc = hf_get(&h, "ln_f.bias", C, -1, 0, AT(GPT2_LNFB, 0), &tmp, &cap, e);
        if (!rc && c.n_scalar) rc = hf_get(&h, HEADS_W, c.n_scalar, C, 0, AT(GPT2_HEADW, 0), &tmp, &cap, e);
        if (!rc && c.n_scalar) rc = hf_get(&h, HEADS_B, c.n_scalar, -1, 0, AT(GPT2_HEADB, 0), &tmp, &cap, e);
#undef AT
        const st_tensor *lm = st_find(&h.s, "lm_head.weight");
        if (!rc && lm) {  // tied: accepted only as a copy of wte
            const st_tensor *t;
            if (hf_tensor(&h, "lm_head.weight", c.V, C, &t, e)) rc = -1;
            if (!rc && p) {
                if (t->numel > cap) tmp = xrealloc(tmp, (cap = t->numel) * sizeof(float));
                if (st_read_f32(&h.s, t, tmp, e)) rc = -1;
                else if (memcmp(tmp, p + off[GPT2_WTE], t->numel * sizeof(float)))
                    rc = berr_set(e, "%s: lm_head.weight (file offset %llu) differs from wte.weight; berry ties them", st_path,
                                  (unsigned long long)(h.s.data_start + t->begin));
            }
        }
        for (int i = 0; !rc && i < h.s.n; i++)
            if (!h.used[i] && !is_ignored(h.s.t[i].name))
                rc = berr_set(e, "%s: tensor '%s' at file offset %llu is not part of a GPT-2 berry runs", st_path,
                              h.s.t[i].name, (unsigned long long)(h.s.data_start + h.s.t[i].begin));
    }
    free(tmp);
    free(h.used);
    if (opened) st_close(&h.s);
    free(st_path), free(dir), free(cfg_path), free(index);
    if (rc) {
        free(p);
        return -1;
    }
    *cfg = c;
    if (params) *params = p;
    return 0;
}

int gpt2_foreign_load(const char *path, gpt2_config *cfg, float **params, berr *e) {
    int fmt = gpt2_detect_format(path, e);
    if (fmt < 0) return -1;
    if (fmt == GPT2_FMT_BERRY) return berr_set(e, "%s: a berry checkpoint (read it with gpt2_load)", path);
    if (fmt == GPT2_FMT_LLMC) {
        float *p;
        if (llmc_read_model(path, cfg, &p, e)) return -1;
        if (params) *params = p;
        else free(p);
        return 0;
    }
    return hf_import(path, fmt == GPT2_FMT_HF_DIR, cfg, params, e);
}

// ---- HF export ----------------------------------------------------------------------------------

int gpt2_write_safetensors(const char *path, const gpt2_config *c, const float *params, int dtype, berr *e) {
    if (gpt2_config_check(c, e)) return berr_wrap(e, "%s", path);
    size_t off[GPT2_NTENSORS], size[GPT2_NTENSORS];
    gpt2_layout(c, off, size);
    int64_t C = c->C;
    int L = c->L, nt = 0, cap = 4 + 12 * L + 2;
    st_out *t = xcalloc((size_t)cap, sizeof *t);
    char **names = xcalloc((size_t)cap, sizeof *names);
    // The transposed matmul weights (berry (out, in) -> Conv1D (in, out)) in one buffer.
    size_t ntr = size[GPT2_QKVW] + size[GPT2_ATTPROJW] + size[GPT2_FCW] + size[GPT2_FCPROJW];
    float *tr = xmalloc(ntr * sizeof(float)), *trp = tr;
#define ADD(nm, dptr, d0, d1)                                                                                \
    do {                                                                                                     \
        names[nt] = nm;                                                                                      \
        t[nt] = (st_out){names[nt], dtype, (d1) < 0 ? 1 : 2, {(d0), (d1) < 0 ? 0 : (d1)}, (dptr)};          \
        nt++;                                                                                                \
    } while (0)
    ADD(xstrdup("transformer.wte.weight"), params + off[GPT2_WTE], (int64_t)c->V, C);  // the real rows only
    ADD(xstrdup("transformer.wpe.weight"), params + off[GPT2_WPE], (int64_t)c->maxT, C);
    for (int l = 0; l < L; l++) {
        struct { const char *n; int t; int64_t d0, d1; int tr; } m[] = {
            {"ln_1.weight", GPT2_LN1W, C, -1, 0},          {"ln_1.bias", GPT2_LN1B, C, -1, 0},
            {"attn.c_attn.weight", GPT2_QKVW, C, 3 * C, 1}, {"attn.c_attn.bias", GPT2_QKVB, 3 * C, -1, 0},
            {"attn.c_proj.weight", GPT2_ATTPROJW, C, C, 1}, {"attn.c_proj.bias", GPT2_ATTPROJB, C, -1, 0},
            {"ln_2.weight", GPT2_LN2W, C, -1, 0},          {"ln_2.bias", GPT2_LN2B, C, -1, 0},
            {"mlp.c_fc.weight", GPT2_FCW, C, 4 * C, 1},    {"mlp.c_fc.bias", GPT2_FCB, 4 * C, -1, 0},
            {"mlp.c_proj.weight", GPT2_FCPROJW, 4 * C, C, 1}, {"mlp.c_proj.bias", GPT2_FCPROJB, C, -1, 0},
        };
        for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
            size_t per = size[m[k].t] / (size_t)L;
            const float *src = params + off[m[k].t] + per * (size_t)l;
            if (m[k].tr) {  // src is (d1, d0) = (out, in); write (d0, d1) = (in, out)
                for (int64_t o = 0; o < m[k].d1; o++)
                    for (int64_t i = 0; i < m[k].d0; i++) trp[i * m[k].d1 + o] = src[o * m[k].d0 + i];
                src = trp;
                trp += per;
            }
            ADD(xasprintf("transformer.h.%d.%s", l, m[k].n), src, m[k].d0, m[k].d1);
        }
    }
    ADD(xstrdup("transformer.ln_f.weight"), params + off[GPT2_LNFW], C, -1);
    ADD(xstrdup("transformer.ln_f.bias"), params + off[GPT2_LNFB], C, -1);
    if (c->n_scalar) {
        ADD(xstrdup(HEADS_W), params + off[GPT2_HEADW], (int64_t)c->n_scalar, C);
        ADD(xstrdup(HEADS_B), params + off[GPT2_HEADB], (int64_t)c->n_scalar, -1);
    }
#undef ADD
    char nh[16];
    snprintf(nh, sizeof nh, "%d", c->NH);
    const char *meta[] = {"format", "pt", "berry.n_head", nh};
    int rc = st_write(path, t, nt, meta, 2, e);
    for (int i = 0; i < nt; i++) free(names[i]);
    free(names);
    free(t);
    free(tr);
    return rc;
}

static int write_text(const char *dir, const char *name, char *text, size_t len, berr *e) {
    char *p = xasprintf("%s/%s", dir, name);
    int rc = write_file_atomic(p, text, len, e);
    free(p);
    free(text);
    return rc;
}

int gpt2_write_hf_config(const char *dir, const gpt2_config *c, int bos, int eos, berr *e) {
    char bs[16] = "null", es[16] = "null", *buf = NULL;
    size_t len = 0;
    if (bos >= 0) snprintf(bs, sizeof bs, "%d", bos);
    if (eos >= 0) snprintf(es, sizeof es, "%d", eos);
    FILE *f = open_memstream(&buf, &len);
    if (!f) return berr_set(e, "open_memstream failed");
    // Dropout 0: berry trains without it, so train-mode HF matches too. berry_n_scalar is
    // informative (transformers keeps unknown keys as config attributes).
    fprintf(f,
            "{\n  \"architectures\": [\"GPT2LMHeadModel\"],\n  \"model_type\": \"gpt2\",\n"
            "  \"vocab_size\": %d,\n  \"n_positions\": %d,\n  \"n_ctx\": %d,\n  \"n_embd\": %d,\n  \"n_layer\": %d,\n"
            "  \"n_head\": %d,\n  \"n_inner\": null,\n  \"activation_function\": \"gelu_new\",\n"
            "  \"layer_norm_epsilon\": 1e-05,\n  \"resid_pdrop\": 0.0,\n  \"embd_pdrop\": 0.0,\n  \"attn_pdrop\": 0.0,\n"
            "  \"initializer_range\": 0.02,\n  \"scale_attn_weights\": true,\n  \"scale_attn_by_inverse_layer_idx\": false,\n"
            "  \"reorder_and_upcast_attn\": false,\n  \"tie_word_embeddings\": true,\n  \"use_cache\": true,\n"
            "  \"bos_token_id\": %s,\n  \"eos_token_id\": %s,\n  \"berry_n_scalar\": %d\n}\n",
            c->V, c->maxT, c->maxT, c->C, c->L, c->NH, bs, es, c->n_scalar);
    fclose(f);
    if (write_text(dir, HF_CONFIG, buf, len, e)) return -1;
    f = open_memstream(&buf, &len);
    if (!f) return berr_set(e, "open_memstream failed");
    fprintf(f, "{\n  \"bos_token_id\": %s,\n  \"eos_token_id\": %s,\n  \"pad_token_id\": %s,\n  \"max_length\": %d,\n"
               "  \"do_sample\": false\n}\n", bs, es, es, c->maxT);
    fclose(f);
    return write_text(dir, "generation_config.json", buf, len, e);
}
