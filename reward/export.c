// export.c — `reward export`: berry's trajectories as JSON lines in the prompt/completion form
// that TRL's and OpenRLHF's SFT trainers read, one object per line:
//
//   {"prompt": "...", "completion": "...", "problem_id": 123, "tree_id": 456, "node": 7,
//    "policy_version": 0, "verdict": "pass", "orm": 0.91, "prm_min": 0.5, "prm_prod": 0.2}
//
// From trees: --trajectories + --verdicts (+ --scores) and the tokenizer; one line per leaf (the
// prompt is the tree's prompt tokens decoded, the completion the leaf's path decoded, without the
// trailing end-of-text), --passed-only keeps verified leaves, --best-per-problem the best leaf of
// each problem (pass first, then the higher ORM, then the higher PRM minimum, then sampling order).
// From problem shards (--problems: reward prune's output, or any problems with solutions): one
// line per record with a solution (prompt, solution as the completion, id, task, answer).
// Strings are written by json_string (kernels/base.h); the file is written to a temporary and
// renamed, so a failed export leaves nothing.
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "reward/join.h"
#include "reward/reward.h"
#include "shards/problem_set.h"
#include "shards/task_format.h"

typedef struct export_opts {
    char *trajectories, *verdicts, *scores, *problems, *tokenizer, *out;
    int passed_only, best, quiet;
} export_opts;

#define F(x) offsetof(export_opts, x)
static const cli_opt opts[] = {
    {CLI_STR, "trajectories", F(trajectories), NULL, 0, 0, NULL, 0, "DIR", "trajectory shard directory (rollout), closed"},
    {CLI_STR, "verdicts", F(verdicts), NULL, 0, 0, NULL, 0, "DIR", "their verdicts (verify run), closed (with --trajectories)"},
    {CLI_STR, "scores", F(scores), NULL, 0, 0, NULL, 0, "DIR", "their scores (reward score), closed: adds orm, prm_min, prm_prod"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, 0, "FILE", "tokenizer of the trajectories (with --trajectories)"},
    {CLI_STR, "problems", F(problems), NULL, 0, 0, NULL, 0, "DIR",
     "instead of trees: problem shards with solutions (reward prune's output), one line per solution"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "FILE", "the JSON-lines file to write (required)"},
    {CLI_FLAG, "passed-only", F(passed_only), "0", 0, 0, NULL, 0, NULL, "only leaves the verifier passed"},
    {CLI_FLAG, "best-per-problem", F(best), "0", 0, 0, NULL, 0, NULL,
     "one leaf per problem: pass first, then the higher ORM, then the higher PRM minimum"},
    {CLI_FLAG, "quiet", F(quiet), "0", 0, 0, NULL, 0, NULL, "no config echo, no summary"},
};
#undef F
static const cli_table table = {opts, (int)(sizeof opts / sizeof opts[0])};
static const rw_cmd cmd = {"reward export",
                           "usage: reward export --trajectories DIR --verdicts DIR [--scores DIR] --tokenizer FILE --out FILE\n"
                           "       reward export --problems DIR --out FILE\n"
                           "\n"
                           "Writes trajectories as JSON lines {\"prompt\", \"completion\", ...} for other trainers' SFT (TRL,\n"
                           "OpenRLHF): every leaf of the trees with its verdict, problem, tree, node, policy version and scores;\n"
                           "or the solutions of problem shards (reward prune's output).\n",
                           &table};

static const char *const outcome_names[] = {"pass", "fail", "timeout", "crash", "violation"};

static void strip_eot(char *text, size_t *len) {
    size_t k = strlen(BERRY_EOT);
    if (*len >= k && !memcmp(text + *len - k, BERRY_EOT, k)) text[*len -= k] = 0;
}

static void json_float(FILE *f, const char *key, float v, int have) {
    if (have) fprintf(f, ", \"%s\": %.9g", key, (double)v);
    else fprintf(f, ", \"%s\": null", key);
}

// Better first: pass, then orm, then prm_min (each only where scored), then sampling order.
static int better(const rw_cand *a, const rw_cand *b) {
    int pa = a->outcome == OUTCOME_PASS, pb = b->outcome == OUTCOME_PASS;
    if (pa != pb) return pa > pb;
    if ((a->flags & SCORE_HAS_ORM) && (b->flags & SCORE_HAS_ORM) && a->orm != b->orm) return a->orm > b->orm;
    if ((a->flags & SCORE_HAS_PRM) && (b->flags & SCORE_HAS_PRM) && a->prm_min != b->prm_min) return a->prm_min > b->prm_min;
    return 0;
}

// One line for leaf c of problem gr.
static int emit_leaf(FILE *f, const bpe *tok, const rw_joined *j, const rw_group *gr, const rw_cand *c, char **prompts,
                     const size_t *plen, berr *e) {
    const vtree *x = &j->set.trees[c->tree];
    char *text;
    size_t len;
    if (rw_leaf_text(tok, x, c->leaf, &text, &len, e)) return -1;
    strip_eot(text, &len);
    fputs("{\"prompt\": ", f);
    json_string(f, prompts[c->tree], plen[c->tree]);
    fputs(", \"completion\": ", f);
    json_string(f, text, len);
    free(text);
    fprintf(f, ", \"problem_id\": %llu, \"tree_id\": %llu, \"node\": %u, \"policy_version\": %u, \"verdict\": \"%s\"",
            (unsigned long long)gr->problem_id, (unsigned long long)x->tree_id, c->leaf, x->t.policy_version,
            outcome_names[c->outcome]);
    json_float(f, "orm", c->orm, (c->flags & SCORE_HAS_ORM) != 0);
    json_float(f, "prm_min", c->prm_min, (c->flags & SCORE_HAS_PRM) != 0);
    json_float(f, "prm_prod", c->prm_prod, (c->flags & SCORE_HAS_PRM) != 0);
    fputs("}\n", f);
    return 0;
}

static int export_trees(const export_opts *o, FILE *f, uint64_t *lines, uint64_t *leaves, berr *e) {
    rw_joined j = {0};
    bpe *tok = NULL;
    char **prompts = NULL;
    size_t *plen = NULL;
    int rc = -1;
    if (!(tok = bpe_load(o->tokenizer, e))) goto out;
    if (rw_join_load(&j, o->trajectories, o->verdicts, o->scores, e)) goto out;
    prompts = xcalloc(j.set.n ? j.set.n : 1, sizeof *prompts);
    plen = xcalloc(j.set.n ? j.set.n : 1, sizeof *plen);
    for (size_t t = 0; t < j.set.n; t++) {
        const traj_rec *tr = &j.set.trees[t].t;
        if (bpe_decode(tok, tr->prompt, tr->n_prompt, &prompts[t], &plen[t], e)) {
            berr_wrap(e, "%s prompt", j.set.trees[t].where);
            goto out;
        }
    }
    for (size_t g = 0; g < j.ngroups; g++) {
        const rw_group *gr = &j.groups[g];
        const rw_cand *best = NULL;
        for (uint32_t i = 0; i < gr->n; i++) {
            const rw_cand *c = &gr->c[i];
            (*leaves)++;
            if (o->passed_only && c->outcome != OUTCOME_PASS) continue;
            if (o->best) {
                if (!best || better(c, best)) best = c;
                continue;
            }
            if (emit_leaf(f, tok, &j, gr, c, prompts, plen, e)) goto out;
            (*lines)++;
        }
        if (best) {
            if (emit_leaf(f, tok, &j, gr, best, prompts, plen, e)) goto out;
            (*lines)++;
        }
    }
    rc = 0;
out:
    for (size_t t = 0; prompts && t < j.set.n; t++) free(prompts[t]);
    free(prompts);
    free(plen);
    if (tok) bpe_free(tok);
    rw_joined_free(&j);
    return rc;
}

static int export_problems(const export_opts *o, FILE *f, uint64_t *lines, uint64_t *records, berr *e) {
    problem_set ps = {0};
    if (problem_set_load(&ps, o->problems, PROBLEMS_ALL_SPLITS, 1, e)) return -1;
    for (size_t i = 0; i < ps.n; i++) {
        const problem_rec *p = &ps.items[i];
        (*records)++;
        if (!p->solution[0]) continue;
        fputs("{\"prompt\": ", f);
        json_string(f, p->prompt, strlen(p->prompt));
        fputs(", \"completion\": ", f);
        json_string(f, p->solution, strlen(p->solution));
        fprintf(f, ", \"id\": %llu, \"task\": \"%s\", \"split\": \"%s\", \"answer\": ", (unsigned long long)p->id,
                task_kind_name(p->task), task_split_name(p->split));
        json_string(f, p->answer, strlen(p->answer));
        fputs("}\n", f);
        (*lines)++;
    }
    problem_set_free(&ps);
    return 0;
}

int rw_export_main(int argc, char **argv, int first) {
    export_opts o;
    unsigned char given[16] = {0};
    int rc = rw_parse(&cmd, &o, argc, argv, first, given);
    if (rc != RW_GO) return rc;
    rc = 0;
    berr e;
    if (!o.out) rc = rw_usage_error(&cmd, "--out FILE is required");
    else if (!o.problems == !o.trajectories) rc = rw_usage_error(&cmd, "give either --trajectories (with --verdicts and --tokenizer) or --problems");
    else if (o.trajectories && (!o.verdicts || !o.tokenizer)) rc = rw_usage_error(&cmd, "--trajectories needs --verdicts and --tokenizer");
    else if (o.problems && (o.verdicts || o.scores || o.tokenizer || o.passed_only || o.best))
        rc = rw_usage_error(&cmd, "--problems takes no --verdicts, --scores, --tokenizer, --passed-only or --best-per-problem "
                                  "(reward prune chooses solutions)");
    if (rc) {
        cli_free(&table, &o);
        return rc;
    }
    o.quiet |= cli_quiet;  // the parser takes --quiet as a standard option
    if (!o.quiet) {
        fprintf(stderr, "reward export: config:\n");
        cli_echo(stderr, &table, &o);
    }
    rc = 1;
    uint64_t lines = 0, seen = 0;
    atomic_file a = {0};
    if (cli_check_output_file("--out", o.out, &e)) goto done;
    // Everything is read and joined before the output file appears; it is renamed into place whole.
    if (atomic_open(&a, o.out, &e)) goto done;
    int r = o.problems ? export_problems(&o, a.f, &lines, &seen, &e) : export_trees(&o, a.f, &lines, &seen, &e);
    if (r || ferror(a.f)) {
        if (!r) berr_set(&e, "%s: write failed", o.out);
        atomic_abort(&a);
        goto done;
    }
    if (atomic_commit(&a, &e)) goto done;
    if (!o.quiet)
        fprintf(stderr, "reward export: %llu lines of %llu %s -> %s\n", (unsigned long long)lines, (unsigned long long)seen,
                o.problems ? "problem records" : "leaves", o.out);
    rc = 0;
done:
    if (rc) rw_fail(cmd.name, &e);
    cli_free(&table, &o);
    return rc;
}
