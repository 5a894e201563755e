// train_feed.c — the training batches of a reward model (see train.h, "the feed").
#include <stdlib.h>
#include <string.h>

#include "kernels/train/order.h"
#include "reward/train.h"

typedef struct rw_feed {
    const rw_examples *x;
    int targets, T, rank, world, B, accum;
    tr_order order;
} rw_feed;

// One row: tokens padded with 0, targets = label bits at the owned positions. Returns the
// positions it labels.
static int fill_row(const rw_example *ex, int targets, int T, int32_t *in, int32_t *tg) {
    for (int i = 0; i < T; i++) {
        in[i] = i < (int)ex->n ? (int32_t)ex->ids[i] : 0;
        tg[i] = -1;
    }
    int k = 0;
    for (uint32_t j = 0; j < ex->nlab; j++)
        if (ex->own[j]) {
            float y = targets == RW_TARGET_HARD ? (float)ex->hard[j] : ex->soft[j];
            tg[ex->pos[j]] = rw_label_target(y);
            k++;
        }
    return k;
}

static int feed_fill(void *impl, uint64_t cursor, tr_batch *b, berr *e) {
    rw_feed *f = impl;
    int rows = f->B * f->accum;
    uint64_t pos = cursor;
    int64_t valid = 0, valid_local = 0;
    for (int r = 0; r < f->world; r++)
        for (int i = 0; i < rows; i++) {
            const rw_example *ex = &f->x->ex[tr_order_item(&f->order, pos++)];
            if (r == f->rank) {
                int k = fill_row(ex, f->targets, f->T, b->inputs + (size_t)i * f->T, b->targets + (size_t)i * f->T);
                valid_local += k;
                valid += k;
            } else {
                for (uint32_t j = 0; j < ex->nlab; j++) valid += ex->own[j];
            }
        }
    b->valid = valid;
    b->valid_local = valid_local;
    b->cursor = cursor;
    b->cursor_after = pos;
    return 0;
}

static void feed_free(void *impl) {
    rw_feed *f = impl;
    tr_order_free(&f->order);
    free(f);
}

tr_feed rw_train_feed(const rw_examples *x, int targets, int T, uint64_t seed, int rank, int world, int B, int accum) {
    if (x->n == 0) die("rw_train_feed: no examples");
    rw_feed *f = xcalloc(1, sizeof *f);
    f->x = x;
    f->targets = targets;
    f->T = T;
    f->rank = rank;
    f->world = world;
    f->B = B;
    f->accum = accum;
    tr_order_init(&f->order, x->n, mix64(seed, 0x72657761726400ull), 1);
    return (tr_feed){f, feed_fill, feed_free};
}

int rw_batch_len(const int32_t *targets, int B, int T) {
    int last = 0;
    for (int r = 0; r < B; r++)
        for (int i = T - 1; i >= last; i--)
            if (targets[(size_t)r * T + i] >= 0) {
                last = i + 1;
                break;
            }
    int n = (last + 31) / 32 * 32;
    if (n < 32) n = 32;
    return n < T ? n : T;
}
