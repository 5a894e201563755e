// kvcache.h — the rollout's KV cache bookkeeping on the host: fixed-size blocks with reference
// counts, a prefix tree of full blocks (keyed by policy version, parent block and the block's
// tokens), least-recently-used eviction of unreferenced prefixes, and per-sequence block
// tables with copy-on-write. It hands out block ids only; the K/V pools themselves live on
// the device (gpt2_kv) and the caller performs the block copies this layer asks for.
//
// Block states:
//   free      ref 0, not in the tree: on the free list
//   private   ref > 0, not in the tree: a sequence's partly filled block (or a full one when
//             the tree is off)
//   shared    ref > 0, in the tree: a full block other sequences may find and reuse
//   idle      ref 0, in the tree: kept for reuse; reclaimable. Only idle leaves of the tree
//             (no cached children) are evicted, least recently released first, so a
//             parent never disappears under a cached child.
// A block in the tree is immutable (full, written once). A sequence writes only into a block
// it holds alone; a partly filled block shared after a fork is copied first.
#pragma once
#include <stdint.h>

#include "kernels/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kv_cache {
    int nblocks;  // usable blocks, ids 0..nblocks-1
    int bs;       // positions per block
    int caching;  // prefix tree on (off: blocks are never cached or found)
    int32_t *ref;
    // prefix tree (valid where cached[b])
    uint8_t *cached;
    int32_t *parent;    // parent block, -1 for the first block of a sequence
    uint32_t *version;  // policy version the block's K/V were computed with
    int32_t *tokens;    // nblocks·bs: the tokens at the block's positions
    int32_t *nchild;    // cached children
    uint64_t *key;      // hash of (version, parent, tokens)
    int32_t *bucket, *next;  // hash chains
    uint32_t bucket_mask;
    // free list
    int32_t *free_list;
    int nfree;
    // idle leaves: a min-heap on (released tick, id)
    uint64_t *tick;
    int32_t *heap, *heap_pos;
    int nheap;
    int nidle;  // idle blocks (leaves or not): reclaimable by eviction
    uint64_t clock;
    // statistics
    int in_use, peak_in_use;  // blocks with ref > 0
    uint64_t evictions, hits, inserts, dedups;
} kv_cache;

void kvc_init(kv_cache *c, int nblocks, int bs, int caching);
void kvc_free(kv_cache *c);
// Free blocks plus idle cached ones (reclaimable by eviction).
static inline int kvc_available(const kv_cache *c) { return c->nfree + c->nidle; }
// A block with ref 1, evicting the least recently used idle leaf when none is free; -1 when
// nothing is free or idle.
int kvc_alloc(kv_cache *c);
void kvc_ref(kv_cache *c, int b);
void kvc_unref(kv_cache *c, int b);  // dies on a reference count that would go negative
// The cached block (version, parent, tokens[bs]) or -1. Does not take a reference.
int kvc_lookup(kv_cache *c, uint32_t version, int parent, const int32_t *tokens);
// Puts full block b (held by the caller) into the tree under (version, parent). If an equal
// block is already there, returns that one instead and leaves b alone: the caller switches
// to it. parent must be cached (or -1).
int kvc_insert(kv_cache *c, uint32_t version, int parent, const int32_t *tokens, int b);
// Evicts the least recently used idle leaf; 0 if there was none.
int kvc_evict_one(kv_cache *c);
// Evicts every idle block (e.g. when the policy version changes).
void kvc_flush(kv_cache *c);
// Checks every invariant (reference counts, lists, heap, tree, hash chains); for tests.
int kvc_check(const kv_cache *c, berr *e);

// ---- sequences ------------------------------------------------------------------------------
// A sequence's block table: blocks[i] holds positions [i·bs, (i+1)·bs). n_fed positions have
// their K/V computed.
typedef struct kv_seq {
    int32_t *blocks;
    int nblocks, cap;
    int n_fed;
} kv_seq;

// A device block copy the caller must perform before the next forward: dst <- src.
typedef struct kv_copy {
    int32_t src, dst;
} kv_copy;

// For a sequence with no blocks: takes the longest cached chain of full blocks matching
// tokens[0 .. n) (at most max_pos positions, rounded down to whole blocks) and returns the
// positions reused (0 with the tree off).
int kvs_attach_prefix(kv_cache *c, kv_seq *s, uint32_t version, const int32_t *tokens, int n, int max_pos);
// Blocks needed to write positions [n_fed, n_fed + n) (new blocks plus a copy of a shared
// partly filled block).
int kvs_blocks_needed(const kv_cache *c, const kv_seq *s, int n);
// Makes positions [n_fed, n_fed + n) writable: copies a shared partly filled block (appending
// to *copies), allocates new blocks. Returns -1 and changes nothing when kvc_available is
// short of kvs_blocks_needed.
int kvs_reserve(kv_cache *c, kv_seq *s, int n, kv_copy *copies, int *ncopies);
// Device slot (block·bs + offset) of position pos.
static inline int32_t kvs_slot(const kv_cache *c, const kv_seq *s, int pos) {
    return s->blocks[pos / c->bs] * c->bs + pos % c->bs;
}
// After the forward wrote positions [n_fed, n_fed + n): advances n_fed and puts each block
// that became full into the tree (switching to an equal cached block where one exists).
// tokens are the sequence's tokens from position 0.
void kvs_commit(kv_cache *c, kv_seq *s, int n, uint32_t version, const int32_t *tokens);
// dst (empty) shares src's blocks (a fork).
void kvs_share(kv_cache *c, kv_seq *dst, const kv_seq *src);
// Drops every block reference; the table is kept allocated for reuse.
void kvs_release(kv_cache *c, kv_seq *s);
void kvs_free(kv_seq *s);  // frees the table (after kvs_release)

#ifdef __cplusplus
}
#endif
