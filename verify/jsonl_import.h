// jsonl_import.h — problems from other tools' JSON-lines files (GSM8K-, MATH-, MBPP-style) as
// berry problem records: the conversion of one line, used by `verify import` (verify_import.c).
// The field mapping, the presets and every rule are documented in verify/README.md, "verify
// import"; in short:
//
//   preset   prompt     reference                         kind           solution
//   gsm8k    question   answer: the text after "####"     arith          the lines before "####" as steps
//   math     problem    solution: the last \boxed{...}    arith/algebra  the solution's lines as steps
//   mbpp     text       test_list (+ test_setup_code)     code           code, after the answer marker
//   plain    prompt     answer (math) or tests (code)     task, or auto  solution, or none
//
// A problem's id is hash64("<kind>\n" + its prompt) as the built-in generators make it
// (verify/TASKS.md), so importing the same file again gives the same ids, and a line whose
// prompt is already imported is a duplicate. A line is accepted only when berry can verify it:
// a math reference must be a number or an expression in x the math verifier reads (checked by
// comparing it with itself), a code problem needs test statements and a function name.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"
#include "kernels/json.h"
#include "shards/records.h"

#ifdef __cplusplus
extern "C" {
#endif

enum import_answer_format {
    IMPORT_ANSWER_PLAIN = 0,   // the field is the final answer
    IMPORT_ANSWER_HASHES = 1,  // GSM8K: worked lines, then "#### <answer>"
    IMPORT_ANSWER_BOXED = 2,   // MATH: a LaTeX solution; the answer is the last \boxed{...}
};

#define IMPORT_TASK_AUTO 0  // code when the line has tests, else arith (a number) or algebra

typedef struct import_map {
    // Field names (NULL: not read).
    const char *prompt, *answer, *tests, *setup, *solution, *task, *difficulty;
    int answer_format;  // enum import_answer_format
    uint32_t task_default;  // enum task_kind, or IMPORT_TASK_AUTO
    int examples;           // code: test statements shown in the prompt as examples
} import_map;

// Sets *m to a preset: "gsm8k", "math", "mbpp" or "plain". Returns -1 (e) for another name.
int import_preset(import_map *m, const char *name, berr *e);
// Applies "key=FIELD,key=FIELD,..." over *m: keys prompt, answer, tests, setup, solution, task,
// difficulty; FIELD "-" unsets one. Returns -1 (e) for an unknown key or a malformed list.
int import_map_parse(import_map *m, const char *spec, berr *e);

// Converts one parsed line (an object) into *out (split train; strings malloc'd: problem_free).
// Returns 0, or -1 with the reason in why (without the file and line).
int import_problem(const import_map *m, const json_value *obj, problem_rec *out, char *why, size_t whycap);

// The pieces, exposed for tests. Each returns a malloc'd NUL-terminated string, or NULL with why.
// GSM8K: the text after the last "####", trimmed (thousands separators kept: the verifier reads
// them).
char *import_hashes_answer(const char *s, size_t n, char *why, size_t whycap);
// MATH: the content of the last \boxed{...} (or \fbox{...}), braces matched, then the LaTeX the
// math verifier does not read rewritten: \frac{a}{b} (\dfrac, \tfrac) as (a)/(b) (a/b for
// plain numbers), \left \right \! \, \; $ dropped, \cdot and \times as *, other braces as
// parentheses. Anything else with a backslash is refused.
char *import_boxed_answer(const char *s, size_t n, char *why, size_t whycap);
// The name of the function the tests call: the first name called in the tests that is not a
// Python builtin (or a module's function such as math.isclose), or NULL.
char *import_function_name(const char *tests, char *why, size_t whycap);

#ifdef __cplusplus
}
#endif
