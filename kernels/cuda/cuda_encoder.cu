// cuda_encoder.cu — token + position embeddings, forward and backward.
//
// The token-embedding gradient is a scatter-add (many positions hit the same row). To keep
// it deterministic without atomics, positions are stably radix-sorted by token (CUB, from
// the CUDA toolkit); runs of equal tokens are then summed in position order (see below).
#include <cub/cub.cuh>

#include "kernels/cuda/cuda_common.cuh"

__global__ void encoder_fwd(bf16 *out, const int32_t *tokens, const int32_t *positions, const bf16 *wte,
                            const bf16 *wpe, int N, int T, int C) {
    size_t idx = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (idx >= (size_t)N * C) return;
    int i = (int)(idx / C), c = (int)(idx % C);
    int pos = positions ? positions[i] : i % T;
    float a[8], b[8];
    load8(wte + (size_t)tokens[i] * C + c, a);
    load8(wpe + (size_t)pos * C + c, b);
#pragma unroll
    for (int j = 0; j < 8; j++) a[j] += b[j];
    store8(out + idx, a);
}

// dwpe[t] += sum over sequences b of dout[b*T + t], in order of b.
__global__ void encoder_bwd_wpe(float *dwpe, const bf16 *dout, int N, int T, int C) {
    size_t idx = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (idx >= (size_t)T * C) return;
    int t = (int)(idx / C), c = (int)(idx % C);
    float acc[8] = {0};
    for (int i = t; i < N; i += T) {
        float f[8];
        load8(dout + (size_t)i * C + c, f);
#pragma unroll
        for (int j = 0; j < 8; j++) acc[j] += f[j];
    }
#pragma unroll
    for (int j = 0; j < 8; j++) dwpe[idx + j] += acc[j];
}

__global__ void iota_kernel(int32_t *v, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) v[i] = i;
}

// The token-sorted positions are cut into chunks of ENC_CHUNK entries, one block each. A run
// of equal tokens that lies inside one chunk and is the token's whole segment is summed in
// position order and added to dwte directly (no other block touches that row). A run that
// continues into a neighbouring chunk is summed into a partial row instead: slot 2c if it is
// the chunk's first run, else 2c+1. A second kernel then adds each such segment's partials
// in chunk order. Every sum has a fixed order: deterministic, and a token that fills the
// whole batch costs N/ENC_CHUNK parallel blocks, not one block walking N rows.
#define ENC_CHUNK 64
__device__ __forceinline__ bool enc_spans(const int32_t *stok, int a, int b, int N, int c0, int c1) {
    int tok = stok[a];
    return (a == c0 && a > 0 && stok[a - 1] == tok) || (b == c1 && b < N && stok[b] == tok);
}

__global__ void encoder_bwd_chunks(float *dwte, float *part, const bf16 *dout, const int32_t *stok,
                                   const int32_t *spos, int N, int C) {
    const int c = blockIdx.x, c0 = c * ENC_CHUNK, c1 = min(N, c0 + ENC_CHUNK);
    for (int a = c0; a < c1;) {
        int tok = stok[a], b = a + 1;
        while (b < c1 && stok[b] == tok) b++;
        bool spans = enc_spans(stok, a, b, N, c0, c1);
        float *dst = spans ? part + (size_t)(2 * c + (a == c0 ? 0 : 1)) * C : dwte + (size_t)tok * C;
        for (int ch = threadIdx.x * 8; ch < C; ch += blockDim.x * 8) {
            float acc[8] = {0};
            for (int j = a; j < b; j++) {
                float f[8];
                load8(dout + (size_t)spos[j] * C + ch, f);
#pragma unroll
                for (int k = 0; k < 8; k++) acc[k] += f[k];
            }
#pragma unroll
            for (int k = 0; k < 8; k++) dst[ch + k] = spans ? acc[k] : dst[ch + k] + acc[k];
        }
        a = b;
    }
}

// One block per chunk: if the chunk's last run starts a segment that continues into later
// chunks, add that segment's partials (this chunk's, then each later chunk's first run) to dwte.
__global__ void encoder_bwd_spans(float *dwte, const float *part, const int32_t *stok, int N, int C) {
    const int c = blockIdx.x, c0 = c * ENC_CHUNK, c1 = min(N, c0 + ENC_CHUNK);
    int a = c1 - 1, tok = stok[a];
    while (a > c0 && stok[a - 1] == tok) a--;
    bool head = a > c0 || a == 0 || stok[a - 1] != tok;  // the segment starts inside this chunk
    if (!head || c1 == N || stok[c1] != tok) return;
    int nchunks = (N + ENC_CHUNK - 1) / ENC_CHUNK;
    for (int ch = threadIdx.x * 8; ch < C; ch += blockDim.x * 8) {
        float acc[8];
        const float *p0 = part + (size_t)(2 * c + (a == c0 ? 0 : 1)) * C + ch;
#pragma unroll
        for (int k = 0; k < 8; k++) acc[k] = p0[k];
        for (int d = c + 1; d < nchunks && stok[d * ENC_CHUNK] == tok; d++) {
            const float *pd = part + (size_t)(2 * d) * C + ch;
#pragma unroll
            for (int k = 0; k < 8; k++) acc[k] += pd[k];
        }
        float *dst = dwte + (size_t)tok * C + ch;
#pragma unroll
        for (int k = 0; k < 8; k++) dst[k] += acc[k];
    }
}

void cuda_encoder_forward(kb_ctx *ctx, kb_act *out, const int32_t *tokens, const int32_t *positions, const kb_act *wte,
                          const kb_act *wpe, int N, int T, int C) {
    if (C % 8) die("cuda encoder: C=%d must be a multiple of 8", C);
    size_t n8 = (size_t)N * C / 8;
    encoder_fwd<<<cdiv(n8, 256), 256, 0, STREAM(ctx)>>>((bf16 *)out, tokens, positions, (const bf16 *)wte,
                                                         (const bf16 *)wpe, N, T, C);
    LAUNCH_CHECK();
}

static void ensure_sort_space(kb_ctx *ctx, int N, int bits) {
    cuda_state *s = CS(ctx);
    if (N <= s->sort_cap) return;
    CUDA_CHECK(cudaStreamSynchronize(s->stream));
    cudaFree(s->sort_buf);
    cudaFree(s->sort_tmp);
    CUDA_CHECK(cudaMalloc(&s->sort_buf, (size_t)4 * N * sizeof(int32_t)));
    size_t tmp = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(NULL, tmp, (const int32_t *)NULL, (int32_t *)NULL, (const int32_t *)NULL,
                                               (int32_t *)NULL, N, 0, 32, s->stream));
    CUDA_CHECK(cudaMalloc(&s->sort_tmp, tmp));
    s->sort_tmp_bytes = tmp;
    s->sort_cap = N;
}

void cuda_encoder_free(kb_ctx *ctx) {
    cuda_state *s = CS(ctx);
    cudaFree(s->sort_buf);
    cudaFree(s->sort_tmp);
    s->sort_buf = NULL;
    s->sort_tmp = NULL;
    s->sort_cap = 0;
}

void cuda_encoder_backward(kb_ctx *ctx, float *dwte, float *dwpe, const kb_act *dout, const int32_t *tokens, int N,
                           int T, int C, int V) {
    if (C % 8) die("cuda encoder: C=%d must be a multiple of 8", C);
    cudaStream_t st = STREAM(ctx);
    const bf16 *d = (const bf16 *)dout;
    encoder_bwd_wpe<<<cdiv((size_t)T * C / 8, 256), 256, 0, st>>>(dwpe, d, N, T, C);
    LAUNCH_CHECK();
    int bits = 1;
    while ((1ll << bits) < V) bits++;
    ensure_sort_space(ctx, N, bits);
    cuda_state *s = CS(ctx);
    int32_t *kout = s->sort_buf, *vin = kout + N, *vout = vin + N;
    iota_kernel<<<cdiv(N, 256), 256, 0, st>>>(vin, N);
    LAUNCH_CHECK();
    size_t tmp = s->sort_tmp_bytes;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(s->sort_tmp, tmp, tokens, kout, vin, vout, N, 0, bits, st));
    int threads = C / 8 < 128 ? (C / 8 + 31) / 32 * 32 : 128;
    int nchunks = (N + ENC_CHUNK - 1) / ENC_CHUNK;
    float *part = cuda_partials(ctx, (size_t)2 * nchunks * C);
    encoder_bwd_chunks<<<nchunks, threads, 0, st>>>(dwte, part, d, kout, vout, N, C);
    LAUNCH_CHECK();
    encoder_bwd_spans<<<nchunks, threads, 0, st>>>(dwte, part, kout, N, C);
    LAUNCH_CHECK();
}
