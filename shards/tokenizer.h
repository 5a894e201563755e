// tokenizer.h — byte-level BPE: train, encode, decode, save/load, and GPT-2's
// vocab.json + merges.txt.
//
// Two pre-tokenisations:
//   BPE_PRETOK_GPT2   GPT-2's regex ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+),
//                     so ids equal GPT-2's tokenizer on its vocabulary.
//   BPE_PRETOK_DIGITS the same, except every digit is its own pre-token (digits never merge),
//                     which keeps arithmetic learnable. berry trains with this one.
// Special tokens (e.g. "<|endoftext|>", "<|step|>", "<|answer|>") are matched verbatim in
// the text before pre-tokenisation and map to their own ids.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"

#ifdef __cplusplus
extern "C" {
#endif

enum bpe_pretok { BPE_PRETOK_GPT2 = 1, BPE_PRETOK_DIGITS = 2 };

typedef struct bpe bpe;

// Trains a vocabulary of vocab_size ids (256 byte tokens + merges + the specials) on text.
bpe *bpe_train(const char *text, size_t len, int vocab_size, int pretok, const char *const *specials,
               int nspecials, berr *e);
int bpe_save(const bpe *t, const char *path, berr *e);  // berry's own file (atomic write)
bpe *bpe_load(const char *path, berr *e);
// GPT-2 style files; specials listed in the vocab (e.g. <|endoftext|>) are recognised.
bpe *bpe_load_gpt2(const char *vocab_json, const char *merges_txt, int pretok, berr *e);
int bpe_save_gpt2(const bpe *t, const char *vocab_json, const char *merges_txt, berr *e);
void bpe_free(bpe *t);

int bpe_vocab_size(const bpe *t);
int bpe_pretok_mode(const bpe *t);
// Id of a special token, or -1.
int bpe_special(const bpe *t, const char *name);
// Adds a special token after training/loading (returns its id).
int bpe_add_special(bpe *t, const char *name, berr *e);

// Encodes len bytes (any bytes, valid UTF-8 or not). Returns the number of ids; *ids is
// malloc'd and owned by the caller.
size_t bpe_encode(const bpe *t, const char *text, size_t len, uint32_t **ids);
// Decodes ids to bytes (NUL-terminated, length in *out_len). Fails on an id out of range.
int bpe_decode(const bpe *t, const uint32_t *ids, size_t n, char **out, size_t *out_len, berr *e);
// Bytes of one token (not NUL-terminated); NULL if id is out of range.
const char *bpe_token_bytes(const bpe *t, uint32_t id, size_t *len);

#ifdef __cplusplus
}
#endif
