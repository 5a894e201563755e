// verify_cli.c — the sandbox options shared by the verify commands.
#include <unistd.h>

#include "verify/verify_cli.h"

void verify_sandbox_config(const verify_sandbox_opts *o, sandbox_config *c) {
    sandbox_config_default(c);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    // Each worker waits on its candidate much of the time: two per CPU keep the CPUs busy.
    c->workers = o->workers ? o->workers : cpus > 0 ? (int)(cpus * 2 > 64 ? 64 : cpus * 2) : 2;
    if (o->python) c->python = o->python;
    c->limits.cpu_seconds = o->cpu_seconds;
    c->limits.wall_seconds = o->wall_seconds;
    c->limits.memory_bytes = o->memory;
    c->limits.file_bytes = o->file_size;
    c->limits.output_bytes = o->output_cap;
    c->limits.open_files = o->open_files;
    c->limits.processes = o->processes;
    c->scratch_parent = o->scratch_dir;
    c->scratch_bytes = o->scratch_size;
    c->sandbox_uid = c->sandbox_gid = (uint32_t)o->sandbox_uid;
    c->allow_weak = o->allow_weak;
}

void verify_sandbox_echo(FILE *f, const sandbox_config *c) {
    if (cli_quiet) return;
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
