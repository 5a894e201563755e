// json.h — berry's one JSON reader, small and strict (RFC 8259), for what it reads from other
// tools: JSON lines (verify import), safetensors headers and config.json (kernels/model_io/). One call parses one document held in memory into a tree of
// values; nothing is lenient:
//   - exactly one value, surrounded only by JSON whitespace (space, tab, CR, LF);
//   - numbers in JSON's grammar only (no leading zeros, no "+", no ".5", no NaN/Infinity);
//   - strings: UTF-8 text (invalid UTF-8 and control characters are errors), the standard
//     escapes, \uXXXX with surrogate pairs; a lone \udcXX with XX >= 80 stands for the raw
//     byte XX (Python's "surrogateescape", which is how berry's json_string writes bytes that
//     are not UTF-8), any other lone surrogate is an error;
//   - objects: duplicate keys are errors;
//   - nesting at most JSON_MAX_DEPTH deep; no trailing commas, comments or single quotes.
// Errors say what is wrong and where: "column C: <reason>" (C counts bytes from 1), which a
// caller prefixes with its file and line. Parsing is linear in the input and allocates at most
// a small multiple of it.
//
// The writer side is json_string (kernels/base.h), berry's one JSON string escaper.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JSON_MAX_DEPTH 64

typedef enum json_type {
    JSON_NULL = 0,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    // JSON_STRING: the decoded bytes, NUL-terminated (n excludes it; the bytes may hold NULs
    // from \u0000, so n is authoritative). JSON_NUMBER: the number's text as written.
    const char *s;
    size_t n;
    // JSON_ARRAY: n items; JSON_OBJECT: n members, keys[i] (decoded, NUL-terminated, key_len[i]
    // bytes) naming items[i], in document order.
    json_value *items;
    const char **keys;
    size_t *key_len;
    size_t column;  // where the value starts (1-based byte column)
};

typedef struct json_doc {
    json_value *root;
    void *arena;  // every allocation of the document
} json_doc;

// Parses s[0..n) (need not be NUL-terminated). Returns 0 and *d, or -1 with e = "column C:
// reason" and *d empty. json_doc_free(d) releases it either way.
int json_parse(json_doc *d, const char *s, size_t n, berr *e);
void json_doc_free(json_doc *d);

// The member `key` of an object (NULL if absent or v is not an object).
const json_value *json_get(const json_value *v, const char *key);
const char *json_type_name(json_type t);  // "null", "false", "true", "number", "string", "array", "object"
// A number that is an integer in [lo, hi] (written without fraction or exponent): 0 and *out,
// else -1 (e: why).
int json_int(const json_value *v, int64_t lo, int64_t hi, int64_t *out, berr *e);

#ifdef __cplusplus
}
#endif
