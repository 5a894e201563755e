// verify_import.c — `verify import`: JSON-lines problem files (GSM8K-, MATH-, MBPP-style, or any
// shape through --map) into problem shard directories, deduplicated, with a held-out split by id.
//
// Every line is read and converted before anything is written. A bad line (not JSON, not an
// object, a missing field, a wrong type, an empty prompt, no final answer, a reference the
// verifier cannot check, a line over --max-line-bytes, the prompt of an earlier line with another
// reference) fails the import naming FILE:LINE and the reason, or with --skip-bad is left out,
// reported and counted. The output is written into temporary directories beside --out and
// --heldout-out and renamed into place when complete, so a failed import leaves nothing.
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/json.h"
#include "shards/stream.h"
#include "verify/jsonl_import.h"
#include "verify/verify_cli.h"

typedef struct import_opts {
    char *out, *heldout_out, *map;
    int preset, task, examples, skip_bad;
    double heldout_frac;
    int64_t max_line, shard_records;
} import_opts;

static const char *const presets[] = {"plain", "gsm8k", "math", "mbpp", NULL};
static const char *const tasks[] = {"preset", "auto", "arith", "linear", "algebra", "code", NULL};

#define F(x) offsetof(import_opts, x)
static const cli_opt opt_list[] = {
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "problem shard directory of the train split; new or empty (required)"},
    {CLI_STR, "heldout-out", F(heldout_out), NULL, 0, 0, NULL, 0, "DIR",
     "problem shard directory of the held-out split; new or empty (required with --heldout-frac)"},
    {CLI_F64, "heldout-frac", F(heldout_frac), "0", 0, 1, NULL, 0, "F",
     "share of problems held out, chosen by id: held out when (id >> 11) / 2^53 < F"},
    {CLI_CHOICE, "preset", F(preset), "plain", 0, 0, presets, 0, "NAME",
     "field names and answer format: plain, gsm8k, math, mbpp (verify/README.md, \"verify import\")"},
    {CLI_STR, "map", F(map), NULL, 0, 0, NULL, 0, "K=FIELD,...",
     "field names over the preset's: prompt, answer, tests, setup, solution, task, difficulty (FIELD - unsets one)"},
    {CLI_CHOICE, "task", F(task), "preset", 0, 0, tasks, 0, "KIND",
     "task kind of lines without a task field: the preset's, auto (code if tests, else arith or algebra), arith, linear, algebra, code"},
    {CLI_INT, "examples", F(examples), "1", 0, 100, NULL, 0, "N", "code: test statements shown in the prompt as examples"},
    {CLI_FLAG, "skip-bad", F(skip_bad), NULL, 0, 0, NULL, 0, NULL,
     "leave bad lines out (each reported, all counted) instead of failing the import"},
    {CLI_BYTES, "max-line-bytes", F(max_line), "1M", 16, 1073741824.0, NULL, 0, "SIZE", "longest line accepted"},
    {CLI_COUNT, "shard-records", F(shard_records), "10000", 1, 4294967296.0, NULL, 0, "N", "problems per shard"},
};
#undef F
static const cli_table table = CLI_TABLE(opt_list);
static const cli_cmd cmd = {
    "verify import",
    "usage: verify import --out DIR [--heldout-out DIR --heldout-frac F] [--preset NAME] [--map K=FIELD,...] FILE...\n\n"
    "Reads JSON-lines FILEs (one problem object a line) into problem shards that verify, rollout, pretrain --sft\n"
    "and ppo read like generated ones. Ids are hash64(\"<kind>\\n\" + prompt), so a reimport gives the same ids\n"
    "and a repeated prompt is a duplicate (removed, counted). A bad line fails the import with FILE:LINE and the\n"
    "reason (--skip-bad: left out and counted); nothing is written unless the import succeeds.\n",
    &table, 1,
    "Presets: gsm8k  question / answer (final answer after ####)          -> arith\n"
    "         math   problem / solution (last \\boxed{...}), level          -> arith or algebra\n"
    "         mbpp   text / test_list (+ test_setup_code), code           -> code\n"
    "         plain  prompt / answer or tests / task / solution / difficulty\n"};

// A directory given as output must not exist or be empty (nothing is overwritten).
static int fresh_dir(const char *opt, const char *dir, berr *e) {
    if (cli_check_output_dir(opt, dir, e)) return -1;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : berr_set(e, "%s %s: cannot list it: %s", opt, dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            rc = berr_set(e, "%s %s already holds %s: give a new or empty directory (nothing is overwritten)", opt, dir,
                          de->d_name);
            break;
        }
    closedir(d);
    return rc;
}

typedef struct item {
    problem_rec p;
    const char *file;
    size_t line;
} item;

typedef struct importer {
    const import_opts *o;
    import_map map;
    item *items;
    size_t n, cap;
    size_t *slots, nslots;  // open addressing on the id: index + 1
    uint64_t lines, blank, bad, dups;
} importer;

static size_t *slot_of(importer *im, uint64_t id) {
    size_t mask = im->nslots - 1, h = (size_t)(id ^ id >> 29) & mask;
    while (im->slots[h] && im->items[im->slots[h] - 1].p.id != id) h = (h + 1) & mask;
    return &im->slots[h];
}

static void grow(importer *im) {
    if (im->n + 1 <= im->nslots / 2) return;
    size_t ns = im->nslots ? 2 * im->nslots : 1024;
    free(im->slots);
    im->slots = xcalloc(ns, sizeof *im->slots);
    im->nslots = ns;
    for (size_t i = 0; i < im->n; i++) *slot_of(im, im->items[i].p.id) = i + 1;
}

// One bad line: an error (the import fails) or, with --skip-bad, a report and a count.
static int bad_line(importer *im, const char *file, size_t line, const char *why, berr *e) {
    if (!im->o->skip_bad)
        return berr_set(e, "%s:%zu: %s (--skip-bad leaves bad lines out; nothing was written)", file, line, why);
    if (im->bad < 20) fprintf(stderr, "verify import: skipped %s:%zu: %s\n", file, line, why);
    else if (im->bad == 20) fprintf(stderr, "verify import: (further bad lines are counted, not listed)\n");
    im->bad++;
    return 0;
}

static int same_reference(const problem_rec *a, const problem_rec *b) {
    return a->task == b->task && !strcmp(a->answer, b->answer) && !strcmp(a->tests, b->tests);
}

static int import_file(importer *im, const char *file, berr *e) {
    char *buf;
    size_t len;
    if (read_file(file, &buf, &len, e)) return -1;
    int rc = 0;
    size_t line = 0;
    char why[1200];
    for (const char *s = buf, *end = buf + len; s < end && !rc;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *stop = nl ? nl : end;
        size_t n = (size_t)(stop - s);
        line++;
        im->lines++;
        const char *t = s;
        while (t < stop && (*t == ' ' || *t == '\t' || *t == '\r')) t++;
        if (t == stop) {
            im->blank++;
        } else if (n > (size_t)im->o->max_line) {
            snprintf(why, sizeof why, "line of %zu bytes, more than --max-line-bytes %lld", n, (long long)im->o->max_line);
            rc = bad_line(im, file, line, why, e);
        } else {
            json_doc d;
            berr je;
            problem_rec p;
            if (json_parse(&d, s, n, &je)) {
                snprintf(why, sizeof why, "not JSON: %s", je.msg);
                rc = bad_line(im, file, line, why, e);
            } else if (import_problem(&im->map, d.root, &p, why, sizeof why)) {
                rc = bad_line(im, file, line, why, e);
            } else {
                grow(im);
                size_t *sl = slot_of(im, p.id);
                if (*sl) {
                    const item *first = &im->items[*sl - 1];
                    if (same_reference(&first->p, &p)) {
                        im->dups++;
                    } else {
                        snprintf(why, sizeof why, "the prompt of %s:%zu with a different reference %s", first->file,
                                 first->line, p.task == TASK_CODE ? "(tests)" : "answer");
                        rc = bad_line(im, file, line, why, e);
                    }
                    problem_free(&p);
                } else {
                    if (im->n == im->cap) {
                        im->cap = im->cap ? 2 * im->cap : 256;
                        im->items = xrealloc(im->items, im->cap * sizeof *im->items);
                    }
                    im->items[im->n] = (item){p, file, line};
                    *sl = ++im->n;
                }
            }
            json_doc_free(&d);
        }
        s = nl ? nl + 1 : end;
    }
    free(buf);
    return rc;
}

static int is_heldout(uint64_t id, double frac) { return (double)(id >> 11) * 0x1p-53 < frac; }

// Writes the problems of one split into tmp (a fresh directory), closed.
static int write_split(const importer *im, const char *tmp, int heldout, uint64_t *count, berr *e) {
    shard_dir_opts dopt = {0};
    dopt.max_records = (uint64_t)im->o->shard_records;
    shard_dir_writer *w = shard_dir_writer_open(tmp, "import", SHARD_PROBLEMS, PROBLEM_SCHEMA, &dopt, e);
    if (!w) return -1;
    bbuf b = {0};
    *count = 0;
    for (size_t i = 0; i < im->n; i++) {
        problem_rec p = im->items[i].p;
        if (is_heldout(p.id, im->o->heldout_frac) != heldout) continue;
        p.split = heldout ? SPLIT_HELDOUT : SPLIT_TRAIN;
        b.n = 0;
        problem_encode(&b, &p);
        if (shard_dir_append(w, b.p, b.n, e)) {
            bbuf_free(&b);
            shard_dir_abort(w);
            return -1;
        }
        (*count)++;
    }
    bbuf_free(&b);
    return shard_dir_close(w, e);
}

static void rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            char *p = xasprintf("%s/%s", dir, de->d_name);
            unlink(p);
            free(p);
        }
    closedir(d);
    rmdir(dir);
}

// The split into "<dir>.tmp.<pid>", then renamed to dir (an empty dir is replaced).
static int publish(const importer *im, const char *dir, int heldout, char **tmp_out, uint64_t *count, berr *e) {
    char *tmp = xasprintf("%s.tmp.%ld", dir, (long)getpid());
    rm_tree(tmp);
    *tmp_out = tmp;
    if (write_split(im, tmp, heldout, count, e)) return -1;
    return 0;
}

int verify_cmd_import(int argc, char **argv, int first) {
    import_opts o;
    unsigned char given[16] = {0};
    cli_args files = {0};
    int rc = cli_command(&cmd, &o, argc, argv, first, given, &files);
    if (rc != CLI_GO) return rc;
    rc = 0;
    berr e;
    importer im = {0};
    im.o = &o;
    if (!o.out) rc = cli_usage_error(&cmd, "--out DIR is required");
    else if (files.n == 0) rc = cli_usage_error(&cmd, "no input FILE given");
    else if (o.heldout_frac > 0 && !o.heldout_out) rc = cli_usage_error(&cmd, "--heldout-frac %g needs --heldout-out DIR", o.heldout_frac);
    else if (o.heldout_out && o.heldout_frac == 0) rc = cli_usage_error(&cmd, "--heldout-out needs --heldout-frac F > 0");
    else if (o.heldout_out && !strcmp(o.heldout_out, o.out)) rc = cli_usage_error(&cmd, "--heldout-out must differ from --out");
    else if (import_preset(&im.map, presets[o.preset], &e) || (o.map && import_map_parse(&im.map, o.map, &e)))
        rc = cli_usage_error(&cmd, "%s", e.msg);
    if (rc) {
        cli_args_free(&files);
        cli_free(&table, &o);
        return rc;
    }
    static const uint32_t task_of[] = {0, IMPORT_TASK_AUTO, TASK_ARITH, TASK_LINEAR, TASK_ALGEBRA, TASK_CODE};
    if (o.task) im.map.task_default = task_of[o.task];
    im.map.examples = o.examples;
    cli_echo_line(cmd.name, &table, &o, given, NULL);
    char *tmp_train = NULL, *tmp_held = NULL;
    uint64_t n_train = 0, n_held = 0;
    rc = 1;
    if (fresh_dir("--out", o.out, &e) || (o.heldout_out && fresh_dir("--heldout-out", o.heldout_out, &e))) goto done;
    for (int i = 0; i < files.n; i++)
        if (import_file(&im, files.v[i], &e)) goto done;
    if (im.n == 0) {
        berr_set(&e, "no problems in %s%s (%llu lines, %llu bad)", files.v[0], files.n > 1 ? " ..." : "",
                 (unsigned long long)im.lines, (unsigned long long)im.bad);
        goto done;
    }
    // Written complete into temporaries, then renamed into place.
    if (publish(&im, o.out, 0, &tmp_train, &n_train, &e)) goto done;
    if (o.heldout_out && publish(&im, o.heldout_out, 1, &tmp_held, &n_held, &e)) goto done;
    rmdir(o.out);  // an empty directory given as --out is replaced
    if (rename(tmp_train, o.out)) {
        berr_set(&e, "--out %s: cannot rename %s to it: %s", o.out, tmp_train, strerror(errno));
        goto done;
    }
    free(tmp_train);
    tmp_train = NULL;
    if (tmp_held) {
        rmdir(o.heldout_out);
        if (rename(tmp_held, o.heldout_out)) {
            berr_set(&e, "--heldout-out %s: cannot rename %s to it: %s", o.heldout_out, tmp_held, strerror(errno));
            goto done;
        }
        free(tmp_held);
        tmp_held = NULL;
    }
    if (fsync_parent_dir(o.out, &e) || (o.heldout_out && fsync_parent_dir(o.heldout_out, &e))) goto done;
    fprintf(stderr,
            "verify import: %llu lines (%llu blank), %llu problems: %llu train -> %s, %llu heldout%s%s; %llu duplicates "
            "removed, %llu bad lines skipped\n",
            (unsigned long long)im.lines, (unsigned long long)im.blank, (unsigned long long)im.n,
            (unsigned long long)n_train, o.out, (unsigned long long)n_held, o.heldout_out ? " -> " : "",
            o.heldout_out ? o.heldout_out : "", (unsigned long long)im.dups, (unsigned long long)im.bad);
    rc = 0;
done:
    if (tmp_train) rm_tree(tmp_train);
    if (tmp_held) rm_tree(tmp_held);
    free(tmp_train);
    free(tmp_held);
    if (rc) cli_fail(cmd.name, &e);
    for (size_t i = 0; i < im.n; i++) problem_free(&im.items[i].p);
    free(im.items);
    free(im.slots);
    cli_args_free(&files);
    cli_free(&table, &o);
    return rc;
}
