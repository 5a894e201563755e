// jsonl_import.c — one JSON-lines object into a problem record (jsonl_import.h).
#include "verify/jsonl_import.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "shards/task_format.h"
#include "verify/math.h"

static int why_set(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

// ---- presets and the mapping ------------------------------------------------------------------
int import_preset(import_map *m, const char *name, berr *e) {
    memset(m, 0, sizeof *m);
    m->examples = 1;
    m->task_default = IMPORT_TASK_AUTO;
    if (!strcmp(name, "gsm8k")) {
        m->prompt = "question", m->answer = "answer", m->answer_format = IMPORT_ANSWER_HASHES;
        m->task_default = TASK_ARITH;
    } else if (!strcmp(name, "math")) {
        m->prompt = "problem", m->answer = "solution", m->answer_format = IMPORT_ANSWER_BOXED, m->difficulty = "level";
    } else if (!strcmp(name, "mbpp")) {
        m->prompt = "text", m->tests = "test_list", m->setup = "test_setup_code", m->solution = "code";
        m->task_default = TASK_CODE;
    } else if (!strcmp(name, "plain")) {
        m->prompt = "prompt", m->answer = "answer", m->tests = "tests", m->solution = "solution", m->task = "task";
        m->difficulty = "difficulty";
    } else {
        return berr_set(e, "unknown preset '%s' (gsm8k, math, mbpp, plain)", name);
    }
    return 0;
}

int import_map_parse(import_map *m, const char *spec, berr *e) {
    static char store[4096];  // the field names live as long as the process (one mapping per run)
    size_t len = strlen(spec);
    if (len >= sizeof store) return berr_set(e, "--map: longer than %zu bytes", sizeof store - 1);
    memcpy(store, spec, len + 1);
    for (char *p = store; *p;) {
        char *end = p + strcspn(p, ","), *eq = memchr(p, '=', (size_t)(end - p));
        int last = *end == 0;
        *end = 0;
        if (!eq || eq == p || eq[1] == 0) return berr_set(e, "--map: '%s' is not KEY=FIELD", p);
        *eq = 0;
        const char *field = !strcmp(eq + 1, "-") ? NULL : eq + 1;
        const char **slot = !strcmp(p, "prompt") ? &m->prompt : !strcmp(p, "answer") ? &m->answer
                          : !strcmp(p, "tests") ? &m->tests : !strcmp(p, "setup") ? &m->setup
                          : !strcmp(p, "solution") ? &m->solution : !strcmp(p, "task") ? &m->task
                          : !strcmp(p, "difficulty") ? &m->difficulty : NULL;
        if (!slot) return berr_set(e, "--map: unknown key '%s' (prompt, answer, tests, setup, solution, task, difficulty)", p);
        if (slot == &m->prompt && !field) return berr_set(e, "--map: the prompt cannot be unset");
        *slot = field;
        if (last) break;
        p = end + 1;
    }
    return 0;
}

// ---- text helpers ----------------------------------------------------------------------------------
// s[0..n) with CR LF as LF, trailing white space removed; a NUL byte is refused.
static char *clean_text(const char *s, size_t n, const char *field, char *why, size_t cap) {
    if (memchr(s, 0, n)) {
        why_set(why, cap, "field \"%s\" holds a NUL byte", field);
        return NULL;
    }
    char *o = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')) o[k++] = s[i];
    while (k && isspace((unsigned char)o[k - 1])) k--;
    size_t a = 0;
    while (a < k && isspace((unsigned char)o[a])) a++;
    memmove(o, o + a, k - a);
    o[k - a] = 0;
    return o;
}

static const json_value *need_string(const json_value *obj, const char *field, const char *role, char *why, size_t cap) {
    const json_value *v = json_get(obj, field);
    if (!v) {
        why_set(why, cap, "missing field \"%s\" (the %s; --map %s=FIELD names another)", field, role, role);
        return NULL;
    }
    if (v->type != JSON_STRING) {
        why_set(why, cap, "field \"%s\" (the %s) is %s %s, expected a string", field, role,
                v->type == JSON_ARRAY || v->type == JSON_OBJECT ? "an" : "a", json_type_name(v->type));
        return NULL;
    }
    return v;
}

// Lines of text as steps: "<|step|>line\n" for each non-empty line.
static void put_steps(bbuf *o, const char *text) {
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        size_t a = 0;
        while (a < n && isspace((unsigned char)p[a])) a++;
        size_t b = n;
        while (b > a && isspace((unsigned char)p[b - 1])) b--;
        if (b > a) {
            bbuf_put(o, BERRY_STEP, strlen(BERRY_STEP));
            bbuf_put(o, p + a, b - a);
            bbuf_u8(o, '\n');
        }
        p += n;
        if (*p) p++;
    }
}

static char *bbuf_cstr(bbuf *b) {
    bbuf_u8(b, 0);
    char *s = (char *)b->p;
    b->p = NULL, b->n = b->cap = 0;
    return s;
}

// ---- final answers ---------------------------------------------------------------------------------
char *import_hashes_answer(const char *s, size_t n, char *why, size_t cap) {
    const char *last = NULL;
    for (const char *p = s; (p = memmem(p, (size_t)(s + n - p), "####", 4)); p += 4) last = p;
    if (!last) {
        why_set(why, cap, "no \"####\" before the final answer");
        return NULL;
    }
    const char *a = last + 4, *b = s + n;
    while (a < b && isspace((unsigned char)*a)) a++;
    while (b > a && isspace((unsigned char)b[-1])) b--;
    if (a == b) {
        why_set(why, cap, "empty final answer after \"####\"");
        return NULL;
    }
    char *o = xmalloc((size_t)(b - a) + 1);
    memcpy(o, a, (size_t)(b - a));
    o[b - a] = 0;
    return o;
}

// The brace group starting at s[*i] == '{': its content [*a, *b), *i past the closing brace.
static int brace_group(const char *s, size_t n, size_t *i, size_t *a, size_t *b) {
    if (*i >= n || s[*i] != '{') return -1;
    int depth = 0;
    for (size_t k = *i; k < n; k++) {
        if (s[k] == '{') depth++;
        else if (s[k] == '}' && --depth == 0) {
            *a = *i + 1, *b = k, *i = k + 1;
            return 0;
        }
    }
    return -1;
}

static int plain_number(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i == n) return 0;
    for (; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && s[i] != '.') return 0;
    return 1;
}

// LaTeX of a boxed answer into what the math verifier reads (see the header); -1 with why.
static int latex_rewrite(bbuf *o, const char *s, size_t n, int depth, char *why, size_t cap) {
    if (depth > 16) return why_set(why, cap, "boxed answer nested too deeply");
    static const char *const dropped[] = {"\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\displaystyle", NULL};
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '$' || c == ' ' || c == '\t' || c == '\n') {
            if (c != '$' && o->n && o->p[o->n - 1] != ' ') bbuf_u8(o, ' ');
            i++;
            continue;
        }
        if (c == '\\') {
            int done = 0;
            for (int k = 0; dropped[k] && !done; k++) {
                size_t l = strlen(dropped[k]);
                if (n - i >= l && !memcmp(s + i, dropped[k], l) && (l == 2 || i + l == n || !isalpha((unsigned char)s[i + l])))
                    i += l, done = 1;
            }
            if (done) continue;
            if ((n - i >= 5 && !memcmp(s + i, "\\cdot", 5)) || (n - i >= 6 && !memcmp(s + i, "\\times", 6))) {
                i += s[i + 1] == 'c' ? 5 : 6;
                bbuf_u8(o, '*');
                continue;
            }
            size_t l = n - i >= 6 && (!memcmp(s + i, "\\dfrac", 6) || !memcmp(s + i, "\\tfrac", 6)) ? 6
                     : n - i >= 5 && !memcmp(s + i, "\\frac", 5)                                   ? 5 : 0;
            if (l) {
                size_t j = i + l, a1, b1, a2, b2;
                while (j < n && s[j] == ' ') j++;
                if (brace_group(s, n, &j, &a1, &b1)) return why_set(why, cap, "\\frac without {numerator}");
                while (j < n && s[j] == ' ') j++;
                if (brace_group(s, n, &j, &a2, &b2)) return why_set(why, cap, "\\frac without {denominator}");
                int simple = plain_number(s + a1, b1 - a1) && plain_number(s + a2, b2 - a2);
                if (!simple) bbuf_u8(o, '(');
                if (latex_rewrite(o, s + a1, b1 - a1, depth + 1, why, cap)) return -1;
                bbuf_put(o, simple ? "/" : ")/(", simple ? 1 : 3);
                if (latex_rewrite(o, s + a2, b2 - a2, depth + 1, why, cap)) return -1;
                if (!simple) bbuf_u8(o, ')');
                i = j;
                continue;
            }
            size_t w = 1;
            while (i + w < n && isalpha((unsigned char)s[i + w])) w++;
            return why_set(why, cap, "boxed answer uses \\%.*s, which the math verifier does not read", (int)(w - 1 > 0 ? w - 1 : 1), s + i + 1);
        }
        if (c == '{' || c == '}') {
            bbuf_u8(o, c == '{' ? '(' : ')');
            i++;
            continue;
        }
        bbuf_u8(o, (uint8_t)c);
        i++;
    }
    return 0;
}

char *import_boxed_answer(const char *s, size_t n, char *why, size_t cap) {
    const char *last = NULL;
    size_t skip = 0;
    for (size_t i = 0; i + 4 <= n; i++) {
        if (n - i >= 6 && !memcmp(s + i, "\\boxed", 6)) last = s + i, skip = 6;
        else if (n - i >= 5 && !memcmp(s + i, "\\fbox", 5)) last = s + i, skip = 5;
    }
    if (!last) {
        why_set(why, cap, "no \\boxed{...} final answer");
        return NULL;
    }
    size_t i = (size_t)(last - s) + skip, a, b;
    while (i < n && s[i] == ' ') i++;
    if (brace_group(s, n, &i, &a, &b)) {
        why_set(why, cap, "\\boxed without a matching {...}");
        return NULL;
    }
    bbuf o = {0};
    if (latex_rewrite(&o, s + a, b - a, 0, why, cap)) {
        bbuf_free(&o);
        return NULL;
    }
    while (o.n && o.p[o.n - 1] == ' ') o.n--;
    size_t lead = 0;
    while (lead < o.n && o.p[lead] == ' ') lead++;
    memmove(o.p, o.p + lead, o.n - lead);
    o.n -= lead;
    if (!o.n) {
        bbuf_free(&o);
        why_set(why, cap, "empty \\boxed{} answer");
        return NULL;
    }
    return bbuf_cstr(&o);
}

// ---- code tasks ------------------------------------------------------------------------------------
static int is_ident(char c) { return isalnum((unsigned char)c) || c == '_'; }

char *import_function_name(const char *t, char *why, size_t cap) {
    static const char *const skip[] = {"assert", "not", "and", "or", "in", "is", "lambda", "set", "sorted", "abs",
                                       "round", "len", "list", "tuple", "str", "int", "float", "bool", "dict",
                                       "frozenset", "all", "any", "sum", "min", "max", "isinstance", "type", "print",
                                       "range", "repr", "reversed", "map", "filter", "zip", "enumerate", "import", "from",
                                       NULL};
    for (const char *p = t; *p;) {
        if (*p == '"' || *p == '\'') {  // skip string literals
            char q = *p++;
            while (*p && *p != q) p += (*p == '\\' && p[1]) ? 2 : 1;
            if (*p) p++;
            continue;
        }
        if (!is_ident(*p) || (p > t && (is_ident(p[-1]) || p[-1] == '.'))) {
            p++;
            continue;
        }
        const char *a = p;
        while (is_ident(*p)) p++;
        size_t n = (size_t)(p - a);
        if (isdigit((unsigned char)*a)) continue;
        const char *q = p;
        while (*q == ' ') q++;
        if (*q != '(') continue;  // not a call (a module name before '.', a variable)
        int builtin = 0;
        for (int k = 0; skip[k] && !builtin; k++) builtin = strlen(skip[k]) == n && !memcmp(skip[k], a, n);
        if (builtin) continue;
        char *o = xmalloc(n + 1);
        memcpy(o, a, n);
        o[n] = 0;
        return o;
    }
    why_set(why, cap, "the tests call no function to check (expected e.g. \"assert name(args) == value\")");
    return NULL;
}

// The tests: a string, or an array of strings (one statement each), CR LF as LF.
static char *tests_text(const json_value *v, const char *field, const char *role, char *why, size_t cap) {
    bbuf o = {0};
    if (v->type == JSON_STRING) {
        char *s = clean_text(v->s, v->n, field, why, cap);
        if (!s) return NULL;
        bbuf_put(&o, s, strlen(s));
        free(s);
    } else if (v->type == JSON_ARRAY) {
        for (size_t i = 0; i < v->n; i++) {
            const json_value *it = &v->items[i];
            if (it->type != JSON_STRING) {
                bbuf_free(&o);
                why_set(why, cap, "field \"%s\" (the %s): item %zu is %s %s, expected a string", field, role, i,
                        it->type == JSON_ARRAY || it->type == JSON_OBJECT ? "an" : "a", json_type_name(it->type));
                return NULL;
            }
            char *s = clean_text(it->s, it->n, field, why, cap);
            if (!s) {
                bbuf_free(&o);
                return NULL;
            }
            if (*s) {
                bbuf_put(&o, s, strlen(s));
                bbuf_u8(&o, '\n');
            }
            free(s);
        }
        while (o.n && o.p[o.n - 1] == '\n') o.n--;
    } else {
        why_set(why, cap, "field \"%s\" (the %s) is %s %s, expected a string or an array of strings", field, role,
                v->type == JSON_OBJECT ? "an" : "a", json_type_name(v->type));
        return NULL;
    }
    return bbuf_cstr(&o);
}

static int task_from_name(const char *s, uint32_t *task) {
    static const char *const names[] = {"", "arith", "linear", "algebra", "code"};
    for (uint32_t k = 1; k <= TASK_KIND_MAX; k++)
        if (!strcmp(s, names[k])) return *task = k, 0;
    if (!strcmp(s, "math") || !strcmp(s, "auto")) return *task = IMPORT_TASK_AUTO, 0;
    return -1;
}

// ---- one line ----------------------------------------------------------------------------------------
int import_problem(const import_map *m, const json_value *obj, problem_rec *out, char *why, size_t cap) {
    memset(out, 0, sizeof *out);
    if (obj->type != JSON_OBJECT)
        return why_set(why, cap, "expected a JSON object, found %s %s", obj->type == JSON_ARRAY ? "an" : "a",
                       json_type_name(obj->type));
    char *prompt = NULL, *answer = NULL, *tests = NULL, *solution = NULL, *fname = NULL, *worked = NULL;
    int rc = -1;
    const json_value *v;
    // The prompt.
    if (!(v = need_string(obj, m->prompt, "prompt", why, cap))) goto out;
    if (!(prompt = clean_text(v->s, v->n, m->prompt, why, cap))) goto out;
    if (!*prompt) {
        why_set(why, cap, "field \"%s\" (the prompt) is empty", m->prompt);
        goto out;
    }
    // The kind: a task field, else the default; auto decides below.
    uint32_t task = m->task_default;
    if (m->task && (v = json_get(obj, m->task))) {
        if (v->type != JSON_STRING) {
            why_set(why, cap, "field \"%s\" (the task kind) is a %s, expected a string", m->task, json_type_name(v->type));
            goto out;
        }
        if (task_from_name(v->s, &task)) {
            why_set(why, cap, "field \"%s\": unknown task kind \"%.40s\" (arith, linear, algebra, code, math)", m->task, v->s);
            goto out;
        }
    }
    const json_value *tv = m->tests ? json_get(obj, m->tests) : NULL;
    if (task == IMPORT_TASK_AUTO && tv && tv->type != JSON_NULL) task = TASK_CODE;
    // Difficulty: an integer, or a string "Level N" / "N".
    out->difficulty = 1;
    if (m->difficulty && (v = json_get(obj, m->difficulty)) && v->type != JSON_NULL) {
        int64_t d = 0;
        berr e;
        if (v->type == JSON_STRING) {
            const char *s = v->s;
            if (!strncasecmp(s, "level", 5)) s += 5;
            while (*s == ' ') s++;
            char *end;
            long x = strtol(s, &end, 10);
            if (end == s || *end || x < 1 || x > 1000) {
                why_set(why, cap, "field \"%s\" (the difficulty): \"%.40s\" is not an integer 1..1000 or \"Level N\"",
                        m->difficulty, v->s);
                goto out;
            }
            d = x;
        } else if (json_int(v, 1, 1000, &d, &e)) {
            why_set(why, cap, "field \"%s\" (the difficulty): %s", m->difficulty, e.msg);
            goto out;
        }
        out->difficulty = (uint32_t)d;
    }
    if (task == TASK_CODE) {
        if (!m->tests) {
            why_set(why, cap, "a code task needs tests (--map tests=FIELD)");
            goto out;
        }
        if (!tv) {
            why_set(why, cap, "missing field \"%s\" (the tests; --map tests=FIELD names another)", m->tests);
            goto out;
        }
        if (!(tests = tests_text(tv, m->tests, "tests", why, cap))) goto out;
        if (!*tests) {
            why_set(why, cap, "field \"%s\" (the tests) is empty", m->tests);
            goto out;
        }
        // The reference code, if any, names the function; else the first call in the tests does.
        if (m->solution && (v = json_get(obj, m->solution)) && v->type != JSON_NULL) {
            if (v->type != JSON_STRING) {
                why_set(why, cap, "field \"%s\" (the solution) is a %s, expected a string", m->solution, json_type_name(v->type));
                goto out;
            }
            if (!(worked = clean_text(v->s, v->n, m->solution, why, cap))) goto out;
        }
        const char *def = worked ? strstr(worked, "def ") : NULL;
        if (def && (def == worked || def[-1] == '\n')) {
            const char *a = def + 4, *b = a;
            while (is_ident(*b)) b++;
            if (b > a && *b == '(') {
                size_t n = (size_t)(b - a);
                char *cand = xmalloc(n + 1);
                memcpy(cand, a, n);
                cand[n] = 0;
                // Only if the tests call it (a helper defined first is not the function under test).
                for (const char *p = tests; (p = strstr(p, cand)); p += n)
                    if ((p == tests || !is_ident(p[-1])) && p[n] == '(') {
                        fname = cand;
                        break;
                    }
                if (!fname) free(cand);
            }
        }
        if (!fname && !(fname = import_function_name(tests, why, cap))) goto out;
        // Set-up statements (MBPP's test_setup_code, imports) go before the tests.
        if (m->setup && (v = json_get(obj, m->setup)) && v->type != JSON_NULL) {
            char *setup = tests_text(v, m->setup, "setup", why, cap);
            if (!setup) goto out;
            if (*setup) {
                char *t = xasprintf("%s\n%s", setup, tests);
                free(tests);
                tests = t;
            }
            free(setup);
        }
        // The prompt: the text, the function's name and the first --examples test statements.
        bbuf p = {0};
        bbuf_put(&p, prompt, strlen(prompt));
        char *head = xasprintf("\nName the function %s.", fname);
        bbuf_put(&p, head, strlen(head));
        free(head);
        int shown = 0;
        for (const char *q = tests; shown < m->examples && *q;) {
            size_t n = strcspn(q, "\n");
            if (n > 7 && !memcmp(q, "assert ", 7) && memmem(q, n, fname, strlen(fname))) {
                if (!shown) bbuf_put(&p, " Examples:", 10);
                bbuf_u8(&p, '\n');
                bbuf_put(&p, q + 7, n - 7);
                shown++;
            }
            q += n;
            if (*q) q++;
        }
        bbuf_u8(&p, '\n');
        free(prompt);
        prompt = bbuf_cstr(&p);
        if (worked) {
            solution = xasprintf(BERRY_ANSWER "%s\n", worked);
        }
        answer = xstrdup("");
    } else {
        if (!m->answer) {
            why_set(why, cap, "a math task needs an answer (--map answer=FIELD)");
            goto out;
        }
        if (!(v = need_string(obj, m->answer, "answer", why, cap))) goto out;
        char *text = clean_text(v->s, v->n, m->answer, why, cap);
        if (!text) goto out;
        char sub[200];
        if (m->answer_format == IMPORT_ANSWER_HASHES) {
            answer = import_hashes_answer(text, strlen(text), sub, sizeof sub);
            char *h = answer ? strstr(text, "####") : NULL;
            if (h) *h = 0;  // the worked lines before it
        } else if (m->answer_format == IMPORT_ANSWER_BOXED) {
            answer = import_boxed_answer(text, strlen(text), sub, sizeof sub);
        } else {
            answer = text[0] ? xstrdup(text) : NULL;
            snprintf(sub, sizeof sub, "is empty");
        }
        if (!answer) {
            why_set(why, cap, "field \"%s\" (the answer): %s", m->answer, sub);
            free(text);
            goto out;
        }
        if (m->answer_format != IMPORT_ANSWER_PLAIN) worked = text;  // steps for the solution
        else free(text);
        if (strlen(answer) > MATH_MAX_ANSWER) {
            why_set(why, cap, "field \"%s\": the final answer is %zu bytes, more than the verifier's %d", m->answer,
                    strlen(answer), MATH_MAX_ANSWER);
            goto out;
        }
        mq_rat r;
        char err[128];
        if (task == IMPORT_TASK_AUTO) task = math_parse_number(answer, strlen(answer), &r, err, sizeof err) == 0 ? TASK_ARITH : TASK_ALGEBRA;
        // Verifiable: the reference must check against itself.
        math_verdict mv;
        if (math_compare(answer, strlen(answer), answer, task, &mv) != 0 || mv.outcome != OUTCOME_PASS) {
            why_set(why, cap, "field \"%s\": the final answer \"%.60s\" is not one the math verifier can check (%s)",
                    m->answer, answer, mv.detail);
            goto out;
        }
        if (m->solution && (v = json_get(obj, m->solution)) && v->type != JSON_NULL && m->answer_format == IMPORT_ANSWER_PLAIN) {
            if (v->type != JSON_STRING) {
                why_set(why, cap, "field \"%s\" (the solution) is a %s, expected a string", m->solution, json_type_name(v->type));
                goto out;
            }
            if (!(worked = clean_text(v->s, v->n, m->solution, why, cap))) goto out;
        }
        if (worked) {
            bbuf s = {0};
            if (m->answer_format == IMPORT_ANSWER_HASHES) {  // GSM8K's calculator notes <<48/2=24>> dropped
                bbuf w = {0};
                for (const char *p = worked; *p;) {
                    const char *q = strstr(p, "<<"), *r2 = q ? strstr(q, ">>") : NULL;
                    if (!r2) {
                        bbuf_put(&w, p, strlen(p));
                        break;
                    }
                    bbuf_put(&w, p, (size_t)(q - p));
                    p = r2 + 2;
                }
                char *clean = bbuf_cstr(&w);
                put_steps(&s, clean);
                free(clean);
            } else {
                put_steps(&s, worked);
            }
            bbuf_put(&s, BERRY_ANSWER, strlen(BERRY_ANSWER));
            bbuf_put(&s, answer, strlen(answer));
            bbuf_u8(&s, '\n');
            solution = bbuf_cstr(&s);
        }
        tests = xstrdup("");
        char *p2 = xasprintf("%s\n", prompt);
        free(prompt);
        prompt = p2;
    }
    out->task = task;
    out->split = SPLIT_TRAIN;
    out->prompt = prompt, out->answer = answer, out->tests = tests;
    out->solution = solution ? solution : xstrdup("");
    char *canon = xasprintf("%s\n%s", task_kind_name(task), prompt);
    out->id = hash64(canon, strlen(canon), 0);
    free(canon);
    prompt = answer = tests = solution = NULL;
    rc = 0;
out:
    free(prompt);
    free(answer);
    free(tests);
    free(solution);
    free(fname);
    free(worked);
    return rc;
}
