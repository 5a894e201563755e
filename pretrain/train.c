// train.c — `pretrain [train]`: the training loop (pretraining on token shards, or SFT on
// problem shards), data parallel over the ranks of comm.h with ZeRO-1 optimizer sharding,
// resumable bit for bit from its checkpoints.
//
// One step: the reader thread has the batch ready; zero grads; accum micro-steps of forward
// and backward (loss scaled by 1 / unmasked targets of the whole global batch); reduce-scatter
// the gradients; norm² of this rank's shard, all-reduced with the loss sum (one collective of
// two floats); AdamW over the shard with clipping by the global norm; all-gather the masters;
// one host sync to read loss and norm.
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/comm.h"
#include "kernels/gpt2.h"
#include "pretrain/ckptdir.h"
#include "pretrain/config.h"
#include "pretrain/loader.h"
#include "pretrain/pretrain.h"
#include "pretrain/runlog.h"
#include "pretrain/sample.h"
#include "pretrain/schedule.h"
#include "pretrain/sft.h"
#include "pretrain/state.h"
#include "pretrain/text.h"
#include "shards/tokenizer.h"
#include "verify/task_format.h"

#define SHARD_ALIGN 64  // floats: ZeRO blocks start on 256-byte boundaries

typedef struct run {
    pt_config cfg;
    unsigned char *given;
    pt_plan plan;
    comm *c;
    int rank, world;
    kb_ctx *ctx;
    gpt2 m;
    int built;
    gpt2_shard sh;
    comm_part part;
    gpt2_opt opt;
    pt_schedule sched;
    bpe *tok;
    int eot;
    // data
    pt_tokens *train_src;  // handed to the feed when the loader starts
    uint64_t train_base, train_count, unused_tail;
    int data_in_memory;
    pt_examples train_ex, val_ex;
    pt_loader *loader;
    int32_t *eval_in, *eval_tg;  // this rank's evaluation rows
    int eval_rows, eval_total;   // this rank's, all ranks'
    uint64_t val_count;          // validation items available
    // state
    pt_state st;
    char *resume_path;
    pt_log log;
    int64_t start_step;
} run;

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { stop_requested = sig; }

// ---- errors agreed between ranks --------------------------------------------------------------

// Every rank calls this after a phase that may fail: if any rank failed, all stop, and only the
// lowest failing rank prints (a configuration error is usually the same on all of them).
static void agree(run *r, int rc, const berr *e, int exit_code) {
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

static int setup_options(run *r, int argc, char **argv, int first, berr *e) {
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

static int open_tokenizer(run *r, berr *e) {
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
static int plan_model(run *r, int data_vocab, berr *e) {
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

static int setup_pretrain_data(run *r, berr *e) {
    pt_config *c = &r->cfg;
    const int T = c->seq_len;
    r->train_src = pt_tokens_open(c->data, e);
    if (!r->train_src) return -1;
    if (plan_model(r, r->train_src->vocab_hint, e)) return -1;
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

static int setup_sft_data(run *r, berr *e) {
    pt_config *c = &r->cfg;
    const int T = c->seq_len;
    if (plan_model(r, 0, e)) return -1;
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

static kb_backend pick_backend(int choice) {
    return choice == PT_BACKEND_CPU ? KB_CPU : choice == PT_BACKEND_CUDA ? KB_CUDA : kb_default_backend();
}

static void echo_config(run *r) {
    if (r->rank) return;
    const pt_config *c = &r->cfg;
    const gpt2_config *m = &r->plan.model;
    FILE *f = stderr;
    fprintf(f, "pretrain: %s run%s\n", c->sft ? "SFT" : "pretraining", r->resume_path ? " (resumed)" : "");
    cli_echo(f, &pt_config_table, c);
    fprintf(f, "derived:\n");
    fprintf(f, "  %-18s %d (%s)\n", "ranks", r->world, comm_transport(r->c));
    fprintf(f, "  %-18s %s: %s\n", "device", kb_backend_name(r->ctx), kb_device_name(r->ctx));
    fprintf(f, "  %-18s L=%d C=%d heads=%d V=%d (padded %d) context=%d: %zu parameters\n", "model", m->L, m->C, m->NH,
            m->V, m->Vp, m->maxT, gpt2_param_count(m));
    fprintf(f, "  %-18s %d × %d × %d accumulation × %d ranks = %lld tokens/step\n", "batch", c->micro_batch,
            c->seq_len, r->plan.accum, r->world, (long long)c->batch_tokens);
    fprintf(f, "  %-18s %lld (%.4g tokens)\n", "steps", (long long)r->plan.steps,
            (double)r->plan.steps * (double)c->batch_tokens);
    if (c->sft) {
        fprintf(f, "  %-18s %llu train examples (%llu tokens), %llu heldout; %llu dropped as too long\n", "sft",
                (unsigned long long)r->train_ex.n, (unsigned long long)r->train_ex.tokens,
                (unsigned long long)r->val_ex.n, (unsigned long long)(r->train_ex.dropped + r->val_ex.dropped));
    } else {
        fprintf(f, "  %-18s %llu sequences of %d+1 tokens per epoch (%llu tokens at the end unused), %s\n",
                "train data", (unsigned long long)r->train_count, c->seq_len, (unsigned long long)r->unused_tail,
                r->data_in_memory ? "read into memory" : "read from the shards");
        fprintf(f, "  %-18s %.3g epochs\n", "epochs",
                (double)r->plan.steps * (double)r->plan.seqs_per_step / (double)r->train_count);
    }
    if (c->eval_every)
        fprintf(f, "  %-18s %d of %llu validation rows per evaluation\n", "eval", r->eval_total,
                (unsigned long long)r->val_count);
    fprintf(f, "  %-18s %lld\n", "start step", (long long)r->start_step);
}

static void log_config(run *r) {
    FILE *f = pt_log_begin(&r->log);
    if (!f) return;
    const gpt2_config *m = &r->plan.model;
    fprintf(f, "\"event\": \"config\", \"step\": %lld, ", (long long)r->start_step);
    cli_json_fields(f, &pt_config_table, &r->cfg);
    fprintf(f, ", \"world\": %d, \"transport\": \"%s\", \"backend_used\": \"%s\", \"device\": ", r->world,
            comm_transport(r->c), kb_backend_name(r->ctx));
    pt_json_bytes(f, kb_device_name(r->ctx), strlen(kb_device_name(r->ctx)));
    fprintf(f, ", \"model\": {\"L\": %d, \"C\": %d, \"NH\": %d, \"V\": %d, \"Vp\": %d, \"maxT\": %d}, \"n_params\": %zu, "
               "\"accum\": %d, \"total_steps\": %lld, \"flops_per_token_rule\": %.17g, \"peak_flops\": %.17g",
            m->L, m->C, m->NH, m->V, m->Vp, m->maxT, r->m.n_params, r->plan.accum, (long long)r->plan.steps,
            gpt2_flops_per_token_rule(&r->m, r->cfg.seq_len), kb_peak_flops(r->ctx));
    pt_log_end(&r->log);
}

static int setup_model(run *r, berr *e) {
    pt_config *c = &r->cfg;
    gpt2 *m = &r->m;
    gpt2_build(m, r->ctx, &r->plan.model, c->micro_batch, c->seq_len, 1);
    r->built = 1;
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

// ---- evaluation, samples, checkpoints ------------------------------------------------------------

static double evaluate(run *r) {
    kb_set_stage(r->ctx, "pretrain_eval");
    const int B = r->cfg.micro_batch, T = r->cfg.seq_len;
    double sums[2] = {0, 0};  // loss sum, unmasked targets
    for (int i = 0; i < r->eval_rows; i += B) {
        int nb = r->eval_rows - i < B ? r->eval_rows - i : B;
        const int32_t *tg = r->eval_tg + (size_t)i * T;
        gpt2_reset_loss(&r->m);
        gpt2_forward(&r->m, r->eval_in + (size_t)i * T, tg, nb, T);
        double ls;
        gpt2_read_stats(&r->m, &ls, NULL);
        sums[0] += ls;
        for (size_t k = 0; k < (size_t)nb * T; k++) sums[1] += tg[k] >= 0;
    }
    comm_allreduce_host_f64(r->c, sums, 2);
    kb_set_stage(r->ctx, "pretrain");
    return sums[1] > 0 ? sums[0] / sums[1] : NAN;
}

static void sample_text(run *r, int64_t step) {
    if (r->rank != 0) return;  // no collectives: the other ranks go on to the next step
    kb_set_stage(r->ctx, "pretrain_sample");
    uint32_t *ids = NULL;
    size_t np = 0;
    if (r->cfg.sample_prompt) np = bpe_encode(r->tok, r->cfg.sample_prompt, strlen(r->cfg.sample_prompt), &ids);
    if (np == 0) {
        free(ids);
        ids = xmalloc(sizeof(uint32_t));
        ids[0] = (uint32_t)r->eot;
        np = 1;
    }
    pt_gen g = {.prompt = ids, .n_prompt = (int)np, .seed = rng_next(&r->st.rng)};
    pt_generate(&r->m, &g, 1, r->cfg.sample_tokens, r->cfg.sample_temp, r->eot);
    char *text;
    size_t len;
    berr e;
    if (bpe_decode(r->tok, g.out, (size_t)g.n_out, &text, &len, &e) == 0) {
        fprintf(stderr, "sample @ step %lld: ", (long long)step);
        pt_print_text(stderr, text, len);
        fputc('\n', stderr);
        FILE *f = pt_log_begin(&r->log);
        if (f) {
            fprintf(f, "\"step\": %lld, \"sample\": ", (long long)step);
            pt_json_bytes(f, text, len);
            pt_log_end(&r->log);
        }
        free(text);
    } else {
        fprintf(stderr, "warning: sample @ step %lld could not be decoded: %s\n", (long long)step, e.msg);
    }
    free(g.out);
    free(ids);
    kb_set_stage(r->ctx, "pretrain");
}

static void log_counters(run *r, int64_t step) {
    FILE *f = pt_log_begin(&r->log);
    if (!f) return;
    fprintf(f, "\"event\": \"counters\", \"step\": %lld, \"rank\": 0, \"world\": %d, \"counts\": ", (long long)step, r->world);
    kb_counts_json(r->ctx, f);
    pt_log_end(&r->log);
}

// Writes ckpt_<step>.bin: rank 0 gathers every rank's moments and writes the file in the
// single-process format (so any rank count can resume it); the others send their shard.
static void save_checkpoint(run *r, int64_t step) {
    double t0 = now_sec();
    gpt2 *m = &r->m;
    size_t n = m->n_params, len = r->sh.len;
    float *hm = xmalloc((len ? len : 1) * sizeof(float)), *hv = xmalloc((len ? len : 1) * sizeof(float));
    gpt2_get_moments(m, &r->sh, hm, hv);
    float *fm = NULL, *fv = NULL, *p = NULL;
    if (r->rank == 0) {
        fm = xmalloc(n * sizeof(float));
        fv = xmalloc(n * sizeof(float));
        p = xmalloc(n * sizeof(float));
        gpt2_get_params(m, p);
    }
    comm_gather_host_f32(r->c, hm, fm, n, SHARD_ALIGN);
    comm_gather_host_f32(r->c, hv, fv, n, SHARD_ALIGN);
    int rc = 0;
    berr e = {{0}};
    char *path = pt_ckpt_path(r->cfg.out, step);
    if (r->rank == 0) {
        bbuf blob = {0};
        r->st.world = (uint32_t)r->world;
        pt_state_encode(&r->st, &blob);
        rc = gpt2_save_host(&m->cfg, m->step, p, fm, fv, blob.p, blob.n, path, &e);
        if (!rc) rc = pt_ckpt_prune(r->cfg.out, r->cfg.keep, &e);
        bbuf_free(&blob);
    }
    agree(r, rc, &e, 1);
    if (r->rank == 0) {
        double dt = now_sec() - t0;
        fprintf(stderr, "checkpoint: %s (%.2f s)\n", path, dt);
        FILE *f = pt_log_begin(&r->log);
        if (f) {
            fprintf(f, "\"step\": %lld, \"checkpoint\": ", (long long)step);
            pt_json_bytes(f, path, strlen(path));
            fprintf(f, ", \"seconds\": %.3f", dt);
            pt_log_end(&r->log);
        }
        log_counters(r, step);
    }
    free(path);
    free(hm), free(hv), free(fm), free(fv), free(p);
}

// ---- the loop -------------------------------------------------------------------------------------

static void train_loop(run *r) {
    pt_config *c = &r->cfg;
    gpt2 *m = &r->m;
    kb_ctx *ctx = r->ctx;
    const int B = c->micro_batch, T = c->seq_len, W = r->world;
    const int64_t steps = r->plan.steps;
    kb_set_stage(ctx, "pretrain");
    const kb_counts *counts = kb_counts_of(ctx, "pretrain");
    double flops_before = 0, peak = kb_peak_flops(ctx);

    if (r->start_step == 0 && c->eval_every) {
        double vl = evaluate(r);
        if (r->rank == 0) fprintf(stderr, "step %lld: val loss %.4f\n", 0LL, vl);
        pt_log_rec(&r->log, "\"step\": 0, \"val_loss\": %.17g", vl);
    }
    int64_t step = r->start_step;
    while (step < steps) {
        double t0 = now_sec(), waited;
        const pt_batch *b;
        berr e;
        if (pt_loader_next(r->loader, &b, &waited, &e)) {
            fprintf(stderr, "error: rank %d: %s\n", r->rank, e.msg);
            exit(1);  // under mpirun, the launcher takes the other ranks down
        }
        double lr = pt_lr(&r->sched, step);
        gpt2_zero_grad(m);
        float dscale = (float)(1.0 / (double)b->valid);
        for (int a = 0; a < b->accum; a++)
            gpt2_forward_backward(m, b->inputs + (size_t)a * B * T, b->targets + (size_t)a * B * T, B, T, dscale, 0);
        comm_reduce_scatter_f32(r->c, m->grads, r->part.shard);
        if (r->sh.len) kb_norm_squared(ctx, m->stats + 1, m->grads + r->sh.off, r->sh.len, 0);
        else kb_zero(ctx, m->stats + 1, sizeof(float));
        comm_allreduce_f32(r->c, m->stats, 2);  // [loss sum, grad norm²] over all ranks
        gpt2_update_shard(m, &r->sh, &r->opt, (float)lr, m->stats + 1);
        if (W > 1) {
            comm_allgather_f32(r->c, m->params, r->part.shard);
            gpt2_refresh_working(m);
        }
        double loss_sum, gnorm;
        gpt2_read_stats(m, &loss_sum, &gnorm);
        double dt = now_sec() - t0;
        step++;

        double fl = counts ? kb_counts_total_flops(counts) : 0;
        double step_flops = (fl - flops_before) * W;  // every rank runs the same shapes
        flops_before = fl;
        double loss = loss_sum / (double)b->valid;
        double tokens = (double)r->plan.seqs_per_step * T;
        r->st.step = (uint64_t)step;
        r->st.cursor = b->cursor_after;
        r->st.tokens += (uint64_t)tokens;
        r->st.flops += step_flops;
        double mfu = step_flops / W / dt / peak;
        if (!isfinite(loss)) die("step %lld: the loss is %g (diverged); lower --lr or raise --warmup", (long long)step, loss);
        if (r->rank == 0) {
            fprintf(stderr, "step %6lld/%lld | loss %.4f | lr %.2e | norm %.3f | %.1f ms | %.0f tok/s | MFU %.1f%%",
                    (long long)step, (long long)steps, loss, lr, gnorm, dt * 1e3, tokens / dt, 100 * mfu);
            if (waited > 1e-3) fprintf(stderr, " | data wait %.1f ms", waited * 1e3);
            fputc('\n', stderr);
            pt_log_rec(&r->log,
                       "\"step\": %lld, \"loss\": %.17g, \"lr\": %.17g, \"grad_norm\": %.17g, \"ms\": %.3f, "
                       "\"tok_s\": %.1f, \"mfu\": %.6f, \"data_wait_ms\": %.3f, \"tokens\": %llu, \"flops\": %.17g, "
                       "\"flops_total\": %.17g",
                       (long long)step, loss, lr, gnorm, dt * 1e3, tokens / dt, mfu, waited * 1e3,
                       (unsigned long long)r->st.tokens, step_flops, r->st.flops);
        }
        int last = step == steps;
        if (c->eval_every && (step % c->eval_every == 0 || last)) {
            double vl = evaluate(r);
            if (r->rank == 0) fprintf(stderr, "step %lld: val loss %.4f\n", (long long)step, vl);
            pt_log_rec(&r->log, "\"step\": %lld, \"val_loss\": %.17g", (long long)step, vl);
        }
        if (c->sample_every && (step % c->sample_every == 0 || last)) sample_text(r, step);
        int stop = !comm_all_ok(r->c, !stop_requested);
        if (last || stop || (c->ckpt_every && step % c->ckpt_every == 0)) save_checkpoint(r, step);
        if (stop) {
            if (r->rank == 0)
                fprintf(stderr, "pretrain: interrupted by a signal at step %lld: checkpoint saved; continue with --resume\n",
                        (long long)step);
            comm_finalize(r->c);
            exit(130);
        }
    }
}

// ---- main -----------------------------------------------------------------------------------------

int pt_train_main(int argc, char **argv, int first) {
    run R = {0}, *r = &R;
    berr e = {{0}};
    r->c = comm_init(&e);
    if (!r->c) {
        fprintf(stderr, "error: %s\n", e.msg);
        return 2;
    }
    r->rank = comm_rank(r->c);
    r->world = comm_world(r->c);
    pt_config *c = &r->cfg;

    // Everything that can be wrong with the options and the data is found before the device
    // is touched, and every rank stops on the same error.
    int rc = setup_options(r, argc, argv, first, &e);
    uint64_t saved_fp = r->st.data_fp, saved_vfp = r->st.val_fp;  // from the checkpoint, when resuming
    if (!rc) rc = open_tokenizer(r, &e);
    if (!rc) rc = c->sft ? setup_sft_data(r, &e) : setup_pretrain_data(r, &e);
    if (!rc && r->resume_path && (saved_fp != r->st.data_fp || saved_vfp != r->st.val_fp))
        rc = berr_set(&e, "the %s data differs from the run being resumed (fingerprint %016llx, the checkpoint's "
                          "%016llx): a resumed run must see the same data", saved_fp != r->st.data_fp ? "training" : "validation",
                      (unsigned long long)(saved_fp != r->st.data_fp ? r->st.data_fp : r->st.val_fp),
                      (unsigned long long)(saved_fp != r->st.data_fp ? saved_fp : saved_vfp));
    agree(r, rc, &e, 2);
    // The resolved run configuration goes into every checkpoint (for --resume).
    c->batch_tokens = (int64_t)c->micro_batch * c->seq_len * r->plan.accum * r->world;
    {
        bbuf ob = {0};
        cli_serialize(&ob, &pt_config_table, c);
        free(r->st.opts);
        r->st.opts = xmalloc(ob.n + 1);
        memcpy(r->st.opts, ob.p, ob.n);
        r->st.opts[ob.n] = 0;
        r->st.opts_len = ob.n;
        bbuf_free(&ob);
    }

    if (r->resume_path && r->rank == 0) pt_ckpt_clean_temps(c->out);
    // A new run must not mix with an earlier one in the same directory.
    if (!r->resume_path) {
        int64_t *steps;
        int n = 0;
        rc = pt_ckpt_list(c->out, &steps, &n, &e);
        if (!rc && n > 0)
            rc = berr_set(&e, "%s already holds checkpoints of a run: continue it with --resume, or use another --out", c->out);
        free(steps);
        if (!rc && r->rank == 0) rc = mkdir_p(c->out, &e);
    }
    agree(r, rc, &e, 2);

    r->ctx = kb_open(pick_backend(c->backend), comm_local_rank(r->c), &e);
    rc = r->ctx ? 0 : -1;
    if (!rc) rc = comm_attach(r->c, r->ctx, &e);
    agree(r, rc, &e, 2);
    rc = setup_model(r, &e);
    agree(r, rc, &e, 2);
    r->start_step = r->resume_path ? (int64_t)r->st.step : 0;
    if (!r->resume_path) r->st.rng = mix64((uint64_t)c->seed, 0x5a4d504c45ull);  // sampling stream

    r->opt = (gpt2_opt){.beta1 = (float)c->beta1, .beta2 = (float)c->beta2, .eps = (float)c->eps,
                        .weight_decay = (float)c->weight_decay, .grad_clip = (float)c->grad_clip};
    r->sched = (pt_schedule){.lr = c->lr, .final_frac = c->lr_final_frac, .warmup = c->warmup,
                             .steps = r->plan.steps, .kind = c->schedule};
    pt_feed feed = c->sft ? pt_sft_feed(&r->train_ex, c->seq_len, r->eot, (uint64_t)c->seed, r->rank, r->world,
                                        c->micro_batch, r->plan.accum)
                          : pt_seq_feed(r->train_src, r->train_base, r->train_count, c->seq_len, r->plan.model.V,
                                        (uint64_t)c->seed, r->rank, r->world, c->micro_batch, r->plan.accum);
    r->train_src = NULL;  // owned by the feed
    r->loader = pt_loader_start(feed, r->plan.accum, c->micro_batch, c->seq_len, r->st.cursor, 1);

    echo_config(r);
    if (r->rank == 0) {
        char *lp = xasprintf("%s/log.jsonl", c->out);
        int64_t dropped = 0;
        rc = pt_log_open(&r->log, lp, r->resume_path ? r->start_step : -1, &dropped, &e);
        free(lp);
        if (!rc) {
            log_config(r);
            if (r->resume_path) {
                FILE *f = pt_log_begin(&r->log);
                fprintf(f, "\"event\": \"resume\", \"step\": %lld, \"from\": ", (long long)r->start_step);
                pt_json_bytes(f, r->resume_path, strlen(r->resume_path));
                fprintf(f, ", \"dropped_records\": %lld, \"world_at_save\": %u", (long long)dropped, r->st.world);
                pt_log_end(&r->log);
                fprintf(stderr, "resumed from %s at step %lld (%lld later log records dropped)\n", r->resume_path,
                        (long long)r->start_step, (long long)dropped);
            }
        }
    }
    agree(r, rc, &e, 1);
    if (r->start_step >= r->plan.steps && r->rank == 0)
        fprintf(stderr, "pretrain: the run is already complete (%lld steps)\n", (long long)r->plan.steps);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double t0 = now_sec();
    train_loop(r);
    double secs = now_sec() - t0;

    // The final weights alone, for sampling and later stages.
    rc = 0;
    char *mp = xasprintf("%s/model.bin", c->out);
    if (r->rank == 0) {
        bbuf blob = {0};
        pt_state_encode(&r->st, &blob);
        rc = gpt2_save(&r->m, mp, 0, blob.p, blob.n, &e);
        bbuf_free(&blob);
    }
    agree(r, rc, &e, 1);
    if (r->rank == 0) {
        fprintf(stderr, "pretrain: done: %lld steps, %.4g tokens, %.4g FLOPs; weights in %s\n", (long long)r->plan.steps,
                (double)r->st.tokens, r->st.flops, mp);
        pt_log_rec(&r->log, "\"event\": \"end\", \"step\": %lld, \"seconds\": %.3f, \"tokens\": %llu, \"flops_total\": %.17g",
                   (long long)r->plan.steps, secs, (unsigned long long)r->st.tokens, r->st.flops);
        pt_log_close(&r->log);
    }
    free(mp);
    pt_loader_stop(r->loader);
    gpt2_free(&r->m);
    kb_close(r->ctx);
    pt_examples_free(&r->train_ex);
    pt_examples_free(&r->val_ex);
    if (r->tok) bpe_free(r->tok);
    free(r->eval_in), free(r->eval_tg), free(r->given), free(r->resume_path);
    pt_state_free(&r->st);
    cli_free(&pt_config_table, c);
    comm_finalize(r->c);
    return 0;
}

void pt_train_help(FILE *f) {
    cli_help(f, &pt_config_table,
             "usage: pretrain [train] --out DIR (--data PATH | --sft --problems DIR --tokenizer FILE)\n"
             "                        (--steps N | --tokens N) [options]\n"
             "\n"
             "Trains a GPT-2 from scratch or from --init-from, on token shards (pretraining) or on problem\n"
             "shards as prompt -> worked solution with the prompt masked out of the loss (--sft). Writes\n"
             "DIR/ckpt_<step>.bin (model, optimizer, data position, RNG, options), DIR/log.jsonl and, at the\n"
             "end, DIR/model.bin. --resume continues bit for bit on the same device.\n"
             "Several GPUs: mpirun -np N build/bin/pretrain ... (one process per GPU, NCCL, ZeRO-1).\n");
}
