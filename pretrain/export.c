// export.c — `pretrain export`: a berry model (or any model file berry reads: a HF directory
// or safetensors file, an llm.c file) written for other tools:
//   --format hf   --out DIR   model.safetensors, config.json, generation_config.json and, with
//                             --tokenizer, the HF tokenizer files (transformers'
//                             from_pretrained(DIR) loads them with no custom code);
//   --format llmc --out FILE  llm.c's model file (fp32 or bf16) and, with --tokenizer and
//                             --tokenizer-out, llm.c's tokenizer file.
// Every file is first written into a staging name and renamed into place only when all of
// them are written: a failed export replaces nothing and leaves nothing behind.
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/gpt2.h"
#include "kernels/model_io/gpt2_interop.h"
#include "kernels/model_io/llmc_format.h"
#include "kernels/model_io/safetensors.h"
#include "kernels/train/cli.h"
#include "pretrain/pretrain.h"
#include "shards/task_format.h"
#include "shards/tokenizer.h"

typedef struct export_opts {
    char *ckpt, *out, *tokenizer, *tokenizer_out;
    int format, dtype;
} export_opts;

static const char *const formats[] = {"hf", "llmc", NULL};
static const char *const dtypes[] = {"fp32", "bf16", NULL};

#define F(x) offsetof(export_opts, x)
static const cli_opt export_opt_list[] = {
    {CLI_STR, "ckpt", F(ckpt), NULL, 0, 0, NULL, CLI_LOCAL, "CKPT",
     "model to export (required): a berry checkpoint, or a HF directory / safetensors file / llm.c file"},
    {CLI_CHOICE, "format", F(format), NULL, 0, 0, formats, CLI_LOCAL, "F", "hf (a directory) or llmc (a file); required"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, CLI_LOCAL, "PATH", "hf: the directory; llmc: the model file (required)"},
    {CLI_CHOICE, "dtype", F(dtype), "fp32", 0, 0, dtypes, CLI_LOCAL, "D",
     "tensor dtype: fp32 (exact) or bf16 (rounded to nearest even; llm.c version 5)"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, CLI_LOCAL, "TOK",
     "berry tokenizer file (tok.bpe) to export with the model (its vocabulary must be the model's)"},
    {CLI_STR, "tokenizer-out", F(tokenizer_out), NULL, 0, 0, NULL, CLI_LOCAL, "FILE",
     "llmc: where llm.c's tokenizer file goes (needs --tokenizer)"},
};
#undef F
enum { OPT_FORMAT = 1 };
static const cli_table export_table = CLI_TABLE(export_opt_list);

static const cli_cmd export_cmd = {
    "pretrain export",
    "usage: pretrain export --ckpt CKPT --format hf|llmc --out DIR|FILE [--tokenizer TOK] [options]\n"
    "\n"
    "Writes a model for other tools: --format hf a Hugging Face directory (model.safetensors with\n"
    "GPT2LMHeadModel names, config.json, generation_config.json, and with --tokenizer tokenizer.json,\n"
    "vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json); --format llmc llm.c's\n"
    "gpt2_*.bin model file (and with --tokenizer-out its tokenizer file). Scalar heads (reward\n"
    "models, critics) go as berry.heads.weight/bias (hf) or after llm.c's tensors (llmc).\n"
    "Every stage's --init-from reads these back (pretrain/README.md, \"Export and import\").\n",
    &export_table, 0, NULL};

// The staged files: written under tmp names, renamed to the final ones at the end.
typedef struct staged {
    int n;
    char *tmp[16], *fin[16];
} staged;

static const char *stage(staged *s, const char *final_path) {
    s->fin[s->n] = xstrdup(final_path);
    s->tmp[s->n] = xasprintf("%s.export.%d", final_path, (int)getpid());
    return s->tmp[s->n++];
}

static void stage_free(staged *s, int remove_tmp) {
    for (int i = 0; i < s->n; i++) {
        if (remove_tmp) unlink(s->tmp[i]);
        free(s->tmp[i]);
        free(s->fin[i]);
    }
    s->n = 0;
}

static int stage_commit(staged *s, berr *e) {
    for (int i = 0; i < s->n; i++)
        if (rename(s->tmp[i], s->fin[i]))
            return berr_set(e, "rename %s -> %s failed: %s", s->tmp[i], s->fin[i], strerror(errno));
    return s->n ? fsync_parent_dir(s->fin[s->n - 1], e) : 0;
}

// HF: the files go into a staging directory inside DIR, then are renamed into DIR.
static int export_hf(const export_opts *o, const gpt2_config *c, const float *p, const bpe *tok, int eot,
                     staged *st, char **stage_dir, berr *e) {
    *stage_dir = xasprintf("%s/.export.%d", o->out, (int)getpid());
    if (mkdir_p(*stage_dir, e)) return -1;
    char *w = xasprintf("%s/model.safetensors", *stage_dir);
    int rc = gpt2_write_safetensors(w, c, p, o->dtype ? ST_BF16 : ST_F32, e);
    free(w);
    if (!rc) rc = gpt2_write_hf_config(*stage_dir, c, eot, eot, e);
    if (!rc && tok) rc = bpe_save_hf(tok, *stage_dir, c->maxT, e);
    if (rc) return -1;
    DIR *d = opendir(*stage_dir);
    if (!d) return berr_set(e, "cannot list %s: %s", *stage_dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) && st->n < 16) {
        if (de->d_name[0] == '.') continue;
        char *fin = xasprintf("%s/%s", o->out, de->d_name);
        st->fin[st->n] = fin;
        st->tmp[st->n++] = xasprintf("%s/%s", *stage_dir, de->d_name);
    }
    closedir(d);
    return 0;
}

static int run_export(const export_opts *o, const unsigned char *given, berr *e) {
    gpt2_ckpt_info info;
    float *p = NULL, *mm = NULL, *vv = NULL;
    bpe *tok = NULL;
    int eot = -1, rc = 0, made_out = 0;
    if (o->format == 0 ? cli_check_output_dir("--out", o->out, e) : cli_check_output_file("--out", o->out, e)) return -1;
    if (o->tokenizer_out && cli_check_output_file("--tokenizer-out", o->tokenizer_out, e)) return -1;
    if (gpt2_load_host(o->ckpt, &info, &p, &mm, &vv, NULL, NULL, e)) return berr_wrap(e, "--ckpt");
    free(mm), free(vv);
    const gpt2_config *c = &info.cfg;
    if (o->tokenizer) {
        tok = bpe_load(o->tokenizer, e);
        if (!tok) rc = berr_wrap(e, "--tokenizer");
        else if (bpe_vocab_size(tok) != c->V)
            rc = berr_set(e, "tokenizer %s has %d tokens but the model in %s has a vocabulary of %d", o->tokenizer,
                          bpe_vocab_size(tok), o->ckpt, c->V);
        else eot = bpe_special(tok, BERRY_EOT);
    }
    // HF drops the vocabulary padding: rows V..Vp-1 of wte must be zero for the round trip to be exact.
    size_t off[GPT2_NTENSORS], size[GPT2_NTENSORS], nz = 0;
    gpt2_layout(c, off, size);
    for (size_t i = (size_t)c->V * (size_t)c->C; i < size[GPT2_WTE]; i++) nz += p[off[GPT2_WTE] + i] != 0;
    if (!rc && nz && o->format == 0 && !cli_quiet)
        fprintf(stderr, "pretrain export: note: %zu non-zero values in wte's padding rows %d..%d are not exported\n", nz,
                c->V, c->Vp - 1);
    staged st = {0};
    char *stage_dir = NULL;
    struct stat sb;
    if (!rc && o->format == 0) {
        made_out = stat(o->out, &sb) != 0;
        rc = export_hf(o, c, p, tok, eot, &st, &stage_dir, e);
    } else if (!rc) {
        rc = llmc_write_model(stage(&st, o->out), c, p, o->dtype, e);
        if (!rc && tok) rc = bpe_save_llmc(tok, stage(&st, o->tokenizer_out), eot, e);
    }
    if (!rc) rc = stage_commit(&st, e);
    stage_free(&st, rc != 0);
    if (stage_dir) {
        if (rc) {  // the half-written staging directory (the files export_hf wrote but did not list)
            DIR *d = opendir(stage_dir);
            struct dirent *de;
            while (d && (de = readdir(d)))
                if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))) {
                    char *f = xasprintf("%s/%s", stage_dir, de->d_name);
                    unlink(f);
                    free(f);
                }
            if (d) closedir(d);
        }
        rmdir(stage_dir);
        free(stage_dir);
        if (rc && made_out) rmdir(o->out);
    }
    if (!rc && !cli_quiet)
        fprintf(stderr, "pretrain export: %s (%s, %s): L=%d C=%d NH=%d V=%d maxT=%d heads=%d, %zu parameters%s\n", o->out,
                formats[o->format], dtypes[o->dtype], c->L, c->C, c->NH, c->V, c->maxT, c->n_scalar,
                gpt2_param_count(c), tok ? ", with the tokenizer" : "");
    (void)given;
    bpe_free(tok);
    free(p);
    return rc;
}

int pt_export_main(int argc, char **argv, int first) {
    export_opts o;
    unsigned char given[sizeof export_opt_list / sizeof export_opt_list[0]] = {0};
    berr e;
    int rc = cli_command(&export_cmd, &o, argc, argv, first, given, NULL);
    if (rc != CLI_GO) return rc;
    const char *bad = !o.ckpt ? "--ckpt CKPT is required" : !given[OPT_FORMAT] ? "--format hf|llmc is required"
                      : !o.out ? "--out is required"
                      : o.tokenizer_out && o.format == 0 ? "--tokenizer-out is for --format llmc (hf puts the tokenizer in --out)"
                      : o.tokenizer_out && !o.tokenizer ? "--tokenizer-out needs --tokenizer"
                      : o.tokenizer && o.format == 1 && !o.tokenizer_out ? "--format llmc with --tokenizer needs --tokenizer-out FILE"
                      : NULL;
    if (bad) {
        cli_free(&export_table, &o);
        return cli_usage_error(&export_cmd, "%s", bad);
    }
    cli_echo_line(export_cmd.name, &export_table, &o, given, NULL);
    rc = run_export(&o, given, &e);
    if (rc) cli_fail(export_cmd.name, &e);
    cli_free(&export_table, &o);
    return rc ? 1 : 0;
}
