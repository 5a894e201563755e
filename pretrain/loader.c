// loader.c — the reader thread with two batch buffers, and the pretraining feed.
#include "pretrain/loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// ---- pretraining feed ----------------------------------------------------------------------------

typedef struct seq_feed {
    pt_tokens *src;
    uint64_t base;
    int T, V, rank, world, B, accum;
    pt_order order;
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

static int seq_fill(void *impl, uint64_t cursor, pt_batch *b, berr *e) {
    seq_feed *f = impl;
    uint64_t rows = (uint64_t)f->B * f->accum, first = cursor + (uint64_t)f->rank * rows;
    // Read in stream order, not row order: sequences that share a compressed frame of a
    // shard are then decoded together (the batch itself keeps the shuffled row order).
    row_item *it = xmalloc(rows * sizeof *it);
    for (uint64_t r = 0; r < rows; r++) it[r] = (row_item){pt_order_item(&f->order, first + r), r};
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
    pt_order_free(&f->order);
    free(f->buf);
    free(f);
}

pt_feed pt_seq_feed(pt_tokens *src, uint64_t base, uint64_t count, int T, int V, uint64_t seed, int rank, int world,
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
    pt_order_init(&f->order, count, seed, 1);
    f->buf = xmalloc(((size_t)T + 1) * sizeof(uint32_t));
    return (pt_feed){f, seq_fill, seq_free};
}

// ---- the reader thread -----------------------------------------------------------------------------

enum { SLOT_EMPTY, SLOT_READY, SLOT_IN_USE };

typedef struct slot {
    pt_batch b;
    int state;
    int failed;
    berr err;
} slot;

struct pt_loader {
    pt_feed feed;
    int threaded;
    slot slots[2];
    int next_fill, next_take, held;  // held: slot the consumer has, or -1
    uint64_t cursor;                 // where the next fill starts
    int stop, failed;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void fill_slot(pt_loader *l, slot *s) {
    s->failed = l->feed.fill(l->feed.impl, l->cursor, &s->b, &s->err) != 0;
    if (!s->failed) l->cursor = s->b.cursor_after;
}

static void *reader_main(void *arg) {
    pt_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        slot *s = &l->slots[l->next_fill];
        while (!l->stop && s->state != SLOT_EMPTY) pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop) break;
        pthread_mutex_unlock(&l->mu);
        fill_slot(l, s);  // the slot is the thread's alone while EMPTY
        pthread_mutex_lock(&l->mu);
        s->state = SLOT_READY;
        l->next_fill ^= 1;
        pthread_cond_broadcast(&l->cv);
        if (s->failed) break;  // the consumer reports it; nothing after a failure is read
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

pt_loader *pt_loader_start(pt_feed feed, int accum, int B, int T, uint64_t cursor, int threaded) {
    pt_loader *l = xcalloc(1, sizeof *l);
    l->feed = feed;
    l->threaded = threaded;
    l->cursor = cursor;
    l->held = -1;
    size_t n = (size_t)accum * B * T;
    for (int i = 0; i < 2; i++) {
        pt_batch *b = &l->slots[i].b;
        b->accum = accum;
        b->B = B;
        b->T = T;
        b->inputs = xmalloc(n * sizeof(int32_t));
        b->targets = xmalloc(n * sizeof(int32_t));
        l->slots[i].state = SLOT_EMPTY;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (threaded && pthread_create(&l->thread, NULL, reader_main, l) != 0) die("pretrain: cannot start the reader thread");
    return l;
}

int pt_loader_next(pt_loader *l, const pt_batch **out, double *waited, berr *e) {
    double t0 = now_sec();
    if (l->failed) return berr_set(e, "data loader stopped after an earlier error");
    if (!l->threaded) {
        slot *s = &l->slots[0];
        fill_slot(l, s);
        if (waited) *waited = now_sec() - t0;
        if (s->failed) {
            l->failed = 1;
            *e = s->err;
            return -1;
        }
        *out = &s->b;
        return 0;
    }
    pthread_mutex_lock(&l->mu);
    if (l->held >= 0) {
        l->slots[l->held].state = SLOT_EMPTY;
        l->held = -1;
        pthread_cond_broadcast(&l->cv);
    }
    slot *s = &l->slots[l->next_take];
    while (s->state != SLOT_READY) pthread_cond_wait(&l->cv, &l->mu);
    s->state = SLOT_IN_USE;
    l->held = l->next_take;
    l->next_take ^= 1;
    pthread_mutex_unlock(&l->mu);
    if (waited) *waited = now_sec() - t0;
    if (s->failed) {
        l->failed = 1;
        *e = s->err;
        return -1;
    }
    *out = &s->b;
    return 0;
}

void pt_loader_stop(pt_loader *l) {
    if (!l) return;
    if (l->threaded) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    for (int i = 0; i < 2; i++) {
        free(l->slots[i].b.inputs);
        free(l->slots[i].b.targets);
    }
    if (l->feed.free) l->feed.free(l->feed.impl);
    free(l);
}
