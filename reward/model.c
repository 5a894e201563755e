// model.c — loading reward models for scoring (see model.h).
#include "reward/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/train/ckptdir.h"

static int kind_of_state(const char *opts, size_t len) {
    const char *p = opts, *end = opts + len;
    while (p && p < end) {
        if ((size_t)(end - p) >= 5 && !strncmp(p, "kind=", 5)) {
            for (int k = 0; rw_kind_choices[k]; k++) {
                size_t n = strlen(rw_kind_choices[k]);
                if ((size_t)(end - p - 5) >= n && !strncmp(p + 5, rw_kind_choices[k], n) && (p + 5 + n == end || p[5 + n] == '\n'))
                    return k;
            }
            return -1;
        }
        p = memchr(p, '\n', (size_t)(end - p));
        if (p) p++;
    }
    return -1;
}

int rw_model_check(const char *path, const char *opt, int want, gpt2_ckpt_info *info, int *kind, berr *e) {
    if (gpt2_ckpt_info_read(path, info, e)) return berr_wrap(e, "%s", opt);
    if (info->cfg.n_scalar != 1)
        return berr_set(e, "%s %s has %d scalar heads: not a reward model (reward train writes one, with a single head)", opt,
                        path, info->cfg.n_scalar);
    *kind = -1;
    // The trainer state is the file's last extra_bytes (kernels/CHECKPOINT.md); model.bin has one
    // without optimizer state, so tr_ckpt_read_state (for resuming) does not apply.
    if (info->extra_bytes && info->extra_bytes < (1u << 24)) {
        FILE *f = fopen(path, "rb");
        size_t n = (size_t)info->extra_bytes;
        char *blob = xmalloc(n);
        tr_state st = {0};
        berr e2;
        if (f && fseeko(f, -(off_t)n, SEEK_END) == 0 && fread(blob, 1, n, f) == n && tr_state_decode(blob, n, path, &st, &e2) == 0) {
            *kind = kind_of_state(st.opts, st.opts_len);
            tr_state_free(&st);
        }
        if (f) fclose(f);
        free(blob);
    }
    if (*kind >= 0 && want >= 0 && *kind != want)
        return berr_set(e, "%s %s is a%s %s (reward train --kind %s), not a%s %s", opt, path, *kind == RW_ORM ? "n" : "",
                        *kind == RW_ORM ? "ORM" : "PRM", rw_kind_choices[*kind], want == RW_ORM ? "n" : "",
                        want == RW_ORM ? "ORM" : "PRM");
    return 0;
}

int rw_model_load(rw_model *rm, kb_ctx *ctx, const char *path, const char *role, int B, int T, berr *e) {
    memset(rm, 0, sizeof *rm);
    gpt2_ckpt_info info;
    float *p = NULL, *mm = NULL, *vv = NULL;
    if (gpt2_load_host(path, &info, &p, &mm, &vv, NULL, NULL, e)) return -1;
    free(mm);
    free(vv);
    gpt2_build(&rm->m, ctx, &info.cfg, B, T, 0);
    gpt2_set_role(&rm->m, role);
    gpt2_set_params(&rm->m, p);
    rm->digest = hash64(p, rm->m.n_params * sizeof(float), 0x7277);
    free(p);
    kb_sync(ctx);
    return 0;
}

void rw_model_free(rw_model *rm) {
    if (rm->m.ctx) gpt2_free(&rm->m);
    memset(rm, 0, sizeof *rm);
}
