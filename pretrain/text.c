// text.c — UTF-8-safe output of generated text (see text.h).
#include "pretrain/text.h"

size_t pt_utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) len = 3, lo = 0xa0;
    else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) len = 3;
    else if (c == 0xed) len = 3, hi = 0x9f;  // no UTF-16 surrogates
    else if (c == 0xf0) len = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else if (c == 0xf4) len = 4, hi = 0x8f;
    else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

void pt_json_bytes(FILE *f, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        size_t k = pt_utf8_seq(u + i, n - i);
        if (k == 0) {
            fprintf(f, "\\udc%02x", c);
            i++;
            continue;
        }
        if (k > 1) {
            fwrite(u + i, 1, k, f);
            i += k;
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
        i++;
    }
    fputc('"', f);
}

void pt_print_text(FILE *f, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = pt_utf8_seq(u + i, n - i);
        if (k > 1) {
            fwrite(u + i, 1, k, f);
            i += k;
        } else if (k == 1 && u[i] == '\n') {
            fputs("\\n", f);
            i++;
        } else if (k == 1 && u[i] >= 0x20 && u[i] != 0x7f) {
            fputc(u[i++], f);
        } else {
            fprintf(f, "\\x%02x", u[i++]);
        }
    }
}
