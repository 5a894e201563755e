// candidates.h — the candidate file of `verify check`: JSON lines, one completion each.
//
//   {"problem": 9653372809496475697, "completion": "<|step|>...\n<|answer|>42\n<|endoftext|>"}
//
// Keys: "problem" (the problem id: an unsigned integer, or a string of its decimal digits,
// since ids exceed JSON's exact doubles), "completion" (the model's text after the prompt),
// and optionally "node" (default 0) and "policy_version" (default 0), copied into the
// verdict. Strings are JSON strings; the escape \udcXX (a lone low surrogate, XX >= 80)
// stands for the raw byte XX, as `shards cat` writes bytes that are not UTF-8. Blank lines
// are allowed; anything else malformed is an error naming the file, line and column.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct candidate {
    uint64_t problem;
    uint32_t node, policy_version;
    char *completion;  // NUL-terminated; may contain NULs (len is authoritative)
    size_t len;
} candidate;

typedef struct candidate_list {
    candidate *items;
    size_t n;
} candidate_list;

int candidates_load(const char *path, candidate_list *out, berr *e);
// Parses one line (no newline); exposed for tests.
int candidate_parse_line(const char *s, size_t n, candidate *out, const char *path, size_t line, berr *e);
void candidates_free(candidate_list *l);

#ifdef __cplusplus
}
#endif
