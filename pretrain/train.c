// train.c — `pretrain [train]`: the training loop (pretraining on token shards, or SFT on
// problem shards), data parallel over the ranks of comm.h with ZeRO-1 optimizer sharding,
// resumable bit for bit from its checkpoints.
//
// One step: the reader thread has the batch ready; zero grads; accum micro-steps of forward
// and backward (loss scaled by 1 / unmasked targets of the whole global batch); reduce-scatter
// the gradients; norm² of this rank's shard, all-reduced with the loss sum (one collective of
// two floats); AdamW over the shard with clipping by the global norm; all-gather the masters;
// one host sync to read loss and norm.
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/train/ckptdir.h"
#include "pretrain/pretrain.h"
#include "pretrain/run.h"

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { stop_requested = sig; }

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
        double vl = pt_run_evaluate(r);
        if (r->rank == 0) fprintf(stderr, "step %lld: val loss %.4f\n", 0LL, vl);
        tr_log_rec(&r->log, "\"step\": 0, \"val_loss\": %.17g", vl);
    }
    int64_t step = r->start_step;
    while (step < steps) {
        double t0 = now_sec(), waited;
        const tr_batch *b;
        berr e;
        if (tr_loader_next(r->loader, &b, &waited, &e)) {
            fprintf(stderr, "error: rank %d: %s\n", r->rank, e.msg);
            exit(1);  // under mpirun, the launcher takes the other ranks down
        }
        double lr = tr_lr(&r->sched, step);
        gpt2_zero_grad(m);
        float dscale = (float)(1.0 / (double)b->valid);
        for (int a = 0; a < b->accum; a++)
            gpt2_forward_backward(m, b->inputs + (size_t)a * B * T, b->targets + (size_t)a * B * T, B, T, dscale, 0);
        tr_zero_step(&r->zero, m, r->c, &r->opt, (float)lr);
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
            if (!cli_quiet) {
                fprintf(stderr, "step %6lld/%lld | loss %.4f | lr %.2e | norm %.3f | %.1f ms | %.0f tok/s | MFU %.1f%%",
                        (long long)step, (long long)steps, loss, lr, gnorm, dt * 1e3, tokens / dt, 100 * mfu);
                if (waited > 1e-3) fprintf(stderr, " | data wait %.1f ms", waited * 1e3);
                fputc('\n', stderr);
            }
            tr_log_rec(&r->log,
                       "\"step\": %lld, \"loss\": %.17g, \"lr\": %.17g, \"grad_norm\": %.17g, \"ms\": %.3f, "
                       "\"tok_s\": %.1f, \"mfu\": %.6f, \"data_wait_ms\": %.3f, \"tokens\": %llu, \"flops\": %.17g, "
                       "\"flops_total\": %.17g",
                       (long long)step, loss, lr, gnorm, dt * 1e3, tokens / dt, mfu, waited * 1e3,
                       (unsigned long long)r->st.tokens, step_flops, r->st.flops);
        }
        int last = step == steps;
        if (c->eval_every && (step % c->eval_every == 0 || last)) {
            double vl = pt_run_evaluate(r);
            if (r->rank == 0) fprintf(stderr, "step %lld: val loss %.4f\n", (long long)step, vl);
            tr_log_rec(&r->log, "\"step\": %lld, \"val_loss\": %.17g", (long long)step, vl);
        }
        if (c->sample_every && (step % c->sample_every == 0 || last)) pt_run_sample(r, step);
        int stop = !comm_all_ok(r->c, !stop_requested) && !last;  // the last step ends the run anyway
        if (last || stop || (c->ckpt_every && step % c->ckpt_every == 0)) pt_run_checkpoint(r, step);
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
    if (!r->c) return cli_fail(pt_train_cmd.name, &e);
    r->rank = comm_rank(r->c);
    r->world = comm_world(r->c);
    pt_config *c = &r->cfg;

    // Everything that can be wrong with the options and the data is found before the device
    // is touched, and every rank stops on the same error.
    int rc = pt_run_options(r, argc, argv, first, &e);
    pt_run_agree(r, rc, &e, 2);  // a usage error
    uint64_t saved_fp = r->st.data_fp, saved_vfp = r->st.val_fp;  // from the checkpoint, when resuming
    rc = pt_run_out_check(r, &e);  // before the data is read
    if (!rc) rc = pt_run_tokenizer(r, &e);
    if (!rc) rc = c->sft ? pt_run_sft_data(r, &e) : pt_run_pretrain_data(r, &e);
    if (!rc && r->resume_path && (saved_fp != r->st.data_fp || saved_vfp != r->st.val_fp))
        rc = berr_set(&e, "the %s data differs from the run being resumed (fingerprint %016llx, the checkpoint's "
                          "%016llx): a resumed run must see the same data", saved_fp != r->st.data_fp ? "training" : "validation",
                      (unsigned long long)(saved_fp != r->st.data_fp ? r->st.data_fp : r->st.val_fp),
                      (unsigned long long)(saved_fp != r->st.data_fp ? saved_fp : saved_vfp));
    pt_run_agree(r, rc, &e, 1);
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

    if (r->resume_path && r->rank == 0) tr_ckpt_clean_temps(c->out);

    r->ctx = kb_open(tr_backend(c->backend), comm_local_rank(r->c), &e);
    rc = r->ctx ? 0 : -1;
    if (!rc) rc = comm_attach(r->c, r->ctx, &e);
    pt_run_agree(r, rc, &e, 1);
    rc = pt_run_model(r, &e);
    pt_run_agree(r, rc, &e, 1);
    r->start_step = r->resume_path ? (int64_t)r->st.step : 0;
    if (!r->resume_path) r->st.rng = mix64((uint64_t)c->seed, 0x5a4d504c45ull);  // sampling stream

    r->opt = (gpt2_opt){.beta1 = (float)c->beta1, .beta2 = (float)c->beta2, .eps = (float)c->eps,
                        .weight_decay = (float)c->weight_decay, .grad_clip = (float)c->grad_clip};
    r->sched = (tr_schedule){.lr = c->lr, .final_frac = c->lr_final_frac, .warmup = c->warmup,
                             .steps = r->plan.steps, .kind = c->schedule};
    tr_feed feed = c->sft ? pt_sft_feed(&r->train_ex, c->seq_len, r->eot, (uint64_t)c->seed, r->rank, r->world,
                                        c->micro_batch, r->plan.accum)
                          : pt_seq_feed(r->train_src, r->train_base, r->train_count, c->seq_len, r->plan.model.V,
                                        (uint64_t)c->seed, r->rank, r->world, c->micro_batch, r->plan.accum);
    r->train_src = NULL;  // owned by the feed
    r->loader = tr_loader_start(feed, r->plan.accum, c->micro_batch, c->seq_len, r->st.cursor, 1);

    pt_run_echo(r);
    if (r->rank == 0) {
        char *lp = xasprintf("%s/log.jsonl", c->out);
        rc = mkdir_p(c->out, &e);  // only now: a run stopped by a check leaves nothing behind
        int64_t dropped = 0;
        if (!rc) rc = tr_log_open(&r->log, lp, r->resume_path ? r->start_step : -1, &dropped, &e);
        free(lp);
        if (!rc) {
            pt_run_log_config(r);
            if (r->resume_path) {
                FILE *f = tr_log_begin(&r->log);
                fprintf(f, "\"event\": \"resume\", \"step\": %lld, \"from\": ", (long long)r->start_step);
                json_string(f, r->resume_path, strlen(r->resume_path));
                fprintf(f, ", \"dropped_records\": %lld, \"world_at_save\": %u", (long long)dropped, r->st.world);
                tr_log_end(&r->log);
                fprintf(stderr, "resumed from %s at step %lld (%lld later log records dropped)\n", r->resume_path,
                        (long long)r->start_step, (long long)dropped);
            }
        }
    }
    pt_run_agree(r, rc, &e, 1);
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
        tr_state_encode(&r->st, &blob);
        rc = gpt2_save(&r->m, mp, 0, blob.p, blob.n, &e);
        bbuf_free(&blob);
    }
    pt_run_agree(r, rc, &e, 1);
    if (r->rank == 0) {
        // Memory: berry's own allocations at their high-water mark, and what the whole device
        // has in use now (the CUDA context, library workspaces and other processes included).
        double peak_gib = kb_peak_bytes(r->ctx) / 1073741824.0, dev_gib = kb_device_mem_in_use(r->ctx) / 1073741824.0;
        fprintf(stderr, "pretrain: done: %lld steps, %.4g tokens, %.4g FLOPs; peak memory %.1f GiB allocated (%.1f GiB in use on "
                        "the device); weights in %s\n",
                (long long)r->plan.steps, (double)r->st.tokens, r->st.flops, peak_gib, dev_gib, mp);
        tr_log_rec(&r->log, "\"event\": \"end\", \"step\": %lld, \"seconds\": %.3f, \"tokens\": %llu, \"flops_total\": %.17g, "
                   "\"peak_alloc_gib\": %.3f, \"device_in_use_gib\": %.3f",
                   (long long)r->plan.steps, secs, (unsigned long long)r->st.tokens, r->st.flops, peak_gib, dev_gib);
        tr_log_close(&r->log);
    }
    free(mp);
    tr_loader_stop(r->loader);
    ro_engine_free(r->sampler);
    gpt2_free(&r->m);
    kb_close(r->ctx);
    pt_examples_free(&r->train_ex);
    pt_examples_free(&r->val_ex);
    if (r->tok) bpe_free(r->tok);
    free(r->eval_in), free(r->eval_tg), free(r->given), free(r->resume_path);
    tr_state_free(&r->st);
    cli_free(&pt_config_table, c);
    comm_finalize(r->c);
    return 0;
}
