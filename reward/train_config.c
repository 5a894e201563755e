// train_config.c — the options of `reward train` and the checks that make a consistent run.
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "reward/train.h"

static const char *const target_choices[] = {"soft", "hard", NULL};

#define F(x) offsetof(rw_train_config, x)
#define SECTION(title) {CLI_SECTION, NULL, 0, NULL, 0, 0, NULL, 0, NULL, title}
static const cli_opt opts[] = {
    SECTION("Data"),
    {CLI_STR, "labels", F(labels), NULL, 0, 0, NULL, CLI_FREE, "DIR", "label shard directory (reward label), closed (required)"},
    {CLI_CHOICE, "kind", F(kind), NULL, 0, 0, rw_kind_choices, CLI_KEEP, "K",
     "orm: BCE at each leaf's last token on its verdict; prm: at each step end on the Monte-Carlo value (required)"},
    {CLI_CHOICE, "targets", F(targets), "soft", 0, 0, target_choices, CLI_KEEP, "T",
     "soft: the node's soft label (the share of completions that pass); hard: 1 if value > the label threshold"},
    {CLI_F64, "val-fraction", F(val_fraction), "0.1", 0, 0.9, NULL, CLI_KEEP, "F",
     "share of the trees held out for validation, chosen by a hash of the tree id (0: none)"},
    {CLI_FLAG, "drop-long", F(drop_long), "0", 0, 0, NULL, CLI_KEEP, NULL,
     "leave out (and count) paths longer than --seq-len instead of failing"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, CLI_FREE, "FILE",
     "tokenizer of the trajectories: its vocabulary must be the model's (a check; optional)"},
    SECTION("Model"),
    {CLI_STR, "init-from", F(init_from), NULL, 0, 0, NULL, CLI_LOCAL, "CKPT",
     "the base model: a language model checkpoint (a head is added) or a reward model (required for a new run)"},
    {CLI_INT, "train-layers", F(train_layers), "0", 0, 4096, NULL, CLI_KEEP, "K",
     "train only the top K layers, the final layernorm and the head (0: the whole model)"},
    {CLI_INT, "seq-len", F(seq_len), "0", 0, 65536, NULL, CLI_KEEP, "T", "tokens a row holds (0: the model's context)"},
    SECTION("Batch"),
    {CLI_INT, "micro-batch", F(micro_batch), "16", 1, 65536, NULL, CLI_FREE, "B", "rows (paths) per micro-step and rank"},
    {CLI_COUNT, "batch-rows", F(batch_rows), "0", 0, 1e12, NULL, CLI_KEEP, "N",
     "rows per optimizer step over all ranks; a multiple of B·ranks (0: B·ranks)"},
    SECTION("Optimizer and schedule"),
    {CLI_COUNT, "steps", F(steps), "0", 0, 1e15, NULL, CLI_KEEP, "N", "optimizer steps (or --epochs)"},
    {CLI_F64, "epochs", F(epochs), "0", 0, 1e6, NULL, CLI_KEEP, "E", "passes over the training rows: steps = ceil(E·rows / batch rows)"},
    {CLI_F64, "lr", F(lr), "1e-4", 1e-12, 10, NULL, CLI_KEEP, "X", "peak learning rate"},
    {CLI_INT, "warmup", F(warmup), "0", 0, 1000000000, NULL, CLI_KEEP, "N", "linear warmup steps"},
    {CLI_CHOICE, "schedule", F(schedule), "cosine", 0, 0, tr_schedule_choices, CLI_KEEP, "S",
     "decay after warmup: cosine, linear or constant"},
    {CLI_F64, "lr-final-frac", F(lr_final_frac), "0.1", 0, 1, NULL, CLI_KEEP, "F", "learning rate at the last step, as a fraction of --lr"},
    {CLI_F64, "weight-decay", F(weight_decay), "0", 0, 10, NULL, CLI_KEEP, "X", "AdamW weight decay (2-D weights only)"},
    {CLI_F64, "beta1", F(beta1), "0.9", 0, 0.999999, NULL, CLI_KEEP, "X", "AdamW beta1"},
    {CLI_F64, "beta2", F(beta2), "0.95", 0, 0.999999999, NULL, CLI_KEEP, "X", "AdamW beta2"},
    {CLI_F64, "eps", F(eps), "1e-8", 1e-30, 1, NULL, CLI_KEEP, "X", "AdamW epsilon"},
    {CLI_F64, "grad-clip", F(grad_clip), "1.0", 0, 1e9, NULL, CLI_KEEP, "X", "clip the global gradient norm (0: off)"},
    SECTION("Evaluation and checkpoints"),
    {CLI_INT, "eval-every", F(eval_every), "100", 0, 1000000000, NULL, CLI_FREE, "N",
     "validation metrics every N steps, at the start and at the end (0: never)"},
    {CLI_INT, "ckpt-every", F(ckpt_every), "500", 0, 1000000000, NULL, CLI_FREE, "N",
     "checkpoint every N steps and at the end (0: only at the end)"},
    {CLI_INT, "keep", F(keep), "3", 0, 1000000, NULL, CLI_FREE, "K", "keep the last K checkpoints (0: all)"},
    SECTION("Run"),
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, CLI_LOCAL, "DIR", "output directory: checkpoints, log.jsonl, model.bin (required)"},
    {CLI_FLAG, "resume", F(resume), "0", 0, 0, NULL, CLI_LOCAL, NULL, "continue the run from the latest checkpoint in --out"},
    {CLI_STR, "resume-from", F(resume_from), NULL, 0, 0, NULL, CLI_LOCAL, "CKPT", "continue the run from this checkpoint"},
    {CLI_CHOICE, "backend", F(backend), "auto", 0, 0, tr_backend_choices, CLI_FREE, "B", "auto (CUDA if a GPU is present), cpu or cuda"},
    {CLI_COUNT, "seed", F(seed), "1337", 0, 1e18, NULL, CLI_KEEP, "N", "head initialisation and data order"},
    {CLI_FLAG, "quiet", F(quiet), "0", 0, 0, NULL, CLI_LOCAL, NULL, "no config echo and no progress lines"},
};
#undef F
#undef SECTION

const cli_table rw_train_table = {opts, (int)(sizeof opts / sizeof opts[0])};
const rw_cmd rw_train_cmd = {
    "reward train", "usage: reward train --kind orm|prm --labels DIR --init-from CKPT --out DIR (--steps N | --epochs E) [options]\n"
    "\n"
    "Trains an outcome (orm) or process (prm) reward model: a GPT-2 with one scalar head, started from\n"
    "a language model checkpoint, on the Monte-Carlo labels of `reward label`, with binary cross-entropy\n"
    "at each leaf's last token (orm) or at every step end along each path (prm). Writes DIR/ckpt_<step>.bin,\n"
    "DIR/log.jsonl (loss, FLOPs and validation metrics: AUC, accuracy, PRM first-error accuracy) and, at\n"
    "the end, DIR/model.bin, the reward model that `reward score` reads. --resume continues bit for bit.\n"
    "Several GPUs: mpirun -np N build/bin/reward train ... (one process per GPU, NCCL, ZeRO-1).\n",
    &rw_train_table};

int rw_train_check(const rw_train_config *c, const unsigned char *given, int resuming, berr *e) {
    const cli_table *t = &rw_train_table;
    if (!c->out) return berr_set(e, "--out DIR is required (checkpoints, the log and model.bin go there)");
    if (c->resume && c->resume_from) return berr_set(e, "--resume and --resume-from: give one (--resume takes the latest in --out)");
    if (!resuming) {
        if (!rw_given(t, given, "kind")) return berr_set(e, "--kind orm|prm is required");
        if (!c->labels) return berr_set(e, "--labels DIR is required (label shards from reward label)");
        if (!c->init_from) return berr_set(e, "--init-from CKPT is required (the language model the reward model starts from)");
    } else if (c->init_from) {
        return berr_set(e, "--init-from starts a new run from weights; --resume continues a run: give one");
    }
    if ((c->steps > 0) == (c->epochs > 0))
        return berr_set(e, c->steps > 0 ? "--steps and --epochs: give one" : "give --steps N or --epochs E");
    if (c->eval_every && c->val_fraction == 0)
        return berr_set(e, "--eval-every %d needs validation trees: --val-fraction F (or --eval-every 0)", c->eval_every);
    return 0;
}

int rw_train_plan(const rw_train_config *c, const gpt2_config *from, uint64_t train_rows, int world, rw_plan *p, berr *e) {
    memset(p, 0, sizeof *p);
    p->world = world;
    p->model = *from;
    p->model.n_scalar = 1;
    p->T = c->seq_len ? c->seq_len : from->maxT;
    if (p->T > from->maxT) return berr_set(e, "--seq-len %d exceeds the model's context %d", c->seq_len, from->maxT);
    if (c->train_layers > from->L)
        return berr_set(e, "--train-layers %d: the model has %d layers", c->train_layers, from->L);
    int64_t per_micro = (int64_t)c->micro_batch * world;
    int64_t rows = c->batch_rows ? c->batch_rows : per_micro;
    if (rows % per_micro)
        return berr_set(e, "--batch-rows %lld is not a multiple of micro-batch × ranks = %d × %d = %lld (the "
                           "accumulation count must be whole); e.g. --batch-rows %lld", (long long)rows, c->micro_batch, world,
                        (long long)per_micro, (long long)((rows / per_micro + 1) * per_micro));
    p->accum = (int)(rows / per_micro);
    p->rows_per_step = rows;
    p->steps = c->steps > 0 ? c->steps : (int64_t)ceil(c->epochs * (double)train_rows / (double)rows);
    if (p->steps < 1) p->steps = 1;
    if (c->warmup > p->steps) return berr_set(e, "--warmup %d is longer than the run (%lld steps)", c->warmup, (long long)p->steps);
    return 0;
}
