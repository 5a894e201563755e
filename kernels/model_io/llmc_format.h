// llmc_format.h — llm.c's GPT-2 model file (gpt2_124M.bin and friends, as written by llm.c's
// train_gpt2.py write_model and read by train_gpt2.c / train_gpt2.cu).
//
// Layout, little-endian: a header of 256 int32 — [0] magic 20240326, [1] version (3: fp32
// tensors, 5: bf16), [2] maxT, [3] V, [4] L, [5] NH, [6] C, [7] Vp, the rest 0 — then the
// parameters, each tensor whole and stacked over layers, in llm.c's order: wte (Vp, C),
// wpe (maxT, C), ln1w (L, C), ln1b (L, C), qkvw (L, 3C, C), qkvb (L, 3C), attprojw (L, C, C),
// attprojb (L, C), ln2w, ln2b (L, C), fcw (L, 4C, C), fcb (L, 4C), fcprojw (L, C, 4C),
// fcprojb (L, C), lnfw (C), lnfb (C). Matmul weights are (out, in), as in berry.
//
// berry's extension for scalar heads (value / reward models): header[8] = n_scalar and the
// heads follow llm.c's tensors, headw (n_scalar, C) then headb (n_scalar), in the file's
// dtype. llm.c reads the header fields it knows and exactly its own parameter count, so it
// loads such a file as the plain LM (the heads are ignored). A plain LM has header[8] = 0.
#pragma once
#include <stdint.h>

#include "kernels/gpt2.h"

#define LLMC_MODEL_MAGIC 20240326
#define LLMC_VERSION_FP32 3
#define LLMC_VERSION_BF16 5
#define LLMC_TOKENIZER_MAGIC 20240328
#define LLMC_TOKENIZER_VERSION 2

// True when the first 4 bytes are the model magic (format detection).
int llmc_is_model(const uint8_t *first4);
// Writes params (berry's layout of cfg) as an llm.c model file, fp32 or (bf16 = 1) bf16
// rounded to nearest even; atomically.
int llmc_write_model(const char *path, const gpt2_config *cfg, const float *params, int bf16, berr *e);
// Reads and checks an llm.c model file (magic, version, every size against the file size,
// the config) into *params (malloc'd, berry's layout; bf16 widened exactly). When the file's
// Vp is not berry's padding of V, the V real rows of wte are copied and the padding is zero.
int llmc_read_model(const char *path, gpt2_config *cfg, float **params, berr *e);
