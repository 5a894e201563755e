// prune.c — `reward prune`: per problem, the best K leaves of its trees by a documented rule,
// written as problem records whose solution is the leaf's text: rejection-sampling fine-tuning
// data that `pretrain --sft --problems DIR` trains on.
//
// The rule: candidates are compared key by key in --order (default verdict, orm, prm-min): verdict
// (pass before anything else), orm, prm-min, prm-prod (higher first); what is still tied keeps the
// sampling order (tree, then node). --weights replaces the order by one score,
// w_verdict·[pass] + w_orm·orm + w_prm·prm_min. --passed-only keeps verified leaves only; equal
// texts of one problem are kept once unless --keep-duplicates.
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "reward/join.h"
#include "reward/reward.h"
#include "shards/problem_set.h"
#include "shards/stream.h"
#include "shards/task_format.h"

typedef struct prune_opts {
    char *trajectories, *verdicts, *scores, *problems, *tokenizer, *out, *order, *weights;
    int keep, passed_only, keep_duplicates, split, quiet;
} prune_opts;

static const char *const split_choices[] = {"train", "heldout", "all", NULL};

#define F(x) offsetof(prune_opts, x)
static const cli_opt opts[] = {
    {CLI_STR, "trajectories", F(trajectories), NULL, 0, 0, NULL, 0, "DIR", "trajectory shard directory (rollout), closed (required)"},
    {CLI_STR, "verdicts", F(verdicts), NULL, 0, 0, NULL, 0, "DIR", "their verdicts (verify run), closed (required)"},
    {CLI_STR, "scores", F(scores), NULL, 0, 0, NULL, 0, "DIR", "their scores (reward score), closed (needed by the orm and prm keys)"},
    {CLI_STR, "problems", F(problems), NULL, 0, 0, NULL, 0, "DIR", "the problems the trees answer (required)"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, 0, "FILE", "tokenizer of the trajectories, to write their text (required)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "problem shard directory to write; must be new or empty (required)"},
    {CLI_INT, "keep", F(keep), "4", 1, 1 << 30, NULL, 0, "K", "trajectories kept per problem at most"},
    {CLI_STR, "order", F(order), "verdict,orm,prm-min", 0, 0, NULL, 0, "LIST",
     "comparison keys, most important first: verdict, orm, prm-min, prm-prod"},
    {CLI_STR, "weights", F(weights), NULL, 0, 0, NULL, 0, "V,O,P",
     "rank by V·[pass] + O·orm + P·prm_min instead of --order"},
    {CLI_FLAG, "passed-only", F(passed_only), "0", 0, 0, NULL, 0, NULL, "keep only trajectories the verifier passed"},
    {CLI_FLAG, "keep-duplicates", F(keep_duplicates), "0", 0, 0, NULL, 0, NULL, "keep equal texts of a problem more than once"},
    {CLI_CHOICE, "split", F(split), "train", 0, 0, split_choices, 0, "S",
     "problems whose trees are used: train, heldout or all (held-out problems in SFT data would leak the evaluation)"},
    {CLI_FLAG, "quiet", F(quiet), "0", 0, 0, NULL, 0, NULL, "no config echo, no summary"},
};
#undef F
static const cli_table table = {opts, (int)(sizeof opts / sizeof opts[0])};
static const rw_cmd cmd = {"reward prune",
                           "usage: reward prune --trajectories DIR --verdicts DIR [--scores DIR] --problems DIR --tokenizer FILE\n"
                           "                    --out DIR [options]\n"
                           "\n"
                           "Keeps, per problem, the best --keep leaves of its trees (verdict first, then the ORM, then the\n"
                           "PRM's minimum, by default) and writes them as problem records (split train) whose solution is\n"
                           "the leaf's text: supervised fine-tuning data for pretrain --sft --problems DIR.\n",
                           &table};

enum { KEY_VERDICT, KEY_ORM, KEY_PRM_MIN, KEY_PRM_PROD };
static const char *const key_names[] = {"verdict", "orm", "prm-min", "prm-prod", NULL};

typedef struct rule {
    int keys[8], nkeys;
    int weighted;
    double w[3];
} rule;

static double key_value(const rw_cand *c, int k) {
    switch (k) {
    case KEY_VERDICT: return c->outcome == OUTCOME_PASS;
    case KEY_ORM: return c->orm;
    case KEY_PRM_MIN: return c->prm_min;
    default: return c->prm_prod;
    }
}

static const rule *g_rule;  // for qsort
static int cmp_cand(const void *a, const void *b) {
    const rw_cand *x = *(rw_cand *const *)a, *y = *(rw_cand *const *)b;
    if (g_rule->weighted) {
        double sx = g_rule->w[0] * (x->outcome == OUTCOME_PASS) + g_rule->w[1] * x->orm + g_rule->w[2] * x->prm_min;
        double sy = g_rule->w[0] * (y->outcome == OUTCOME_PASS) + g_rule->w[1] * y->orm + g_rule->w[2] * y->prm_min;
        if (sx != sy) return sx > sy ? -1 : 1;
    } else {
        for (int i = 0; i < g_rule->nkeys; i++) {
            double vx = key_value(x, g_rule->keys[i]), vy = key_value(y, g_rule->keys[i]);
            if (vx != vy) return vx > vy ? -1 : 1;
        }
    }
    return x < y ? -1 : x > y;  // the sampling order
}

static int parse_rule(const prune_opts *o, rule *r, berr *e) {
    memset(r, 0, sizeof *r);
    if (o->weights) {
        r->weighted = 1;
        char *end;
        const char *p = o->weights;
        for (int i = 0; i < 3; i++) {
            r->w[i] = strtod(p, &end);
            if (end == p || !isfinite(r->w[i]) || (i < 2 ? *end != ',' : *end != 0))
                return berr_set(e, "--weights: '%s' is not three numbers V,O,P", o->weights);
            p = end + 1;
        }
        return 0;
    }
    const char *p = o->order;
    while (*p) {
        size_t n = strcspn(p, ",");
        int k = -1;
        for (int i = 0; key_names[i]; i++)
            if (strlen(key_names[i]) == n && !strncmp(p, key_names[i], n)) k = i;
        if (k < 0) return berr_set(e, "--order: unknown key '%.*s' (keys: verdict, orm, prm-min, prm-prod)", (int)n, p);
        if (r->nkeys == 8) return berr_set(e, "--order: at most 8 keys");
        r->keys[r->nkeys++] = k;
        p += n;
        if (*p == ',') p++;
    }
    if (!r->nkeys) return berr_set(e, "--order: no key given");
    return 0;
}

int rw_prune_main(int argc, char **argv, int first) {
    prune_opts o;
    int rc = rw_parse(&cmd, &o, argc, argv, first, NULL);
    if (rc != RW_GO) return rc;
    berr e;
    rule ru;
    if (!o.trajectories || !o.verdicts || !o.problems || !o.tokenizer || !o.out) {
        cli_free(&table, &o);
        return rw_usage_error(&cmd, "--trajectories, --verdicts, --problems, --tokenizer and --out are required");
    }
    if (parse_rule(&o, &ru, &e)) {
        cli_free(&table, &o);
        return rw_usage_error(&cmd, "%s", e.msg);
    }
    int need_orm = ru.weighted ? ru.w[1] != 0 : 0, need_prm = ru.weighted ? ru.w[2] != 0 : 0;
    for (int i = 0; i < ru.nkeys; i++) need_orm |= ru.keys[i] == KEY_ORM, need_prm |= ru.keys[i] >= KEY_PRM_MIN;
    if ((need_orm || need_prm) && !o.scores) {
        cli_free(&table, &o);
        return rw_usage_error(&cmd, "the %s key needs --scores DIR (from reward score%s); or drop it from --order / --weights",
                              need_orm ? "orm" : "prm", need_orm ? " --orm" : " --prm");
    }
    if (!o.quiet) {
        fprintf(stderr, "reward prune: config:\n");
        cli_echo(stderr, &table, &o);
    }
    rw_joined j = {0};
    problem_set ps = {0};
    bpe *tok = NULL;
    shard_dir_writer *w = NULL;
    rc = 1;
    if (rw_out_dir_fresh(o.out, &e)) goto done;
    if (!(tok = bpe_load(o.tokenizer, &e))) goto done;
    if (problem_set_load(&ps, o.problems, PROBLEMS_ALL_SPLITS, 0, &e)) goto done;
    if (rw_join_load(&j, o.trajectories, o.verdicts, o.scores, &e)) goto done;
    if ((need_orm && !(j.score_flags_all & SCORE_HAS_ORM)) || (need_prm && !(j.score_flags_all & SCORE_HAS_PRM))) {
        berr_set(&e, "%s: not every leaf has %s scores, which the rule needs: score with reward score %s", o.scores,
                 need_orm && !(j.score_flags_all & SCORE_HAS_ORM) ? "ORM" : "PRM",
                 need_orm && !(j.score_flags_all & SCORE_HAS_ORM) ? "--orm" : "--prm");
        goto done;
    }
    for (size_t g = 0; g < j.ngroups; g++)
        if (!problem_set_find(&ps, j.groups[g].problem_id)) {
            berr_set(&e, "problem %llu of %s is not in --problems %s", (unsigned long long)j.groups[g].problem_id,
                     o.trajectories, o.problems);
            goto done;
        }
    shard_dir_opts dopt = {0};
    dopt.max_records = 10000;
    // Every check above is done: only now does the output directory appear.
    if (!(w = shard_dir_writer_open(o.out, "prune", SHARD_PROBLEMS, PROBLEM_SCHEMA, &dopt, &e))) goto done;
    g_rule = &ru;
    uint64_t used = 0, skipped_split = 0, cands = 0, cands_pass = 0, kept = 0, kept_pass = 0, dups = 0, empty = 0, none = 0;
    size_t eot_len = strlen(BERRY_EOT);
    bbuf b = {0};
    for (size_t g = 0; g < j.ngroups && rc == 1; g++) {
        const rw_group *gr = &j.groups[g];
        const problem_rec *p = problem_set_find(&ps, gr->problem_id);
        if (o.split != 2 && p->split != (uint32_t)o.split) {
            skipped_split++;
            continue;
        }
        used++;
        rw_cand **v = xmalloc(gr->n * sizeof *v);
        for (uint32_t i = 0; i < gr->n; i++) v[i] = &gr->c[i], cands++, cands_pass += gr->c[i].outcome == OUTCOME_PASS;
        qsort(v, gr->n, sizeof *v, cmp_cand);
        char **texts = xcalloc(gr->n, sizeof *texts);
        uint32_t nk = 0, kept_here = 0;
        for (uint32_t i = 0; i < gr->n && kept_here < (uint32_t)o.keep; i++) {
            const rw_cand *c = v[i];
            if (o.passed_only && c->outcome != OUTCOME_PASS) continue;
            char *text;
            size_t len;
            if (rw_leaf_text(tok, &j.set.trees[c->tree], c->leaf, &text, &len, &e)) {
                free(v), free(texts);
                goto done_loop;
            }
            if (len >= eot_len && !memcmp(text + len - eot_len, BERRY_EOT, eot_len)) text[len -= eot_len] = 0;
            int dup = 0;
            for (uint32_t k = 0; k < nk && !o.keep_duplicates; k++) dup |= !strcmp(texts[k], text);
            if (dup || len == 0) {
                dups += dup;
                empty += !dup;
                free(text);
                continue;
            }
            texts[nk++] = text;
            problem_rec out = *p;
            out.id = hash64(text, len, p->id);
            out.split = SPLIT_TRAIN;
            out.solution = text;
            b.n = 0;
            problem_encode(&b, &out);
            if (shard_dir_append(w, b.p, b.n, &e)) {
                free(v);
                for (uint32_t k = 0; k < nk; k++) free(texts[k]);
                free(texts);
                goto done_loop;
            }
            kept_here++;
            kept_pass += c->outcome == OUTCOME_PASS;
        }
        kept += kept_here;
        none += kept_here == 0;
        for (uint32_t k = 0; k < nk; k++) free(texts[k]);
        free(texts);
        free(v);
    }
    rc = 0;
done_loop:
    bbuf_free(&b);
    if (rc) goto done;
    rc = shard_dir_close(w, &e) ? 1 : 0;
    w = NULL;
    if (!rc && !o.quiet)
        fprintf(stderr, "reward prune: %llu problems (%llu of other splits skipped): %llu trajectories, %.1f%% passed; kept "
                        "%llu (%.1f%% passed), %llu problems with none kept; %llu duplicates and %llu empty texts left out; "
                        "written to %s\n",
                (unsigned long long)used, (unsigned long long)skipped_split, (unsigned long long)cands,
                cands ? 100.0 * (double)cands_pass / (double)cands : 0.0, (unsigned long long)kept,
                kept ? 100.0 * (double)kept_pass / (double)kept : 0.0, (unsigned long long)none, (unsigned long long)dups,
                (unsigned long long)empty, o.out);
done:
    if (w) shard_dir_abort(w);
    if (rc) rw_fail(cmd.name, &e);
    if (tok) bpe_free(tok);
    problem_set_free(&ps);
    rw_joined_free(&j);
    cli_free(&table, &o);
    return rc;
}
