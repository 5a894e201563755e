// trainer.c — backend choice, agreed errors, the ZeRO-1 step, checkpoint load/save (see trainer.h).
#include "kernels/train/trainer.h"

#include <stdlib.h>

const char *const tr_backend_choices[] = {"auto", "cpu", "cuda", NULL};

kb_backend tr_backend(int choice) {
    return choice == TR_BACKEND_CPU ? KB_CPU : choice == TR_BACKEND_CUDA ? KB_CUDA : kb_default_backend();
}

void tr_agree(comm *c, int rc, const berr *e, int exit_code) {
    if (comm_all_ok(c, rc == 0)) return;
    int world = comm_world(c), rank = comm_rank(c);
    double *failed = xcalloc((size_t)world, sizeof(double));
    failed[rank] = rc != 0;
    comm_allreduce_host_f64(c, failed, world);
    int first = 0;
    while (first < world && failed[first] == 0) first++;
    if (rank == first) {
        const char *prog = berr_prog ? berr_prog : "error";  // "<prog>: error: ..." (kernels/train/cli.h)
        if (world > 1) fprintf(stderr, "%s%s rank %d: %s\n", prog, berr_prog ? ": error:" : ":", rank, e->msg);
        else fprintf(stderr, "%s%s %s\n", prog, berr_prog ? ": error:" : ":", e->msg);
    }
    free(failed);
    comm_finalize(c);
    exit(exit_code);
}

void tr_zero_setup(tr_zero *z, gpt2 *m, comm *c) {
    z->part = comm_partition(m->n_params, comm_world(c), comm_rank(c), TR_SHARD_ALIGN);
    z->sh = (gpt2_shard){.off = z->part.off, .len = z->part.len, .n_pad = z->part.n_pad};
    gpt2_set_shard(m, &z->sh);
}

void tr_zero_step(tr_zero *z, gpt2 *m, comm *c, const gpt2_opt *o, float lr) {
    kb_ctx *ctx = m->ctx;
    comm_reduce_scatter_f32(c, m->grads, z->part.shard);
    if (z->sh.len) kb_norm_squared(ctx, m->stats + 1, m->grads + z->sh.off, z->sh.len, 0);
    else kb_zero(ctx, m->stats + 1, sizeof(float));
    comm_allreduce_f32(c, m->stats, 2);  // [loss sum, grad norm²] over all ranks
    gpt2_update_shard(m, &z->sh, o, lr, m->stats + 1);
    if (comm_world(c) > 1) {
        comm_allgather_f32(c, m->params, z->part.shard);
        gpt2_refresh_working(m);
    }
}

int tr_load_weights(gpt2 *m, const tr_zero *z, const char *path, int with_opt, berr *e) {
    gpt2_ckpt_info info;
    float *p, *mm, *vv;
    if (gpt2_load_host(path, &info, &p, &mm, &vv, NULL, NULL, e)) return -1;
    int rc = 0;
    if (info.cfg.L != m->cfg.L || info.cfg.C != m->cfg.C || info.cfg.NH != m->cfg.NH || info.cfg.V != m->cfg.V ||
        info.cfg.maxT != m->cfg.maxT || info.cfg.n_scalar != m->cfg.n_scalar)
        rc = berr_set(e, "%s: its model (L=%d C=%d NH=%d V=%d T=%d heads=%d) is not the one built (L=%d C=%d NH=%d V=%d "
                         "T=%d heads=%d)", path, info.cfg.L, info.cfg.C, info.cfg.NH, info.cfg.V, info.cfg.maxT,
                      info.cfg.n_scalar, m->cfg.L, m->cfg.C, m->cfg.NH, m->cfg.V, m->cfg.maxT, m->cfg.n_scalar);
    else if (with_opt && !mm)
        rc = berr_set(e, "%s has no optimizer state to resume from", path);
    if (!rc) {
        gpt2_set_params(m, p);
        if (with_opt) {
            gpt2_set_moments(m, &z->sh, mm + z->sh.off, vv + z->sh.off);
            m->step = (int)info.step;
        }
        kb_sync(m->ctx);
    }
    free(p);
    free(mm);
    free(vv);
    return rc;
}

int tr_save_checkpoint(gpt2 *m, const tr_zero *z, comm *c, const char *path, const void *extra, size_t extra_len,
                       berr *e) {
    size_t n = m->n_params, len = z->sh.len;
    int rank = comm_rank(c);
    float *hm = xmalloc((len ? len : 1) * sizeof(float)), *hv = xmalloc((len ? len : 1) * sizeof(float));
    gpt2_get_moments(m, &z->sh, hm, hv);
    float *fm = NULL, *fv = NULL, *p = NULL;
    if (rank == 0) {
        fm = xmalloc(n * sizeof(float));
        fv = xmalloc(n * sizeof(float));
        p = xmalloc(n * sizeof(float));
        gpt2_get_params(m, p);
    }
    comm_gather_host_f32(c, hm, fm, n, TR_SHARD_ALIGN);
    comm_gather_host_f32(c, hv, fv, n, TR_SHARD_ALIGN);
    int rc = 0;
    if (rank == 0) rc = gpt2_save_host(&m->cfg, m->step, p, fm, fv, extra, extra_len, path, e);
    free(hm), free(hv), free(fm), free(fv), free(p);
    return comm_all_ok(c, rc == 0) ? 0 : -1;
}
