// tokens.h — a token stream with random access by token position, as pretrain reads it:
// berry token shards or llm.c .bin files (through the shards library), or an array (tests).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"

typedef struct pt_tokens {
    uint64_t n;            // tokens in the stream
    uint64_t fingerprint;  // identifies the data (a resumed run checks it did not change)
    int vocab_hint;        // vocabulary the data declares (0: unknown)
    char *name;            // for messages
    void *impl;
    // Reads tokens [off, off+n) into out; fails with a message naming file and position.
    int (*read)(void *impl, uint64_t off, size_t n, uint32_t *out, berr *e);
    // Where token `off` comes from, for messages ("shard X, record Y"); writes into buf.
    void (*where)(void *impl, uint64_t off, char *buf, size_t size);
    void (*close)(void *impl);
} pt_tokens;

// Opens token data at path (a berry token shard directory or file, or an llm.c .bin file).
// Each handle is for one thread.
pt_tokens *pt_tokens_open(const char *path, berr *e);
// An in-memory stream (copied).
pt_tokens *pt_tokens_from_array(const uint32_t *ids, uint64_t n, const char *name);
// Reads tokens [0, n) of src into memory (2 bytes a token when V <= 65536, else 4), checking
// every id against V (an id >= V is an error naming where it is). Reads at random positions
// are then copies, however the data is compressed. Takes ownership of src (kept for where()).
pt_tokens *pt_tokens_in_memory(pt_tokens *src, uint64_t n, int V, berr *e);
int pt_tokens_read(pt_tokens *t, uint64_t off, size_t n, uint32_t *out, berr *e);
void pt_tokens_close(pt_tokens *t);
