// test_sizing.c — the default engine sizes (rollout/sizing.h) on fake devices: more memory
// never gives a smaller batch or KV budget, the chosen sizes never exceed the memory budget
// (once it holds the engine's minimum), explicit values are kept as given, the buckets end at
// the batch and are increasing, and the engine accepts every chosen configuration.
#include <string.h>

#include "kernels/gpt2.h"
#include "rollout/sizing.h"
#include "tests/test.h"

#define GiB ((size_t)1 << 30)
#define MiB ((size_t)1 << 20)

// GPT-2 shapes: the GPU demo's d6 (T=256, V=4096), d12 (T=1024, V=50257), the CPU demo model.
typedef struct shape {
    const char *name;
    int L, C, NH, maxT, Vp;
} shape;
static const shape shapes[] = {
    {"d6", 6, 384, 6, 256, 4096}, {"d12", 12, 768, 12, 1024, 50304}, {"cpu-demo", 4, 128, 4, 256, 4096}};

static ro_sizing_in input(const shape *s, int cuda, size_t free_bytes, int threads) {
    ro_sizing_in in;
    memset(&in, 0, sizeof in);
    in.cuda = cuda;
    in.res.mem_free = free_bytes;
    in.res.mem_total = free_bytes * 2;
    in.res.threads = threads;
    in.L = s->L, in.C = s->C, in.NH = s->NH, in.maxT = s->maxT, in.Vp = s->Vp;
    in.act_size = cuda ? 2 : 4;
    in.block_size = 16;
    in.prefill_tokens = 512;
    return in;
}

static size_t min_kv(const ro_sizing_in *in) {
    size_t nblk = (size_t)(in->maxT + in->block_size - 1) / in->block_size;
    return (nblk + 2) * (size_t)in->L * 2 * in->C * in->block_size * in->act_size;
}

static int buckets_ok(const ro_sizing *z) {
    if (z->nbuckets < 1 || z->nbuckets > RO_MAX_BUCKETS || z->buckets[z->nbuckets - 1] != z->max_batch) return 0;
    for (int i = 1; i < z->nbuckets; i++)
        if (z->buckets[i] <= z->buckets[i - 1]) return 0;
    return z->buckets[0] >= 1;
}

int main(void) {
    berr e;
    // 1. Monotone in memory, within the budget, buckets well formed: CUDA, every shape, free
    //    memory from 256 MiB to 140 GiB.
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const shape *s = &shapes[si];
        int prev_b = 0;
        size_t prev_kv = 0;
        for (size_t mem = 256 * MiB; mem <= 140 * GiB; mem = mem / 2 * 3) {
            ro_sizing_in in = input(s, 1, mem, 0);
            ro_sizing z;
            int rc = ro_choose_sizes(&in, &z, &e);
            EXPECT(rc == 0, "%s %zu MiB: %s", s->name, mem / MiB, e.msg);
            if (rc) continue;
            EXPECT(z.max_batch >= prev_b && z.kv_bytes >= prev_kv,
                   "%s: %zu MiB free gave batch %d / KV %zu, less than %d / %zu with less memory", s->name, mem / MiB,
                   z.max_batch, z.kv_bytes, prev_b, prev_kv);
            EXPECT(z.max_batch >= RO_MIN_AUTO_BATCH && z.max_batch <= RO_CUDA_TARGET_BATCH, "%s: batch %d", s->name,
                   z.max_batch);
            EXPECT(z.auto_batch && z.auto_kv && z.auto_buckets, "%s: values not marked as chosen", s->name);
            EXPECT(z.budget == mem / 2, "%s: budget %zu is not half of %zu free", s->name, z.budget, mem);
            if (z.budget >= min_kv(&in) + z.act_bytes)
                EXPECT(z.kv_bytes + z.act_bytes <= z.budget, "%s %zu MiB: KV %zu + activations %zu exceed the budget %zu",
                       s->name, mem / MiB, z.kv_bytes, z.act_bytes, z.budget);
            EXPECT(z.kv_bytes >= min_kv(&in), "%s: KV %zu below the engine's minimum %zu", s->name, z.kv_bytes, min_kv(&in));
            EXPECT(buckets_ok(&z), "%s: buckets malformed (%d of them, last %d, batch %d)", s->name, z.nbuckets,
                   z.buckets[z.nbuckets - 1], z.max_batch);
            EXPECT(strstr(z.why, "chosen") != NULL, "%s: the reason '%s' does not say what was chosen", s->name, z.why);
            prev_b = z.max_batch, prev_kv = z.kv_bytes;
        }
        CHECK_EXPECTED("%s on CUDA: more memory never gives less, never over the budget, buckets end at the batch", s->name);
    }

    // 2. The case: the d6 demo model on an H200 (139 GiB free) gets 512 rows, and a KV
    //    budget holding a full-context sequence for every row, 16 GiB at least (the fixed default
    //    of before); a small GPU gets fewer rows.
    {
        ro_sizing_in in = input(&shapes[0], 1, 139 * GiB, 0);
        ro_sizing z;
        REQUIRE(ro_choose_sizes(&in, &z, &e) == 0, "%s", e.msg);
        CHECK(z.max_batch == 512 && z.kv_bytes >= (size_t)512 * z.seq_bytes && z.kv_bytes == 16 * GiB,
              "d6 on an H200: batch %d, KV %zu (%s)",
              z.max_batch, z.kv_bytes, z.why);
        int has96 = 0;
        for (int i = 0; i < z.nbuckets; i++) has96 |= z.buckets[i] == 96;
        CHECK(has96 && z.nbuckets == 13, "CUDA buckets: powers of two and 3/2 steps above 64 (%d buckets)", z.nbuckets);
        ro_sizing_in small = input(&shapes[1], 1, 6 * GiB, 0);  // d12 at full context: 37.7 MB a sequence in bf16
        ro_sizing zs;
        REQUIRE(ro_choose_sizes(&small, &zs, &e) == 0, "%s", e.msg);
        CHECK(zs.max_batch < 512 && zs.max_batch >= 16 && zs.kv_bytes + zs.act_bytes <= zs.budget,
              "d12 with 6 GiB free: batch %d halved to fit, KV %zu + %zu within %zu (%s)", zs.max_batch, zs.kv_bytes,
              zs.act_bytes, zs.budget, zs.why);
    }

    // 3. The CPU: the batch grows with the threads (64 at 1-2, 256 from 8), unchanged with memory
    //    unknown; the KV budget holds the batch at full context (1 GiB at least, the fixed default of
//    before), a quarter of the free memory at most.
    {
        int b1, b2, b4, b16;
        ro_sizing z;
        ro_sizing_in in = input(&shapes[2], 0, 8 * GiB, 1);
        REQUIRE(ro_choose_sizes(&in, &z, &e) == 0, "%s", e.msg);
        b1 = z.max_batch;
        in.res.threads = 2;
        REQUIRE(ro_choose_sizes(&in, &z, &e) == 0, "%s", e.msg);
        b2 = z.max_batch;
        CHECK(z.budget == 2 * GiB && z.kv_bytes + z.act_bytes <= z.budget && z.kv_bytes >= (size_t)64 * z.seq_bytes,
              "CPU, 2 threads, 8 GiB: KV %zu for 64 sequences of %zu within %zu", z.kv_bytes, z.seq_bytes, z.budget);
        in.res.threads = 4;
        REQUIRE(ro_choose_sizes(&in, &z, &e) == 0, "%s", e.msg);
        b4 = z.max_batch;
        in.res.threads = 16;
        REQUIRE(ro_choose_sizes(&in, &z, &e) == 0, "%s", e.msg);
        b16 = z.max_batch;
        CHECK(b1 == 64 && b2 == 64 && b4 == 128 && b16 == 256, "CPU batch by threads: %d %d %d %d", b1, b2, b4, b16);
        int pow2 = 1;
        for (int i = 0; i < z.nbuckets; i++) pow2 &= (z.buckets[i] & (z.buckets[i] - 1)) == 0;
        CHECK(pow2 && z.nbuckets == 9, "CPU buckets: the powers of two up to the batch (%d of them)", z.nbuckets);
        in.res.mem_free = 0;  // unknown
        REQUIRE(ro_choose_sizes(&in, &z, &e) == 0, "%s", e.msg);
        CHECK(z.max_batch == 256 && z.budget == 0 && z.kv_bytes == GiB && (size_t)256 * z.seq_bytes / 4 * 5 < GiB,
              "CPU with memory unknown: batch %d, KV %zu", z.max_batch, z.kv_bytes);
        // Little host memory: the KV budget shrinks to what is left, never below the minimum.
        ro_sizing_in tiny = input(&shapes[1], 0, 64 * MiB, 2);
        REQUIRE(ro_choose_sizes(&tiny, &z, &e) == 0, "%s", e.msg);
        CHECK(z.max_batch == RO_MIN_AUTO_BATCH && z.kv_bytes == min_kv(&tiny),
              "d12 on a CPU with 64 MiB: batch %d, KV %zu (minimum %zu)", z.max_batch, z.kv_bytes, min_kv(&tiny));
    }

    // 4. Explicit values win: --max-batch, --kv-budget, --buckets are kept whatever the memory;
    //    --buckets alone sets the batch to its largest size; inconsistent ones are refused.
    {
        ro_sizing z;
        ro_sizing_in in = input(&shapes[0], 1, 139 * GiB, 0);
        in.max_batch = 3;
        REQUIRE(ro_choose_sizes(&in, &z, &e) == 0, "%s", e.msg);
        CHECK(z.max_batch == 3 && !z.auto_batch && z.auto_kv && buckets_ok(&z) && strstr(z.why, "max-batch 3 (given)"),
              "--max-batch 3 kept (%s)", z.why);
        in = input(&shapes[0], 1, 256 * MiB, 0);  // far less memory than 4096 rows want
        in.max_batch = 4096;
        in.kv_bytes = 100 * GiB;
        REQUIRE(ro_choose_sizes(&in, &z, &e) == 0, "%s", e.msg);
        CHECK(z.max_batch == 4096 && z.kv_bytes == 100 * GiB && !z.auto_kv, "explicit batch and KV kept over memory: %d, %zu",
              z.max_batch, z.kv_bytes);
        in = input(&shapes[0], 1, 139 * GiB, 0);
        in.kv_bytes = 32 * MiB;  // an explicit small KV budget does not shrink the batch
        REQUIRE(ro_choose_sizes(&in, &z, &e) == 0, "%s", e.msg);
        CHECK(z.max_batch == 512 && z.kv_bytes == 32 * MiB, "explicit --kv-budget 32M: batch %d, KV %zu", z.max_batch, z.kv_bytes);
        int bk[3] = {8, 24, 40};
        in = input(&shapes[0], 1, 139 * GiB, 0);
        in.nbuckets = 3, in.buckets = bk;
        REQUIRE(ro_choose_sizes(&in, &z, &e) == 0, "%s", e.msg);
        CHECK(z.max_batch == 40 && z.nbuckets == 3 && z.buckets[1] == 24 && !z.auto_buckets,
              "--buckets 8,24,40 alone: batch %d, %d buckets", z.max_batch, z.nbuckets);
        in.max_batch = 64;
        CHECK(ro_choose_sizes(&in, &z, &e) != 0 && strstr(e.msg, "--buckets") && strstr(e.msg, "--max-batch 64"),
              "--buckets below --max-batch refused: %s", e.msg);
        int bad[2] = {16, 8};
        in.max_batch = 0, in.nbuckets = 2, in.buckets = bad;
        CHECK(ro_choose_sizes(&in, &z, &e) != 0 && strstr(e.msg, "increasing"), "decreasing --buckets refused: %s", e.msg);
    }

    // 5. The engine takes what the chooser gives: ro_config_check passes with the chosen sizes
    //    for every shape and backend at a few memory sizes.
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (int cuda = 0; cuda < 2; cuda++)
            for (size_t mem = 64 * MiB; mem <= 64 * GiB; mem *= 8) {
                ro_sizing_in in = input(&shapes[si], cuda, mem, 2);
                ro_sizing z;
                EXPECT(ro_choose_sizes(&in, &z, &e) == 0, "%s", e.msg);
                ro_config c;
                ro_config_default(&c);
                c.max_batch = z.max_batch, c.nbuckets = z.nbuckets;
                memcpy(c.buckets, z.buckets, sizeof c.buckets);
                gpt2_config mc = {0};
                mc.V = mc.Vp = shapes[si].Vp;
                EXPECT(ro_config_check(&c, &mc, &e) == 0, "%s cuda=%d: the chosen sizes are refused: %s", shapes[si].name,
                       cuda, e.msg);
            }
    CHECK_EXPECTED("every chosen configuration passes the engine's check");
    return test_summary();
}
