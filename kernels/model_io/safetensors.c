// safetensors.c — reading and writing the safetensors container (see safetensors.h).
#include "kernels/model_io/safetensors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/json.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors IO assumes a little-endian host"
#endif

#define ST_MAX_HEADER (100u << 20)  // HF's reader refuses larger headers too
#define ST_CHUNK (16u << 20)

static const char *const dtype_names[] = {"F32", "BF16", "F16"};
static const size_t dtype_sizes[] = {4, 2, 2};

const char *st_dtype_name(int d) { return d >= 0 && d < 3 ? dtype_names[d] : "?"; }
size_t st_dtype_size(int d) { return d >= 0 && d < 3 ? dtype_sizes[d] : 0; }

uint16_t st_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu)) return (uint16_t)(u >> 16 | 0x0040);  // quiet NaN
    u += 0x7FFFu + (u >> 16 & 1);  // round to nearest, ties to even
    return (uint16_t)(u >> 16);
}

float st_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, ex = h >> 10 & 31, man = h & 1023, u;
    if (ex == 0) {
        if (!man) u = sign;
        else {  // subnormal: normalise
            int k = -1;
            do k++, man <<= 1; while (!(man & 1024));
            u = sign | (uint32_t)(127 - 15 - k) << 23 | (man & 1023) << 13;
        }
    } else if (ex == 31) u = sign | 0x7F800000u | man << 13;
    else u = sign | (ex + 127 - 15) << 23 | man << 13;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void st_close(st_file *s) {
    for (int i = 0; i < s->n; i++) free(s->t[i].name);
    for (int i = 0; i < s->nmeta; i++) free(s->meta_key[i]), free(s->meta_val[i]);
    free(s->t);
    free(s->meta_key);
    free(s->meta_val);
    free(s->path);
    memset(s, 0, sizeof *s);
}

// A JSON number that is a plain integer in [0, max] (sizes and offsets never go through a double).
static int as_size(const json_value *v, uint64_t max, uint64_t *out) {
    int64_t x;
    berr ignored;
    if (!v || json_int(v, 0, max > INT64_MAX ? INT64_MAX : (int64_t)max, &x, &ignored)) return -1;
    *out = (uint64_t)x;
    return 0;
}

// Header positions in messages are file offsets: 8 + the value's byte offset in the JSON text.
#define AT(v) ((unsigned long long)(8 + (v)->column - 1))
static int parse_tensor(st_file *s, const char *name, const json_value *v, st_tensor *t, uint64_t data_len, berr *e) {
    const char *p = s->path;
    if (v->type != JSON_OBJECT) return berr_set(e, "%s: tensor '%s' (header byte %llu): not an object", p, name, AT(v));
    for (size_t i = 0; i < v->n; i++) {
        const char *k = v->keys[i];
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return berr_set(e, "%s: tensor '%s' (header byte %llu): unknown field '%s'", p, name, AT(&v->items[i]), k);
    }
    const json_value *dt = json_get(v, "dtype"), *sh = json_get(v, "shape"), *of = json_get(v, "data_offsets");
    if (!dt || !sh || !of)
        return berr_set(e, "%s: tensor '%s' (header byte %llu): needs dtype, shape and data_offsets", p, name, AT(v));
    if (dt->type != JSON_STRING) return berr_set(e, "%s: tensor '%s' (header byte %llu): dtype is not a string", p, name, AT(dt));
    t->dtype = -1;
    for (int d = 0; d < 3; d++)
        if (strcmp(dt->s, dtype_names[d]) == 0) t->dtype = d;
    if (t->dtype < 0)
        return berr_set(e, "%s: tensor '%s' (header byte %llu): dtype %s is not supported (F32, BF16, F16 are read)", p,
                        name, AT(dt), dt->s);
    if (sh->type != JSON_ARRAY || sh->n > ST_MAX_DIMS)
        return berr_set(e, "%s: tensor '%s' (header byte %llu): shape must be an array of at most %d sizes", p, name,
                        AT(sh), ST_MAX_DIMS);
    t->ndim = (int)sh->n;
    t->numel = 1;
    for (size_t i = 0; i < sh->n; i++) {
        uint64_t d;
        if (as_size(&sh->items[i], 1ull << 40, &d))
            return berr_set(e, "%s: tensor '%s' (header byte %llu): shape[%zu] is not a size", p, name, AT(&sh->items[i]), i);
        t->shape[i] = (int64_t)d;
        if (d && t->numel > (1ull << 42) / d)
            return berr_set(e, "%s: tensor '%s' (header byte %llu): shape too large", p, name, AT(sh));
        t->numel *= d;
    }
    if (of->type != JSON_ARRAY || of->n != 2 || as_size(&of->items[0], UINT64_MAX, &t->begin) ||
        as_size(&of->items[1], UINT64_MAX, &t->end))
        return berr_set(e, "%s: tensor '%s' (header byte %llu): data_offsets must be [begin, end]", p, name, AT(of));
    if (t->begin > t->end || t->end > data_len)
        return berr_set(e, "%s: tensor '%s' (header byte %llu): data_offsets [%llu, %llu] outside the %llu data bytes "
                        "(file offsets %llu-%llu)", p, name, AT(of),
                        (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)data_len,
                        (unsigned long long)s->data_start, (unsigned long long)(s->data_start + data_len));
    if (t->end - t->begin != t->numel * dtype_sizes[t->dtype])
        return berr_set(e, "%s: tensor '%s' (header byte %llu): %llu bytes at file offset %llu, but shape and dtype %s need %llu",
                        p, name, AT(of), (unsigned long long)(t->end - t->begin),
                        (unsigned long long)(s->data_start + t->begin), dt->s,
                        (unsigned long long)(t->numel * dtype_sizes[t->dtype]));
    t->name = xstrdup(name);
    return 0;
}

static int by_begin(const void *a, const void *b) {
    const st_tensor *x = *(st_tensor *const *)a, *y = *(st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

int st_open(st_file *s, const char *path, berr *e) {
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f) return berr_set(e, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return berr_set(e, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)sb.st_size;
    uint8_t h8[8];
    if (size < 8 || fread(h8, 1, 8, f) != 8) {
        fclose(f);
        return berr_set(e, "%s: %llu bytes: too short for a safetensors file (8-byte header length at offset 0)", path,
                        (unsigned long long)size);
    }
    uint64_t hl = le64(h8);
    if (hl < 2 || hl > ST_MAX_HEADER || hl > size - 8) {
        fclose(f);
        return berr_set(e, "%s: header length %llu at offset 0 does not fit the file (%llu bytes; at most %u)", path,
                        (unsigned long long)hl, (unsigned long long)size, ST_MAX_HEADER);
    }
    char *text = xmalloc(hl + 1);
    size_t got = fread(text, 1, hl, f);
    fclose(f);
    if (got != hl) {
        free(text);
        return berr_set(e, "%s: read failed in the header (offset %zu)", path, 8 + got);
    }
    text[hl] = 0;
    if (text[0] != '{') {
        free(text);
        return berr_set(e, "%s: header at offset 8 does not start with '{'", path);
    }
    json_doc doc;
    if (json_parse(&doc, text, hl, e)) {
        free(text);
        json_doc_free(&doc);
        return berr_wrap(e, "%s: header JSON (file offset = 8 + column - 1)", path);
    }
    free(text);
    const json_value *root = doc.root;
    s->path = xstrdup(path);
    s->header_len = hl;
    s->data_start = 8 + hl;
    s->file_size = size;
    uint64_t data_len = size - s->data_start;
    int rc = 0;
    if (root->type != JSON_OBJECT) rc = berr_set(e, "%s: header is not a JSON object", path);
    s->t = xcalloc(root->n + 1, sizeof(st_tensor));
    for (size_t i = 0; !rc && i < root->n; i++) {
        const char *k = root->keys[i];
        const json_value *v = &root->items[i];
        if (strcmp(k, "__metadata__") == 0) {
            if (v->type != JSON_OBJECT) {
                rc = berr_set(e, "%s: __metadata__ (header byte %llu) is not an object", path, AT(v));
                break;
            }
            s->meta_key = xcalloc(v->n + 1, sizeof(char *));
            s->meta_val = xcalloc(v->n + 1, sizeof(char *));
            for (size_t m = 0; !rc && m < v->n; m++) {
                if (v->items[m].type != JSON_STRING) {
                    rc = berr_set(e, "%s: __metadata__ value of '%s' (header byte %llu) is not a string", path,
                                  v->keys[m], AT(&v->items[m]));
                    break;
                }
                s->meta_key[s->nmeta] = xstrdup(v->keys[m]);
                s->meta_val[s->nmeta++] = xstrdup(v->items[m].s);
            }
            continue;
        }
        if (root->key_len[i] == 0 || strlen(k) != root->key_len[i]) {
            rc = berr_set(e, "%s: the name of the tensor at header byte %llu is empty or holds a NUL", path, AT(v));
            break;
        }
        if (parse_tensor(s, k, v, &s->t[s->n], data_len, e)) rc = -1;
        else s->n++;
    }
    json_doc_free(&doc);
    if (!rc) {  // the tensors must tile [0, data_len): no overlap, no gap, nothing after
        st_tensor **ord = xmalloc((size_t)(s->n + 1) * sizeof *ord);
        for (int i = 0; i < s->n; i++) ord[i] = &s->t[i];
        qsort(ord, (size_t)s->n, sizeof *ord, by_begin);
        uint64_t at = 0;
        for (int i = 0; !rc && i < s->n; i++) {
            if (ord[i]->begin < at)
                rc = berr_set(e, "%s: tensor '%s' at file offset %llu overlaps '%s' (which ends at %llu)", path,
                              ord[i]->name, (unsigned long long)(s->data_start + ord[i]->begin), ord[i - 1]->name,
                              (unsigned long long)(s->data_start + at));
            else if (ord[i]->begin > at)
                rc = berr_set(e, "%s: %llu unreferenced bytes at file offset %llu before tensor '%s'", path,
                              (unsigned long long)(ord[i]->begin - at), (unsigned long long)(s->data_start + at), ord[i]->name);
            at = ord[i]->end;
        }
        if (!rc && at != data_len)
            rc = berr_set(e, "%s: file is %llu bytes but its tensors end at offset %llu (truncated or trailing data)", path,
                          (unsigned long long)size, (unsigned long long)(s->data_start + at));
        free(ord);
    }
    if (rc) st_close(s);
    return rc;
}

const st_tensor *st_find(const st_file *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

const char *st_meta(const st_file *s, const char *key) {
    for (int i = 0; i < s->nmeta; i++)
        if (strcmp(s->meta_key[i], key) == 0) return s->meta_val[i];
    return NULL;
}

int st_read_f32(const st_file *s, const st_tensor *t, float *dst, berr *e) {
    FILE *f = fopen(s->path, "rb");
    if (!f) return berr_set(e, "cannot open %s: %s", s->path, strerror(errno));
    uint64_t off = s->data_start + t->begin, nbytes = t->end - t->begin;
    int rc = fseeko(f, (off_t)off, SEEK_SET) ? berr_set(e, "%s: cannot seek to offset %llu (tensor '%s')", s->path,
                                                         (unsigned long long)off, t->name) : 0;
    if (!rc && t->dtype == ST_F32) {
        if (fread(dst, 1, nbytes, f) != nbytes)
            rc = berr_set(e, "%s: read failed in tensor '%s' at offset %llu", s->path, t->name, (unsigned long long)off);
    } else if (!rc) {
        uint16_t *tmp = xmalloc(nbytes + 2);
        if (fread(tmp, 1, nbytes, f) != nbytes)
            rc = berr_set(e, "%s: read failed in tensor '%s' at offset %llu", s->path, t->name, (unsigned long long)off);
        for (uint64_t i = 0; !rc && i < t->numel; i++)
            dst[i] = t->dtype == ST_BF16 ? st_bf16_to_f32(tmp[i]) : st_f16_to_f32(tmp[i]);
        free(tmp);
    }
    fclose(f);
    return rc;
}

int st_write(const char *path, const st_out *t, int n, const char *const *meta, int nmeta, berr *e) {
    char *hdr = NULL;
    size_t hlen = 0;
    FILE *m = open_memstream(&hdr, &hlen);
    if (!m) return berr_set(e, "%s: open_memstream failed", path);
    fputs("{\"__metadata__\":{", m);
    for (int i = 0; i < nmeta; i++) {
        if (i) fputc(',', m);
        json_string(m, meta[2 * i], strlen(meta[2 * i]));
        fputc(':', m);
        json_string(m, meta[2 * i + 1], strlen(meta[2 * i + 1]));
    }
    fputc('}', m);
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        fputc(',', m);
        json_string(m, t[i].name, strlen(t[i].name));
        fprintf(m, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(t[i].dtype));
        for (int d = 0; d < t[i].ndim; d++) {
            fprintf(m, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
            numel *= (uint64_t)t[i].shape[d];
        }
        uint64_t bytes = numel * st_dtype_size(t[i].dtype);
        fprintf(m, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at, (unsigned long long)(at + bytes));
        at += bytes;
    }
    fputc('}', m);
    while (ftell(m) % 8) fputc(' ', m);  // pad with spaces: the data then starts 8-byte aligned (8 + N)
    fclose(m);
    uint8_t h8[8];
    put_le64(h8, hlen);
    atomic_file a;
    int rc = atomic_open(&a, path, e);
    if (!rc) rc = atomic_write(&a, h8, 8, e);
    if (!rc) rc = atomic_write(&a, hdr, hlen, e);
    free(hdr);
    uint16_t *buf = xmalloc(ST_CHUNK * sizeof(uint16_t));
    for (int i = 0; !rc && i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (uint64_t)t[i].shape[d];
        if (t[i].dtype == ST_F32) {
            rc = atomic_write(&a, t[i].data, numel * 4, e);
            continue;
        }
        for (uint64_t o = 0; !rc && o < numel; o += ST_CHUNK) {
            uint64_t k = numel - o < ST_CHUNK ? numel - o : ST_CHUNK;
            for (uint64_t j = 0; j < k; j++) buf[j] = st_f32_to_bf16(t[i].data[o + j]);
            rc = atomic_write(&a, buf, k * 2, e);
        }
    }
    free(buf);
    if (rc) {
        if (a.f) atomic_abort(&a);
        return -1;
    }
    return atomic_commit(&a, e);
}
