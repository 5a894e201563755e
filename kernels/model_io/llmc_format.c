// llmc_format.c — llm.c's model file <-> berry's parameter layout (see llmc_format.h).
#include "kernels/model_io/llmc_format.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/model_io/safetensors.h"  // the bf16 conversions

#define LLMC_HEADER_INTS 256
#define LLMC_HEADER_BYTES (LLMC_HEADER_INTS * 4)

int llmc_is_model(const uint8_t *first4) { return le32(first4) == LLMC_MODEL_MAGIC; }

// llm.c's tensor order, as berry tensor ids.
static const int llmc_order[] = {GPT2_WTE,  GPT2_WPE,     GPT2_LN1W,     GPT2_LN1B, GPT2_QKVW,   GPT2_QKVB,
                                 GPT2_ATTPROJW, GPT2_ATTPROJB, GPT2_LN2W, GPT2_LN2B,  GPT2_FCW,    GPT2_FCB,
                                 GPT2_FCPROJW, GPT2_FCPROJB, GPT2_LNFW, GPT2_LNFB, GPT2_HEADW, GPT2_HEADB};
#define LLMC_NT ((int)(sizeof llmc_order / sizeof llmc_order[0]))

int llmc_write_model(const char *path, const gpt2_config *c, const float *params, int bf16, berr *e) {
    if (gpt2_config_check(c, e)) return berr_wrap(e, "%s", path);
    uint8_t h[LLMC_HEADER_BYTES] = {0};
    const int hv[9] = {LLMC_MODEL_MAGIC, bf16 ? LLMC_VERSION_BF16 : LLMC_VERSION_FP32, c->maxT, c->V, c->L, c->NH,
                       c->C, c->Vp, c->n_scalar};
    for (int i = 0; i < 9; i++) put_le32(h + 4 * i, (uint32_t)hv[i]);
    size_t off[GPT2_NTENSORS], size[GPT2_NTENSORS];
    gpt2_layout(c, off, size);
    atomic_file a;
    if (atomic_open(&a, path, e)) return -1;
    int rc = atomic_write(&a, h, sizeof h, e);
    uint16_t *buf = NULL;
    size_t cap = 0;
    for (int i = 0; !rc && i < LLMC_NT; i++) {
        int t = llmc_order[i];
        if (!bf16) {
            rc = atomic_write(&a, params + off[t], size[t] * 4, e);
            continue;
        }
        if (size[t] > cap) buf = xrealloc(buf, (cap = size[t]) * 2);
        for (size_t j = 0; j < size[t]; j++) buf[j] = st_f32_to_bf16(params[off[t] + j]);
        rc = atomic_write(&a, buf, size[t] * 2, e);
    }
    free(buf);
    if (rc) {
        atomic_abort(&a);
        return -1;
    }
    return atomic_commit(&a, e);
}

int llmc_read_model(const char *path, gpt2_config *cfg, float **params, berr *e) {
    *params = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return berr_set(e, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    uint8_t h[LLMC_HEADER_BYTES];
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return berr_set(e, "%s: not a regular file", path);
    }
    size_t got = fread(h, 1, sizeof h, f);
    int rc = 0;
    if (got != sizeof h)
        rc = berr_set(e, "%s: truncated: %zu bytes, an llm.c model header needs %d", path, got, LLMC_HEADER_BYTES);
    else if (le32(h) != LLMC_MODEL_MAGIC)
        rc = berr_set(e, "%s: not an llm.c model file (magic %u at offset 0, expected %d)", path, le32(h), LLMC_MODEL_MAGIC);
    int version = rc ? 0 : (int)le32(h + 4);
    if (!rc && version != LLMC_VERSION_FP32 && version != LLMC_VERSION_BF16)
        rc = berr_set(e, "%s: llm.c model version %d at offset 4 is not supported (3 = fp32, 5 = bf16)", path, version);
    gpt2_config c = {0};
    int fVp = 0;
    if (!rc) {
        c.maxT = (int)le32(h + 8), c.V = (int)le32(h + 12), c.L = (int)le32(h + 16), c.NH = (int)le32(h + 20);
        c.C = (int)le32(h + 24), fVp = (int)le32(h + 28), c.n_scalar = (int)le32(h + 32);
        for (int i = 9; !rc && i < LLMC_HEADER_INTS; i++)
            if (le32(h + 4 * i)) rc = berr_set(e, "%s: header int %d (offset %d) is %u, expected 0", path, i, 4 * i, le32(h + 4 * i));
        if (!rc && (fVp < c.V || fVp - c.V > (1 << 20)))
            rc = berr_set(e, "%s: padded vocabulary Vp=%d at offset 28 is below V=%d (offset 12) or absurd", path, fVp, c.V);
        c.Vp = (c.V + 127) / 128 * 128;
        if (!rc && gpt2_config_check(&c, e))
            rc = berr_wrap(e, "%s: bad model config in the llm.c header (offsets 8-35)", path);
    }
    size_t esz = version == LLMC_VERSION_BF16 ? 2 : 4;
    size_t off[GPT2_NTENSORS], size[GPT2_NTENSORS], fsize[GPT2_NTENSORS];
    if (!rc) {
        gpt2_layout(&c, off, size);
        memcpy(fsize, size, sizeof size);
        fsize[GPT2_WTE] = (size_t)fVp * (size_t)c.C;
        unsigned long long want = LLMC_HEADER_BYTES;
        for (int i = 0; i < LLMC_NT; i++) want += fsize[llmc_order[i]] * esz;
        if ((unsigned long long)sb.st_size != want)
            rc = berr_set(e, "%s: file is %lld bytes but its header (L=%d C=%d V=%d Vp=%d maxT=%d heads=%d, %s) describes "
                          "%llu (truncated or trailing data)", path, (long long)sb.st_size, c.L, c.C, c.V, fVp, c.maxT,
                          c.n_scalar, esz == 2 ? "bf16" : "fp32", want);
    }
    float *p = NULL;
    if (!rc) {
        p = xcalloc(gpt2_param_count(&c), sizeof(float));
        size_t cap = 0, at = LLMC_HEADER_BYTES;
        uint8_t *buf = NULL;
        for (int i = 0; !rc && i < LLMC_NT; i++) {
            int t = llmc_order[i];
            size_t n = fsize[t];
            if (n * esz > cap) buf = xrealloc(buf, cap = n * esz);
            if (fread(buf, esz, n, f) != n) {
                rc = berr_set(e, "%s: read failed in tensor %s at offset %zu", path, gpt2_tensor_name(t), at);
                break;
            }
            size_t keep = n < size[t] ? n : size[t];  // wte: the real rows when the paddings differ
            if (t == GPT2_WTE && fVp != c.Vp) keep = (size_t)c.V * (size_t)c.C;
            if (esz == 4) memcpy(p + off[t], buf, keep * 4);
            else
                for (size_t j = 0; j < keep; j++) p[off[t] + j] = st_bf16_to_f32((uint16_t)(buf[2 * j] | buf[2 * j + 1] << 8));
            at += n * esz;
        }
        free(buf);
    }
    fclose(f);
    if (rc) {
        free(p);
        return -1;
    }
    *cfg = c;
    *params = p;
    return 0;
}
