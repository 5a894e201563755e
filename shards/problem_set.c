// problem_set.c — problems of a shard file or directory, in order and indexed by id.
#include "shards/problem_set.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shards/shard.h"
#include "shards/stream.h"

static size_t slot_of(uint64_t id, size_t nslots) { return (size_t)(mix64(id, 0x5eed) & (nslots - 1)); }

static void insert(problem_set *ps, size_t idx) {
    size_t s = slot_of(ps->items[idx].id, ps->nslots);
    while (ps->slots[s]) s = (s + 1) & (ps->nslots - 1);
    ps->slots[s] = idx + 1;
}

const problem_rec *problem_set_find(const problem_set *ps, uint64_t id) {
    if (!ps->nslots) return NULL;
    for (size_t s = slot_of(id, ps->nslots); ps->slots[s]; s = (s + 1) & (ps->nslots - 1))
        if (ps->items[ps->slots[s] - 1].id == id) return &ps->items[ps->slots[s] - 1];
    return NULL;
}

static int same_problem(const problem_rec *a, const problem_rec *b) {
    return a->task == b->task && a->split == b->split && a->difficulty == b->difficulty && !strcmp(a->prompt, b->prompt) &&
           !strcmp(a->answer, b->answer) && !strcmp(a->tests, b->tests) && !strcmp(a->solution, b->solution);
}

static void grow(problem_set *ps) {
    size_t want = 16;
    while (want < 2 * (ps->n + 1)) want *= 2;
    if (want <= ps->nslots) return;
    free(ps->slots);
    ps->nslots = want;
    ps->slots = xcalloc(want, sizeof *ps->slots);
    for (size_t i = 0; i < ps->n; i++) insert(ps, i);
}

static int load_shard(problem_set *ps, const char *path, int split, size_t *cap, berr *e) {
    shard_reader *r = shard_open(path, e);
    if (!r) return -1;
    const shard_info *info = shard_get_info(r);
    int rc = 0;
    if (info->kind != SHARD_PROBLEMS) rc = berr_set(e, "%s holds %s records, not problems", path, shard_kind_name(info->kind));
    for (uint64_t k = 0; k < info->count && !rc; k++) {
        const uint8_t *rec;
        size_t len;
        problem_rec p;
        if (shard_get(r, k, &rec, &len, e)) {
            rc = berr_wrap(e, "%s record %llu", path, (unsigned long long)k);
            break;
        }
        if (problem_decode(rec, len, info->schema_version, &p, e)) {
            rc = record_refused(e, path, k, info);
            break;
        }
        if (split != PROBLEMS_ALL_SPLITS && p.split != (uint32_t)split) {
            problem_free(&p);
            continue;
        }
        const problem_rec *old = problem_set_find(ps, p.id);
        if (old) {
            if (!same_problem(old, &p))
                rc = berr_set(e, "%s record %llu: problem id %llu appears with two different records", path,
                              (unsigned long long)k, (unsigned long long)p.id);
            problem_free(&p);
            continue;
        }
        if (ps->n == *cap) {
            *cap = *cap ? 2 * *cap : 1024;
            ps->items = xrealloc(ps->items, *cap * sizeof *ps->items);
        }
        ps->items[ps->n++] = p;
        if (2 * ps->n > ps->nslots) grow(ps);
        else insert(ps, ps->n - 1);
    }
    shard_close(r);
    return rc;
}

int problem_set_load(problem_set *ps, const char *path, int split, int require_closed, berr *e) {
    memset(ps, 0, sizeof *ps);
    size_t cap = 0;
    struct stat st;
    if (stat(path, &st) != 0) return berr_set(e, "cannot open problems %s: no such file or directory", path);
    if (!S_ISDIR(st.st_mode)) {
        int rc = load_shard(ps, path, split, &cap, e);
        if (rc) problem_set_free(ps);
        return rc;
    }
    shard_dir_listing l;
    if (shard_dir_list(path, &l, e)) return berr_wrap(e, "problems %s", path);
    int rc = 0;
    if (require_closed && !l.closed)
        rc = berr_set(e, "problem directory %s is not closed (its producer has not finished writing it)", path);
    else if (l.n_shards == 0)
        rc = berr_set(e, "problems %s: no problem shards found", path);
    for (size_t i = 0; i < l.n_shards && !rc; i++) {
        char *p = xasprintf("%s/%s", path, l.shards[i].name);
        rc = load_shard(ps, p, split, &cap, e);
        free(p);
    }
    shard_dir_listing_free(&l);
    if (rc) problem_set_free(ps);
    return rc;
}

void problem_set_free(problem_set *ps) {
    for (size_t i = 0; i < ps->n; i++) problem_free(&ps->items[i]);
    free(ps->items);
    free(ps->slots);
    memset(ps, 0, sizeof *ps);
}
