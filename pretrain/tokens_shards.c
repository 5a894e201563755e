// tokens_shards.c — token streams over the shards library's token source (berry token shards
// and llm.c .bin files; shards/token_source.h).
#include <stdlib.h>
#include <string.h>

#include "pretrain/tokens.h"
#include "shards/token_source.h"

#define GPT2_VOCAB 50257  // llm.c's version-1 token files hold GPT-2 ids

static int src_read(void *impl, uint64_t off, size_t n, uint32_t *out, berr *e) {
    return token_source_read(impl, off, n, out, e);
}

static void src_where(void *impl, uint64_t off, char *buf, size_t size) {
    token_source *t = impl;
    for (size_t i = 0; i < token_source_files(t); i++) {
        uint64_t first, count;
        const char *name = token_source_file(t, i, &first, &count);
        if (off >= first && off - first < count) {
            snprintf(buf, size, "token %llu of %s (stream position %llu)", (unsigned long long)(off - first), name,
                      (unsigned long long)off);
            return;
        }
    }
    snprintf(buf, size, "stream position %llu", (unsigned long long)off);
}

static void src_close(void *impl) { token_source_close(impl); }

// Identifies the data without reading all of it: each file's name (without directories),
// position and token count, and its first and last 256 tokens.
static int fingerprint(token_source *t, uint64_t *fp, berr *e) {
    uint64_t h = 0;
    uint32_t buf[256];
    for (size_t i = 0; i < token_source_files(t); i++) {
        uint64_t first, count;
        const char *name = token_source_file(t, i, &first, &count);
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        h = hash64(base, strlen(base), h);
        uint64_t w[2] = {first, count};
        h = hash64(w, sizeof w, h);
        size_t k = count < 256 ? (size_t)count : 256;
        if (token_source_read(t, first, k, buf, e)) return -1;
        h = hash64(buf, k * sizeof(uint32_t), h);
        if (token_source_read(t, first + count - k, k, buf, e)) return -1;
        h = hash64(buf, k * sizeof(uint32_t), h);
    }
    *fp = h;
    return 0;
}

pt_tokens *pt_tokens_open(const char *path, berr *e) {
    token_source *src = token_source_open(&path, 1, e);
    if (!src) return NULL;
    pt_tokens *t = xcalloc(1, sizeof *t);
    t->n = token_source_count(src);
    t->name = xstrdup(path);
    t->impl = src;
    t->read = src_read;
    t->where = src_where;
    t->close = src_close;
    if (token_source_files(src) == 0) {
        pt_tokens_close(t);
        berr_set(e, "%s holds no token shards or llm.c .bin files", path);
        return NULL;
    }
    int all_llmc = 1;
    for (size_t i = 0; i < token_source_files(src); i++) {
        uint64_t first, count;
        berr e2;
        all_llmc &= llmc_tokens_sniff(token_source_file(src, i, &first, &count), &e2) == 1;
    }
    t->vocab_hint = all_llmc ? GPT2_VOCAB : 0;
    if (fingerprint(src, &t->fingerprint, e)) {
        pt_tokens_close(t);
        return NULL;
    }
    return t;
}
