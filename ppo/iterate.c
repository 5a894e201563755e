// iterate.c — one PPO iteration: inputs checked, rows built from the verified trees, the
// proximal/reference log-probs (and critic values) computed once, advantages, E epochs of
// minibatch steps on the fused clipped-surrogate loss (ZeRO-1 under mpirun), statistics and
// collapse monitors, then policy-v<N+1>.bin published atomically.
//
// Resumable bit for bit: the precomputed per-token arrays go to WORK/prep.bin before the
// first step, checkpoints (policy and critic with their AdamW state) to WORK every
// --ckpt-every steps; the same command after a kill continues from the newest checkpoint.
// A finished iteration (policy-v<N+1>.bin present) is not run again.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/train/ckptdir.h"
#include "kernels/train/order.h"
#include "kernels/train/state.h"
#include "shards/shard.h"
#include "shards/stream.h"
#include "ppo/advantage.h"
#include "ppo/ppo.h"
#include "shards/task_format.h"

typedef struct it {
    ppo_config c;
    unsigned char *given;
    comm *cm;
    int rank, world;
    uint32_t version;  // N
    char *work, *policy_out, *critic_out;
    bpe *tok;
    int eot;
    gpt2_ckpt_info pinfo;
    vtree_set trees;
    ppo_rows r;
    kb_ctx *ctx;
    gpt2 pol, ref, cri;
    tr_zero zp, zc;
    int has_critic;
    tr_state st;
    tr_log log;
    int64_t start_step, steps;
} it;

#define PREP_MAGIC "BERRYPPP"
#define PREP_VERSION 1

// ---- small helpers ---------------------------------------------------------------------------------

static uint32_t version_of_name(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    unsigned v;
    char tail[8];
    if (sscanf(b, "policy-v%u.%7s", &v, tail) == 2 && strcmp(tail, "bin") == 0) return v;
    return 0;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static uint64_t rows_fingerprint(const ppo_rows *r) {
    size_t nt = r->n * (size_t)r->T;
    uint64_t h = hash64(r->tokens, nt * 4, r->n);
    h = hash64(r->targets, nt * 4, h);
    h = hash64(r->behav, nt * 4, h);
    return hash64(r->reward, r->n * 8, h);
}

static int check_ckpt(const char *path, const char *what, int V, gpt2_ckpt_info *info, berr *e) {
    if (gpt2_ckpt_info_read(path, info, e)) return berr_wrap(e, "%s", what);
    if (info->cfg.V != V)
        return berr_set(e, "%s %s has a vocabulary of %d, the tokenizer's is %d: they must be the same", what, path,
                        info->cfg.V, V);
    return 0;
}

// ---- setup -------------------------------------------------------------------------------------------

static int setup(it *x, int argc, char **argv, int first, berr *e) {
    ppo_config *c = &x->c;
    x->given = xcalloc((size_t)ppo_table.n, 1);
    // (cli_command's steps, with the error agreed between the ranks and printed once)
    berr_prog = ppo_cmd.name;
    cli_quiet = 0;
    if (cli_defaults(&ppo_table, c, e)) return -1;
    int rc = cli_parse(&ppo_table, c, argc, argv, first, x->given, e);
    if (rc == 1 || rc == 2) {
        if (x->rank == 0 && rc == 1) cli_command_help(stdout, &ppo_cmd);
        if (x->rank == 0 && rc == 2) cli_list_options(stdout, &ppo_table);
        comm_finalize(x->cm);
        exit(0);
    }
    if (rc < 0 || ppo_config_check(c, e)) {
        char m[sizeof e->msg];
        snprintf(m, sizeof m, "%s", e->msg);
        berr_set(e, "%.900s (see ppo --help)", m);
        return -2;
    }
    x->version = c->policy_version >= 0 ? (uint32_t)c->policy_version : version_of_name(c->policy);
    x->work = c->work ? xstrdup(c->work) : xasprintf("%s/ppo-v%u", c->out, x->version + 1);
    x->policy_out = xasprintf("%s/policy-v%u.bin", c->out, x->version + 1);
    x->critic_out = xasprintf("%s/critic-v%u.bin", c->out, x->version + 1);
    x->tok = bpe_load(c->tokenizer, e);
    if (!x->tok) return -1;
    x->eot = bpe_special(x->tok, BERRY_EOT);
    int V = bpe_vocab_size(x->tok);
    if (check_ckpt(c->policy, "--policy", V, &x->pinfo, e)) return -1;
    if (x->pinfo.cfg.n_scalar) return berr_set(e, "--policy %s has scalar heads: a policy is a plain LM checkpoint", c->policy);
    gpt2_ckpt_info ri, ci;
    if (c->reference && check_ckpt(c->reference, "--reference", V, &ri, e)) return -1;
    if (c->reference && (ri.cfg.L != x->pinfo.cfg.L || ri.cfg.C != x->pinfo.cfg.C || ri.cfg.maxT != x->pinfo.cfg.maxT))
        return berr_set(e, "--reference %s is another model than --policy %s", c->reference, c->policy);
    if (c->critic) {
        if (check_ckpt(c->critic, "--critic", V, &ci, e)) return -1;
        if (ci.cfg.n_scalar < 1) return berr_set(e, "--critic %s has no scalar head", c->critic);
    }
    if (c->optimizer) {
        gpt2_ckpt_info oi;
        if (check_ckpt(c->optimizer, "--optimizer", V, &oi, e)) return -1;
        if (!oi.has_opt) return berr_set(e, "--optimizer %s holds no AdamW state", c->optimizer);
        if (oi.n_params != x->pinfo.n_params) return berr_set(e, "--optimizer %s is for another model", c->optimizer);
    }
    return 0;
}

// The proximal log-probs, the reference's, and the critic's values, for this rank's rows
// (r % world == rank), then summed over ranks (the other ranks' entries are zero).
static void precompute(it *x) {
    ppo_rows *r = &x->r;
    const int T = r->T, B = x->c.micro_batch;
    size_t nt = r->n * (size_t)T;
    double *all = xcalloc(3 * nt, sizeof *all);
    float *lp = xmalloc((size_t)B * T * sizeof *lp), *vh = xmalloc((size_t)B * T * sizeof *vh);
    int32_t *tok = xmalloc((size_t)B * T * 4), *tg = xmalloc((size_t)B * T * 4);
    float temp = x->c.temperature > 0 ? (float)x->c.temperature : 1.0f;
    size_t mine[65536];
    for (size_t a = 0; a < r->n;) {
        int nb = 0;
        for (; a < r->n && nb < B; a++)
            if ((int)(a % (size_t)x->world) == x->rank) mine[nb++] = a;
        if (!nb) continue;
        for (int b = 0; b < nb; b++) {
            memcpy(tok + (size_t)b * T, r->tokens + mine[b] * T, (size_t)T * 4);
            memcpy(tg + (size_t)b * T, r->targets + mine[b] * T, (size_t)T * 4);
        }
        if (x->c.proximal == PPO_PROX_RECOMPUTE) {
            gpt2_token_logprobs(&x->pol, tok, tg, nb, T, temp, lp, NULL);
            for (int b = 0; b < nb; b++)
                for (int j = 0; j < T; j++) all[mine[b] * T + j] = lp[(size_t)b * T + j];
        } else {
            for (int b = 0; b < nb; b++)
                for (int j = 0; j < T; j++) all[mine[b] * T + j] = r->behav[mine[b] * T + j];
        }
        gpt2_token_logprobs(&x->ref, tok, tg, nb, T, temp, lp, NULL);
        for (int b = 0; b < nb; b++)
            for (int j = 0; j < T; j++) all[nt + mine[b] * T + j] = lp[(size_t)b * T + j];
        if (x->has_critic) {
            gpt2_heads_forward(&x->cri, tok, nb, T, vh);  // one head: (nb·T, 1)
            for (int b = 0; b < nb; b++)
                for (int j = 0; j < T; j++) all[2 * nt + mine[b] * T + j] = vh[(size_t)b * T + j];
        }
    }
    comm_allreduce_host_f64(x->cm, all, (int)(3 * nt));
    r->prox = xmalloc(nt * 4), r->ref = xmalloc(nt * 4), r->value = xmalloc(nt * 4);
    for (size_t i = 0; i < nt; i++) r->prox[i] = (float)all[i], r->ref[i] = (float)all[nt + i], r->value[i] = (float)all[2 * nt + i];
    free(all), free(lp), free(vh), free(tok), free(tg);
}

static int prep_save(const it *x, const char *path, uint64_t fp, berr *e) {
    const ppo_rows *r = &x->r;
    size_t nt = r->n * (size_t)r->T;
    bbuf b = {0};
    bbuf_put(&b, PREP_MAGIC, 8);
    bbuf_u32(&b, PREP_VERSION);
    bbuf_u64(&b, r->n);
    bbuf_u32(&b, (uint32_t)r->T);
    bbuf_u64(&b, fp);
    bbuf_put(&b, r->prox, nt * 4);
    bbuf_put(&b, r->ref, nt * 4);
    bbuf_put(&b, r->value, nt * 4);
    bbuf_u64(&b, hash64(b.p, b.n, 0));
    int rc = write_file_atomic(path, b.p, b.n, e);
    bbuf_free(&b);
    return rc;
}

// 1: loaded; 0: absent or made for other rows (recompute); -1: damaged.
static int prep_load(it *x, const char *path, uint64_t fp, berr *e) {
    if (!file_exists(path)) return 0;
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, e)) return -1;
    ppo_rows *r = &x->r;
    size_t nt = r->n * (size_t)r->T, want = 8 + 4 + 8 + 4 + 8 + 3 * nt * 4 + 8;
    const uint8_t *p = (const uint8_t *)buf;
    int rc = 0;
    if (len != want || memcmp(p, PREP_MAGIC, 8) || le32(p + 8) != PREP_VERSION || le64(p + 12) != r->n ||
        le32(p + 20) != (uint32_t)r->T || le64(p + 24) != fp)
        rc = 0;  // another batch: recompute
    else if (le64(p + len - 8) != hash64(p, len - 8, 0))
        rc = berr_set(e, "%s: checksum mismatch (damaged); remove it to recompute", path);
    else {
        r->prox = xmalloc(nt * 4), r->ref = xmalloc(nt * 4), r->value = xmalloc(nt * 4);
        memcpy(r->prox, p + 32, nt * 4);
        memcpy(r->ref, p + 32 + nt * 4, nt * 4);
        memcpy(r->value, p + 32 + 2 * nt * 4, nt * 4);
        rc = 1;
    }
    free(buf);
    return rc;
}

// ---- reward models ----------------------------------------------------------------------------------

// Adds the reward models' scores to each leaf's reward: orm_weight·ORM + prm_weight·min(PRM steps)
// (min-form credit: the weakest step bounds the path, which resists the reward hacking that a
// sum of step scores invites). Every leaf must have a schema-2 score naming its tree.
static int apply_scores(it *x, berr *e) {
    const ppo_config *c = &x->c;
    shard_dir_listing l;
    if (shard_dir_list(c->scores, &l, e)) return -1;
    size_t cap = 1024, n = 0;
    uint64_t *key = xmalloc(cap * sizeof *key);
    float *orm = xmalloc(cap * sizeof *orm), *prm = xmalloc(cap * sizeof *prm);
    uint32_t *flags = xmalloc(cap * sizeof *flags);
    int rc = 0;
    for (size_t i = 0; i < l.n_shards && !rc; i++) {
        char *path = xasprintf("%s/%s", c->scores, l.shards[i].name);
        shard_reader *r = shard_open(path, e);
        if (!r) rc = -1;
        const shard_info *in = r ? shard_get_info(r) : NULL;
        if (!rc && in->kind != SHARD_SCORES) rc = berr_set(e, "%s holds %s records, not scores", path, shard_kind_name(in->kind));
        for (uint64_t k = 0; !rc && k < in->count; k++) {
            const uint8_t *rec;
            size_t len;
            score_rec s;
            if (shard_get(r, k, &rec, &len, e) || score_decode(rec, len, in->schema_version, &s, e)) {
                rc = berr_wrap(e, "%s record %llu", path, (unsigned long long)k);
                break;
            }
            if (!s.tree_id) rc = berr_set(e, "%s record %llu: a schema-1 score (no tree id): score these trees again with this "
                                             "build's reward score", path, (unsigned long long)k);
            if (n == cap) {
                cap *= 2;
                key = xrealloc(key, cap * sizeof *key), orm = xrealloc(orm, cap * sizeof *orm);
                prm = xrealloc(prm, cap * sizeof *prm), flags = xrealloc(flags, cap * sizeof *flags);
            }
            key[n] = mix64(s.tree_id, s.node), orm[n] = s.orm, prm[n] = s.prm_min, flags[n++] = s.flags;
            score_free(&s);
        }
        if (r) shard_close(r);
        free(path);
    }
    shard_dir_listing_free(&l);
    // A small open-addressing index over (tree, node).
    size_t ns = 16;
    while (ns < 2 * n + 2) ns *= 2;
    size_t *slot = xcalloc(ns, sizeof *slot);
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)(mix64(key[i], 0x5c0e) & (ns - 1));
        while (slot[h]) h = (h + 1) & (ns - 1);
        slot[h] = i + 1;
    }
    for (size_t row = 0; !rc && row < x->r.n; row++) {
        const vtree *t = &x->trees.trees[x->r.tree[row]];
        uint64_t k = mix64(t->tree_id, x->r.leaf[row]);
        size_t h = (size_t)(mix64(k, 0x5c0e) & (ns - 1)), at = 0;
        while (slot[h] && !at) {
            if (key[slot[h] - 1] == k) at = slot[h];
            h = (h + 1) & (ns - 1);
        }
        if (!at) {
            rc = berr_set(e, "%s: leaf %u of %s has no score (was reward score run over these trajectories?)", c->scores,
                          x->r.leaf[row], t->where);
            break;
        }
        uint32_t f = flags[at - 1];
        if ((c->orm_weight > 0 && !(f & SCORE_HAS_ORM)) || (c->prm_weight > 0 && !(f & SCORE_HAS_PRM))) {
            rc = berr_set(e, "%s: leaf %u of %s was not scored by the %s asked for", c->scores, x->r.leaf[row], t->where,
                          c->orm_weight > 0 && !(f & SCORE_HAS_ORM) ? "ORM" : "PRM");
            break;
        }
        x->r.reward[row] += c->orm_weight * orm[at - 1] + c->prm_weight * prm[at - 1];
    }
    free(key), free(orm), free(prm), free(flags), free(slot);
    return rc;
}

// ---- advantages ------------------------------------------------------------------------------------

static void compute_advantages(it *x) {
    ppo_rows *r = &x->r;
    const ppo_config *c = &x->c;
    const int T = r->T;
    size_t nt = r->n * (size_t)T;
    r->adv = xcalloc(nt, sizeof *r->adv);
    r->ret = xcalloc(nt, sizeof *r->ret);
    r->old_value = xmalloc(nt * sizeof *r->old_value);
    memcpy(r->old_value, r->value, nt * 4);
    uint64_t *group = xmalloc(r->n * sizeof *group);
    double *ga = xmalloc(r->n * sizeof *ga);
    for (size_t i = 0; i < r->n; i++) group[i] = x->trees.trees[r->tree[i]].t.problem_id;
    adv_group(r->reward, group, r->n, c->advantage == PPO_ADV_GROUP ? c->group_norm : ADV_GROUP_STD, c->adv_eps, ga);
    if (c->advantage == PPO_ADV_GROUP) {
        for (size_t i = 0; i < r->n; i++)
            for (int j = 0; j < T; j++)
                if (r->targets[i * T + j] >= 0 && r->node[i * T + j] >= 0) r->adv[i * T + j] = (float)ga[i];
    } else if (c->advantage == PPO_ADV_TREE) {
        // Per tree: leaf rewards on the nodes, the problem's mean reward as every root's parent.
        size_t nts = x->trees.n;
        double **leafr = xcalloc(nts, sizeof *leafr), **nadv = xcalloc(nts, sizeof *nadv);
        for (size_t i = 0; i < r->n; i++) {
            size_t t = r->tree[i];
            if (!leafr[t]) leafr[t] = xcalloc(x->trees.trees[t].t.n_nodes, sizeof **leafr);
            leafr[t][r->leaf[i]] = r->reward[i];
        }
        // The problem's mean over all of its leaves (several trees of one problem share it).
        double *psum = xcalloc(r->n, sizeof *psum);
        double *pcnt = xcalloc(r->n, sizeof *pcnt);
        for (size_t i = 0; i < r->n; i++)
            for (size_t j = 0; j <= i; j++)
                if (group[j] == group[i]) {  // j: the first row of the group
                    psum[j] += r->reward[i], pcnt[j] += 1;
                    break;
                }
        for (size_t i = 0; i < r->n; i++) {
            size_t t = r->tree[i];
            if (nadv[t]) continue;
            size_t g = 0;
            while (group[g] != group[i]) g++;
            const vtree *v = &x->trees.trees[t];
            double *val = xmalloc(v->t.n_nodes * sizeof *val);
            nadv[t] = xmalloc(v->t.n_nodes * sizeof **nadv);
            adv_tree(v, leafr[t], psum[g] / pcnt[g], val, nadv[t]);
            free(val);
        }
        for (size_t i = 0; i < r->n; i++)
            for (int j = 0; j < T; j++) {
                int nd = r->node[i * T + j];
                if (r->targets[i * T + j] < 0 || nd < 0) continue;
                r->adv[i * T + j] = (float)((1 - c->tree_mix) * nadv[r->tree[i]][nd] + c->tree_mix * ga[i]);
            }
        for (size_t t = 0; t < nts; t++) free(leafr[t]), free(nadv[t]);
        free(leafr), free(nadv), free(psum), free(pcnt);
    } else {  // gae over each row's response tokens
        double *rw = xmalloc((size_t)T * sizeof *rw), *vv = xmalloc((size_t)T * sizeof *vv);
        double *aa = xmalloc((size_t)T * sizeof *aa), *rr = xmalloc((size_t)T * sizeof *rr);
        for (size_t i = 0; i < r->n; i++) {
            int first = -1, n = 0;
            for (int j = 0; j < T; j++)
                if (r->node[i * T + j] >= 0) {
                    if (first < 0) first = j;
                    n = j - first + 1;
                }
            if (first < 0) continue;
            for (int k = 0; k < n; k++) {
                size_t q = i * T + (size_t)(first + k);
                rw[k] = c->kl_mode == PPO_KL_REWARD ? -c->kl_coef * ((double)r->prox[q] - r->ref[q]) : 0;
                vv[k] = r->value[q];
            }
            rw[n - 1] += r->reward[i];
            adv_gae(rw, vv, n, c->gamma, c->lambda, aa, rr);
            for (int k = 0; k < n; k++) {
                size_t q = i * T + (size_t)(first + k);
                r->adv[q] = (float)aa[k];
                r->ret[q] = (float)rr[k];
            }
        }
        free(rw), free(vv), free(aa), free(rr);
    }
    if (c->neg_scale != 1)
        for (size_t i = 0; i < nt; i++)
            if (r->adv[i] < 0) r->adv[i] *= (float)c->neg_scale;
    free(group), free(ga);
}

// ---- the update ------------------------------------------------------------------------------------

typedef struct step_stats {
    double loss, gnorm, clipped, ratio_sum, ratio_min, ratio_max, entropy, weight, tokens, vloss, seconds;
} step_stats;

static void run_steps(it *x, step_stats *tot) {
    ppo_rows *r = &x->r;
    const ppo_config *c = &x->c;
    const int T = r->T, B = c->micro_batch, M = c->minibatches;
    const size_t BT = (size_t)B * T;
    int32_t *tok = xmalloc(BT * 4), *tg = xmalloc(BT * 4);
    float *w = xmalloc(BT * 4), *adv = xmalloc(BT * 4), *old = xmalloc(BT * 4), *beh = xmalloc(BT * 4),
          *ref = xmalloc(BT * 4), *lab = xmalloc(BT * 4), *ov = xmalloc(BT * 4), *wv = xmalloc(BT * 4);
    float *o_ent = xmalloc(BT * 4), *o_clip = xmalloc(BT * 4), *o_ratio = xmalloc(BT * 4);
    size_t *rows = xmalloc(r->n * sizeof *rows);
    gpt2_opt op = {(float)c->beta1, (float)c->beta2, (float)c->eps, (float)c->weight_decay, (float)c->grad_clip};
    // 1/T as rollout and gpt2_token_logprobs compute it: in float, from the float temperature
    kb_pg_params pp = {.inv_temp = c->temperature > 0 ? 1.0f / (float)c->temperature : 1.0f,
                       .clip_low = (float)c->clip_low, .clip_high = (float)c->clip_high, .dual_clip = (float)c->dual_clip,
                       .is_cap = c->proximal == PPO_PROX_RECOMPUTE ? (float)c->is_cap : 0.0f,
                       .ent_coef = (float)c->ent_coef,
                       .kl_coef = c->kl_mode == PPO_KL_LOSS ? (float)c->kl_coef : 0.0f, .kl_kind = KB_KL_K3,
                       .dscale = 1.0f};
    for (int64_t s = x->start_step; s < x->steps; s++) {
        double t0 = now_sec();
        int epoch = (int)(s / M), mb = (int)(s % M);
        tr_order ord;
        tr_order_init(&ord, r->n, mix64((uint64_t)c->seed, (uint64_t)epoch), 1);
        size_t lo = r->n * (size_t)mb / M, hi = r->n * (size_t)(mb + 1) / M, nr = 0;
        for (size_t k = lo; k < hi; k++) rows[nr++] = tr_order_item(&ord, k);
        tr_order_free(&ord);
        // The minibatch's normaliser over all ranks' rows: Σ weights of its response tokens
        // (token) or its row count (sequence, each row's tokens summing to 1).
        double denom = 0;
        for (size_t k = 0; k < nr; k++) {
            double rs = 0;
            for (int j = 0; j < T; j++) rs += r->node[rows[k] * T + j] >= 0 ? r->mult[rows[k] * T + j] : 0;
            denom += c->loss_norm == PPO_NORM_TOKEN ? rs : (rs > 0);
        }
        if (denom <= 0) denom = 1;
        gpt2_zero_grad(&x->pol);
        if (x->has_critic) gpt2_zero_grad(&x->cri);
        step_stats st = {.ratio_min = INFINITY, .ratio_max = -INFINITY};
        size_t k = (size_t)x->rank;
        while (k < nr) {
            int nb = 0;
            for (; k < nr && nb < B; k += (size_t)x->world, nb++) {
                size_t q = rows[k] * T, o = (size_t)nb * T;
                double rs = 0;
                for (int j = 0; j < T; j++) rs += r->node[q + j] >= 0 ? r->mult[q + j] : 0;
                for (int j = 0; j < T; j++) {
                    int resp = r->node[q + j] >= 0;
                    tok[o + j] = r->tokens[q + j];
                    tg[o + j] = resp ? r->targets[q + j] : -1;
                    double wt = !resp ? 0 : c->loss_norm == PPO_NORM_TOKEN ? r->mult[q + j] / denom
                                                                         : r->mult[q + j] / (rs * denom);
                    w[o + j] = (float)wt;
                    adv[o + j] = r->adv[q + j], old[o + j] = r->prox[q + j], beh[o + j] = r->behav[q + j];
                    ref[o + j] = r->ref[q + j], lab[o + j] = r->ret[q + j], ov[o + j] = r->old_value[q + j];
                    wv[o + j] = resp ? (float)(r->mult[q + j] / denom) : 0.0f;
                }
            }
            gpt2_pg_batch pb = {tok, tg, w, adv, old, beh, ref};
            gpt2_pg_forward_backward(&x->pol, &pb, nb, T, &pp);
            gpt2_pg_read(&x->pol, NULL, o_ent, NULL, o_clip, o_ratio);
            for (size_t j = 0; j < (size_t)nb * T; j++) {
                if (tg[j] < 0) continue;
                st.entropy += w[j] * o_ent[j], st.clipped += w[j] * o_clip[j], st.ratio_sum += w[j] * o_ratio[j];
                st.weight += w[j], st.tokens += 1;
                if (o_ratio[j] < st.ratio_min) st.ratio_min = o_ratio[j];
                if (o_ratio[j] > st.ratio_max) st.ratio_max = o_ratio[j];
            }
            if (x->has_critic)
                gpt2_head_forward_backward(&x->cri, tok, lab, wv, ov, nb, T, KB_HEAD_MSE, (float)c->value_clip, 1.0f, 0);
        }
        // Every rank takes part in every collective, also with no rows of its own.
        tr_zero_step(&x->zp, &x->pol, x->cm, &op, (float)c->lr);
        double ls, gn, vls = 0;
        gpt2_read_stats(&x->pol, &ls, &gn);
        if (x->has_critic) {
            tr_zero_step(&x->zc, &x->cri, x->cm, &op, (float)c->critic_lr);
            gpt2_read_stats(&x->cri, &vls, NULL);
        }
        double red[7] = {st.entropy, st.clipped, st.ratio_sum, st.weight, st.tokens, -st.ratio_min, st.ratio_max};
        comm_allreduce_host_f64(x->cm, red, 5);  // min/max: this rank's (reported from rank 0)
        st.loss = ls, st.gnorm = gn, st.vloss = vls;
        double wsum = red[3] > 0 ? red[3] : 1;
        tot->loss += ls, tot->vloss += vls, tot->clipped += red[1], tot->ratio_sum += red[2], tot->entropy += red[0];
        tot->weight += red[3], tot->tokens += red[4], tot->gnorm += gn;
        tot->ratio_min = fmin(tot->ratio_min, st.ratio_min), tot->ratio_max = fmax(tot->ratio_max, st.ratio_max);
        double dt = now_sec() - t0;
        tot->seconds += dt;
        if (x->rank == 0) {
            if (!cli_quiet)
                fprintf(stderr, "ppo step %3lld/%lld | epoch %d | loss %+.4f | clip %.3f | ratio %.3f | entropy %.3f | norm "
                                "%.3f%s | %.0f tok/s\n",
                        (long long)s + 1, (long long)x->steps, epoch + 1, ls, red[1] / wsum, red[2] / wsum, red[0] / wsum, gn,
                        "", red[4] / dt);
            tr_log_rec(&x->log,
                       "\"step\": %lld, \"epoch\": %d, \"loss\": %.17g, \"value_loss\": %.17g, \"grad_norm\": %.17g, "
                       "\"clip_frac\": %.6f, \"ratio_mean\": %.6f, \"entropy\": %.6f, \"tokens\": %.0f, \"ms\": %.3f",
                       (long long)s + 1, epoch + 1, ls, vls, gn, red[1] / wsum, red[2] / wsum, red[0] / wsum, red[4], dt * 1e3);
        }
        x->st.step = (uint64_t)s + 1;
        x->st.cursor = (uint64_t)s + 1;
        x->st.tokens += (uint64_t)red[4];
        if (c->ckpt_every && (s + 1) % c->ckpt_every == 0 && s + 1 < x->steps) {
            berr e = {{0}};
            bbuf blob = {0};
            tr_state_encode(&x->st, &blob);
            char *pp_ = tr_ckpt_path(x->work, s + 1), *cp = xasprintf("%s/critic_%08lld.bin", x->work, (long long)s + 1);
            int rc = x->has_critic ? tr_save_checkpoint(&x->cri, &x->zc, x->cm, cp, NULL, 0, &e) : 0;
            if (!rc) rc = tr_save_checkpoint(&x->pol, &x->zp, x->cm, pp_, blob.p, blob.n, &e);  // the policy last
            if (!rc && x->rank == 0) rc = tr_ckpt_prune(x->work, 2, &e);
            tr_agree(x->cm, rc, &e, 1);
            free(pp_), free(cp);
            bbuf_free(&blob);
        }
    }
    free(tok), free(tg), free(w), free(adv), free(old), free(beh), free(ref), free(lab), free(ov), free(wv);
    free(o_ent), free(o_clip), free(o_ratio), free(rows);
}

// ---- statistics, monitors, report ----------------------------------------------------------------

typedef struct it_stats {
    double reward, pass_rate, kl, kl_k3, entropy, length, eot_only, clip_frac, ratio_mean, ratio_min, ratio_max, loss,
        value_loss, explained_var, staleness_mean, mismatch_mean, mismatch_max, identical_share;
    uint32_t staleness_max, dropped, trees, rows;
    size_t dropped_flat;
} it_stats;

static void data_stats(const it *x, it_stats *s) {
    const ppo_rows *r = &x->r;
    const int T = r->T;
    double kl = 0, k3 = 0, n = 0, len = 0, mis = 0, mis_max = 0, same = 0, rew = 0, pass = 0, eot = 0;
    double sr = 0, sr2 = 0, sd = 0, sd2 = 0, nv = 0;
    for (size_t i = 0; i < r->n; i++) {
        int resp = 0, first_tok = -1;
        for (int j = 0; j < T; j++) {
            size_t q = i * T + (size_t)j;
            if (r->node[q] < 0) continue;
            if (first_tok < 0) first_tok = r->targets[q];
            resp++;
            double d = (double)r->prox[q] - r->ref[q];
            kl += d, k3 += exp(-d) + d - 1, n += 1;
            double m = fabs((double)r->behav[q] - r->prox[q]);
            mis += m, mis_max = fmax(mis_max, m), same += r->behav[q] == r->prox[q];
            if (x->has_critic) {
                double ret = r->ret[q], res = ret - r->old_value[q];
                sr += ret, sr2 += ret * ret, sd += res, sd2 += res * res, nv += 1;
            }
        }
        len += resp;
        rew += r->reward[i];
        pass += x->trees.trees[r->tree[i]].outcome[r->leaf[i]] == OUTCOME_PASS;
        eot += resp == 1 && first_tok == x->eot;
    }
    s->rows = (uint32_t)r->n, s->trees = r->trees, s->dropped = r->dropped_stale, s->staleness_max = r->staleness_max;
    s->staleness_mean = r->trees ? r->staleness_sum / r->trees : 0;
    // reward and pass rate over every row, also those --drop-flat left out
    double all = r->all_n ? (double)r->all_n : (double)r->n;
    if (r->all_n) rew = r->all_reward, pass = r->all_pass;
    s->dropped_flat = r->dropped_flat;
    s->reward = rew / all, s->pass_rate = pass / all, s->length = len / r->n, s->eot_only = eot / r->n;
    s->kl = n ? kl / n : 0, s->kl_k3 = n ? k3 / n : 0;
    s->mismatch_mean = n ? mis / n : 0, s->mismatch_max = mis_max, s->identical_share = n ? same / n : 0;
    if (nv > 1) {
        double var_r = sr2 / nv - (sr / nv) * (sr / nv), var_d = sd2 / nv - (sd / nv) * (sd / nv);
        s->explained_var = var_r > 0 ? 1 - var_d / var_r : 0;
    }
}

// Previous iterations' records (OUT/ppo-history.jsonl), for the monitors that compare.
static int history_last(const char *path, uint32_t below, double *length, double *reward, double *pass) {
    char *buf;
    size_t len;
    berr e;
    if (!file_exists(path) || read_file(path, &buf, &len, &e)) return 0;
    int found = 0;
    for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
        double v, a, b, c;
        if (tr_log_number(l, "version", &v) && v < below && tr_log_number(l, "length", &a) &&
            tr_log_number(l, "reward", &b) && tr_log_number(l, "pass_rate", &c))
            *length = a, *reward = b, *pass = c, found = 1;
    }
    free(buf);
    return found;
}

static void json_counts_role(FILE *f, kb_ctx *ctx, const char *role, double *fwd, double *bwd) {
    const kb_counts *k = kb_counts_of(ctx, role);
    double a = 0, b = 0, o = 0;
    for (int c = 0; k && c < KB_NCLASSES; c++) a += k->flops[KB_FWD][c], b += k->flops[KB_BWD][c], o += k->flops[KB_OPT][c];
    fprintf(f, "\"%s\": {\"fwd\": %.6g, \"bwd\": %.6g, \"opt\": %.6g}", role, a, b, o);
    *fwd += a, *bwd += b;
}

// ---- main ----------------------------------------------------------------------------------------------

int ppo_main(int argc, char **argv, int first) {
    it X = {0}, *x = &X;
    berr e = {{0}};
    x->cm = comm_init(&e);
    if (!x->cm) {
        fprintf(stderr, "ppo: error: %s\n", e.msg);
        return 1;
    }
    x->rank = comm_rank(x->cm), x->world = comm_world(x->cm);
    ppo_config *c = &x->c;
    // Wall time per phase, for the report: reading trees into rows, building and loading the
    // models, the proximal/reference forwards (precompute), the update, saving the state.
    double t_begin = now_sec(), t_rows = 0, t_models = 0, t_pre = 0, t_save = 0;
    int rc = setup(x, argc, argv, first, &e);
    tr_agree(x->cm, rc, &e, rc == -2 ? 2 : 1);
    if (file_exists(x->policy_out)) {
        if (x->rank == 0) fprintf(stderr, "ppo: %s is already published: this iteration is done\n", x->policy_out);
        comm_finalize(x->cm);
        return 0;
    }
    if (!c->take) {
        rc = vtree_set_load(&x->trees, c->trajectories, c->verdicts, 1, &e);
    } else {  // stream form: wait for trees [skip, skip + take) and their verdicts
        double t0 = now_sec(), said = 0;
        for (;;) {
            size_t complete = 0;
            int closed = 0;
            int got = vtree_set_load_range(&x->trees, c->trajectories, c->verdicts, (size_t)c->skip, (size_t)c->take,
                                           &complete, &closed, &e);
            if (got) {
                rc = got < 0 ? -1 : 0;
                break;
            }
            if (closed) {
                // verify may still be writing the last verdicts; a closed verdict directory ends it
                char *vc = xasprintf("%s/CLOSED", c->verdicts);
                int vclosed = file_exists(vc);
                free(vc);
                if (vclosed) {
                    rc = berr_set(&e, "%s and %s are closed with %zu complete trees: trees %lld..%lld will never come",
                                  c->trajectories, c->verdicts, complete, (long long)c->skip,
                                  (long long)(c->skip + c->take - 1));
                    break;
                }
            }
            double t = now_sec();
            if (t - t0 > c->wait) {
                rc = berr_set(&e, "waited %.0f s for trees %lld..%lld of %s with their verdicts: only %zu complete", t - t0,
                              (long long)c->skip, (long long)(c->skip + c->take - 1), c->trajectories, complete);
                break;
            }
            if (x->rank == 0 && !cli_quiet && t - said >= 10) {
                fprintf(stderr, "ppo: waiting for trees %lld..%lld (%zu complete so far)\n", (long long)c->skip,
                        (long long)(c->skip + c->take - 1), complete);
                said = t;
            }
            usleep(200000);
        }
    }
    if (!rc) rc = ppo_rows_build(&x->r, &x->trees, c, x->version, x->pinfo.cfg.maxT, x->pinfo.cfg.V, &e);
    if (!rc && c->scores) rc = apply_scores(x, &e);
    if (!rc && c->drop_flat) ppo_rows_drop_flat(&x->r, &x->trees);
    t_rows = now_sec() - t_begin;
    if (!rc && x->rank == 0) rc = mkdir_p(x->work, &e);
    tr_agree(x->cm, rc, &e, 1);
    uint64_t fp = rows_fingerprint(&x->r);

    // Resume: the newest checkpoint in WORK, if it belongs to this iteration (same options, same rows).
    bbuf ob = {0};
    cli_serialize(&ob, &ppo_table, c);
    char *resume = NULL;
    tr_state saved = {0};
    {
        int64_t *steps;
        int n = 0;
        if (tr_ckpt_list(x->work, &steps, &n, &e) == 0 && n > 0 && tr_ckpt_latest(x->work, &resume, &e) == 0) {
            gpt2_ckpt_info info;
            if (tr_ckpt_read_state(resume, &info, &saved, &e) ||
                saved.opts_len != ob.n || memcmp(saved.opts, ob.p, ob.n) || saved.data_fp != fp)
                rc = berr_set(&e, "%s holds a checkpoint of another iteration (other options or data): use another --work "
                                  "or remove it", x->work);
        }
        if (n > 0) free(steps);
    }
    tr_agree(x->cm, rc, &e, 1);

    x->ctx = kb_open(tr_backend(c->backend), comm_local_rank(x->cm), &e);
    rc = x->ctx ? 0 : -1;
    if (!rc) rc = comm_attach(x->cm, x->ctx, &e);
    tr_agree(x->cm, rc, &e, 1);
    const int B = c->micro_batch, T = x->r.T;
    gpt2_build(&x->pol, x->ctx, &x->pinfo.cfg, B, T, 1);
    gpt2_build(&x->ref, x->ctx, &x->pinfo.cfg, B, T, 0);
    gpt2_set_role(&x->pol, "ppo.policy");
    gpt2_set_role(&x->ref, "ppo.reference");
    tr_zero_setup(&x->zp, &x->pol, x->cm);
    rc = tr_load_weights(&x->pol, &x->zp, resume ? resume : c->policy, resume != NULL, &e);
    if (!rc && !resume && c->optimizer) {  // the moments (and step) of the previous iteration
        gpt2_ckpt_info oi;
        float *p, *mm, *vv;
        rc = gpt2_load_host(c->optimizer, &oi, &p, &mm, &vv, NULL, NULL, &e);
        if (!rc) {
            gpt2_set_moments(&x->pol, &x->zp.sh, mm + x->zp.sh.off, vv + x->zp.sh.off);
            x->pol.step = (int)oi.step;
            free(p), free(mm), free(vv);
        }
    }
    if (!rc) rc = gpt2_load(&x->ref, c->reference ? c->reference : c->policy, 0, NULL, NULL, &e);
    x->has_critic = c->advantage == PPO_ADV_GAE;
    if (!rc && x->has_critic) {
        gpt2_config cc = x->pinfo.cfg;
        cc.n_scalar = 1;
        gpt2_build(&x->cri, x->ctx, &cc, B, T, 1);
        gpt2_set_role(&x->cri, "ppo.critic");
        tr_zero_setup(&x->zc, &x->cri, x->cm);
        if (resume) {
            char *cp = xasprintf("%s/critic_%08llu.bin", x->work, (unsigned long long)saved.step);
            rc = tr_load_weights(&x->cri, &x->zc, cp, 1, &e);
            free(cp);
        } else {
            rc = gpt2_load_trunk(&x->cri, c->critic ? c->critic : c->policy, (uint64_t)c->seed, &e);
        }
    }
    tr_agree(x->cm, rc, &e, 1);
    t_models = now_sec() - t_begin - t_rows;

    // The per-token arrays every epoch uses, from the weights at the iteration's start.
    double t_pre0 = now_sec();
    char *prep_path = xasprintf("%s/prep.bin", x->work);
    int have = prep_load(x, prep_path, fp, &e);
    tr_agree(x->cm, have < 0 ? -1 : 0, &e, 1);
    if (resume && have != 1) {
        rc = berr_set(&e, "%s: the checkpoint %s needs %s, which is missing or for other rows", x->work, resume, prep_path);
        tr_agree(x->cm, -1, &e, 1);
    }
    if (have != 1) {
        precompute(x);
        rc = x->rank == 0 ? prep_save(x, prep_path, fp, &e) : 0;
        tr_agree(x->cm, rc, &e, 1);
    }
    compute_advantages(x);
    t_pre = now_sec() - t_pre0;
    x->steps = (int64_t)c->epochs * c->minibatches;
    x->start_step = resume ? (int64_t)saved.step : 0;
    x->st = resume ? saved : (tr_state){0};
    if (!resume) {
        x->st.data_fp = fp;
        x->st.opts = xmalloc(ob.n + 1);
        memcpy(x->st.opts, ob.p, ob.n);
        x->st.opts[ob.n] = 0;
        x->st.opts_len = ob.n;
    }
    x->st.world = (uint32_t)x->world;
    bbuf_free(&ob);

    it_stats S = {0};
    data_stats(x, &S);
    if (x->rank == 0) {
        char *lp = xasprintf("%s/log.jsonl", x->work);
        int64_t dropped = 0;
        rc = tr_log_open(&x->log, lp, resume ? x->start_step : -1, &dropped, &e);
        free(lp);
        if (!rc && !cli_quiet) {
            fprintf(stderr, "ppo: policy v%u (%s) -> v%u; %zu trees (%u dropped as stale), %u rows of %d tokens (%zu of flat problems "
                            "left out), backend %s, "
                            "%d rank(s); advantage %s, %d epoch(s) × %d minibatches%s\n",
                    x->version, c->policy, x->version + 1, x->trees.n, S.dropped, S.rows, T, S.dropped_flat, kb_device_name(x->ctx), x->world,
                    c->advantage == PPO_ADV_TREE ? "tree" : c->advantage == PPO_ADV_GROUP ? "group" : "gae", c->epochs,
                    c->minibatches, resume ? "; resumed" : "");
            fprintf(stderr, "ppo: reward %.4f | pass %.4f | length %.1f | KL %.4f | behaviour/proximal |Δlogp| mean %.2e max "
                            "%.2e (%.1f%% identical)\n",
                    S.reward, S.pass_rate, S.length, S.kl, S.mismatch_mean, S.mismatch_max, 100 * S.identical_share);
        }
        if (!rc) {
            FILE *f = tr_log_begin(&x->log);
            fprintf(f, "\"event\": \"config\", \"step\": %lld, \"version\": %u, \"options\": {", (long long)x->start_step,
                    x->version);
            cli_json_fields(f, &ppo_table, c);
            fputs("}", f);
            tr_log_end(&x->log);
        }
    }
    tr_agree(x->cm, rc, &e, 1);

    double t0 = now_sec();
    step_stats tot = {.ratio_min = INFINITY, .ratio_max = -INFINITY};
    run_steps(x, &tot);
    double secs = now_sec() - t0;
    double wsum = tot.weight > 0 ? tot.weight : 1;
    S.entropy = tot.entropy / wsum, S.clip_frac = tot.clipped / wsum, S.ratio_mean = tot.ratio_sum / wsum;
    S.ratio_min = tot.ratio_min, S.ratio_max = tot.ratio_max;
    S.loss = x->steps > x->start_step ? tot.loss / (double)(x->steps - x->start_step) : 0;
    S.value_loss = x->steps > x->start_step ? tot.vloss / (double)(x->steps - x->start_step) : 0;

    // Collapse monitors.
    char *hist = xasprintf("%s/ppo-history.jsonl", c->out);
    double plen, prew, ppass;
    char warn[512] = "";
    if (S.entropy < c->min_entropy) snprintf(warn + strlen(warn), sizeof warn - strlen(warn), "entropy %.4f below %.4f; ", S.entropy, c->min_entropy);
    if (S.kl > c->max_kl) snprintf(warn + strlen(warn), sizeof warn - strlen(warn), "KL %.3f above %.3f; ", S.kl, c->max_kl);
    if (history_last(hist, x->version + 1, &plen, &prew, &ppass)) {
        if (plen > 0 && S.length > c->max_length_growth * plen)
            snprintf(warn + strlen(warn), sizeof warn - strlen(warn), "response length %.1f grew over %.1f× the last %.1f; ",
                     S.length, c->max_length_growth, plen);
        if (S.reward > prew + 1e-9 && S.pass_rate < ppass - 1e-9)
            snprintf(warn + strlen(warn), sizeof warn - strlen(warn),
                     "reward rose (%.4f -> %.4f) while the verified pass rate fell (%.4f -> %.4f); ", prew, S.reward, ppass,
                     S.pass_rate);
    }
    if (warn[0] && x->rank == 0) fprintf(stderr, "ppo: warning: collapse monitor: %s\n", warn);
    int collapse = warn[0] && c->stop_on_collapse;

    // The report, then (rank 0) critic and optimizer state, the history line, and the policy last:
    // its presence means the iteration is done.
    rc = 0;
    double t_save0 = now_sec();
    if (x->has_critic && !collapse) {
        rc = tr_save_checkpoint(&x->cri, &x->zc, x->cm, x->critic_out, NULL, 0, &e);
        tr_agree(x->cm, rc, &e, 1);
    }
    char *opt_path = xasprintf("%s/opt.bin", x->work);
    if (!collapse) {
        rc = tr_save_checkpoint(&x->pol, &x->zp, x->cm, opt_path, NULL, 0, &e);
        tr_agree(x->cm, rc, &e, 1);
    }
    t_save = now_sec() - t_save0;
    if (x->rank == 0) {
        double fw = 0, bw = 0;
        char *rp = xasprintf("%s/report.json", x->work);
        atomic_file af;
        rc = atomic_open(&af, rp, &e);
        if (!rc) {
            FILE *f = af.f;
            fprintf(f, "{\"version\": %u, \"policy\": ", x->version + 1);
            json_string(f, x->policy_out, strlen(x->policy_out));
            fprintf(f, ", \"collapse\": ");
            json_string(f, warn, strlen(warn));
            fprintf(f, ", \"stopped\": %s, \"seconds\": %.3f, \"trees\": %u, \"rows\": %u, \"reward\": %.6f, \"pass_rate\": %.6f, "
                       "\"kl\": %.6f, \"kl_k3\": %.6f, \"entropy\": %.6f, \"length\": %.3f, \"eot_only\": %.6f, \"clip_frac\": %.6f, "
                       "\"ratio_mean\": %.6f, \"ratio_min\": %.6f, \"ratio_max\": %.6f, \"loss\": %.6g, \"value_loss\": %.6g, "
                       "\"explained_variance\": %.6f, \"staleness_mean\": %.3f, \"staleness_max\": %u, \"dropped_stale\": %u, "
                       "\"dropped_flat\": %zu, "
                       "\"logp_mismatch_mean\": %.3g, \"logp_mismatch_max\": %.3g, \"logp_identical_share\": %.6f, "
                       "\"tokens_trained\": %llu, \"update_seconds\": %.3f, \"update_tok_s\": %.1f, \"flops\": {",
                    collapse ? "true" : "false", secs, S.trees, S.rows, S.reward, S.pass_rate, S.kl, S.kl_k3, S.entropy, S.length,
                    S.eot_only, S.clip_frac, S.ratio_mean, S.ratio_min, S.ratio_max, S.loss, S.value_loss, S.explained_var,
                    S.staleness_mean, S.staleness_max, S.dropped, S.dropped_flat, S.mismatch_mean, S.mismatch_max, S.identical_share,
                    (unsigned long long)x->st.tokens, tot.seconds, tot.seconds > 0 ? tot.tokens / tot.seconds : 0);
            json_counts_role(f, x->ctx, "ppo.policy", &fw, &bw);
            fputs(", ", f);
            json_counts_role(f, x->ctx, "ppo.reference", &fw, &bw);
            if (x->has_critic) {
                fputs(", ", f);
                json_counts_role(f, x->ctx, "ppo.critic", &fw, &bw);
            }
            // FLOPs of this process; every rank runs the same shapes, so the run's are world × these.
            fprintf(f, "}, \"ranks\": %d, \"fwd_flops\": %.6g, \"bwd_flops\": %.6g, \"fwd_bwd_ratio\": %.4f, ", x->world,
                    fw * x->world, bw * x->world, bw > 0 ? fw / bw : 0);
            // precompute was skipped (0 s) when a resumed iteration found prep.bin
            fprintf(f, "\"phase_seconds\": {\"rows\": %.3f, \"models\": %.3f, \"precompute\": %.3f, \"update\": %.3f, "
                       "\"save_state\": %.3f}}\n",
                    t_rows, t_models, have == 1 ? 0 : t_pre, secs, t_save);
            rc = atomic_commit(&af, &e);
        }
        if (!cli_quiet) {
            fprintf(stderr, "ppo: phases: rows %.2f s, models %.2f s, precompute %.2f s, update %.2f s (%.0f tok/s), save %.2f s\n",
                    t_rows, t_models, t_pre, secs, tot.seconds > 0 ? tot.tokens / tot.seconds : 0, t_save);
            fprintf(stderr, "ppo: done in %.1f s: clip %.3f | ratio %.3f [%.3f, %.3f] | entropy %.4f | forward:backward FLOPs "
                            "%.2f | report %s\n",
                    secs, S.clip_frac, S.ratio_mean, S.ratio_min, S.ratio_max, S.entropy, bw > 0 ? fw / bw : 0, rp);
        }
        tr_log_rec(&x->log, "\"event\": \"end\", \"step\": %lld, \"seconds\": %.3f", (long long)x->steps, secs);
        tr_log_close(&x->log);
        free(rp);
        if (!rc && !collapse) {  // history: earlier versions' lines kept, this version's replaced
            bbuf h = {0};
            char *buf;
            size_t len;
            if (file_exists(hist) && read_file(hist, &buf, &len, &e) == 0) {
                for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
                    double v;
                    if (tr_log_number(l, "version", &v) && v >= x->version + 1) continue;
                    bbuf_put(&h, l, strlen(l));
                    bbuf_u8(&h, '\n');
                }
                free(buf);
            }
            char line[512];
            int n = snprintf(line, sizeof line,
                             "{\"version\": %u, \"reward\": %.6f, \"pass_rate\": %.6f, \"length\": %.3f, \"entropy\": %.6f, "
                             "\"kl\": %.6f, \"clip_frac\": %.6f}\n",
                             x->version + 1, S.reward, S.pass_rate, S.length, S.entropy, S.kl, S.clip_frac);
            bbuf_put(&h, line, (size_t)n);
            rc = write_file_atomic(hist, h.p, h.n, &e);
            bbuf_free(&h);
        }
        if (!rc && !collapse) rc = gpt2_save(&x->pol, x->policy_out, 0, NULL, 0, &e);
        if (!rc && !collapse) fprintf(stderr, "ppo: published %s\n", x->policy_out);
    }
    tr_agree(x->cm, rc, &e, 1);
    int status = collapse ? 3 : 0;
    if (collapse && x->rank == 0) fprintf(stderr, "ppo: stopped by --stop-on-collapse: nothing published\n");
    free(hist), free(opt_path), free(prep_path), free(resume);
    gpt2_free(&x->pol), gpt2_free(&x->ref);
    if (x->has_critic) gpt2_free(&x->cri);
    kb_close(x->ctx);
    ppo_rows_free(&x->r);
    vtree_set_free(&x->trees);
    bpe_free(x->tok);
    tr_state_free(&x->st);
    free(x->work), free(x->policy_out), free(x->critic_out), free(x->given);
    cli_free(&ppo_table, c);
    comm_finalize(x->cm);
    return status;
}
