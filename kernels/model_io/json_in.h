// json_in.h — a strict JSON reader for the small files model interchange needs (a
// safetensors header, config.json). The whole text is parsed into a tree; anything that is
// not RFC 8259 JSON is refused with the byte offset: a trailing comma, a bare word, an
// unescaped control character, invalid UTF-8, a duplicate object key, nesting deeper than
// JV_MAX_DEPTH, text after the value (white space excepted: safetensors pads with spaces).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"

#define JV_MAX_DEPTH 32

typedef enum { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ } jv_kind;

typedef struct jv {
    jv_kind kind;
    size_t off;     // byte offset of the value in the text (for messages)
    int b;          // JV_BOOL
    double num;     // JV_NUM
    int is_uint;    // JV_NUM written as a plain non-negative integer that fits uint64_t
    uint64_t u;     // its exact value (offsets and shapes must not go through a double)
    char *s;        // JV_STR: the decoded bytes, NUL-terminated
    size_t len;     // JV_STR: their length
    size_t n;       // JV_ARR / JV_OBJ: number of items
    struct jv *items;
    struct jv *keys;  // JV_OBJ: keys[i] (JV_STR) names items[i], in file order
} jv;

// Parses text[0..n). On failure: -1 and "byte offset N: what was wrong" in e.
int jv_parse(const char *text, size_t n, jv *out, berr *e);
void jv_free(jv *v);
// The member named key of an object, or NULL (also NULL when v is not an object).
const jv *jv_get(const jv *v, const char *key);
