// cpu_classifier.c — fused softmax / cross-entropy / entropy / gradient over logits rows.
//
// Per row of z = logits·inv_temp over the V real columns (padding columns >= V are never
// read): pass 1 finds the max m; pass 2 sums e_j = exp(z_j - m) and e_j·(m - z_j), and,
// when a gradient is wanted, leaves e_j in the logits row; pass 3 turns it into
// scale·inv_temp·(p_j - [j = target]). Then
//   lse = m + log Σe,  nll = lse - z_target,  entropy = log Σe + Σ e(m - z) / Σe
// (the last form is a sum of non-negative terms: no cancellation when p is peaked).
#include "kernels/cpu/cpu.h"

static void classifier_row(float *z, float *nll, float *entropy, int target, float grad_scale, float inv_temp, int V,
                           int Vp, int want_grad) {
    vfloat vit = vbroadcast(inv_temp), vmx = vbroadcast(-INFINITY);
    int j = 0;
    for (; j + CPU_VL <= V; j += CPU_VL) vmx = vmax(vmx, vload(z + j) * vit);
    float m = -INFINITY;
    for (int l = 0; l < CPU_VL; l++) m = vmx[l] > m ? vmx[l] : m;
    for (; j < V; j++) m = z[j] * inv_temp > m ? z[j] * inv_temp : m;

    float z_target = z[target] * inv_temp;
    vfloat vm = vbroadcast(m), acc_e = {0}, acc_d = {0};
    for (j = 0; j + CPU_VL <= V; j += CPU_VL) {
        vfloat zj = vload(z + j) * vit, e = vexp(zj - vm);
        acc_e += e;
        acc_d = vfma(e, vm - zj, acc_d);
        if (want_grad) vstore(z + j, e);
    }
    float sum = vsum(acc_e), dev = vsum(acc_d);
    for (; j < V; j++) {
        float zj = z[j] * inv_temp, e = cpu_expf(zj - m);
        sum += e;
        dev += e * (m - zj);
        if (want_grad) z[j] = e;
    }
    float log_sum = logf(sum);
    *nll = m + log_sum - z_target;
    if (entropy) *entropy = log_sum + dev / sum;
    if (!want_grad) return;

    float inv_sum = 1.0f / sum, p_target = z[target] * inv_sum;
    vfloat vs = vbroadcast(grad_scale * inv_sum);
    for (j = 0; j + CPU_VL <= V; j += CPU_VL) vstore(z + j, vload(z + j) * vs);
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
