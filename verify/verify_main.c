// verify_main.c — the verify stage: task generators, the math and code verifiers over a
// sandbox pool, and the streaming consumer of trajectory shards (verify/README.md).
#include "verify/verify_cli.h"

static const cli_sub subs[] = {
    {"gen", verify_cmd_gen, "generate problems (arith, linear, algebra, code) into a problem shard directory"},
    {"import", verify_cmd_import, "problems from JSON lines (GSM8K-, MATH-, MBPP-style, --map) into problem shard directories"},
    {"corpus", verify_cmd_corpus, "write the built-in text corpus (worked solutions + filler) to a file"},
    {"check", verify_cmd_check, "check a candidate file (JSON lines) against problems -> verdict shards"},
    {"run", verify_cmd_run, "streaming stage: trajectory shards -> verdict shards, exactly once across restarts"},
    {"sandbox-info", verify_cmd_info, "set up the sandbox and report which layers are active"},
};

static const cli_prog prog = {"verify", "Details: verify/README.md, verify/TASKS.md.\n", subs,
                              (int)(sizeof subs / sizeof subs[0]), -1};

int main(int argc, char **argv) { return cli_dispatch(&prog, argc, argv); }
