// ckptdir.c — checkpoint naming, listing, pruning and the trainer state (see ckptdir.h).
#include "kernels/train/ckptdir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

char *tr_ckpt_path(const char *dir, int64_t step) { return xasprintf("%s/ckpt_%08lld.bin", dir, (long long)step); }

// "ckpt_<digits>.bin" exactly; temporaries ("....bin.tmp.<pid>") and other files do not match.
static int parse_name(const char *name, int64_t *step) {
    size_t n = strlen(name);
    if (n < 5 + 8 + 4 || strncmp(name, "ckpt_", 5) != 0 || strcmp(name + n - 4, ".bin") != 0) return 0;
    int64_t v = 0;
    for (size_t i = 5; i < n - 4; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10) return 0;
        v = v * 10 + (name[i] - '0');
    }
    *step = v;
    return 1;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int tr_ckpt_list(const char *dir, int64_t **steps, int *n, berr *e) {
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return berr_set(e, "cannot list %s: %s", dir, strerror(errno));
    }
    int cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t s;
        if (!parse_name(de->d_name, &s)) continue;
        if (*n == cap) *steps = xrealloc(*steps, (size_t)(cap = cap ? 2 * cap : 16) * sizeof(int64_t));
        (*steps)[(*n)++] = s;
    }
    closedir(d);
    qsort(*steps, (size_t)*n, sizeof(int64_t), cmp_i64);
    return 0;
}

int tr_ckpt_latest(const char *dir, char **path, berr *e) {
    int64_t *steps;
    int n;
    if (tr_ckpt_list(dir, &steps, &n, e)) return -1;
    for (int i = n - 1; i >= 0; i--) {
        char *p = tr_ckpt_path(dir, steps[i]);
        gpt2_ckpt_info info;
        berr e2;
        if (gpt2_ckpt_verify(p, &info, &e2) == 0) {
            if (i < n - 1) fprintf(stderr, "resuming from %s, the newest checkpoint that reads back whole\n", p);
            free(steps);
            *path = p;
            return 0;
        }
        fprintf(stderr, "warning: passing over a damaged checkpoint: %s\n", e2.msg);
        free(p);
    }
    free(steps);
    return berr_set(e, "no usable checkpoint (ckpt_<step>.bin) in %s to resume from", dir);
}

// A file of a run directory (what tr_run_dir_check accepts beside other files of a run).
static int run_file(const char *nm) {
    int64_t step;
    const char *t = strstr(nm, ".tmp.");
    char base[256];
    snprintf(base, sizeof base, "%.*s", t ? (int)(t - nm) : (int)strlen(nm), nm);
    return parse_name(base, &step) || !strcmp(base, "model.bin") || !strcmp(base, "log.jsonl");
}

// A file that only a shard directory holds (shards/FORMAT.md).
static int shard_file(const char *nm) {
    size_t n = strlen(nm);
    return !strcmp(nm, "CLOSED") || (n > 6 && !strcmp(nm + n - 6, ".shard")) || (n > 7 && !strcmp(nm + n - 7, ".closed")) ||
           (n > 7 && !strcmp(nm + n - 7, ".cursor")) || (nm[0] == '.' && n > 6 && !strcmp(nm + n - 5, ".lock")) ||
           strstr(nm, ".shard.tmp.") || !strncmp(nm, "CLOSED.tmp.", 11);
}

// The absolute path of `path` with symbolic links resolved, also when its last parts do not
// exist yet (malloc'd; NULL when no part of it does).
static char *resolve(const char *path) {
    char *r = realpath(path, NULL);
    if (r || errno != ENOENT) return r;
    const char *slash = strrchr(path, '/');
    char *parent = slash ? (slash == path ? xstrdup("/") : xasprintf("%.*s", (int)(slash - path), path)) : xstrdup(".");
    const char *leaf = slash ? slash + 1 : path;
    char *rp = strcmp(parent, path) ? resolve(parent) : NULL;
    free(parent);
    if (!rp) return NULL;
    r = *leaf ? xasprintf("%s%s%s", rp, strcmp(rp, "/") ? "/" : "", leaf) : xstrdup(rp);
    free(rp);
    return r;
}

int tr_run_dir_check(const char *opt, const char *dir, int resume, const char *const *inputs, berr *e) {
    char *rd = resolve(dir);
    for (int i = 0; rd && inputs && inputs[i]; i += 2) {
        if (!inputs[i + 1]) continue;
        char *ri = realpath(inputs[i + 1], NULL);
        size_t n = ri ? strlen(ri) : 0, m = strlen(rd);
        int same = ri && !strcmp(ri, rd);
        int inside = ri && m > n && !strncmp(rd, ri, n) && rd[n] == '/';  // the run's directory in an input's
        free(ri);
        if (same || inside) {
            free(rd);
            return berr_set(e, "%s %s %s %s %s: a run writes into a directory of its own", opt, dir,
                            same ? "is" : "is inside", inputs[i], inputs[i + 1]);
        }
    }
    free(rd);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return berr_set(e, "%s %s: %s", opt, dir, strerror(errno));
    }
    int ckpts = 0, runs = 0;
    char other[256] = "", shard[256] = "";
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        int64_t step;
        if (!strcmp(nm, ".") || !strcmp(nm, "..")) continue;
        if (parse_name(nm, &step)) ckpts++;
        if (run_file(nm)) runs++;
        else if (shard_file(nm)) snprintf(shard, sizeof shard, "%s", nm);
        else if (!other[0]) snprintf(other, sizeof other, "%s", nm);
    }
    closedir(d);
    if (shard[0])
        return berr_set(e, "%s %s is a shard directory (it holds %s): a run writes into a directory of its own", opt, dir,
                        shard);
    if (!runs && other[0])
        return berr_set(e, "%s %s holds files that are not a run's (e.g. %s): give a new or empty directory", opt, dir, other);
    if (!resume && ckpts)
        return berr_set(e, "%s already holds checkpoints of a run: continue it with --resume, or use another %s", dir, opt);
    return 0;
}

int tr_ckpt_prune(const char *dir, int keep, berr *e) {
    if (keep <= 0) return 0;
    int64_t *steps;
    int n;
    if (tr_ckpt_list(dir, &steps, &n, e)) return -1;
    int rc = 0;
    for (int i = 0; i + keep < n; i++) {
        char *p = tr_ckpt_path(dir, steps[i]);
        if (unlink(p) != 0 && errno != ENOENT) rc = berr_set(e, "cannot remove old checkpoint %s: %s", p, strerror(errno));
        free(p);
    }
    free(steps);
    return rc;
}

int tr_ckpt_read_state(const char *path, gpt2_ckpt_info *info, tr_state *st, berr *e) {
    if (gpt2_ckpt_info_read(path, info, e)) return -1;
    if (info->extra_bytes == 0) return berr_set(e, "%s has no trainer state (a model file, not a training checkpoint): use --init-from", path);
    if (!info->has_opt) return berr_set(e, "%s has no optimizer state to resume from: use --init-from", path);
    FILE *f = fopen(path, "rb");
    if (!f) return berr_set(e, "cannot open %s: %s", path, strerror(errno));
    size_t n = (size_t)info->extra_bytes;
    char *blob = xmalloc(n);
    int rc = 0;
    if (fseeko(f, -(off_t)n, SEEK_END) != 0 || fread(blob, 1, n, f) != n)
        rc = berr_set(e, "%s: cannot read the trainer state (its last %zu bytes)", path, n);
    fclose(f);
    if (!rc) rc = tr_state_decode(blob, n, path, st, e);
    if (!rc && st->step != info->step)
        rc = berr_set(e, "%s: trainer state is at step %llu but the model at step %llu", path,
                      (unsigned long long)st->step, (unsigned long long)info->step);
    free(blob);
    return rc;
}

int tr_ckpt_clean_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *t = strstr(de->d_name, ".bin.tmp.");
        int64_t step;
        if (!t) continue;
        char base[256];
        snprintf(base, sizeof base, "%.*s.bin", (int)(t - de->d_name), de->d_name);
        if (!parse_name(base, &step) && strcmp(base, "model.bin") != 0) continue;
        char *end;
        long pid = strtol(t + 9, &end, 10);
        if (*end || pid <= 0) continue;
        if (!(kill((pid_t)pid, 0) != 0 && errno == ESRCH)) continue;  // its writer may still be running
        char *p = xasprintf("%s/%s", dir, de->d_name);
        if (unlink(p) == 0) {
            fprintf(stderr, "removed %s (left by a save that did not finish)\n", p);
            removed++;
        }
        free(p);
    }
    closedir(d);
    return removed;
}
