// gpt2_heads.c — models with scalar heads from plain LM checkpoints, and their trunk back out
// as a plain LM (see gpt2.h). The trunk is every tensor but GPT2_HEADW/GPT2_HEADB; the
// parameter layout puts them at fixed places, so a tensor-by-tensor copy between the two
// layouts is all it takes.
#include <stdlib.h>
#include <string.h>

#include "kernels/gpt2.h"

static int is_head(int t) { return t == GPT2_HEADW || t == GPT2_HEADB; }

static int same_trunk(const gpt2_config *a, const gpt2_config *b) {
    return a->L == b->L && a->C == b->C && a->NH == b->NH && a->V == b->V && a->Vp == b->Vp && a->maxT == b->maxT;
}

int gpt2_load_trunk(gpt2 *m, const char *path, uint64_t seed, berr *e) {
    gpt2_ckpt_info info;
    float *p, *mm, *vv;
    if (gpt2_load_host(path, &info, &p, &mm, &vv, NULL, NULL, e)) return -1;
    free(mm);
    free(vv);
    if (!same_trunk(&info.cfg, &m->cfg)) {
        free(p);
        return berr_set(e, "%s: its model (L=%d C=%d NH=%d V=%d T=%d) is not the trunk of the one built (L=%d C=%d NH=%d "
                           "V=%d T=%d)", path, info.cfg.L, info.cfg.C, info.cfg.NH, info.cfg.V, info.cfg.maxT, m->cfg.L,
                        m->cfg.C, m->cfg.NH, m->cfg.V, m->cfg.maxT);
    }
    size_t off[GPT2_NTENSORS], size[GPT2_NTENSORS];
    gpt2_layout(&info.cfg, off, size);
    float *dst = xcalloc(m->n_params, sizeof(float));
    int keep_heads = info.cfg.n_scalar == m->cfg.n_scalar;
    for (int t = 0; t < GPT2_NTENSORS; t++) {
        if (is_head(t) && !keep_heads) continue;
        memcpy(dst + m->off[t], p + off[t], size[t] * sizeof(float));  // the same size: same trunk, same heads
    }
    if (!keep_heads) {
        uint64_t s = mix64(seed, 0x4ead);
        for (size_t i = 0; i < m->size[GPT2_HEADW]; i++) dst[m->off[GPT2_HEADW] + i] = 0.02f * rng_normal(&s);
    }
    gpt2_set_params(m, dst);
    kb_sync(m->ctx);
    free(dst);
    free(p);
    return 0;
}

int gpt2_save_lm(gpt2 *m, const char *path, const void *extra, size_t extra_len, berr *e) {
    gpt2_config lm = m->cfg;
    lm.n_scalar = 0;
    size_t off[GPT2_NTENSORS], size[GPT2_NTENSORS];
    gpt2_layout(&lm, off, size);
    size_t n = gpt2_param_count(&lm);
    float *all = xmalloc(m->n_params * sizeof(float)), *out = xmalloc(n * sizeof(float));
    gpt2_get_params(m, all);
    for (int t = 0; t < GPT2_NTENSORS; t++)
        if (!is_head(t)) memcpy(out + off[t], all + m->off[t], size[t] * sizeof(float));
    int rc = gpt2_save_host(&lm, m->step, out, NULL, NULL, extra, extra_len, path, e);
    free(all);
    free(out);
    return rc;
}
