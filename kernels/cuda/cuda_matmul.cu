// cuda_matmul.cu — matmuls through cuBLASLt with fused epilogues: bias and GELU (keeping
// the pre-activation as the epilogue's aux output) forward; GELU gradient fused into the
// input-gradient matmul; weight gradients accumulated in fp32 by the matmul itself (beta=1)
// with the bias gradient from the BGRADB epilogue where cuBLASLt offers it.
//
// Row-major (N, C) · (OC, C)ᵀ is computed as the column-major product (OC×C)ᵀ… i.e. we hand
// cuBLASLt the transposed problem: D(OC×N) = Wᵀ_op(C×OC → OC×C) · inp(C×N), no copies.
//
// Plans (descriptors, layouts and the heuristic's algorithm) are cached per shape, so the
// step loop does no heuristic queries after the first step. Shapes cuBLASLt has no
// algorithm for fall back to simple tiled kernels (correct, not fast).
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_common.cuh"

typedef struct plan_key {
    int m, n, k, transa, transb, lda, ldb, ldd, epilogue, dtype;  // dtype: 0 bf16 D, 1 fp32 D(+C)
} plan_key;

typedef struct plan {
    plan_key key;
    int ok;     // 0: no cuBLASLt algorithm, use the fallback
    int tuned;  // candidates timed (only with BERRY_MATMUL_TUNE set)
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, c, d;
    cublasLtMatmulAlgo_t algo;
} plan;

typedef struct matmul_state {
    plan *plans;  // grows: a rollout meets a new shape for each prefill size and decode bucket
    int nplans, cap;
    float *dbias_tmp;
    size_t dbias_cap;
} matmul_state;
// The plans belong to the context (CS(ctx)->mm).
#define MM(ctx) ((matmul_state *)CS(ctx)->mm)

void cuda_matmul_init(kb_ctx *ctx) {
    if (!CS(ctx)->mm) CS(ctx)->mm = xcalloc(1, sizeof(matmul_state));
}

void cuda_matmul_shutdown(kb_ctx *ctx) {
    matmul_state *g_mm = MM(ctx);
    if (!g_mm) return;
    for (int i = 0; i < g_mm->nplans; i++) {
        plan *p = &g_mm->plans[i];
        cublasLtMatmulDescDestroy(p->desc);
        cublasLtMatrixLayoutDestroy(p->a);
        cublasLtMatrixLayoutDestroy(p->b);
        cublasLtMatrixLayoutDestroy(p->c);
        cublasLtMatrixLayoutDestroy(p->d);
    }
    cudaFree(g_mm->dbias_tmp);
    free(g_mm->plans);
    free(g_mm);
    CS(ctx)->mm = NULL;
}

static plan *get_plan(kb_ctx *ctx, plan_key key, const void *bias, const void *aux, int aux_ld) {
    matmul_state *g_mm = MM(ctx);
    for (int i = 0; i < g_mm->nplans; i++)
        if (!memcmp(&g_mm->plans[i].key, &key, sizeof key)) return &g_mm->plans[i];
    if (g_mm->nplans == g_mm->cap) {
        g_mm->cap = g_mm->cap ? 2 * g_mm->cap : 64;
        g_mm->plans = (plan *)xrealloc(g_mm->plans, (size_t)g_mm->cap * sizeof *g_mm->plans);
    }
    plan *p = &g_mm->plans[g_mm->nplans++];
    memset(p, 0, sizeof *p);
    p->key = key;
    cudaDataType_t dt = key.dtype ? CUDA_R_32F : CUDA_R_16BF;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = key.transa ? CUBLAS_OP_T : CUBLAS_OP_N, tb = key.transb ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    cublasLtEpilogue_t ep = (cublasLtEpilogue_t)key.epilogue;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep));
    if (bias) {
        cudaDataType_t bt = key.dtype ? CUDA_R_32F : CUDA_R_16BF;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    if (aux) {
        int64_t ld = aux_ld;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof ld));
    }
    // Stored shapes (column-major): A is (transa ? k×m : m×k), B is (transb ? n×k : k×n).
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, key.transa ? key.k : key.m, key.transa ? key.m : key.k, key.lda));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16BF, key.transb ? key.n : key.k, key.transb ? key.k : key.n, key.ldb));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->c, dt, key.m, key.n, key.ldd));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->d, dt, key.m, key.n, key.ldd));
    cublasLtMatmulPreference_t pref;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = CS(ctx)->lt_workspace_bytes;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(CS(ctx)->lt, p->desc, p->a, p->b, p->c, p->d, pref, 1, &res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st == CUBLAS_STATUS_SUCCESS && found > 0) {
        p->algo = res.algo;
        p->ok = 1;
    }
    return p;
}

// Algorithm choice. cuBLASLt's heuristic ranks candidates; its first pick is often not the
// fastest for these shapes (by 2-12% measured on an H100). On a plan's first use berry times
// the top candidates on the call's own buffers and keeps the fastest — and records the
// choice (the candidate's rank, which is stable for a given library, GPU and shape) in a
// cache file, so every later process uses the same algorithm: runs stay bit-reproducible
// across processes and restarts. BERRY_MATMUL_TUNE=0 keeps the heuristic's first pick;
// BERRY_CACHE_DIR moves the cache (default ~/.cache/berry); BERRY_MATMUL_CANDIDATES sets how
// many candidates are asked for and timed (default 16, at most 64).
#define TUNE_MAX 64
static int tune_candidates(void) {
    const char *v = getenv("BERRY_MATMUL_CANDIDATES");
    int n = v && *v ? atoi(v) : 16;
    return n < 1 ? 1 : n > TUNE_MAX ? TUNE_MAX : n;
}

static char *cache_path(kb_ctx *ctx) {
    const char *dir = getenv("BERRY_CACHE_DIR");
    char *d = dir && *dir ? xstrdup(dir) : xasprintf("%s/.cache/berry", getenv("HOME") ? getenv("HOME") : "/tmp");
    char name[128];
    snprintf(name, sizeof name, "%s", ctx->device_name);
    for (char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))) *c = '_';
    // The heuristic's ranking depends on the library, the GPU, the workspace and how many
    // candidates are asked for: all of them name the file.
    char *p = xasprintf("%s/matmul-%s-lt%zu-ws%zu-c%d.txt", d, name, (size_t)cublasLtGetVersion(),
                        CS(ctx)->lt_workspace_bytes >> 20, tune_candidates());
    free(d);
    return p;
}

static int key_line(const plan_key *k, char *buf, size_t n) {
    return snprintf(buf, n, "%d %d %d %d %d %d %d %d %d %d", k->m, k->n, k->k, k->transa, k->transb, k->lda, k->ldb,
                    k->ldd, k->epilogue, k->dtype);
}

static int cache_lookup(kb_ctx *ctx, const plan_key *k) {
    char *path = cache_path(ctx), want[160], line[256];
    int r = -1;
    key_line(k, want, sizeof want);
    FILE *f = fopen(path, "r");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            size_t n = strlen(want);
            if (!strncmp(line, want, n) && line[n] == ' ') r = atoi(line + n + 1);
        }
        fclose(f);
    }
    free(path);
    return r;
}

static void cache_store(kb_ctx *ctx, const plan_key *k, int choice) {
    char *path = cache_path(ctx), line[200];
    char *dir = xstrdup(path);
    *strrchr(dir, '/') = 0;
    berr e;
    if (mkdir_p(dir, &e) == 0) {
        char *old = NULL;
        size_t n = 0;
        if (read_file(path, &old, &n, &e)) old = xstrdup(""), n = 0;
        int len = key_line(k, line, sizeof line);
        snprintf(line + len, sizeof line - len, " %d\n", choice);
        char *all = xasprintf("%s%s", old, line);
        if (write_file_atomic(path, all, strlen(all), &e))
            fprintf(stderr, "warning: cannot record the matmul algorithm choice: %s\n", e.msg);
        free(all);
        free(old);
    }
    free(dir);
    free(path);
}

static void tune_plan(kb_ctx *ctx, plan *p, const void *A, const void *B, void *D, float beta) {
    p->tuned = 1;
    const char *env = getenv("BERRY_MATMUL_TUNE");
    if (env && !strcmp(env, "0")) return;
    // Inside a CUDA-graph capture nothing may be timed or allocated: use a recorded choice
    // if there is one, else the heuristic's first pick (and keep it, so the graph and direct
    // calls agree).
    cudaStreamCaptureStatus cap;
    CUDA_CHECK(cudaStreamIsCapturing(CS(ctx)->stream, &cap));
    int capturing = cap != cudaStreamCaptureStatusNone;
    int verbose = env && !strcmp(env, "report");
    cuda_state *s = CS(ctx);
    cublasLtMatmulPreference_t pref;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = s->lt_workspace_bytes;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    cublasLtMatmulHeuristicResult_t res[TUNE_MAX];
    int found = 0;
    cublasLtMatmulAlgoGetHeuristic(s->lt, p->desc, p->a, p->b, p->c, p->d, pref, tune_candidates(), res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (found <= 1) return;
    int cached = cache_lookup(ctx, &p->key);
    if (cached >= 0 && cached < found) {
        p->algo = res[cached].algo;
        return;
    }
    if (capturing) return;
    size_t dbytes = (size_t)p->key.ldd * p->key.n * (p->key.dtype ? 4 : 2);
    void *Dt = D;
    if (beta != 0) CUDA_CHECK(cudaMalloc(&Dt, dbytes));  // accumulating calls must not touch D
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    float alpha = 1.0f, best = 1e30f;
    int besti = 0;
    for (int i = 0; i < found; i++) {
        float t[5] = {1e30f, 1e30f, 1e30f, 1e30f, 1e30f};
        for (int r = -2; r < 5; r++) {
            CUDA_CHECK(cudaEventRecord(e0, s->stream));
            cublasStatus_t st = cublasLtMatmul(s->lt, p->desc, &alpha, A, p->a, B, p->b, &beta, Dt, p->c, Dt, p->d,
                                               &res[i].algo, s->lt_workspace, ws, s->stream);
            CUDA_CHECK(cudaEventRecord(e1, s->stream));
            CUDA_CHECK(cudaEventSynchronize(e1));
            if (st != CUBLAS_STATUS_SUCCESS) break;
            if (r >= 0) CUDA_CHECK(cudaEventElapsedTime(&t[r], e0, e1));
        }
        for (int a = 0; a < 5; a++)
            for (int b2 = a + 1; b2 < 5; b2++)
                if (t[b2] < t[a]) { float x = t[a]; t[a] = t[b2]; t[b2] = x; }
        if (verbose)
            fprintf(stderr, "matmul m=%d n=%d k=%d epilogue=%d: candidate %d %.3f ms\n", p->key.m, p->key.n, p->key.k,
                    p->key.epilogue, i, t[2]);
        // a candidate must beat the heuristic's pick by 2% to replace it (noise is not a reason)
        if (i == 0 || t[2] < 0.98f * best) best = t[2], besti = i;
    }
    p->algo = res[besti].algo;
    cache_store(ctx, &p->key, besti);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    if (Dt != D) cudaFree(Dt);
}

static void run_plan(kb_ctx *ctx, plan *p, const void *A, const void *B, void *D, float beta, const void *bias,
                     const void *aux) {
    if (!p->tuned) {
        if (bias) CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
        if (aux) CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux));
        tune_plan(ctx, p, A, B, D, beta);
    }
    if (bias)
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    if (aux)
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux));
    float alpha = 1.0f;
    cuda_state *s = CS(ctx);
    CUBLAS_CHECK(cublasLtMatmul(s->lt, p->desc, &alpha, A, p->a, B, p->b, &beta, D, p->c, D, p->d, &p->algo,
                                s->lt_workspace, s->lt_workspace_bytes, s->stream));
}

// ---- fallback kernels (shapes cuBLASLt rejects, e.g. a 1-wide scalar head) -----------------------
#define FT 16
// out(N,OC) = inp(N,C)·W(OC,C)ᵀ + b, optional GELU with pre stored.
__global__ void fb_forward(bf16 *out, bf16 *pre, const bf16 *inp, const bf16 *w, const bf16 *bias, int N, int C, int OC) {
    __shared__ float ti[FT][FT + 1], tw[FT][FT + 1];
    int r = blockIdx.y * FT + threadIdx.y, o = blockIdx.x * FT + threadIdx.x;
    float acc = 0;
    for (int c0 = 0; c0 < C; c0 += FT) {
        int ci = c0 + threadIdx.x, wo = blockIdx.x * FT + threadIdx.y;
        ti[threadIdx.y][threadIdx.x] = (r < N && ci < C) ? __bfloat162float(inp[(size_t)r * C + ci]) : 0.f;
        tw[threadIdx.y][threadIdx.x] = (wo < OC && ci < C) ? __bfloat162float(w[(size_t)wo * C + ci]) : 0.f;
        __syncthreads();
        for (int j = 0; j < FT; j++) acc += ti[threadIdx.y][j] * tw[threadIdx.x][j];
        __syncthreads();
    }
    if (r < N && o < OC) {
        if (bias) acc += __bfloat162float(bias[o]);
        size_t i = (size_t)r * OC + o;
        if (pre) {
            pre[i] = __float2bfloat16_rn(acc);
            acc = gelu_f(__bfloat162float(pre[i]));
        }
        out[i] = __float2bfloat16_rn(acc);
    }
}
// dinp(N,C) = dout(N,OC)·W(OC,C) [* gelu'(gelu_in)]
__global__ void fb_dinp(bf16 *dinp, const bf16 *dout, const bf16 *w, const bf16 *gelu_in, int N, int C, int OC) {
    __shared__ float td[FT][FT + 1], tw[FT][FT + 1];
    int r = blockIdx.y * FT + threadIdx.y, c = blockIdx.x * FT + threadIdx.x;
    float acc = 0;
    for (int o0 = 0; o0 < OC; o0 += FT) {
        int oi = o0 + threadIdx.x, wo = o0 + threadIdx.y;
        td[threadIdx.y][threadIdx.x] = (r < N && oi < OC) ? __bfloat162float(dout[(size_t)r * OC + oi]) : 0.f;
        tw[threadIdx.y][threadIdx.x] = (wo < OC && c < C) ? __bfloat162float(w[(size_t)wo * C + c]) : 0.f;
        __syncthreads();
        for (int j = 0; j < FT; j++) acc += td[threadIdx.y][j] * tw[j][threadIdx.x];
        __syncthreads();
    }
    if (r < N && c < C) {
        size_t i = (size_t)r * C + c;
        if (gelu_in) acc *= gelu_grad_f(__bfloat162float(gelu_in[i]));
        dinp[i] = __float2bfloat16_rn(acc);
    }
}
// dw(OC,C) += dout(N,OC)ᵀ·inp(N,C); rows summed in order (deterministic).
__global__ void fb_dw(float *dw, const bf16 *dout, const bf16 *inp, int N, int C, int OC) {
    __shared__ float td[FT][FT + 1], ti[FT][FT + 1];
    int o = blockIdx.y * FT + threadIdx.y, c = blockIdx.x * FT + threadIdx.x;
    float acc = 0;
    for (int r0 = 0; r0 < N; r0 += FT) {
        int rr = r0 + threadIdx.x, ri = r0 + threadIdx.y;
        int oo = blockIdx.y * FT + threadIdx.y;
        td[threadIdx.y][threadIdx.x] = (rr < N && oo < OC) ? __bfloat162float(dout[(size_t)rr * OC + oo]) : 0.f;
        ti[threadIdx.y][threadIdx.x] = (ri < N && c < C) ? __bfloat162float(inp[(size_t)ri * C + c]) : 0.f;
        __syncthreads();
        for (int j = 0; j < FT; j++) acc += td[threadIdx.y][j] * ti[j][threadIdx.x];
        __syncthreads();
    }
    if (o < OC && c < C) dw[(size_t)o * C + c] += acc;
}

// ---- bias gradient -------------------------------------------------------------------------------
// Column sums of dout (N, OC): grid.y row slices write partials, a second pass adds them in
// order into db.
#define DB_SLICES 64
__global__ void dbias_partial(float *part, const bf16 *dout, int N, int OC) {
    int c = (blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (c >= OC) return;
    int rows = (N + DB_SLICES - 1) / DB_SLICES, r0 = blockIdx.y * rows, r1 = min(N, r0 + rows);
    float acc[8] = {0};
    if (OC % 8 == 0) {
        for (int r = r0; r < r1; r++) {
            float f[8];
            load8(dout + (size_t)r * OC + c, f);
#pragma unroll
            for (int j = 0; j < 8; j++) acc[j] += f[j];
        }
    } else {
        for (int r = r0; r < r1; r++)
            for (int j = 0; j < 8 && c + j < OC; j++) acc[j] += __bfloat162float(dout[(size_t)r * OC + c + j]);
    }
    for (int j = 0; j < 8 && c + j < OC; j++) part[(size_t)blockIdx.y * OC + c + j] = acc[j];
}
__global__ void dbias_reduce(float *db, const float *part, int OC) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= OC) return;
    float s = 0;
    for (int y = 0; y < DB_SLICES; y++) s += part[(size_t)y * OC + c];
    db[c] += s;
}
__global__ void add_f32(float *dst, const float *src, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] += src[i];
}

static void dbias_kernel(kb_ctx *ctx, float *db, const bf16 *dout, int N, int OC) {
    float *part = cuda_partials(ctx, (size_t)DB_SLICES * OC);
    dim3 grid(cdiv(cdiv(OC, 8), 128), DB_SLICES);
    dbias_partial<<<grid, 128, 0, STREAM(ctx)>>>(part, dout, N, OC);
    LAUNCH_CHECK();
    dbias_reduce<<<cdiv(OC, 256), 256, 0, STREAM(ctx)>>>(db, part, OC);
    LAUNCH_CHECK();
}

// ---- entry points ----------------------------------------------------------------------------------

void cuda_matmul_forward(kb_ctx *ctx, kb_act *out, kb_act *pre_gelu, const kb_act *inp, const kb_act *w,
                         const kb_act *bias, int N, int C, int OC) {
    int ep = pre_gelu ? (bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX)
                      : (bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT);
    plan_key k = {OC, N, C, 1, 0, C, C, OC, ep, 0};
    plan *p = get_plan(ctx, k, bias, pre_gelu, OC);
    if (p->ok) {
        run_plan(ctx, p, w, inp, out, 0.0f, bias, pre_gelu);
        return;
    }
    dim3 grid(cdiv(OC, FT), cdiv(N, FT)), block(FT, FT);
    fb_forward<<<grid, block, 0, STREAM(ctx)>>>((bf16 *)out, (bf16 *)pre_gelu, (const bf16 *)inp, (const bf16 *)w,
                                                (const bf16 *)bias, N, C, OC);
    LAUNCH_CHECK();
}

static void matmul_backward_dw(kb_ctx *ctx, float *dw, float *db, const kb_act *dout, const kb_act *inp, int N,
                               int C, int OC);

void cuda_matmul_backward(kb_ctx *ctx, kb_act *dinp, float *dw, float *db, const kb_act *dout, const kb_act *inp,
                          const kb_act *w, const kb_act *gelu_in, int N, int C, int OC) {
    // dinp(N,C) = dout(N,OC)·W(OC,C): column-major D(C×N) = W_cm(C×OC) · dout_cm(OC×N)
    if (dinp) {
        int ep = gelu_in ? CUBLASLT_EPILOGUE_DGELU : CUBLASLT_EPILOGUE_DEFAULT;
        plan_key k = {C, N, OC, 0, 0, C, OC, C, ep, 0};
        plan *p = get_plan(ctx, k, NULL, gelu_in, C);
        if (p->ok) run_plan(ctx, p, w, dout, dinp, 0.0f, NULL, gelu_in);
        else {
            dim3 grid(cdiv(C, FT), cdiv(N, FT)), block(FT, FT);
            fb_dinp<<<grid, block, 0, STREAM(ctx)>>>((bf16 *)dinp, (const bf16 *)dout, (const bf16 *)w,
                                                     (const bf16 *)gelu_in, N, C, OC);
            LAUNCH_CHECK();
        }
    }
    matmul_backward_dw(ctx, dw, db, dout, inp, N, C, OC);
}

static void matmul_backward_dw(kb_ctx *ctx, float *dw, float *db, const kb_act *dout, const kb_act *inp, int N,
                               int C, int OC) {
    // dW(OC,C) += doutᵀ·inp: column-major dWᵀ(C×OC) = inp_cm(C×N) · dout_cm(OC×N)ᵀ, fp32 D, beta=1.
    // The bias gradient (sum over N = the k dimension of B) comes from the BGRADB epilogue
    // into a scratch vector that is then added to db.
    float *dbtmp = NULL;
    matmul_state *g_mm = MM(ctx);
    if (db) {
        if (g_mm->dbias_cap < (size_t)OC) {
            CUDA_CHECK(cudaStreamSynchronize(STREAM(ctx)));
            cudaFree(g_mm->dbias_tmp);
            CUDA_CHECK(cudaMalloc(&g_mm->dbias_tmp, (size_t)OC * sizeof(float)));
            g_mm->dbias_cap = OC;
            // plans keep the old pointer as their initial attribute; run_plan resets it per call
        }
        dbtmp = g_mm->dbias_tmp;
    }
    plan_key k = {C, OC, N, 0, 1, C, OC, C, db ? CUBLASLT_EPILOGUE_BGRADB : CUBLASLT_EPILOGUE_DEFAULT, 1};
    plan *p = get_plan(ctx, k, dbtmp, NULL, 0);
    if (p->ok) {
        run_plan(ctx, p, inp, dout, dw, 1.0f, dbtmp, NULL);
        if (db) {
            add_f32<<<cdiv(OC, 256), 256, 0, STREAM(ctx)>>>(db, dbtmp, OC);
            LAUNCH_CHECK();
        }
        return;
    }
    if (db) {  // no epilogue variant: plain dW plan + separate bias kernel
        plan_key k2 = {C, OC, N, 0, 1, C, OC, C, CUBLASLT_EPILOGUE_DEFAULT, 1};
        plan *p2 = get_plan(ctx, k2, NULL, NULL, 0);
        if (p2->ok) {
            run_plan(ctx, p2, inp, dout, dw, 1.0f, NULL, NULL);
            dbias_kernel(ctx, db, (const bf16 *)dout, N, OC);
            return;
        }
    }
    dim3 grid(cdiv(C, FT), cdiv(OC, FT)), block(FT, FT);
    fb_dw<<<grid, block, 0, STREAM(ctx)>>>(dw, (const bf16 *)dout, (const bf16 *)inp, N, C, OC);
    LAUNCH_CHECK();
    if (db) dbias_kernel(ctx, db, (const bf16 *)dout, N, OC);
}
