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
#include "rollout/generate.h"
#include "rollout/sizing.h"
#include "shards/tokenizer.h"
#include "shards/task_format.h"

typedef struct gen_opts {
    char *ckpt, *tokenizer, *problems, *out;
    int split, count, max_new, batch, samples, backend;
    double temperature;
    int64_t seed, kv_bytes;
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
    {CLI_INT, "samples", F(samples), "1", 1, 4096, NULL, CLI_LOCAL, "K", "answers per problem"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, CLI_LOCAL, "FILE", "candidate file to write (JSON lines; required)"},
    {CLI_INT, "max-new", F(max_new), "256", 1, 1 << 20, NULL, CLI_LOCAL, "N", "tokens to generate at most per answer"},
    {CLI_F64, "temperature", F(temperature), "0", 0, 100, NULL, CLI_LOCAL, "X", "sampling temperature (0: greedy)"},
    {CLI_COUNT, "seed", F(seed), "1", 0, 1e18, NULL, CLI_LOCAL, "N", "sampling seed (with the problem id and sample index)"},
    {CLI_INT, "batch", F(batch), "0", 0, 65536, NULL, CLI_LOCAL, "B",
     "sequences per decode step (0: chosen from the backend, the device's memory and the model, as rollout's --max-batch)"},
    {CLI_BYTES, "kv-budget", F(kv_bytes), "0", 0, 1125899906842624.0, NULL, CLI_LOCAL, "BYTES",
     "KV cache size, e.g. 512M (0: chosen from the device's memory and the model)"},
    {CLI_CHOICE, "backend", F(backend), "auto", 0, 0, backends, CLI_LOCAL, "B", "auto, cpu or cuda"},
};
#undef F
static const cli_table gen_table = {gen_opt_list, (int)(sizeof gen_opt_list / sizeof gen_opt_list[0])};

typedef struct gen_progress {
    double t0, next;
} gen_progress;

static void progress_line(void *arg, size_t done, size_t total) {
    gen_progress *g = arg;
    double t = now_sec();
    if (cli_quiet || (t < g->next && done < total)) return;
    g->next = t + 10;
    fprintf(stderr, "generate: %zu/%zu problems (%.1f s)\n", done, total, t - g->t0);
}

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
    ro_gen_prompt *prompts = xcalloc(n, sizeof *prompts);
    for (size_t i = 0; i < n; i++) {
        uint32_t *ids;
        size_t np = bpe_encode(tok, ps.items[i].prompt, strlen(ps.items[i].prompt), &ids);
        if (np == 0 || np >= (size_t)info.cfg.maxT)
            return berr_set(e, "problem %016llx: its prompt is %zu tokens; the model's context is %d",
                            (unsigned long long)ps.items[i].id, np, info.cfg.maxT);
        int32_t *t = xmalloc(np * sizeof *t);
        for (size_t j = 0; j < np; j++) t[j] = (int32_t)ids[j];
        free(ids);
        prompts[i] = (ro_gen_prompt){ps.items[i].id, t, (int)np};
    }

    // Decoding runs on the rollout engine (paged KV cache, continuous batching, kb_sample):
    // the path every stage samples through. The model's own buffers serve no forward here.
    kb_backend be = o->backend == 1 ? KB_CPU : o->backend == 2 ? KB_CUDA : kb_default_backend();
    kb_ctx *ctx = kb_open(be, 0, e);
    if (!ctx) return -1;
    kb_set_stage(ctx, "generate");
    gpt2 m;
    gpt2_build(&m, ctx, &info.cfg, 1, 1, 0);
    if (gpt2_load(&m, o->ckpt, 0, NULL, NULL, e)) return berr_wrap(e, "--ckpt");
    kb_sync(ctx);
    ro_config rc;
    ro_gen_config(&rc, o->samples, o->max_new, (float)o->temperature, (uint64_t)o->seed, eot);
    ro_sizing_in si = {.cuda = kb_backend_of(ctx) == KB_CUDA, .L = info.cfg.L, .C = info.cfg.C, .NH = info.cfg.NH,
                       .maxT = info.cfg.maxT, .Vp = info.cfg.Vp, .act_size = kb_act_size(ctx),
                       .block_size = rc.block_size, .prefill_tokens = rc.prefill_tokens, .prefill_pad = rc.prefill_pad,
                       .max_batch = o->batch, .kv_bytes = (size_t)o->kv_bytes};
    kb_device_resources(ctx, &si.res);
    ro_sizing sz;
    if (ro_choose_sizes(&si, &sz, e)) return -1;
    rc.max_batch = sz.max_batch;
    rc.nbuckets = sz.nbuckets;
    memcpy(rc.buckets, sz.buckets, sizeof rc.buckets);
    ro_engine *E = ro_engine_new(&m, sz.kv_bytes, &rc, e);
    if (!E) return -1;
    if (!cli_quiet) {
        fprintf(stderr, "generate: %zu problems × %d samples from %s (%s split), model %s (L=%d C=%d), %s, %s\n", n,
                o->samples, o->problems, splits[o->split], o->ckpt, info.cfg.L, info.cfg.C, kb_device_name(ctx),
                o->temperature > 0 ? "sampled" : "greedy");
        fprintf(stderr, "generate: sizes: %s\n", sz.why);
    }

    size_t total = n * (size_t)o->samples;
    ro_gen_answer *g = xcalloc(total, sizeof *g);
    gen_progress pg = {now_sec(), now_sec() + 10};
    if (ro_generate(E, prompts, n, g, progress_line, &pg, e)) return -1;
    double secs = now_sec() - pg.t0;
    atomic_file af;
    if (atomic_open(&af, o->out, e)) return -1;
    size_t stopped = 0, gen_tokens = 0;
    uint32_t *buf = xmalloc(((size_t)info.cfg.maxT + 1) * sizeof *buf);
    for (size_t j = 0; j < total; j++) {
        // The completion is the text after the prompt, the end-of-text included when the
        // model produced it (as the verifiers read it, verify/task_format.h).
        for (int t = 0; t < g[j].n; t++) buf[t] = (uint32_t)g[j].tok[t];
        if (g[j].stopped) buf[g[j].n] = (uint32_t)eot;
        char *text;
        size_t len;
        if (bpe_decode(tok, buf, (size_t)g[j].n + (size_t)g[j].stopped, &text, &len, e)) {
            atomic_abort(&af);
            return -1;
        }
        const problem_rec *pr = &ps.items[j / (size_t)o->samples];
        fprintf(af.f, "{\"problem\": %llu, \"node\": %zu, \"completion\": ", (unsigned long long)pr->id,
                j % (size_t)o->samples);
        json_string(af.f, text, len);
        fputs("}\n", af.f);
        stopped += (size_t)g[j].stopped;
        gen_tokens += (size_t)g[j].n;
        free(text);
    }
    if (ferror(af.f)) {
        atomic_abort(&af);
        return berr_set(e, "write to %s failed", o->out);
    }
    if (atomic_commit(&af, e)) return -1;
    fprintf(stderr, "generate: wrote %s: %zu answers, %zu ended with %s, %zu tokens, %.1f s (%.0f tok/s), max-batch %d\n",
            o->out, total, stopped, BERRY_EOT, gen_tokens, secs, secs > 0 ? gen_tokens / secs : 0.0, sz.max_batch);
    free(buf);
    ro_gen_answer_free(g, total);
    free(g);
    for (size_t i = 0; i < n; i++) free((void *)prompts[i].tok);
    free(prompts);
    problem_set_free(&ps);
    ro_engine_free(E);
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
