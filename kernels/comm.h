// comm.h — data-parallel communication for the trainers.
//
// One process per GPU (or per CPU backend instance), started by OpenMPI's `mpirun`. The
// process group comes from MPI; collectives on fp32 device buffers run over NCCL on the
// CUDA backend and over MPI on the CPU backend (whose "device" memory is host memory).
// Without a launcher (or in a build without MPI) the group is one process and every
// collective is a no-op, so a trainer has a single code path.
//
// Order: comm_init() before kb_open() (comm_local_rank() picks the GPU), then
// comm_attach() with the opened context, then collectives. Every rank must issue the same
// collectives in the same order with the same sizes. A failed collective is fatal
// (MPI_Abort), so no rank waits forever for one that died.
//
// NCCL on the GPU machines: NCCL_NVLS_ENABLE=0 must be set (NVLink SHARP multicast is not
// usable there); comm_init sets it to 0 when the environment does not set it.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct comm comm;

// Starts the process group. Under an MPI launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE or
// PMIX_RANK in the environment) calls MPI_Init; otherwise the group is this process alone.
// Fails with a clear message if launched with several ranks by a build without MPI.
comm *comm_init(berr *e);
// Binds the group to an opened kernel context. On the CUDA backend (built with NCCL) this
// creates the NCCL communicator on the context's current device (unique id broadcast over
// MPI). Collectives on device buffers need it. Collective over all ranks.
int comm_attach(comm *c, kb_ctx *ctx, berr *e);
void comm_finalize(comm *c);  // collective; frees c

int comm_rank(const comm *c);
int comm_world(const comm *c);
int comm_local_rank(const comm *c);   // rank among the processes on this host (the GPU to use)
int comm_local_world(const comm *c);
const char *comm_transport(const comm *c);  // "single", "mpi" or "nccl"
int comm_built_with_mpi(void);
int comm_built_with_nccl(void);

// ---- collectives on fp32 device buffers (sum), in place -------------------------------------
void comm_allreduce_f32(comm *c, float *buf, size_t n);
// buf holds world·shard floats; afterwards rank r's block [r·shard, (r+1)·shard) holds the sum
// over ranks of that block (the other blocks are unspecified).
void comm_reduce_scatter_f32(comm *c, float *buf, size_t shard);
// buf holds world·shard floats; rank r contributes block r; afterwards every rank has all.
void comm_allgather_f32(comm *c, float *buf, size_t shard);
void comm_barrier(comm *c);  // also waits for the device

// ---- host-side helpers ----------------------------------------------------------------------
void comm_allreduce_host_f64(comm *c, double *x, int n);  // sum over ranks
void comm_allreduce_host_i64(comm *c, int64_t *x, int n); // sum over ranks
// Logical AND of ok over ranks: lets every rank stop together on an error found by one.
int comm_all_ok(comm *c, int ok);
void comm_bcast_host(comm *c, void *buf, size_t bytes, int root);
// Rank 0 receives every rank's len_r floats into all[off_r ..); others pass all = NULL.
// off/len of rank r are those of comm_shard(n, world, r, ...).
void comm_gather_host_f32(comm *c, const float *mine, float *all, size_t n, size_t align);

// ---- ZeRO-1 partition -------------------------------------------------------------------------
// Splits n elements into world equal blocks of `shard` elements (a multiple of align), padded
// to n_pad = world·shard >= n; rank r owns [off, off+len) with off = r·shard and len the part
// of its block below n (possibly 0).
typedef struct comm_part {
    size_t off, len, shard, n_pad;
} comm_part;
comm_part comm_partition(size_t n, int world, int rank, size_t align);

#ifdef __cplusplus
}
#endif
