// test_cli_parse.c — the option parser of kernels/train/cli.h, piece by piece: values of every
// type (byte sizes with K/M/G/T, repeatable lists), positional arguments and "--", values that
// look like options, the standard options, suggestions for unknown options and abbreviations;
// the path checks made before any work; a run directory's checks (tr_run_dir_check); and
// --resume's choice of checkpoint, which passes over one whose payload fails its checksum.
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/gpt2.h"
#include "kernels/train/ckptdir.h"
#include "kernels/train/cli.h"
#include "tests/test.h"

typedef struct opts {
    char *out, *name;
    int n, flag, choice, part, parts;
    int64_t count, bytes;
    double x;
    cli_list list;
} opts;

static const char *const colors[] = {"red", "green", NULL};
#define F(x) offsetof(opts, x)
static const cli_opt list[] = {
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "output"},
    {CLI_STR, "name", F(name), "berry", 0, 0, NULL, 0, "NAME", "a name"},
    {CLI_INT, "steps", F(n), "3", 0, 100, NULL, 0, "N", "steps"},
    {CLI_FLAG, "resume", F(flag), NULL, 0, 0, NULL, 0, NULL, "a flag"},
    {CLI_CHOICE, "color", F(choice), "red", 0, 0, colors, 0, "C", "a choice"},
    {CLI_COUNT, "count", F(count), "10K", 0, 1e12, NULL, 0, "N", "a count"},
    {CLI_BYTES, "kv-budget", F(bytes), "1G", 1, 1125899906842624.0, NULL, 0, "BYTES", "a size"},
    {CLI_F64, "lr", F(x), "0.5", 0, 1, NULL, 0, "X", "a number"},
    {CLI_LIST, "special", F(list), NULL, 0, 0, NULL, 0, "S", "repeatable"},
    {CLI_INT, "part", F(part), "0", 0, 9, NULL, 0, "K", "a part"},
    {CLI_INT, "parts", F(parts), "1", 1, 9, NULL, 0, "N", "parts"},
};
#undef F
static const cli_table tab = CLI_TABLE(list);

// Parses a command line of space-separated words; returns cli_parse_args's code, *e its message.
static int parse(opts *o, const char *line, cli_args *pos, berr *e) {
    static char buf[1024];
    static char *argv[64];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    argv[argc++] = "prog";
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    cli_quiet = 0;
    if (cli_defaults(&tab, o, e)) return -9;
    return cli_parse_args(&tab, o, argc, argv, 1, NULL, pos, e);
}

static void test_values(void) {
    opts o;
    berr e;
    CHECK(parse(&o, "", NULL, &e) == 0 && o.n == 3 && o.count == 10000 && o.bytes == 1073741824 && !o.out &&
              !strcmp(o.name, "berry") && o.x == 0.5 && o.list.n == 0,
          "defaults");
    cli_free(&tab, &o);
    struct {
        const char *in;
        int64_t want;
    } sizes[] = {{"512M", 512ll << 20}, {"16G", 16ll << 30}, {"1.5G", 3ll << 29}, {"64KiB", 65536}, {"1K", 1024},
                 {"100", 100},      {"2T", 2ll << 40},  {"3MB", 3ll << 20}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "--kv-budget %s", sizes[i].in);
        CHECK(parse(&o, line, NULL, &e) == 0 && o.bytes == sizes[i].want, "%s -> %lld (%s)", line, (long long)o.bytes,
              e.msg);
        cli_free(&tab, &o);
    }
    const char *bad_sizes[] = {"1Q", "0x10", "-1", "1e3", "M", "1.3", " 5", "+5"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "--kv-budget=%s", bad_sizes[i]);
        CHECK(parse(&o, line, NULL, &e) == -1 && strstr(e.msg, "--kv-budget"), "%s refused: %s", line, e.msg);
        cli_free(&tab, &o);
    }
    CHECK(parse(&o, "--kv-budget 0", NULL, &e) == -1 && strstr(e.msg, "--kv-budget must be between 1 and 1P bytes, got 0"),
          "size range: %s", e.msg);
    char b[32];
    cli_format_bytes(1536 << 10, b, sizeof b);
    CHECK(!strcmp(b, "1536K"), "1536K: %s", b);
    cli_format_bytes(1 << 30, b, sizeof b);
    CHECK(!strcmp(b, "1G"), "1G: %s", b);
    cli_format_bytes(1000, b, sizeof b);
    CHECK(!strcmp(b, "1000"), "1000: %s", b);
    // Lists: every occurrence appended, in order.
    CHECK(parse(&o, "--special a --special=b --special c", NULL, &e) == 0 && o.list.n == 3 && !strcmp(o.list.v[0], "a") &&
              !strcmp(o.list.v[2], "c"),
          "list");
    char v[64];
    cli_value(cli_find(&tab, "special"), &o, v, sizeof v);
    CHECK(!strcmp(v, "a,b,c"), "list value %s", v);
    cli_free(&tab, &o);
    CHECK(o.list.n == 0 && o.list.v == NULL, "cli_free empties a list");
    // Later values win; --name=value.
    CHECK(parse(&o, "--steps 5 --steps=7 --color green --resume", NULL, &e) == 0 && o.n == 7 && o.choice == 1 && o.flag,
          "later value wins");
    cli_free(&tab, &o);
}

static void test_words(void) {
    opts o;
    berr e;
    cli_args pos;
    CHECK(parse(&o, "a --steps 4 b - c", &pos, &e) == 0 && pos.n == 4 && !strcmp(pos.v[0], "a") && !strcmp(pos.v[2], "-") &&
              o.n == 4,
          "positionals between options, '-' among them");
    cli_args_free(&pos);
    cli_free(&tab, &o);
    CHECK(parse(&o, "--steps 4 -- --resume -x", &pos, &e) == 0 && pos.n == 2 && !strcmp(pos.v[0], "--resume") && !o.flag,
          "'--' ends the options");
    cli_args_free(&pos);
    cli_free(&tab, &o);
    CHECK(parse(&o, "stray", NULL, &e) == -1 && strstr(e.msg, "unexpected argument 'stray'"), "%s", e.msg);
    cli_free(&tab, &o);
    // A value that is an option is a missing value; --out=--x passes it.
    CHECK(parse(&o, "--out --steps 5", NULL, &e) == -1 && strstr(e.msg, "--out needs a value") && strstr(e.msg, "--out=--steps"),
          "%s", e.msg);
    cli_free(&tab, &o);
    CHECK(parse(&o, "--out", NULL, &e) == -1 && !strcmp(e.msg, "--out needs a value"), "%s", e.msg);
    cli_free(&tab, &o);
    CHECK(parse(&o, "--out=--weird", NULL, &e) == 0 && !strcmp(o.out, "--weird"), "--out=--weird: %s", e.msg);
    cli_free(&tab, &o);
    CHECK(parse(&o, "--out= ", NULL, &e) == -1 && strstr(e.msg, "--out needs a value"), "empty value: %s", e.msg);
    cli_free(&tab, &o);
    CHECK(parse(&o, "--name -", NULL, &e) == 0 && !strcmp(o.name, "-"), "a single dash is a value");
    cli_free(&tab, &o);
    CHECK(parse(&o, "--steps -3", NULL, &e) == -1 && strstr(e.msg, "--steps must be in [0, 100], got -3"), "%s", e.msg);
    cli_free(&tab, &o);
}

static void test_standard(void) {
    opts o;
    berr e;
    CHECK(parse(&o, "--steps 2 --help", NULL, &e) == 1, "--help");
    cli_free(&tab, &o);
    CHECK(parse(&o, "-h", NULL, &e) == 1, "-h");
    cli_free(&tab, &o);
    CHECK(parse(&o, "--list-options", NULL, &e) == 2, "--list-options");
    cli_free(&tab, &o);
    CHECK(parse(&o, "--quiet", NULL, &e) == 0 && cli_quiet == 1, "--quiet");
    cli_free(&tab, &o);
    CHECK(parse(&o, "--help=1", NULL, &e) == -1 && strstr(e.msg, "--help takes no value"), "%s", e.msg);
    cli_free(&tab, &o);
    CHECK(parse(&o, "--resume=1", NULL, &e) == -1 && strstr(e.msg, "--resume takes no value"), "%s", e.msg);
    cli_free(&tab, &o);
}

static void test_suggestions(void) {
    opts o;
    berr e;
    struct {
        const char *line, *want;
    } cases[] = {
        {"--stpes 3", "unknown option '--stpes'; did you mean --steps?"},
        {"--kv-budgte 1G", "did you mean --kv-budget?"},
        {"--sepcial x", "did you mean --special?"},
        {"--frobnicate 3", "unknown option '--frobnicate'"},
        {"--ste 3", "unknown option '--ste' (abbreviations are not accepted; did you mean --steps?)"},
        {"--par 3", "did you mean --part or --parts?"},
        {"--qui", "did you mean --quiet?"},
        {"--colour=red", "unknown option '--colour'; did you mean --color?"},
        {"-steps 3", "unknown option '-steps'; did you mean --steps?"},
        {"-x", "unknown option '-x'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(parse(&o, cases[i].line, NULL, &e) == -1 && strstr(e.msg, cases[i].want), "'%s': '%s', wanted '%s'",
              cases[i].line, e.msg, cases[i].want);
        cli_free(&tab, &o);
    }
    CHECK(parse(&o, "--frobnicate 3", NULL, &e) == -1 && !strstr(e.msg, "did you mean"), "no far-fetched guess: %s", e.msg);
    cli_free(&tab, &o);
}

static void test_paths(const char *dir) {
    berr e;
    char *f = xasprintf("%s/file", dir), *d = xasprintf("%s/sub", dir);
    if (write_file_atomic(f, "x", 1, &e) || mkdir(d, 0755)) die("setup: %s", e.msg);
    CHECK(cli_check_output_file("--out", d, &e) && strstr(e.msg, "is a directory"), "file out on a dir: %s", e.msg);
    char *nf = xasprintf("%s/nodir/x.txt", dir);
    CHECK(cli_check_output_file("--out", nf, &e) && strstr(e.msg, "does not exist"), "%s", e.msg);
    CHECK(cli_check_output_file("--out", f, &e) == 0, "an existing file may be replaced");
    CHECK(cli_check_output_dir("--out", f, &e) && strstr(e.msg, "exists and is not a directory"), "%s", e.msg);
    char *deep = xasprintf("%s/a/b/c", dir);
    CHECK(cli_check_output_dir("--out", deep, &e) == 0, "a directory made later: %s", e.msg);
    char *under_file = xasprintf("%s/file/x", dir);
    CHECK(cli_check_output_dir("--out", under_file, &e) && strstr(e.msg, "ot a directory"), "%s", e.msg);
    CHECK(cli_check_input_dir("--problems", "/nonexistent/dir", &e) && strstr(e.msg, "--problems /nonexistent/dir: no such directory"),
          "%s", e.msg);
    CHECK(cli_check_input_dir("--problems", f, &e) && strstr(e.msg, "not a directory"), "%s", e.msg);
    CHECK(cli_check_input_dir("--problems", d, &e) == 0, "an existing input directory");
    free(f), free(d), free(nf), free(deep), free(under_file);
}

static void touch(const char *dir, const char *name) {
    berr e;
    char *p = xasprintf("%s/%s", dir, name);
    if (write_file_atomic(p, "x", 1, &e)) die("%s", e.msg);
    free(p);
}

static void test_run_dir(const char *dir) {
    berr e;
    char *shards = xasprintf("%s/tokens", dir), *other = xasprintf("%s/other", dir), *run = xasprintf("%s/run", dir);
    char *inside = xasprintf("%s/tokens/run", dir), *fresh = xasprintf("%s/fresh", dir);
    mkdir(shards, 0755), mkdir(other, 0755), mkdir(run, 0755), mkdir(inside, 0755);
    touch(shards, "tokens-00000000.shard");
    touch(shards, "CLOSED");
    touch(other, "notes.txt");
    touch(run, "log.jsonl");
    touch(run, "loss.svg");
    CHECK(tr_run_dir_check("--out", fresh, 0, NULL, &e) == 0, "absent: %s", e.msg);
    CHECK(tr_run_dir_check("--out", shards, 0, NULL, &e) && strstr(e.msg, "is a shard directory"), "%s", e.msg);
    CHECK(tr_run_dir_check("--out", other, 0, NULL, &e) && strstr(e.msg, "files that are not a run's (e.g. notes.txt)"), "%s",
          e.msg);
    CHECK(tr_run_dir_check("--out", run, 0, NULL, &e) == 0, "a run directory with other files of a run: %s", e.msg);
    const char *in1[] = {"--data", shards, NULL};
    CHECK(tr_run_dir_check("--out", shards, 0, in1, &e) && strstr(e.msg, "is --data"), "%s", e.msg);
    CHECK(tr_run_dir_check("--out", inside, 0, in1, &e) && strstr(e.msg, "is inside --data"), "%s", e.msg);
    touch(run, "ckpt_00000004.bin");
    CHECK(tr_run_dir_check("--out", run, 0, NULL, &e) && strstr(e.msg, "already holds checkpoints"), "%s", e.msg);
    CHECK(tr_run_dir_check("--out", run, 1, NULL, &e) == 0, "resume: %s", e.msg);
    free(shards), free(other), free(run), free(inside), free(fresh);
}

// --resume takes the newest checkpoint that reads back whole: one whose payload is damaged
// is passed over like one whose header is.
static void test_resume_choice(const char *dir) {
    berr e;
    char *d = xasprintf("%s/ckpts", dir);
    mkdir(d, 0755);
    gpt2_config c = {.L = 1, .C = 16, .NH = 2, .V = 40, .Vp = 128, .maxT = 8};
    size_t n = gpt2_param_count(&c);
    float *p = xcalloc(n, sizeof *p), *m = xcalloc(n, sizeof *m), *v = xcalloc(n, sizeof *v);
    for (int step = 1; step <= 3; step++) {
        char *path = tr_ckpt_path(d, step);
        p[0] = (float)step;
        CHECK(gpt2_save_host(&c, step, p, m, v, "state", 5, path, &e) == 0, "save: %s", e.msg);
        free(path);
    }
    char *newest = tr_ckpt_path(d, 3), *got = NULL;
    gpt2_ckpt_info info;
    CHECK(gpt2_ckpt_verify(newest, &info, &e) == 0, "an intact checkpoint verifies: %s", e.msg);
    // One byte of the newest one's weights flipped: the header still reads.
    FILE *f = fopen(newest, "r+b");
    fseek(f, 256 + 40, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
    CHECK(gpt2_ckpt_info_read(newest, &info, &e) == 0, "its header still reads");
    CHECK(gpt2_ckpt_verify(newest, &info, &e) && strstr(e.msg, "payload checksum mismatch"), "%s", e.msg);
    CHECK(tr_ckpt_latest(d, &got, &e) == 0 && strstr(got, "ckpt_00000002.bin"), "passed over: %s", got ? got : e.msg);
    free(got);
    free(newest), free(p), free(m), free(v), free(d);
}

int main(void) {
    char *dir = xstrdup("/tmp/berry-test-cli-XXXXXX");
    if (!mkdtemp(dir)) die("mkdtemp failed");
    test_values();
    test_words();
    test_standard();
    test_suggestions();
    test_paths(dir);
    test_run_dir(dir);
    test_resume_choice(dir);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "warning: could not remove %s\n", dir);
    free(cmd);
    free(dir);
    return test_summary();
}
