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
