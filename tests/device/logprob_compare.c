// logprob_compare.c — the behaviour log-probs rollout recorded in trajectory shards against
// the trainer's: every node's path (prompt, ancestors' tokens, its own) through the training
// forward (gpt2_logits), then the trainer's log-prob op, kb_classifier at inv_temp =
// 1/temperature (1 when greedy), whose −nll is the trainer's log-prob of each token. Reports
// the recorded values above 0 or not finite, and the mean and max |recorded − trainer|.
// Used by tests/device/logprob_temps.sh on the GPU, and on the CPU by tests/rollout/test_cli.sh
// (there the two agree bit for bit).
//
//   logprob_compare --policy FILE --trajectories DIR --temperature X [--backend cpu|cuda]
//                   [--batch N] [--max-nodes N] [--max-diff D] [--label TEXT]
//
// Ends with one line "RESULT label=... nodes=... tokens=... above0=... nonfinite=...
// max_logprob=... mean_diff=... max_diff=... equal=..." (equal: the share bit for bit).
// Exit status 1 when a recorded log-prob is above 0 or not finite, or max_diff > D.
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gpt2.h"
#include "shards/records.h"
#include "shards/stream.h"

typedef struct stats {
    uint64_t nodes, tokens, above0, nonfinite, equal;
    double sum_diff, max_diff, max_lp;
} stats;

typedef struct batch {
    gpt2 *m;
    int B, T;           // capacity: paths per forward, positions per path (the context)
    int n;              // paths held
    int32_t *tok;       // B × T
    int *len, *start;   // per path: length, first position of the node's own tokens
    float **lp;         // per path: a copy of the node's recorded log-probs (len - start)
    float inv_temp;
    stats *s;
    // working memory for up to B·T rows, allocated once
    int32_t *ftok, *rows, *tgt, *TG;
    float *host, *nll, *NL;
    kb_act *L;
} batch;

static void batch_init(batch *b, gpt2 *m, int B, float inv_temp, stats *s) {
    memset(b, 0, sizeof *b);
    b->m = m, b->B = B, b->T = m->cfg.maxT, b->inv_temp = inv_temp, b->s = s;
    size_t N = (size_t)B * b->T, Vp = (size_t)m->cfg.Vp;
    b->tok = xmalloc(N * 4), b->ftok = xmalloc(N * 4), b->rows = xmalloc(N * 4), b->tgt = xmalloc(N * 4);
    b->len = xmalloc((size_t)B * sizeof(int)), b->start = xmalloc((size_t)B * sizeof(int));
    b->lp = xmalloc((size_t)B * sizeof *b->lp);
    b->host = xmalloc(N * Vp * 4), b->nll = xmalloc(N * 4);
    b->L = kb_alloc(m->ctx, N * Vp * kb_act_size(m->ctx));
    b->TG = kb_alloc(m->ctx, N * 4), b->NL = kb_alloc(m->ctx, N * 4);
}
static void batch_free(batch *b) {
    kb_free(b->m->ctx, b->L), kb_free(b->m->ctx, b->TG), kb_free(b->m->ctx, b->NL);
    free(b->tok), free(b->ftok), free(b->rows), free(b->tgt), free(b->len), free(b->start), free(b->lp);
    free(b->host), free(b->nll);
}

static void run_batch(batch *b) {
    if (!b->n) return;
    gpt2 *m = b->m;
    kb_ctx *ctx = m->ctx;
    int T = 0, nrows = 0, V = m->cfg.V, Vp = m->cfg.Vp;
    for (int i = 0; i < b->n; i++) T = b->len[i] > T ? b->len[i] : T;
    for (int i = 0; i < b->n; i++) {
        for (int p = 0; p < T; p++) b->ftok[(size_t)i * T + p] = p < b->len[i] ? b->tok[(size_t)i * b->T + p] : 0;
        for (int p = b->start[i]; p < b->len[i]; p++) {  // logits at p - 1 predict the token at p
            b->rows[nrows] = i * T + p - 1;
            b->tgt[nrows++] = b->tok[(size_t)i * b->T + p];
        }
    }
    if (nrows) {
        gpt2_logits(m, b->ftok, b->n, T, b->rows, nrows, b->host);
        kb_upload_act(ctx, b->L, b->host, (size_t)nrows * Vp);  // the downloaded logits: exact in the act dtype
        kb_upload(ctx, b->TG, b->tgt, (size_t)nrows * 4);
        kb_classifier(ctx, b->L, b->NL, NULL, b->TG, NULL, 1.0f, b->inv_temp, nrows, V, Vp, 0);
        kb_download(ctx, b->nll, b->NL, (size_t)nrows * 4);
    }
    stats *s = b->s;
    for (int i = 0, r = 0; i < b->n; i++) {
        for (int p = b->start[i]; p < b->len[i]; p++, r++) {
            float rec = b->lp[i][p - b->start[i]], tr = -b->nll[r];
            s->tokens++;
            if (!isfinite(rec)) {
                s->nonfinite++;
                continue;
            }
            if (rec > 0) s->above0++;
            s->max_lp = fmax(s->max_lp, rec);
            double d = fabs((double)rec - tr);
            s->sum_diff += d;
            s->max_diff = fmax(s->max_diff, d);
            s->equal += rec == tr;
        }
        free(b->lp[i]);
    }
    b->n = 0;
}

// Adds every node of a tree, each as its whole path.
static int add_tree(batch *b, const traj_rec *t, uint64_t max_nodes, berr *e) {
    uint32_t *chain = xmalloc((t->n_nodes ? t->n_nodes : 1) * sizeof *chain);
    for (uint32_t k = 0; k < t->n_nodes && (!max_nodes || b->s->nodes < max_nodes); k++) {
        int depth = 0;
        for (uint32_t j = k; j != TRAJ_ROOT; j = t->nodes[j].parent) chain[depth++] = j;
        int32_t *dst = b->tok + (size_t)b->n * b->T;
        int len = 0;
        if ((int64_t)t->n_prompt > b->T || t->n_prompt == 0) {
            free(chain);
            return berr_set(e, "problem %llu: prompt of %u tokens (context %d)", (unsigned long long)t->problem_id,
                            t->n_prompt, b->T);
        }
        for (uint32_t i = 0; i < t->n_prompt; i++) dst[len++] = (int32_t)t->prompt[i];
        for (int d = depth; d-- > 0;) {
            const traj_node *nd = &t->nodes[chain[d]];
            if (len + (int64_t)nd->n_tokens > b->T) {
                free(chain);
                return berr_set(e, "problem %llu node %u: the path is longer than the context of %d",
                                (unsigned long long)t->problem_id, k, b->T);
            }
            if (d == 0) b->start[b->n] = len;
            for (uint32_t i = 0; i < nd->n_tokens; i++) {
                if (nd->tokens[i] >= (uint32_t)b->m->cfg.V) {
                    free(chain);
                    return berr_set(e, "problem %llu node %u: token %u outside the policy's vocabulary of %d",
                                    (unsigned long long)t->problem_id, chain[d], nd->tokens[i], b->m->cfg.V);
                }
                dst[len++] = (int32_t)nd->tokens[i];
            }
        }
        const traj_node *nd = &t->nodes[k];
        b->len[b->n] = len;
        b->lp[b->n] = xmalloc((nd->n_tokens ? nd->n_tokens : 1) * 4);
        if (nd->n_tokens) memcpy(b->lp[b->n], nd->logprobs, nd->n_tokens * 4);
        b->s->nodes++;
        if (++b->n == b->B) run_batch(b);
    }
    free(chain);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: logprob_compare --policy FILE --trajectories DIR --temperature X [--backend cpu|cuda]\n"
               "                       [--batch N] [--max-nodes N] [--max-diff D] [--label TEXT]\n");
}

int main(int argc, char **argv) {
    const char *policy = NULL, *dir = NULL, *label = "-", *backend = "cuda";
    double temp = -1, max_diff = -1;
    long batch_n = 16, max_nodes = 0;
    static const struct option opts[] = {
        {"policy", 1, 0, 'p'}, {"trajectories", 1, 0, 't'}, {"temperature", 1, 0, 'T'}, {"backend", 1, 0, 'b'},
        {"batch", 1, 0, 'B'},  {"max-nodes", 1, 0, 'n'},    {"max-diff", 1, 0, 'd'},    {"label", 1, 0, 'l'},
        {"help", 0, 0, 'h'},   {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p': policy = optarg; break;
        case 't': dir = optarg; break;
        case 'T': temp = atof(optarg); break;
        case 'b': backend = optarg; break;
        case 'B': batch_n = atol(optarg); break;
        case 'n': max_nodes = atol(optarg); break;
        case 'd': max_diff = atof(optarg); break;
        case 'l': label = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!policy || !dir || !(temp >= 0) || batch_n < 1 || max_nodes < 0 || optind < argc ||
        (strcmp(backend, "cpu") && strcmp(backend, "cuda"))) {
        usage(stderr);
        return 2;
    }
    berr e;
    kb_ctx *ctx = kb_open(strcmp(backend, "cpu") ? KB_CUDA : KB_CPU, 0, &e);
    if (!ctx) die("logprob_compare: %s", e.msg);
    gpt2_ckpt_info info;
    if (gpt2_ckpt_info_read(policy, &info, &e)) die("logprob_compare: %s", e.msg);
    gpt2 m;
    gpt2_build(&m, ctx, &info.cfg, (int)batch_n, info.cfg.maxT, 0);
    if (gpt2_load(&m, policy, 0, NULL, NULL, &e)) die("logprob_compare: %s", e.msg);
    stats s = {0};
    s.max_lp = -INFINITY;
    batch b;
    batch_init(&b, &m, (int)batch_n, temp > 0 ? 1.0f / (float)temp : 1.0f, &s);  // the trainer's inv_temp
    shard_dir_listing l;
    if (shard_dir_list(dir, &l, &e)) die("logprob_compare: %s", e.msg);
    for (size_t i = 0; i < l.n_shards && (!max_nodes || s.nodes < (uint64_t)max_nodes); i++) {
        char *path = xasprintf("%s/%s", dir, l.shards[i].name);
        shard_reader *r = shard_open(path, &e);
        if (!r) die("logprob_compare: %s", e.msg);
        const shard_info *in = shard_get_info(r);
        if (in->kind != SHARD_TRAJECTORIES) die("logprob_compare: %s holds %s records", path, shard_kind_name(in->kind));
        for (uint64_t k = 0; k < in->count && (!max_nodes || s.nodes < (uint64_t)max_nodes); k++) {
            const uint8_t *rec;
            size_t len;
            traj_rec t;
            if (shard_get(r, k, &rec, &len, &e)) die("logprob_compare: %s", e.msg);
            if (traj_decode(rec, len, in->schema_version, &t, &e)) {
                record_refused(&e, path, k, in);
                die("logprob_compare: %s", e.msg);
            }
            if (add_tree(&b, &t, (uint64_t)max_nodes, &e)) die("logprob_compare: %s record %llu: %s", path,
                                                                (unsigned long long)k, e.msg);
            traj_free(&t);
        }
        shard_close(r);
        free(path);
    }
    run_batch(&b);
    shard_dir_listing_free(&l);
    uint64_t finite = s.tokens - s.nonfinite;
    double mean = finite ? s.sum_diff / (double)finite : 0;
    fprintf(stderr, "logprob_compare: %s (%s, temperature %g): %llu nodes, %llu tokens; recorded log-probs above 0: "
            "%llu, not finite: %llu, largest %.9g; |recorded - trainer|: mean %.3e, max %.3e, bit for bit %.2f%%\n",
            dir, kb_backend_name(ctx), temp, (unsigned long long)s.nodes, (unsigned long long)s.tokens,
            (unsigned long long)s.above0, (unsigned long long)s.nonfinite, s.max_lp, mean, s.max_diff,
            finite ? 100.0 * (double)s.equal / (double)finite : 0.0);
    printf("RESULT label=%s backend=%s temperature=%g nodes=%llu tokens=%llu above0=%llu nonfinite=%llu "
           "max_logprob=%.9g mean_diff=%.3e max_diff=%.3e equal=%.4f\n",
           label, kb_backend_name(ctx), temp, (unsigned long long)s.nodes, (unsigned long long)s.tokens,
           (unsigned long long)s.above0, (unsigned long long)s.nonfinite, s.max_lp, mean, s.max_diff,
           finite ? (double)s.equal / (double)finite : 0.0);
    batch_free(&b);
    gpt2_free(&m);
    kb_close(ctx);
    int bad = s.above0 || s.nonfinite || s.tokens == 0 || (max_diff >= 0 && s.max_diff > max_diff);
    return bad ? 1 : 0;
}
