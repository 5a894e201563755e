// gpt2_interop.h — berry's GPT-2 in and out of the Hugging Face (safetensors) and llm.c worlds.
//
// Formats are told apart by content, not by name (gpt2_detect_format): a directory is a
// Hugging Face model directory (its model.safetensors and config.json); a file starting with
// "BERRYCKP" is berry's checkpoint, one starting with int32 20240326 an llm.c model file, and
// one whose first 8 bytes are a plausible header length followed by '{' a safetensors file.
// gpt2_ckpt.c routes every checkpoint read through this, so any stage's --init-from (and
// rollout's --policy, ppo's --reference, ...) takes all three.
//
// Hugging Face names and shapes (GPT2LMHeadModel; the "transformer." prefix is optional on
// import, as older files lack it). HF's Conv1D stores weights (in, out): the transpose of
// berry's (out, in).
//   transformer.wte.weight            (V, C)        berry wte without the vocabulary padding
//   transformer.wpe.weight            (maxT, C)
//   transformer.h.{i}.ln_1.weight/.bias, ln_2.weight/.bias        (C)
//   transformer.h.{i}.attn.c_attn.weight (C, 3C), .bias (3C)      q | k | v, as berry
//   transformer.h.{i}.attn.c_proj.weight (C, C),  .bias (C)
//   transformer.h.{i}.mlp.c_fc.weight    (C, 4C), .bias (4C)
//   transformer.h.{i}.mlp.c_proj.weight  (4C, C), .bias (C)
//   transformer.ln_f.weight/.bias     (C)
//   berry.heads.weight (n_scalar, C), berry.heads.bias (n_scalar)  berry's scalar heads (value /
//                                     reward), only when the model has them; transformers
//                                     ignores them (an "unused weights" warning)
// lm_head.weight is tied to wte and not written; on import it is accepted only when it equals
// wte. The causal-mask buffers old files carry (h.{i}.attn.bias, attn.masked_bias) are
// ignored; any other tensor is refused by name.
#pragma once
#include "kernels/gpt2.h"

enum { GPT2_FMT_BERRY = 1, GPT2_FMT_HF_DIR = 2, GPT2_FMT_SAFETENSORS = 3, GPT2_FMT_LLMC = 4 };
const char *gpt2_format_name(int fmt);  // "berry checkpoint", "Hugging Face directory", ...

// The format of path by its content, or -1 with a message (missing, unreadable, unknown).
int gpt2_detect_format(const char *path, berr *e);

// Reads a model that is not a berry checkpoint (a HF directory or safetensors file, or an llm.c
// model file) into *params (malloc'd, berry's layout, wte padding zero), checking every
// tensor's name, dtype and shape against the config the file implies.
int gpt2_foreign_load(const char *path, gpt2_config *cfg, float **params, berr *e);

// Writes params (berry's layout of cfg) as a HF GPT-2 safetensors file, tensors in F32 or
// BF16 (st_dtype), atomically.
int gpt2_write_safetensors(const char *path, const gpt2_config *cfg, const float *params, int st_dtype, berr *e);
// Writes config.json (GPT2LMHeadModel with the model's sizes) and generation_config.json into
// dir, atomically each. bos/eos: token ids (-1: none).
int gpt2_write_hf_config(const char *dir, const gpt2_config *cfg, int bos, int eos, berr *e);
