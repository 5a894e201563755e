// berry_main.c — build/bin/berry: the RL loop as one command (ppo/loop/loop.h).
#include "kernels/train/cli.h"
#include "ppo/loop/loop.h"

int loop_run_main(int argc, char **argv, int first);

static const cli_cmd config_cmd = {"berry config",
                                   "usage: berry config\n"
                                   "\n"
                                   "Prints the keys of a run config (berry run --config FILE) and what each means.\n",
                                   NULL, 0, NULL};

static int config_main(int argc, char **argv, int first) {
    int rc = cli_command(&config_cmd, NULL, argc, argv, first, NULL, NULL);
    if (rc != CLI_GO) return rc;
    loop_config_help(stdout);
    return 0;
}

static const cli_sub subs[] = {
    {"run", loop_run_main, "run (or continue) the pipeline a config describes, in one run directory"},
    {"config", config_main, "the keys of a run config"},
};

static const cli_prog prog = {"berry",
                              "The RL loop as one command: data, pretraining, RL iterations (rollout, verify run, ppo),\n"
                              "held-out evaluations, an SFT control and the report (ppo/README.md).",
                              subs, (int)(sizeof subs / sizeof subs[0]), -1};

int main(int argc, char **argv) { return cli_dispatch(&prog, argc, argv); }
