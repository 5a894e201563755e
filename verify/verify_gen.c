// verify_gen.c — `verify gen` and `verify corpus`: the task generators of verify/tasks.h.
#include <string.h>

#include "verify/tasks.h"
#include "verify/verify_cli.h"

enum { OPT_OUT = 1, OPT_QUIET, OPT_HELP, OPT_TASK };

static const struct option gen_opts[] = {
    {"out", required_argument, 0, OPT_OUT},           {"kinds", required_argument, 0, OPT_TASK},
    {"difficulty", required_argument, 0, OPT_TASK},   {"split", required_argument, 0, OPT_TASK},
    {"heldout-pct", required_argument, 0, OPT_TASK},  {"seed", required_argument, 0, OPT_TASK},
    {"count", required_argument, 0, OPT_TASK},        {"shard-records", required_argument, 0, OPT_TASK},
    {"filler-pct", required_argument, 0, OPT_TASK},   {"quiet", no_argument, 0, OPT_QUIET},
    {"help", no_argument, 0, OPT_HELP},               {0, 0, 0, 0}};

static int run(int argc, char **argv, int corpus) {
    const char *cmd = corpus ? "corpus" : "gen";
    tasks_opts o;
    tasks_opts_default(&o);
    const char *out = NULL;
    berr e;
    int opt, idx = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", gen_opts, &idx)) != -1) {
        switch (opt) {
        case OPT_OUT:
            out = optarg;
            break;
        case OPT_QUIET:
            o.progress = 0;
            break;
        case OPT_TASK:
            if (!corpus && !strcmp(gen_opts[idx].name, "filler-pct"))
                return verify_usage_error(cmd, "--filler-pct is a corpus option");
            if (corpus && !strcmp(gen_opts[idx].name, "shard-records"))
                return verify_usage_error(cmd, "--shard-records is a gen option");
            if (tasks_opts_set(&o, gen_opts[idx].name, optarg, &e)) return verify_usage_error(cmd, "%s", e.msg);
            break;
        case OPT_HELP:
            printf("usage: verify %s --out %s [options]\n\n", cmd, corpus ? "FILE" : "DIR");
            printf(corpus ? "Writes COUNT documents (worked solutions, plain-text filler) to FILE, atomically.\n\n"
                          : "Generates COUNT problems into the problem shard directory DIR (resumable).\n\n");
            printf("  --out %s\n", corpus ? "FILE             the corpus file" : "DIR              the problem shard directory");
            tasks_opts_usage(stdout);
            printf("  --quiet               no progress lines\n");
            return 0;
        default:
            return verify_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc) return verify_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!out) return verify_usage_error(cmd, "--out is required");
    fprintf(stderr, "verify %s: out=%s ", cmd, out);
    tasks_opts_echo(stderr, &o);
    double t0 = now_sec();
    if (corpus ? tasks_write_corpus(&o, out, &e) : tasks_generate(&o, out, &e)) return verify_fail(cmd, &e);
    fprintf(stderr, "verify %s: %lld %s in %.1f s -> %s\n", cmd, (long long)o.count, corpus ? "documents" : "problems",
            now_sec() - t0, out);
    return 0;
}

int verify_cmd_gen(int argc, char **argv) { return run(argc, argv, 0); }
int verify_cmd_corpus(int argc, char **argv) { return run(argc, argv, 1); }
