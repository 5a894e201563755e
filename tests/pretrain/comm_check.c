// comm_check.c — the communication layer's collectives on the CPU backend, checked in every
// rank of whatever group it was started in (alone, or by mpirun with any -np). Driven by
// test_comm.sh, which also runs the build without MPI. Each rank prints its own summary.
#include <string.h>

#include "kernels/comm.h"
#include "tests/test.h"

int main(int argc, char **argv) {
    berr e;
    comm *c = comm_init(&e);
    if (!c) {
        fprintf(stderr, "comm_init: %s\n", e.msg);
        return 3;  // test_comm.sh expects exactly this for the no-MPI multi-rank case
    }
    kb_ctx *ctx = kb_open(KB_CPU, 0, &e);
    if (!ctx) die("%s", e.msg);
    if (comm_attach(c, ctx, &e)) die("comm_attach: %s", e.msg);
    int R = comm_rank(c), W = comm_world(c);
    if (argc > 1 && strcmp(argv[1], "--expect-world") == 0 && argc > 2)
        CHECK(W == atoi(argv[2]), "world %d, expected %s", W, argv[2]);
    CHECK(strcmp(comm_transport(c), W == 1 ? "single" : "mpi") == 0, "transport %s", comm_transport(c));
    CHECK(comm_local_rank(c) == R && comm_local_world(c) == W, "one host: local rank %d/%d vs %d/%d",
          comm_local_rank(c), comm_local_world(c), R, W);

    // all-reduce of a buffer larger than one vector and not a multiple of anything
    size_t n = 1237;
    float *buf = kb_alloc(ctx, n * 4);
    for (size_t i = 0; i < n; i++) buf[i] = (float)(R + 1) + 0.5f * (float)i;
    comm_allreduce_f32(c, buf, n);
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= buf[i] == (float)(W * (W + 1) / 2) + (float)W * 0.5f * (float)i;
    CHECK(ok, "all-reduce sum wrong");

    // reduce-scatter then all-gather: the ZeRO-1 pattern
    size_t shard = 64, tot = shard * (size_t)W;
    float *g = kb_alloc(ctx, tot * 4);
    for (size_t i = 0; i < tot; i++) g[i] = (float)((R + 1) * (int)(i % 97));
    comm_reduce_scatter_f32(c, g, shard);
    ok = 1;
    for (size_t i = (size_t)R * shard; i < (size_t)(R + 1) * shard; i++)
        ok &= g[i] == (float)(W * (W + 1) / 2 * (int)(i % 97));
    CHECK(ok, "reduce-scatter: rank %d's block wrong", R);
    for (size_t i = 0; i < tot; i++)
        if (i / shard != (size_t)R) g[i] = -1.0f;  // garbage outside the own block
    for (size_t i = (size_t)R * shard; i < (size_t)(R + 1) * shard; i++) g[i] = (float)(1000 * R) + (float)(i % shard);
    comm_allgather_f32(c, g, shard);
    ok = 1;
    for (size_t i = 0; i < tot; i++) ok &= g[i] == (float)(1000 * (int)(i / shard)) + (float)(i % shard);
    CHECK(ok, "all-gather wrong");

    // host helpers
    double d[2] = {1.5, (double)R};
    comm_allreduce_host_f64(c, d, 2);
    CHECK(d[0] == 1.5 * W && d[1] == W * (W - 1) / 2.0, "f64 all-reduce %g %g", d[0], d[1]);
    int64_t q[2] = {(int64_t)1 << 40, R};
    comm_allreduce_host_i64(c, q, 2);
    CHECK(q[0] == ((int64_t)W << 40) && q[1] == (int64_t)W * (W - 1) / 2, "i64 all-reduce");
    CHECK(comm_all_ok(c, 1) == 1, "all ok");
    CHECK(comm_all_ok(c, R != W - 1) == 0, "one rank failing must fail all");
    char msg[32] = {0};
    if (R == 0) strcpy(msg, "from rank zero");
    comm_bcast_host(c, msg, sizeof msg, 0);
    CHECK(strcmp(msg, "from rank zero") == 0, "bcast got '%s'", msg);

    // gather of an uneven partition to rank 0
    size_t gn = 1000;
    comm_part p = comm_partition(gn, W, R, 64);
    float *mine = xmalloc((p.len ? p.len : 1) * 4);
    for (size_t i = 0; i < p.len; i++) mine[i] = (float)(p.off + i);
    float *all = R == 0 ? xcalloc(gn, 4) : NULL;
    comm_gather_host_f32(c, mine, all, gn, 64);
    if (R == 0) {
        ok = 1;
        for (size_t i = 0; i < gn; i++) ok &= all[i] == (float)i;
        CHECK(ok, "gather to rank 0 wrong");
    }
    comm_barrier(c);
    free(mine);
    free(all);
    kb_free(ctx, buf);
    kb_free(ctx, g);
    kb_close(ctx);
    comm_finalize(c);
    printf("rank %d of %d: ", R, W);
    return test_summary();
}
