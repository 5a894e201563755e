// cuda_optimizer.cu — AdamW (fp32 masters, bf16 working copy written in the same pass),
// deterministic sums / squared norms (a fixed grid, then one block in a fixed order), and
// small elementwise helpers.
#include <math.h>

#include "kernels/cuda/cuda_common.cuh"

#define RED_BLOCKS 1024
#define RED_THREADS 256

__global__ void adamw_kernel(float *p, bf16 *pa, const float *g, float *m, float *v, size_t n, float lr, float b1,
                             float b2, float eps, float wd, float bc1, float bc2, const float *norm_sq, float clip) {
    float sc = 1.f;
    if (norm_sq) {
        float nrm = sqrtf(*norm_sq);
        if (nrm > clip) sc = clip / nrm;
    }
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float gi = g[i] * sc;
        float mi = b1 * m[i] + (1.f - b1) * gi;
        float vi = b2 * v[i] + (1.f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float pi = p[i];
        pi -= lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * pi);
        p[i] = pi;
        if (pa) pa[i] = __float2bfloat16_rn(pi);
    }
}

void cuda_adamw(kb_ctx *ctx, float *params, kb_act *params_act, const float *grads, float *m, float *v, size_t n,
                float lr, float beta1, float beta2, float eps, float weight_decay, int t, const float *norm_sq,
                float clip) {
    if (n == 0) return;
    float bc1 = 1.f - powf(beta1, (float)t), bc2 = 1.f - powf(beta2, (float)t);
    bf16 *pa = (void *)params_act == (void *)params ? NULL : (bf16 *)params_act;
    unsigned blocks = cdiv(n, 256);
    if (blocks > (unsigned)CS(ctx)->sm_count * 16) blocks = CS(ctx)->sm_count * 16;
    adamw_kernel<<<blocks, 256, 0, STREAM(ctx)>>>(params, pa, grads, m, v, n, lr, beta1, beta2, eps, weight_decay, bc1,
                                                   bc2, norm_sq, clip);
    LAUNCH_CHECK();
}

// Fixed grid: block b sums elements b*256+tid, stepping by the whole grid; partial[b].
__global__ void reduce_partial(float *part, const float *x, size_t n, int square) {
    __shared__ float sh[RED_THREADS / 32];
    float s = 0;
    for (size_t i = (size_t)blockIdx.x * RED_THREADS + threadIdx.x; i < n; i += (size_t)RED_BLOCKS * RED_THREADS) {
        float v = x[i];
        s += square ? v * v : v;
    }
    s = warp_sum(s);
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        float t = 0;
        for (int w = 0; w < RED_THREADS / 32; w++) t += sh[w];
        part[blockIdx.x] = t;
    }
}
__global__ void reduce_final(float *out, const float *part, int accumulate) {
    __shared__ float sh[RED_BLOCKS / 32];
    float s = part[threadIdx.x];
    s = warp_sum(s);
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        float t = 0;
        for (int w = 0; w < RED_BLOCKS / 32; w++) t += sh[w];
        *out = accumulate ? *out + t : t;
    }
}

static void reduce(kb_ctx *ctx, float *out, const float *x, size_t n, int square, int accumulate) {
    // Its own scratch: other ops' partials may still be live in cuda_partials().
    static float *part = NULL;
    if (!part) CUDA_CHECK(cudaMalloc(&part, RED_BLOCKS * sizeof(float)));
    reduce_partial<<<RED_BLOCKS, RED_THREADS, 0, STREAM(ctx)>>>(part, x, n, square);
    LAUNCH_CHECK();
    reduce_final<<<1, RED_BLOCKS, 0, STREAM(ctx)>>>(out, part, accumulate);
    LAUNCH_CHECK();
}

void cuda_sum(kb_ctx *ctx, float *out, const float *x, size_t n, int accumulate) { reduce(ctx, out, x, n, 0, accumulate); }
void cuda_norm_squared(kb_ctx *ctx, float *out, const float *g, size_t n, int accumulate) {
    reduce(ctx, out, g, n, 1, accumulate);
}

__global__ void scale_kernel(float *x, float s, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= s;
}
void cuda_scale_f32(kb_ctx *ctx, float *x, float s, size_t n) {
    if (!n) return;
    scale_kernel<<<cdiv(n, 256), 256, 0, STREAM(ctx)>>>(x, s, n);
    LAUNCH_CHECK();
}

__global__ void f32_to_bf16(bf16 *d, const float *s, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) d[i] = __float2bfloat16_rn(s[i]);
}
void cuda_f32_to_act(kb_ctx *ctx, kb_act *dst, const float *src, size_t n) {
    if (!n) return;
    f32_to_bf16<<<cdiv(n, 256), 256, 0, STREAM(ctx)>>>((bf16 *)dst, src, n);
    LAUNCH_CHECK();
}

__global__ void residual_kernel(bf16 *out, const bf16 *a, const bf16 *b, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __float2bfloat16_rn(__bfloat162float(a[i]) + __bfloat162float(b[i]));
}
void cuda_residual_forward(kb_ctx *ctx, kb_act *out, const kb_act *a, const kb_act *b, size_t n) {
    if (!n) return;
    residual_kernel<<<cdiv(n, 256), 256, 0, STREAM(ctx)>>>((bf16 *)out, (const bf16 *)a, (const bf16 *)b, n);
    LAUNCH_CHECK();
}

__global__ void gather_kernel(bf16 *out, const bf16 *inp, const int32_t *rows, int N, int C) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * C) return;
    int r = (int)(i / C), c = (int)(i % C);
    out[i] = inp[(size_t)rows[r] * C + c];
}
void cuda_gather_rows(kb_ctx *ctx, kb_act *out, const kb_act *inp, const int32_t *rows, int N, int C) {
    if (!N) return;
    gather_kernel<<<cdiv((size_t)N * C, 256), 256, 0, STREAM(ctx)>>>((bf16 *)out, (const bf16 *)inp, rows, N, C);
    LAUNCH_CHECK();
}
