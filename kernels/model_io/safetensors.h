// safetensors.h — the safetensors container (https://huggingface.co/docs/safetensors): an
// 8-byte little-endian header length N, N bytes of JSON header, then the tensor bytes.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the byte after the header) and may hold "__metadata__", an object of
// string values.
//
// Reading checks everything before a byte of data is used: N against the file size, the
// header as strict JSON (kernels/json.h), exactly the three keys per tensor, the
// dtype, every dimension, end - begin = elements × dtype size, offsets inside the data, and
// the tensors tiling the data with no overlap and no gap up to the end of the file (the
// rule HF's reader enforces too). A refusal names the file, the tensor and the offset.
//
// Writing puts the tensors contiguous in the order given, pads the header with spaces to a
// multiple of 8 bytes (so the data is aligned), and writes atomically (temp file, rename).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/base.h"

#define ST_MAX_DIMS 8

enum st_dtype { ST_F32 = 0, ST_BF16 = 1, ST_F16 = 2 };
const char *st_dtype_name(int dtype);  // "F32", "BF16", "F16"
size_t st_dtype_size(int dtype);

typedef struct st_tensor {
    char *name;
    int dtype, ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;  // byte range relative to the data start
} st_tensor;

typedef struct st_file {
    char *path;
    uint64_t header_len, data_start, file_size;
    int n;
    st_tensor *t;
    int nmeta;
    char **meta_key, **meta_val;  // __metadata__, in file order
} st_file;

// Opens and validates path (see the top). On failure nothing is left to free.
int st_open(st_file *s, const char *path, berr *e);
void st_close(st_file *s);
const st_tensor *st_find(const st_file *s, const char *name);
const char *st_meta(const st_file *s, const char *key);  // NULL if absent
// Reads tensor t as fp32 into dst (t->numel floats): F32 as is, BF16 and F16 widened exactly.
int st_read_f32(const st_file *s, const st_tensor *t, float *dst, berr *e);

// A tensor to write: fp32 data of prod(shape) elements, stored as dtype (ST_F32 or ST_BF16,
// bf16 by round-to-nearest-even).
typedef struct st_out {
    const char *name;
    int dtype, ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data;
} st_out;
// meta: nmeta key/value pairs (meta[2i], meta[2i+1]) for __metadata__.
int st_write(const char *path, const st_out *t, int n, const char *const *meta, int nmeta, berr *e);

// fp32 <-> bf16 (round to nearest even; NaN stays NaN) and f16 -> fp32.
uint16_t st_f32_to_bf16(float f);
float st_bf16_to_f32(uint16_t h);
float st_f16_to_f32(uint16_t h);
