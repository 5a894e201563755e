// test_json.c — the strict JSON reader (shards/json.h): valid documents decode to the right
// values; every class of malformed input is refused with its reason and column; random value
// trees written with json_string (kernels/base.h) and random whitespace parse back to the same
// tree; random mutations of valid documents never crash and every refusal names a column
// inside the input.
#include <string.h>

#include "kernels/base.h"
#include "kernels/json.h"
#include "tests/test.h"

static int parses(const char *s, size_t n, json_doc *d, berr *e) { return json_parse(d, s, n, e) == 0; }

static void test_valid(void) {
    json_doc d;
    berr e;
    const char *doc = " {\"a\": [1, -2.5e3, true, false, null], \"s\": \"x\\n\\u00e9\\ud83d\\ude00\\udcff\\\"\\/\","
                      " \"o\": {}, \"e\": [], \"z\": 0}\r\n";
    int ok = parses(doc, strlen(doc), &d, &e);
    CHECK(ok, "a valid document parses: %s", ok ? "" : e.msg);
    if (!ok) return;
    const json_value *r = d.root;
    CHECK(r->type == JSON_OBJECT && r->n == 5, "an object of 5 members (type %d, n %zu)", r->type, r->n);
    const json_value *a = json_get(r, "a"), *s = json_get(r, "s"), *o = json_get(r, "o"), *z = json_get(r, "z");
    CHECK(a && a->type == JSON_ARRAY && a->n == 5 && a->items[0].type == JSON_NUMBER && !strcmp(a->items[0].s, "1") &&
              !strcmp(a->items[1].s, "-2.5e3") && a->items[2].type == JSON_TRUE && a->items[3].type == JSON_FALSE &&
              a->items[4].type == JSON_NULL,
          "the array's items");
    static const char want[] = "x\n\xc3\xa9\xf0\x9f\x98\x80\xff\"/";
    CHECK(s && s->type == JSON_STRING && s->n == sizeof want - 1 && !memcmp(s->s, want, s->n),
          "escapes: \\n, \\u00e9, a surrogate pair, \\udcff as the raw byte 0xff, \\\" and \\/");
    CHECK(o && o->type == JSON_OBJECT && o->n == 0 && json_get(r, "e")->n == 0, "empty object and array");
    int64_t v = -1;
    CHECK(z && json_int(z, 0, 10, &v, &e) == 0 && v == 0, "json_int 0");
    CHECK(json_get(r, "missing") == NULL && json_get(a, "a") == NULL, "json_get: absent key, not an object");
    CHECK(json_int(&a->items[1], -1000000, 1000000, &v, &e) == -1 && strstr(e.msg, "expected an integer"),
          "json_int refuses -2.5e3: %s", e.msg);
    CHECK(json_int(&a->items[0], 2, 10, &v, &e) == -1 && strstr(e.msg, "out of range"), "json_int range: %s", e.msg);
    json_doc_free(&d);

    ok = parses("\"a\\u0000b\"", 10, &d, &e);
    CHECK(ok && d.root->n == 3 && d.root->s[1] == 0, "\\u0000 decodes to a NUL byte inside n bytes");
    json_doc_free(&d);
    ok = parses("-0", 2, &d, &e);
    json_doc_free(&d);
    ok = ok && parses("0.5E+10", 7, &d, &e);
    json_doc_free(&d);
    CHECK(ok, "numbers -0 and 0.5E+10");
    CHECK(json_parse(&d, "9223372036854775808", 19, &e) == 0 && json_int(d.root, INT64_MIN, INT64_MAX, &v, &e) == -1,
          "json_int refuses an integer past int64");
    json_doc_free(&d);
}

typedef struct bad_case {
    const char *doc;
    size_t len;  // 0: strlen
    const char *reason;
    size_t column;
} bad_case;

static void test_malformed(void) {
    char deep[200];
    for (int i = 0; i < 65; i++) deep[i] = '[';
    deep[65] = 0;
    const bad_case cases[] = {
        {"", 0, "expected a value, found the end", 1},
        {"   ", 0, "expected a value, found the end", 4},
        {"{", 0, "expected a key", 2},
        {"{\"a\":1,}", 0, "trailing comma", 8},
        {"[1,]", 0, "trailing comma", 4},
        {"[1 2]", 0, "expected ',' or ']'", 4},
        {"{\"a\":1 \"b\":2}", 0, "expected ',' or '}'", 8},
        {"{\"a\" 1}", 0, "expected ':'", 6},
        {"{1:2}", 0, "expected a key", 2},
        {"{'a':1}", 0, "expected a key", 2},
        {"{\"a\":1,\"a\":2}", 0, "duplicate key \"a\"", 8},
        {"{\"b\":1,\"a\":2,\"c\":3,\"a\":4,\"b\":5}", 0, "duplicate key \"a\"", 20},
        {"01", 0, "leading zero", 2},
        {"-01", 0, "leading zero", 3},
        {"1.", 0, "digit after the decimal point", 3},
        {".5", 0, "expected a value", 1},
        {"-", 0, "expected a digit", 2},
        {"+1", 0, "expected a value", 1},
        {"1e", 0, "exponent", 3},
        {"1e+", 0, "exponent", 4},
        {"NaN", 0, "expected a value", 1},
        {"Infinity", 0, "expected a value", 1},
        {"tru", 0, "expected a value", 1},
        {"nul", 0, "expected a value", 1},
        {"\"abc", 0, "unterminated string", 1},
        {"\"a\tb\"", 0, "control character", 3},
        {"\"a\nb\"", 0, "control character", 3},
        {"\"\\x\"", 0, "unknown escape", 2},
        {"\"\\u12zz\"", 0, "bad hex digit", 6},
        {"\"\\u12", 0, "truncated \\u escape", 4},
        {"\"\\ud800\"", 0, "high surrogate without a low one", 2},
        {"\"\\ud800\\u0041\"", 0, "high surrogate without a low one", 2},
        {"\"\\udc00\"", 0, "lone low surrogate", 2},
        {"\"\xff\"", 0, "invalid UTF-8", 2},
        {"\"\xc0\xaf\"", 0, "invalid UTF-8", 2},
        {"\"\xed\xa0\x80\"", 0, "invalid UTF-8", 2},
        {"1 2", 0, "unexpected characters after the value", 3},
        {"{} x", 0, "unexpected characters after the value", 4},
        {"// comment", 0, "expected a value", 1},
        {"[1]\0", 4, "unexpected characters after the value", 4},
        {deep, 0, "nested deeper than 64 levels", 65},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        size_t n = c->len ? c->len : strlen(c->doc);
        json_doc d;
        berr e = {{0}};
        int rc = json_parse(&d, c->doc, n, &e);
        char want[64];
        snprintf(want, sizeof want, "column %zu: ", c->column);
        CHECK(rc == -1 && d.root == NULL && !strncmp(e.msg, want, strlen(want)) && strstr(e.msg, c->reason),
              "case %zu (%.*s): want \"%s%s\", got rc %d \"%s\"", i, (int)(n < 40 ? n : 40), c->doc, want, c->reason, rc,
              e.msg);
        json_doc_free(&d);
    }
    // 64 levels are fine, 65 are not.
    char ok64[130];
    for (int i = 0; i < 64; i++) ok64[i] = '[', ok64[64 + i] = ']';
    json_doc d;
    berr e;
    CHECK(json_parse(&d, ok64, 128, &e) == 0, "64 levels of nesting parse: %s", e.msg);
    json_doc_free(&d);
}

// ---- round trips of random trees ------------------------------------------------------------------
typedef struct tnode {
    json_type type;
    char *s;  // string bytes or number text
    size_t n;
    struct tnode *kids;
    char **keys;
    size_t *key_len;
    size_t nk;
} tnode;

static uint64_t rng;
static uint32_t rnd(uint32_t m) { return (uint32_t)(rng_next(&rng) % m); }

static char *rand_bytes(size_t *n) {
    *n = rnd(12);
    char *s = xmalloc(*n + 1);
    static const char pool[] = "ab\"\\/\n\t\x01\x7f \xc3\xa9\xff\x80\xe2\x82\xac\xf0\x9f\x98\x80";
    for (size_t i = 0; i < *n; i++) s[i] = rnd(4) ? (char)('a' + rnd(26)) : pool[rnd(sizeof pool - 1)];
    s[*n] = 0;
    return s;
}

static void rand_tree(tnode *t, int depth) {
    memset(t, 0, sizeof *t);
    uint32_t k = rnd(depth > 4 ? 5 : 7);
    t->type = (json_type)k;
    if (t->type == JSON_NUMBER) {
        static const char *const nums[] = {"0", "-0", "17", "-42", "3.25", "1e9", "-2.5E-3", "123456789012345678901234"};
        t->s = xstrdup(nums[rnd(8)]);
        t->n = strlen(t->s);
    } else if (t->type == JSON_STRING) {
        t->s = rand_bytes(&t->n);
    } else if (t->type == JSON_ARRAY || t->type == JSON_OBJECT) {
        t->nk = rnd(5);
        t->kids = xcalloc(t->nk ? t->nk : 1, sizeof *t->kids);
        if (t->type == JSON_OBJECT) {
            t->keys = xcalloc(t->nk ? t->nk : 1, sizeof *t->keys);
            t->key_len = xcalloc(t->nk ? t->nk : 1, sizeof *t->key_len);
        }
        for (size_t i = 0; i < t->nk; i++) {
            rand_tree(&t->kids[i], depth + 1);
            if (t->type == JSON_OBJECT) {
                t->keys[i] = xasprintf("k%zu", i);  // distinct keys
                if (rnd(2)) {
                    size_t n;
                    char *extra = rand_bytes(&n);
                    char *k2 = xmalloc(strlen(t->keys[i]) + n + 2);
                    memcpy(k2, t->keys[i], strlen(t->keys[i]));
                    k2[strlen(t->keys[i])] = '|';  // keeps the keys distinct
                    memcpy(k2 + strlen(t->keys[i]) + 1, extra, n + 1);
                    t->key_len[i] = strlen(t->keys[i]) + 1 + n;
                    free(t->keys[i]);
                    free(extra);
                    t->keys[i] = k2;
                } else {
                    t->key_len[i] = strlen(t->keys[i]);
                }
            }
        }
    }
}

static void ws(FILE *f) {
    static const char *const w[] = {"", "", " ", "\t", "\r\n", "  \n "};
    fputs(w[rnd(6)], f);
}

static void write_tree(FILE *f, const tnode *t) {
    ws(f);
    switch (t->type) {
    case JSON_NULL: fputs("null", f); break;
    case JSON_FALSE: fputs("false", f); break;
    case JSON_TRUE: fputs("true", f); break;
    case JSON_NUMBER: fputs(t->s, f); break;
    case JSON_STRING: json_string(f, t->s, t->n); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        fputc(t->type == JSON_ARRAY ? '[' : '{', f);
        for (size_t i = 0; i < t->nk; i++) {
            if (i) fputc(',', f);
            if (t->type == JSON_OBJECT) {
                ws(f);
                json_string(f, t->keys[i], t->key_len[i]);
                ws(f);
                fputc(':', f);
            }
            write_tree(f, &t->kids[i]);
        }
        ws(f);
        fputc(t->type == JSON_ARRAY ? ']' : '}', f);
        break;
    }
    ws(f);
}

static int same(const tnode *t, const json_value *v) {
    if ((json_type)t->type != v->type) return 0;
    switch (t->type) {
    case JSON_NUMBER:
    case JSON_STRING: return t->n == v->n && !memcmp(t->s, v->s, t->n) && v->s[v->n] == 0;
    case JSON_ARRAY:
    case JSON_OBJECT:
        if (t->nk != v->n) return 0;
        for (size_t i = 0; i < t->nk; i++) {
            if (t->type == JSON_OBJECT && (t->key_len[i] != v->key_len[i] || memcmp(t->keys[i], v->keys[i], t->key_len[i])))
                return 0;
            if (!same(&t->kids[i], &v->items[i])) return 0;
        }
        return 1;
    default: return 1;
    }
}

static void free_tree(tnode *t) {
    free(t->s);
    for (size_t i = 0; i < t->nk; i++) {
        free_tree(&t->kids[i]);
        if (t->keys) free(t->keys[i]);
    }
    free(t->kids);
    free(t->keys);
    free(t->key_len);
}

static void test_round_trip_and_mutations(void) {
    int trips = 0, mutated = 0, refused = 0;
    for (int it = 0; it < 3000; it++) {
        tnode t;
        rand_tree(&t, 0);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        write_tree(f, &t);
        fclose(f);
        json_doc d;
        berr e;
        int ok = json_parse(&d, buf, len, &e) == 0;
        EXPECT(ok && same(&t, d.root), "tree %d round-trips: %s (%.*s)", it, ok ? "differs" : e.msg, (int)(len < 80 ? len : 80), buf);
        trips += ok;
        json_doc_free(&d);
        // Mutations: flip, insert, delete or truncate; parse must end cleanly either way.
        for (int m = 0; m < 8; m++) {
            char *mb = xmalloc(len + 2);
            memcpy(mb, buf, len);
            size_t ml = len, pos = len ? rnd((uint32_t)len) : 0;
            static const char junk[] = "{}[]\",:\\0-e.tfn \x01\xff\xc3";
            switch (rnd(4)) {
            case 0: if (ml) mb[pos] ^= (char)(1u << rnd(8)); break;
            case 1: memmove(mb + pos + 1, mb + pos, ml - pos), mb[pos] = junk[rnd(sizeof junk - 1)], ml++; break;
            case 2: if (ml) memmove(mb + pos, mb + pos + 1, ml - pos - 1), ml--; break;
            default: ml = pos; break;
            }
            berr me = {{0}};
            json_doc md;
            if (json_parse(&md, mb, ml, &me)) {
                size_t col = 0;
                int good = sscanf(me.msg, "column %zu: ", &col) == 1 && col >= 1 && col <= ml + 1 && md.root == NULL;
                EXPECT(good, "a refusal names a column inside the input: \"%s\" (%zu bytes)", me.msg, ml);
                refused++;
            }
            json_doc_free(&md);
            mutated++;
            free(mb);
        }
        free(buf);
        free_tree(&t);
    }
    CHECK_EXPECTED("3000 random trees round-trip, %d mutations (%d refused) end cleanly", mutated, refused);
    CHECK(trips == 3000 && refused > mutated / 4, "round trips %d, refusals %d of %d mutations", trips, refused, mutated);
}

int main(void) {
    rng = test_seed(20261202);
    test_valid();
    test_malformed();
    test_round_trip_and_mutations();
    return test_summary();
}
