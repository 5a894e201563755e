// main.c — build/bin/reward: the subcommand dispatcher (kept small: one table, the shared rules
// of kernels/train/README.md "Options").
#include <stdio.h>
#include <string.h>

#include "reward/reward.h"

static const struct {
    const char *name;
    int (*main)(int argc, char **argv, int first);
    const char *summary;
} subs[] = {
    {"label", rw_label_main, "trajectory trees + their verdicts -> label shards (Monte-Carlo values per node)"},
    {"train", rw_train_main, "train an outcome (--kind orm) or process (--kind prm) reward model on label shards"},
    {"score", rw_score_main, "stream trajectory shards into score shards: ORM per leaf, PRM per step, min and product"},
    {"prune", rw_prune_main, "keep the best K trajectories per problem as problems with solutions (SFT data)"},
    {"export", rw_export_main, "trajectories (+ verdicts, scores) or pruned problems -> JSON lines {prompt, completion, ...} for SFT"},
    {"best-of", rw_bestof_main, "best-of-N accuracy: first, majority vote, ORM, PRM, oracle; a table and a plot"},
};
enum { NSUBS = sizeof subs / sizeof subs[0] };

static void usage(FILE *f) {
    fputs("usage: reward COMMAND [options]     (reward COMMAND --help: its options)\n\ncommands:\n", f);
    for (int i = 0; i < NSUBS; i++) fprintf(f, "  %-8s %s\n", subs[i].name, subs[i].summary);
    fputs("  help     this list; help COMMAND: that command's options\n", f);
}

static int find(const char *name) {
    for (int i = 0; i < NSUBS; i++)
        if (!strcmp(subs[i].name, name)) return i;
    return -1;
}

// The command closest to a misspelt one (two letters swapped, one missing, one extra or wrong).
static const char *near(const char *name) {
    size_t n = strlen(name);
    for (int i = 0; i < NSUBS; i++) {
        const char *s = subs[i].name;
        size_t m = strlen(s), a = 0;
        while (a < n && a < m && name[a] == s[a]) a++;
        size_t b = 0;
        while (b < n - a && b < m - a && name[n - 1 - b] == s[m - 1 - b]) b++;
        if ((n == m && a + b + 2 >= n) || (n + 1 == m && a + b >= n) || (m + 1 == n && a + b >= m)) return s;
        if (n == m && a + 2 < n && name[a] == s[a + 1] && name[a + 1] == s[a] && !strcmp(name + a + 2, s + a + 2)) return s;
    }
    return NULL;
}

static int unknown(const char *name) {
    const char *s = near(name);
    if (s) fprintf(stderr, "reward: error: unknown command '%s' (did you mean '%s'?)\n", name, s);
    else fprintf(stderr, "reward: error: unknown command '%s' (reward help lists them)\n", name);
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs("reward: error: no command given (reward help lists them)\n", stderr);
        return 2;
    }
    const char *a = argv[1];
    if (!strcmp(a, "--list-commands")) {
        for (int i = 0; i < NSUBS; i++) puts(subs[i].name);
        return 0;
    }
    if (!strcmp(a, "help") || !strcmp(a, "--help") || !strcmp(a, "-h")) {
        if (!strcmp(a, "help") && argc > 2) {
            int k = find(argv[2]);
            if (k < 0) return unknown(argv[2]);
            char *av[3] = {argv[0], argv[2], "--help"};
            return subs[k].main(3, av, 2);
        }
        usage(stdout);
        return 0;
    }
    if (a[0] == '-') {
        fprintf(stderr, "reward: error: unknown option '%s' before the command (reward help lists the commands)\n", a);
        return 2;
    }
    int k = find(a);
    if (k < 0) return unknown(a);
    return subs[k].main(argc, argv, 2);
}
