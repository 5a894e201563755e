// generate.c — `pretrain generate`: sample answers to problems with a trained model and write
// them as a candidate file for `verify check` (verify/README.md).
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gpt2.h"
#include "kernels/train/cli.h"
#include "pretrain/pretrain.h"
#include "shards/problem_set.h"
#include "pretrain/sample.h"
#include "shards/tokenizer.h"
#include "shards/task_format.h"

typedef struct gen_opts {
    char *ckpt, *tokenizer, *problems, *out;
    int split, count, max_new, batch, samples, backend;
    double temperature;
    int64_t seed;
} gen_opts;

static const char *const splits[] = {"train", "heldout", "all", NULL};
static const char *const backends[] = {"auto", "cpu", "cuda", NULL};

#define F(x) offsetof(gen_opts, x)
static const cli_opt gen_opt_list[] = {
    {CLI_STR, "ckpt", F(ckpt), NULL, 0, 0, NULL, CLI_LOCAL, "FILE", "model: a checkpoint or model.bin (required)"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, CLI_LOCAL, "FILE", "berry tokenizer file (required)"},
    {CLI_STR, "problems", F(problems), NULL, 0, 0, NULL, CLI_LOCAL, "PATH", "problem shard directory or file (required)"},
    {CLI_CHOICE, "split", F(split), "heldout", 0, 0, splits, CLI_LOCAL, "S", "which problems: train, heldout or all"},
    {CLI_INT, "count", F(count), "0", 0, 1 << 30, NULL, CLI_LOCAL, "N", "the first N problems of the split (0: all)"},
    {CLI_INT, "samples", F(samples), "1", 1, 1 << 20, NULL, CLI_LOCAL, "K", "answers per problem"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, CLI_LOCAL, "FILE", "candidate file to write (JSON lines; required)"},
    {CLI_INT, "max-new", F(max_new), "256", 1, 1 << 20, NULL, CLI_LOCAL, "N", "tokens to generate at most per answer"},
    {CLI_F64, "temperature", F(temperature), "0", 0, 100, NULL, CLI_LOCAL, "X", "sampling temperature (0: greedy)"},
    {CLI_COUNT, "seed", F(seed), "1", 0, 1e18, NULL, CLI_LOCAL, "N", "sampling seed (with the problem id and sample index)"},
    {CLI_INT, "batch", F(batch), "0", 0, 4096, NULL, CLI_LOCAL, "B", "sequences per forward pass (0: on CUDA 65536 / context, within 16..256; 16 on the CPU)"},
    {CLI_CHOICE, "backend", F(backend), "auto", 0, 0, backends, CLI_LOCAL, "B", "auto, cpu or cuda"},
};
#undef F
static const cli_table gen_table = {gen_opt_list, (int)(sizeof gen_opt_list / sizeof gen_opt_list[0])};

static int run_generate(gen_opts *o, berr *e) {
    // Every input and the output are checked before the model is loaded or anything generated.
    if (cli_check_output_file("--out", o->out, e)) return -1;
    bpe *tok = bpe_load(o->tokenizer, e);
    if (!tok) return berr_wrap(e, "--tokenizer");
    int eot = bpe_special(tok, BERRY_EOT);
    gpt2_ckpt_info info;
    if (eot < 0) return berr_set(e, "tokenizer %s has no %s token", o->tokenizer, BERRY_EOT);
    if (gpt2_ckpt_info_read(o->ckpt, &info, e)) return berr_wrap(e, "--ckpt");
    if (bpe_vocab_size(tok) != info.cfg.V)
        return berr_set(e, "tokenizer %s has a vocabulary of %d tokens but the model in %s has %d: give the tokenizer the "
                           "model was trained with", o->tokenizer, bpe_vocab_size(tok), o->ckpt, info.cfg.V);
    problem_set ps;
    if (problem_set_load(&ps, o->problems, o->split == 2 ? PROBLEMS_ALL_SPLITS : o->split, 1, e)) return -1;
    size_t n = o->count ? (size_t)o->count : ps.n;
    if (n > ps.n)
        return berr_set(e, "--count %d: %s has only %zu %s problems", o->count, o->problems, ps.n, splits[o->split]);
    if (n == 0) return berr_set(e, "%s has no %s problems", o->problems, splits[o->split]);

    kb_backend be = o->backend == 1 ? KB_CPU : o->backend == 2 ? KB_CUDA : kb_default_backend();
    kb_ctx *ctx = kb_open(be, 0, e);
    if (!ctx) return -1;
    kb_set_stage(ctx, "generate");
    // Recompute costs a forward over every sequence's whole length per token: a GPU needs
    // many sequences at once to be busy (activations for up to 65536 positions, as a d12
    // training micro-batch of 64 x 1024), a CPU gains little from more than a few.
    if (o->batch == 0) {
        int fit = 65536 / info.cfg.maxT;
        o->batch = kb_backend_of(ctx) != KB_CUDA ? 16 : fit > 256 ? 256 : fit < 16 ? 16 : fit;
    }
    gpt2 m;
    gpt2_build(&m, ctx, &info.cfg, o->batch, info.cfg.maxT, 0);
    float *p, *mm, *vv;
    gpt2_ckpt_info li;
    if (gpt2_load_host(o->ckpt, &li, &p, &mm, &vv, NULL, NULL, e)) return -1;
    gpt2_set_params(&m, p);
    kb_sync(ctx);
    free(p), free(mm), free(vv);

    size_t total = n * (size_t)o->samples;
    pt_gen *g = xcalloc(total, sizeof *g);
    uint32_t **prompts = xcalloc(n, sizeof *prompts);
    for (size_t i = 0; i < n; i++) {
        size_t np = bpe_encode(tok, ps.items[i].prompt, strlen(ps.items[i].prompt), &prompts[i]);
        if (np == 0 || np >= (size_t)info.cfg.maxT)
            return berr_set(e, "problem %016llx: its prompt is %zu tokens; the model's context is %d",
                            (unsigned long long)ps.items[i].id, np, info.cfg.maxT);
        for (int k = 0; k < o->samples; k++) {
            pt_gen *x = &g[i * (size_t)o->samples + (size_t)k];
            x->prompt = prompts[i];
            x->n_prompt = (int)np;
            x->seed = mix64(mix64((uint64_t)o->seed, ps.items[i].id), (uint64_t)k);
        }
    }
    if (!cli_quiet) fprintf(stderr, "generate: %zu problems × %d samples from %s (%s split), model %s (L=%d C=%d), %s, %s\n", n,
            o->samples, o->problems, splits[o->split], o->ckpt, info.cfg.L, info.cfg.C, kb_device_name(ctx),
            o->temperature > 0 ? "sampled" : "greedy");
    atomic_file af;
    if (atomic_open(&af, o->out, e)) return -1;
    double t0 = now_sec();
    size_t chunk = (size_t)o->batch * 4, done = 0, stopped = 0, gen_tokens = 0;
    for (size_t s = 0; s < total; s += chunk) {
        size_t k = total - s < chunk ? total - s : chunk;
        pt_generate(&m, g + s, (int)k, o->max_new, o->temperature, eot);
        for (size_t j = s; j < s + k; j++) {
            // The completion is the text after the prompt, the end-of-text included when the
            // model produced it (as the verifiers read it, verify/task_format.h).
            if (g[j].stopped) g[j].out[g[j].n_out] = (uint32_t)eot;
            char *text;
            size_t len;
            if (bpe_decode(tok, g[j].out, (size_t)g[j].n_out + (size_t)g[j].stopped, &text, &len, e)) {
                atomic_abort(&af);
                return -1;
            }
            const problem_rec *pr = &ps.items[j / (size_t)o->samples];
            fprintf(af.f, "{\"problem\": %llu, \"node\": %zu, \"completion\": ", (unsigned long long)pr->id,
                    j % (size_t)o->samples);
            json_string(af.f, text, len);
            fputs("}\n", af.f);
            stopped += (size_t)g[j].stopped;
            gen_tokens += (size_t)g[j].n_out;
            free(text);
            free(g[j].out);
        }
        done += k;
        if (!cli_quiet) fprintf(stderr, "generate: %zu/%zu answers (%.1f s)\n", done, total, now_sec() - t0);
    }
    if (ferror(af.f)) {
        atomic_abort(&af);
        return berr_set(e, "write to %s failed", o->out);
    }
    if (atomic_commit(&af, e)) return -1;
    fprintf(stderr, "generate: wrote %s: %zu answers, %zu ended with %s, %zu tokens, %.1f s\n", o->out, total, stopped,
            BERRY_EOT, gen_tokens, now_sec() - t0);
    for (size_t i = 0; i < n; i++) free(prompts[i]);
    free(prompts);
    free(g);
    problem_set_free(&ps);
    gpt2_free(&m);
    kb_close(ctx);
    bpe_free(tok);
    return 0;
}

static const cli_cmd gen_cmd = {
    "pretrain generate",
    "usage: pretrain generate --ckpt FILE --tokenizer FILE --problems PATH --out FILE [options]\n"
    "\nSamples answers to problems (prompt -> continuation until end-of-text) and writes the candidate\n"
    "file of `verify check`: one JSON line per answer, {\"problem\": id, \"node\": sample index,\n"
    "\"completion\": text after the prompt, end-of-text included when generated}.\n",
    &gen_table, 0, NULL};

int pt_generate_main(int argc, char **argv, int first) {
    gen_opts o;
    berr e;
    unsigned char given[sizeof gen_opt_list / sizeof gen_opt_list[0]] = {0};
    int rc = cli_command(&gen_cmd, &o, argc, argv, first, given, NULL);
    if (rc != CLI_GO) return rc;
    if (!o.ckpt || !o.tokenizer || !o.problems || !o.out) {
        cli_free(&gen_table, &o);
        return cli_usage_error(&gen_cmd, "--ckpt, --tokenizer, --problems and --out are required");
    }
    cli_echo_line(gen_cmd.name, &gen_table, &o, given, NULL);
    rc = run_generate(&o, &e);
    if (rc) cli_fail(gen_cmd.name, &e);
    cli_free(&gen_table, &o);
    return rc ? 1 : 0;
}
