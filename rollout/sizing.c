// sizing.c — default engine sizes from the backend, the device's memory and the model; see
// sizing.h and rollout/README.md ("Default sizes").
#include "rollout/sizing.h"

#include <stdio.h>
#include <string.h>

static void human(size_t n, char *buf, size_t size) {
    if (n < 1048576) snprintf(buf, size, "%.1f KiB", n / 1024.0);
    else if (n < 1073741824) snprintf(buf, size, "%.1f MiB", n / 1048576.0);
    else snprintf(buf, size, "%.1f GiB", n / 1073741824.0);
}

size_t ro_decoder_bytes(const ro_sizing_in *in, int max_n) {
    // gpt2_dec_init: 16·C activations and Vp logits per row, two log-sum-exps per head, the
    // sampled token and log-prob, and the call's inputs: 7 ints and 2 u64 per row, a block
    // table row per token and per prefix group (max_groups = max_n + 1).
    size_t blocks = (size_t)(in->maxT + in->block_size - 1) / (size_t)in->block_size;
    size_t per_row = (16 * (size_t)in->C + (size_t)in->Vp) * in->act_size + 8 * (size_t)in->NH + 8 + 7 * 4 + 2 * 8 +
                     2 * 4 * blocks;
    return (size_t)max_n * per_row + 4 * blocks;
}

// Rows of the engine's largest call: the top bucket or a padded prefill call.
static int max_rows(const ro_sizing_in *in, int top) {
    int pad = in->prefill_pad > 0 ? in->prefill_pad : in->cuda ? 64 : 1;
    int pre = (in->prefill_tokens + pad - 1) / pad * pad;
    return top > pre ? top : pre;
}

int ro_choose_sizes(const ro_sizing_in *in, ro_sizing *o, berr *e) {
    memset(o, 0, sizeof *o);
    if (in->L < 1 || in->C < 1 || in->NH < 1 || in->maxT < 1 || in->Vp < 1 || in->act_size < 1 || in->block_size < 1)
        return berr_set(e, "sizing: bad model shape L=%d C=%d NH=%d maxT=%d Vp=%d (activations %zu bytes, blocks of %d)",
                        in->L, in->C, in->NH, in->maxT, in->Vp, in->act_size, in->block_size);
    if (in->nbuckets < 0 || in->nbuckets > RO_MAX_BUCKETS)
        return berr_set(e, "--buckets: %d sizes, at most %d", in->nbuckets, RO_MAX_BUCKETS);
    size_t nblk = (size_t)(in->maxT + in->block_size - 1) / (size_t)in->block_size;
    size_t block_bytes = (size_t)in->L * 2 * (size_t)in->C * (size_t)in->block_size * in->act_size;
    o->seq_bytes = nblk * block_bytes;
    size_t min_kv = (nblk + 2) * block_bytes;  // what ro_engine_new accepts: one sequence, a copy, the trash block
    // The memory the chosen sizes must fit in. CUDA: half of what is free with the weights
    // loaded (cuBLASLt workspaces, captured graphs and any other process on the device keep the
    // rest). CPU: a quarter of the host's available memory, shared with everything else.
    o->budget = in->cuda ? in->res.mem_free / 2 : in->res.mem_free / 4;
    char why_b[240], why_kv[200], why_k[160], a[32], b[32], c[32];

    // ---- decode batch
    if (in->max_batch > 0) {
        o->max_batch = in->max_batch;
        snprintf(why_b, sizeof why_b, "max-batch %d (given)", o->max_batch);
    } else if (in->nbuckets > 0) {
        o->max_batch = in->buckets[in->nbuckets - 1];
        snprintf(why_b, sizeof why_b, "max-batch %d (the largest of the given buckets)", o->max_batch);
    } else {
        o->auto_batch = 1;
        int target = RO_CUDA_TARGET_BATCH;
        if (!in->cuda) {  // 32 rows a thread keep every thread's matmul rows busy; 64 at least
            int t = in->res.threads > 0 ? in->res.threads : 1;
            target = t > 8 ? 256 : 32 * t < 64 ? 64 : 32 * t;
        }
        // Halve until a full-context sequence per row (plus a quarter for the prefix cache) and
        // the decoder's activations fit the memory. An explicit --kv-budget does not shrink
        // the batch: sequences are mostly far shorter than the context, and the engine
        // preempts when they do not fit.
        int bt = target;
        for (; bt > RO_MIN_AUTO_BATCH && o->budget; bt /= 2) {
            size_t kv = in->kv_bytes ? 0 : (size_t)bt * o->seq_bytes / 4 * 5;
            if (kv + ro_decoder_bytes(in, max_rows(in, bt)) <= o->budget) break;
        }
        o->max_batch = bt;
        human(o->seq_bytes, a, sizeof a);
        human(o->budget, b, sizeof b);
        if (!o->budget)
            snprintf(why_b, sizeof why_b, "max-batch %d (chosen: %s aims for %d; memory unknown)", bt,
                     in->cuda ? "CUDA" : "the CPU", target);
        else
            snprintf(why_b, sizeof why_b, "max-batch %d (chosen: %s aims for %d%s, %s of KV per full-context sequence, "
                     "budget %s = %s of the free memory)", bt, in->cuda ? "CUDA" : "the CPU", target,
                     bt < target ? ", halved to fit" : ", fits", a, b, in->cuda ? "half" : "a quarter");
    }

    // ---- buckets
    if (in->nbuckets > 0) {
        for (int i = 0; i < in->nbuckets; i++) {
            if (in->buckets[i] < 1 || (i && in->buckets[i] <= in->buckets[i - 1]))
                return berr_set(e, "--buckets: sizes must be positive and increasing (size %d is %d)", i + 1, in->buckets[i]);
            o->buckets[i] = in->buckets[i];
        }
        o->nbuckets = in->nbuckets;
        if (o->buckets[o->nbuckets - 1] < o->max_batch)
            return berr_set(e, "--buckets: the largest size %d is below --max-batch %d", o->buckets[o->nbuckets - 1],
                            o->max_batch);
        snprintf(why_k, sizeof why_k, "buckets given");
    } else {
        // Powers of two, and on CUDA above 64 rows also the 3/2 steps between them (96, 192,
        // 384, ...): a step's cost grows with its rows there, so padding stays below a third.
        o->auto_buckets = 1;
        for (int p = 1; p < o->max_batch && o->nbuckets < RO_MAX_BUCKETS - 1; p *= 2) {
            o->buckets[o->nbuckets++] = p;
            if (in->cuda && p >= 64 && p / 2 * 3 < o->max_batch && o->nbuckets < RO_MAX_BUCKETS - 1)
                o->buckets[o->nbuckets++] = p / 2 * 3;
        }
        o->buckets[o->nbuckets++] = o->max_batch;
        snprintf(why_k, sizeof why_k, "%d buckets %d..%d (chosen: powers of 2%s)", o->nbuckets, o->buckets[0],
                 o->max_batch, in->cuda ? ", and 3/2 steps above 64" : "");
    }
    o->act_bytes = ro_decoder_bytes(in, max_rows(in, o->buckets[o->nbuckets - 1]));

    // ---- KV budget
    if (in->kv_bytes) {
        o->kv_bytes = in->kv_bytes;
        human(o->kv_bytes, a, sizeof a);
        snprintf(why_kv, sizeof why_kv, "kv-budget %s (given)", a);
    } else {
        o->auto_kv = 1;
        // A full-context sequence for every row never preempts; a quarter more keeps idle
        // prefix blocks (shared prompts, an instruction) for reuse.
        // Never less than the fixed defaults of before (16 GiB on CUDA, 1 GiB on the CPU)
        // where the memory holds them: more idle blocks only help reuse.
        size_t want = (size_t)o->max_batch * o->seq_bytes / 4 * 5, floor = in->cuda ? (size_t)16 << 30 : (size_t)1 << 30;
        int floored = want < floor;
        if (floored) want = floor;
        if (want < min_kv) want = min_kv;
        size_t room = o->budget > o->act_bytes ? o->budget - o->act_bytes : 0;
        int capped = o->budget && want > room;
        o->kv_bytes = capped ? (room > min_kv ? room : min_kv) : want;
        human(o->kv_bytes, a, sizeof a);
        human(o->seq_bytes, b, sizeof b);
        human(room, c, sizeof c);
        if (capped)
            snprintf(why_kv, sizeof why_kv, "kv-budget %s (chosen: the memory left, %s; less than 1.25 x max-batch "
                     "full-context sequences of %s)", a, c, b);
        else
            snprintf(why_kv, sizeof why_kv, "kv-budget %s (chosen: %s1.25 x max-batch full-context sequences of %s)", a,
                     floored ? "the fixed default, more than " : "", b);
    }
    snprintf(o->why, sizeof o->why, "%s; %s; %s", why_b, why_kv, why_k);
    return 0;
}
