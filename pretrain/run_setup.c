// run_setup.c — a training run's setup: options (and resume), tokenizer, data, model. Every
// check that can fail on the options, the data or a checkpoint's header runs here, before the
// device is touched.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/ckptdir.h"
#include "pretrain/pretrain.h"
#include "pretrain/run.h"
#include "verify/task_format.h"

// ---- errors agreed between ranks --------------------------------------------------------------

// Every rank calls this after a phase that may fail: if any rank failed, all stop, and only the
// lowest failing rank prints (a configuration error is usually the same on all of them).
void pt_run_agree(run *r, int rc, const berr *e, int exit_code) {
    if (comm_all_ok(r->c, rc == 0)) return;
    double *failed = xcalloc((size_t)r->world, sizeof(double));
    failed[r->rank] = rc != 0;
    comm_allreduce_host_f64(r->c, failed, r->world);
    int first = 0;
    while (first < r->world && failed[first] == 0) first++;
    if (r->rank == first) {
        if (r->world > 1) fprintf(stderr, "error: rank %d: %s\n", r->rank, e->msg);
        else fprintf(stderr, "error: %s\n", e->msg);
    }
    free(failed);
    comm_finalize(r->c);
    exit(exit_code);
}

// ---- setup --------------------------------------------------------------------------------------

int pt_run_options(run *r, int argc, char **argv, int first, berr *e) {
    const cli_table *t = &pt_config_table;
    pt_config cmd;
    r->given = xcalloc((size_t)t->n, 1);
    if (cli_defaults(t, &cmd, e)) return -1;
    int rc = cli_parse(t, &cmd, argc, argv, first, r->given, e);
    if (rc == 1) {
        if (r->rank == 0) pt_train_help(stdout);
        comm_finalize(r->c);
        exit(0);
    }
    if (rc < 0) return -1;
    if (cmd.resume || cmd.resume_from) {
        if (!cmd.out) return berr_set(e, "--out DIR is required (also with --resume)");
        if (cmd.resume_from) r->resume_path = xstrdup(cmd.resume_from);
        else if (pt_ckpt_latest(cmd.out, &r->resume_path, e)) return -1;
        gpt2_ckpt_info info;
        if (pt_ckpt_read_state(r->resume_path, &info, &r->st, e)) return -1;
        if (pt_config_merge_resume(&cmd, r->given, r->st.opts, r->st.opts_len, &r->cfg, e))
            return berr_wrap(e, "resuming from %s", r->resume_path);
        cli_free(t, &cmd);
    } else {
        r->cfg = cmd;
    }
    return pt_config_check(&r->cfg, r->given, r->world, &r->plan, e);
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
        pt_order ord;
        pt_order_init(&ord, r->val_ex.n, 0, 0);
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
        pt_order_free(&ord);
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

kb_backend pt_run_backend(int choice) {
    return choice == PT_BACKEND_CPU ? KB_CPU : choice == PT_BACKEND_CUDA ? KB_CUDA : kb_default_backend();
}

int pt_run_model(run *r, berr *e) {
    pt_config *c = &r->cfg;
    gpt2 *m = &r->m;
    gpt2_build(m, r->ctx, &r->plan.model, c->micro_batch, c->seq_len, 1);
    r->part = comm_partition(m->n_params, r->world, r->rank, SHARD_ALIGN);
    r->sh = (gpt2_shard){.off = r->part.off, .len = r->part.len, .n_pad = r->part.n_pad};
    gpt2_set_shard(m, &r->sh);
    const char *from = r->resume_path ? r->resume_path : c->init_from;
    if (!from) {
        gpt2_init(m, (uint64_t)c->seed);
        return 0;
    }
    gpt2_ckpt_info info;
    float *p, *mm, *vv;
    if (gpt2_load_host(from, &info, &p, &mm, &vv, NULL, NULL, e)) return -1;
    gpt2_set_params(m, p);
    if (r->resume_path) {
        if (!mm) {
            free(p);
            return berr_set(e, "%s has no optimizer state to resume from", from);
        }
        gpt2_set_moments(m, &r->sh, mm + r->sh.off, vv + r->sh.off);
        m->step = (int)info.step;
    }
    kb_sync(r->ctx);
    free(p);
    free(mm);
    free(vv);
    return 0;
}
