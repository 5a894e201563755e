// gpt2_ckpt.c — checkpoint files (format: kernels/CHECKPOINT.md).
//
// A 256-byte little-endian header (magic, version, config, dtype, flags, sizes, checksums),
// then fp32 parameters, optionally the AdamW moments m and v, then an opaque trainer-state
// blob. Writes are atomic; reads check every size against the file and both checksums
// before a single byte reaches the model.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gpt2.h"
#include "kernels/model_io/gpt2_interop.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint IO assumes a little-endian host"
#endif

#define CKPT_MAGIC "BERRYCKP"
#define CKPT_VERSION 1
#define CKPT_HEADER 256
#define CKPT_DTYPE_F32 1
#define CKPT_FLAG_OPT 1u
#define CKPT_CHUNK (64u << 20)

enum {  // header field offsets
    H_MAGIC = 0, H_VERSION = 8, H_HEADER_BYTES = 12, H_L = 16, H_C = 20, H_NH = 24, H_V = 28, H_VP = 32,
    H_MAXT = 36, H_NSCALAR = 40, H_DTYPE = 44, H_FLAGS = 48, H_NPARAMS = 56, H_STEP = 64, H_EXTRA = 72,
    H_PAYLOAD_HASH = 80, H_HEADER_HASH = 248
};

static int parse_header(const char *path, const uint8_t *h, long long file_size, gpt2_ckpt_info *info, berr *e) {
    if (memcmp(h + H_MAGIC, CKPT_MAGIC, 8) != 0)
        return berr_set(e, "%s: not a berry checkpoint (bad magic at offset 0)", path);
    uint32_t version = le32(h + H_VERSION);
    if (version != CKPT_VERSION)
        return berr_set(e, "%s: checkpoint format version %u at offset %d is not supported (this build reads %d)", path,
                        version, H_VERSION, CKPT_VERSION);
    if (le64(h + H_HEADER_HASH) != hash64(h, H_HEADER_HASH, 0))
        return berr_set(e, "%s: header checksum mismatch (bytes 0-%d are corrupt)", path, CKPT_HEADER - 1);
    if (le32(h + H_HEADER_BYTES) != CKPT_HEADER)
        return berr_set(e, "%s: header size %u at offset %d, expected %d", path, le32(h + H_HEADER_BYTES), H_HEADER_BYTES,
                        CKPT_HEADER);
    if (le32(h + H_DTYPE) != CKPT_DTYPE_F32)
        return berr_set(e, "%s: tensor dtype %u at offset %d is not fp32 (1)", path, le32(h + H_DTYPE), H_DTYPE);
    uint32_t flags = le32(h + H_FLAGS);
    if (flags & ~CKPT_FLAG_OPT) return berr_set(e, "%s: unknown flags 0x%x at offset %d", path, flags, H_FLAGS);
    memset(info, 0, sizeof *info);
    info->version = version;
    gpt2_config *c = &info->cfg;
    c->L = (int)le32(h + H_L);
    c->C = (int)le32(h + H_C);
    c->NH = (int)le32(h + H_NH);
    c->V = (int)le32(h + H_V);
    c->Vp = (int)le32(h + H_VP);
    c->maxT = (int)le32(h + H_MAXT);
    c->n_scalar = (int)le32(h + H_NSCALAR);
    if (gpt2_config_check(c, e)) return berr_wrap(e, "%s: bad model config in header (offsets %d-%d)", path, H_L, H_NSCALAR + 3);
    info->has_opt = (flags & CKPT_FLAG_OPT) != 0;
    info->n_params = le64(h + H_NPARAMS);
    info->step = le64(h + H_STEP);
    info->extra_bytes = le64(h + H_EXTRA);
    size_t expect = gpt2_param_count(c);
    if (info->n_params != expect)
        return berr_set(e, "%s: parameter count %llu at offset %d does not match the config (%zu)", path,
                        (unsigned long long)info->n_params, H_NPARAMS, expect);
    if (info->extra_bytes > (1ull << 40)) return berr_set(e, "%s: trainer-state size %llu at offset %d is absurd", path, (unsigned long long)info->extra_bytes, H_EXTRA);
    long long want = CKPT_HEADER + (long long)info->n_params * 4 * (info->has_opt ? 3 : 1) + (long long)info->extra_bytes;
    if (file_size >= 0 && file_size != want)
        return berr_set(e, "%s: file is %lld bytes but its header describes %lld (truncated or trailing data)", path,
                        file_size, want);
    return 0;
}

// A model file of another tool (HF safetensors, llm.c; kernels/model_io/gpt2_interop.h), told
// apart by content: 1 when path is one (info filled, or e set and *rc -1), 0 when it is not.
static int foreign_info(const char *path, gpt2_ckpt_info *info, int *rc, berr *e) {
    int fmt = gpt2_detect_format(path, e);
    if (fmt < 0) return *rc = -1, 1;
    if (fmt == GPT2_FMT_BERRY) return 0;
    memset(info, 0, sizeof *info);
    *rc = gpt2_foreign_load(path, &info->cfg, NULL, e);
    info->n_params = *rc ? 0 : gpt2_param_count(&info->cfg);
    return 1;
}

int gpt2_ckpt_info_read(const char *path, gpt2_ckpt_info *info, berr *e) {
    int frc;
    if (foreign_info(path, info, &frc, e)) return frc;
    FILE *f = fopen(path, "rb");
    if (!f) return berr_set(e, "cannot open checkpoint %s: %s", path, strerror(errno));
    uint8_t h[CKPT_HEADER];
    size_t got = fread(h, 1, CKPT_HEADER, f);
    fseek(f, 0, SEEK_END);
    long long size = ftell(f);
    fclose(f);
    if (got != CKPT_HEADER) return berr_set(e, "%s: truncated: %zu bytes, a checkpoint header needs %d", path, got, CKPT_HEADER);
    return parse_header(path, h, size, info, e);
}

int gpt2_ckpt_verify(const char *path, gpt2_ckpt_info *info, berr *e) {
    if (gpt2_ckpt_info_read(path, info, e)) return -1;
    if (info->version == 0) {  // a foreign file: reading every tensor is its check
        float *p;
        gpt2_config c;
        if (gpt2_foreign_load(path, &c, &p, e)) return -1;
        free(p);
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return berr_set(e, "cannot open checkpoint %s: %s", path, strerror(errno));
    uint8_t h[CKPT_HEADER];
    int rc = fread(h, 1, CKPT_HEADER, f) == CKPT_HEADER ? 0 : berr_set(e, "%s: read failed in the header", path);
    uint64_t left = info->n_params * 4 * (info->has_opt ? 3 : 1) + info->extra_bytes, total = left;
    size_t cap = left < CKPT_CHUNK ? (size_t)left + 1 : CKPT_CHUNK;
    char *buf = xmalloc(cap);
    hash64_stream *hs = hash64_begin(0);
    while (!rc && left) {
        size_t n = left < cap ? (size_t)left : cap;
        if (fread(buf, 1, n, f) != n)
            rc = berr_set(e, "%s: read failed at offset %llu", path, (unsigned long long)(CKPT_HEADER + total - left));
        else hash64_update(hs, buf, n);
        left -= n;
    }
    uint64_t got = hash64_end(hs);
    fclose(f);
    free(buf);
    if (!rc && got != le64(h + H_PAYLOAD_HASH))
        rc = berr_set(e, "%s: payload checksum mismatch (bytes %d-%llu are corrupt)", path, CKPT_HEADER,
                      (unsigned long long)(CKPT_HEADER + total - 1));
    return rc;
}

int gpt2_save(gpt2 *m, const char *path, int with_opt, const void *extra, size_t extra_len, berr *e) {
    if (with_opt && !m->training) return berr_set(e, "gpt2_save: %s: no optimizer state in an inference model", path);
    uint8_t h[CKPT_HEADER] = {0};
    memcpy(h + H_MAGIC, CKPT_MAGIC, 8);
    put_le32(h + H_VERSION, CKPT_VERSION);
    put_le32(h + H_HEADER_BYTES, CKPT_HEADER);
    const gpt2_config *c = &m->cfg;
    put_le32(h + H_L, c->L);
    put_le32(h + H_C, c->C);
    put_le32(h + H_NH, c->NH);
    put_le32(h + H_V, c->V);
    put_le32(h + H_VP, c->Vp);
    put_le32(h + H_MAXT, c->maxT);
    put_le32(h + H_NSCALAR, c->n_scalar);
    put_le32(h + H_DTYPE, CKPT_DTYPE_F32);
    put_le32(h + H_FLAGS, with_opt ? CKPT_FLAG_OPT : 0);
    put_le64(h + H_NPARAMS, m->n_params);
    put_le64(h + H_STEP, (uint64_t)m->step);
    put_le64(h + H_EXTRA, extra_len);

    // The payload hash goes in the header, so the payload is hashed first (from the device,
    // into one host buffer), then header and payload are written.
    float *host = xmalloc(m->n_params * 4 * (with_opt ? 3 : 1));
    kb_download(m->ctx, host, m->params, m->n_params * 4);
    if (with_opt) {
        kb_download(m->ctx, host + m->n_params, m->m, m->n_params * 4);
        kb_download(m->ctx, host + 2 * m->n_params, m->v, m->n_params * 4);
    }
    size_t nbytes = m->n_params * 4 * (with_opt ? 3 : 1);
    hash64_stream *hs = hash64_begin(0);
    hash64_update(hs, host, nbytes);
    if (extra_len) hash64_update(hs, extra, extra_len);
    put_le64(h + H_PAYLOAD_HASH, hash64_end(hs));
    put_le64(h + H_HEADER_HASH, hash64(h, H_HEADER_HASH, 0));

    atomic_file a;
    int rc = atomic_open(&a, path, e);
    if (!rc) {
        rc = atomic_write(&a, h, CKPT_HEADER, e);
        for (size_t off = 0; !rc && off < nbytes; off += CKPT_CHUNK)
            rc = atomic_write(&a, (char *)host + off, nbytes - off < CKPT_CHUNK ? nbytes - off : CKPT_CHUNK, e);
        if (!rc && extra_len) rc = atomic_write(&a, extra, extra_len, e);
        if (rc) atomic_abort(&a);
        else rc = atomic_commit(&a, e);
    }
    free(host);
    return rc;
}

int gpt2_load(gpt2 *m, const char *path, int with_opt, void **extra, size_t *extra_len, berr *e) {
    gpt2_ckpt_info info;
    if (gpt2_ckpt_info_read(path, &info, e)) return -1;
    const gpt2_config *c = &info.cfg, *mc = &m->cfg;
    float *fp = NULL;
    if (info.version == 0) {  // a foreign model file: weights only, step 0, no trainer state
        if (with_opt) return berr_set(e, "%s: a %s has no optimizer state to resume from", path,
                                      gpt2_format_name(gpt2_detect_format(path, e)));
        gpt2_config fc;
        if (gpt2_foreign_load(path, &fc, &fp, e)) return -1;
        info.cfg = fc;
    }
    if (c->L != mc->L || c->C != mc->C || c->NH != mc->NH || c->V != mc->V || c->Vp != mc->Vp || c->maxT != mc->maxT ||
        c->n_scalar != mc->n_scalar) {
        free(fp);
        return berr_set(e, "%s: checkpoint config L=%d C=%d NH=%d V=%d maxT=%d heads=%d differs from the model's "
                        "L=%d C=%d NH=%d V=%d maxT=%d heads=%d", path, c->L, c->C, c->NH, c->V, c->maxT, c->n_scalar,
                        mc->L, mc->C, mc->NH, mc->V, mc->maxT, mc->n_scalar);
    }
    if (fp) {
        gpt2_set_params(m, fp);
        m->step = 0;
        kb_sync(m->ctx);
        free(fp);
        if (extra) *extra = NULL;
        if (extra_len) *extra_len = 0;
        return 0;
    }
    int load_opt = with_opt && info.has_opt && m->training;
    if (with_opt && !info.has_opt) return berr_set(e, "%s: has no optimizer state to resume from", path);
    FILE *f = fopen(path, "rb");
    if (!f) return berr_set(e, "cannot open checkpoint %s: %s", path, strerror(errno));
    uint8_t h[CKPT_HEADER];
    size_t nsec = info.has_opt ? 3 : 1, nbytes = m->n_params * 4 * nsec;
    float *host = xmalloc(nbytes);
    char *blob = xmalloc(info.extra_bytes + 1);
    int rc = 0;
    if (fread(h, 1, CKPT_HEADER, f) != CKPT_HEADER) rc = berr_set(e, "%s: read failed in the header", path);
    for (size_t off = 0; !rc && off < nbytes; off += CKPT_CHUNK) {
        size_t n = nbytes - off < CKPT_CHUNK ? nbytes - off : CKPT_CHUNK;
        if (fread((char *)host + off, 1, n, f) != n)
            rc = berr_set(e, "%s: read failed at offset %zu", path, (size_t)CKPT_HEADER + off);
    }
    if (!rc && info.extra_bytes && fread(blob, 1, info.extra_bytes, f) != info.extra_bytes)
        rc = berr_set(e, "%s: read failed at offset %zu (trainer state)", path, (size_t)CKPT_HEADER + nbytes);
    fclose(f);
    if (!rc) {
        hash64_stream *hs = hash64_begin(0);
        hash64_update(hs, host, nbytes);
        if (info.extra_bytes) hash64_update(hs, blob, info.extra_bytes);
        if (hash64_end(hs) != le64(h + H_PAYLOAD_HASH))
            rc = berr_set(e, "%s: payload checksum mismatch (bytes %d-%llu are corrupt)", path, CKPT_HEADER,
                          (unsigned long long)(CKPT_HEADER + nbytes + info.extra_bytes - 1));
    }
    if (!rc) {
        gpt2_set_params(m, host);
        if (load_opt) {
            kb_upload(m->ctx, m->m, host + m->n_params, m->n_params * 4);
            kb_upload(m->ctx, m->v, host + 2 * m->n_params, m->n_params * 4);
        }
        m->step = (int)info.step;
        kb_sync(m->ctx);  // the host buffer is freed below
        if (extra) {
            blob[info.extra_bytes] = 0;
            *extra = blob;
            blob = NULL;
        }
        if (extra_len) *extra_len = info.extra_bytes;
    }
    free(blob);
    free(host);
    return rc;
}
