// shard_dir.c — shard directories: naming, listing, the CLOSED manifest, and the directory
// writer that publishes shards one by one (protocol: shards/FORMAT.md, "Directories").
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shards/stream.h"

#define PRODUCER_NAME_MAX 48

int shard_producer_name_ok(const char *p) {
    size_t n = strlen(p);
    if (n == 0 || n > PRODUCER_NAME_MAX || p[0] == '.' || p[0] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int shard_name_parse(const char *name, char **producer, uint64_t *seq) {
    if (!ends_with(name, ".shard")) return -1;
    size_t n = strlen(name) - 6;
    const char *dash = NULL;
    for (size_t i = 0; i < n; i++)
        if (name[i] == '-') dash = name + i;
    if (!dash) return -1;
    size_t plen = (size_t)(dash - name), dlen = n - plen - 1;
    if (dlen < SHARD_SEQ_DIGITS || dlen > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < dlen; i++) {
        char c = dash[1 + i];
        if (c < '0' || c > '9') return -1;
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(c - '0');
    }
    // Only the canonical spelling (zero-padded to 8 digits, no extra zeros) names a seq.
    char canon[32];
    snprintf(canon, sizeof canon, "%0*llu", SHARD_SEQ_DIGITS, (unsigned long long)v);
    if (strlen(canon) != dlen || memcmp(canon, dash + 1, dlen) != 0) return -1;
    char *p = xmalloc(plen + 1);
    memcpy(p, name, plen);
    p[plen] = 0;
    if (!shard_producer_name_ok(p)) {
        free(p);
        return -1;
    }
    *producer = p;
    *seq = v;
    return 0;
}

static int entry_cmp(const void *a, const void *b) {
    const shard_dir_entry *x = a, *y = b;
    int c = strcmp(x->producer, y->producer);
    if (c) return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}
static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int manifest_cmp(const void *a, const void *b) {
    return strcmp(((const shard_manifest_entry *)a)->name, ((const shard_manifest_entry *)b)->name);
}

void shard_dir_listing_free(shard_dir_listing *l) {
    for (size_t i = 0; i < l->n_shards; i++) {
        free(l->shards[i].name);
        free(l->shards[i].producer);
    }
    free(l->shards);
    for (size_t i = 0; i < l->n_closed_producers; i++) free(l->closed_producers[i]);
    free(l->closed_producers);
    for (size_t i = 0; i < l->n_manifest; i++) free(l->manifest[i].name);
    free(l->manifest);
    memset(l, 0, sizeof *l);
}

// ---- manifests ------------------------------------------------------------------------------------
// Text, one item per line:
//   berry-closed 1 | berry-producer-closed 1
//   producer <name>            (producer manifests only)
//   producers <n>
//   shard <name> <records> <file bytes>     (one line per shard, sorted by name)

typedef struct manifest {
    char *producer;  // NULL for CLOSED
    uint32_t producers;
    shard_manifest_entry *v;
    size_t n;
} manifest;

static void manifest_free(manifest *m) {
    free(m->producer);
    for (size_t i = 0; i < m->n; i++) free(m->v[i].name);
    free(m->v);
    memset(m, 0, sizeof *m);
}

static int parse_u64_tok(const char *s, uint64_t *v) {
    if (!*s) return -1;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10) return -1;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    return 0;
}

// Parses a manifest file; `producer_file` selects the per-producer form.
static int manifest_read(const char *path, int producer_file, manifest *m, berr *e) {
    memset(m, 0, sizeof *m);
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, e)) return -1;
    if (strlen(buf) != len) {
        free(buf);
        return berr_set(e, "%s: manifest holds a NUL byte", path);
    }
    size_t cap = 0;
    int line_no = 0, rc = 0;
    char *save = NULL;
    int have_magic = 0, have_producers = 0;
    for (char *line = strtok_r(buf, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char *tok[5];
        int nt = 0;
        char *s2 = NULL;
        for (char *t = strtok_r(line, " ", &s2); t; t = strtok_r(NULL, " ", &s2)) {
            if (nt == 5) break;
            tok[nt++] = t;
        }
        uint64_t a = 0, b = 0;
        if (line_no == 1) {
            const char *magic = producer_file ? "berry-producer-closed" : "berry-closed";
            if (nt != 2 || strcmp(tok[0], magic) != 0 || strcmp(tok[1], "1") != 0)
                rc = berr_set(e, "%s: line 1: expected '%s 1'", path, magic);
            have_magic = 1;
        } else if (nt == 2 && strcmp(tok[0], "producer") == 0 && producer_file && !m->producer) {
            if (!shard_producer_name_ok(tok[1])) rc = berr_set(e, "%s: line %d: bad producer name", path, line_no);
            else m->producer = xstrdup(tok[1]);
        } else if (nt == 2 && strcmp(tok[0], "producers") == 0 && !have_producers) {
            if (parse_u64_tok(tok[1], &a) || a < 1 || a > 100000)
                rc = berr_set(e, "%s: line %d: bad producer count", path, line_no);
            m->producers = (uint32_t)a;
            have_producers = 1;
        } else if (nt == 4 && strcmp(tok[0], "shard") == 0) {
            char *prod;
            uint64_t seq;
            if (shard_name_parse(tok[1], &prod, &seq) || parse_u64_tok(tok[2], &a) || parse_u64_tok(tok[3], &b)) {
                rc = berr_set(e, "%s: line %d: malformed shard line", path, line_no);
                break;
            }
            free(prod);
            if (m->n == cap) m->v = xrealloc(m->v, (cap = cap ? 2 * cap : 64) * sizeof *m->v);
            m->v[m->n++] = (shard_manifest_entry){xstrdup(tok[1]), a, b};
        } else {
            rc = berr_set(e, "%s: line %d: unexpected line", path, line_no);
        }
    }
    free(buf);
    if (!rc && (!have_magic || !have_producers || (producer_file && !m->producer)))
        rc = berr_set(e, "%s: incomplete manifest", path);
    if (!rc) {
        if (m->n > 1) qsort(m->v, m->n, sizeof *m->v, manifest_cmp);
        for (size_t i = 1; i < m->n; i++)
            if (strcmp(m->v[i].name, m->v[i - 1].name) == 0) {
                rc = berr_set(e, "%s: shard %s listed twice", path, m->v[i].name);
                break;
            }
    }
    if (rc) manifest_free(m);
    return rc;
}

static int manifest_write(const char *path, const manifest *m, berr *e) {
    bbuf b = {0};
    char line[256];
    int n = m->producer ? snprintf(line, sizeof line, "berry-producer-closed 1\nproducer %s\n", m->producer)
                        : snprintf(line, sizeof line, "berry-closed 1\n");
    bbuf_put(&b, line, (size_t)n);
    n = snprintf(line, sizeof line, "producers %u\n", m->producers);
    bbuf_put(&b, line, (size_t)n);
    for (size_t i = 0; i < m->n; i++) {
        n = snprintf(line, sizeof line, "shard %s %llu %llu\n", m->v[i].name, (unsigned long long)m->v[i].records,
                     (unsigned long long)m->v[i].file_bytes);
        bbuf_put(&b, line, (size_t)n);
    }
    int rc = write_file_atomic(path, b.p, b.n, e);
    bbuf_free(&b);
    return rc;
}

// ---- listing ----------------------------------------------------------------------------------------

// One pass of readdir. Entries that exist for the whole pass are all returned; one created
// during it may or may not be.
static int list_pass(const char *dir, shard_dir_listing *out, berr *e) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return berr_set(e, "cannot open shard directory %s: %s", dir, strerror(errno));
    size_t cap = 0, pcap = 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && (errno = 0, de = readdir(d))) {
        const char *nm = de->d_name;
        if (nm[0] == '.') continue;  // ".", "..", lock files
        if (strstr(nm, ".tmp.")) {
            out->n_temps++;
        } else if (ends_with(nm, ".shard")) {
            char *prod;
            uint64_t seq;
            if (shard_name_parse(nm, &prod, &seq)) {
                rc = berr_set(e, "%s/%s: a shard name must be <producer>-<seq>.shard (seq zero-padded to %d digits)",
                              dir, nm, SHARD_SEQ_DIGITS);
                break;
            }
            if (out->n_shards == cap) out->shards = xrealloc(out->shards, (cap = cap ? 2 * cap : 64) * sizeof *out->shards);
            out->shards[out->n_shards++] = (shard_dir_entry){xstrdup(nm), prod, seq};
        } else if (ends_with(nm, ".closed")) {
            char *p = xstrdup(nm);
            p[strlen(p) - 7] = 0;
            if (!shard_producer_name_ok(p)) {
                free(p);
                continue;  // not one of ours
            }
            if (out->n_closed_producers == pcap)
                out->closed_producers = xrealloc(out->closed_producers, (pcap = pcap ? 2 * pcap : 8) * sizeof(char *));
            out->closed_producers[out->n_closed_producers++] = p;
        } else if (strcmp(nm, "CLOSED") == 0) {
            out->closed = 1;
        }
    }
    if (!rc && errno) rc = berr_set(e, "reading directory %s failed: %s", dir, strerror(errno));
    closedir(d);
    if (rc) {
        shard_dir_listing_free(out);
        return -1;
    }
    if (out->n_shards > 1) qsort(out->shards, out->n_shards, sizeof *out->shards, entry_cmp);
    if (out->n_closed_producers > 1) qsort(out->closed_producers, out->n_closed_producers, sizeof(char *), str_cmp);
    return 0;
}

int shard_dir_list(const char *dir, shard_dir_listing *out, berr *e) {
    if (list_pass(dir, out, e)) return -1;
    int rc = 0;
    if (out->closed) {
        // CLOSED was seen, but a shard published during that pass may have been missed. Every
        // shard was published before CLOSED, so a pass that starts now sees them all.
        shard_dir_listing_free(out);
        if (list_pass(dir, out, e)) return -1;
        if (!out->closed) {
            shard_dir_listing_free(out);
            return berr_set(e, "%s: CLOSED disappeared while listing", dir);
        }
    }
    if (out->closed) {
        char *path = xasprintf("%s/CLOSED", dir);
        manifest m;
        rc = manifest_read(path, 0, &m, e);
        free(path);
        if (rc) {
            shard_dir_listing_free(out);
            return -1;
        }
        out->producers = m.producers;
        out->manifest = m.v;
        out->n_manifest = m.n;
        m.v = NULL;
        m.n = 0;
        manifest_free(&m);
        // A closed directory holds exactly the shards its manifest lists.
        char **names = xmalloc((out->n_shards ? out->n_shards : 1) * sizeof(char *));
        for (size_t i = 0; i < out->n_shards; i++) names[i] = out->shards[i].name;
        if (out->n_shards > 1) qsort(names, out->n_shards, sizeof(char *), str_cmp);
        size_t i = 0, j = 0;
        while (!rc && (i < out->n_shards || j < out->n_manifest)) {
            int c = i == out->n_shards ? 1 : j == out->n_manifest ? -1 : strcmp(names[i], out->manifest[j].name);
            if (c < 0) rc = berr_set(e, "%s/%s is present but the CLOSED manifest does not list it", dir, names[i]);
            else if (c > 0)
                rc = berr_set(e, "%s/%s is listed in the CLOSED manifest but missing", dir, out->manifest[j].name);
            else i++, j++;
        }
        free(names);
        if (rc) shard_dir_listing_free(out);
    }
    return rc;
}

static int check_entry(const char *dir, const shard_manifest_entry *m, const char *which, berr *e) {
    char *p = xasprintf("%s/%s", dir, m->name);
    shard_reader *r = shard_open(p, e);
    free(p);
    if (!r) return -1;
    const shard_info *in = shard_get_info(r);
    int rc = 0;
    if (in->count != m->records || in->file_bytes != m->file_bytes)
        rc = berr_set(e, "%s/%s: %s lists %llu records and %llu bytes, the shard has %llu and %llu", dir, m->name, which,
                      (unsigned long long)m->records, (unsigned long long)m->file_bytes, (unsigned long long)in->count,
                      (unsigned long long)in->file_bytes);
    shard_close(r);
    return rc;
}

int shard_dir_check_manifests(const char *dir, berr *e) {
    shard_dir_listing l;
    if (shard_dir_list(dir, &l, e)) return -1;
    int rc = 0;
    for (size_t i = 0; i < l.n_manifest && !rc; i++) rc = check_entry(dir, &l.manifest[i], "CLOSED", e);
    for (size_t k = 0; k < l.n_closed_producers && !rc; k++) {
        const char *prod = l.closed_producers[k];
        char *path = xasprintf("%s/%s.closed", dir, prod);
        manifest m;
        rc = manifest_read(path, 1, &m, e);
        if (!rc && strcmp(m.producer, prod) != 0)
            rc = berr_set(e, "%s: names producer %s", path, m.producer);
        size_t matched = 0;
        for (size_t i = 0; i < l.n_shards && !rc; i++) {
            if (strcmp(l.shards[i].producer, prod) != 0) continue;
            shard_manifest_entry key = {l.shards[i].name, 0, 0};
            const shard_manifest_entry *me = m.n ? bsearch(&key, m.v, m.n, sizeof *m.v, manifest_cmp) : NULL;
            if (!me) rc = berr_set(e, "%s/%s: present, but %s does not list it", dir, l.shards[i].name, path);
            else rc = check_entry(dir, me, path, e), matched++;
        }
        if (!rc && matched != m.n)
            rc = berr_set(e, "%s lists %zu shards, %zu of them are present", path, m.n, matched);
        manifest_free(&m);
        free(path);
    }
    shard_dir_listing_free(&l);
    return rc;
}

// ---- the directory writer -------------------------------------------------------------------------------

struct shard_dir_writer {
    char *dir, *producer;
    uint32_t kind, schema;
    shard_dir_opts o;
    int lock_fd;
    uint64_t next_seq, published;
    char *last_name;
    shard_writer *cur;
    int closed_already;
    int created_dir;  // the directory did not exist before this writer
};

static void dir_writer_free(shard_dir_writer *w) {
    if (w->cur) shard_discard(w->cur);
    if (w->lock_fd >= 0) close(w->lock_fd);  // releases the flock
    free(w->dir);
    free(w->producer);
    free(w->last_name);
    free(w);
}

// Removes this producer's temporaries (we hold its lock, so they are stale) and CLOSED
// temporaries of processes that no longer exist.
static int remove_stale_temps(shard_dir_writer *w, berr *e) {
    DIR *d = opendir(w->dir);
    if (!d) return berr_set(e, "cannot open shard directory %s: %s", w->dir, strerror(errno));
    size_t plen = strlen(w->producer);
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        const char *nm = de->d_name, *t = strstr(nm, ".tmp.");
        if (!t) continue;
        char *base = xstrdup(nm);
        base[t - nm] = 0;
        char *prod;
        uint64_t seq;
        int ours = 0;
        if (shard_name_parse(base, &prod, &seq) == 0) {
            ours = strcmp(prod, w->producer) == 0;
            free(prod);
        } else if (strncmp(base, w->producer, plen) == 0 &&
                   (strcmp(base + plen, ".closed") == 0 || strcmp(base + plen, ".cursor") == 0)) {
            ours = 1;
        } else if (strcmp(base, "CLOSED") == 0) {
            char *end;
            long pid = strtol(t + 5, &end, 10);
            ours = !*end && pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        }
        free(base);
        if (!ours) continue;
        char *path = xasprintf("%s/%s", w->dir, nm);
        if (unlink(path) != 0 && errno != ENOENT) rc = berr_set(e, "cannot remove stale %s: %s", path, strerror(errno));
        free(path);
    }
    closedir(d);
    return rc;
}

shard_dir_writer *shard_dir_writer_open(const char *dir, const char *producer, uint32_t kind, uint32_t schema,
                                        const shard_dir_opts *o, berr *e) {
    if (!shard_producer_name_ok(producer)) {
        berr_set(e, "producer name '%s' must be 1..%d characters of [A-Za-z0-9._-], not starting with '.' or '-'",
                 producer, PRODUCER_NAME_MAX);
        return NULL;
    }
    struct stat dst;
    int existed = stat(dir, &dst) == 0;
    if (mkdir_p(dir, e)) return NULL;
    shard_dir_writer *w = xcalloc(1, sizeof *w);
    w->created_dir = !existed;
    w->dir = xstrdup(dir);
    w->producer = xstrdup(producer);
    w->kind = kind;
    w->schema = schema;
    if (o) w->o = *o;
    if (w->o.producers == 0) w->o.producers = 1;
    char *lock = xasprintf("%s/.%s.lock", dir, producer);
    w->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (w->lock_fd < 0) {
        berr_set(e, "cannot create lock file %s: %s", lock, strerror(errno));
        free(lock);
        dir_writer_free(w);
        return NULL;
    }
    if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        berr_set(e, "%s: another process is writing as producer %s (lock %s is held)", dir, producer, lock);
        free(lock);
        dir_writer_free(w);
        return NULL;
    }
    free(lock);
    if (remove_stale_temps(w, e)) {
        dir_writer_free(w);
        return NULL;
    }
    shard_dir_listing l;
    if (shard_dir_list(dir, &l, e)) {
        dir_writer_free(w);
        return NULL;
    }
    for (size_t i = 0; i < l.n_shards; i++)
        if (strcmp(l.shards[i].producer, producer) == 0) {
            w->published++;
            w->next_seq = l.shards[i].seq + 1;  // sorted by seq within a producer
            free(w->last_name);
            w->last_name = xstrdup(l.shards[i].name);
        }
    for (size_t i = 0; i < l.n_closed_producers; i++)
        if (strcmp(l.closed_producers[i], producer) == 0) w->closed_already = 1;
    int closed_dir = l.closed;
    shard_dir_listing_free(&l);
    if (closed_dir && !w->closed_already) {
        berr_set(e, "%s is closed (CLOSED exists): producer %s cannot add shards to it", dir, producer);
        dir_writer_free(w);
        return NULL;
    }
    return w;
}

static int open_shard(shard_dir_writer *w, berr *e) {
    if (w->closed_already)
        return berr_set(e, "%s: producer %s already closed this directory; it cannot add shards", w->dir, w->producer);
    char *path = xasprintf("%s/%s-%0*llu.shard", w->dir, w->producer, SHARD_SEQ_DIGITS, (unsigned long long)w->next_seq);
    w->cur = shard_create_opts(path, w->kind, w->schema, w->producer, &w->o.shard, e);
    free(path);
    return w->cur ? 0 : -1;
}

int shard_dir_publish(shard_dir_writer *w, const void *meta, size_t meta_len, berr *e) {
    if (!w->cur && !meta) return 0;
    if (!w->cur && open_shard(w, e)) return -1;
    if (meta && shard_set_meta(w->cur, meta, meta_len, e)) return -1;
    const char *path = shard_writer_path(w->cur);
    const char *slash = strrchr(path, '/');
    char *name = xstrdup(slash ? slash + 1 : path);
    shard_writer *cur = w->cur;
    w->cur = NULL;
    if (shard_finish(cur, e)) {
        free(name);
        return -1;
    }
    free(w->last_name);
    w->last_name = name;
    w->published++;
    w->next_seq++;
    return 0;
}

int shard_dir_append(shard_dir_writer *w, const void *rec, size_t len, berr *e) {
    if (!w->cur && open_shard(w, e)) return -1;
    if (shard_append(w->cur, rec, len, e)) return -1;
    if ((w->o.max_records && shard_writer_count(w->cur) >= w->o.max_records) ||
        (w->o.max_raw_bytes && shard_writer_raw_bytes(w->cur) >= w->o.max_raw_bytes))
        return shard_dir_publish(w, NULL, 0, e);
    return 0;
}

uint64_t shard_dir_pending(const shard_dir_writer *w) { return w->cur ? shard_writer_count(w->cur) : 0; }
uint64_t shard_dir_pending_bytes(const shard_dir_writer *w) { return w->cur ? shard_writer_raw_bytes(w->cur) : 0; }
uint64_t shard_dir_published(const shard_dir_writer *w) { return w->published; }
const char *shard_dir_last_name(const shard_dir_writer *w) { return w->last_name ? w->last_name : ""; }
int shard_dir_writer_is_closed(const shard_dir_writer *w) { return w->closed_already; }

void shard_dir_abort(shard_dir_writer *w) {
    if (!w) return;
    // A producer that never published anything here (nor closed, nor left a stage cursor)
    // leaves no trace: its lock file goes (removed while held), and the directory too when
    // this writer created it and nothing else is in it.
    char *cursor = xasprintf("%s/%s.cursor", w->dir, w->producer);
    int trace = w->published || w->closed_already || access(cursor, F_OK) == 0;
    char *lock = trace ? NULL : xasprintf("%s/.%s.lock", w->dir, w->producer);
    char *dir = !trace && w->created_dir ? xstrdup(w->dir) : NULL;
    if (w->cur) {
        shard_discard(w->cur);
        w->cur = NULL;
    }
    if (lock && w->lock_fd >= 0) unlink(lock);
    dir_writer_free(w);
    if (dir) rmdir(dir);
    free(cursor), free(lock), free(dir);
}

// Reads the header of every shard of `producer` in the listing into a manifest.
static int producer_manifest(shard_dir_writer *w, const shard_dir_listing *l, manifest *m, berr *e) {
    memset(m, 0, sizeof *m);
    m->producer = xstrdup(w->producer);
    m->producers = w->o.producers;
    m->v = xmalloc((l->n_shards ? l->n_shards : 1) * sizeof *m->v);
    for (size_t i = 0; i < l->n_shards; i++) {
        if (strcmp(l->shards[i].producer, w->producer) != 0) continue;
        char *path = xasprintf("%s/%s", w->dir, l->shards[i].name);
        shard_reader *r = shard_open(path, e);
        free(path);
        if (!r) {
            manifest_free(m);
            return -1;
        }
        const shard_info *in = shard_get_info(r);
        m->v[m->n++] = (shard_manifest_entry){xstrdup(l->shards[i].name), in->count, in->file_bytes};
        shard_close(r);
    }
    if (m->n > 1) qsort(m->v, m->n, sizeof *m->v, manifest_cmp);
    return 0;
}

// Writes CLOSED when every producer of the directory has closed.
static int maybe_close_dir(shard_dir_writer *w, berr *e) {
    shard_dir_listing l;
    if (shard_dir_list(w->dir, &l, e)) return -1;
    if (l.closed || l.n_closed_producers < w->o.producers) {
        shard_dir_listing_free(&l);
        return 0;
    }
    manifest all = {0};
    all.producers = w->o.producers;
    int rc = 0;
    size_t cap = 0;
    for (size_t i = 0; i < l.n_closed_producers && !rc; i++) {
        char *path = xasprintf("%s/%s.closed", w->dir, l.closed_producers[i]);
        manifest m;
        rc = manifest_read(path, 1, &m, e);
        free(path);
        if (rc) break;
        if (m.producers != w->o.producers || strcmp(m.producer, l.closed_producers[i]) != 0) {
            rc = berr_set(e, "%s/%s.closed: says %u producers (producer %s), this producer expects %u", w->dir,
                          l.closed_producers[i], m.producers, m.producer, w->o.producers);
        }
        for (size_t j = 0; j < m.n && !rc; j++) {
            if (all.n == cap) all.v = xrealloc(all.v, (cap = cap ? 2 * cap : 64) * sizeof *all.v);
            all.v[all.n++] = m.v[j];
            m.v[j].name = NULL;
        }
        manifest_free(&m);
    }
    if (!rc && l.n_closed_producers != w->o.producers)
        rc = berr_set(e, "%s: %zu producers closed the directory, %u were expected", w->dir, l.n_closed_producers,
                      w->o.producers);
    if (!rc) {
        if (all.n > 1) qsort(all.v, all.n, sizeof *all.v, manifest_cmp);
        // Every shard present must be in a closed producer's manifest (nobody else is writing).
        size_t j = 0;
        char **names = xmalloc((l.n_shards ? l.n_shards : 1) * sizeof(char *));
        for (size_t i = 0; i < l.n_shards; i++) names[i] = l.shards[i].name;
        if (l.n_shards > 1) qsort(names, l.n_shards, sizeof(char *), str_cmp);
        for (size_t i = 0; i < l.n_shards && !rc; i++) {
            while (j < all.n && strcmp(all.v[j].name, names[i]) < 0) j++;
            if (j == all.n || strcmp(all.v[j].name, names[i]) != 0)
                rc = berr_set(e, "%s/%s: present, but no closed producer lists it", w->dir, names[i]);
        }
        free(names);
    }
    if (!rc) {
        char *path = xasprintf("%s/CLOSED", w->dir);
        rc = manifest_write(path, &all, e);
        free(path);
    }
    manifest_free(&all);
    shard_dir_listing_free(&l);
    return rc;
}

int shard_dir_close(shard_dir_writer *w, berr *e) {
    int rc = 0;
    if (!w->closed_already) {
        rc = shard_dir_publish(w, NULL, 0, e);
        shard_dir_listing l;
        if (!rc) rc = shard_dir_list(w->dir, &l, e);
        if (!rc) {
            manifest m;
            rc = producer_manifest(w, &l, &m, e);
            shard_dir_listing_free(&l);
            if (!rc) {
                char *path = xasprintf("%s/%s.closed", w->dir, w->producer);
                rc = manifest_write(path, &m, e);
                free(path);
                manifest_free(&m);
            }
        }
    }
    if (!rc) rc = maybe_close_dir(w, e);
    dir_writer_free(w);
    return rc;
}
