// verify_gen.c — `verify gen` and `verify corpus`: the task generators of verify/tasks.h.
#include <stddef.h>
#include <string.h>

#include "verify/tasks.h"
#include "verify/verify_cli.h"

typedef struct gen_opts {
    char *out, *kinds, *difficulty;
    int split, heldout_pct, filler_pct;
    int64_t seed, count, shard_records;
} gen_opts;

static const char *const splits[] = {"train", "heldout", NULL};

#define F(x) offsetof(gen_opts, x)
#define TASK_OPTS                                                                                                    \
    {CLI_STR, "kinds", F(kinds), "all", 0, 0, NULL, 0, "LIST",                                                       \
     "task kinds, comma-separated: arith,linear,algebra,code, or math / all"},                                      \
    {CLI_STR, "difficulty", F(difficulty), "1-5", 0, 0, NULL, 0, "D|A-B",                                            \
     "difficulty 1..5, or a range drawn uniformly"},                                                                 \
    {CLI_CHOICE, "split", F(split), "train", 0, 0, splits, 0, "S", "train or heldout"},                            \
    {CLI_INT, "heldout-pct", F(heldout_pct), "10", 1, 99, NULL, 0, "P",                                              \
     "percent of the problem space held out (use the same value for both splits)"},                                \
    {CLI_COUNT, "seed", F(seed), "1", 0, 1e18, NULL, 0, "N", "generator seed"}

static const cli_opt gen_list[] = {
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "the problem shard directory (required)"},
    TASK_OPTS,
    {CLI_COUNT, "count", F(count), "1000", 1, 1099511627776.0, NULL, 0, "N", "problems to write, e.g. 5000 or 100K"},
    {CLI_COUNT, "shard-records", F(shard_records), "10000", 1, 4294967296.0, NULL, 0, "N",
     "problems per shard before rolling to the next"},
};
static const cli_opt corpus_list[] = {
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "FILE", "the corpus file (required)"},
    TASK_OPTS,
    {CLI_COUNT, "count", F(count), "1000", 1, 1099511627776.0, NULL, 0, "N", "documents to write, e.g. 5000 or 100K"},
    {CLI_INT, "filler-pct", F(filler_pct), "10", 0, 90, NULL, 0, "P", "percent of plain-text filler documents"},
};
#undef F
static const cli_table gen_table = CLI_TABLE(gen_list), corpus_table = CLI_TABLE(corpus_list);

static const cli_cmd gen_cmd = {
    "verify gen",
    "usage: verify gen --out DIR [options]\n\n"
    "Generates COUNT distinct problems into the problem shard directory DIR (resumable; a problem drawn\n"
    "twice is written once). Formats and splits: verify/TASKS.md.\n",
    &gen_table, 0, NULL};
static const cli_cmd corpus_cmd = {
    "verify corpus",
    "usage: verify corpus --out FILE [options]\n\n"
    "Writes COUNT documents (worked solutions, plain-text filler) to FILE, atomically.\n",
    &corpus_table, 0, NULL};

static int run(int argc, char **argv, int first, int corpus) {
    const cli_cmd *c = corpus ? &corpus_cmd : &gen_cmd;
    gen_opts g;
    unsigned char given[32] = {0};
    int rc = cli_command(c, &g, argc, argv, first, given, NULL);
    if (rc != CLI_GO) return rc;
    rc = 0;
    tasks_opts o;
    tasks_opts_default(&o);
    berr e;
    if (!g.out) rc = cli_usage_error(c, "--out %s is required", corpus ? "FILE" : "DIR");
    else if (tasks_opts_set(&o, "kinds", g.kinds, &e) || tasks_opts_set(&o, "difficulty", g.difficulty, &e))
        rc = cli_usage_error(c, "%s", e.msg);
    if (rc) {
        cli_free(c->table, &g);
        return rc;
    }
    o.split = g.split == 0 ? SPLIT_TRAIN : SPLIT_HELDOUT;
    o.heldout_pct = g.heldout_pct;
    o.seed = (uint64_t)g.seed;
    o.count = g.count;
    if (!corpus) o.shard_records = g.shard_records;
    if (corpus) o.filler_pct = g.filler_pct;
    o.progress = !cli_quiet;
    cli_echo_line(c->name, c->table, &g, given, NULL);
    // The output is checked before anything is generated.
    if (corpus ? cli_check_output_file("--out", g.out, &e) : cli_check_output_dir("--out", g.out, &e)) {
        cli_free(c->table, &g);
        return cli_fail(c->name, &e);
    }
    double t0 = now_sec();
    rc = corpus ? tasks_write_corpus(&o, g.out, &e) : tasks_generate(&o, g.out, &e);
    if (rc) rc = cli_fail(c->name, &e);
    else
        fprintf(stderr, "%s: %lld %s in %.1f s -> %s\n", c->name, (long long)o.count, corpus ? "documents" : "problems",
                now_sec() - t0, g.out);
    cli_free(c->table, &g);
    return rc;
}

int verify_cmd_gen(int argc, char **argv, int first) { return run(argc, argv, first, 0); }
int verify_cmd_corpus(int argc, char **argv, int first) { return run(argc, argv, first, 1); }
