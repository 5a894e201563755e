// text.h — writing model text that may not be valid UTF-8 (a sampled token can be any byte).
#pragma once
#include <stddef.h>
#include <stdio.h>

// Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if the byte starts none.
size_t pt_utf8_seq(const unsigned char *s, size_t n);
// A JSON string of the bytes: valid UTF-8 passes through, every other byte XX is written as
// the escape \udcXX (a lone low surrogate, Python's "surrogateescape"), which is how
// `shards cat` writes such bytes and what `verify check` reads back as the raw byte.
void pt_json_bytes(FILE *f, const char *s, size_t n);
// For a human on one line: newlines as "\n", control characters and bytes that are not
// UTF-8 as "\xNN".
void pt_print_text(FILE *f, const char *s, size_t n);
