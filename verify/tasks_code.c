// tasks_code.c — code tasks: picks a family of the requested level, writes the prompt
// (specification + examples), the hidden tests (plain assert lines) and the worked solution
// (plan steps + the reference function after the answer marker). See tasks_code.h.
#include "verify/tasks_code.h"

#include <string.h>

#include "verify/tasks_gen.h"

#define CODE_EXAMPLES 2
#define CODE_TESTS 10

int code_family_count(void) { return CODE_FAMILIES_NUMBERS_N + CODE_FAMILIES_STRINGS_N + CODE_FAMILIES_LISTS_N; }

const code_family *code_family_at(int i) {
    if (i < CODE_FAMILIES_NUMBERS_N) return &CODE_FAMILIES_NUMBERS[i];
    i -= CODE_FAMILIES_NUMBERS_N;
    if (i < CODE_FAMILIES_STRINGS_N) return &CODE_FAMILIES_STRINGS[i];
    i -= CODE_FAMILIES_STRINGS_N;
    return &CODE_FAMILIES_LISTS[i];
}

// ---- Python literals ----------------------------------------------------------------------

void py_int(bbuf *o, int64_t v) { tb_i64(o, v); }
void py_bool(bbuf *o, int v) { tb_puts(o, v ? "True" : "False"); }
void py_none(bbuf *o) { tb_puts(o, "None"); }

void py_str(bbuf *o, const char *s, size_t n) {
    tb_putc(o, '"');
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') die("code task generator: unescaped character 0x%02x in a string literal (a bug)", (unsigned char)c);
        tb_putc(o, c);
    }
    tb_putc(o, '"');
}

void py_int_list(bbuf *o, const int64_t *v, int n) {
    tb_putc(o, '[');
    for (int i = 0; i < n; i++) {
        if (i) tb_puts(o, ", ");
        py_int(o, v[i]);
    }
    tb_putc(o, ']');
}

void py_str_list(bbuf *o, const char *const *s, const int *len, int n) {
    tb_putc(o, '[');
    for (int i = 0; i < n; i++) {
        if (i) tb_puts(o, ", ");
        py_str(o, s[i], (size_t)len[i]);
    }
    tb_putc(o, ']');
}

// ---- random inputs --------------------------------------------------------------------------

int rand_int_list(uint64_t *g, int64_t *v, int max_len, int64_t lo, int64_t hi) {
    int n = (int)tb_range(g, 0, max_len);
    for (int i = 0; i < n; i++) v[i] = tb_range(g, lo, hi);
    return n;
}

int rand_words(uint64_t *g, char *buf, int cap, int max_words, int min_len, int max_len, const char *alphabet) {
    int nw = (int)tb_range(g, 0, max_words), n = 0;
    int na = (int)strlen(alphabet);
    for (int w = 0; w < nw; w++) {
        int len = (int)tb_range(g, min_len, max_len);
        if (n + len + 1 >= cap) break;
        if (w) buf[n++] = ' ';
        for (int i = 0; i < len; i++) buf[n++] = alphabet[tb_range(g, 0, na - 1)];
    }
    buf[n] = 0;
    return n;
}

int64_t py_mod(int64_t a, int64_t m) {
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

// ---- the generator -------------------------------------------------------------------------

static void call_line(bbuf *o, const code_family *f, const bbuf *call, const bbuf *expect) {
    tb_puts(o, f->name);
    tb_putc(o, '(');
    bbuf_put(o, call->p, call->n);
    tb_putc(o, ')');
    if (expect->n == 4 && memcmp(expect->p, "None", 4) == 0) {
        tb_puts(o, " is None");
    } else {
        tb_puts(o, " == ");
        bbuf_put(o, expect->p, expect->n);
    }
    tb_putc(o, '\n');
}

int tasks_gen_code(tasks_build *b) {
    int candidates[64], nc = 0;
    for (int i = 0; i < code_family_count() && nc < 64; i++)
        if (code_family_at(i)->level == b->difficulty) candidates[nc++] = i;
    if (nc == 0) die("code tasks: no family of level %d (a bug in the family tables)", b->difficulty);
    const code_family *f = code_family_at(candidates[tb_range(&b->rng, 0, nc - 1)]);
    int64_t p[CODE_MAX_PARAMS] = {0};
    f->params(&b->rng, p);

    bbuf *P = &b->prompt;
    tb_printf(P, "Write a Python function %s(%s) that ", f->name, f->args);
    f->spec(P, p);
    tb_puts(P, ".\n");
    bbuf_put(&b->canon, P->p, P->n);
    if (!tb_statement_done(b)) return 0;

    bbuf call = {0}, expect = {0};
    uint64_t g = mix64(b->id, 1);
    tb_puts(P, "Examples:\n");
    for (int k = 0; k < CODE_EXAMPLES; k++) {
        call.n = expect.n = 0;
        f->test(p, &g, 100 + k, &call, &expect);  // k >= 100: typical inputs, not edge cases
        call_line(P, f, &call, &expect);
    }
    g = mix64(b->id, 2);
    for (int k = 0; k < CODE_TESTS; k++) {
        call.n = expect.n = 0;
        f->test(p, &g, k, &call, &expect);
        tb_puts(&b->tests, "assert ");
        call_line(&b->tests, f, &call, &expect);
    }
    bbuf_free(&call);
    bbuf_free(&expect);

    f->plan(&b->solution, p);
    tb_answer(&b->solution);
    f->code(&b->solution, p);
    return 1;
}
