// kvcache.c — KV block manager, prefix tree and LRU eviction; see kvcache.h.
#include "rollout/kvcache.h"

#include <stdlib.h>
#include <string.h>

// ---- idle-leaf heap, ordered by (tick, id) so eviction order is deterministic ----------------

static int heap_less(const kv_cache *c, int a, int b) {
    return c->tick[a] < c->tick[b] || (c->tick[a] == c->tick[b] && a < b);
}

static void heap_set(kv_cache *c, int i, int b) {
    c->heap[i] = b;
    c->heap_pos[b] = i;
}

static void heap_up(kv_cache *c, int i) {
    int b = c->heap[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!heap_less(c, b, c->heap[p])) break;
        heap_set(c, i, c->heap[p]);
        i = p;
    }
    heap_set(c, i, b);
}

static void heap_down(kv_cache *c, int i) {
    int b = c->heap[i];
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        int mb = b;
        if (l < c->nheap && heap_less(c, c->heap[l], mb)) m = l, mb = c->heap[l];
        if (r < c->nheap && heap_less(c, c->heap[r], mb)) m = r, mb = c->heap[r];
        if (m == i) break;
        heap_set(c, i, mb);
        i = m;
    }
    heap_set(c, i, b);
}

static void heap_push(kv_cache *c, int b) {
    heap_set(c, c->nheap++, b);
    heap_up(c, c->nheap - 1);
}

static void heap_remove(kv_cache *c, int b) {
    int i = c->heap_pos[b];
    if (i < 0) return;
    c->heap_pos[b] = -1;
    int last = c->heap[--c->nheap];
    if (i == c->nheap) return;
    heap_set(c, i, last);
    heap_up(c, i);
    heap_down(c, c->heap_pos[last]);
}

// ---- setup ------------------------------------------------------------------------------------

void kvc_init(kv_cache *c, int nblocks, int bs, int caching) {
    if (nblocks < 1 || bs < 1) die("kvc_init: %d blocks of %d positions", nblocks, bs);
    memset(c, 0, sizeof *c);
    c->nblocks = nblocks;
    c->bs = bs;
    c->caching = caching;
    size_t n = (size_t)nblocks;
    c->ref = xcalloc(n, sizeof *c->ref);
    c->cached = xcalloc(n, 1);
    c->parent = xcalloc(n, sizeof *c->parent);
    c->version = xcalloc(n, sizeof *c->version);
    c->tokens = xcalloc(n * bs, sizeof *c->tokens);
    c->nchild = xcalloc(n, sizeof *c->nchild);
    c->key = xcalloc(n, sizeof *c->key);
    c->next = xcalloc(n, sizeof *c->next);
    uint32_t nb = 16;
    while (nb < 2 * n) nb *= 2;
    c->bucket = xmalloc(nb * sizeof *c->bucket);
    for (uint32_t i = 0; i < nb; i++) c->bucket[i] = -1;
    c->bucket_mask = nb - 1;
    c->free_list = xmalloc(n * sizeof *c->free_list);
    for (int i = 0; i < nblocks; i++) c->free_list[i] = nblocks - 1 - i;  // block 0 is handed out first
    c->nfree = nblocks;
    c->tick = xcalloc(n, sizeof *c->tick);
    c->heap = xmalloc(n * sizeof *c->heap);
    c->heap_pos = xmalloc(n * sizeof *c->heap_pos);
    for (int i = 0; i < nblocks; i++) c->heap_pos[i] = -1;
}

void kvc_free(kv_cache *c) {
    void *p[] = {c->ref, c->cached, c->parent, c->version, c->tokens, c->nchild, c->key, c->next,
                 c->bucket, c->free_list, c->tick, c->heap, c->heap_pos};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
    memset(c, 0, sizeof *c);
}

// ---- references ---------------------------------------------------------------------------------

int kvc_alloc(kv_cache *c) {
    if (c->nfree == 0 && !kvc_evict_one(c)) return -1;
    int b = c->free_list[--c->nfree];
    c->ref[b] = 1;
    if (++c->in_use > c->peak_in_use) c->peak_in_use = c->in_use;
    return b;
}

void kvc_ref(kv_cache *c, int b) {
    if (b < 0 || b >= c->nblocks) die("kvc_ref: block %d is outside [0, %d)", b, c->nblocks);
    if (c->ref[b] == 0) {
        if (!c->cached[b]) die("kvc_ref: block %d is free", b);
        c->nidle--;
        heap_remove(c, b);
        if (++c->in_use > c->peak_in_use) c->peak_in_use = c->in_use;
    }
    c->ref[b]++;
}

void kvc_unref(kv_cache *c, int b) {
    if (b < 0 || b >= c->nblocks) die("kvc_unref: block %d is outside [0, %d)", b, c->nblocks);
    if (c->ref[b] <= 0) die("kvc_unref: block %d has no reference left (reference count would go negative)", b);
    if (--c->ref[b]) return;
    c->in_use--;
    if (c->cached[b]) {
        c->nidle++;
        c->tick[b] = ++c->clock;
        if (c->nchild[b] == 0) heap_push(c, b);
    } else {
        c->free_list[c->nfree++] = b;
    }
}

// ---- prefix tree --------------------------------------------------------------------------------

static uint64_t block_key(const kv_cache *c, uint32_t version, int parent, const int32_t *tokens) {
    return hash64(tokens, (size_t)c->bs * sizeof *tokens, mix64(version, (uint64_t)(uint32_t)parent));
}

static int same_block(const kv_cache *c, int b, uint64_t key, uint32_t version, int parent, const int32_t *tokens) {
    return c->key[b] == key && c->version[b] == version && c->parent[b] == parent &&
           memcmp(c->tokens + (size_t)b * c->bs, tokens, (size_t)c->bs * sizeof *tokens) == 0;
}

int kvc_lookup(kv_cache *c, uint32_t version, int parent, const int32_t *tokens) {
    if (!c->caching) return -1;
    uint64_t k = block_key(c, version, parent, tokens);
    for (int b = c->bucket[k & c->bucket_mask]; b >= 0; b = c->next[b])
        if (same_block(c, b, k, version, parent, tokens)) return b;
    return -1;
}

int kvc_insert(kv_cache *c, uint32_t version, int parent, const int32_t *tokens, int b) {
    if (!c->caching) return b;
    if (c->cached[b] || c->ref[b] <= 0) die("kvc_insert: block %d is cached already or not held", b);
    if (parent >= 0 && !c->cached[parent]) die("kvc_insert: parent block %d of block %d is not cached", parent, b);
    uint64_t k = block_key(c, version, parent, tokens);
    uint32_t h = (uint32_t)(k & c->bucket_mask);
    for (int o = c->bucket[h]; o >= 0; o = c->next[o])
        if (same_block(c, o, k, version, parent, tokens)) return o;
    c->cached[b] = 1;
    c->parent[b] = parent;
    c->version[b] = version;
    c->key[b] = k;
    memcpy(c->tokens + (size_t)b * c->bs, tokens, (size_t)c->bs * sizeof *tokens);
    c->nchild[b] = 0;
    c->next[b] = c->bucket[h];
    c->bucket[h] = b;
    if (parent >= 0 && c->nchild[parent]++ == 0) heap_remove(c, parent);
    c->inserts++;
    return b;
}

int kvc_evict_one(kv_cache *c) {
    if (c->nheap == 0) return 0;
    int b = c->heap[0];
    heap_remove(c, b);
    uint32_t h = (uint32_t)(c->key[b] & c->bucket_mask);
    int32_t *link = &c->bucket[h];
    while (*link != b) link = &c->next[*link];
    *link = c->next[b];
    c->cached[b] = 0;
    c->nidle--;
    int p = c->parent[b];
    if (p >= 0 && --c->nchild[p] == 0 && c->ref[p] == 0) heap_push(c, p);
    c->free_list[c->nfree++] = b;
    c->evictions++;
    return 1;
}

void kvc_flush(kv_cache *c) {
    while (kvc_evict_one(c)) {
    }
}

int kvc_check(const kv_cache *c, berr *e) {
    int n = c->nblocks, in_use = 0, idle = 0;
    uint8_t *on_free = xcalloc((size_t)n, 1);
    int32_t *kids = xcalloc((size_t)n, sizeof *kids);
    int rc = 0;
    for (int i = 0; i < c->nfree && !rc; i++) {
        int b = c->free_list[i];
        if (b < 0 || b >= n || on_free[b]) rc = berr_set(e, "free list entry %d (block %d) is bad or repeated", i, b);
        else on_free[b] = 1;
    }
    for (int b = 0; b < n && !rc; b++)
        if (c->cached[b] && c->parent[b] >= 0) kids[c->parent[b]]++;
    for (int b = 0; b < n && !rc; b++) {
        int r = c->ref[b];
        if (r < 0) rc = berr_set(e, "block %d has reference count %d", b, r);
        else if (r > 0) {
            in_use++;
            if (on_free[b]) rc = berr_set(e, "block %d is referenced and on the free list", b);
        } else if (c->cached[b]) {
            idle++;
            if (on_free[b]) rc = berr_set(e, "idle cached block %d is on the free list", b);
            if ((c->nchild[b] == 0) != (c->heap_pos[b] >= 0))
                rc = berr_set(e, "idle block %d: %d children but heap position %d", b, c->nchild[b], c->heap_pos[b]);
        } else if (!on_free[b]) rc = berr_set(e, "block %d is unreferenced, not cached and not free (leaked)", b);
        if (rc) break;
        if (r > 0 && c->heap_pos[b] >= 0) rc = berr_set(e, "referenced block %d is in the eviction heap", b);
        if (!c->cached[b]) continue;
        if (!c->caching) rc = berr_set(e, "block %d is cached with the tree off", b);
        else if (kids[b] != c->nchild[b]) rc = berr_set(e, "block %d counts %d children, has %d", b, c->nchild[b], kids[b]);
        else if (c->parent[b] >= 0 && !c->cached[c->parent[b]]) rc = berr_set(e, "block %d's parent is not cached", b);
        else if (r > 0 && c->parent[b] >= 0 && c->ref[c->parent[b]] == 0)
            rc = berr_set(e, "block %d is referenced but its parent %d is not", b, c->parent[b]);
        else if (c->key[b] != block_key(c, c->version[b], c->parent[b], c->tokens + (size_t)b * c->bs))
            rc = berr_set(e, "block %d's key does not match its content", b);
        else {
            int found = 0;
            for (int o = c->bucket[c->key[b] & c->bucket_mask]; o >= 0; o = c->next[o]) found += o == b;
            if (found != 1) rc = berr_set(e, "block %d appears %d times in its hash chain", b, found);
        }
    }
    if (!rc && in_use != c->in_use) rc = berr_set(e, "%d blocks referenced, counter says %d", in_use, c->in_use);
    if (!rc && idle != c->nidle) rc = berr_set(e, "%d blocks idle, counter says %d", idle, c->nidle);
    if (!rc && c->nfree + in_use + idle != n)
        rc = berr_set(e, "%d free + %d in use + %d idle != %d blocks", c->nfree, in_use, idle, n);
    for (int i = 0; i < c->nheap && !rc; i++) {
        int b = c->heap[i];
        if (c->heap_pos[b] != i) rc = berr_set(e, "heap slot %d holds block %d whose position says %d", i, b, c->heap_pos[b]);
        else if (i > 0 && heap_less(c, b, c->heap[(i - 1) / 2])) rc = berr_set(e, "heap order broken at slot %d", i);
    }
    if (!rc && idle > 0 && c->nheap == 0) rc = berr_set(e, "%d idle blocks but no evictable leaf", idle);
    free(on_free);
    free(kids);
    return rc;
}

// ---- sequences ------------------------------------------------------------------------------------

static void seq_push(kv_seq *s, int b) {
    if (s->nblocks == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->blocks = xrealloc(s->blocks, (size_t)s->cap * sizeof *s->blocks);
    }
    s->blocks[s->nblocks++] = b;
}

int kvs_attach_prefix(kv_cache *c, kv_seq *s, uint32_t version, const int32_t *tokens, int n, int max_pos) {
    if (s->nblocks || s->n_fed) die("kvs_attach_prefix: the sequence already holds blocks");
    int lim = n < max_pos ? n : max_pos, parent = -1;
    for (int j = 0; (j + 1) * c->bs <= lim; j++) {
        int b = kvc_lookup(c, version, parent, tokens + (size_t)j * c->bs);
        if (b < 0) break;
        kvc_ref(c, b);
        seq_push(s, b);
        c->hits++;
        parent = b;
    }
    s->n_fed = s->nblocks * c->bs;
    return s->n_fed;
}

int kvs_blocks_needed(const kv_cache *c, const kv_seq *s, int n) {
    if (n <= 0) return 0;
    int need = 0, bs = c->bs;
    if (s->n_fed % bs && c->ref[s->blocks[s->n_fed / bs]] > 1) need++;
    need += (s->n_fed + n - 1) / bs + 1 - s->nblocks;
    return need;
}

int kvs_reserve(kv_cache *c, kv_seq *s, int n, kv_copy *copies, int *ncopies) {
    if (n <= 0) return 0;
    if (kvs_blocks_needed(c, s, n) > kvc_available(c)) return -1;
    int bs = c->bs;
    if (s->n_fed % bs) {
        int j = s->n_fed / bs, old = s->blocks[j];
        if (c->cached[old]) die("kvs_reserve: partly filled block %d is in the prefix tree", old);
        if (c->ref[old] > 1) {
            int nb = kvc_alloc(c);
            if (nb < 0) die("kvs_reserve: no block after the availability check");
            copies[(*ncopies)++] = (kv_copy){old, nb};
            kvc_unref(c, old);
            s->blocks[j] = nb;
        }
    }
    while (s->nblocks < (s->n_fed + n - 1) / bs + 1) {
        int nb = kvc_alloc(c);
        if (nb < 0) die("kvs_reserve: no block after the availability check");
        seq_push(s, nb);
    }
    return 0;
}

void kvs_commit(kv_cache *c, kv_seq *s, int n, uint32_t version, const int32_t *tokens) {
    int bs = c->bs, full_before = s->n_fed / bs;
    s->n_fed += n;
    if (s->n_fed > s->nblocks * bs) die("kvs_commit: %d positions fed into %d blocks", s->n_fed, s->nblocks);
    if (!c->caching) return;
    for (int j = full_before; j < s->n_fed / bs; j++) {
        int b = s->blocks[j];
        int got = kvc_insert(c, version, j ? s->blocks[j - 1] : -1, tokens + (size_t)j * bs, b);
        if (got != b) {  // the same content is cached already: share it, drop ours
            kvc_ref(c, got);
            kvc_unref(c, b);
            s->blocks[j] = got;
            c->dedups++;
        }
    }
}

void kvs_share(kv_cache *c, kv_seq *dst, const kv_seq *src) {
    if (dst->nblocks) die("kvs_share: the destination already holds blocks");
    for (int j = 0; j < src->nblocks; j++) {
        kvc_ref(c, src->blocks[j]);
        seq_push(dst, src->blocks[j]);
    }
    dst->n_fed = src->n_fed;
}

void kvs_release(kv_cache *c, kv_seq *s) {
    for (int j = s->nblocks - 1; j >= 0; j--) kvc_unref(c, s->blocks[j]);
    s->nblocks = 0;
    s->n_fed = 0;
}

void kvs_free(kv_seq *s) {
    free(s->blocks);
    memset(s, 0, sizeof *s);
}
