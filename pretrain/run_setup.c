// run_setup.c — a training run's setup: options (and resume), tokenizer, data, model. Every
// check that can fail on the options, the data or a checkpoint's header runs here, before the
// device is touched.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/train/ckptdir.h"
#include "pretrain/pretrain.h"
#include "pretrain/run.h"
#include "rollout/generate.h"
#include "shards/task_format.h"

// ---- errors agreed between ranks --------------------------------------------------------------

void pt_run_agree(run *r, int rc, const berr *e, int exit_code) { tr_agree(r->c, rc, e, exit_code); }

// ---- setup --------------------------------------------------------------------------------------

int pt_run_options(run *r, int argc, char **argv, int first, berr *e) {
    const cli_table *t = &pt_config_table;
    pt_config cmd;
    r->given = xcalloc((size_t)t->n, 1);
    // (cli_command's steps, with the error agreed between the ranks and printed once)
    berr_prog = pt_train_cmd.name;
    cli_quiet = 0;
    if (cli_defaults(t, &cmd, e)) return -1;
    int rc = cli_parse(t, &cmd, argc, argv, first, r->given, e);
    if (rc == 1 || rc == 2) {
        if (r->rank == 0 && rc == 1) cli_command_help(stdout, &pt_train_cmd);
        if (r->rank == 0 && rc == 2) cli_list_options(stdout, t);
        comm_finalize(r->c);
        exit(0);
    }
    if (rc < 0) {
        char m[sizeof e->msg];
        snprintf(m, sizeof m, "%s", e->msg);
        return berr_set(e, "%.900s (see pretrain train --help)", m);
    }
    if (cmd.resume || cmd.resume_from) {
        if (!cmd.out) return berr_set(e, "--out DIR is required (also with --resume)");
        if (cmd.resume_from) r->resume_path = xstrdup(cmd.resume_from);
        else if (tr_ckpt_latest(cmd.out, &r->resume_path, e)) return -1;
        gpt2_ckpt_info info;
        if (tr_ckpt_read_state(r->resume_path, &info, &r->st, e)) return -1;
        if (pt_config_merge_resume(&cmd, r->given, r->st.opts, r->st.opts_len, &r->cfg, e))
            return berr_wrap(e, "resuming from %s", r->resume_path);
        cli_free(t, &cmd);
    } else {
        r->cfg = cmd;
    }
    return pt_config_check(&r->cfg, r->given, r->world, &r->plan, e);
}

int pt_run_out_check(run *r, berr *e) {
    const pt_config *c = &r->cfg;
    const char *inputs[] = {"--data", c->data, "--val", c->val, "--problems", c->problems, "--val-problems",
                            c->val_problems, NULL};
    if (cli_check_output_dir("--out", c->out, e)) return -1;
    return tr_run_dir_check("--out", c->out, r->resume_path != NULL, inputs, e);
}

int pt_run_tokenizer(run *r, berr *e) {
    if (!r->cfg.tokenizer) return 0;
    r->tok = bpe_load(r->cfg.tokenizer, e);
    if (!r->tok) return -1;
    r->eot = bpe_special(r->tok, BERRY_EOT);
    if (r->eot < 0 && (r->cfg.sft || r->cfg.sample_every))
        return berr_set(e, "tokenizer %s has no %s special token (SFT and samples need it)", r->cfg.tokenizer, BERRY_EOT);
    if (r->cfg.sample_prompt) {  // a sample needs room for at least one new token
        uint32_t *ids;
        size_t np = bpe_encode(r->tok, r->cfg.sample_prompt, strlen(r->cfg.sample_prompt), &ids);
        free(ids);
        if (np >= (size_t)r->cfg.seq_len)
            return berr_set(e, "--sample-prompt is %zu tokens; it must be shorter than --seq-len %d", np, r->cfg.seq_len);
    }
    return 0;
}

// The vocabulary: --vocab, else the tokenizer's, else the checkpoint's, else the data's.
static int pt_run_plan_model(run *r, int data_vocab, berr *e) {
    pt_config *c = &r->cfg;
    gpt2_ckpt_info info;
    const char *ck = r->resume_path ? r->resume_path : c->init_from;
    if (ck && gpt2_ckpt_info_read(ck, &info, e)) return -1;
    int tokV = r->tok ? bpe_vocab_size(r->tok) : 0;
    if (c->vocab && tokV > c->vocab)
        return berr_set(e, "--vocab %d is smaller than the tokenizer's %d ids", c->vocab, tokV);
    // A model and its tokenizer go together: ids of one vocabulary read with another are garbage.
    if (ck && tokV && !c->vocab && tokV != info.cfg.V)
        return berr_set(e, "tokenizer %s has a vocabulary of %d tokens but the model in %s has %d: give the tokenizer the "
                           "model was trained with", c->tokenizer, tokV, ck, info.cfg.V);
    int V = c->vocab ? c->vocab : tokV ? tokV : ck ? info.cfg.V : data_vocab;
    if (pt_plan_model(c, r->given, ck ? &info.cfg : NULL, V, &r->plan, e)) return -1;
    c->vocab = r->plan.model.V;
    return 0;
}

int pt_run_pretrain_data(run *r, berr *e) {
    pt_config *c = &r->cfg;
    const int T = c->seq_len;
    r->train_src = pt_tokens_open(c->data, e);
    if (!r->train_src) return -1;
    if (pt_run_plan_model(r, r->train_src->vocab_hint, e)) return -1;
    uint64_t n = r->train_src->n, n_train = n;
    pt_tokens *val = NULL;
    uint64_t val_base = 0, val_n = 0;
    if (c->val) {
        val = pt_tokens_open(c->val, e);
        if (!val) return -1;
        val_n = val->n;
    } else if (c->val_fraction > 0) {
        val_n = (uint64_t)((double)n * c->val_fraction);
        n_train = n - val_n;
        val_base = n_train;
        val = pt_tokens_open(c->data, e);  // a second handle: evaluation reads on the main thread
        if (!val) return -1;
    }
    if (n_train < (uint64_t)T + 1)
        return berr_set(e, "%s: %llu training tokens, fewer than one sequence of --seq-len %d + 1", c->data,
                        (unsigned long long)n_train, T);
    // Small enough data is read into memory once: every id checked before training starts,
    // and random sequence reads become copies instead of frame decompressions.
    uint64_t bytes = n_train * (r->plan.model.V <= 65536 ? 2 : 4);
    r->data_in_memory = c->data_memory > 0 && bytes <= (uint64_t)c->data_memory;
    if (r->data_in_memory) {
        r->train_src = pt_tokens_in_memory(r->train_src, n_train, r->plan.model.V, e);
        if (!r->train_src) return -1;
    }
    r->train_base = 0;
    r->train_count = (n_train - 1) / (uint64_t)T;
    r->unused_tail = n_train - r->train_count * (uint64_t)T;
    r->val_count = val_n > (uint64_t)T ? (val_n - 1) / (uint64_t)T : 0;
    r->st.data_fp = mix64(r->train_src->fingerprint, n_train);
    r->st.val_fp = val ? mix64(val->fingerprint, mix64(val_base, val_n)) : 0;
    if (c->eval_every) {
        if (r->val_count == 0)
            return berr_set(e, "the validation split (%llu tokens) holds no sequence of %d + 1 tokens: use a larger "
                               "--val-fraction or --val, or --eval-every 0", (unsigned long long)val_n, T);
        if (c->eval_seqs > 0 && (uint64_t)c->eval_seqs > r->val_count)
            return berr_set(e, "--eval-seqs %d is more than the %llu validation sequences", c->eval_seqs,
                            (unsigned long long)r->val_count);
        r->eval_total = c->eval_seqs ? c->eval_seqs : (int)(r->val_count < 64 ? r->val_count : 64);
        // This rank's rows: sequences k ≡ rank (mod world), read once.
        int mine = 0;
        for (int k = r->rank; k < r->eval_total; k += r->world) mine++;
        r->eval_rows = mine;
        r->eval_in = xmalloc(((size_t)mine + 1) * T * sizeof(int32_t));
        r->eval_tg = xmalloc(((size_t)mine + 1) * T * sizeof(int32_t));
        int i = 0;
        for (int k = r->rank; k < r->eval_total; k += r->world, i++)
            if (pt_seq_read(val, val_base, (uint64_t)k, T, r->plan.model.V, r->eval_in + (size_t)i * T,
                            r->eval_tg + (size_t)i * T, e))
                return -1;
    }
    pt_tokens_close(val);
    return 0;
}

int pt_run_sft_data(run *r, berr *e) {
    pt_config *c = &r->cfg;
    const int T = c->seq_len;
    if (pt_run_plan_model(r, 0, e)) return -1;
    if (pt_examples_load_dir(&r->train_ex, c->problems, SPLIT_TRAIN, r->tok, r->eot, (uint32_t)T + 1, c->sft_drop_long, e))
        return -1;
    if (r->train_ex.n == 0)
        return berr_set(e, "%s: no train-split problems to fine-tune on (%llu dropped as longer than --seq-len %d + 1)",
                        c->problems, (unsigned long long)r->train_ex.dropped, T);
    const char *vdir = c->val_problems ? c->val_problems : c->problems;
    if (pt_examples_load_dir(&r->val_ex, vdir, SPLIT_HELDOUT, r->tok, r->eot, (uint32_t)T + 1, c->sft_drop_long, e))
        return -1;
    r->train_count = r->train_ex.n;
    r->st.data_fp = r->train_ex.fingerprint;
    r->st.val_fp = r->val_ex.fingerprint;
    if (c->eval_every) {
        if (r->val_ex.n == 0)
            return berr_set(e, "%s: no heldout-split problems to validate on (give --val-problems DIR, or --eval-every 0)",
                            vdir);
        // Heldout examples packed in order into rows; rank r takes rows ≡ r (mod world).
        tr_order ord;
        tr_order_init(&ord, r->val_ex.n, 0, 0);
        uint32_t *tok = xmalloc(((size_t)T + 1) * sizeof(uint32_t));
        uint8_t *keep = xmalloc((size_t)T + 1);
        int cap = 16, rows = 0;
        int32_t *in = xmalloc((size_t)cap * T * sizeof(int32_t)), *tg = xmalloc((size_t)cap * T * sizeof(int32_t));
        uint64_t pos = 0;
        int total = 0;
        while (pos < r->val_ex.n) {
            pt_sft_pack_row(&r->val_ex, &ord, &pos, r->val_ex.n, T, r->eot, tok, keep);
            if (total % r->world == r->rank) {
                if (rows == cap) {
                    cap *= 2;
                    in = xrealloc(in, (size_t)cap * T * sizeof(int32_t));
                    tg = xrealloc(tg, (size_t)cap * T * sizeof(int32_t));
                }
                pt_sft_row_io(tok, keep, T, in + (size_t)rows * T, tg + (size_t)rows * T);
                rows++;
            }
            total++;
        }
        free(tok);
        free(keep);
        tr_order_free(&ord);
        r->val_count = (uint64_t)total;
        if (c->eval_seqs > 0 && c->eval_seqs > total)
            return berr_set(e, "--eval-seqs %d is more than the %d rows the heldout problems fill", c->eval_seqs, total);
        r->eval_total = c->eval_seqs ? c->eval_seqs : (total < 64 ? total : 64);
        int mine = 0;
        for (int k = r->rank; k < r->eval_total; k += r->world) mine++;
        r->eval_rows = mine;
        r->eval_in = in;
        r->eval_tg = tg;
    }
    return 0;
}

int pt_run_model(run *r, berr *e) {
    pt_config *c = &r->cfg;
    gpt2 *m = &r->m;
    gpt2_build(m, r->ctx, &r->plan.model, c->micro_batch, c->seq_len, 1);
    tr_zero_setup(&r->zero, m, r->c);
    if (c->sample_every && r->rank == 0) {
        // Samples decode on the rollout engine, as every sampler in berry (rollout/generate.h):
        // one sequence at a time, a KV cache of one full-context sequence (and the copy and
        // trash blocks the engine reserves), allocated now with the rest of the run's memory.
        // The engine seed is 0: each sample's seed is its "problem id", drawn from the run's
        // sampling stream (saved in checkpoints).
        ro_config rc;
        ro_gen_config(&rc, 1, c->sample_tokens, (float)c->sample_temp, 0, r->eot);
        rc.max_batch = 1;
        rc.prefill_tokens = 256;
        int nblk = (m->cfg.maxT + rc.block_size - 1) / rc.block_size;
        r->sampler = ro_engine_new(m, (size_t)(nblk + 2) * gpt2_kv_block_bytes(m, rc.block_size), &rc, e);
        if (!r->sampler) return berr_wrap(e, "the text sampler (--sample-every)");
    }
    const char *from = r->resume_path ? r->resume_path : c->init_from;
    if (!from) {
        gpt2_init(m, (uint64_t)c->seed);
        return 0;
    }
    if (tr_load_weights(m, &r->zero, from, r->resume_path != NULL, e)) return -1;
    return 0;
}
