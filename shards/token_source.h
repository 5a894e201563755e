// token_source.h — one token stream over berry token shards and llm.c token files, with
// random access by token position (what pretraining needs).
//
// llm.c's token files ("*.bin", written by llm.c's dev/data scripts): a header of 256
// little-endian int32 (magic 20240520, version 1, token count, then zeros) followed by the
// tokens as uint16. Berry token shards hold records of kind tokens; their index keys are
// the per-record token counts, so opening a source reads headers and indexes only.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LLMC_TOKENS_MAGIC 20240520
#define LLMC_TOKENS_VERSION 1
#define LLMC_HEADER_INTS 256

// Checks an llm.c token file's header and size; returns its token count in *count.
int llmc_tokens_check(const char *path, uint64_t *count, berr *e);
// 1 if the file starts with the llm.c token magic, 0 if not, -1 if it cannot be read.
int llmc_tokens_sniff(const char *path, berr *e);

typedef struct token_source token_source;
// Each path is a berry token shard, an llm.c token file, or a directory: a directory
// contributes its shards in (producer, seq) order, then its "*.bin" files in name order.
// The stream is the concatenation in the order given.
token_source *token_source_open(const char *const *paths, int n, berr *e);
uint64_t token_source_count(const token_source *t);
size_t token_source_files(const token_source *t);
const char *token_source_file(const token_source *t, size_t i, uint64_t *first_token, uint64_t *count);
// Copies tokens [off, off + n) into out; fails if the range passes the end.
int token_source_read(token_source *t, uint64_t off, size_t n, uint32_t *out, berr *e);
void token_source_close(token_source *t);

#ifdef __cplusplus
}
#endif
