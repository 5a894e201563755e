// label.c — `reward label`: trajectory trees joined with their leaves' verdicts (tree_join.h)
// become label shards: per tree its tokens and, per node, the Monte-Carlo value of the
// completions below it (data.h, records.h "labels").
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "reward/data.h"
#include "reward/reward.h"
#include "shards/stream.h"

typedef struct label_opts {
    char *trajectories, *verdicts, *out;
    double hard_threshold, smooth;
    int shard_records, quiet;
} label_opts;

#define F(x) offsetof(label_opts, x)
static const cli_opt opts[] = {
    {CLI_STR, "trajectories", F(trajectories), NULL, 0, 0, NULL, 0, "DIR", "trajectory shard directory (rollout), closed (required)"},
    {CLI_STR, "verdicts", F(verdicts), NULL, 0, 0, NULL, 0, "DIR", "their verdict shard directory (verify run), closed (required)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "label shard directory to write; must hold no shards yet (required)"},
    {CLI_F64, "hard-threshold", F(hard_threshold), "0", 0, 1, NULL, 0, "X",
     "hard label = 1 when the node's value (passed / leaves below) is above X"},
    {CLI_F64, "smooth", F(smooth), "0", 0, 1e6, NULL, 0, "A",
     "soft label = (passed + A/2) / (leaves + A) (0: the value itself)"},
    {CLI_INT, "shard-records", F(shard_records), "1000", 1, 1 << 30, NULL, 0, "N", "trees per output shard"},
    {CLI_FLAG, "quiet", F(quiet), "0", 0, 0, NULL, 0, NULL, "no config echo, no summary"},
};
#undef F
static const cli_table table = {opts, (int)(sizeof opts / sizeof opts[0])};
static const rw_cmd cmd = {"reward label",
                           "usage: reward label --trajectories DIR --verdicts DIR --out DIR [options]\n"
                           "\n"
                           "Joins every trajectory tree with the verdicts of its leaves and writes one label record per\n"
                           "tree: its tokens and, for every node, the leaves below it, how many passed, the Monte-Carlo\n"
                           "value passed/leaves, a soft and a hard label (reward/README.md). Every leaf must have exactly\n"
                           "one verdict and every verdict must name a leaf of a given tree.\n",
                           &table};

int rw_label_main(int argc, char **argv, int first) {
    label_opts o;
    int rc = rw_parse(&cmd, &o, argc, argv, first, NULL);
    if (rc != RW_GO) return rc;
    if (!o.trajectories || !o.verdicts || !o.out) {
        cli_free(&table, &o);
        return rw_usage_error(&cmd, "--trajectories, --verdicts and --out are required");
    }
    if (!o.quiet) cli_echo(stderr, &table, &o);
    berr e;
    vtree_set s = {0};
    shard_dir_writer *w = NULL;
    rc = 1;
    if (rw_out_dir_fresh(o.out, &e)) goto done;
    if (vtree_set_load(&s, o.trajectories, o.verdicts, 1, &e)) goto done;
    shard_dir_opts dopt = {0};
    dopt.max_records = (uint64_t)o.shard_records;
    if (!(w = shard_dir_writer_open(o.out, "label", SHARD_LABELS, LABEL_SCHEMA, &dopt, &e))) goto done;
    rw_label_opts lo = {o.hard_threshold, o.smooth};
    uint64_t nodes = 0, inner = 0, mixed = 0, hard1 = 0, inner_leaves = 0;
    bbuf b = {0};
    for (size_t i = 0; i < s.n; i++) {
        label_rec l;
        rw_label_tree(&s.trees[i], &lo, &l);
        for (uint32_t k = 0; k < l.n_nodes; k++) {
            const label_node *nd = &l.nodes[k];
            nodes++;
            hard1 += (nd->flags & LABEL_HARD) != 0;
            if (!(nd->flags & LABEL_LEAF)) {
                inner++;
                inner_leaves += nd->leaves;
                mixed += nd->passed > 0 && nd->passed < nd->leaves;
            }
        }
        b.n = 0;
        label_encode(&b, &l);
        rw_label_tree_free(&l);
        if (shard_dir_append(w, b.p, b.n, &e)) {
            bbuf_free(&b);
            goto done;
        }
    }
    bbuf_free(&b);
    rc = shard_dir_close(w, &e) ? 1 : 0;
    w = NULL;
    if (!rc && !o.quiet)
        fprintf(stderr, "reward label: %zu trees, %llu nodes: %llu leaves (%llu passed, %.1f%%), %llu inner nodes (%.1f leaves "
                        "below each on average, %llu with both passing and failing completions); %llu hard labels 1; "
                        "written to %s\n",
                s.n, (unsigned long long)nodes, (unsigned long long)s.leaves, (unsigned long long)s.passed,
                s.leaves ? 100.0 * (double)s.passed / (double)s.leaves : 0.0, (unsigned long long)inner,
                inner ? (double)inner_leaves / (double)inner : 0.0, (unsigned long long)mixed, (unsigned long long)hard1, o.out);
done:
    if (w) shard_dir_abort(w);
    if (rc) rw_fail(cmd.name, &e);
    vtree_set_free(&s);
    cli_free(&table, &o);
    return rc;
}
