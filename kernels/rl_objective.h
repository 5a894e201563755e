// rl_objective.h — the per-token scalars of the policy-gradient objective (kb_pg_loss in
// kernels.h), written once for both backends: the CPU file includes it as C, the CUDA file as
// device code. Given a token's log-prob and entropy under the current policy it gives the loss
// and its derivatives by logp and by H, from which each backend writes the logits gradient.
#pragma once
#include <math.h>

#include "kernels/kernels.h"

#ifdef __CUDACC__
#define RL_FN __host__ __device__ static inline
#else
#define RL_FN static inline
#endif

typedef struct pg_row {
    float logp, entropy, ratio, loss, c_lp, c_h, clipped;  // c_lp = d loss / d logp, c_h = d loss / d H
} pg_row;

// w: the row's weight (mask × normalisation); lp_behav/lp_ref: NULL when unused.
RL_FN pg_row pg_objective(const kb_pg_params *p, float logp, float entropy, float w, float adv, float lp_old,
                          const float *lp_behav, const float *lp_ref) {
    pg_row r = {logp, entropy, 0, 0, 0, 0, 0};
    if (w == 0) return r;
    float w_is = 1.0f;
    if (lp_behav && p->is_cap > 0) {
        w_is = expf(lp_old - *lp_behav);
        if (w_is > p->is_cap) w_is = p->is_cap;
    }
    float ratio = expf(logp - lp_old);
    r.ratio = ratio;
    float lo = 1.0f - p->clip_low, hi = 1.0f + p->clip_high;
    float rc = ratio < lo ? lo : ratio > hi ? hi : ratio;
    float obj = ratio * adv, obj_c = rc * adv, g = 0;  // g = d obj / d logp
    if (obj <= obj_c) g = ratio * adv;                  // the unclipped term is the min: it carries the gradient
    else obj = obj_c;
    if (p->dual_clip > 1 && adv < 0 && obj < p->dual_clip * adv) obj = p->dual_clip * adv, g = 0;
    r.clipped = (g == 0 && adv != 0) ? 1.0f : 0.0f;
    float pg = -w_is * obj, dpg = -w_is * g;
    float kl = 0, dkl = 0;
    if (p->kl_coef != 0 && lp_ref) {
        float d = *lp_ref - logp;
        if (p->kl_kind == KB_KL_K1) kl = -d, dkl = 1;
        else kl = expf(d) - d - 1, dkl = 1 - expf(d);
    }
    r.loss = w * (pg + p->kl_coef * kl - p->ent_coef * entropy);
    r.c_lp = w * (dpg + p->kl_coef * dkl);
    r.c_h = -w * p->ent_coef;
    return r;
}

// A scalar head's loss and d loss / d v (kb_head_loss); old is read only for a clipped MSE.
RL_FN void head_objective(kb_head_kind kind, float v, float label, float old, float clip, float *loss, float *grad) {
    float l, g;
    if (kind == KB_HEAD_MSE) {
        float e = v - label;
        l = 0.5f * e * e, g = e;
        if (clip > 0) {
            float dv = v - old, xc = old + (dv < -clip ? -clip : dv > clip ? clip : dv), ec = xc - label;
            // PPO's max of the two: the clipped one wins when larger, with no gradient where clamped.
            if (0.5f * ec * ec > l) l = 0.5f * ec * ec, g = (dv < -clip || dv > clip) ? 0.0f : ec;
        }
    } else {
        // softplus(v) − label·v without overflow; d/dv = sigmoid(v) − label.
        float sp = v > 0 ? v + log1pf(expf(-v)) : log1pf(expf(v));
        l = sp - label * v;
        g = 1.0f / (1.0f + expf(-v)) - label;
    }
    *loss = l, *grad = g;
}
