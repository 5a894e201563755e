// verify_info.c — `verify sandbox-info`: sets the sandbox up, confirms its layers on a live
// worker (and with a self-test check in a candidate process), and prints them.
#include <string.h>
#include <unistd.h>

#include "verify/verify_cli.h"

static const struct option long_opts[] = {{"help", no_argument, 0, 'h'}, VERIFY_SANDBOX_LONGOPTS, {0, 0, 0, 0}};

int verify_cmd_info(int argc, char **argv) {
    sandbox_config cfg;
    verify_sandbox_defaults(&cfg);
    cfg.workers = 1;
    berr e;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        int r = verify_sandbox_opt(&cfg, opt, optarg, &e);
        if (r < 0) return verify_usage_error("sandbox-info", "%s", e.msg);
        if (r) continue;
        if (opt == 'h') {
            printf("usage: verify sandbox-info [options]\n\n"
                   "Sets up the sandbox as check/run would (with one worker unless --workers is given), confirms\n"
                   "each layer on the live worker and in a candidate process, and prints them. Exit status 0 when\n"
                   "every layer is active, 3 when some are off (check and run would then refuse to run untrusted\n"
                   "code unless given --allow-weak-sandbox), 1 when the sandbox cannot start at all.\n\n");
            verify_sandbox_usage(stdout);
            return 0;
        }
        return verify_usage_error("sandbox-info", "unknown option");
    }
    if (optind < argc) return verify_usage_error("sandbox-info", "unexpected argument '%s'", argv[optind]);
    verify_sandbox_echo(stderr, &cfg);
    int asked_weak = cfg.allow_weak;
    cfg.allow_weak = 1;  // a diagnosis: run only the self-test, report what is missing
    double t0 = now_sec();
    sandbox *sb = sandbox_open(&cfg, &e);
    if (!sb) return verify_fail("sandbox-info", &e);
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
    return off ? 3 : 0;
}
