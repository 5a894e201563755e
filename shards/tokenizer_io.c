// tokenizer_io.c — vocabulary files: berry's own binary file, and GPT-2's vocab.json +
// merges.txt (the format HF tokenizers' models.BPE.from_file reads).
//
// berry's file (little-endian; written atomically):
//   offset 0   8 bytes  magic "BERRYBPE"
//          8   u32      format version (1)
//         12   u32      pre-tokenisation (1 = gpt2, 2 = digits)
//         16   u32      vocab_size V
//         20   u32      number of merge rules M
//         24   u32      number of special tokens S
//         28   u32      reserved, 0
//         32   V tokens in id order: u8 kind (0 byte, 1 merge result, 2 special), u32 length, bytes
//              M merge rules in rank order: u32 left id, u32 right id, u32 result id
//         end-8 u64     XXH64 (seed 0) of every byte before it
#include <stdlib.h>
#include <string.h>

#include "shards/tokenizer.h"
#include "shards/tokenizer_internal.h"
#include "shards/tokenizer_pretok.h"
#include "shards/tokenizer_strmap.h"

#define BERRY_MAGIC "BERRYBPE"
#define BERRY_VERSION 1u
#define BERRY_HEADER 32u

// ---- berry's file -----------------------------------------------------------------------------

int bpe_save(const bpe *t, const char *path, berr *e) {
    bbuf b = {0};
    bbuf_put(&b, BERRY_MAGIC, 8);
    bbuf_u32(&b, BERRY_VERSION);
    bbuf_u32(&b, (uint32_t)t->pretok);
    bbuf_u32(&b, t->vocab_size);
    bbuf_u32(&b, t->nmerges);
    bbuf_u32(&b, t->nspecials);
    bbuf_u32(&b, 0);
    for (uint32_t id = 0; id < t->vocab_size; id++) {
        bbuf_u8(&b, t->kind[id]);
        bbuf_u32(&b, t->tok_len[id]);
        bbuf_put(&b, t->bytes + t->tok_off[id], t->tok_len[id]);
    }
    for (size_t k = 0; k < 3 * (size_t)t->nmerges; k++) bbuf_u32(&b, t->merges[k]);
    bbuf_u64(&b, hash64(b.p, b.n, 0));
    int rc = write_file_atomic(path, b.p, b.n, e);
    bbuf_free(&b);
    return rc;
}

bpe *bpe_load(const char *path, berr *e) {
    char *buf;
    size_t size;
    if (read_file(path, &buf, &size, e)) return NULL;
    const uint8_t *p = (const uint8_t *)buf;
    bpe *t = NULL;
    if (size < BERRY_HEADER + 8) {
        berr_set(e, "%s: %zu bytes is too short for a berry tokenizer file (header %u + checksum 8)", path, size, BERRY_HEADER);
        goto fail;
    }
    if (memcmp(p, BERRY_MAGIC, 8) != 0) {
        berr_set(e, "%s: byte offset 0: bad magic (not a berry tokenizer file; GPT-2 vocab.json and merges.txt are read with shards tokenize --gpt2-vocab F --gpt2-merges F)", path);
        goto fail;
    }
    if (le32(p + 8) != BERRY_VERSION) {
        berr_set(e, "%s: byte offset 8: format version %u, this build reads version %u", path, le32(p + 8), BERRY_VERSION);
        goto fail;
    }
    uint64_t want = le64(p + size - 8), got = hash64(p, size - 8, 0);
    if (want != got) {
        berr_set(e, "%s: byte offset %zu: checksum mismatch (stored %016llx, computed %016llx): the file is corrupted",
                 path, size - 8, (unsigned long long)want, (unsigned long long)got);
        goto fail;
    }
    uint32_t pretok = le32(p + 12), V = le32(p + 16), M = le32(p + 20), S = le32(p + 24);
    if (pretok != BPE_PRETOK_GPT2 && pretok != BPE_PRETOK_DIGITS) {
        berr_set(e, "%s: byte offset 12: unknown pre-tokenisation %u", path, pretok);
        goto fail;
    }
    if (V > BPE_MAX_VOCAB || V < 256) {
        berr_set(e, "%s: byte offset 16: vocab_size %u outside [256, %u]", path, V, BPE_MAX_VOCAB);
        goto fail;
    }
    if (le32(p + 28) != 0) {
        berr_set(e, "%s: byte offset 28: reserved field is %u, not 0", path, le32(p + 28));
        goto fail;
    }
    t = bpe_new_empty((int)pretok);
    size_t off = BERRY_HEADER, end = size - 8;
    uint32_t nspecial = 0;
    for (uint32_t id = 0; id < V; id++) {
        if (end - off < 5) {
            berr_set(e, "%s: byte offset %zu: file ends inside token id %u", path, off, id);
            goto fail;
        }
        uint8_t kind = p[off];
        uint32_t len = le32(p + off + 1);
        if (kind > BPE_KIND_SPECIAL) {
            berr_set(e, "%s: byte offset %zu: token id %u has unknown kind %u", path, off, id, kind);
            goto fail;
        }
        if (len > end - off - 5) {
            berr_set(e, "%s: byte offset %zu: token id %u claims %u bytes, past the end of the data", path, off + 1, id, len);
            goto fail;
        }
        if (kind == BPE_KIND_SPECIAL) nspecial++;
        bpe_push_token(t, kind, p + off + 5, len);
        off += 5 + (size_t)len;
    }
    if (nspecial != S) {
        berr_set(e, "%s: byte offset 24: header says %u special tokens, the token table has %u", path, S, nspecial);
        goto fail;
    }
    if (end - off != 12 * (size_t)M) {
        berr_set(e, "%s: byte offset %zu: %zu bytes left for %u merge rules of 12 bytes", path, off, end - off, M);
        goto fail;
    }
    for (uint32_t k = 0; k < M; k++, off += 12) bpe_push_merge(t, le32(p + off), le32(p + off + 4), le32(p + off + 8));
    free(buf);
    t = bpe_finish(t, e);
    if (!t) berr_wrap(e, "%s", path);
    return t;
fail:
    bpe_free(t);
    free(buf);
    return NULL;
}

// ---- GPT-2's byte <-> unicode mapping -----------------------------------------------------------
// Printable bytes stand for themselves; the other 68 map to U+0100 and up, in byte order,
// so every byte is a visible character (space is 'Ġ' U+0120, newline 'Ċ' U+010A).

static void byte_map(uint32_t cp_of[256], int16_t byte_of[324]) {
    uint32_t n = 0;
    for (int i = 0; i < 324; i++) byte_of[i] = -1;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        cp_of[b] = keep ? (uint32_t)b : 256 + n++;
        byte_of[cp_of[b]] = (int16_t)b;
    }
}

static void put_utf8(bbuf *b, uint32_t cp) {
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) u[0] = (uint8_t)cp, n = 1;
    else if (cp < 0x800) u[0] = (uint8_t)(0xC0 | cp >> 6), u[1] = (uint8_t)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
        u[0] = (uint8_t)(0xE0 | cp >> 12), u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)), u[2] = (uint8_t)(0x80 | (cp & 0x3F)), n = 3;
    else
        u[0] = (uint8_t)(0xF0 | cp >> 18), u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F)), u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)),
        u[3] = (uint8_t)(0x80 | (cp & 0x3F)), n = 4;
    bbuf_put(b, u, n);
}

// Decodes a vocab.json key to bytes through the byte mapping; 0 if some character is not
// one of the 256 (then the key is not a byte-level token).
static int key_to_bytes(const uint8_t *k, size_t n, const int16_t byte_of[324], bbuf *out) {
    out->n = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c = k[i], cp;
        if (c < 0x80) cp = c, i += 1;
        else if ((c & 0xE0) == 0xC0 && i + 1 < n) cp = (c & 0x1F) << 6 | (k[i + 1] & 0x3Fu), i += 2;
        else return 0;  // byte-mapped characters are all below U+0800
        if (cp >= 324 || byte_of[cp] < 0) return 0;
        bbuf_u8(out, (uint8_t)byte_of[cp]);
    }
    return 1;
}

// ---- vocab.json ---------------------------------------------------------------------------------

typedef struct {
    const char *path;
    const uint8_t *p;
    size_t n, i;
    berr *e;
} json_in;

static int json_fail(json_in *j, const char *what) {
    size_t line = 1;
    for (size_t k = 0; k < j->i && k < j->n; k++) line += j->p[k] == '\n';
    return berr_set(j->e, "%s: byte offset %zu (line %zu): %s", j->path, j->i, line, what);
}

static void json_ws(json_in *j) {
    while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\n' || j->p[j->i] == '\r')) j->i++;
}

static int hex4(json_in *j, uint32_t *v) {
    if (j->n - j->i < 4) return json_fail(j, "truncated \\u escape");
    *v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t c = j->p[j->i + k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return json_fail(j, "bad hex digit in \\u escape");
        *v = *v << 4 | (uint32_t)d;
    }
    j->i += 4;
    return 0;
}

// Reads a JSON string (at its opening quote) into out as UTF-8.
static int json_str(json_in *j, bbuf *out) {
    out->n = 0;
    if (j->i >= j->n || j->p[j->i] != '"') return json_fail(j, "expected a string");
    j->i++;
    for (;;) {
        if (j->i >= j->n) return json_fail(j, "unterminated string");
        uint8_t c = j->p[j->i];
        if (c == '"') {
            j->i++;
            return 0;
        }
        if (c < 0x20) return json_fail(j, "control character inside a string");
        if (c != '\\') {
            size_t cl;
            if (bpe_utf8_decode(j->p, j->n, j->i, &cl) < 0) return json_fail(j, "invalid UTF-8 inside a string");
            bbuf_put(out, j->p + j->i, cl);
            j->i += cl;
            continue;
        }
        if (++j->i >= j->n) return json_fail(j, "unterminated escape");
        c = j->p[j->i++];
        uint32_t cp;
        switch (c) {
        case '"': bbuf_u8(out, '"'); break;
        case '\\': bbuf_u8(out, '\\'); break;
        case '/': bbuf_u8(out, '/'); break;
        case 'b': bbuf_u8(out, '\b'); break;
        case 'f': bbuf_u8(out, '\f'); break;
        case 'n': bbuf_u8(out, '\n'); break;
        case 'r': bbuf_u8(out, '\r'); break;
        case 't': bbuf_u8(out, '\t'); break;
        case 'u':
            if (hex4(j, &cp)) return -1;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return json_fail(j, "unpaired low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (j->n - j->i < 2 || j->p[j->i] != '\\' || j->p[j->i + 1] != 'u')
                    return json_fail(j, "high surrogate not followed by a \\u low surrogate");
                j->i += 2;
                if (hex4(j, &lo)) return -1;
                if (lo < 0xDC00 || lo > 0xDFFF) return json_fail(j, "high surrogate not followed by a low surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(out, cp);
            break;
        default: j->i--; return json_fail(j, "unknown escape in string");
        }
    }
}

// Reads a non-negative integer id.
static int json_id(json_in *j, uint64_t *v) {
    size_t start = j->i;
    *v = 0;
    while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') {
        if (*v > BPE_MAX_VOCAB) return json_fail(j, "token id too large");
        *v = *v * 10 + (j->p[j->i++] - '0');
    }
    if (j->i == start) return json_fail(j, "expected a non-negative whole number (token id)");
    if (j->p[start] == '0' && j->i - start > 1) {
        j->i = start;
        return json_fail(j, "token id with a leading zero");
    }
    if (j->i < j->n && (j->p[j->i] == '.' || j->p[j->i] == 'e' || j->p[j->i] == 'E')) return json_fail(j, "token id is not a whole number");
    return 0;
}

// Parses vocab.json into keys (UTF-8 strings, back to back in *arena) by id.
static int parse_vocab(json_in *j, bbuf *arena, uint64_t **key_off, uint32_t **key_len, uint32_t *V) {
    bbuf key = {0};
    size_t cap = 1024, n = 0;
    uint64_t *ids = xmalloc(cap * sizeof *ids), *offs = xmalloc(cap * sizeof *offs);
    uint32_t *lens = xmalloc(cap * sizeof *lens);
    int rc = 0;
    json_ws(j);
    if (j->i >= j->n || j->p[j->i] != '{') {
        rc = json_fail(j, "expected '{' (vocab.json is a JSON object from token to id)");
        goto done;
    }
    j->i++;
    json_ws(j);
    if (j->i < j->n && j->p[j->i] == '}') j->i++;
    else
        for (;;) {
            json_ws(j);
            if ((rc = json_str(j, &key))) goto done;
            json_ws(j);
            if (j->i >= j->n || j->p[j->i] != ':') {
                rc = json_fail(j, "expected ':' after a key");
                goto done;
            }
            j->i++;
            json_ws(j);
            uint64_t id;
            if ((rc = json_id(j, &id))) goto done;
            if (n == cap) {
                cap *= 2;
                ids = xrealloc(ids, cap * sizeof *ids);
                offs = xrealloc(offs, cap * sizeof *offs);
                lens = xrealloc(lens, cap * sizeof *lens);
            }
            ids[n] = id;
            offs[n] = arena->n;
            lens[n] = (uint32_t)key.n;
            bbuf_put(arena, key.p, key.n);
            n++;
            json_ws(j);
            if (j->i < j->n && j->p[j->i] == ',') {
                j->i++;
                continue;
            }
            if (j->i < j->n && j->p[j->i] == '}') {
                j->i++;
                break;
            }
            rc = json_fail(j, "expected ',' or '}' after a token id");
            goto done;
        }
    json_ws(j);
    if (j->i != j->n) {
        rc = json_fail(j, "unexpected data after the JSON object");
        goto done;
    }
    if (n > BPE_MAX_VOCAB) {
        rc = berr_set(j->e, "%s: %zu entries exceed the vocabulary limit of %u", j->path, n, BPE_MAX_VOCAB);
        goto done;
    }
    // Ids must be exactly 0..n-1, each once.
    *key_off = xmalloc((n ? n : 1) * sizeof **key_off);
    *key_len = xmalloc((n ? n : 1) * sizeof **key_len);
    uint8_t *seen = xcalloc(n ? n : 1, 1);
    for (size_t k = 0; k < n && !rc; k++) {
        if (ids[k] >= n)
            rc = berr_set(j->e, "%s: token id %llu is out of range: %zu entries need ids 0..%zu", j->path,
                          (unsigned long long)ids[k], n, n - 1);
        else if (seen[ids[k]])
            rc = berr_set(j->e, "%s: token id %llu appears twice", j->path, (unsigned long long)ids[k]);
        else {
            seen[ids[k]] = 1;
            (*key_off)[ids[k]] = offs[k];
            (*key_len)[ids[k]] = lens[k];
        }
    }
    free(seen);
    if (rc) {
        free(*key_off);
        free(*key_len);
        *key_off = NULL;
        *key_len = NULL;
    }
    *V = (uint32_t)n;
done:
    bbuf_free(&key);
    free(ids);
    free(offs);
    free(lens);
    return rc;
}

bpe *bpe_load_gpt2(const char *vocab_json, const char *merges_txt, int pretok, berr *e) {
    if (pretok != BPE_PRETOK_GPT2 && pretok != BPE_PRETOK_DIGITS) {
        berr_set(e, "unknown pre-tokenisation mode %d (want %d=gpt2 or %d=digits)", pretok, BPE_PRETOK_GPT2, BPE_PRETOK_DIGITS);
        return NULL;
    }
    char *vbuf = NULL, *mbuf = NULL;
    size_t vsize, msize;
    if (read_file(vocab_json, &vbuf, &vsize, e)) return NULL;
    if (read_file(merges_txt, &mbuf, &msize, e)) {
        free(vbuf);
        return NULL;
    }
    uint32_t cp_of[256];
    int16_t byte_of[324];
    byte_map(cp_of, byte_of);
    bbuf arena = {0}, tmp = {0};
    uint64_t *key_off = NULL;
    uint32_t *key_len = NULL, V = 0;
    uint8_t *kind = NULL;
    uint32_t *mtrip = NULL;
    size_t nm = 0, mcap = 0;
    bpe_strmap by_key = {0};
    bpe *t = NULL;
    int rc;
    json_in j = {vocab_json, (const uint8_t *)vbuf, vsize, 0, e};
    if ((rc = parse_vocab(&j, &arena, &key_off, &key_len, &V))) goto done;

    // Which keys are one mapped byte; every byte needs one.
    kind = xmalloc(V ? V : 1);
    memset(kind, BPE_KIND_SPECIAL, V ? V : 1);
    bpe_strmap_init(&by_key, V);
    for (uint32_t id = 0; id < V; id++) {
        const uint8_t *k = arena.p + key_off[id];
        if (bpe_strmap_put(&by_key, k, key_len[id], id) != id) {
            rc = berr_set(e, "%s: the key '%.*s' appears twice", vocab_json, (int)key_len[id], (const char *)k);
            goto done;
        }
        if (key_to_bytes(k, key_len[id], byte_of, &tmp) && tmp.n == 1) kind[id] = BPE_KIND_BYTE;
    }
    for (int b = 0; b < 256; b++) {
        bbuf_reserve(&tmp, 4);
        tmp.n = 0;
        put_utf8(&tmp, cp_of[b]);
        if (bpe_strmap_get(&by_key, tmp.p, tmp.n) == UINT32_MAX) {
            rc = berr_set(e, "%s: no token for byte 0x%02x (key '%.*s'): a byte-level vocabulary needs all 256", vocab_json, b,
                          (int)tmp.n, (const char *)tmp.p);
            goto done;
        }
    }

    // merges.txt: "#version" line first (optional), then "left right" per line.
    const uint8_t *m = (const uint8_t *)mbuf;
    size_t pos = 0, line = 0;
    int first_merge_line = 0;
    while (pos < msize) {
        line++;
        const uint8_t *nl = memchr(m + pos, '\n', msize - pos);
        size_t end = nl ? (size_t)(nl - m) : msize, next = nl ? end + 1 : msize;
        size_t ll = end - pos;
        if (ll && m[pos + ll - 1] == '\r') ll--;
        const uint8_t *L = m + pos;
        pos = next;
        if (line == 1 && ll >= 8 && memcmp(L, "#version", 8) == 0) continue;
        if (!first_merge_line) first_merge_line = (int)line;
        const uint8_t *sp = ll ? memchr(L, ' ', ll) : NULL;
        if (!sp || sp == L || sp == L + ll - 1 || memchr(sp + 1, ' ', (size_t)(L + ll - sp - 1))) {
            rc = berr_set(e, "%s: line %zu: expected two tokens separated by one space, got '%.*s'", merges_txt, line,
                          (int)(ll > 80 ? 80 : ll), (const char *)L);
            goto done;
        }
        size_t a_len = (size_t)(sp - L), b_len = ll - a_len - 1;
        uint32_t a = bpe_strmap_get(&by_key, L, a_len), b = bpe_strmap_get(&by_key, sp + 1, b_len);
        if (a == UINT32_MAX || b == UINT32_MAX) {
            rc = berr_set(e, "%s: line %zu: '%.*s' is not in %s", merges_txt, line, (int)(a == UINT32_MAX ? a_len : b_len),
                          (const char *)(a == UINT32_MAX ? L : sp + 1), vocab_json);
            goto done;
        }
        tmp.n = 0;
        bbuf_put(&tmp, L, a_len);
        bbuf_put(&tmp, sp + 1, b_len);
        uint32_t z = bpe_strmap_get(&by_key, tmp.p, tmp.n);
        if (z == UINT32_MAX) {
            rc = berr_set(e, "%s: line %zu: the merged token '%.*s' is not in %s", merges_txt, line, (int)tmp.n,
                          (const char *)tmp.p, vocab_json);
            goto done;
        }
        if (kind[z] == BPE_KIND_BYTE) {
            rc = berr_set(e, "%s: line %zu: merges into the single-byte token '%.*s'", merges_txt, line, (int)tmp.n, (const char *)tmp.p);
            goto done;
        }
        kind[z] = BPE_KIND_MERGE;
        if (nm == mcap) {
            mcap = mcap ? 2 * mcap : 4096;
            mtrip = xrealloc(mtrip, 3 * mcap * sizeof *mtrip);
        }
        mtrip[3 * nm] = a;
        mtrip[3 * nm + 1] = b;
        mtrip[3 * nm + 2] = z;
        nm++;
    }
    if (nm > BPE_MAX_VOCAB) {
        rc = berr_set(e, "%s: %zu merge rules exceed the limit of %u", merges_txt, nm, BPE_MAX_VOCAB);
        goto done;
    }

    // Tokens: byte and merge tokens hold their decoded bytes; the rest are specials whose
    // text is the key itself.
    t = bpe_new_empty(pretok);
    for (uint32_t id = 0; id < V; id++) {
        const uint8_t *k = arena.p + key_off[id];
        if (kind[id] == BPE_KIND_SPECIAL) {
            bpe_push_token(t, BPE_KIND_SPECIAL, k, key_len[id]);
            continue;
        }
        if (!key_to_bytes(k, key_len[id], byte_of, &tmp)) {
            rc = berr_set(e, "%s: token id %u '%.*s' is a merge result but has characters outside GPT-2's byte mapping",
                          vocab_json, id, (int)key_len[id], (const char *)k);
            goto done;
        }
        bpe_push_token(t, kind[id], tmp.p, tmp.n);
    }
    for (size_t k = 0; k < nm; k++) bpe_push_merge(t, mtrip[3 * k], mtrip[3 * k + 1], mtrip[3 * k + 2]);
    t = bpe_finish_lines(t, first_merge_line ? first_merge_line : 1, e);
    if (!t) {
        berr_wrap(e, "%s + %s", vocab_json, merges_txt);
        rc = -1;
    }
done:
    if (rc && t) {
        bpe_free(t);
        t = NULL;
    }
    bpe_strmap_free(&by_key);
    bbuf_free(&arena);
    bbuf_free(&tmp);
    free(key_off);
    free(key_len);
    free(kind);
    free(mtrip);
    free(vbuf);
    free(mbuf);
    return rc ? NULL : t;
}

// ---- writing GPT-2 files ------------------------------------------------------------------------

static void json_put_key(bbuf *b, const uint8_t *k, size_t n) {
    bbuf_u8(b, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = k[i];
        if (c == '"' || c == '\\') {
            bbuf_u8(b, '\\');
            bbuf_u8(b, c);
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            bbuf_put(b, esc, 6);
        } else {
            bbuf_u8(b, c);
        }
    }
    bbuf_u8(b, '"');
}

int bpe_save_gpt2(const bpe *t, const char *vocab_json, const char *merges_txt, berr *e) {
    uint32_t cp_of[256];
    int16_t byte_of[324];
    byte_map(cp_of, byte_of);
    // Keys: byte-mapped text for byte and merge tokens, the text itself for specials.
    bbuf keys = {0};
    uint64_t *off = xmalloc((t->vocab_size ? t->vocab_size : 1) * sizeof *off);
    for (uint32_t id = 0; id < t->vocab_size; id++) {
        off[id] = keys.n;
        const uint8_t *s = t->bytes + t->tok_off[id];
        if (t->kind[id] == BPE_KIND_SPECIAL) bbuf_put(&keys, s, t->tok_len[id]);
        else
            for (uint32_t i = 0; i < t->tok_len[id]; i++) put_utf8(&keys, cp_of[s[i]]);
    }
    int rc = 0;
    bpe_strmap seen;
    bpe_strmap_init(&seen, t->vocab_size);
    for (uint32_t id = 0; id < t->vocab_size && !rc; id++) {
        uint64_t end = id + 1 < t->vocab_size ? off[id + 1] : keys.n;
        uint32_t prev = bpe_strmap_put(&seen, keys.p + off[id], end - off[id], id);
        if (prev != id)
            rc = berr_set(e, "cannot write %s: tokens %u and %u would have the same key '%.*s'", vocab_json, prev, id,
                          (int)(end - off[id]), (const char *)keys.p + off[id]);
    }
    bpe_strmap_free(&seen);
    bbuf v = {0}, m = {0};
    if (!rc) {
        bbuf_put(&v, "{", 1);
        for (uint32_t id = 0; id < t->vocab_size; id++) {
            uint64_t end = id + 1 < t->vocab_size ? off[id + 1] : keys.n;
            bbuf_put(&v, id ? ",\n" : "\n", id ? 2 : 1);
            json_put_key(&v, keys.p + off[id], end - off[id]);
            char num[24];
            int nn = snprintf(num, sizeof num, ": %u", id);
            bbuf_put(&v, num, (size_t)nn);
        }
        bbuf_put(&v, "\n}\n", 3);
        const char *hdr = "#version: 0.2\n";
        bbuf_put(&m, hdr, strlen(hdr));
        for (uint32_t k = 0; k < t->nmerges; k++) {
            for (int side = 0; side < 2; side++) {
                uint32_t id = t->merges[3 * (size_t)k + side];
                uint64_t end = id + 1 < t->vocab_size ? off[id + 1] : keys.n;
                bbuf_put(&m, keys.p + off[id], end - off[id]);
                bbuf_u8(&m, side ? '\n' : ' ');
            }
        }
        rc = write_file_atomic(vocab_json, v.p, v.n, e);
        if (!rc) rc = write_file_atomic(merges_txt, m.p, m.n, e);
    }
    bbuf_free(&keys);
    bbuf_free(&v);
    bbuf_free(&m);
    free(off);
    return rc;
}
