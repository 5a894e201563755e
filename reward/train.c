// train.c — `reward train`: setup, the step loop, evaluation, checkpoints and the final model
// (see train.h). The structure is pretrain's: every check that can fail on the options, the data
// or a checkpoint's header runs before the device is touched, and every rank stops on the same
// error.
//
// One step: the reader thread has the rows ready; zero grads; accum micro-steps of the head's BCE
// (gpt2_head_forward_backward, scaled by 1 / the labeled positions of the whole global step), each
// micro-batch cut after its last labeled position; the ZeRO-1 step (tr_zero_step); one host sync.
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/train/ckptdir.h"
#include "reward/train.h"
#include "shards/tokenizer.h"

typedef struct rw_run {
    rw_train_config cfg;
    unsigned char *given;
    rw_plan plan;
    comm *c;
    int rank, world;
    kb_ctx *ctx;
    gpt2 m;
    tr_zero zero;
    gpt2_opt opt;
    tr_schedule sched;
    char role[32];
    rw_examples train, val;
    tr_loader *loader;
    int32_t *mb_tok;
    float *mb_lab, *mb_w;
    tr_state st;
    char *resume_path;
    const char *from;  // the checkpoint the weights come from
    gpt2_config from_cfg;
    tr_log log;
    int64_t start_step;
} rw_run;

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { stop_requested = sig; }

static void agree(rw_run *r, int rc, const berr *e, int code) { tr_agree(r->c, rc, e, code); }

// ---- setup ----------------------------------------------------------------------------------------

// Returns RW_GO, or an exit status (help printed, usage error reported).
static int run_options(rw_run *r, int argc, char **argv, int first, berr *e, int *data_error) {
    const cli_table *t = &rw_train_table;
    rw_train_config cmd;
    r->given = xcalloc((size_t)t->n, 1);
    int rc = rw_parse(&rw_train_cmd, &cmd, argc, argv, first, r->given);
    if (rc != RW_GO) return rc;
    *data_error = 0;
    int resuming = cmd.resume || cmd.resume_from;
    if (resuming) {
        if (!cmd.out) {
            cli_free(t, &cmd);
            return rw_usage_error(&rw_train_cmd, "--out DIR is required (also with --resume)");
        }
        if (cmd.resume_from) r->resume_path = xstrdup(cmd.resume_from);
        else if (tr_ckpt_latest(cmd.out, &r->resume_path, e)) {
            *data_error = 1;
            return RW_GO;
        }
        gpt2_ckpt_info info;
        if (tr_ckpt_read_state(r->resume_path, &info, &r->st, e)) {
            *data_error = 1;
            return RW_GO;
        }
        if (cli_merge_resume(t, &cmd, r->given, r->st.opts, r->st.opts_len, &r->cfg, e)) {
            berr_wrap(e, "resuming from %s", r->resume_path);
            cli_free(t, &cmd);
            return rw_usage_error(&rw_train_cmd, "%s", e->msg);
        }
        cli_free(t, &cmd);
    } else {
        r->cfg = cmd;
    }
    if (rw_train_check(&r->cfg, r->given, resuming, e)) return rw_usage_error(&rw_train_cmd, "%s", e->msg);
    return RW_GO;
}

static int run_data(rw_run *r, berr *e) {
    rw_train_config *c = &r->cfg;
    r->from = r->resume_path ? r->resume_path : c->init_from;
    gpt2_ckpt_info info;
    if (gpt2_ckpt_info_read(r->from, &info, e)) return -1;
    r->from_cfg = info.cfg;
    if (r->resume_path && info.cfg.n_scalar != 1)
        return berr_set(e, "%s has %d scalar heads: not a reward model checkpoint", r->resume_path, info.cfg.n_scalar);
    if (c->tokenizer) {
        bpe *tok = bpe_load(c->tokenizer, e);
        if (!tok) return -1;
        int tv = bpe_vocab_size(tok);
        bpe_free(tok);
        if (tv != info.cfg.V)
            return berr_set(e, "checkpoint %s has a vocabulary of %d tokens but tokenizer %s has %d: they must be the same",
                            r->from, info.cfg.V, c->tokenizer, tv);
    }
    int T = c->seq_len ? c->seq_len : info.cfg.maxT;
    if (T > info.cfg.maxT) return berr_set(e, "--seq-len %d exceeds the context %d of %s", T, info.cfg.maxT, r->from);
    if (rw_examples_load(c->labels, c->kind, (uint32_t)T, c->drop_long, c->val_fraction, &r->train, &r->val, e)) return -1;
    uint32_t max_id = r->train.max_id > r->val.max_id ? r->train.max_id : r->val.max_id;
    if (max_id >= (uint32_t)info.cfg.V)
        return berr_set(e, "%s holds token id %u, outside the vocabulary of %d tokens of %s: the trajectories were sampled "
                           "with another tokenizer", c->labels, max_id, info.cfg.V, r->from);
    if (r->train.n == 0)
        return berr_set(e, "%s: no training rows (%llu trees, all in the validation split or dropped as too long: %llu)",
                        c->labels, (unsigned long long)(r->train.trees + r->val.trees),
                        (unsigned long long)(r->train.dropped_long + r->val.dropped_long));
    if (c->eval_every && r->val.n == 0)
        return berr_set(e, "%s: the validation split (--val-fraction %g of %llu trees) is empty: raise --val-fraction or "
                           "use --eval-every 0", c->labels, c->val_fraction, (unsigned long long)(r->train.trees + r->val.trees));
    if (rw_train_plan(c, &info.cfg, r->train.n, r->world, &r->plan, e)) return -1;
    uint64_t fp = mix64(r->train.fingerprint, (uint64_t)c->kind), vfp = mix64(r->val.fingerprint, (uint64_t)c->kind);
    if (r->resume_path && (fp != r->st.data_fp || vfp != r->st.val_fp))
        return berr_set(e, "the %s rows differ from the run being resumed: a resumed run must see the same labels",
                        fp != r->st.data_fp ? "training" : "validation");
    r->st.data_fp = fp;
    r->st.val_fp = vfp;
    return 0;
}

static int run_model(rw_run *r, berr *e) {
    rw_train_config *c = &r->cfg;
    gpt2 *m = &r->m;
    gpt2_build(m, r->ctx, &r->plan.model, c->micro_batch, r->plan.T, 1);
    snprintf(r->role, sizeof r->role, "reward.%s", rw_kind_choices[c->kind]);
    gpt2_set_role(m, r->role);
    kb_set_stage(r->ctx, r->role);
    tr_zero_setup(&r->zero, m, r->c);
    if (c->train_layers && c->train_layers < m->cfg.L) gpt2_set_trainable(m, m->cfg.L - c->train_layers);
    if (r->resume_path) return tr_load_weights(m, &r->zero, r->resume_path, 1, e);
    return gpt2_load_trunk(m, c->init_from, (uint64_t)c->seed, e);
}

// ---- reporting ------------------------------------------------------------------------------------

static void run_echo(rw_run *r) {
    if (r->rank || r->cfg.quiet) return;
    const rw_train_config *c = &r->cfg;
    const gpt2_config *m = &r->plan.model;
    FILE *f = stderr;
    fprintf(f, "reward train: %s run%s\n", rw_kind_choices[c->kind], r->resume_path ? " (resumed)" : "");
    cli_echo(f, &rw_train_table, c);
    fprintf(f, "derived:\n");
    fprintf(f, "  %-18s %d (%s)\n", "ranks", r->world, comm_transport(r->c));
    fprintf(f, "  %-18s %s: %s\n", "device", kb_backend_name(r->ctx), kb_device_name(r->ctx));
    fprintf(f, "  %-18s L=%d C=%d heads=%d V=%d context=%d, 1 scalar head: %zu parameters; from %s\n", "model", m->L, m->C,
            m->NH, m->V, m->maxT, gpt2_param_count(m), r->from);
    fprintf(f, "  %-18s %s\n", "trained",
            c->train_layers && c->train_layers < m->L ? "the top layers, the final layernorm and the head" : "every weight");
    fprintf(f, "  %-18s %d rows × %d accumulation × %d ranks = %lld rows/step, rows of up to %d tokens\n", "batch",
            c->micro_batch, r->plan.accum, r->world, (long long)r->plan.rows_per_step, r->plan.T);
    fprintf(f, "  %-18s %llu rows (%llu trees, %llu labeled positions, %llu tokens); %llu dropped as too long\n", "train",
            (unsigned long long)r->train.n, (unsigned long long)r->train.trees, (unsigned long long)r->train.labels,
            (unsigned long long)r->train.tokens, (unsigned long long)r->train.dropped_long);
    fprintf(f, "  %-18s %llu rows (%llu trees, %llu labeled positions); %llu dropped as too long\n", "validation",
            (unsigned long long)r->val.n, (unsigned long long)r->val.trees, (unsigned long long)r->val.labels,
            (unsigned long long)r->val.dropped_long);
    fprintf(f, "  %-18s %lld (%.3g epochs)\n", "steps", (long long)r->plan.steps,
            (double)r->plan.steps * (double)r->plan.rows_per_step / (double)r->train.n);
    fprintf(f, "  %-18s %lld\n", "start step", (long long)r->start_step);
}

static void log_config(rw_run *r) {
    FILE *f = tr_log_begin(&r->log);
    if (!f) return;
    const gpt2_config *m = &r->plan.model;
    fprintf(f, "\"event\": \"config\", \"step\": %lld, ", (long long)r->start_step);
    cli_json_fields(f, &rw_train_table, &r->cfg);
    fprintf(f, ", \"world\": %d, \"transport\": \"%s\", \"backend_used\": \"%s\", \"device\": ", r->world,
            comm_transport(r->c), kb_backend_name(r->ctx));
    json_string(f, kb_device_name(r->ctx), strlen(kb_device_name(r->ctx)));
    fprintf(f, ", \"model\": {\"L\": %d, \"C\": %d, \"NH\": %d, \"V\": %d, \"maxT\": %d, \"n_scalar\": 1}, \"n_params\": %zu, "
               "\"accum\": %d, \"total_steps\": %lld, \"train_rows\": %zu, \"val_rows\": %zu, \"train_labels\": %llu, "
               "\"val_labels\": %llu, \"dropped_long\": %llu, \"peak_flops\": %.17g",
            m->L, m->C, m->NH, m->V, m->maxT, r->m.n_params, r->plan.accum, (long long)r->plan.steps, r->train.n, r->val.n,
            (unsigned long long)r->train.labels, (unsigned long long)r->val.labels,
            (unsigned long long)(r->train.dropped_long + r->val.dropped_long), kb_peak_flops(r->ctx));
    tr_log_end(&r->log);
}

static void log_counters(rw_run *r, int64_t step) {
    FILE *f = tr_log_begin(&r->log);
    if (!f) return;
    fprintf(f, "\"event\": \"counters\", \"step\": %lld, \"rank\": 0, \"world\": %d, \"counts\": ", (long long)step, r->world);
    kb_counts_json(r->ctx, f);
    tr_log_end(&r->log);
}

static void jnum(FILE *f, const char *k, double v) {
    if (isfinite(v)) fprintf(f, ", \"%s\": %.17g", k, v);
    else fprintf(f, ", \"%s\": null", k);
}

static void run_evaluate(rw_run *r, int64_t step) {
    rw_eval ev;
    rw_evaluate(&r->m, r->c, &r->val, r->cfg.kind, r->cfg.targets, r->cfg.micro_batch, r->plan.T, &ev);
    if (r->rank) return;
    if (!r->cfg.quiet) {
        if (r->cfg.kind == RW_ORM)
            fprintf(stderr, "step %lld: val loss %.4f | AUC %.4f | accuracy %.4f (%llu leaves)\n", (long long)step, ev.loss,
                    ev.auc, ev.acc, (unsigned long long)ev.labels);
        else
            fprintf(stderr, "step %lld: val loss %.4f | step AUC %.4f | step accuracy %.4f | first-error accuracy %.4f "
                            "(%llu steps, %llu paths, %.0f%% with an error)\n",
                    (long long)step, ev.loss, ev.auc, ev.acc, ev.first_error, (unsigned long long)ev.labels,
                    (unsigned long long)ev.rows, 100 * ev.error_paths);
    }
    FILE *f = tr_log_begin(&r->log);
    if (!f) return;
    fprintf(f, "\"step\": %lld", (long long)step);
    jnum(f, "val_loss", ev.loss);
    jnum(f, "val_auc", ev.auc);
    jnum(f, "val_acc", ev.acc);
    if (r->cfg.kind == RW_PRM) {
        jnum(f, "val_first_error_acc", ev.first_error);
        jnum(f, "val_error_paths", ev.error_paths);
    }
    fprintf(f, ", \"val_rows\": %llu, \"val_labels\": %llu", (unsigned long long)ev.rows, (unsigned long long)ev.labels);
    tr_log_end(&r->log);
}

static void run_checkpoint(rw_run *r, int64_t step) {
    double t0 = now_sec();
    berr e = {{0}};
    char *path = tr_ckpt_path(r->cfg.out, step);
    bbuf blob = {0};
    r->st.world = (uint32_t)r->world;
    tr_state_encode(&r->st, &blob);
    int rc = tr_save_checkpoint(&r->m, &r->zero, r->c, path, blob.p, blob.n, &e);
    bbuf_free(&blob);
    if (!rc && r->rank == 0) rc = tr_ckpt_prune(r->cfg.out, r->cfg.keep, &e);
    agree(r, rc, &e, 1);
    if (r->rank == 0) {
        double dt = now_sec() - t0;
        if (!r->cfg.quiet) fprintf(stderr, "checkpoint: %s (%.2f s)\n", path, dt);
        FILE *f = tr_log_begin(&r->log);
        if (f) {
            fprintf(f, "\"step\": %lld, \"checkpoint\": ", (long long)step);
            json_string(f, path, strlen(path));
            fprintf(f, ", \"seconds\": %.3f", dt);
            tr_log_end(&r->log);
        }
        log_counters(r, step);
    }
    free(path);
}

// ---- the loop -------------------------------------------------------------------------------------

static void train_loop(rw_run *r) {
    rw_train_config *c = &r->cfg;
    gpt2 *m = &r->m;
    const int B = c->micro_batch, T = r->plan.T, W = r->world;
    const int64_t steps = r->plan.steps;
    double flops_before = 0, peak = kb_peak_flops(r->ctx);
    if (r->start_step == 0 && c->eval_every) run_evaluate(r, 0);
    int64_t step = r->start_step;
    while (step < steps) {
        double t0 = now_sec(), waited;
        const tr_batch *b;
        berr e;
        if (tr_loader_next(r->loader, &b, &waited, &e)) {
            fprintf(stderr, "reward train: error: rank %d: %s\n", r->rank, e.msg);
            exit(1);  // under mpirun, the launcher takes the other ranks down
        }
        double lr = tr_lr(&r->sched, step);
        gpt2_zero_grad(m);
        float dscale = (float)(1.0 / (double)b->valid);
        int64_t computed = 0;
        for (int a = 0; a < b->accum; a++) {
            const int32_t *in = b->inputs + (size_t)a * B * T, *tg = b->targets + (size_t)a * B * T;
            int Te = rw_batch_len(tg, B, T);
            for (int row = 0; row < B; row++)
                for (int i = 0; i < Te; i++) {
                    size_t s = (size_t)row * T + i, d = (size_t)row * Te + i;
                    r->mb_tok[d] = in[s];
                    r->mb_lab[d] = tg[s] >= 0 ? rw_target_label(tg[s]) : 0.0f;
                    r->mb_w[d] = tg[s] >= 0 ? 1.0f : 0.0f;
                }
            gpt2_head_forward_backward(m, r->mb_tok, r->mb_lab, r->mb_w, NULL, B, Te, KB_HEAD_BCE, 0, dscale, 0);
            computed += (int64_t)B * Te;
        }
        tr_zero_step(&r->zero, m, r->c, &r->opt, (float)lr);
        double loss_sum, gnorm;
        gpt2_read_stats(m, &loss_sum, &gnorm);
        // Ranks cut their micro-batches to different lengths: tokens and FLOPs are summed over them.
        const kb_counts *counts = kb_counts_of(r->ctx, r->role);
        double fl = counts ? kb_counts_total_flops(counts) : 0;
        double sums[2] = {(double)computed, fl - flops_before};
        flops_before = fl;
        comm_allreduce_host_f64(r->c, sums, 2);
        computed = (int64_t)sums[0];
        double step_flops = sums[1];
        double dt = now_sec() - t0;
        step++;
        double loss = loss_sum / (double)b->valid;
        r->st.step = (uint64_t)step;
        r->st.cursor = b->cursor_after;
        r->st.tokens += (uint64_t)computed;
        r->st.flops += step_flops;
        double mfu = step_flops / W / dt / peak;
        if (!isfinite(loss)) die("reward train: step %lld: the loss is %g (diverged); lower --lr", (long long)step, loss);
        if (r->rank == 0) {
            if (!c->quiet) {
                fprintf(stderr, "step %6lld/%lld | loss %.4f | lr %.2e | norm %.3f | %.1f ms | %.0f tok/s | %lld labels",
                        (long long)step, (long long)steps, loss, lr, gnorm, dt * 1e3, (double)computed / dt, (long long)b->valid);
                if (waited > 1e-3) fprintf(stderr, " | data wait %.1f ms", waited * 1e3);
                fputc('\n', stderr);
            }
            tr_log_rec(&r->log,
                       "\"step\": %lld, \"loss\": %.17g, \"lr\": %.17g, \"grad_norm\": %.17g, \"ms\": %.3f, \"tok_s\": %.1f, "
                       "\"mfu\": %.6f, \"data_wait_ms\": %.3f, \"rows\": %lld, \"labels\": %lld, \"tokens\": %llu, "
                       "\"flops\": %.17g, \"flops_total\": %.17g",
                       (long long)step, loss, lr, gnorm, dt * 1e3, (double)computed / dt, mfu, waited * 1e3,
                       (long long)r->plan.rows_per_step, (long long)b->valid, (unsigned long long)r->st.tokens, step_flops,
                       r->st.flops);
        }
        int last = step == steps;
        if (c->eval_every && (step % c->eval_every == 0 || last)) run_evaluate(r, step);
        int stop = !comm_all_ok(r->c, !stop_requested) && !last;
        if (last || stop || (c->ckpt_every && step % c->ckpt_every == 0)) run_checkpoint(r, step);
        if (stop) {
            if (r->rank == 0)
                fprintf(stderr, "reward train: interrupted by a signal at step %lld: checkpoint saved; continue with --resume\n",
                        (long long)step);
            comm_finalize(r->c);
            exit(130);
        }
    }
}

// ---- main -----------------------------------------------------------------------------------------

int rw_train_main(int argc, char **argv, int first) {
    rw_run R = {0}, *r = &R;
    berr e = {{0}};
    r->c = comm_init(&e);
    if (!r->c) {
        fprintf(stderr, "reward train: error: %s\n", e.msg);
        return 1;
    }
    r->rank = comm_rank(r->c);
    r->world = comm_world(r->c);
    rw_train_config *c = &r->cfg;
    int data_error = 0;
    int rc = run_options(r, argc, argv, first, &e, &data_error);
    if (rc != RW_GO) {
        comm_finalize(r->c);
        return rc;
    }
    rc = data_error ? -1 : run_data(r, &e);
    agree(r, rc, &e, 1);
    {
        bbuf ob = {0};
        cli_serialize(&ob, &rw_train_table, c);
        free(r->st.opts);
        r->st.opts = xmalloc(ob.n + 1);
        memcpy(r->st.opts, ob.p, ob.n);
        r->st.opts[ob.n] = 0;
        r->st.opts_len = ob.n;
        bbuf_free(&ob);
    }
    if (r->resume_path && r->rank == 0) tr_ckpt_clean_temps(c->out);
    if (!r->resume_path) {  // a new run must not mix with an earlier one in the same directory
        int64_t *steps = NULL;
        int n = 0;
        rc = tr_ckpt_list(c->out, &steps, &n, &e);
        if (!rc && n > 0)
            rc = berr_set(&e, "%s already holds checkpoints of a run: continue it with --resume, or use another --out", c->out);
        free(steps);
    }
    agree(r, rc, &e, 1);

    r->ctx = kb_open(tr_backend(c->backend), comm_local_rank(r->c), &e);
    rc = r->ctx ? 0 : -1;
    if (!rc) rc = comm_attach(r->c, r->ctx, &e);
    agree(r, rc, &e, 1);
    rc = run_model(r, &e);
    agree(r, rc, &e, 1);
    r->start_step = r->resume_path ? (int64_t)r->st.step : 0;
    r->opt = (gpt2_opt){.beta1 = (float)c->beta1, .beta2 = (float)c->beta2, .eps = (float)c->eps,
                        .weight_decay = (float)c->weight_decay, .grad_clip = (float)c->grad_clip};
    r->sched = (tr_schedule){.lr = c->lr, .final_frac = c->lr_final_frac, .warmup = c->warmup, .steps = r->plan.steps,
                             .kind = c->schedule};
    size_t bt = (size_t)c->micro_batch * r->plan.T;
    r->mb_tok = xmalloc(bt * sizeof *r->mb_tok);
    r->mb_lab = xmalloc(bt * sizeof *r->mb_lab);
    r->mb_w = xmalloc(bt * sizeof *r->mb_w);
    tr_feed feed = rw_train_feed(&r->train, c->targets, r->plan.T, (uint64_t)c->seed, r->rank, r->world, c->micro_batch,
                                 r->plan.accum);
    r->loader = tr_loader_start(feed, r->plan.accum, c->micro_batch, r->plan.T, r->st.cursor, 1);

    run_echo(r);
    if (r->rank == 0) {
        char *lp = xasprintf("%s/log.jsonl", c->out);
        rc = mkdir_p(c->out, &e);  // only now: a run stopped by a check leaves nothing behind
        int64_t dropped = 0;
        if (!rc) rc = tr_log_open(&r->log, lp, r->resume_path ? r->start_step : -1, &dropped, &e);
        free(lp);
        if (!rc) {
            log_config(r);
            if (r->resume_path) {
                FILE *f = tr_log_begin(&r->log);
                fprintf(f, "\"event\": \"resume\", \"step\": %lld, \"from\": ", (long long)r->start_step);
                json_string(f, r->resume_path, strlen(r->resume_path));
                fprintf(f, ", \"dropped_records\": %lld, \"world_at_save\": %u", (long long)dropped, r->st.world);
                tr_log_end(&r->log);
                if (!c->quiet)
                    fprintf(stderr, "resumed from %s at step %lld (%lld later log records dropped)\n", r->resume_path,
                            (long long)r->start_step, (long long)dropped);
            }
        }
    }
    agree(r, rc, &e, 1);
    if (r->start_step >= r->plan.steps && r->rank == 0 && !c->quiet)
        fprintf(stderr, "reward train: the run is already complete (%lld steps)\n", (long long)r->plan.steps);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double t0 = now_sec();
    train_loop(r);
    double secs = now_sec() - t0;

    rc = 0;
    char *mp = xasprintf("%s/model.bin", c->out);
    if (r->rank == 0) {
        bbuf blob = {0};
        tr_state_encode(&r->st, &blob);
        rc = gpt2_save(&r->m, mp, 0, blob.p, blob.n, &e);
        bbuf_free(&blob);
    }
    agree(r, rc, &e, 1);
    if (r->rank == 0) {
        if (!c->quiet)
            fprintf(stderr, "reward train: done: %s, %lld steps, %.4g tokens, %.4g FLOPs; the reward model is %s\n",
                    rw_kind_choices[c->kind], (long long)r->plan.steps, (double)r->st.tokens, r->st.flops, mp);
        tr_log_rec(&r->log, "\"event\": \"end\", \"step\": %lld, \"seconds\": %.3f, \"tokens\": %llu, \"flops_total\": %.17g, "
                   "\"peak_alloc_gib\": %.3f", (long long)r->plan.steps, secs, (unsigned long long)r->st.tokens, r->st.flops,
                   kb_peak_bytes(r->ctx) / 1073741824.0);
        tr_log_close(&r->log);
    }
    free(mp);
    tr_loader_stop(r->loader);
    gpt2_free(&r->m);
    kb_close(r->ctx);
    rw_examples_free(&r->train);
    rw_examples_free(&r->val);
    free(r->mb_tok), free(r->mb_lab), free(r->mb_w), free(r->given), free(r->resume_path);
    tr_state_free(&r->st);
    cli_free(&rw_train_table, c);
    comm_finalize(r->c);
    return 0;
}
