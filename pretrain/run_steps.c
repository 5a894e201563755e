// run_steps.c — what a run does between steps: evaluation, text samples, checkpoints.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/ckptdir.h"
#include "pretrain/run.h"
#include "pretrain/sample.h"
#include "pretrain/text.h"

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

// Writes ckpt_<step>.bin: rank 0 gathers every rank's moments and writes the file in the
// single-process format (so any rank count can resume it); the others send their shard.
void pt_run_checkpoint(run *r, int64_t step) {
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
    pt_run_agree(r, rc, &e, 1);
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
        pt_run_log_counters(r, step);
    }
    free(path);
    free(hm), free(hv), free(fm), free(fv), free(p);
}
