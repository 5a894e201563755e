// verify_main.c — the verify stage: task generators, the math and code verifiers over a
// sandbox pool, and the streaming consumer of trajectory shards (verify/README.md).
#include <stdio.h>
#include <string.h>

#include "verify/verify_cli.h"

static const char *USAGE =
    "usage: verify <command> [options]\n"
    "\n"
    "Commands:\n"
    "  gen           generate problems (arith, linear, algebra, code) into a problem shard directory\n"
    "  corpus        write the built-in text corpus (worked solutions + filler) to a file\n"
    "  check         check a candidate file (JSON lines) against problems -> verdict shards\n"
    "  run           streaming stage: trajectory shards -> verdict shards, exactly once across restarts\n"
    "  sandbox-info  set up the sandbox and report which layers are active\n"
    "\n"
    "`verify <command> --help` describes each. Details: verify/README.md, verify/TASKS.md.\n";

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"gen", verify_cmd_gen},     {"corpus", verify_cmd_corpus},      {"check", verify_cmd_check},
                {"run", verify_cmd_run},     {"sandbox-info", verify_cmd_info}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(c, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "verify: unknown command '%s'\n\n%s", c, USAGE);
    return 2;
}
