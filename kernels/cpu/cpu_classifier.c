// cpu_classifier.c — fused softmax / cross-entropy / entropy / gradient over logits rows.
//
// Per row of z = logits·inv_temp over the V real columns (padding columns >= V are never
// read): pass 1 finds the max m; pass 2 sums e_j = exp(z_j - m) and e_j·(m - z_j), and,
// when a gradient is wanted, leaves e_j in the logits row; pass 3 turns it into
// scale·inv_temp·(p_j - [j = target]). Then
//   nll = (m - z_target) + log Σe,  entropy = log Σe + Σ e(m - z) / Σe
// (sums of non-negative terms: the nll is never below 0, and there is no cancellation when
// p is peaked). The row statistics and the nll are cpu_softmax_row.h's, which the sampler
// shares, so a sampled token's log-prob is exactly minus this nll.
#include "kernels/cpu/cpu_softmax_row.h"

static void classifier_row(float *z, float *nll, float *entropy, int target, float grad_scale, float inv_temp, int V,
                           int Vp, int want_grad) {
    float m = row_max(z, inv_temp, V);
    float z_target = z[target] * inv_temp;  // read before the row is overwritten by e
    float dev, sum = row_sum_exp(z, inv_temp, m, V, want_grad ? z : NULL, entropy ? &dev : NULL);
    *nll = row_nll(m, sum, z_target);
    float log_sum = logf(sum);
    if (entropy) *entropy = log_sum + dev / sum;
    if (!want_grad) return;

    float inv_sum = 1.0f / sum, p_target = z[target] * inv_sum;
    vfloat vs = vbroadcast(grad_scale * inv_sum);
    int j = 0;
    for (; j + CPU_VL <= V; j += CPU_VL) vstore(z + j, vload(z + j) * vs);
    for (; j < V; j++) z[j] = z[j] * (grad_scale * inv_sum);
    z[target] = grad_scale * (p_target - 1.0f);
    for (j = V; j < Vp; j++) z[j] = 0;
}

void cpu_classifier(kb_ctx *ctx, kb_act *logits, float *nll, float *entropy, const int32_t *targets,
                    const float *row_scale, float dscale, float inv_temp, int N, int V, int Vp, int want_grad) {
    for (int i = 0; i < N; i++)
        if (targets[i] >= V) die("kb_classifier: target %d at row %d is outside the vocabulary [0, %d)", targets[i], i, V);
#pragma omp parallel if ((double)N * V > 32768)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            float *z = FP(logits) + (size_t)i * Vp;
            if (targets[i] < 0) {
                nll[i] = 0;
                if (entropy) entropy[i] = 0;
                if (want_grad) memset(z, 0, (size_t)Vp * sizeof(float));
                continue;
            }
            float grad_scale = dscale * (row_scale ? row_scale[i] : 1.0f) * inv_temp;
            classifier_row(z, nll + i, entropy ? entropy + i : NULL, targets[i], grad_scale, inv_temp, V, Vp, want_grad);
        }
        CPU_FTZ_END
    }
}
