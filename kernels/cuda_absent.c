// cuda_absent.c — the CUDA entry points when berry is built without nvcc: opening the
// backend fails with a message that says how to get it.
#include "kernels/backend.h"

static int absent_open(kb_ctx *ctx, int device, berr *e) {
    return berr_set(e, "this build of berry has no CUDA backend (nvcc was not found at build time); "
                       "install the CUDA toolkit and rebuild with `make clean && make`, or use the CPU backend");
}

const kb_ops kb_cuda_ops = {.name = "cuda", .act_size = 2, .open = absent_open};
int kb_cuda_device_count(void) { return 0; }
