// verify_cli.c — sandbox options and small helpers shared by the verify commands.
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verify/verify_cli.h"

int verify_fail(const char *cmd, const berr *e) {
    fprintf(stderr, "verify %s: error: %s\n", cmd, e->msg);
    return 1;
}

int verify_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "verify %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; see verify %s --help\n", cmd);
    va_end(ap);
    return 2;
}

int verify_parse_bytes(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out, berr *e) {
    size_t n = strlen(s);
    int shift = 0;
    if (n && strchr("KkMmGg", s[n - 1])) {
        char c = s[n - 1];
        shift = c == 'K' || c == 'k' ? 10 : c == 'M' || c == 'm' ? 20 : 30;
        n--;
    }
    char num[32];
    if (n == 0 || n >= sizeof num) return berr_set(e, "--%s: bad size '%s' (e.g. 512M)", flag, s);
    memcpy(num, s, n);
    num[n] = 0;
    int64_t v;
    if (parse_i64(flag, num, 0, INT64_MAX >> 30, &v, e)) return berr_set(e, "--%s: bad size '%s' (e.g. 512M)", flag, s);
    v <<= shift;
    if (v < lo || v > hi)
        return berr_set(e, "--%s: %s is outside [%lld, %lld] bytes", flag, s, (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

void verify_sandbox_defaults(sandbox_config *c) {
    sandbox_config_default(c);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    // Each worker waits on its candidate much of the time: two per CPU keep the CPUs busy.
    c->workers = cpus > 0 ? (int)(cpus * 2 > 64 ? 64 : cpus * 2) : 2;
}

int verify_sandbox_opt(sandbox_config *c, int opt, const char *arg, berr *e) {
    int64_t v;
    double d;
    int i;
    switch (opt) {
    case VOPT_WORKERS:
        if (parse_int("workers", arg, 1, 256, &i, e)) return -1;
        c->workers = i;
        return 1;
    case VOPT_PYTHON:
        c->python = arg;
        return 1;
    case VOPT_CPU:
        if (parse_f64("cpu-seconds", arg, 0.001, 3600, &d, e)) return -1;
        c->limits.cpu_seconds = d;
        return 1;
    case VOPT_WALL:
        if (parse_f64("wall-seconds", arg, 0.001, 3600, &d, e)) return -1;
        c->limits.wall_seconds = d;
        return 1;
    case VOPT_MEMORY:
        if (verify_parse_bytes("memory", arg, 64LL << 20, 1LL << 40, &v, e)) return -1;
        c->limits.memory_bytes = v;
        return 1;
    case VOPT_FILE_SIZE:
        if (verify_parse_bytes("file-size", arg, 0, 1LL << 40, &v, e)) return -1;
        c->limits.file_bytes = v;
        return 1;
    case VOPT_OUTPUT_CAP:
        if (verify_parse_bytes("output-cap", arg, 1, 1LL << 30, &v, e)) return -1;
        c->limits.output_bytes = v;
        return 1;
    case VOPT_OPEN_FILES:
        if (parse_int("open-files", arg, 8, 4096, &i, e)) return -1;
        c->limits.open_files = i;
        return 1;
    case VOPT_PROCESSES:
        if (parse_int("processes", arg, 4, 4096, &i, e)) return -1;
        c->limits.processes = i;
        return 1;
    case VOPT_SCRATCH_DIR:
        c->scratch_parent = arg;
        return 1;
    case VOPT_SCRATCH_SIZE:
        if (verify_parse_bytes("scratch-size", arg, 1 << 20, 1LL << 34, &v, e)) return -1;
        c->scratch_bytes = v;
        return 1;
    case VOPT_UID:
        if (parse_int("sandbox-uid", arg, 1, 2147483646, &i, e)) return -1;
        c->sandbox_uid = c->sandbox_gid = (uint32_t)i;
        return 1;
    case VOPT_ALLOW_WEAK:
        c->allow_weak = 1;
        return 1;
    }
    return 0;
}

void verify_sandbox_usage(FILE *f) {
    fputs("Sandbox options (code checks):\n"
          "  --workers N            sandbox worker processes (default: 2 per CPU)\n"
          "  --python PATH          interpreter for candidates (default: python3 on PATH; shims are resolved)\n"
          "  --cpu-seconds S        CPU limit per check, rounded up to whole seconds (default 2)\n"
          "  --wall-seconds S       wall-clock limit per check (default 4)\n"
          "  --memory SIZE          address-space limit per check (default 512M)\n"
          "  --file-size SIZE       largest file a check may write (default 16M)\n"
          "  --output-cap SIZE      stdout+stderr per check; more is a violation (default 1M)\n"
          "  --open-files N         open-file limit per check (default 64)\n"
          "  --processes N          process/thread limit per worker uid (default 32)\n"
          "  --scratch-size SIZE    tmpfs scratch per worker (default 64M)\n"
          "  --scratch-dir DIR      host directory for scratch when there is no mount namespace (default $TMPDIR or /tmp)\n"
          "  --sandbox-uid N        outside uid/gid of the workers when run as root (default 65534)\n"
          "  --allow-weak-sandbox   run even if some sandbox layers cannot be set up (they are listed)\n",
          f);
}

void verify_sandbox_echo(FILE *f, const sandbox_config *c) {
    fprintf(f,
            "sandbox: workers=%d python=%s cpu=%gs wall=%gs memory=%lldM file-size=%lldK output-cap=%lldK open-files=%d "
            "processes=%d scratch=%lldM%s%s\n",
            c->workers, c->python, c->limits.cpu_seconds, c->limits.wall_seconds,
            (long long)(c->limits.memory_bytes >> 20), (long long)(c->limits.file_bytes >> 10),
            (long long)(c->limits.output_bytes >> 10), c->limits.open_files, c->limits.processes,
            (long long)(c->scratch_bytes >> 20), c->scratch_parent ? " scratch-dir=" : "",
            c->scratch_parent ? c->scratch_parent : "");
    if (c->allow_weak) fprintf(f, "sandbox: --allow-weak-sandbox: layers that cannot be set up are skipped\n");
}
