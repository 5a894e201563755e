// cpu_rl_loss.c — the policy-gradient loss fused into the classifier pass, and the scalar
// heads' losses (see kernels.h, "RL losses").
//
// A row is reduced with the classifier's and the sampler's own definitions
// (cpu_softmax_row.h), so the log-prob of a token here is −nll of kb_classifier bit for bit,
// and so is the log-prob rollout's sampler records (one arithmetic for rollout and training).
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/cpu_softmax_row.h"
#include "kernels/rl_objective.h"

void cpu_pg_loss(kb_ctx *ctx, kb_act *logits, const kb_pg_params *p, const kb_pg_rows *rows, int N, int V, int Vp,
                 int want_grad) {
    for (int i = 0; i < N; i++)
        if (rows->targets[i] >= V) die("kb_pg_loss: target %d at row %d is outside the vocabulary [0, %d)", rows->targets[i], i, V);
#pragma omp parallel if ((double)N * V > 32768)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            float *x = FP(logits) + (size_t)i * Vp;
            int a = rows->targets[i];
            float w = a < 0 ? 0.0f : rows->weight[i];
            pg_row r = {0};
            if (a >= 0) {
                float m = row_max(x, p->inv_temp, V), dev;
                float sum = row_sum_exp(x, p->inv_temp, m, V, NULL, &dev), log_sum = logf(sum);
                float logp = -row_nll(m, sum, x[a] * p->inv_temp);  // = −nll, as kb_classifier computes it
                float entropy = log_sum + dev / sum;
                r = pg_objective(p, logp, entropy, w, rows->adv[i], rows->lp_old[i], rows->lp_behav ? rows->lp_behav + i : NULL,
                               rows->lp_ref ? rows->lp_ref + i : NULL);
                if (want_grad) {
                    // d/dz_j = c_lp·([j = a] − p_j) − c_h·p_j·(log p_j + H); d/dlogits = inv_temp · that.
                    float lse = m + log_sum, inv_sum = 1.0f / sum, sc = p->dscale * p->inv_temp;
                    float k0 = r.c_lp + r.c_h * (r.entropy - lse);  // c_lp + c_h·(log p_j + H) = k0 + c_h·z_j
                    vfloat vit = vbroadcast(p->inv_temp), vm = vbroadcast(m), vis = vbroadcast(inv_sum);
                    vfloat vk0 = vbroadcast(k0), vch = vbroadcast(r.c_h), vsc = vbroadcast(-sc);
                    int j = 0;
                    for (; j + CPU_VL <= V; j += CPU_VL) {
                        vfloat zj = vload(x + j) * vit, pj = vexp(zj - vm) * vis;
                        vstore(x + j, pj * vfma(vch, zj, vk0) * vsc);
                    }
                    for (; j < V; j++) {
                        float zj = x[j] * p->inv_temp, pj = cpu_expf(zj - m) * inv_sum;
                        x[j] = pj * (k0 + r.c_h * zj) * -sc;
                    }
                    x[a] += r.c_lp * sc;
                }
            } else if (want_grad) {
                memset(x, 0, (size_t)V * sizeof(float));
            }
            if (want_grad)
                for (int j = V; j < Vp; j++) x[j] = 0;
            if (rows->logp) rows->logp[i] = r.logp;
            if (rows->entropy) rows->entropy[i] = r.entropy;
            if (rows->loss) rows->loss[i] = r.loss;
            if (rows->clipped) rows->clipped[i] = r.clipped;
            if (rows->ratio) rows->ratio[i] = r.ratio;
        }
        CPU_FTZ_END
    }
}

void cpu_head_loss(kb_ctx *ctx, kb_act *dheads, float *loss, const kb_act *heads, const float *labels,
                   const float *weight, const float *old, kb_head_kind kind, float clip, float dscale, int N, int H,
                   int h) {
    const float *v = CFP(heads);
    float *d = FP(dheads);
    for (int i = 0; i < N; i++) {
        float w = weight[i], l = 0, g = 0;
        if (w != 0) {
            head_objective(kind, v[(size_t)i * H + h], labels[i], old ? old[i] : 0.0f, clip, &l, &g);
            l *= w, g *= w * dscale;
        }
        if (loss) loss[i] = l;
        if (d) {
            for (int k = 0; k < H; k++) d[(size_t)i * H + k] = 0;
            d[(size_t)i * H + h] = g;
        }
    }
}
