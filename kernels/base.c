// base.c — shared helpers; see base.h.
#include "kernels/base.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

int berr_set(berr *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

// A wrapped message longer than the buffer is cut short on purpose.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
int berr_wrap(berr *e, const char *fmt, ...) {
    if (e) {
        char prefix[512], old[sizeof e->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, e->msg, sizeof old);
        snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
    }
    return -1;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

const char *berr_prog;

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (berr_prog) fprintf(stderr, "%s: ", berr_prog);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of host memory allocating %zu bytes", n);
    return p;
}

void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die("out of host memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) die("out of host memory reallocating to %zu bytes", n);
    return q;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

char *xasprintf(const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) die("xasprintf: bad format");
    char *s = xmalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- files ------------------------------------------------------------------------------

int fsync_parent_dir(const char *path, berr *e) {
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        berr_set(e, "cannot open directory %s to fsync it: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0 && err != EINVAL) {  // some filesystems refuse fsync on directories
        berr_set(e, "fsync of directory %s failed: %s", dir, strerror(err));
        free(dir);
        return -1;
    }
    free(dir);
    return 0;
}

int atomic_open(atomic_file *a, const char *path, berr *e) {
    memset(a, 0, sizeof *a);
    a->path = xstrdup(path);
    a->tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    a->f = fopen(a->tmp, "wb");
    if (!a->f) {
        berr_set(e, "cannot create %s: %s", a->tmp, strerror(errno));
        free(a->path);
        free(a->tmp);
        memset(a, 0, sizeof *a);
        return -1;
    }
    return 0;
}

int atomic_write(atomic_file *a, const void *buf, size_t len, berr *e) {
    if (len && fwrite(buf, 1, len, a->f) != len)
        return berr_set(e, "write to %s failed: %s", a->tmp, strerror(errno));
    return 0;
}

static void atomic_free(atomic_file *a) {
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
}

int atomic_commit(atomic_file *a, berr *e) {
    int rc = 0;
    if (fflush(a->f) != 0) rc = berr_set(e, "write to %s failed: %s", a->tmp, strerror(errno));
    if (!rc && fsync(fileno(a->f)) != 0) rc = berr_set(e, "fsync of %s failed: %s", a->tmp, strerror(errno));
    if (fclose(a->f) != 0 && !rc) rc = berr_set(e, "close of %s failed: %s", a->tmp, strerror(errno));
    a->f = NULL;
    if (!rc && rename(a->tmp, a->path) != 0)
        rc = berr_set(e, "rename %s -> %s failed: %s", a->tmp, a->path, strerror(errno));
    if (rc) unlink(a->tmp);
    if (!rc) rc = fsync_parent_dir(a->path, e);
    atomic_free(a);
    return rc;
}

void atomic_abort(atomic_file *a) {
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    atomic_free(a);
}

int write_file_atomic(const char *path, const void *buf, size_t len, berr *e) {
    atomic_file a;
    if (atomic_open(&a, path, e)) return -1;
    if (atomic_write(&a, buf, len, e)) {
        atomic_abort(&a);
        return -1;
    }
    return atomic_commit(&a, e);
}

int read_file(const char *path, char **buf, size_t *len, berr *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return berr_set(e, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) b = xrealloc(b, cap *= 2);
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(b);
        return berr_set(e, "read of %s failed", path);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

int mkdir_p(const char *path, berr *e) {
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            berr_set(e, "cannot create directory %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) rc = berr_set(e, "cannot create directory %s: %s", p, strerror(errno));
    struct stat st;
    if (!rc && (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))) rc = berr_set(e, "%s exists and is not a directory", p);
    free(p);
    return rc;
}

uint64_t hash64(const void *p, size_t n, uint64_t seed) { return XXH64(p, n, seed); }

struct hash64_stream {
    XXH64_state_t st;
};
hash64_stream *hash64_begin(uint64_t seed) {
    hash64_stream *h = xmalloc(sizeof *h);
    XXH64_reset(&h->st, seed);
    return h;
}
void hash64_update(hash64_stream *h, const void *p, size_t n) { XXH64_update(&h->st, p, n); }
uint64_t hash64_end(hash64_stream *h) {
    uint64_t v = XXH64_digest(&h->st);
    free(h);
    return v;
}

// ---- byte buffer --------------------------------------------------------------------------

void bbuf_reserve(bbuf *b, size_t extra) {
    if (b->n + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}
void bbuf_put(bbuf *b, const void *src, size_t n) {
    if (!n) return;
    bbuf_reserve(b, n);
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
void bbuf_u8(bbuf *b, uint8_t v) { bbuf_put(b, &v, 1); }
void bbuf_u32(bbuf *b, uint32_t v) {
    uint8_t t[4];
    put_le32(t, v);
    bbuf_put(b, t, 4);
}
void bbuf_u64(bbuf *b, uint64_t v) {
    uint8_t t[8];
    put_le64(t, v);
    bbuf_put(b, t, 8);
}
void bbuf_f32(bbuf *b, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    bbuf_u32(b, u);
}
void bbuf_free(bbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

// ---- random -------------------------------------------------------------------------------

float rng_normal(uint64_t *s) {
    // Box-Muller; u1 in (0,1] so log() is finite.
    float u1 = 1.0f - rng_uniform(s);
    float u2 = rng_uniform(s);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
}

uint64_t mix64(uint64_t a, uint64_t b) {
    uint64_t s = a * 0xD6E8FEB86659FD93ull ^ (b + 0x9E3779B97F4A7C15ull);
    rng_next(&s);
    return rng_next(&s);
}

// ---- parsing ------------------------------------------------------------------------------

int parse_i64(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out, berr *e) {
    if (!s || !*s) return berr_set(e, "%s needs a whole number, got an empty value", flag);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return berr_set(e, "%s needs a whole number, got '%s'", flag, s);
    if (v < lo || v > hi) return berr_set(e, "%s must be in [%lld, %lld], got %lld", flag, (long long)lo, (long long)hi, v);
    *out = v;
    return 0;
}

int parse_int(const char *flag, const char *s, int lo, int hi, int *out, berr *e) {
    int64_t v;
    if (parse_i64(flag, s, lo, hi, &v, e)) return -1;
    *out = (int)v;
    return 0;
}

int parse_f64(const char *flag, const char *s, double lo, double hi, double *out, berr *e) {
    if (!s || !*s) return berr_set(e, "%s needs a number, got an empty value", flag);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || isnan(v)) return berr_set(e, "%s needs a number, got '%s'", flag, s);
    if (v < lo || v > hi) return berr_set(e, "%s must be in [%g, %g], got %g", flag, lo, hi, v);
    *out = v;
    return 0;
}

int parse_count(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out, berr *e) {
    if (!s || !*s) return berr_set(e, "%s needs a count, got an empty value", flag);
    size_t n = strlen(s);
    int64_t mult = 1;
    char last = s[n - 1];
    if (last == 'K' || last == 'k') mult = 1000;
    else if (last == 'M' || last == 'm') mult = 1000000;
    else if (last == 'G' || last == 'g') mult = 1000000000;
    char buf[64];
    if (n >= sizeof buf) return berr_set(e, "%s: value too long", flag);
    memcpy(buf, s, n + 1);
    if (mult != 1) buf[n - 1] = 0;
    int64_t v;
    if (parse_i64(flag, buf, 0, INT64_MAX / mult, &v, e)) return berr_set(e, "%s needs a count like 123, 10K or 5M, got '%s'", flag, s);
    v *= mult;
    if (v < lo || v > hi) return berr_set(e, "%s must be in [%lld, %lld], got %lld", flag, (long long)lo, (long long)hi, (long long)v);
    *out = v;
    return 0;
}

// ---- json ---------------------------------------------------------------------------------

size_t utf8_seq_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) len = 3, lo = 0xa0;
    else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) len = 3;
    else if (c == 0xed) len = 3, hi = 0x9f;  // no UTF-16 surrogates
    else if (c == 0xf0) len = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else if (c == 0xf4) len = 4, hi = 0x8f;
    else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

void json_string(FILE *f, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        size_t k = utf8_seq_len(u + i, n - i);
        if (k == 0) {
            fprintf(f, "\\udc%02x", c);
            i++;
            continue;
        }
        if (k > 1) {
            fwrite(u + i, 1, k, f);
            i += k;
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
        i++;
    }
    fputc('"', f);
}

void print_text_escaped(FILE *f, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(u + i, n - i);
        if (k > 1) {
            fwrite(u + i, 1, k, f);
            i += k;
        } else if (k == 1 && u[i] == '\n') {
            fputs("\\n", f);
            i++;
        } else if (k == 1 && u[i] >= 0x20 && u[i] != 0x7f) {
            fputc(u[i++], f);
        } else {
            fprintf(f, "\\x%02x", u[i++]);
        }
    }
}
