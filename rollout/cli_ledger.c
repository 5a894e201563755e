// cli_ledger.c — exactly-once bookkeeping for out-of-order completion, and policy files; see
// cli.h. The commit record (an output shard's metadata) is text:
//
//   berry-rollout 1
//   config <16 hex digits>          hash of the options that shape the trees
//   totals <problems> <nodes> <generated tokens>   committed by this producer, all runs
//   done <input shard> <record>     zero or more: done beyond the cursor
//   cursor                          the rest is the input stream's cursor text (may be absent:
//   <cursor text>                   the start of the input)
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/cli.h"

void ledger_init(ro_ledger *l, uint64_t config_hash) {
    memset(l, 0, sizeof *l);
    l->config_hash = config_hash;
}

static void entry_free(ro_entry *x) {
    free(x->shard);
    free(x->cursor);
    free(x);
}

void ledger_free(ro_ledger *l) {
    for (size_t i = 0; i < l->n; i++) entry_free(l->q[i]);
    free(l->q);
    free(l->base_cursor);
    for (size_t i = 0; i < l->nskip; i++) free(l->skip[i]);
    free(l->skip);
    memset(l, 0, sizeof *l);
}

static char *skip_key(const char *shard, uint64_t record) { return xasprintf("%s\t%" PRIu64, shard, record); }

int ledger_restore(ro_ledger *l, const uint8_t *meta, size_t len, const char *where, berr *e) {
    char *text = xmalloc(len + 1);
    memcpy(text, meta, len);
    text[len] = 0;
    if (strlen(text) != len) {
        free(text);
        return berr_set(e, "%s: the commit record holds a NUL byte", where);
    }
    int rc = 0, line_no = 0, have_config = 0;
    char *p = text;
    while (*p && !rc) {
        char *nl = strchr(p, '\n');
        if (!nl) {
            rc = berr_set(e, "%s: commit record line %d is not terminated", where, line_no + 1);
            break;
        }
        *nl = 0;
        line_no++;
        char shard[512];
        uint64_t a, b, c;
        unsigned long long h;
        int n = 0;
        if (line_no == 1) {
            if (strcmp(p, "berry-rollout 1")) rc = berr_set(e, "%s: not a rollout commit record (line 1: '%.40s')", where, p);
        } else if (sscanf(p, "config %16llx%n", &h, &n) == 1 && p[n] == 0) {
            have_config = 1;
            if ((uint64_t)h != l->config_hash)
                rc = berr_set(e, "%s: these trajectories were made with other branching/sampling options (config %016llx, "
                                 "now %016llx): use the same options, or a new --out directory",
                              where, h, (unsigned long long)l->config_hash);
        } else if (sscanf(p, "totals %" SCNu64 " %" SCNu64 " %" SCNu64 "%n", &a, &b, &c, &n) == 3 && p[n] == 0) {
            l->problems = a, l->nodes = b, l->generated = c;
        } else if (sscanf(p, "done %511s %" SCNu64 "%n", shard, &a, &n) == 2 && p[n] == 0) {
            l->skip = xrealloc(l->skip, (l->nskip + 1) * sizeof *l->skip);
            l->skip[l->nskip++] = skip_key(shard, a);
        } else if (strcmp(p, "cursor") == 0) {
            free(l->base_cursor);
            l->base_cursor = *(nl + 1) ? xstrdup(nl + 1) : NULL;
            break;
        } else {
            rc = berr_set(e, "%s: commit record line %d is malformed: '%.60s'", where, line_no, p);
        }
        p = nl + 1;
    }
    if (!rc && !have_config) rc = berr_set(e, "%s: the commit record has no config line", where);
    free(text);
    return rc;
}

ro_entry *ledger_read(ro_ledger *l, const char *shard, uint64_t record, uint64_t id, char *cursor) {
    ro_entry *x = xcalloc(1, sizeof *x);
    x->shard = xstrdup(shard);
    x->record = record;
    x->id = id;
    x->cursor = cursor;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->q = xrealloc(l->q, l->cap * sizeof *l->q);
    }
    l->q[l->n++] = x;
    if (l->nskip) {
        char *k = skip_key(shard, record);
        for (size_t i = 0; i < l->nskip; i++)
            if (strcmp(l->skip[i], k) == 0) {
                free(l->skip[i]);
                l->skip[i] = l->skip[--l->nskip];
                free(k);
                x->done = 1;
                return NULL;
            }
        free(k);
    }
    return x;
}

static size_t done_prefix(const ro_ledger *l) {
    size_t k = 0;
    while (k < l->n && l->q[k]->done) k++;
    return k;
}

char *ledger_meta(const ro_ledger *l, size_t *len) {
    bbuf b = {0};
    char line[700];
    size_t k = done_prefix(l);
    int n = snprintf(line, sizeof line, "berry-rollout 1\nconfig %016llx\ntotals %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                     (unsigned long long)l->config_hash, l->problems, l->nodes, l->generated);
    bbuf_put(&b, line, (size_t)n);
    for (size_t i = 0; i < l->nskip; i++) {
        const char *tab = strchr(l->skip[i], '\t');
        n = snprintf(line, sizeof line, "done %.*s %s\n", (int)(tab - l->skip[i]), l->skip[i], tab + 1);
        bbuf_put(&b, line, (size_t)n);
    }
    for (size_t i = k; i < l->n; i++)
        if (l->q[i]->done) {
            n = snprintf(line, sizeof line, "done %s %" PRIu64 "\n", l->q[i]->shard, l->q[i]->record);
            bbuf_put(&b, line, (size_t)n);
        }
    bbuf_put(&b, "cursor\n", 7);
    const char *cur = k ? l->q[k - 1]->cursor : l->base_cursor;
    if (cur) bbuf_put(&b, cur, strlen(cur));
    *len = b.n;
    bbuf_u8(&b, 0);
    return (char *)b.p;
}

void ledger_committed(ro_ledger *l) {
    size_t k = done_prefix(l);
    if (!k) return;
    free(l->base_cursor);
    l->base_cursor = l->q[k - 1]->cursor;
    l->q[k - 1]->cursor = NULL;
    for (size_t i = 0; i < k; i++) entry_free(l->q[i]);
    memmove(l->q, l->q + k, (l->n - k) * sizeof *l->q);
    l->n -= k;
}

size_t ledger_in_flight(const ro_ledger *l) {
    size_t c = 0;
    for (size_t i = 0; i < l->n; i++) c += !l->q[i]->done;
    return c;
}

// ---- policy files -------------------------------------------------------------------------------

int64_t policy_version_of_name(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "policy-v", 8)) return -1;
    const char *d = base + 8;
    uint64_t v = 0;
    int nd = 0;
    for (; *d >= '0' && *d <= '9'; d++, nd++) {
        v = v * 10 + (uint64_t)(*d - '0');
        if (v > UINT32_MAX) return -1;
    }
    if (nd == 0 || strcmp(d, ".bin")) return -1;
    return (int64_t)v;
}

int policy_newest(const char *dir, char **path, uint32_t *version, berr *e) {
    DIR *d = opendir(dir);
    if (!d) return berr_set(e, "cannot list the policy directory %s: %s", dir, strerror(errno)), -1;
    int64_t best = -1;
    char *best_name = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t v = policy_version_of_name(de->d_name);
        if (v > best) {
            best = v;
            free(best_name);
            best_name = xstrdup(de->d_name);
        }
    }
    closedir(d);
    if (best < 0) return 0;
    *path = xasprintf("%s/%s", dir, best_name);
    *version = (uint32_t)best;
    free(best_name);
    return 1;
}
