// tokenizer.h — byte-level BPE: train, encode, decode, save/load, and GPT-2's
// vocab.json + merges.txt. Full description: shards/TOKENIZER.md.
//
// Two pre-tokenisations:
//   BPE_PRETOK_GPT2   GPT-2's regex ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+),
//                     so ids equal GPT-2's tokenizer on its vocabulary.
//   BPE_PRETOK_DIGITS the same, except every \p{N} character is its own pre-token (the text
//                     is split before and after each one, then the regex runs on each
//                     piece), so digits never merge, which keeps arithmetic learnable. berry
//                     trains with this one. HF equivalent: Sequence([Digits(individual_digits=
//                     True), ByteLevel(add_prefix_space=False, use_regex=True)]).
// Unicode classes are those of Unicode 16.0.0 (what HF tokenizers uses); invalid UTF-8 bytes
// are each one "other" character, so any byte string encodes and decodes back exactly.
// Special tokens (e.g. "<|endoftext|>", "<|step|>", "<|answer|>") are matched verbatim in
// the text before pre-tokenisation (leftmost, then longest) and map to their own ids.
//
// Thread safety: a bpe is read-only once built (bpe_add_special aside), so any number of
// threads may encode/decode with it at once; a bpe_encoder belongs to one thread.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"

#ifdef __cplusplus
extern "C" {
#endif

enum bpe_pretok { BPE_PRETOK_GPT2 = 1, BPE_PRETOK_DIGITS = 2 };

typedef struct bpe bpe;

// "gpt2" / "digits" <-> BPE_PRETOK_*; bpe_pretok_from_name returns -1 for anything else.
int bpe_pretok_from_name(const char *name);
const char *bpe_pretok_name(int pretok);

// Trains a vocabulary of vocab_size ids: the 256 byte tokens (id = byte value), then
// vocab_size - 256 - nspecials merges (ids in merge order), then the specials in the order
// given. Occurrences of the specials in text are cut out before counting, so no merge spans
// them. Each merge joins the most frequent adjacent pair; ties go to the pair with the
// smaller left id, then the smaller right id. Fails if the text has fewer distinct pairs
// to merge than asked for. Deterministic: same text and arguments, same vocabulary.
bpe *bpe_train(const char *text, size_t len, int vocab_size, int pretok, const char *const *specials,
               int nspecials, berr *e);
// The same, calling progress (if not NULL) now and then with the phase ("count" over bytes
// of text, "merge" over merges) and how far it is.
typedef void (*bpe_progress_fn)(void *ctx, const char *phase, int64_t done, int64_t total);
bpe *bpe_train_progress(const char *text, size_t len, int vocab_size, int pretok, const char *const *specials,
                        int nspecials, bpe_progress_fn progress, void *ctx, berr *e);

int bpe_save(const bpe *t, const char *path, berr *e);  // berry's own file (atomic write)
bpe *bpe_load(const char *path, berr *e);
// GPT-2 style files. Vocabulary entries that are neither a byte nor the result of a merge
// (e.g. <|endoftext|>) are special tokens; their text is the JSON key as written.
bpe *bpe_load_gpt2(const char *vocab_json, const char *merges_txt, int pretok, berr *e);
// Writes both files atomically; HF tokenizers' models.BPE.from_file reads them.
int bpe_save_gpt2(const bpe *t, const char *vocab_json, const char *merges_txt, berr *e);
void bpe_free(bpe *t);
// For other tools (shards/tokenizer_export.c). bpe_save_hf writes a Hugging Face tokenizer
// into dir: tokenizer.json (the BPE model with this vocabulary's pre-tokenisation, exactly:
// digits mode = Sequence[Digits(individual_digits), ByteLevel]), vocab.json + merges.txt,
// tokenizer_config.json (PreTrainedTokenizerFast; bos = eos = unk = <|endoftext|> when the
// vocabulary has it) and special_tokens_map.json; each file atomically.
int bpe_save_hf(const bpe *t, const char *dir, int model_max_length, berr *e);
// llm.c's tokenizer file: 256 int32 (magic 20240328, version 2, vocab size, end-of-text id,
// zeros), then per token a one-byte length (1..255) and its bytes. Atomic.
int bpe_save_llmc(const bpe *t, const char *path, int eot, berr *e);

int bpe_vocab_size(const bpe *t);
int bpe_pretok_mode(const bpe *t);
// Id of a special token, or -1.
int bpe_special(const bpe *t, const char *name);
// Number of special tokens, and the id of the i-th (in id order).
int bpe_num_specials(const bpe *t);
int bpe_special_at(const bpe *t, int i);
// Adds a special token after training/loading and returns its id (the next free one); a
// name that is already a special returns its id. Fails on a name that is empty, not valid
// UTF-8, longer than 256 bytes, or equal to the text of an ordinary token. Not safe while
// other threads encode with t.
int bpe_add_special(bpe *t, const char *name, berr *e);

// Encodes len bytes (any bytes, valid UTF-8 or not). Returns the number of ids; *ids is
// malloc'd and owned by the caller. Never fails.
size_t bpe_encode(const bpe *t, const char *text, size_t len, uint32_t **ids);
// Decodes ids to bytes (NUL-terminated, length in *out_len). Fails on an id out of range.
int bpe_decode(const bpe *t, const uint32_t *ids, size_t n, char **out, size_t *out_len, berr *e);
// Bytes of one token (not NUL-terminated); NULL if id is out of range.
const char *bpe_token_bytes(const bpe *t, uint32_t id, size_t *len);

// For encoding many texts: an encoder keeps a cache from pre-token to ids across calls
// (bpe_encode builds a fresh one each call). One encoder per thread; the bpe must outlive it.
typedef struct bpe_encoder bpe_encoder;
bpe_encoder *bpe_encoder_new(const bpe *t);
void bpe_encoder_free(bpe_encoder *enc);
// Appends the ids of text to the growable array *ids (*n used, *cap allocated; grown with
// xrealloc; *ids may start NULL with *n = *cap = 0). Returns the number of ids appended.
size_t bpe_encoder_append(bpe_encoder *enc, const char *text, size_t len, uint32_t **ids, size_t *n, size_t *cap);

#ifdef __cplusplus
}
#endif
