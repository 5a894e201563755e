// run_steps.c — what a run does between steps: evaluation, text samples, checkpoints.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/train/ckptdir.h"
#include "pretrain/run.h"
#include "rollout/generate.h"

// ---- evaluation, samples, checkpoints ------------------------------------------------------------

double pt_run_evaluate(run *r) {
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

void pt_run_sample(run *r, int64_t step) {
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
    int32_t *prompt = xmalloc(np * sizeof *prompt);
    for (size_t i = 0; i < np; i++) prompt[i] = (int32_t)ids[i];
    ro_gen_prompt gp = {rng_next(&r->st.rng), prompt, (int)np};
    ro_gen_answer g = {0};
    char *text = NULL;
    size_t len;
    berr e;
    int rc = ro_generate(r->sampler, &gp, 1, &g, NULL, NULL, &e);
    uint32_t *out = xmalloc(((size_t)g.n + 1) * sizeof *out);
    for (int i = 0; i < g.n; i++) out[i] = (uint32_t)g.tok[i];
    if (!rc) rc = bpe_decode(r->tok, out, (size_t)g.n, &text, &len, &e);
    free(out);
    free(prompt);
    if (rc == 0) {
        fprintf(stderr, "sample @ step %lld: ", (long long)step);
        print_text_escaped(stderr, text, len);
        fputc('\n', stderr);
        FILE *f = tr_log_begin(&r->log);
        if (f) {
            fprintf(f, "\"step\": %lld, \"sample\": ", (long long)step);
            json_string(f, text, len);
            tr_log_end(&r->log);
        }
        free(text);
    } else {
        fprintf(stderr, "warning: sample @ step %lld could not be made: %s\n", (long long)step, e.msg);
    }
    ro_gen_answer_free(&g, 1);
    free(ids);
    kb_set_stage(r->ctx, "pretrain");
}

// Writes ckpt_<step>.bin (collective: tr_save_checkpoint) and prunes older ones.
void pt_run_checkpoint(run *r, int64_t step) {
    double t0 = now_sec();
    int rc = 0;
    berr e = {{0}};
    char *path = tr_ckpt_path(r->cfg.out, step);
    bbuf blob = {0};
    r->st.world = (uint32_t)r->world;
    tr_state_encode(&r->st, &blob);
    rc = tr_save_checkpoint(&r->m, &r->zero, r->c, path, blob.p, blob.n, &e);
    bbuf_free(&blob);
    if (!rc && r->rank == 0) rc = tr_ckpt_prune(r->cfg.out, r->cfg.keep, &e);
    pt_run_agree(r, rc, &e, 1);
    if (r->rank == 0) {
        double dt = now_sec() - t0;
        fprintf(stderr, "checkpoint: %s (%.2f s)\n", path, dt);
        FILE *f = tr_log_begin(&r->log);
        if (f) {
            fprintf(f, "\"step\": %lld, \"checkpoint\": ", (long long)step);
            json_string(f, path, strlen(path));
            fprintf(f, ", \"seconds\": %.3f", dt);
            tr_log_end(&r->log);
        }
        pt_run_log_counters(r, step);
    }
    free(path);
}
