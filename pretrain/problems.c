// problems.c — problem shards into memory (see problems.h).
#include "pretrain/problems.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shards/shard.h"
#include "shards/stream.h"

static int load_shard(pt_problems *ps, const char *path, int split, berr *e) {
    shard_reader *r = shard_open(path, e);
    if (!r) return -1;
    const shard_info *info = shard_get_info(r);
    int rc = 0;
    if (info->kind != SHARD_PROBLEMS)
        rc = berr_set(e, "%s holds %s records, not problems", path, shard_kind_name(info->kind));
    for (uint64_t i = 0; !rc && i < info->count; i++) {
        const uint8_t *rec;
        size_t len;
        problem_rec p;
        if (shard_get(r, i, &rec, &len, e)) {
            rc = berr_wrap(e, "%s: record %llu", path, (unsigned long long)i);
            break;
        }
        if (problem_decode(rec, len, info->schema_version, &p, e)) {
            rc = record_refused(e, path, i, info);
            break;
        }
        if (split >= 0 && p.split != (uint32_t)split) {
            problem_free(&p);
            continue;
        }
        if (ps->n == ps->cap) ps->p = xrealloc(ps->p, (ps->cap = ps->cap ? 2 * ps->cap : 256) * sizeof *ps->p);
        ps->p[ps->n++] = p;
    }
    shard_close(r);
    return rc;
}

int pt_problems_load(pt_problems *ps, const char *path, int split, berr *e) {
    memset(ps, 0, sizeof *ps);
    struct stat st;
    if (stat(path, &st) != 0) return berr_set(e, "cannot open problems %s: no such file or directory", path);
    if (!S_ISDIR(st.st_mode)) return load_shard(ps, path, split, e);
    shard_dir_listing l;
    if (shard_dir_list(path, &l, e)) return -1;
    int rc = 0;
    if (!l.closed)
        rc = berr_set(e, "problem directory %s is not closed (its producer has not finished writing it)", path);
    for (size_t i = 0; !rc && i < l.n_shards; i++) {
        char *p = xasprintf("%s/%s", path, l.shards[i].name);
        rc = load_shard(ps, p, split, e);
        free(p);
    }
    shard_dir_listing_free(&l);
    if (rc) pt_problems_free(ps);
    return rc;
}

void pt_problems_free(pt_problems *ps) {
    for (size_t i = 0; i < ps->n; i++) problem_free(&ps->p[i]);
    free(ps->p);
    memset(ps, 0, sizeof *ps);
}
