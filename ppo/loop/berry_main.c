// berry_main.c — build/bin/berry: the RL loop as one command (ppo/loop/loop.h).
#include <string.h>

#include "ppo/loop/loop.h"

int loop_run_main(int argc, char **argv, int first);

static void usage(FILE *f) {
    fputs("usage: berry run --config FILE [--out DIR]   run (or continue) the pipeline a config describes\n"
          "       berry help config                     the config keys\n"
          "       berry help | --help | -h              this text\n",
          f);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "run") == 0) return loop_run_main(argc, argv, 2);
    if (argc == 3 && strcmp(argv[1], "help") == 0 && strcmp(argv[2], "config") == 0) {
        loop_config_help(stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "help") == 0 && strcmp(argv[2], "run") == 0) {
        char *a[] = {argv[0], "run", "--help", NULL};
        return loop_run_main(3, a, 2);
    }
    if (argc == 2 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc > 1) fprintf(stderr, "berry: error: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
