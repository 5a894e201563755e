// verify_info.c — `verify sandbox-info`: sets the sandbox up, confirms its layers on a live
// worker (and with a self-test check in a candidate process), and prints them.
#include <string.h>
#include <unistd.h>

#include "verify/verify_cli.h"

typedef struct info_opts {
    verify_sandbox_opts sb;
} info_opts;

static const cli_opt opt_list[] = {VERIFY_SANDBOX_OPTS(info_opts, sb)};
static const cli_table table = CLI_TABLE(opt_list);
static const cli_cmd cmd = {
    "verify sandbox-info",
    "usage: verify sandbox-info [options]\n\n"
    "Sets up the sandbox as check/run would (with one worker unless --workers is given), confirms\n"
    "each layer on the live worker and in a candidate process, and prints them. Exit status 0 when\n"
    "every layer is active, 3 when some are off (check and run would then refuse to run untrusted\n"
    "code unless given --allow-weak-sandbox), 1 when the sandbox cannot start at all.\n",
    &table, 0, NULL};

int verify_cmd_info(int argc, char **argv, int first) {
    info_opts o;
    int rc = cli_command(&cmd, &o, argc, argv, first, NULL, NULL);
    if (rc != CLI_GO) return rc;
    if (!o.sb.workers) o.sb.workers = 1;
    sandbox_config cfg;
    verify_sandbox_config(&o.sb, &cfg);
    berr e;
    verify_sandbox_echo(stderr, &cfg);
    int asked_weak = cfg.allow_weak;
    cfg.allow_weak = 1;  // a diagnosis: run only the self-test, report what is missing
    double t0 = now_sec();
    sandbox *sb = sandbox_open(&cfg, &e);
    if (!sb) {
        cli_free(&table, &o);
        return cli_fail(cmd.name, &e);
    }
    const sandbox_layers *L = sandbox_get_layers(sb);
    printf("sandbox: %d worker(s) ready in %.2f s; interpreter %s; host uid %u, workers' outside uid %u\n", cfg.workers,
           now_sec() - t0, sandbox_python(sb), (unsigned)geteuid(), L->outside_uid);
    sandbox_print_layers(L, stdout);
    int off = 0;
    for (int l = 0; l < SB_LAYER_COUNT; l++) off += !L->active[l];
    pid_t pids[256];
    int n = sandbox_worker_pids(sb, pids, 256);
    printf("worker pids:");
    for (int i = 0; i < n; i++) printf(" %d", (int)pids[i]);
    printf("\n");
    if (off)
        printf("%d layer(s) off: check and run %s\n", off,
               asked_weak ? "run anyway (--allow-weak-sandbox given)" : "refuse untrusted code without --allow-weak-sandbox");
    else
        printf("all layers active\n");
    sandbox_close(sb);
    cli_free(&table, &o);
    return off ? 3 : 0;
}
