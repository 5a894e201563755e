// json.c — the strict JSON reader of json.h: a recursive-descent parser into an arena.
#include "kernels/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

// ---- the arena: blocks of at least 64 KiB, freed together ----------------------------------
typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_block;

static void *arena_alloc(void **arena, size_t n) {
    n = (n + 15) & ~(size_t)15;
    arena_block *b = *arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        arena_block *nb = xmalloc(sizeof *nb + cap);
        nb->next = b, nb->used = 0, nb->cap = cap;
        *arena = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void json_doc_free(json_doc *d) {
    for (arena_block *b = d->arena, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    d->arena = NULL;
    d->root = NULL;
}

// ---- the parser -------------------------------------------------------------------------------
typedef struct jparse {
    const char *s, *p, *end;
    void **arena;
    bbuf tmp;  // string decoding scratch
    berr *e;
} jparse;

static int jfail(jparse *j, const char *p, const char *what) {
    return berr_set(j->e, "column %zu: %s", (size_t)(p - j->s) + 1, what);
}

static void jws(jparse *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n')) j->p++;
}

static int hex4(jparse *j, unsigned *v) {
    if (j->end - j->p < 4) return jfail(j, j->p, "truncated \\u escape");
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        char c = j->p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return jfail(j, j->p + i, "bad hex digit in a \\u escape");
        x = x << 4 | (unsigned)d;
    }
    j->p += 4;
    *v = x;
    return 0;
}

static void put_utf8(bbuf *b, unsigned cp) {
    if (cp < 0x80) {
        bbuf_u8(b, (uint8_t)cp);
    } else if (cp < 0x800) {
        bbuf_u8(b, (uint8_t)(0xC0 | cp >> 6));
        bbuf_u8(b, (uint8_t)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        bbuf_u8(b, (uint8_t)(0xE0 | cp >> 12));
        bbuf_u8(b, (uint8_t)(0x80 | (cp >> 6 & 0x3F)));
        bbuf_u8(b, (uint8_t)(0x80 | (cp & 0x3F)));
    } else {
        bbuf_u8(b, (uint8_t)(0xF0 | cp >> 18));
        bbuf_u8(b, (uint8_t)(0x80 | (cp >> 12 & 0x3F)));
        bbuf_u8(b, (uint8_t)(0x80 | (cp >> 6 & 0x3F)));
        bbuf_u8(b, (uint8_t)(0x80 | (cp & 0x3F)));
    }
}

// A string at j->p (the opening quote) into the arena: *out (NUL-terminated), *len.
static int jstring(jparse *j, const char **out, size_t *len) {
    const char *open = j->p;
    if (j->p >= j->end || *j->p != '"') return jfail(j, j->p, "expected a string");
    j->p++;
    j->tmp.n = 0;
    for (;;) {
        if (j->p >= j->end) return jfail(j, open, "unterminated string");
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            break;
        }
        if (c < 0x20) return jfail(j, j->p, "control character inside a string (write it as an escape)");
        if (c >= 0x80) {
            size_t k = utf8_seq_len((const unsigned char *)j->p, (size_t)(j->end - j->p));
            if (!k) return jfail(j, j->p, "invalid UTF-8 inside a string");
            bbuf_put(&j->tmp, j->p, k);
            j->p += k;
            continue;
        }
        if (c != '\\') {
            bbuf_u8(&j->tmp, c);
            j->p++;
            continue;
        }
        const char *esc_at = j->p++;
        if (j->p >= j->end) return jfail(j, open, "unterminated string");
        char esc = *j->p++;
        switch (esc) {
        case '"': bbuf_u8(&j->tmp, '"'); continue;
        case '\\': bbuf_u8(&j->tmp, '\\'); continue;
        case '/': bbuf_u8(&j->tmp, '/'); continue;
        case 'b': bbuf_u8(&j->tmp, '\b'); continue;
        case 'f': bbuf_u8(&j->tmp, '\f'); continue;
        case 'n': bbuf_u8(&j->tmp, '\n'); continue;
        case 'r': bbuf_u8(&j->tmp, '\r'); continue;
        case 't': bbuf_u8(&j->tmp, '\t'); continue;
        case 'u': break;
        default: return jfail(j, esc_at, "unknown escape");
        }
        unsigned cp;
        if (hex4(j, &cp)) return -1;
        if (cp >= 0xD800 && cp < 0xDC00) {
            unsigned lo;
            if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
                return jfail(j, esc_at, "high surrogate without a low one");
            j->p += 2;
            if (hex4(j, &lo)) return -1;
            if (lo < 0xDC00 || lo >= 0xE000) return jfail(j, esc_at, "high surrogate without a low one");
            put_utf8(&j->tmp, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
        } else if (cp >= 0xDC80 && cp < 0xDD00) {
            bbuf_u8(&j->tmp, (uint8_t)(cp - 0xDC00));  // surrogate escape: a raw byte
        } else if (cp >= 0xDC00 && cp < 0xE000) {
            return jfail(j, esc_at, "lone low surrogate (only \\udc80..\\udcff stand for raw bytes)");
        } else {
            put_utf8(&j->tmp, cp);
        }
    }
    char *s = arena_alloc(j->arena, j->tmp.n + 1);
    if (j->tmp.n) memcpy(s, j->tmp.p, j->tmp.n);
    s[j->tmp.n] = 0;
    *out = s;
    *len = j->tmp.n;
    return 0;
}

static int is_digit(const jparse *j, const char *p) { return p < j->end && *p >= '0' && *p <= '9'; }

static int jnumber(jparse *j, json_value *v) {
    const char *start = j->p, *p = j->p;
    if (p < j->end && *p == '-') p++;
    if (!is_digit(j, p)) return jfail(j, p, "expected a digit");
    if (*p == '0') {
        p++;
        if (is_digit(j, p)) return jfail(j, p, "leading zero in a number");
    } else {
        while (is_digit(j, p)) p++;
    }
    if (p < j->end && *p == '.') {
        p++;
        if (!is_digit(j, p)) return jfail(j, p, "expected a digit after the decimal point");
        while (is_digit(j, p)) p++;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < j->end && (*p == '+' || *p == '-')) p++;
        if (!is_digit(j, p)) return jfail(j, p, "expected a digit in the exponent");
        while (is_digit(j, p)) p++;
    }
    size_t n = (size_t)(p - start);
    char *s = arena_alloc(j->arena, n + 1);
    memcpy(s, start, n);
    s[n] = 0;
    v->type = JSON_NUMBER;
    v->s = s;
    v->n = n;
    j->p = p;
    return 0;
}

static int jliteral(jparse *j, const char *word, json_type t, json_value *v) {
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n)) return jfail(j, j->p, "expected a value");
    j->p += n;
    v->type = t;
    return 0;
}

static int jvalue(jparse *j, json_value *v, int depth);

// Children of an array or object collected in a malloc'd vector, then copied to the arena.
typedef struct kids {
    json_value *v;
    const char **k;
    size_t *kl;
    size_t *kc;  // column of each key
    size_t n, cap;
} kids;

static void kids_push(kids *c, int keyed) {
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->v = xrealloc(c->v, c->cap * sizeof *c->v);
        if (keyed) {
            c->k = xrealloc(c->k, c->cap * sizeof *c->k);
            c->kl = xrealloc(c->kl, c->cap * sizeof *c->kl);
            c->kc = xrealloc(c->kc, c->cap * sizeof *c->kc);
        }
    }
    memset(&c->v[c->n], 0, sizeof c->v[c->n]);
    c->n++;
}

static void kids_free(kids *c) {
    free(c->v);
    free(c->k);
    free(c->kl);
    free(c->kc);
}

// Duplicate keys, found by sorting the members by key (n log n: a line may hold many keys);
// the error names the later member of the earliest equal pair in document order.
typedef struct keyref {
    const char *k;
    size_t len, idx;
} keyref;

static int cmp_key(const void *a, const void *b) {
    const keyref *x = a, *y = b;
    int r = memcmp(x->k, y->k, x->len < y->len ? x->len : y->len);
    if (r) return r;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int check_duplicates(jparse *j, const kids *c) {
    if (c->n < 2) return 0;
    keyref *r = xmalloc(c->n * sizeof *r);
    for (size_t i = 0; i < c->n; i++) r[i] = (keyref){c->k[i], c->kl[i], i};
    qsort(r, c->n, sizeof *r, cmp_key);
    size_t dup = SIZE_MAX;
    for (size_t i = 1; i < c->n; i++)
        if (r[i].len == r[i - 1].len && !memcmp(r[i].k, r[i - 1].k, r[i].len) && r[i].idx < dup) dup = r[i].idx;
    free(r);
    if (dup == SIZE_MAX) return 0;
    return berr_set(j->e, "column %zu: duplicate key \"%.100s\"", c->kc[dup], c->k[dup]);
}

static int jcontainer(jparse *j, json_value *v, int depth, int object) {
    const char close = object ? '}' : ']';
    if (depth >= JSON_MAX_DEPTH) return jfail(j, j->p, "nested deeper than 64 levels");
    j->p++;  // '{' or '['
    kids c = {0};
    int rc = -1;
    jws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
    } else {
        for (;;) {
            jws(j);
            kids_push(&c, object);
            if (object) {
                const char *key_at = j->p;
                if (j->p >= j->end || *j->p != '"') {
                    jfail(j, j->p, "expected a key (a string)");
                    goto out;
                }
                if (jstring(j, &c.k[c.n - 1], &c.kl[c.n - 1])) goto out;
                c.kc[c.n - 1] = (size_t)(key_at - j->s) + 1;
                jws(j);
                if (j->p >= j->end || *j->p != ':') {
                    jfail(j, j->p, "expected ':' after a key");
                    goto out;
                }
                j->p++;
                jws(j);
            }
            if (jvalue(j, &c.v[c.n - 1], depth + 1)) goto out;
            jws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                jws(j);
                if (j->p < j->end && *j->p == close) {
                    jfail(j, j->p, "trailing comma");
                    goto out;
                }
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                break;
            }
            jfail(j, j->p, object ? "expected ',' or '}'" : "expected ',' or ']'");
            goto out;
        }
    }
    if (object && check_duplicates(j, &c)) goto out;
    v->type = object ? JSON_OBJECT : JSON_ARRAY;
    v->n = c.n;
    if (c.n) {
        v->items = arena_alloc(j->arena, c.n * sizeof *v->items);
        memcpy(v->items, c.v, c.n * sizeof *v->items);
        if (object) {
            v->keys = arena_alloc(j->arena, c.n * sizeof *v->keys);
            memcpy((void *)v->keys, c.k, c.n * sizeof *v->keys);
            v->key_len = arena_alloc(j->arena, c.n * sizeof *v->key_len);
            memcpy(v->key_len, c.kl, c.n * sizeof *v->key_len);
        }
    }
    rc = 0;
out:
    kids_free(&c);
    return rc;
}

static int jvalue(jparse *j, json_value *v, int depth) {
    memset(v, 0, sizeof *v);
    v->column = (size_t)(j->p - j->s) + 1;
    if (j->p >= j->end) return jfail(j, j->p, "expected a value, found the end of the line");
    switch (*j->p) {
    case '{': return jcontainer(j, v, depth, 1);
    case '[': return jcontainer(j, v, depth, 0);
    case '"':
        v->type = JSON_STRING;
        return jstring(j, &v->s, &v->n);
    case 't': return jliteral(j, "true", JSON_TRUE, v);
    case 'f': return jliteral(j, "false", JSON_FALSE, v);
    case 'n': return jliteral(j, "null", JSON_NULL, v);
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) return jnumber(j, v);
        return jfail(j, j->p, "expected a value");
    }
}

int json_parse(json_doc *d, const char *s, size_t n, berr *e) {
    d->root = NULL;
    d->arena = NULL;
    jparse j = {s, s, s + n, &d->arena, {0}, e};
    json_value *root = arena_alloc(&d->arena, sizeof *root);
    jws(&j);
    int rc = jvalue(&j, root, 0);
    if (!rc) {
        jws(&j);
        if (j.p != j.end) rc = jfail(&j, j.p, "unexpected characters after the value");
    }
    bbuf_free(&j.tmp);
    if (rc) {
        json_doc_free(d);
        return -1;
    }
    d->root = root;
    return 0;
}

const json_value *json_get(const json_value *v, const char *key) {
    if (!v || v->type != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < v->n; i++)
        if (v->key_len[i] == n && !memcmp(v->keys[i], key, n)) return &v->items[i];
    return NULL;
}

const char *json_type_name(json_type t) {
    static const char *const names[] = {"null", "false", "true", "number", "string", "array", "object"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

int json_int(const json_value *v, int64_t lo, int64_t hi, int64_t *out, berr *e) {
    if (v->type != JSON_NUMBER) return berr_set(e, "expected an integer, found a %s", json_type_name(v->type));
    if (strpbrk(v->s, ".eE")) return berr_set(e, "expected an integer, found %s", v->s);
    errno = 0;
    char *end;
    long long x = strtoll(v->s, &end, 10);
    if (errno || *end || x < lo || x > hi)
        return berr_set(e, "integer %s out of range [%lld, %lld]", v->s, (long long)lo, (long long)hi);
    *out = x;
    return 0;
}
