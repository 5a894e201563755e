// loader.c — the reader thread with two batch buffers (see loader.h).
#include "kernels/train/loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// ---- the reader thread -----------------------------------------------------------------------------

enum { SLOT_EMPTY, SLOT_READY, SLOT_IN_USE };

typedef struct slot {
    tr_batch b;
    int state;
    int failed;
    berr err;
} slot;

struct tr_loader {
    tr_feed feed;
    int threaded;
    slot slots[2];
    int next_fill, next_take, held;  // held: slot the consumer has, or -1
    uint64_t cursor;                 // where the next fill starts
    int stop, failed;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void fill_slot(tr_loader *l, slot *s) {
    s->failed = l->feed.fill(l->feed.impl, l->cursor, &s->b, &s->err) != 0;
    if (!s->failed) l->cursor = s->b.cursor_after;
}

static void *reader_main(void *arg) {
    tr_loader *l = arg;
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

tr_loader *tr_loader_start(tr_feed feed, int accum, int B, int T, uint64_t cursor, int threaded) {
    tr_loader *l = xcalloc(1, sizeof *l);
    l->feed = feed;
    l->threaded = threaded;
    l->cursor = cursor;
    l->held = -1;
    size_t n = (size_t)accum * B * T;
    for (int i = 0; i < 2; i++) {
        tr_batch *b = &l->slots[i].b;
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

int tr_loader_next(tr_loader *l, const tr_batch **out, double *waited, berr *e) {
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

void tr_loader_stop(tr_loader *l) {
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
