// json_in.c — strict JSON into a tree (see json_in.h). Recursive descent, one pass; the
// depth bound keeps the recursion small whatever the input.
#include "kernels/model_io/json_in.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct jp {
    const unsigned char *p;
    size_t n, i;
    berr *e;
} jp;

static int fail(jp *j, const char *what) { return berr_set(j->e, "byte offset %zu: %s", j->i, what); }

static void ws(jp *j) {
    while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\n' || j->p[j->i] == '\r')) j->i++;
}

static void put_utf8(bbuf *b, uint32_t cp) {
    if (cp < 0x80) bbuf_u8(b, (uint8_t)cp);
    else if (cp < 0x800) bbuf_u8(b, (uint8_t)(0xC0 | cp >> 6)), bbuf_u8(b, (uint8_t)(0x80 | (cp & 63)));
    else if (cp < 0x10000)
        bbuf_u8(b, (uint8_t)(0xE0 | cp >> 12)), bbuf_u8(b, (uint8_t)(0x80 | (cp >> 6 & 63))),
            bbuf_u8(b, (uint8_t)(0x80 | (cp & 63)));
    else
        bbuf_u8(b, (uint8_t)(0xF0 | cp >> 18)), bbuf_u8(b, (uint8_t)(0x80 | (cp >> 12 & 63))),
            bbuf_u8(b, (uint8_t)(0x80 | (cp >> 6 & 63))), bbuf_u8(b, (uint8_t)(0x80 | (cp & 63)));
}

static int hex4(jp *j, uint32_t *v) {
    if (j->n - j->i < 4) return fail(j, "\\u escape cut short");
    *v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = j->p[j->i + k];
        int d = c >= '0' && c <= '9' ? (int)c - '0' : c >= 'a' && c <= 'f' ? (int)c - 'a' + 10
                : c >= 'A' && c <= 'F' ? (int)c - 'A' + 10 : -1;
        if (d < 0) return fail(j, "bad hex digit in \\u escape");
        *v = *v << 4 | (uint32_t)d;
    }
    j->i += 4;
    return 0;
}

static int parse_string(jp *j, jv *out) {
    bbuf b = {0};
    j->i++;  // the opening quote
    for (;;) {
        if (j->i >= j->n) { bbuf_free(&b); return fail(j, "string not closed"); }
        unsigned c = j->p[j->i];
        if (c == '"') { j->i++; break; }
        if (c < 0x20) { bbuf_free(&b); return fail(j, "unescaped control character in string"); }
        if (c == '\\') {
            if (++j->i >= j->n) { bbuf_free(&b); return fail(j, "escape cut short"); }
            unsigned x = j->p[j->i++];
            const char *simple = strchr("\"\\/bfnrt", (int)x);
            if (x && simple) {
                static const char map[] = "\"\\/\b\f\n\r\t";
                bbuf_u8(&b, (uint8_t)map[simple - "\"\\/bfnrt"]);
            } else if (x == 'u') {
                uint32_t cp, lo;
                if (hex4(j, &cp)) { bbuf_free(&b); return -1; }
                if (cp >= 0xDC00 && cp <= 0xDFFF) { bbuf_free(&b); return fail(j, "lone low surrogate in \\u escape"); }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (j->n - j->i < 2 || j->p[j->i] != '\\' || j->p[j->i + 1] != 'u') {
                        bbuf_free(&b);
                        return fail(j, "high surrogate not followed by a low one");
                    }
                    j->i += 2;
                    if (hex4(j, &lo)) { bbuf_free(&b); return -1; }
                    if (lo < 0xDC00 || lo > 0xDFFF) { bbuf_free(&b); return fail(j, "high surrogate not followed by a low one"); }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                put_utf8(&b, cp);
            } else {
                j->i--;
                bbuf_free(&b);
                return fail(j, "unknown escape in string");
            }
            continue;
        }
        size_t k = utf8_seq_len(j->p + j->i, j->n - j->i);
        if (!k) { bbuf_free(&b); return fail(j, "invalid UTF-8 in string"); }
        bbuf_put(&b, j->p + j->i, k);
        j->i += k;
    }
    bbuf_u8(&b, 0);
    out->kind = JV_STR;
    out->len = b.n - 1;
    out->s = (char *)b.p;
    return 0;
}

static int parse_number(jp *j, jv *out) {
    size_t s = j->i;
    int neg = 0, frac = 0;
    if (j->p[j->i] == '-') neg = 1, j->i++;
    if (j->i >= j->n || j->p[j->i] < '0' || j->p[j->i] > '9') return fail(j, "bad number");
    if (j->p[j->i] == '0' && j->i + 1 < j->n && j->p[j->i + 1] >= '0' && j->p[j->i + 1] <= '9')
        return fail(j, "number with a leading zero");
    while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') j->i++;
    if (j->i < j->n && j->p[j->i] == '.') {
        frac = 1, j->i++;
        if (j->i >= j->n || j->p[j->i] < '0' || j->p[j->i] > '9') return fail(j, "bad fraction in number");
        while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') j->i++;
    }
    if (j->i < j->n && (j->p[j->i] == 'e' || j->p[j->i] == 'E')) {
        frac = 1, j->i++;
        if (j->i < j->n && (j->p[j->i] == '+' || j->p[j->i] == '-')) j->i++;
        if (j->i >= j->n || j->p[j->i] < '0' || j->p[j->i] > '9') return fail(j, "bad exponent in number");
        while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') j->i++;
    }
    char tmp[64];
    size_t len = j->i - s;
    if (len >= sizeof tmp) { j->i = s; return fail(j, "number too long"); }
    memcpy(tmp, j->p + s, len);
    tmp[len] = 0;
    out->kind = JV_NUM;
    out->num = strtod(tmp, NULL);
    if (!neg && !frac) {
        errno = 0;
        unsigned long long u = strtoull(tmp, NULL, 10);
        if (errno != ERANGE) out->is_uint = 1, out->u = u;
    }
    return 0;
}

static int parse_value(jp *j, jv *out, int depth);

static int parse_container(jp *j, jv *out, int depth, int obj) {
    if (depth >= JV_MAX_DEPTH) return fail(j, "nesting too deep");
    out->kind = obj ? JV_OBJ : JV_ARR;
    j->i++;
    size_t cap = 0;
    ws(j);
    if (j->i < j->n && j->p[j->i] == (obj ? '}' : ']')) { j->i++; return 0; }
    for (;;) {
        if (out->n == cap) {
            cap = cap ? 2 * cap : 8;
            out->items = xrealloc(out->items, cap * sizeof(jv));
            if (obj) out->keys = xrealloc(out->keys, cap * sizeof(jv));
        }
        jv *it = &out->items[out->n], *k = obj ? &out->keys[out->n] : NULL;
        memset(it, 0, sizeof *it);
        if (k) memset(k, 0, sizeof *k);
        ws(j);
        if (obj) {
            if (j->i >= j->n || j->p[j->i] != '"') return fail(j, "expected a string key");
            k->off = j->i;
            if (parse_string(j, k)) return -1;
            for (size_t q = 0; q < out->n; q++)
                if (out->keys[q].len == k->len && memcmp(out->keys[q].s, k->s, k->len) == 0) {
                    out->n++;  // so jv_free frees this key too
                    j->i = k->off;
                    return fail(j, "duplicate key in object");
                }
            ws(j);
            if (j->i >= j->n || j->p[j->i] != ':') { out->n++; return fail(j, "expected ':' after key"); }
            j->i++;
        }
        out->n++;
        if (parse_value(j, it, depth + 1)) return -1;
        ws(j);
        if (j->i >= j->n) return fail(j, obj ? "object not closed" : "array not closed");
        if (j->p[j->i] == ',') { j->i++; continue; }
        if (j->p[j->i] == (obj ? '}' : ']')) { j->i++; return 0; }
        return fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(jp *j, jv *out, int depth) {
    ws(j);
    memset(out, 0, sizeof *out);
    out->off = j->i;
    if (j->i >= j->n) return fail(j, "expected a value, found the end");
    unsigned c = j->p[j->i];
    if (c == '{' || c == '[') return parse_container(j, out, depth, c == '{');
    if (c == '"') return parse_string(j, out);
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(j, out);
    static const char *const words[] = {"true", "false", "null"};
    for (int w = 0; w < 3; w++) {
        size_t l = strlen(words[w]);
        if (j->n - j->i >= l && memcmp(j->p + j->i, words[w], l) == 0) {
            j->i += l;
            out->kind = w == 2 ? JV_NULL : JV_BOOL;
            out->b = w == 0;
            return 0;
        }
    }
    return fail(j, "expected a value");
}

int jv_parse(const char *text, size_t n, jv *out, berr *e) {
    jp j = {(const unsigned char *)text, n, 0, e};
    if (parse_value(&j, out, 0)) {
        jv_free(out);
        return -1;
    }
    ws(&j);
    if (j.i != n) {
        jv_free(out);
        return fail(&j, "text after the JSON value");
    }
    return 0;
}

void jv_free(jv *v) {
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) {
        if (v->items) jv_free(&v->items[i]);
        if (v->keys) jv_free(&v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->s);
    memset(v, 0, sizeof *v);
}

const jv *jv_get(const jv *v, const char *key) {
    if (!v || v->kind != JV_OBJ) return NULL;
    size_t l = strlen(key);
    for (size_t i = 0; i < v->n; i++)
        if (v->keys[i].len == l && memcmp(v->keys[i].s, key, l) == 0) return &v->items[i];
    return NULL;
}
