// tokens.c — the generic part of token streams and the in-memory one (see tokens.h).
#include "pretrain/tokens.h"

#include <stdlib.h>
#include <string.h>

int pt_tokens_read(pt_tokens *t, uint64_t off, size_t n, uint32_t *out, berr *e) {
    if (off > t->n || n > t->n - off)
        return berr_set(e, "%s: tokens [%llu, %llu) are past its end (%llu tokens)", t->name, (unsigned long long)off,
                        (unsigned long long)(off + n), (unsigned long long)t->n);
    return t->read(t->impl, off, n, out, e);
}

void pt_tokens_close(pt_tokens *t) {
    if (!t) return;
    if (t->close) t->close(t->impl);
    free(t->name);
    free(t);
}

static int array_read(void *impl, uint64_t off, size_t n, uint32_t *out, berr *e) {
    memcpy(out, (const uint32_t *)impl + off, n * sizeof(uint32_t));
    return 0;
}

static void array_where(void *impl, uint64_t off, char *buf, size_t size) {
    snprintf(buf, size, "token %llu", (unsigned long long)off);
}

pt_tokens *pt_tokens_from_array(const uint32_t *ids, uint64_t n, const char *name) {
    pt_tokens *t = xcalloc(1, sizeof *t);
    uint32_t *copy = xmalloc((n ? n : 1) * sizeof(uint32_t));
    memcpy(copy, ids, n * sizeof(uint32_t));
    t->n = n;
    t->fingerprint = hash64(copy, n * sizeof(uint32_t), 0);
    t->name = xstrdup(name);
    t->impl = copy;
    t->read = array_read;
    t->where = array_where;
    t->close = free;
    return t;
}

typedef struct mem_tokens {
    pt_tokens *src;  // for where()
    uint16_t *u16;
    uint32_t *u32;
} mem_tokens;

static int mem_read(void *impl, uint64_t off, size_t n, uint32_t *out, berr *e) {
    mem_tokens *m = impl;
    if (m->u32) memcpy(out, m->u32 + off, n * sizeof(uint32_t));
    else
        for (size_t i = 0; i < n; i++) out[i] = m->u16[off + i];
    return 0;
}

static void mem_where(void *impl, uint64_t off, char *buf, size_t size) {
    mem_tokens *m = impl;
    if (m->src->where) m->src->where(m->src->impl, off, buf, size);
    else snprintf(buf, size, "token %llu", (unsigned long long)off);
}

static void mem_close(void *impl) {
    mem_tokens *m = impl;
    pt_tokens_close(m->src);
    free(m->u16);
    free(m->u32);
    free(m);
}

pt_tokens *pt_tokens_in_memory(pt_tokens *src, uint64_t n, int V, berr *e) {
    mem_tokens *m = xcalloc(1, sizeof *m);
    m->src = src;
    pt_tokens *t = xcalloc(1, sizeof *t);
    t->n = n;
    t->fingerprint = src->fingerprint;
    t->vocab_hint = src->vocab_hint;
    t->name = xstrdup(src->name);
    t->impl = m;
    t->read = mem_read;
    t->where = mem_where;
    t->close = mem_close;
    if (V <= 65536) m->u16 = xmalloc((n ? n : 1) * sizeof(uint16_t));
    else m->u32 = xmalloc((n ? n : 1) * sizeof(uint32_t));
    const size_t chunk = 1 << 20;
    uint32_t *buf = xmalloc(chunk * sizeof(uint32_t));
    double t0 = now_sec(), last = t0;
    for (uint64_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? (size_t)(n - off) : chunk;
        if (pt_tokens_read(src, off, k, buf, e)) goto fail;
        for (size_t i = 0; i < k; i++) {
            if (buf[i] >= (uint32_t)V) {
                char where[256] = "";
                mem_where(m, off + i, where, sizeof where);
                berr_set(e, "%s: token id %u at %s is outside the model's vocabulary of %d (wrong --vocab or "
                            "tokenizer for this data?)", src->name, buf[i], where, V);
                goto fail;
            }
            if (m->u32) m->u32[off + i] = buf[i];
            else m->u16[off + i] = (uint16_t)buf[i];
        }
        if (now_sec() - last > 5) {
            last = now_sec();
            fprintf(stderr, "reading %s into memory: %.1f%% (%.0f s)\n", src->name, 100.0 * (double)(off + k) / (double)n,
                    last - t0);
        }
    }
    free(buf);
    return t;
fail:
    free(buf);
    pt_tokens_close(t);
    return NULL;
}
