// state.c — encode/decode of the trainer state blob (see state.h).
#include "kernels/train/state.h"

#include <stdlib.h>
#include <string.h>

#define MAGIC "BERRYPTS"
#define FIXED (8 + 4 + 4 + 8 * 5 + 8 + 8 + 4)  // bytes before the options text

void tr_state_encode(const tr_state *s, bbuf *out) {
    size_t start = out->n;
    bbuf_put(out, MAGIC, 8);
    bbuf_u32(out, TR_STATE_VERSION);
    bbuf_u32(out, s->world);
    bbuf_u64(out, s->step);
    bbuf_u64(out, s->cursor);
    bbuf_u64(out, s->rng);
    bbuf_u64(out, s->tokens);
    uint64_t fl;
    memcpy(&fl, &s->flops, 8);
    bbuf_u64(out, fl);
    bbuf_u64(out, s->data_fp);
    bbuf_u64(out, s->val_fp);
    bbuf_u32(out, (uint32_t)s->opts_len);
    bbuf_put(out, s->opts, s->opts_len);
    bbuf_u64(out, hash64(out->p + start, out->n - start, 0));
}

int tr_state_decode(const void *blob, size_t len, const char *what, tr_state *s, berr *e) {
    const uint8_t *p = blob;
    memset(s, 0, sizeof *s);
    if (len < FIXED + 8) return berr_set(e, "%s: trainer state is %zu bytes, too short (not written by pretrain?)", what, len);
    if (memcmp(p, MAGIC, 8) != 0) return berr_set(e, "%s: trainer state has no pretrain magic at its offset 0 (written by another stage?)", what);
    uint32_t version = le32(p + 8);
    if (version != TR_STATE_VERSION)
        return berr_set(e, "%s: trainer state version %u is not supported (this build reads %d)", what, version, TR_STATE_VERSION);
    if (le64(p + len - 8) != hash64(p, len - 8, 0)) return berr_set(e, "%s: trainer state checksum mismatch", what);
    uint32_t olen = le32(p + FIXED - 4);
    if ((size_t)FIXED + olen + 8 != len)
        return berr_set(e, "%s: trainer state options length %u does not match its size %zu", what, olen, len);
    s->world = le32(p + 12);
    s->step = le64(p + 16);
    s->cursor = le64(p + 24);
    s->rng = le64(p + 32);
    s->tokens = le64(p + 40);
    uint64_t fl = le64(p + 48);
    memcpy(&s->flops, &fl, 8);
    s->data_fp = le64(p + 56);
    s->val_fp = le64(p + 64);
    s->opts = xmalloc(olen + 1);
    memcpy(s->opts, p + FIXED, olen);
    s->opts[olen] = 0;
    s->opts_len = olen;
    if (memchr(s->opts, 0, olen)) {
        tr_state_free(s);
        return berr_set(e, "%s: trainer state options contain a NUL byte", what);
    }
    return 0;
}

void tr_state_free(tr_state *s) {
    free(s->opts);
    s->opts = NULL;
}
