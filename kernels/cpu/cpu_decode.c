// cpu_decode.c — what rollout needs beyond training, on the CPU: writes into the paged KV
// cache, block copies (copy-on-write), attention over paged keys (per row, and per group
// of rows sharing a prefix), merging of partial attentions, and sampling.
//
// Pool layout (kernels.h): element (block, head, slot, d) of a layer's K or V pool is at
// ((block·NH + head)·bs + slot)·hs + d, so one head's keys in a block are hs-float rows.
//
// Attention gives a row the bits that the training attention (cpu_attention.c) gives the
// same query over the same keys: keys are transposed per head to (hs, ld) so that a score
// is the same FMA chain over the head's channels, and the max, exp, sum, weighted sum of
// values and normalisation run in the same order. So a token decoded through the cache has
// the logits (and log-prob) that the trainer recomputes for it, bit for bit. The functions
// they share with it live in cpu_attn_rows.h; weighted_rows below must stay the twin of
// its training version; tests/kernels/test_cpu_decode.c checks the bits.
#include <stdlib.h>

#include "kernels/cpu/cpu_attn_rows.h"
#include "kernels/cpu/cpu_softmax_row.h"

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }  // keeps 64-byte alignment in scratch

// ---- cache writes --------------------------------------------------------------------------------

static size_t pool_offset(int64_t block, int h, int slot, int NH, int bs, int hs) {
    return (((size_t)block * NH + h) * bs + slot) * hs;
}

void cpu_kv_write(kb_ctx *ctx, kb_act *kpool, kb_act *vpool, const kb_act *qkv, const int32_t *slots, int N, int C,
                  int NH, int bs) {
    for (int i = 0; i < N; i++)
        if (slots[i] < 0) die("kb_kv_write: row %d has the negative slot %d", i, slots[i]);
    const float *x = CFP(qkv);
    float *kp = FP(kpool), *vp = FP(vpool);
    int hs = C / NH;
    // One task per head, rows in order: where rows share a slot (padding rows all write the
    // trash slot) the last row wins, whatever the thread count.
#pragma omp parallel if ((double)N * C > 65536)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < N; i++) {
                size_t dst = pool_offset(slots[i] / bs, h, slots[i] % bs, NH, bs, hs);
                const float *row = x + (size_t)i * 3 * C + (size_t)h * hs;
                memcpy(kp + dst, row + C, (size_t)hs * sizeof(float));
                memcpy(vp + dst, row + 2 * C, (size_t)hs * sizeof(float));
            }
        CPU_FTZ_END
    }
}

#define COPY_SLICE 4096  // floats of a block per task

void cpu_kv_copy_blocks(kb_ctx *ctx, kb_act *kpool, kb_act *vpool, const int32_t *src, const int32_t *dst, int n, int C,
                        int bs) {
    for (int i = 0; i < n; i++)
        if (src[i] < 0 || dst[i] < 0) die("kb_kv_copy_blocks: copy %d names a negative block (%d -> %d)", i, src[i], dst[i]);
    float *kp = FP(kpool), *vp = FP(vpool);
    size_t per = (size_t)C * bs;
    int slices = (int)((per + COPY_SLICE - 1) / COPY_SLICE);
    // Each task owns one slice of every block and copies the blocks in order, so the result
    // is that of copying one block after another (also when a destination is a later source).
#pragma omp parallel if ((double)n * per > 65536)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int s = 0; s < slices; s++) {
            size_t o = (size_t)s * COPY_SLICE, len = per - o < COPY_SLICE ? per - o : COPY_SLICE;
            for (int i = 0; i < n; i++) {
                size_t from = (size_t)src[i] * per + o, to = (size_t)dst[i] * per + o;
                memmove(kp + to, kp + from, len * sizeof(float));
                memmove(vp + to, vp + from, len * sizeof(float));
            }
        }
        CPU_FTZ_END
    }
}

// ---- attention over paged keys -------------------------------------------------------------------

#define RUN_ROWS 32  // rows per task that share one transpose of their keys

// y[d] = Σ_{j<n} w[j]·rows[j][d] for d < hs, j ascending: cpu_attention.c's weighted_rows
// with each value row found through its own pointer (rows of a sequence sit in blocks).
static void weighted_rows(float *y, const float *w, int n, const float *const *rows, int hs) {
    int d0 = 0;
    for (; d0 + SB <= hs; d0 += SB) {
        vfloat a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int j = 0; j < n; j++) {
            vfloat wj = vbroadcast(w[j]);
            const float *r = rows[j] + d0;
            a0 = vfma(wj, vload(r), a0);
            a1 = vfma(wj, vload(r + CPU_VL), a1);
            a2 = vfma(wj, vload(r + 2 * CPU_VL), a2);
            a3 = vfma(wj, vload(r + 3 * CPU_VL), a3);
        }
        vstore(y + d0, a0);
        vstore(y + d0 + CPU_VL, a1);
        vstore(y + d0 + 2 * CPU_VL, a2);
        vstore(y + d0 + 3 * CPU_VL, a3);
    }
    for (; d0 + CPU_VL <= hs; d0 += CPU_VL) {
        vfloat a = {0};
        for (int j = 0; j < n; j++) a = vfma(vbroadcast(w[j]), vload(rows[j] + d0), a);
        vstore(y + d0, a);
    }
    for (; d0 < hs; d0++) {
        float a = 0;
        for (int j = 0; j < n; j++) a += w[j] * rows[j][d0];
        y[d0] = a;
    }
}

// kt (hs, ld): kt[d*ld + j] = krow[j][d] for j < nk, zero for nk <= j < ld. CPU_VL keys by
// CPU_VL channels at a time are transposed in registers.
static void transpose_keys(float *kt, size_t ld, const float *const *krow, int nk, int hs) {
    int j0 = 0;
    for (; j0 < nk; j0 += CPU_VL) {
        int nj = imin(CPU_VL, nk - j0), d0 = 0;
        for (; d0 + CPU_VL <= hs; d0 += CPU_VL) {
            vfloat r[CPU_VL];
            for (int t = 0; t < CPU_VL; t++) r[t] = t < nj ? vload(krow[j0 + t] + d0) : (vfloat){0};
            vtranspose(r);
            for (int d = 0; d < CPU_VL; d++) vstore(kt + (size_t)(d0 + d) * ld + j0, r[d]);
        }
        for (; d0 < hs; d0++)
            for (int t = 0; t < CPU_VL; t++) kt[(size_t)d0 * ld + j0 + t] = t < nj ? krow[j0 + t][d0] : 0.0f;
    }
    for (int d = 0; d < hs; d++) memset(kt + (size_t)d * ld + j0, 0, (ld - (size_t)j0) * sizeof(float));
}

// One query row of one head over keys 0..n-1 (kt transposed, vrow[j] the value rows): the
// loop body of cpu_attention_forward. An empty range gives out 0 and lse -inf.
static void attend_row(float *o, float *lse, const float *q, const float *kt, size_t ld, int n,
                       const float *const *vrow, int hs, float scale, float *score, float *acc) {
    if (n == 0) {
        memset(o, 0, (size_t)hs * sizeof(float));
        *lse = -INFINITY;
        return;
    }
    for (size_t j0 = 0; j0 < (size_t)n; j0 += SB) dot_block(score, q, kt, ld, hs, j0);
    float m, l = softmax_row(score, n, scale, &m);
    weighted_rows(acc, score, n, vrow, hs);
    float inv = 1.0f / l;
    for (int d = 0; d < hs; d++) o[d] = acc[d] * inv;
    *lse = m + logf(l);
}

// Geometry shared by a call's tasks.
typedef struct paged_geom {
    float *out, *lse;
    const float *qkv, *kp, *vp;
    int C, NH, hs, bs;
    float scale;
} paged_geom;

// Working memory of one thread for tasks of up to nk keys: the transposed keys, a row of
// scores, the value accumulator, and the key/value row pointers.
static size_t task_floats(int nk, int hs) {
    size_t ld = padded(nk);
    return up16((size_t)hs * ld) + up16(ld) + up16((size_t)hs) + up16(2 * ld * sizeof(float *) / sizeof(float));
}

// Head h of rows r[0..nr) (row indices: rows ? rows[i] : first + i) over keys
// [ks, ks + n_i) of the sequence whose blocks are table[...], n_i = ends ? ends[row] - ks : nk;
// nk is the largest n_i. The keys are transposed once for all the rows.
static void attend_task(const paged_geom *g, int h, const int32_t *table, int ks, int nk, const int32_t *rows,
                        int first, int nr, const int32_t *ends, float *ws) {
    const int hs = g->hs;
    size_t ld = padded(nk);
    float *kt = ws, *score = kt + up16((size_t)hs * ld), *acc = score + up16(ld);
    const float **krow = (const float **)(acc + up16((size_t)hs)), **vrow = krow + ld;
    for (int j = 0; j < nk; j++) {
        int p = ks + j;
        size_t off = pool_offset(table[p / g->bs], h, p % g->bs, g->NH, g->bs, hs);
        krow[j] = g->kp + off;
        vrow[j] = g->vp + off;
    }
    transpose_keys(kt, ld, krow, nk, hs);
    for (int i = 0; i < nr; i++) {
        size_t r = rows ? (size_t)rows[first + i] : (size_t)first + i;
        int n = ends ? ends[r] - ks : nk;
        attend_row(g->out + r * g->C + (size_t)h * hs, g->lse + r * g->NH + h, g->qkv + r * 3 * g->C + (size_t)h * hs,
                   kt, ld, n, vrow, hs, g->scale, score, acc);
    }
}

// Blocks [from, to) of a table row must be ids >= 0 (the pool's size is not known here).
static void check_blocks(const char *op, const char *what, int idx, const int32_t *trow, int from, int to) {
    for (int b = from; b < to; b++)
        if (trow[b] < 0) die("%s: %s %d: block table entry %d is the negative block id %d", op, what, idx, b, trow[b]);
}

void cpu_paged_attention(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, const kb_act *kpool,
                         const kb_act *vpool, const int32_t *block_table, int max_blocks, const int32_t *kv_start,
                         const int32_t *kv_end, int N, int C, int NH, int bs) {
    if (N <= 0) return;
    const int64_t cap = (int64_t)max_blocks * bs;
    int nk_max = 0;
    double work = 0;
    for (int i = 0; i < N; i++) {
        int ks = kv_start[i], ke = kv_end[i];
        if (ks < 0 || ke < ks || ke > cap)
            die("kb_paged_attention: row %d has the key range [%d, %d), outside [0, %lld) (%d blocks of %d)", i, ks, ke,
                (long long)cap, max_blocks, bs);
        if (ke > ks) check_blocks("kb_paged_attention", "row", i, block_table + (size_t)i * max_blocks, ks / bs, (ke - 1) / bs + 1);
        nk_max = ke - ks > nk_max ? ke - ks : nk_max;
        work += (double)(ke - ks) * C;
    }
    paged_geom g = {FP(out), lse, CFP(qkv), CFP(kpool), CFP(vpool), C, NH, C / NH, bs, 1.0f / sqrtf((float)(C / NH))};
    int team = cpu_threads();
    size_t per_thread = task_floats(nk_max, g.hs);
    // Runs: consecutive rows of one sequence (same start, same block table) — a prefill
    // chunk — share the transpose of their keys. A run's key count is its longest row's.
    float *scratch = cpu_scratch(ctx, (per_thread * team) * sizeof(float) + 3 * (size_t)N * sizeof(int32_t));
    int32_t *run_first = (int32_t *)(scratch + per_thread * team), *run_len = run_first + N, *run_nk = run_len + N;
    int nruns = 0;
    size_t trow = (size_t)max_blocks * sizeof(int32_t);
    for (int i = 0; i < N;) {
        int j = i + 1, nk = kv_end[i] - kv_start[i];
        while (j < N && j - i < RUN_ROWS && kv_start[j] == kv_start[i] &&
               memcmp(block_table + (size_t)j * max_blocks, block_table + (size_t)i * max_blocks, trow) == 0) {
            nk = kv_end[j] - kv_start[j] > nk ? kv_end[j] - kv_start[j] : nk;
            j++;
        }
        run_first[nruns] = i;
        run_len[nruns] = j - i;
        run_nk[nruns++] = nk;
        i = j;
    }
    int tasks = nruns * NH;
#pragma omp parallel num_threads(team) if (team > 1 && tasks > 1 && work > 32768)
    {
        CPU_FTZ_BEGIN
        float *ws = scratch + per_thread * omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < tasks; t++) {
            int r = t / NH, h = t % NH, i = run_first[r];
            attend_task(&g, h, block_table + (size_t)i * max_blocks, kv_start[i], run_nk[r], NULL, i, run_len[r],
                        kv_end, ws);
        }
        CPU_FTZ_END
    }
}

void cpu_prefix_attention(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, const kb_act *kpool,
                          const kb_act *vpool, const int32_t *prefix_table, int max_blocks, const int32_t *prefix_len,
                          const int32_t *row_off, const int32_t *rows, int G, int C, int NH, int bs) {
    if (G <= 0) return;
    const int64_t cap = (int64_t)max_blocks * bs;
    int nk_max = 0, chunks = 0;
    double work = 0;
    if (row_off[0] < 0) die("kb_prefix_attention: row_off[0] is negative (%d)", row_off[0]);
    for (int g = 0; g < G; g++) {
        int P = prefix_len[g], r0 = row_off[g], r1 = row_off[g + 1];
        if (r1 < r0) die("kb_prefix_attention: group %d has rows [%d, %d): row_off must not decrease", g, r0, r1);
        if (P < 0 || P > cap)
            die("kb_prefix_attention: group %d has the prefix length %d, outside [0, %lld] (%d blocks of %d)", g, P,
                (long long)cap, max_blocks, bs);
        if (P > 0) check_blocks("kb_prefix_attention", "group", g, prefix_table + (size_t)g * max_blocks, 0, (P - 1) / bs + 1);
        for (int i = r0; i < r1; i++)
            if (rows[i] < 0) die("kb_prefix_attention: group %d names the negative row %d (rows[%d])", g, rows[i], i);
        nk_max = P > nk_max ? P : nk_max;
        chunks += (r1 - r0 + RUN_ROWS - 1) / RUN_ROWS;
        work += (double)P * (r1 - r0) * C;
    }
    paged_geom geo = {FP(out), lse, CFP(qkv), CFP(kpool), CFP(vpool), C, NH, C / NH, bs, 1.0f / sqrtf((float)(C / NH))};
    int team = cpu_threads();
    size_t per_thread = task_floats(nk_max, geo.hs);
    // Tasks: (chunk of up to RUN_ROWS rows of one group, head); a chunk transposes its
    // group's prefix once for all its rows.
    float *scratch = cpu_scratch(ctx, (per_thread * team) * sizeof(float) + 2 * (size_t)chunks * sizeof(int32_t));
    int32_t *chunk_group = (int32_t *)(scratch + per_thread * team), *chunk_first = chunk_group + chunks;
    int c = 0;
    for (int g = 0; g < G; g++)
        for (int i = row_off[g]; i < row_off[g + 1]; i += RUN_ROWS) {
            chunk_group[c] = g;
            chunk_first[c++] = i;
        }
    int tasks = chunks * NH;
#pragma omp parallel num_threads(team) if (team > 1 && tasks > 1 && work > 32768)
    {
        CPU_FTZ_BEGIN
        float *ws = scratch + per_thread * omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < tasks; t++) {
            int k = t / NH, h = t % NH, g = chunk_group[k], i = chunk_first[k];
            attend_task(&geo, h, prefix_table + (size_t)g * max_blocks, 0, prefix_len[g], rows, i,
                        imin(RUN_ROWS, row_off[g + 1] - i), NULL, ws);
        }
        CPU_FTZ_END
    }
}

// ---- merge -----------------------------------------------------------------------------------------
// Per row and head: m = max(lse_a, lse_b), w = e^(lse - m) (0 for an empty side), out =
// (w_a·out_a + w_b·out_b)/(w_a + w_b), lse = m + log(w_a + w_b). A side of weight 0 is left
// out of the sum (its out may be anything), so merging with an empty part returns the other
// part's bits unchanged. Each element is read before it is written: out/lse may alias a.
void cpu_attention_merge(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *out_a, const float *lse_a,
                         const kb_act *out_b, const float *lse_b, int N, int C, int NH) {
    float *o = FP(out);
    const float *oa = CFP(out_a), *ob = CFP(out_b);
    int hs = C / NH;
#pragma omp parallel if ((double)N * C > 65536)
    {
        CPU_FTZ_BEGIN
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++)
            for (int h = 0; h < NH; h++) {
                size_t li = (size_t)i * NH + h, c0 = (size_t)i * C + (size_t)h * hs;
                float a = lse_a[li], b = lse_b[li], m = a > b ? a : b;
                float wa = a == -INFINITY ? 0.0f : cpu_expf(a - m), wb = b == -INFINITY ? 0.0f : cpu_expf(b - m);
                float den = wa + wb;
                for (int d = 0; d < hs; d++) {
                    float r = 0;
                    if (den > 0) {
                        float num = wb == 0 ? wa * oa[c0 + d] : wa == 0 ? wb * ob[c0 + d] : wa * oa[c0 + d] + wb * ob[c0 + d];
                        r = num / den;
                    }
                    o[c0 + d] = r;
                }
                lse[li] = den > 0 ? m + logf(den) : -INFINITY;
            }
        CPU_FTZ_END
    }
}

// ---- sampling --------------------------------------------------------------------------------------
// Semantics of cuda_decode.cu's sample_kernel (see kernels.h): z = logits·(1/temperature);
// greedy at temperature 0; without truncation an inverse CDF over all ids in id order; with
// top_k the k best by (z desc, id asc), then the top-p cut in that order, then an inverse
// CDF over the kept ids in id order. The max, Σ e^(z-m) of the full softmax and the nll are
// cpu_softmax_row.h's, which cpu_classifier.c uses too, so the log-prob a row gets here is,
// bit for bit, minus the nll kb_classifier gives that token at the same temperature (what
// PPO recomputes), and it is <= 0 by construction.

#define CDF_CHUNK (4 * CPU_VL)  // ids per partial sum of the inverse-CDF search

// Order-preserving key: larger float -> larger unsigned (as the CUDA kernel's fkey).
static inline uint32_t fkey(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
// (z desc, id asc) as one integer: the larger key comes first. Keys are distinct.
static inline uint64_t rank_key(float z, int id) { return (uint64_t)fkey(z) << 32 | (uint32_t)~(uint32_t)id; }
static inline int rank_id(uint64_t key) { return (int)~(uint32_t)key; }

static void heap_sift_down(uint64_t *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, s = i;
        if (l < n && h[l] < h[s]) s = l;
        if (r < n && h[r] < h[s]) s = r;
        if (s == i) return;
        uint64_t t = h[i];
        h[i] = h[s];
        h[s] = t;
        i = s;
    }
}
static int cmp_key_desc(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}
static int cmp_int_asc(const void *a, const void *b) {
    int x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

// The first id whose running sum of e (ids in order) exceeds target, searched chunk by
// chunk: chunk sums csum (in order) locate the chunk, then its ids are added one by one.
// Where rounding leaves the running sum short of target, the last id of positive weight
// before that point is taken, so a token of probability 0 is never drawn.
static int inverse_cdf(const float *e, const float *csum, int V, float target) {
    float run = 0;
    int last = -1;
    for (int c = 0; c * CDF_CHUNK < V; c++) {
        int i0 = c * CDF_CHUNK, i1 = imin(V, i0 + CDF_CHUNK);
        if (run + csum[c] > target) {
            float acc = run;
            for (int i = i0; i < i1; i++) {
                acc += e[i];
                if (e[i] > 0) last = i;
                if (acc > target) return i;
            }
            return last;
        }
        if (csum[c] > 0)
            for (int i = i1 - 1; i >= i0; i--)
                if (e[i] > 0) {
                    last = i;
                    break;
                }
        run += csum[c];
    }
    return last;
}

typedef struct sample_args {
    int V, greedy, top_k;
    float inv, top_p;
} sample_args;

// Working memory of one row: e (V), chunk sums, and for top-k the keys and kept ids.
static size_t sample_floats(int V, int top_k) {
    size_t chunks = (size_t)(V + CDF_CHUNK - 1) / CDF_CHUNK;
    return up16((size_t)V) + up16(chunks) + up16((size_t)top_k * (sizeof(uint64_t) + sizeof(int32_t)) / sizeof(float));
}

static void sample_row(const sample_args *a, const float *x, float u, float *ws, int32_t *token, float *logprob) {
    const int V = a->V;
    const float inv = a->inv;
    float *e = ws, *csum = e + up16((size_t)V);
    // max, then e = exp(z - max) and their sum: the classifier's row statistics
    float m = row_max(x, inv, V), sum = row_sum_exp(x, inv, m, V, e, NULL);
    int j, pick = -1;
    if (a->greedy) {
        for (j = 0; j < V && pick < 0; j++)
            if (x[j] * inv == m) pick = j;  // the lowest id of the maximum
    } else if (a->top_k == 0 || a->top_k >= V) {
        int chunks = (V + CDF_CHUNK - 1) / CDF_CHUNK;
        float total = 0;
        for (int c = 0; c < chunks; c++) {
            int i0 = c * CDF_CHUNK, i1 = imin(V, i0 + CDF_CHUNK), i = i0;
            float s = 0;
            if (i1 - i0 == CDF_CHUNK) {
                s = vsum(vload(e + i0) + vload(e + i0 + CPU_VL) + vload(e + i0 + 2 * CPU_VL) + vload(e + i0 + 3 * CPU_VL));
                i = i1;
            }
            for (; i < i1; i++) s += e[i];
            csum[c] = s;
            total += s;
        }
        pick = inverse_cdf(e, csum, V, u * total);
    } else {
        const int K = a->top_k;
        uint64_t *keys = (uint64_t *)(csum + up16((size_t)(V + CDF_CHUNK - 1) / CDF_CHUNK));
        int32_t *kept = (int32_t *)(keys + K);
        // the K largest keys: a min-heap of the best so far
        for (j = 0; j < K; j++) keys[j] = rank_key(x[j] * inv, j);
        for (int i = K / 2 - 1; i >= 0; i--) heap_sift_down(keys, K, i);
        for (; j < V; j++) {
            uint64_t k = rank_key(x[j] * inv, j);
            if (k > keys[0]) {
                keys[0] = k;
                heap_sift_down(keys, K, 0);
            }
        }
        qsort(keys, (size_t)K, sizeof *keys, cmp_key_desc);  // (z desc, id asc)
        int nkept = K;
        if (a->top_p < 1.0f) {
            // the shortest prefix of that order whose mass reaches top_p of the set's
            float total = 0, mass = 0;
            for (int r = 0; r < K; r++) total += e[rank_id(keys[r])];
            int r = 0;
            for (; r < K; r++) {
                mass += e[rank_id(keys[r])];
                if (mass >= a->top_p * total) break;
            }
            nkept = (r == K ? K - 1 : r) + 1;
        }
        for (int r = 0; r < nkept; r++) kept[r] = rank_id(keys[r]);
        qsort(kept, (size_t)nkept, sizeof *kept, cmp_int_asc);
        float mass = 0;
        for (int r = 0; r < nkept; r++) mass += e[kept[r]];
        float target = u * mass, run = 0;
        pick = kept[nkept - 1];
        for (int r = 0; r < nkept; r++) {
            run += e[kept[r]];
            if (run > target) {
                pick = kept[r];
                break;
            }
        }
    }
    if (pick < 0) pick = 0;  // only when no logit is a number (NaN everywhere): the sum is NaN too
    *token = pick;
    *logprob = -row_nll(m, sum, x[pick] * inv);  // <= 0 by construction (cpu_softmax_row.h)
}

void cpu_sample(kb_ctx *ctx, int32_t *tokens, float *logprobs, const kb_act *logits, const uint64_t *seeds,
                const uint64_t *counters, int N, int V, int Vp, float temperature, int top_k, float top_p) {
    if (V < 1 || Vp < V) die("kb_sample: vocabulary %d with padded width %d", V, Vp);
    if (!(temperature >= 0) || isinf(temperature) || (temperature > 0 && isinf(1.0f / temperature)))
        die("kb_sample: temperature %g must be 0 (greedy) or a finite number whose inverse is finite", temperature);
    if (top_k < 0) die("kb_sample: top_k %d must be >= 0 (0: no top-k)", top_k);
    if (!(top_p >= 0 && top_p <= 1)) die("kb_sample: top_p %g must be in [0, 1]", top_p);
    if (top_p < 1 && (top_k == 0 || top_k >= V))
        die("kb_sample: top_p %g < 1 needs top_k in [1, %d): the top-p cut is made within the top-k set", top_p, V);
    if (N <= 0) return;
    sample_args a = {V, temperature == 0, top_k, temperature > 0 ? 1.0f / temperature : 1.0f, top_p};
    int truncated = !a.greedy && top_k > 0 && top_k < V;
    size_t per_thread = sample_floats(V, truncated ? top_k : 0);
    int team = cpu_threads();
    float *scratch = cpu_scratch(ctx, per_thread * team * sizeof(float));
    const float *x = CFP(logits);
#pragma omp parallel num_threads(team) if (team > 1 && N > 1 && (double)N * V > 32768)
    {
        CPU_FTZ_BEGIN
        float *ws = scratch + per_thread * omp_get_thread_num();
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            float u = a.greedy ? 0.0f : kb_uniform(seeds[i], counters[i]);
            sample_row(&a, x + (size_t)i * Vp, u, ws, tokens + i, logprobs + i);
        }
        CPU_FTZ_END
    }
}
