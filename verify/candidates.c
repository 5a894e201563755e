// candidates.c — a strict reader for the JSON-lines candidate file (candidates.h).
#include <stdlib.h>
#include <string.h>

#include "verify/candidates.h"

typedef struct jp {
    const char *s, *p, *end;
    const char *path;
    size_t line;
    berr *e;
} jp;

static int fail(jp *j, const char *what) {
    return berr_set(j->e, "%s:%zu:%zu: %s", j->path, j->line, (size_t)(j->p - j->s) + 1, what);
}

static void ws(jp *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r')) j->p++;
}

static int hex4(jp *j, unsigned *v) {
    if (j->end - j->p < 4) return fail(j, "truncated \\u escape");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *j->p++;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return fail(j, "bad hex digit in a \\u escape");
        *v = *v << 4 | (unsigned)d;
    }
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

static int string(jp *j, bbuf *out) {
    if (j->p >= j->end || *j->p != '"') return fail(j, "expected a string");
    j->p++;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            return 0;
        }
        if (c < 0x20) return fail(j, "control character inside a string");
        if (c != '\\') {
            bbuf_u8(out, c);
            j->p++;
            continue;
        }
        if (++j->p >= j->end) break;
        char esc = *j->p++;
        const char *simple = strchr("\"\\/bfnrt", esc);
        if (esc && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            bbuf_u8(out, (uint8_t)map[simple - "\"\\/bfnrt"]);
            continue;
        }
        if (esc != 'u') return fail(j, "unknown escape");
        unsigned cp;
        if (hex4(j, &cp)) return -1;
        if (cp >= 0xD800 && cp < 0xDC00) {
            unsigned lo;
            if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u') return fail(j, "high surrogate without a low one");
            j->p += 2;
            if (hex4(j, &lo)) return -1;
            if (lo < 0xDC00 || lo >= 0xE000) return fail(j, "high surrogate without a low one");
            put_utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
        } else if (cp >= 0xDC80 && cp < 0xDD00) {
            bbuf_u8(out, (uint8_t)(cp - 0xDC00));  // surrogate escape: a raw byte
        } else if (cp >= 0xDC00 && cp < 0xE000) {
            return fail(j, "lone low surrogate (only \\udc80..\\udcff stand for raw bytes)");
        } else {
            put_utf8(out, cp);
        }
    }
    return fail(j, "unterminated string");
}

static int uint_value(jp *j, uint64_t max, uint64_t *v) {
    int quoted = j->p < j->end && *j->p == '"';
    if (quoted) j->p++;
    const char *start = j->p;
    uint64_t x = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p - '0');
        if (x > (max - d) / 10) return fail(j, "number out of range");
        x = x * 10 + d;
        j->p++;
    }
    if (j->p == start) return fail(j, "expected an unsigned integer");
    if (j->p - start > 1 && *start == '0') return fail(j, "leading zero in a number");
    if (quoted) {
        if (j->p >= j->end || *j->p != '"') return fail(j, "expected the closing quote of a number");
        j->p++;
    } else if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E')) {
        return fail(j, "expected an integer");
    }
    *v = x;
    return 0;
}

int candidate_parse_line(const char *s, size_t n, candidate *out, const char *path, size_t line, berr *e) {
    jp j = {s, s, s + n, path, line, e};
    memset(out, 0, sizeof *out);
    int have_problem = 0, have_node = 0, have_pv = 0, have_completion = 0;
    bbuf key = {0}, text = {0};
    int rc = -1;
    ws(&j);
    if (j.p >= j.end || *j.p != '{') {
        fail(&j, "expected '{'");
        goto out;
    }
    j.p++;
    ws(&j);
    if (j.p < j.end && *j.p == '}') {
        fail(&j, "empty object");
        goto out;
    }
    for (;;) {
        ws(&j);
        key.n = 0;
        if (string(&j, &key)) goto out;
        bbuf_u8(&key, 0);
        ws(&j);
        if (j.p >= j.end || *j.p != ':') {
            fail(&j, "expected ':'");
            goto out;
        }
        j.p++;
        ws(&j);
        const char *k = (const char *)key.p;
        int *seen = !strcmp(k, "problem") ? &have_problem : !strcmp(k, "node") ? &have_node
                  : !strcmp(k, "policy_version") ? &have_pv : !strcmp(k, "completion") ? &have_completion : NULL;
        if (!seen) {
            berr_set(e, "%s:%zu: unknown key \"%s\" (expected problem, completion, node, policy_version)", path, line, k);
            goto out;
        }
        if ((*seen)++) {
            berr_set(e, "%s:%zu: duplicate key \"%s\"", path, line, k);
            goto out;
        }
        uint64_t v;
        if (seen == &have_problem) {
            if (uint_value(&j, UINT64_MAX, &out->problem)) goto out;
        } else if (seen == &have_node) {
            if (uint_value(&j, UINT32_MAX, &v)) goto out;
            out->node = (uint32_t)v;
        } else if (seen == &have_pv) {
            if (uint_value(&j, UINT32_MAX, &v)) goto out;
            out->policy_version = (uint32_t)v;
        } else if (string(&j, &text)) {
            goto out;
        }
        ws(&j);
        if (j.p < j.end && *j.p == ',') {
            j.p++;
            continue;
        }
        if (j.p < j.end && *j.p == '}') {
            j.p++;
            break;
        }
        fail(&j, "expected ',' or '}'");
        goto out;
    }
    ws(&j);
    if (j.p != j.end) {
        fail(&j, "trailing characters after the object");
        goto out;
    }
    if (!have_problem || !have_completion) {
        berr_set(e, "%s:%zu: missing \"%s\"", path, line, have_problem ? "completion" : "problem");
        goto out;
    }
    out->len = text.n;
    bbuf_u8(&text, 0);
    out->completion = (char *)text.p;
    text.p = NULL;
    rc = 0;
out:
    bbuf_free(&key);
    bbuf_free(&text);
    return rc;
}

int candidates_load(const char *path, candidate_list *out, berr *e) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, e)) return -1;
    size_t cap = 0, line = 0;
    int rc = 0;
    for (const char *s = buf, *end = buf + len; s < end && !rc;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *stop = nl ? nl : end;
        line++;
        const char *t = s;
        while (t < stop && (*t == ' ' || *t == '\t' || *t == '\r')) t++;
        if (t < stop) {
            if (out->n == cap) {
                cap = cap ? 2 * cap : 256;
                out->items = xrealloc(out->items, cap * sizeof *out->items);
            }
            if (candidate_parse_line(s, (size_t)(stop - s), &out->items[out->n], path, line, e)) rc = -1;
            else out->n++;
        }
        s = nl ? nl + 1 : end;
    }
    free(buf);
    if (!rc && out->n == 0) rc = berr_set(e, "%s: no candidates", path);
    if (rc) candidates_free(out);
    return rc;
}

void candidates_free(candidate_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->items[i].completion);
    free(l->items);
    memset(l, 0, sizeof *l);
}
