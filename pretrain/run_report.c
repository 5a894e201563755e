// run_report.c — what a run says about itself: the config echo and the run log's records.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/run.h"

void pt_run_echo(run *r) {
    if (r->rank || cli_quiet) return;
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

void pt_run_log_config(run *r) {
    FILE *f = tr_log_begin(&r->log);
    if (!f) return;
    const gpt2_config *m = &r->plan.model;
    fprintf(f, "\"event\": \"config\", \"step\": %lld, ", (long long)r->start_step);
    cli_json_fields(f, &pt_config_table, &r->cfg);
    fprintf(f, ", \"world\": %d, \"transport\": \"%s\", \"backend_used\": \"%s\", \"device\": ", r->world,
            comm_transport(r->c), kb_backend_name(r->ctx));
    json_string(f, kb_device_name(r->ctx), strlen(kb_device_name(r->ctx)));
    fprintf(f, ", \"model\": {\"L\": %d, \"C\": %d, \"NH\": %d, \"V\": %d, \"Vp\": %d, \"maxT\": %d}, \"n_params\": %zu, "
               "\"accum\": %d, \"total_steps\": %lld, \"flops_per_token_rule\": %.17g, \"peak_flops\": %.17g",
            m->L, m->C, m->NH, m->V, m->Vp, m->maxT, r->m.n_params, r->plan.accum, (long long)r->plan.steps,
            gpt2_flops_per_token_rule(&r->m, r->cfg.seq_len), kb_peak_flops(r->ctx));
    tr_log_end(&r->log);
}

void pt_run_log_counters(run *r, int64_t step) {
    FILE *f = tr_log_begin(&r->log);
    if (!f) return;
    fprintf(f, "\"event\": \"counters\", \"step\": %lld, \"rank\": 0, \"world\": %d, \"counts\": ", (long long)step, r->world);
    kb_counts_json(r->ctx, f);
    tr_log_end(&r->log);
}
