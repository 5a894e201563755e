// base.h — the few helpers every berry module shares: errors, checked allocation,
// atomic file publication, hashing, a growable byte buffer, deterministic RNG,
// strict number parsing for flags, and a minimal JSON writer for logs.
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- errors -----------------------------------------------------------------------------
// Functions that can fail on external input take a `berr *` and return -1 (or NULL) with a
// message that names what failed and where; 0 (or a pointer) on success.
typedef struct berr {
    char msg[1024];
} berr;

int berr_set(berr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prefix an existing message: "context: old message".
int berr_wrap(berr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
// The program ("verify gen") that die() and other fatal messages name: "<prog>: error: ...".
// Set by the option parser (kernels/train/cli.h); NULL: plain "error: ...".
extern const char *berr_prog;

// ---- memory -----------------------------------------------------------------------------
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// ---- time -------------------------------------------------------------------------------
double now_sec(void);  // monotonic seconds

// ---- files ------------------------------------------------------------------------------
// Atomic publication: bytes go to "<path>.tmp.<pid>", are fsynced, renamed over <path>, and
// the directory is fsynced. A crash at any moment leaves either the old file or the new
// one, never a mix.
typedef struct atomic_file {
    FILE *f;
    char *path;
    char *tmp;
} atomic_file;

int atomic_open(atomic_file *a, const char *path, berr *e);
int atomic_write(atomic_file *a, const void *buf, size_t len, berr *e);
int atomic_commit(atomic_file *a, berr *e);  // fsync, rename, fsync dir; frees a
void atomic_abort(atomic_file *a);            // removes the temporary; frees a
int write_file_atomic(const char *path, const void *buf, size_t len, berr *e);
int fsync_parent_dir(const char *path, berr *e);
// Reads a whole file into a NUL-terminated buffer (the NUL is not counted in *len).
int read_file(const char *path, char **buf, size_t *len, berr *e);
int mkdir_p(const char *path, berr *e);

// ---- hashing ----------------------------------------------------------------------------
uint64_t hash64(const void *p, size_t n, uint64_t seed);  // XXH64
// Incremental XXH64 over data that arrives in pieces (same result as hash64 on the whole).
typedef struct hash64_stream hash64_stream;
hash64_stream *hash64_begin(uint64_t seed);
void hash64_update(hash64_stream *h, const void *p, size_t n);
uint64_t hash64_end(hash64_stream *h);  // frees h

// ---- growable byte buffer -----------------------------------------------------------------
typedef struct bbuf {
    uint8_t *p;
    size_t n, cap;
} bbuf;

void bbuf_reserve(bbuf *b, size_t extra);
void bbuf_put(bbuf *b, const void *src, size_t n);
void bbuf_u8(bbuf *b, uint8_t v);
void bbuf_u32(bbuf *b, uint32_t v);  // little-endian
void bbuf_u64(bbuf *b, uint64_t v);  // little-endian
void bbuf_f32(bbuf *b, float v);
void bbuf_free(bbuf *b);

// Little-endian loads from possibly unaligned bytes.
static inline uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }
static inline void put_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void put_le64(uint8_t *p, uint64_t v) { put_le32(p, (uint32_t)v); put_le32(p + 4, (uint32_t)(v >> 32)); }

// ---- deterministic random numbers ---------------------------------------------------------
// splitmix64: a tiny, well-mixed generator; the whole state is one uint64_t, so it is
// trivially saved in checkpoints.
static inline uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline float rng_uniform(uint64_t *s) { return (float)(rng_next(s) >> 40) * (1.0f / 16777216.0f); }  // [0,1)
float rng_normal(uint64_t *s);
// A stateless mix of several words into one well-distributed 64-bit value (seeding per
// (problem, node, position) and the like).
uint64_t mix64(uint64_t a, uint64_t b);

// ---- strict parsing of flag values ----------------------------------------------------------
// Each rejects empty strings, trailing junk, and values outside [lo, hi], naming the flag.
int parse_i64(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out, berr *e);
int parse_int(const char *flag, const char *s, int lo, int hi, int *out, berr *e);
int parse_f64(const char *flag, const char *s, double lo, double hi, double *out, berr *e);
// Sizes with optional K/M/G suffix (powers of 1000 for counts): "10M" -> 10000000.
int parse_count(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out, berr *e);

// ---- JSON output (logs, `cat` tools) --------------------------------------------------------
// A quoted, escaped JSON string of the bytes s[0..n): valid UTF-8 passes through, every other
// byte XX is written as the escape \udcXX (a lone low surrogate, Python's "surrogateescape"),
// which readers (`verify check`, Python's json with errors="surrogateescape") turn back into the
// raw byte. Model text can hold any byte, so this is the one JSON string writer of berry.
void json_string(FILE *f, const char *s, size_t n);
// Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if the byte starts none.
size_t utf8_seq_len(const unsigned char *s, size_t n);
// Text for a human on one line: newlines as "\n", control characters and bytes that are not
// UTF-8 as "\xNN".
void print_text_escaped(FILE *f, const char *s, size_t n);

#ifdef __cplusplus
}
#endif
