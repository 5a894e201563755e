// config.c — the training options table and the consistency checks of a run.
#include "pretrain/config.h"

#include "kernels/train/schedule.h"
#include "kernels/train/trainer.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>


#define F(x) offsetof(pt_config, x)
#define SECTION(title) {CLI_SECTION, NULL, 0, NULL, 0, 0, NULL, 0, NULL, title}
static const cli_opt opts[] = {
    SECTION("Data"),
    {CLI_STR, "data", F(data), NULL, 0, 0, NULL, CLI_FREE, "PATH",
     "training tokens: a berry token shard directory or file, or an llm.c .bin file"},
    {CLI_STR, "val", F(val), NULL, 0, 0, NULL, CLI_FREE, "PATH",
     "validation tokens (same kinds as --data); without it the last --val-fraction of --data"},
    {CLI_F64, "val-fraction", F(val_fraction), "0.02", 0, 0.5, NULL, CLI_KEEP, "F",
     "share of --data held out for validation when --val is not given (0: none)"},
    {CLI_COUNT, "data-memory", F(data_memory), "4G", 0, 1e15, NULL, CLI_FREE, "BYTES",
     "read the training tokens into memory when they fit in this many bytes (0: never)"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, CLI_FREE, "FILE",
     "berry tokenizer file: vocabulary size, SFT encoding, decoding samples"},
    {CLI_INT, "vocab", F(vocab), "0", 0, 1 << 24, NULL, CLI_KEEP, "V",
     "vocabulary size (default: the tokenizer's, the checkpoint's, or the data's)"},
    {CLI_FLAG, "sft", F(sft), "0", 0, 0, NULL, CLI_KEEP, NULL,
     "supervised fine-tuning on --problems: prompt -> worked solution, prompt tokens masked"},
    {CLI_STR, "problems", F(problems), NULL, 0, 0, NULL, CLI_FREE, "DIR",
     "problem shard directory for --sft (train split trains, heldout split validates)"},
    {CLI_STR, "val-problems", F(val_problems), NULL, 0, 0, NULL, CLI_FREE, "DIR",
     "problems that validate --sft (default: the heldout split of --problems)"},
    {CLI_FLAG, "sft-drop-long", F(sft_drop_long), "0", 0, 0, NULL, CLI_KEEP, NULL,
     "drop (and count) SFT examples longer than the sequence instead of failing"},
    SECTION("Model"),
    {CLI_INT, "depth", F(depth), "0", 0, 256, NULL, CLI_KEEP, "D",
     "GPT-2 by depth: d12/d24/d36/d48 are GPT-2 124M/350M/774M/1.5B; others 64·D channels, D heads"},
    {CLI_INT, "layers", F(layers), "0", 0, 256, NULL, CLI_KEEP, "L", "layers (with --channels --heads)"},
    {CLI_INT, "channels", F(channels), "0", 0, 16384, NULL, CLI_KEEP, "C", "channels"},
    {CLI_INT, "heads", F(heads), "0", 0, 256, NULL, CLI_KEEP, "H", "attention heads"},
    {CLI_INT, "context", F(context), "0", 0, 65536, NULL, CLI_KEEP, "T",
     "context length of the model (default: --seq-len)"},
    {CLI_STR, "init-from", F(init_from), NULL, 0, 0, NULL, CLI_LOCAL, "CKPT",
     "start from a checkpoint's weights (a new run: step 0, fresh optimizer)"},
    SECTION("Batch"),
    {CLI_INT, "micro-batch", F(micro_batch), "4", 1, 65536, NULL, CLI_FREE, "B", "sequences per micro-step and rank"},
    {CLI_INT, "seq-len", F(seq_len), "1024", 2, 65536, NULL, CLI_KEEP, "T", "tokens per sequence"},
    {CLI_COUNT, "batch-tokens", F(batch_tokens), "0", 0, 1e15, NULL, CLI_KEEP, "N",
     "tokens per optimizer step over all ranks; a multiple of B·T·ranks (0: B·T·ranks)"},
    SECTION("Optimizer and schedule"),
    {CLI_COUNT, "steps", F(steps), "0", 0, 1e15, NULL, CLI_KEEP, "N", "optimizer steps (or --tokens)"},
    {CLI_COUNT, "tokens", F(tokens), "0", 0, 1e18, NULL, CLI_KEEP, "N",
     "train on N tokens: steps = ceil(N / batch tokens)"},
    {CLI_F64, "lr", F(lr), "6e-4", 1e-12, 10, NULL, CLI_KEEP, "X", "peak learning rate"},
    {CLI_INT, "warmup", F(warmup), "0", 0, 1000000000, NULL, CLI_KEEP, "N", "linear warmup steps"},
    {CLI_CHOICE, "schedule", F(schedule), "cosine", 0, 0, tr_schedule_choices, CLI_KEEP, "S",
     "decay after warmup: cosine, linear or constant"},
    {CLI_F64, "lr-final-frac", F(lr_final_frac), "0.1", 0, 1, NULL, CLI_KEEP, "F",
     "learning rate at the last step, as a fraction of --lr"},
    TR_ADAMW_OPTIONS(pt_config, "0.1"),
    SECTION("Evaluation, checkpoints, samples"),
    {CLI_INT, "eval-every", F(eval_every), "250", 0, 1000000000, NULL, CLI_FREE, "N",
     "validation loss every N steps and at the end (0: never)"},
    {CLI_INT, "eval-seqs", F(eval_seqs), "0", 0, 1000000000, NULL, CLI_FREE, "N",
     "validation sequences per evaluation (0: 64, or all of a smaller split)"},
    {CLI_INT, "ckpt-every", F(ckpt_every), "1000", 0, 1000000000, NULL, CLI_FREE, "N",
     "checkpoint every N steps and at the end (0: only at the end)"},
    {CLI_INT, "keep", F(keep), "3", 0, 1000000, NULL, CLI_FREE, "K", "keep the last K checkpoints (0: all)"},
    {CLI_INT, "sample-every", F(sample_every), "0", 0, 1000000000, NULL, CLI_FREE, "N",
     "generate a short text sample every N steps (0: never)"},
    {CLI_INT, "sample-tokens", F(sample_tokens), "48", 1, 65536, NULL, CLI_FREE, "N", "tokens per sample"},
    {CLI_F64, "sample-temp", F(sample_temp), "1.0", 0, 100, NULL, CLI_FREE, "X",
     "sampling temperature (0: greedy); the RNG is seeded by --seed and saved in checkpoints"},
    {CLI_STR, "sample-prompt", F(sample_prompt), NULL, 0, 0, NULL, CLI_FREE, "TEXT",
     "text the samples continue (default: end-of-text, i.e. a fresh document)"},
    SECTION("Run"),
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, CLI_LOCAL, "DIR",
     "output directory: checkpoints, log.jsonl, model.bin (required)"},
    {CLI_FLAG, "resume", F(resume), "0", 0, 0, NULL, CLI_LOCAL, NULL,
     "continue the run from the latest checkpoint in --out"},
    {CLI_STR, "resume-from", F(resume_from), NULL, 0, 0, NULL, CLI_LOCAL, "CKPT", "continue the run from this checkpoint"},
    {CLI_CHOICE, "backend", F(backend), "auto", 0, 0, tr_backend_choices, CLI_FREE, "B",
     "auto (CUDA if a GPU is present), cpu or cuda"},
    {CLI_COUNT, "seed", F(seed), "1337", 0, 1e18, NULL, CLI_KEEP, "N", "initialisation, data order and sampling seed"},
};
#undef F
#undef SECTION

const cli_table pt_config_table = {opts, (int)(sizeof opts / sizeof opts[0])};

const cli_cmd pt_train_cmd = {
    "pretrain train",
    "usage: pretrain [train] --out DIR (--data PATH | --sft --problems DIR --tokenizer FILE)\n"
    "                        (--steps N | --tokens N) [options]\n"
    "\n"
    "Trains a GPT-2 from scratch or from --init-from, on token shards (pretraining) or on problem\n"
    "shards as prompt -> worked solution with the prompt masked out of the loss (--sft). Writes\n"
    "DIR/ckpt_<step>.bin (model, optimizer, data position, RNG, options), DIR/log.jsonl and, at the\n"
    "end, DIR/model.bin. DIR must be new, empty, or an earlier run's (--resume continues it bit for\n"
    "bit on the same device, from the newest checkpoint that reads back whole).\n"
    "Several GPUs: mpirun -np N build/bin/pretrain ... (one process per GPU, NCCL, ZeRO-1).\n",
    &pt_config_table, 0, NULL};

static int given_opt(const unsigned char *given, const char *name) {
    const cli_opt *o = cli_find(&pt_config_table, name);
    return given && o && given[o - pt_config_table.opts];
}

int pt_config_check(const pt_config *c, const unsigned char *given, int world, pt_plan *p, berr *e) {
    memset(p, 0, sizeof *p);
    p->world = world;
    if (!c->out) return berr_set(e, "--out DIR is required (checkpoints and logs go there)");
    if (c->resume && c->resume_from) return berr_set(e, "--resume and --resume-from: give one (--resume takes the latest in --out)");
    if ((c->resume || c->resume_from) && c->init_from)
        return berr_set(e, "--init-from starts a new run from weights; --resume continues a run: give one");
    if (c->sft) {
        if (!c->problems) return berr_set(e, "--sft needs --problems DIR (problem shards with worked solutions)");
        if (!c->tokenizer) return berr_set(e, "--sft needs --tokenizer FILE to encode prompts and solutions");
        if (c->data || c->val) return berr_set(e, "--sft trains on --problems; --data/--val are for pretraining");
        if (given_opt(given, "val-fraction"))
            return berr_set(e, "--val-fraction does not apply to --sft (the heldout split of --problems validates)");
    } else {
        if (!c->data) return berr_set(e, "--data PATH is required (or --sft with --problems)");
        if (c->problems || c->val_problems) return berr_set(e, "--problems and --val-problems are only used with --sft");
        if (c->sft_drop_long) return berr_set(e, "--sft-drop-long is only used with --sft");
        if (c->val && given_opt(given, "val-fraction") && c->val_fraction > 0)
            return berr_set(e, "--val and --val-fraction: give one (--val-fraction splits --data)");
    }
    if ((c->steps > 0) == (c->tokens > 0))
        return berr_set(e, c->steps > 0 ? "--steps and --tokens: give one" : "give --steps N or --tokens N");
    int64_t row = (int64_t)c->micro_batch * c->seq_len;
    int64_t per_micro = row * world;
    int64_t bt = c->batch_tokens ? c->batch_tokens : per_micro;
    if (bt % per_micro)
        return berr_set(e,
                        "--batch-tokens %lld is not a multiple of micro-batch × seq-len × ranks = %d × %d × %d = %lld "
                        "tokens (the gradient-accumulation count must be whole); e.g. --batch-tokens %lld",
                        (long long)bt, c->micro_batch, c->seq_len, world, (long long)per_micro,
                        (long long)((bt / per_micro + 1) * per_micro));
    p->accum = (int)(bt / per_micro);
    if (bt / per_micro > 1000000) return berr_set(e, "--batch-tokens %lld needs %lld accumulation steps (more than 1e6)", (long long)bt, (long long)(bt / per_micro));
    p->seqs_per_step = (int64_t)c->micro_batch * p->accum * world;
    p->steps = c->steps > 0 ? c->steps : (c->tokens + bt - 1) / bt;
    if (c->warmup > p->steps) return berr_set(e, "--warmup %d is longer than the run (%lld steps)", c->warmup, (long long)p->steps);
    if (c->context && c->context < c->seq_len)
        return berr_set(e, "--context %d is shorter than --seq-len %d", c->context, c->seq_len);
    if (c->sample_prompt && !c->tokenizer) return berr_set(e, "--sample-prompt needs --tokenizer to encode it");
    if (c->sample_every && !c->tokenizer) return berr_set(e, "--sample-every needs --tokenizer to decode the samples");
    if (!c->sft && c->eval_every && !c->val && c->val_fraction == 0)
        return berr_set(e, "--eval-every %d needs validation data: --val PATH or --val-fraction F (or --eval-every 0)",
                        c->eval_every);
    return 0;
}

int pt_plan_model(const pt_config *c, const unsigned char *given, const gpt2_config *ckpt, int V, pt_plan *p,
                  berr *e) {
    gpt2_config m = {0};
    if (ckpt) {
        m = *ckpt;
        const char *src = c->init_from ? "--init-from" : "the checkpoint";
        gpt2_config dm = gpt2_config_depth(c->depth, 2, 1);
        if (c->depth && (ckpt->L != dm.L || ckpt->C != dm.C || ckpt->NH != dm.NH))
            return berr_set(e, "--depth %d (L=%d C=%d heads=%d) differs from %s's model (L=%d C=%d heads=%d)", c->depth,
                            dm.L, dm.C, dm.NH, src, ckpt->L, ckpt->C, ckpt->NH);
        if (c->layers && c->layers != ckpt->L) return berr_set(e, "--layers %d differs from %s's %d", c->layers, src, ckpt->L);
        if (c->channels && c->channels != ckpt->C) return berr_set(e, "--channels %d differs from %s's %d", c->channels, src, ckpt->C);
        if (c->heads && c->heads != ckpt->NH) return berr_set(e, "--heads %d differs from %s's %d", c->heads, src, ckpt->NH);
        if (c->context && c->context != ckpt->maxT)
            return berr_set(e, "--context %d differs from %s's %d", c->context, src, ckpt->maxT);
        if (c->vocab && c->vocab != ckpt->V) return berr_set(e, "--vocab %d differs from %s's %d", c->vocab, src, ckpt->V);
        if (V > ckpt->V) return berr_set(e, "the tokenizer has %d ids but %s's model only %d", V, src, ckpt->V);
        if (ckpt->n_scalar) return berr_set(e, "%s has %d scalar heads: pretrain trains plain language models", src, ckpt->n_scalar);
    } else {
        if (V < 2) return berr_set(e, "cannot tell the vocabulary size: give --vocab V or --tokenizer FILE");
        int ctx = c->context ? c->context : c->seq_len;
        if (c->depth) {
            if (c->layers || c->channels || c->heads)
                return berr_set(e, "--depth and --layers/--channels/--heads: give one way to size the model");
            m = gpt2_config_depth(c->depth, V, ctx);
        } else {
            if (!c->layers || !c->channels || !c->heads)
                return berr_set(e, "size the model with --depth D, or all of --layers L --channels C --heads H");
            m.L = c->layers;
            m.C = c->channels;
            m.NH = c->heads;
            m.V = V;
            m.Vp = (V + 127) / 128 * 128;
            m.maxT = ctx;
        }
        if (gpt2_config_check(&m, e)) return berr_wrap(e, "model");
    }
    if (c->seq_len > m.maxT) return berr_set(e, "--seq-len %d exceeds the model's context %d", c->seq_len, m.maxT);
    (void)given;
    p->model = m;
    return 0;
}

int pt_config_merge_resume(const pt_config *cmd, const unsigned char *given, const char *stored, size_t stored_len,
                           pt_config *out, berr *e) {
    return cli_merge_resume(&pt_config_table, cmd, given, stored, stored_len, out, e);
}
