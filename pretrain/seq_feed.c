// seq_feed.c — the pretraining feed: fixed-length token sequences in a seeded order (see seq_feed.h).
#include "pretrain/seq_feed.h"

#include <stdlib.h>
#include <string.h>

typedef struct seq_feed {
    pt_tokens *src;
    uint64_t base;
    int T, V, rank, world, B, accum;
    tr_order order;
    uint32_t *buf;  // T+1 tokens
} seq_feed;

static int read_item(pt_tokens *src, uint64_t base, uint64_t k, int T, int V, uint32_t *buf, int32_t *inputs,
                     int32_t *targets, berr *e) {
    uint64_t off = base + k * (uint64_t)T;
    if (pt_tokens_read(src, off, (size_t)T + 1, buf, e)) return -1;
    for (int i = 0; i <= T; i++)
        if (buf[i] >= (uint32_t)V) {
            char where[256] = "";
            if (src->where) src->where(src->impl, off + (uint64_t)i, where, sizeof where);
            return berr_set(e, "%s: token id %u at %s is outside the model's vocabulary of %d (wrong --vocab or "
                               "tokenizer for this data?)", src->name, buf[i], where, V);
        }
    for (int i = 0; i < T; i++) {
        inputs[i] = (int32_t)buf[i];
        targets[i] = (int32_t)buf[i + 1];
    }
    return 0;
}

int pt_seq_read(pt_tokens *src, uint64_t base, uint64_t k, int T, int V, int32_t *inputs, int32_t *targets, berr *e) {
    uint32_t *buf = xmalloc(((size_t)T + 1) * sizeof(uint32_t));
    int rc = read_item(src, base, k, T, V, buf, inputs, targets, e);
    free(buf);
    return rc;
}

typedef struct row_item {
    uint64_t k, row;
} row_item;

static int by_item(const void *a, const void *b) {
    uint64_t x = ((const row_item *)a)->k, y = ((const row_item *)b)->k;
    return x < y ? -1 : x > y;
}

static int seq_fill(void *impl, uint64_t cursor, tr_batch *b, berr *e) {
    seq_feed *f = impl;
    uint64_t rows = (uint64_t)f->B * f->accum, first = cursor + (uint64_t)f->rank * rows;
    // Read in stream order, not row order: sequences that share a compressed frame of a
    // shard are then decoded together (the batch itself keeps the shuffled row order).
    row_item *it = xmalloc(rows * sizeof *it);
    for (uint64_t r = 0; r < rows; r++) it[r] = (row_item){tr_order_item(&f->order, first + r), r};
    qsort(it, rows, sizeof *it, by_item);
    for (uint64_t i = 0; i < rows; i++) {
        uint64_t r = it[i].row;
        if (read_item(f->src, f->base, it[i].k, f->T, f->V, f->buf, b->inputs + r * f->T, b->targets + r * f->T, e)) {
            free(it);
            return -1;
        }
    }
    free(it);
    b->valid_local = (int64_t)(rows * (uint64_t)f->T);
    b->valid = b->valid_local * f->world;
    b->cursor = cursor;
    b->cursor_after = cursor + rows * (uint64_t)f->world;
    return 0;
}

static void seq_free(void *impl) {
    seq_feed *f = impl;
    pt_tokens_close(f->src);
    tr_order_free(&f->order);
    free(f->buf);
    free(f);
}

tr_feed pt_seq_feed(pt_tokens *src, uint64_t base, uint64_t count, int T, int V, uint64_t seed, int rank, int world,
                    int B, int accum) {
    seq_feed *f = xcalloc(1, sizeof *f);
    f->src = src;
    f->base = base;
    f->T = T;
    f->V = V;
    f->rank = rank;
    f->world = world;
    f->B = B;
    f->accum = accum;
    tr_order_init(&f->order, count, seed, 1);
    f->buf = xmalloc(((size_t)T + 1) * sizeof(uint32_t));
    return (tr_feed){f, seq_fill, seq_free};
}
