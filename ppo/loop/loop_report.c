// loop_report.c — report.txt and report.html of a berry run (see loop_report.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/gpt2.h"
#include "kernels/train/runlog.h"
#include "kernels/train/svgplot.h"
#include "ppo/loop/loop_report.h"
#include "shards/problem_set.h"
#include "shards/tokenizer.h"
#include "shards/tree_join.h"

static char *slurp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *slurp(const char *fmt, ...) {
    char p[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    char *buf;
    size_t len;
    berr e;
    return read_file(p, &buf, &len, &e) ? NULL : buf;
}

// The number after "name": inside the object that follows "obj" in text (0 when absent).
static double num_in(const char *text, const char *obj, const char *name) {
    if (!text) return 0;
    const char *p = obj ? strstr(text, obj) : text;
    if (!p) return 0;
    char k[96];
    snprintf(k, sizeof k, "\"%s\":", name);
    const char *q = strstr(p, k);
    return q ? atof(q + strlen(k)) : 0;
}

// The last line of a run log holding "event": "end".
static double log_end(const char *path, const char *key) {
    char *b = slurp("%s", path);
    if (!b) return 0;
    double v = 0;
    for (char *l = strtok(b, "\n"); l; l = strtok(NULL, "\n"))
        if (strstr(l, "\"event\": \"end\"")) tr_log_number(l, key, &v);
    free(b);
    return v;
}

int loop_flops_read(const char *R, const loop_config *c, loop_flops *f, berr *e) {
    memset(f, 0, sizeof *f);
    if (!c->init_from) {
        char *lp = xasprintf("%s/pretrain/log.jsonl", R);
        f->pretrain_total = log_end(lp, "flops_total");
        f->pretrain_tokens = log_end(lp, "tokens");
        free(lp);
        if (f->pretrain_tokens > 0) f->pretrain_per_token = f->pretrain_total / f->pretrain_tokens;
    }
    gpt2_ckpt_info info;
    char *base = c->init_from ? xstrdup(c->init_from) : xasprintf("%s/pretrain/model.bin", R);
    int rc = gpt2_ckpt_info_read(base, &info, e);
    free(base);
    if (rc) return -1;
    f->context = info.cfg.maxT;
    if (f->pretrain_per_token == 0) {  // init_from: the 6N + 6LCT rule for the SFT control's budget
        double N = (double)gpt2_param_count(&info.cfg);
        f->pretrain_per_token = 6 * N + 6.0 * info.cfg.L * info.cfg.C * info.cfg.maxT;
    }
    for (int64_t i = 0; i < c->iterations; i++) {
        char *st = slurp("%s/iter-%lld/traj/rollout.stats.json", R, (long long)i);
        char *rp = slurp("%s/policy/ppo-v%lld/report.json", R, (long long)i + 1);
        if (st) f->rollout_fwd += num_in(st, NULL, "flops");
        if (rp) {
            f->policy_fwd += num_in(rp, "\"ppo.policy\"", "fwd"), f->policy_bwd += num_in(rp, "\"ppo.policy\"", "bwd");
            f->optimizer += num_in(rp, "\"ppo.policy\"", "opt") + num_in(rp, "\"ppo.critic\"", "opt");
            f->reference_fwd += num_in(rp, "\"ppo.reference\"", "fwd");
            f->critic_fwd += num_in(rp, "\"ppo.critic\"", "fwd"), f->critic_bwd += num_in(rp, "\"ppo.critic\"", "bwd");
            f->iterations_done = (int)i + 1;
        }
        free(st), free(rp);
    }
    {  // the pooled placement's one long-lived rollout
        char *st = slurp("%s/pool/traj/rollout.stats.json", R);
        if (st) f->rollout_fwd += num_in(st, NULL, "flops");
        free(st);
    }
    char *names[] = {"v0", "sft"};
    for (int k = 0; k < 2; k++) {
        char *st = slurp("%s/eval/%s/traj/rollout.stats.json", R, names[k]);
        if (st) f->eval_fwd += num_in(st, NULL, "flops");
        free(st);
    }
    for (int64_t v = 1; v <= c->iterations; v++) {
        char *st = slurp("%s/eval/v%lld/traj/rollout.stats.json", R, (long long)v);
        if (st) f->eval_fwd += num_in(st, NULL, "flops");
        free(st);
    }
    char *sl = xasprintf("%s/sft/log.jsonl", R);
    f->sft_total = log_end(sl, "flops_total");
    free(sl);
    f->post_total = f->rollout_fwd + f->policy_fwd + f->policy_bwd + f->reference_fwd + f->critic_fwd + f->critic_bwd +
                    f->optimizer;
    return 0;
}

// ---- held-out pass@1 --------------------------------------------------------------------------------

#define KINDS (TASK_KIND_MAX + 1)
typedef struct pass_at_1 {
    int present;
    uint32_t n, pass, n_kind[KINDS], pass_kind[KINDS];
} pass_at_1;

static int eval_pass(const char *R, const char *name, const problem_set *ps, pass_at_1 *out) {
    memset(out, 0, sizeof *out);
    char *t = xasprintf("%s/eval/%s/traj", R, name), *v = xasprintf("%s/eval/%s/verdicts", R, name);
    vtree_set s;
    berr e;
    struct stat st;
    int rc = stat(v, &st) == 0 ? vtree_set_load(&s, t, v, 1, &e) : -1;
    free(t), free(v);
    if (rc) return 0;
    out->present = 1;
    for (size_t i = 0; i < s.n; i++) {
        const vtree *x = &s.trees[i];
        const problem_rec *p = problem_set_find(ps, x->t.problem_id);
        uint32_t k = p ? p->task : 0;
        int passed = x->t.n_nodes && x->passed[0] > 0;  // one root, no branching: the answer
        out->n++, out->n_kind[k]++;
        out->pass += passed, out->pass_kind[k] += passed;
    }
    vtree_set_free(&s);
    return 1;
}

// Wilson score interval at 95%.
static void wilson(uint32_t k, uint32_t n, double *lo, double *hi) {
    if (!n) {
        *lo = *hi = 0;
        return;
    }
    double z = 1.959964, p = (double)k / n, d = 1 + z * z / n, c = p + z * z / (2.0 * n);
    double h = z * sqrt(p * (1 - p) / n + z * z / (4.0 * n * n));
    *lo = (c - h) / d, *hi = (c + h) / d;
}

static void pass_line(FILE *f, const char *label, const pass_at_1 *p, int html) {
    double lo, hi;
    wilson(p->pass, p->n, &lo, &hi);
    if (html) fprintf(f, "<tr><td>%s</td><td>%u/%u</td><td><b>%.1f%%</b></td><td>[%.1f, %.1f]</td><td>", label, p->pass, p->n,
                      p->n ? 100.0 * p->pass / p->n : 0, 100 * lo, 100 * hi);
    else fprintf(f, "  %-28s %4u/%-4u = %5.1f%%  95%% CI [%5.1f, %5.1f]  ", label, p->pass, p->n,
                 p->n ? 100.0 * p->pass / p->n : 0, 100 * lo, 100 * hi);
    for (int k = 1; k < KINDS; k++)
        if (p->n_kind[k]) fprintf(f, "%s %.1f%% ", task_kind_name((uint32_t)k), 100.0 * p->pass_kind[k] / p->n_kind[k]);
    fputs(html ? "</td></tr>\n" : "\n", f);
}

// ---- per-iteration records ----------------------------------------------------------------------------

typedef struct iter_rec {
    double reward, pass_rate, kl, entropy, length, clip, staleness, seconds, eot_only;
} iter_rec;

static int read_iter(const char *R, int64_t v, iter_rec *r) {
    char *b = slurp("%s/policy/ppo-v%lld/report.json", R, (long long)v);
    if (!b) return 0;
    r->reward = num_in(b, NULL, "reward"), r->pass_rate = num_in(b, NULL, "pass_rate"), r->kl = num_in(b, NULL, "kl");
    r->entropy = num_in(b, NULL, "entropy"), r->length = num_in(b, NULL, "length"), r->clip = num_in(b, NULL, "clip_frac");
    r->staleness = num_in(b, NULL, "staleness_mean"), r->seconds = num_in(b, NULL, "seconds");
    r->eot_only = num_in(b, NULL, "eot_only");
    free(b);
    return 1;
}

// A few held-out answers of model `name`, each with its problem and the verifier's verdict.
static void answers(FILE *f, const char *R, const char *name, const problem_set *ps, const char *tokenizer, int n) {
    char *t = xasprintf("%s/eval/%s/traj", R, name), *v = xasprintf("%s/eval/%s/verdicts", R, name);
    vtree_set s;
    berr e;
    bpe *tok = bpe_load(tokenizer, &e);
    if (tok && vtree_set_load(&s, t, v, 1, &e) == 0) {
        fprintf(f, "\na few held-out answers of %s (problem -> answer -> verdict):\n", name);
        for (size_t i = 0; i < s.n && (int)i < n; i++) {
            const vtree *x = &s.trees[i];
            const problem_rec *p = problem_set_find(ps, x->t.problem_id);
            if (!p || !x->t.n_nodes) continue;
            const traj_node *nd = &x->t.nodes[0];
            char *text;
            size_t len;
            fputs("  problem: ", f);
            print_text_escaped(f, p->prompt, strlen(p->prompt));
            fputs("\n  answer:  ", f);
            if (bpe_decode(tok, nd->tokens, nd->n_tokens, &text, &len, &e) == 0) {
                print_text_escaped(f, text, len);
                free(text);
            }
            fprintf(f, "\n  verdict: %s\n", outcome_name((uint32_t)x->outcome[0]));
        }
        vtree_set_free(&s);
    }
    if (tok) bpe_free(tok);
    free(t), free(v);
}

static void flops_rows(FILE *f, const loop_flops *fl, int html) {
    struct {
        const char *what;
        double v;
    } rows[] = {{"pretraining (pretrain)", fl->pretrain_total},
                {"rollout: policy forwards while sampling", fl->rollout_fwd},
                {"ppo: policy forwards (log-probs, loss)", fl->policy_fwd},
                {"ppo: policy backwards", fl->policy_bwd},
                {"ppo: reference forwards", fl->reference_fwd},
                {"ppo: critic forwards", fl->critic_fwd},
                {"ppo: critic backwards", fl->critic_bwd},
                {"ppo: optimizer", fl->optimizer},
                {"post-training total (rollout + ppo)", fl->post_total},
                {"evaluations (held-out answers; not in the total)", fl->eval_fwd},
                {"SFT control (not in the total)", fl->sft_total}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (html) fprintf(f, "<tr><td>%s</td><td>%.4g</td></tr>\n", rows[i].what, rows[i].v);
        else fprintf(f, "  %-50s %12.4g\n", rows[i].what, rows[i].v);
    }
    double fwd = fl->rollout_fwd + fl->policy_fwd + fl->reference_fwd + fl->critic_fwd, bwd = fl->policy_bwd + fl->critic_bwd;
    const char *fmt = html ? "<tr><td>%s</td><td>%.4g</td></tr>\n" : "  %-50s %12.4g\n";
    fprintf(f, fmt, "post-training forward : backward", bwd > 0 ? fwd / bwd : 0);
    if (fl->pretrain_total > 0) fprintf(f, fmt, "post-training ÷ pretraining", fl->post_total / fl->pretrain_total);
}

int loop_report(const char *R, const loop_config *c, const char *tokenizer, int final, berr *e) {
    loop_flops fl;
    if (loop_flops_read(R, c, &fl, e)) return -1;
    problem_set ps;
    char *hp = xasprintf("%s/data/heldout", R);
    int have_ps = problem_set_load(&ps, hp, PROBLEMS_ALL_SPLITS, 0, e) == 0;
    free(hp);
    if (!have_ps) memset(&ps, 0, sizeof ps);
    pass_at_1 base, last, sft;
    eval_pass(R, "v0", &ps, &base);
    int64_t last_v = 0;
    memset(&last, 0, sizeof last);
    svg_series held = {.label = "held-out pass@1 (greedy)", .markers = 1};
    if (base.present) svg_series_push(&held, 0, (double)base.pass / (base.n ? base.n : 1));
    for (int64_t v = 1; v <= c->iterations; v++) {
        char name[32];
        snprintf(name, sizeof name, "v%lld", (long long)v);
        pass_at_1 p;
        if (eval_pass(R, name, &ps, &p)) {
            last = p, last_v = v;
            svg_series_push(&held, (double)v, (double)p.pass / (p.n ? p.n : 1));
        }
    }
    eval_pass(R, "sft", &ps, &sft);
    svg_series rew = {.label = "reward (train trees)"}, pr = {.label = "verified pass rate (train trees)"};
    svg_series kl = {.label = "KL to the base (nats/token)"}, ent = {.label = "entropy (nats/token)"};
    svg_series len = {.label = "response length (tokens)"}, clip = {.label = "clip fraction"};
    iter_rec it[4096];
    int nit = 0;
    for (int64_t v = 1; v <= c->iterations && nit < 4096; v++) {
        if (!read_iter(R, v, &it[nit])) break;
        svg_series_push(&rew, (double)v, it[nit].reward), svg_series_push(&pr, (double)v, it[nit].pass_rate);
        svg_series_push(&kl, (double)v, it[nit].kl), svg_series_push(&ent, (double)v, it[nit].entropy);
        svg_series_push(&len, (double)v, it[nit].length), svg_series_push(&clip, (double)v, it[nit].clip);
        nit++;
    }
    // report.txt
    char *tp = xasprintf("%s/report.txt", R);
    atomic_file af;
    int rc = atomic_open(&af, tp, e);
    if (!rc) {
        FILE *f = af.f;
        fprintf(f, "berry run report%s: %s (config %s)\n\n", final ? "" : " (the run is still going)", R, c->path);
        fprintf(f, "held-out pass@1 (greedy, %lld problems, %s, difficulty %s), checked by the verifiers:\n",
                (long long)c->heldout_problems, c->kinds, c->difficulty);
        if (base.present) pass_line(f, "base model (policy v0)", &base, 0);
        if (last.present) {
            char l[64];
            snprintf(l, sizeof l, "after RL (policy v%lld)", (long long)last_v);
            pass_line(f, l, &last, 0);
        }
        if (sft.present) pass_line(f, "SFT control (same FLOPs)", &sft, 0);
        if (base.present && last.present)
            fprintf(f, "  RL gain: %+.1f points over the base%s\n",
                    100.0 * ((double)last.pass / last.n - (double)base.pass / base.n),
                    sft.present ? "" : " (the SFT control runs at the end)");
        if (last.present && sft.present)
            fprintf(f, "  RL against the SFT control at equal FLOPs: %+.1f points\n",
                    100.0 * ((double)last.pass / last.n - (double)sft.pass / sft.n));
        fprintf(f, "\nRL iterations (%d of %lld done): version, reward, verified pass rate, KL, entropy, length, "
                   "end-of-text-only share, clip fraction, staleness, seconds\n",
                nit, (long long)c->iterations);
        for (int i = 0; i < nit; i++)
            fprintf(f, "  v%-4d %.3f  %.3f  %.4f  %.3f  %6.1f  %.3f  %.3f  %.1f  %6.1f\n", i + 1, it[i].reward, it[i].pass_rate,
                    it[i].kl, it[i].entropy, it[i].length, it[i].eot_only, it[i].clip, it[i].staleness, it[i].seconds);
        fputs("\nFLOPs (counted by the kernels):\n", f);
        flops_rows(f, &fl, 0);
        if (have_ps && last.present) {
            char name[32];
            snprintf(name, sizeof name, "v%lld", (long long)last_v);
            answers(f, R, name, &ps, tokenizer, 3);
        }
        fputs("\nfiles: report.html (the same with plots), log.jsonl (every stage run), logs/ (their output),\n"
              "       policy/ (published policies, ppo reports), eval/ (held-out answers and verdicts)\n",
              f);
        rc = atomic_commit(&af, e);
    }
    free(tp);
    // report.html: self-contained, plots inline
    char *hp2 = xasprintf("%s/report.html", R);
    if (!rc) rc = atomic_open(&af, hp2, e);
    if (!rc) {
        FILE *f = af.f;
        fprintf(f, "<!doctype html><html><head><meta charset=\"utf-8\"><title>berry run %s</title><style>body{font-family:"
                   "sans-serif;max-width:900px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
                   "padding:3px 8px;text-align:left}</style></head><body>\n<h1>berry run</h1><p>%s (config %s)%s</p>\n",
                R, R, c->path, final ? "" : " — <b>still going</b>");
        fputs("<h2>Held-out pass@1 (greedy)</h2><table><tr><th>model</th><th>passed</th><th>pass@1</th><th>95% CI</th>"
              "<th>per task kind</th></tr>\n", f);
        if (base.present) pass_line(f, "base model (policy v0)", &base, 1);
        if (last.present) pass_line(f, "after RL", &last, 1);
        if (sft.present) pass_line(f, "SFT control (same FLOPs)", &sft, 1);
        fputs("</table>\n", f);
        svg_plot p = {.title = "held-out pass@1", .xlabel = "policy version", .ylabel = "pass@1", .width = 800, .height = 320};
        svg_plot_write(f, &p, &held, 1, NULL);
        svg_series a[2] = {rew, pr};
        p = (svg_plot){.title = "reward and verified pass rate on the RL trees", .xlabel = "policy version", .width = 800,
                       .height = 320};
        svg_plot_write(f, &p, a, 2, NULL);
        svg_series b[2] = {kl, ent};
        p.title = "KL to the base and entropy";
        svg_plot_write(f, &p, b, 2, NULL);
        svg_series l1[1] = {len};
        p.title = "response length";
        svg_plot_write(f, &p, l1, 1, NULL);
        svg_series c1[1] = {clip};
        p.title = "clip fraction";
        svg_plot_write(f, &p, c1, 1, NULL);
        fputs("<h2>FLOPs (counted by the kernels)</h2><table>\n", f);
        flops_rows(f, &fl, 1);
        fputs("</table></body></html>\n", f);
        rc = atomic_commit(&af, e);
    }
    free(hp2);
    svg_series_free(&held), svg_series_free(&rew), svg_series_free(&pr), svg_series_free(&kl), svg_series_free(&ent);
    svg_series_free(&len), svg_series_free(&clip);
    if (have_ps) problem_set_free(&ps);
    return rc;
}
