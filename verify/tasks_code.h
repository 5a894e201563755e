// tasks_code.h — code task families (internal to verify/tasks_code*.c).
//
// A family is one kind of small Python function with a few integer parameters (a base, a
// set of letters, two words, ...). The parameters are drawn from the problem's seed and
// written into the specification sentence, which is the canonical statement: one
// parameter setting is one problem. Examples in the prompt and the hidden tests are drawn
// from seeds derived from the problem id, so a problem's record depends on its id alone.
// Expected values are computed here in C; a test runs every family's reference solution
// under python3 against its own tests to prove the two agree.
#pragma once
#include <stdint.h>

#include "verify/tasks_build.h"

#define CODE_MAX_PARAMS 8

typedef struct code_family {
    const char *name;  // the function's name
    const char *args;  // its parameter list, e.g. "xs" or "a, b"
    int level;         // difficulty 1..5
    void (*params)(uint64_t *g, int64_t *p);
    // The rest of the sentence "Write a Python function name(args) that ...".
    void (*spec)(bbuf *o, const int64_t *p);
    // One or more reasoning steps, each a line opened by tb_step().
    void (*plan)(bbuf *o, const int64_t *p);
    // The reference solution: "def name(args):\n    ...\n".
    void (*code)(bbuf *o, const int64_t *p);
    // Test case k (k = 0, 1, ... may be edge cases): the call's argument text and the
    // expected value, both as Python literals.
    void (*test)(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect);
} code_family;

extern const code_family CODE_FAMILIES_NUMBERS[];
extern const int CODE_FAMILIES_NUMBERS_N;
extern const code_family CODE_FAMILIES_STRINGS[];
extern const int CODE_FAMILIES_STRINGS_N;
extern const code_family CODE_FAMILIES_LISTS[];
extern const int CODE_FAMILIES_LISTS_N;

// All families in one fixed order (stable across runs: the order decides which family a
// seed picks).
int code_family_count(void);
const code_family *code_family_at(int i);

// ---- Python literals ----------------------------------------------------------------------
void py_int(bbuf *o, int64_t v);
void py_bool(bbuf *o, int v);
void py_none(bbuf *o);
void py_str(bbuf *o, const char *s, size_t n);  // double-quoted; s must not need escapes
void py_int_list(bbuf *o, const int64_t *v, int n);
void py_str_list(bbuf *o, const char *const *s, const int *len, int n);

// ---- random inputs --------------------------------------------------------------------------
int rand_int_list(uint64_t *g, int64_t *v, int max_len, int64_t lo, int64_t hi);  // returns the length
// Random words of a..z joined by single spaces into buf (cap bytes); returns the length.
int rand_words(uint64_t *g, char *buf, int cap, int max_words, int min_len, int max_len, const char *alphabet);
int64_t py_mod(int64_t a, int64_t m);  // Python's a % m for m > 0
