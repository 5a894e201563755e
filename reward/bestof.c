// bestof.c — `reward best-of`: how accuracy grows with the number N of sampled answers when one is
// picked by each rule: the first sampled, the majority over final answers (answers.h), the best by
// the ORM, by the PRM's minimum and by its product, and the oracle (pass@N: any of them passes).
//
// For every problem with at least N candidates (the leaves of its trees; independent samples come
// from a rollout with --depth 0), --subsets random subsets of N distinct candidates are drawn (in
// random order: "first" is the first drawn), each rule picks one, and its verdict counts. The
// accuracy at N is the mean over subsets, then over problems. Ties go to the earlier drawn
// candidate; majority ties to the answer drawn first.
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/train/svgplot.h"
#include "reward/answers.h"
#include "reward/join.h"
#include "reward/reward.h"
#include "shards/problem_set.h"

typedef struct bestof_opts {
    char *trajectories, *verdicts, *scores, *problems, *tokenizer, *out, *title;
    int subsets, max_n, split, quiet;
    int64_t seed;
} bestof_opts;

static const char *const split_choices[] = {"heldout", "train", "all", NULL};

#define F(x) offsetof(bestof_opts, x)
static const cli_opt opts[] = {
    {CLI_STR, "trajectories", F(trajectories), NULL, 0, 0, NULL, 0, "DIR", "trajectory shards: N sampled answers per problem (rollout --roots N --depth 0) (required)"},
    {CLI_STR, "verdicts", F(verdicts), NULL, 0, 0, NULL, 0, "DIR", "their verdicts (verify run) (required)"},
    {CLI_STR, "scores", F(scores), NULL, 0, 0, NULL, 0, "DIR", "their scores (reward score): the ORM and PRM columns"},
    {CLI_STR, "problems", F(problems), NULL, 0, 0, NULL, 0, "DIR", "the problems (task kinds for the answer comparison) (required)"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, 0, "FILE", "tokenizer of the trajectories, to read the answers (required)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "writes DIR/bestof.txt (the table), bestof.json and bestof.svg (required)"},
    {CLI_INT, "subsets", F(subsets), "200", 1, 1 << 24, NULL, 0, "S", "random subsets per problem and N"},
    {CLI_INT, "max-n", F(max_n), "0", 0, 1 << 20, NULL, 0, "N",
     "largest N (0: the fewest candidates any problem has); problems with fewer are left out"},
    {CLI_CHOICE, "split", F(split), "heldout", 0, 0, split_choices, 0, "S", "problems evaluated: heldout, train or all"},
    {CLI_COUNT, "seed", F(seed), "1", 0, 1e18, NULL, 0, "N", "subset draws"},
    {CLI_STR, "title", F(title), NULL, 0, 0, NULL, 0, "TEXT", "title of the plot"},
    {CLI_FLAG, "quiet", F(quiet), "0", 0, 0, NULL, 0, NULL, "no config echo; the table is still written"},
};
#undef F
static const cli_table table = {opts, (int)(sizeof opts / sizeof opts[0])};
static const rw_cmd cmd = {"reward best-of",
                           "usage: reward best-of --trajectories DIR --verdicts DIR [--scores DIR] --problems DIR --tokenizer FILE\n"
                           "                      --out DIR [options]\n"
                           "\n"
                           "Accuracy of one answer picked from N sampled ones, for N = 1, 2, 4, ... : the first, the majority\n"
                           "vote over final answers, the best by the ORM, by the PRM (min and product over the steps), and the\n"
                           "oracle (pass@N), averaged over random subsets of each problem's answers. Prints the table and writes\n"
                           "it with a JSON copy and an SVG plot of accuracy against N.\n",
                           &table};

enum { M_FIRST, M_MAJORITY, M_ORM, M_PRM_MIN, M_PRM_PROD, M_ORACLE, NM };
static const char *const m_names[NM] = {"first", "majority", "ORM", "PRM-min", "PRM-prod", "oracle"};
static const char *const m_keys[NM] = {"first", "majority", "orm", "prm_min", "prm_prod", "oracle"};

typedef struct problem_cands {
    const rw_group *g;
    int *cluster;
} problem_cands;

// The picks of every rule on one ordered subset idx[0..N) of a problem's candidates (indices into
// g->c); votes is scratch indexed by cluster id.
static void pick(const rw_group *g, const int *cluster, const uint32_t *idx, uint32_t N, int *votes, uint32_t *out) {
    uint32_t bo = idx[0], bm = idx[0], bp = idx[0], orc = idx[0];
    int found = 0;
    for (uint32_t i = 0; i < N; i++) {
        const rw_cand *c = &g->c[idx[i]];
        if (c->orm > g->c[bo].orm) bo = idx[i];
        if (c->prm_min > g->c[bm].prm_min) bm = idx[i];
        if (c->prm_prod > g->c[bp].prm_prod) bp = idx[i];
        if (!found && c->outcome == OUTCOME_PASS) orc = idx[i], found = 1;
    }
    out[M_FIRST] = idx[0];
    out[M_ORM] = bo, out[M_PRM_MIN] = bm, out[M_PRM_PROD] = bp, out[M_ORACLE] = orc;
    // Majority: the answer with the most votes; a tie goes to the one drawn first; its first
    // occurrence is the pick. Without any answer, the first drawn.
    for (uint32_t i = 0; i < N; i++)
        if (cluster[idx[i]] >= 0) votes[cluster[idx[i]]] = 0;
    for (uint32_t i = 0; i < N; i++)
        if (cluster[idx[i]] >= 0) votes[cluster[idx[i]]]++;
    int bestv = 0;
    out[M_MAJORITY] = idx[0];
    for (uint32_t i = 0; i < N; i++) {
        int k = cluster[idx[i]];
        if (k >= 0 && votes[k] > bestv) bestv = votes[k], out[M_MAJORITY] = idx[i];
    }
}

int rw_bestof_main(int argc, char **argv, int first) {
    bestof_opts o;
    int rc = rw_parse(&cmd, &o, argc, argv, first, NULL);
    if (rc != RW_GO) return rc;
    if (!o.trajectories || !o.verdicts || !o.problems || !o.tokenizer || !o.out) {
        cli_free(&table, &o);
        return rw_usage_error(&cmd, "--trajectories, --verdicts, --problems, --tokenizer and --out are required");
    }
    if (!o.quiet) {
        fprintf(stderr, "reward best-of: config:\n");
        cli_echo(stderr, &table, &o);
    }
    berr e;
    rw_joined j = {0};
    problem_set ps = {0};
    bpe *tok = NULL;
    problem_cands *pc = NULL;
    size_t npc = 0;
    rc = 1;
    if (rw_out_dir_fresh(o.out, &e)) goto done;
    if (!(tok = bpe_load(o.tokenizer, &e))) goto done;
    if (problem_set_load(&ps, o.problems, PROBLEMS_ALL_SPLITS, 0, &e)) goto done;
    if (rw_join_load(&j, o.trajectories, o.verdicts, o.scores, &e)) goto done;
    int have[NM] = {1, 1, 0, 0, 0, 1};
    have[M_ORM] = (j.score_flags_all & SCORE_HAS_ORM) != 0;
    have[M_PRM_MIN] = have[M_PRM_PROD] = (j.score_flags_all & SCORE_HAS_PRM) != 0;
    // The problems evaluated, their answer clusters.
    uint32_t fewest = UINT32_MAX, inner = 0;
    size_t other_split = 0;
    pc = xcalloc(j.ngroups ? j.ngroups : 1, sizeof *pc);
    for (size_t g = 0; g < j.ngroups; g++) {
        const rw_group *gr = &j.groups[g];
        const problem_rec *p = problem_set_find(&ps, gr->problem_id);
        if (!p) {
            berr_set(&e, "problem %llu of %s is not in --problems %s", (unsigned long long)gr->problem_id, o.trajectories,
                     o.problems);
            goto done;
        }
        if (o.split != 2 && p->split != (uint32_t)(o.split == 0 ? SPLIT_HELDOUT : SPLIT_TRAIN)) {
            other_split++;
            continue;
        }
        char **texts = xcalloc(gr->n, sizeof *texts);
        size_t *lens = xcalloc(gr->n, sizeof *lens);
        int bad = 0;
        for (uint32_t i = 0; i < gr->n && !bad; i++) {
            bad = rw_leaf_text(tok, &j.set.trees[gr->c[i].tree], gr->c[i].leaf, &texts[i], &lens[i], &e);
            inner += j.set.trees[gr->c[i].tree].depth[gr->c[i].leaf] > 0;
        }
        if (!bad) {
            pc[npc].g = gr;
            pc[npc].cluster = xmalloc(gr->n * sizeof(int));
            rw_answer_clusters(p, texts, lens, gr->n, pc[npc].cluster);
            npc++;
            fewest = gr->n < fewest ? gr->n : fewest;
        }
        for (uint32_t i = 0; i < gr->n; i++) free(texts[i]);
        free(texts), free(lens);
        if (bad) goto done;
    }
    if (npc == 0) {
        berr_set(&e, "no %s problems among the %zu problems of %s", o.split == 2 ? "" : split_choices[o.split], j.ngroups,
                 o.trajectories);
        goto done;
    }
    uint32_t maxn = o.max_n ? (uint32_t)o.max_n : fewest;
    size_t left_out = 0;
    for (size_t i = 0; i < npc; i++) left_out += pc[i].g->n < maxn;
    if (left_out == npc) {
        berr_set(&e, "--max-n %u: no problem has that many candidates (the most any has is fewer)", maxn);
        goto done;
    }
    int nN = 0;
    uint32_t Ns[32];
    for (uint32_t N = 1; N <= maxn && nN < 32; N *= 2) Ns[nN++] = N;
    double acc[NM][32] = {{0}};
    size_t used = 0;
    uint32_t *perm = xmalloc(j.ncands * sizeof *perm + 4);
    int *votes = xcalloc(j.ncands + 1, sizeof *votes);
    for (size_t i = 0; i < npc; i++) {
        const rw_group *g = pc[i].g;
        if (g->n < maxn) continue;
        used++;
        for (int a = 0; a < nN; a++) {
            uint32_t N = Ns[a];
            double sum[NM] = {0};
            uint64_t s = mix64(mix64((uint64_t)o.seed, g->problem_id), N);
            for (int k = 0; k < o.subsets; k++) {
                for (uint32_t q = 0; q < g->n; q++) perm[q] = q;
                for (uint32_t q = 0; q < N; q++) {  // a partial Fisher-Yates shuffle: N distinct, in random order
                    uint32_t r = q + (uint32_t)(rng_next(&s) % (g->n - q));
                    uint32_t t = perm[q];
                    perm[q] = perm[r], perm[r] = t;
                }
                uint32_t out[NM];
                pick(g, pc[i].cluster, perm, N, votes, out);
                for (int m = 0; m < NM; m++) sum[m] += g->c[out[m]].outcome == OUTCOME_PASS;
            }
            for (int m = 0; m < NM; m++) acc[m][a] += sum[m] / o.subsets;
        }
    }
    free(perm);
    free(votes);
    for (int m = 0; m < NM; m++)
        for (int a = 0; a < nN; a++) acc[m][a] /= (double)used;

    // The table, its JSON copy and the plot.
    bbuf txt = {0};
    char line[512];
#define ADD(...) (snprintf(line, sizeof line, __VA_ARGS__), bbuf_put(&txt, line, strlen(line)))
    ADD("best-of-N accuracy on %zu %sproblems, %u+ candidates each (%d random subsets of N per problem and N; "
        "%zu problems with fewer than %u left out, %zu of other splits skipped)\n",
        used, o.split == 2 ? "" : o.split == 0 ? "heldout " : "train ", maxn, o.subsets, left_out, maxn, other_split);
    if (inner) ADD("note: %u candidates are leaves below a fork (trees, not independent samples: use rollout --depth 0)\n", inner);
    ADD("%6s", "N");
    for (int m = 0; m < NM; m++)
        if (have[m]) ADD(" %9s", m_names[m]);
    ADD("\n");
    for (int a = 0; a < nN; a++) {
        ADD("%6u", Ns[a]);
        for (int m = 0; m < NM; m++)
            if (have[m]) ADD(" %8.1f%%", 100 * acc[m][a]);
        ADD("\n");
    }
    if (!have[M_ORM] || !have[M_PRM_MIN])
        ADD("(%s absent: %s)\n", !have[M_ORM] && !have[M_PRM_MIN] ? "ORM and PRM columns" : !have[M_ORM] ? "the ORM column" : "the PRM columns",
            !o.scores ? "no --scores given" : !have[M_ORM] ? "the scores have no ORM values (reward score --orm)"
                                                             : "the scores have no PRM values (reward score --prm)");
#undef ADD
    if (mkdir_p(o.out, &e)) {
        bbuf_free(&txt);
        goto done;
    }
    char *tp = xasprintf("%s/bestof.txt", o.out), *jp = xasprintf("%s/bestof.json", o.out), *sp = xasprintf("%s/bestof.svg", o.out);
    int wr = write_file_atomic(tp, txt.p, txt.n, &e);
    if (!wr) {
        char *buf = NULL;
        size_t blen = 0;
        FILE *f = open_memstream(&buf, &blen);
        fprintf(f, "{\"problems\":%zu,\"min_candidates\":%u,\"subsets\":%d,\"left_out\":%zu,\"other_split\":%zu,\"n\":[", used, maxn,
                o.subsets, left_out, other_split);
        for (int a = 0; a < nN; a++) fprintf(f, a ? ",%u" : "%u", Ns[a]);
        fputc(']', f);
        for (int m = 0; m < NM; m++) {
            if (!have[m]) continue;
            fprintf(f, ",\"%s\":[", m_keys[m]);
            for (int a = 0; a < nN; a++) fprintf(f, a ? ",%.6f" : "%.6f", acc[m][a]);
            fputc(']', f);
        }
        fputs("}\n", f);
        fclose(f);
        wr = write_file_atomic(jp, buf, blen, &e);
        free(buf);
    }
    if (!wr) {
        svg_series ser[NM];
        memset(ser, 0, sizeof ser);
        int ns = 0;
        for (int m = 0; m < NM; m++) {
            if (!have[m]) continue;
            ser[ns].label = m_names[m];
            ser[ns].markers = 1;
            for (int a = 0; a < nN; a++) svg_series_push(&ser[ns], Ns[a], 100 * acc[m][a]);
            ns++;
        }
        char title[256];
        snprintf(title, sizeof title, "%s", o.title ? o.title : "best-of-N accuracy");
        svg_plot pl = {title, "N (sampled answers)", "accuracy (%)", 0, 0, 1, 0};
        wr = svg_plot_save(sp, &pl, ser, ns, NULL, &e);
        for (int s = 0; s < ns; s++) svg_series_free(&ser[s]);
    }
    if (!wr) fwrite(txt.p, 1, txt.n, stdout);
    if (!wr && !o.quiet) fprintf(stderr, "reward best-of: wrote %s, %s, %s\n", tp, jp, sp);
    bbuf_free(&txt);
    free(tp), free(jp), free(sp);
    rc = wr ? 1 : 0;
done:
    if (rc) rw_fail(cmd.name, &e);
    for (size_t i = 0; i < npc; i++) free(pc[i].cluster);
    free(pc);
    if (tok) bpe_free(tok);
    problem_set_free(&ps);
    rw_joined_free(&j);
    cli_free(&table, &o);
    return rc;
}
