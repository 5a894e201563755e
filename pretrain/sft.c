// sft.c — SFT examples, row packing with prompt masking, and the SFT feed (see sft.h).
#include "pretrain/sft.h"

#include <stdlib.h>
#include <string.h>

#include "shards/problem_set.h"

int pt_examples_add(pt_examples *x, const problem_rec *p, const bpe *tok, int eot, uint32_t max_len, int drop_long,
                    berr *e) {
    if (!p->solution || !*p->solution)
        return berr_set(e, "problem %016llx has no worked solution to train on", (unsigned long long)p->id);
    uint32_t *pi = NULL, *si = NULL;
    size_t np = bpe_encode(tok, p->prompt, strlen(p->prompt), &pi);
    size_t ns = bpe_encode(tok, p->solution, strlen(p->solution), &si);
    size_t n = np + ns + 1;
    if (n > max_len) {
        free(pi);
        free(si);
        if (drop_long) {
            x->dropped++;
            return 0;
        }
        return berr_set(e, "problem %016llx: prompt + solution is %zu tokens, longer than a sequence of %u "
                           "(--seq-len %u); raise --seq-len or pass --sft-drop-long to leave such problems out",
                        (unsigned long long)p->id, n, max_len, max_len - 1);
    }
    if (np == 0) {
        free(pi);
        free(si);
        return berr_set(e, "problem %016llx has an empty prompt", (unsigned long long)p->id);
    }
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 256;
        x->ex = xrealloc(x->ex, x->cap * sizeof *x->ex);
    }
    pt_example *ex = &x->ex[x->n++];
    ex->problem_id = p->id;
    ex->n = (uint32_t)n;
    ex->n_prompt = (uint32_t)np;
    ex->ids = xmalloc(n * sizeof(uint32_t));
    memcpy(ex->ids, pi, np * sizeof(uint32_t));
    memcpy(ex->ids + np, si, ns * sizeof(uint32_t));
    ex->ids[n - 1] = (uint32_t)eot;
    free(pi);
    free(si);
    x->tokens += n;
    uint64_t h[3] = {p->id, np, hash64(ex->ids, n * sizeof(uint32_t), 0)};
    x->fingerprint = hash64(h, sizeof h, x->fingerprint);
    return 0;
}

void pt_examples_free(pt_examples *x) {
    for (uint64_t i = 0; i < x->n; i++) free(x->ex[i].ids);
    free(x->ex);
    memset(x, 0, sizeof *x);
}

int pt_sft_pack_row(const pt_examples *x, tr_order *order, uint64_t *pos, uint64_t limit, int T, int eot,
                    uint32_t *tok, uint8_t *keep) {
    int used = 0, kept = 0;
    // Every example fits an empty row (max_len = T+1), so a row takes at least one.
    while (*pos < limit) {
        const pt_example *ex = &x->ex[tr_order_item(order, *pos)];
        if (used + (int)ex->n > T + 1) break;
        memcpy(tok + used, ex->ids, ex->n * sizeof(uint32_t));
        memset(keep + used, 0, ex->n_prompt);
        memset(keep + used + ex->n_prompt, 1, ex->n - ex->n_prompt);
        used += (int)ex->n;
        (*pos)++;
    }
    for (int i = used; i <= T; i++) {
        tok[i] = (uint32_t)eot;
        keep[i] = 0;
    }
    for (int i = 1; i <= T; i++) kept += keep[i];  // targets are tokens 1..T
    return kept;
}

void pt_sft_row_io(const uint32_t *tok, const uint8_t *keep, int T, int32_t *inputs, int32_t *targets) {
    for (int i = 0; i < T; i++) {
        inputs[i] = (int32_t)tok[i];
        targets[i] = keep[i + 1] ? (int32_t)tok[i + 1] : -1;
    }
}

typedef struct sft_feed {
    const pt_examples *x;
    int T, eot, rank, world, B, accum;
    tr_order order;
    uint32_t *tok;
    uint8_t *keep;
} sft_feed;

static int sft_fill(void *impl, uint64_t cursor, tr_batch *b, berr *e) {
    sft_feed *f = impl;
    int rows = f->B * f->accum;
    uint64_t pos = cursor;
    int64_t valid = 0, valid_local = 0;
    for (int r = 0; r < f->world; r++)
        for (int i = 0; i < rows; i++) {
            int kept = pt_sft_pack_row(f->x, &f->order, &pos, UINT64_MAX, f->T, f->eot, f->tok, f->keep);
            valid += kept;
            if (r == f->rank) {
                pt_sft_row_io(f->tok, f->keep, f->T, b->inputs + (size_t)i * f->T, b->targets + (size_t)i * f->T);
                valid_local += kept;
            }
        }
    b->valid = valid;
    b->valid_local = valid_local;
    b->cursor = cursor;
    b->cursor_after = pos;
    return 0;
}

static void sft_free(void *impl) {
    sft_feed *f = impl;
    tr_order_free(&f->order);
    free(f->tok);
    free(f->keep);
    free(f);
}

tr_feed pt_sft_feed(const pt_examples *x, int T, int eot, uint64_t seed, int rank, int world, int B, int accum) {
    if (x->n == 0) die("pt_sft_feed: no examples");
    sft_feed *f = xcalloc(1, sizeof *f);
    f->x = x;
    f->T = T;
    f->eot = eot;
    f->rank = rank;
    f->world = world;
    f->B = B;
    f->accum = accum;
    tr_order_init(&f->order, x->n, seed, 1);
    f->tok = xmalloc(((size_t)T + 1) * sizeof(uint32_t));
    f->keep = xmalloc((size_t)T + 1);
    return (tr_feed){f, sft_fill, sft_free};
}

int pt_examples_load_dir(pt_examples *x, const char *dir, uint32_t split, const bpe *tok, int eot, uint32_t max_len,
                         int drop_long, berr *e) {
    problem_set ps;
    if (problem_set_load(&ps, dir, (int)split, 1, e)) return -1;
    int rc = 0;
    for (size_t i = 0; !rc && i < ps.n; i++) rc = pt_examples_add(x, &ps.items[i], tok, eot, max_len, drop_long, e);
    if (rc) berr_wrap(e, "%s", dir);
    problem_set_free(&ps);
    return rc;
}
