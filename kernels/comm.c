// comm.c — the process group (MPI), device collectives (NCCL on CUDA, MPI on the CPU
// backend) and the single-process fallback. See comm.h.
//
// Built outside the kernel library (pretrain/build.mk) with -DBERRY_MPI when mpi.h was found
// and -DBERRY_NCCL when the CUDA backend is built.
#include "kernels/comm.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef BERRY_MPI
#include <mpi.h>
#endif
#ifdef BERRY_NCCL
#include <cuda_runtime.h>
#include <nccl.h>
#endif

struct comm {
    int rank, world, local_rank, local_world;
    int mpi_started;  // MPI_Init was called by comm_init
    kb_ctx *ctx;
    int use_nccl;
#ifdef BERRY_NCCL
    ncclComm_t nccl;
    cudaStream_t stream;
#endif
};

// MPI's counts are ints: larger transfers go in pieces of this many elements.
#define MPI_PIECE (1u << 30)

int comm_built_with_mpi(void) {
#ifdef BERRY_MPI
    return 1;
#else
    return 0;
#endif
}

int comm_built_with_nccl(void) {
#ifdef BERRY_NCCL
    return 1;
#else
    return 0;
#endif
}

// A collective that fails leaves the other ranks waiting: take the whole job down.
static void __attribute__((noreturn, format(printf, 2, 3))) fatal(const comm *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: rank %d: ", c ? c->rank : 0);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
#ifdef BERRY_MPI
    if (c && c->mpi_started) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    exit(1);
}

#ifdef BERRY_MPI
#define MPI_CHECK(c, call)                                                              \
    do {                                                                                \
        int rc_ = (call);                                                               \
        if (rc_ != MPI_SUCCESS) {                                                       \
            char msg_[MPI_MAX_ERROR_STRING];                                            \
            int len_ = 0;                                                               \
            MPI_Error_string(rc_, msg_, &len_);                                         \
            fatal(c, "%s failed: %s", #call, msg_);                                     \
        }                                                                               \
    } while (0)
#endif

#ifdef BERRY_NCCL
#define NCCL_CHECK(c, call)                                                             \
    do {                                                                                \
        ncclResult_t rc_ = (call);                                                      \
        if (rc_ != ncclSuccess) fatal(c, "%s failed: %s", #call, ncclGetErrorString(rc_)); \
    } while (0)
#define CUDA_CHECK_C(c, call)                                                           \
    do {                                                                                \
        cudaError_t rc_ = (call);                                                       \
        if (rc_ != cudaSuccess) fatal(c, "%s failed: %s", #call, cudaGetErrorString(rc_)); \
    } while (0)
#endif

// World size announced by a launcher, or 0 when not launched by one.
static int launcher_world(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v) > 0 ? atoi(v) : 1;
    }
    if (getenv("PMIX_RANK") || getenv("PMI_RANK")) return 1;
    return 0;
}

comm *comm_init(berr *e) {
    comm *c = xcalloc(1, sizeof *c);
    c->world = c->local_world = 1;
    int launched = launcher_world();
#ifdef BERRY_MPI
    if (launched) {
        int provided = 0;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            free(c);
            berr_set(e, "MPI_Init_thread failed");
            return NULL;
        }
        c->mpi_started = 1;
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_CHECK(c, MPI_Comm_rank(MPI_COMM_WORLD, &c->rank));
        MPI_CHECK(c, MPI_Comm_size(MPI_COMM_WORLD, &c->world));
        MPI_Comm local;
        MPI_CHECK(c, MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &local));
        MPI_CHECK(c, MPI_Comm_rank(local, &c->local_rank));
        MPI_CHECK(c, MPI_Comm_size(local, &c->local_world));
        MPI_Comm_free(&local);
    }
#else
    if (launched > 1) {
        free(c);
        berr_set(e, "started as one of %d ranks, but this build has no MPI (mpi.h was not found at build time, "
                    "so MPI_CFLAGS was empty): install OpenMPI (libopenmpi-dev) and rebuild, or run one process",
                 launched);
        return NULL;
    }
#endif
    // NVLink SHARP (NVLS) must stay off on berry's GPU machines; respect an explicit setting.
    setenv("NCCL_NVLS_ENABLE", "0", 0);
    return c;
}

int comm_attach(comm *c, kb_ctx *ctx, berr *e) {
    c->ctx = ctx;
    c->use_nccl = 0;
    if (c->world == 1 || kb_backend_of(ctx) != KB_CUDA) return 0;
#if defined(BERRY_NCCL) && defined(BERRY_MPI)
    ncclUniqueId id;
    if (c->rank == 0) NCCL_CHECK(c, ncclGetUniqueId(&id));
    MPI_CHECK(c, MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD));
    // kb_open made the context's GPU current on this thread.
    CUDA_CHECK_C(c, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    NCCL_CHECK(c, ncclCommInitRank(&c->nccl, c->world, id, c->rank));
    c->use_nccl = 1;
    return 0;
#else
    return berr_set(e, "%d ranks on the CUDA backend need NCCL, and this build has none (built without nvcc)",
                    c->world);
#endif
}

void comm_finalize(comm *c) {
    if (!c) return;
#ifdef BERRY_NCCL
    if (c->use_nccl) {
        ncclCommDestroy(c->nccl);
        cudaStreamDestroy(c->stream);
    }
#endif
#ifdef BERRY_MPI
    if (c->mpi_started) MPI_Finalize();
#endif
    free(c);
}

int comm_rank(const comm *c) { return c->rank; }
int comm_world(const comm *c) { return c->world; }
int comm_local_rank(const comm *c) { return c->local_rank; }
int comm_local_world(const comm *c) { return c->local_world; }
const char *comm_transport(const comm *c) { return c->world == 1 ? "single" : c->use_nccl ? "nccl" : "mpi"; }

static void need_ctx(const comm *c, const char *what) {
    if (!c->ctx) fatal(c, "%s before comm_attach", what);
}

// ---- device collectives ---------------------------------------------------------------------
//
// NCCL runs on the communicator's own stream. The kernel library does not expose its stream,
// so the compute stream is drained first (kb_sync) and the collective is waited for before
// returning: a host round trip per collective, microseconds against a training step.

#ifdef BERRY_NCCL
static void nccl_begin(comm *c) { kb_sync(c->ctx); }
static void nccl_end(comm *c) { CUDA_CHECK_C(c, cudaStreamSynchronize(c->stream)); }
#endif

#ifdef BERRY_MPI
static int mpi_count(const comm *c, size_t n, const char *what) {
    if (n > (size_t)INT_MAX) fatal(c, "%s of %zu floats exceeds MPI's int count", what, n);
    return (int)n;
}
#endif

void comm_allreduce_f32(comm *c, float *buf, size_t n) {
    if (c->world == 1 || n == 0) return;
    need_ctx(c, "comm_allreduce_f32");
#ifdef BERRY_NCCL
    if (c->use_nccl) {
        nccl_begin(c);
        NCCL_CHECK(c, ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, c->nccl, c->stream));
        nccl_end(c);
        return;
    }
#endif
#ifdef BERRY_MPI
    kb_sync(c->ctx);
    for (size_t off = 0; off < n; off += MPI_PIECE) {
        size_t k = n - off < MPI_PIECE ? n - off : MPI_PIECE;
        MPI_CHECK(c, MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    }
#endif
}

void comm_reduce_scatter_f32(comm *c, float *buf, size_t shard) {
    if (c->world == 1 || shard == 0) return;
    need_ctx(c, "comm_reduce_scatter_f32");
#ifdef BERRY_NCCL
    if (c->use_nccl) {
        nccl_begin(c);
        NCCL_CHECK(c, ncclReduceScatter(buf, buf + (size_t)c->rank * shard, shard, ncclFloat, ncclSum, c->nccl,
                                        c->stream));
        nccl_end(c);
        return;
    }
#endif
#ifdef BERRY_MPI
    kb_sync(c->ctx);
    int k = mpi_count(c, shard, "reduce-scatter block");
    // In place, MPI puts this rank's block at the start of the buffer: move it to its place.
    MPI_CHECK(c, MPI_Reduce_scatter_block(MPI_IN_PLACE, buf, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    if (c->rank) memmove(buf + (size_t)c->rank * shard, buf, shard * sizeof(float));
#endif
}

void comm_allgather_f32(comm *c, float *buf, size_t shard) {
    if (c->world == 1 || shard == 0) return;
    need_ctx(c, "comm_allgather_f32");
#ifdef BERRY_NCCL
    if (c->use_nccl) {
        nccl_begin(c);
        NCCL_CHECK(c, ncclAllGather(buf + (size_t)c->rank * shard, buf, shard, ncclFloat, c->nccl, c->stream));
        nccl_end(c);
        return;
    }
#endif
#ifdef BERRY_MPI
    kb_sync(c->ctx);
    int k = mpi_count(c, shard, "all-gather block");
    MPI_CHECK(c, MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, k, MPI_FLOAT, MPI_COMM_WORLD));
#endif
}

void comm_barrier(comm *c) {
    if (c->ctx) kb_sync(c->ctx);
    if (c->world == 1) return;
#ifdef BERRY_MPI
    MPI_CHECK(c, MPI_Barrier(MPI_COMM_WORLD));
#endif
}

// ---- host helpers -------------------------------------------------------------------------------

void comm_allreduce_host_f64(comm *c, double *x, int n) {
    if (c->world == 1 || n == 0) return;
#ifdef BERRY_MPI
    MPI_CHECK(c, MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
#endif
}

void comm_allreduce_host_i64(comm *c, int64_t *x, int n) {
    if (c->world == 1 || n == 0) return;
#ifdef BERRY_MPI
    MPI_CHECK(c, MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD));
#endif
}

int comm_all_ok(comm *c, int ok) {
    int v = ok ? 1 : 0;
    if (c->world == 1) return v;
#ifdef BERRY_MPI
    MPI_CHECK(c, MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
#endif
    return v;
}

void comm_bcast_host(comm *c, void *buf, size_t bytes, int root) {
    if (c->world == 1) return;
#ifdef BERRY_MPI
    for (size_t off = 0; off < bytes; off += MPI_PIECE) {
        size_t k = bytes - off < MPI_PIECE ? bytes - off : MPI_PIECE;
        MPI_CHECK(c, MPI_Bcast((char *)buf + off, (int)k, MPI_BYTE, root, MPI_COMM_WORLD));
    }
#endif
}

void comm_gather_host_f32(comm *c, const float *mine, float *all, size_t n, size_t align) {
    comm_part me = comm_partition(n, c->world, c->rank, align);
    if (c->rank == 0) memcpy(all + me.off, mine, me.len * sizeof(float));
    if (c->world == 1) return;
#ifdef BERRY_MPI
    if (c->rank == 0) {
        for (int r = 1; r < c->world; r++) {
            comm_part p = comm_partition(n, c->world, r, align);
            for (size_t off = 0; off < p.len; off += MPI_PIECE) {
                size_t k = p.len - off < MPI_PIECE ? p.len - off : MPI_PIECE;
                MPI_CHECK(c, MPI_Recv(all + p.off + off, (int)k, MPI_FLOAT, r, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
            }
        }
    } else {
        for (size_t off = 0; off < me.len; off += MPI_PIECE) {
            size_t k = me.len - off < MPI_PIECE ? me.len - off : MPI_PIECE;
            MPI_CHECK(c, MPI_Send(mine + off, (int)k, MPI_FLOAT, 0, 7, MPI_COMM_WORLD));
        }
    }
#endif
}

comm_part comm_partition(size_t n, int world, int rank, size_t align) {
    comm_part p = {0};
    if (world <= 1) {
        p.len = p.shard = p.n_pad = n;
        return p;
    }
    if (align == 0) align = 1;
    size_t shard = (n + (size_t)world - 1) / (size_t)world;
    shard = (shard + align - 1) / align * align;
    p.shard = shard;
    p.n_pad = shard * (size_t)world;
    p.off = shard * (size_t)rank;
    p.len = p.off >= n ? 0 : (n - p.off < shard ? n - p.off : shard);
    return p;
}
