// cuda_attention_cudnn.cpp — causal attention through cuDNN's fused SDPA (flash attention
// for Hopper), when berry is built with cuDNN. C++ only because cuDNN's graph API for SDPA
// is its C++ frontend (header-only). The backward uses cuDNN's deterministic algorithm;
// where cuDNN cannot build a plan for a shape (or a deterministic one), the callers fall back
// to berry's own kernels (cuda_attention.cu), which compute the same function.
//
// Layouts are berry's: qkv (B, T, 3, NH, HS) read in place through strides, out (B, T, NH,
// HS), lse (B, NH, T) = the natural-log sum of exp of the scaled scores (cuDNN's "stats").
#include <cudnn.h>
#include <cudnn_frontend.h>

#include <cuda_runtime.h>
#include <string.h>

#include <map>
#include <memory>
#include <tuple>

#include "kernels/backend.h"

// From cuda_backend.cu (this file is plain C++, not compiled by nvcc).
extern "C" cudaStream_t cuda_stream_of(kb_ctx *ctx);
#define STREAM(ctx) cuda_stream_of(ctx)
#define CUDA_CHECK(call)                                                                          \
    do {                                                                                          \
        cudaError_t err_ = (call);                                                                \
        if (err_ != cudaSuccess) die("CUDA error at %s:%d: %s (%s)", __FILE__, __LINE__,          \
                                     cudaGetErrorString(err_), #call);                            \
    } while (0)
typedef uint16_t bf16;  // only pointer arithmetic here

namespace fe = cudnn_frontend;

namespace {

struct plan_t {
    std::shared_ptr<fe::graph::Graph> graph;
    std::shared_ptr<fe::graph::Tensor_attributes> q, k, v, o, stats, dO, dQ, dK, dV;
    bool ok = false;
};

struct state_t {
    cudnnHandle_t handle = nullptr;
    void *workspace = nullptr;
    size_t workspace_bytes = 0;
    std::map<std::tuple<int, int, int, int, int>, plan_t> plans;  // (B, NH, T, HS, backward)
    int reported = 0;
};

std::map<kb_ctx *, state_t> g_states;

int disabled() {
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("BERRY_ATTN");
        v = e && !strcmp(e, "own");
    }
    return v;
}

state_t &state(kb_ctx *ctx) {
    state_t &s = g_states[ctx];
    if (!s.handle) {
        if (cudnnCreate(&s.handle) != CUDNN_STATUS_SUCCESS) die("cuDNN: cudnnCreate failed");
    }
    cudnnSetStream(s.handle, STREAM(ctx));
    return s;
}

std::shared_ptr<fe::graph::Tensor_attributes> tensor(fe::graph::Graph &g, const char *name, int64_t B, int64_t H,
                                                     int64_t T, int64_t D, int64_t sb, int64_t sh, int64_t st) {
    return g.tensor(fe::graph::Tensor_attributes().set_name(name).set_dim({B, H, T, D}).set_stride({sb, sh, st, 1}));
}

// Builds (once per shape) the forward or backward graph; false if cuDNN has no plan for it.
plan_t &get_plan(kb_ctx *ctx, int B, int NH, int T, int HS, int bwd) {
    state_t &s = state(ctx);
    auto key = std::make_tuple(B, NH, T, HS, bwd);
    auto it = s.plans.find(key);
    if (it != s.plans.end()) return it->second;
    plan_t &p = s.plans[key];
    int64_t C = (int64_t)NH * HS;
    auto g = std::make_shared<fe::graph::Graph>();
    g->set_io_data_type(fe::DataType_t::BFLOAT16)
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    // q, k, v inside qkv: (B, T, 3C) rows, head h at h*HS
    p.q = tensor(*g, "Q", B, NH, T, HS, (int64_t)T * 3 * C, HS, 3 * C);
    p.k = tensor(*g, "K", B, NH, T, HS, (int64_t)T * 3 * C, HS, 3 * C);
    p.v = tensor(*g, "V", B, NH, T, HS, (int64_t)T * 3 * C, HS, 3 * C);
    float scale = 1.0f / sqrtf((float)HS);
    if (!bwd) {
        auto opts = fe::graph::SDPA_attributes().set_name("sdpa").set_generate_stats(true).set_causal_mask(true).set_attn_scale(scale);
        auto outs = g->sdpa(p.q, p.k, p.v, opts);
        p.o = outs[0];
        p.stats = outs[1];
        p.o->set_output(true).set_dim({B, NH, T, HS}).set_stride({(int64_t)T * C, HS, C, 1});
        p.stats->set_output(true).set_data_type(fe::DataType_t::FLOAT).set_dim({B, NH, T, 1}).set_stride({(int64_t)NH * T, T, 1, 1});
    } else {
        p.o = tensor(*g, "O", B, NH, T, HS, (int64_t)T * C, HS, C);
        p.dO = tensor(*g, "dO", B, NH, T, HS, (int64_t)T * C, HS, C);
        p.stats = g->tensor(fe::graph::Tensor_attributes().set_name("stats").set_dim({B, NH, T, 1})
                               .set_stride({(int64_t)NH * T, T, 1, 1}).set_data_type(fe::DataType_t::FLOAT));
        auto opts = fe::graph::SDPA_backward_attributes().set_name("sdpa_backward").set_causal_mask(true)
                        .set_attn_scale(scale).set_deterministic_algorithm(true);
        auto outs = g->sdpa_backward(p.q, p.k, p.v, p.o, p.dO, p.stats, opts);
        p.dQ = outs[0];
        p.dK = outs[1];
        p.dV = outs[2];
        for (auto &t : {p.dQ, p.dK, p.dV}) t->set_output(true).set_dim({B, NH, T, HS}).set_stride({(int64_t)T * 3 * C, HS, 3 * C, 1});
    }
    bool ok = g->validate().is_good() && g->build_operation_graph(s.handle).is_good() &&
              g->create_execution_plans({fe::HeurMode_t::A}).is_good() && g->check_support().is_good() &&
              g->build_plans().is_good();
    if (ok) {
        int64_t ws = 0;
        ok = g->get_workspace_size(ws).is_good();
        if (ok && (size_t)ws > s.workspace_bytes) {
            CUDA_CHECK(cudaStreamSynchronize(STREAM(ctx)));
            cudaFree(s.workspace);
            CUDA_CHECK(cudaMalloc(&s.workspace, (size_t)ws));
            s.workspace_bytes = (size_t)ws;
        }
    }
    p.graph = g;
    p.ok = ok;
    if (s.reported < 4) {
        fprintf(stderr, "attention: cuDNN %s %s for B=%d NH=%d T=%d head=%d%s\n", bwd ? "backward" : "forward",
                ok ? "plan built" : "has no plan", B, NH, T, HS, ok ? "" : "; using berry's kernels");
        s.reported++;
    }
    return p;
}

}  // namespace

// 0 when cuDNN ran the forward; -1 when the caller must use its own kernels.
extern "C" int cuda_cudnn_attention_forward(kb_ctx *ctx, kb_act *out, float *lse, const kb_act *qkv, int B, int T, int C,
                                            int NH) {
    if (disabled()) return -1;
    int HS = C / NH;
    plan_t &p = get_plan(ctx, B, NH, T, HS, 0);
    if (!p.ok) return -1;
    const bf16 *x = (const bf16 *)qkv;
    std::unordered_map<std::shared_ptr<fe::graph::Tensor_attributes>, void *> pack = {
        {p.q, (void *)x}, {p.k, (void *)(x + C)}, {p.v, (void *)(x + 2 * C)}, {p.o, (void *)out}, {p.stats, (void *)lse}};
    state_t &s = state(ctx);
    if (p.graph->execute(s.handle, pack, s.workspace).is_bad()) die("cuDNN attention forward failed to execute");
    return 0;
}

extern "C" int cuda_cudnn_attention_backward(kb_ctx *ctx, kb_act *dqkv, const kb_act *dout, const kb_act *qkv,
                                             const kb_act *out, const float *lse, int B, int T, int C, int NH) {
    if (disabled()) return -1;
    int HS = C / NH;
    plan_t &p = get_plan(ctx, B, NH, T, HS, 1);
    if (!p.ok) return -1;
    const bf16 *x = (const bf16 *)qkv;
    bf16 *d = (bf16 *)dqkv;
    std::unordered_map<std::shared_ptr<fe::graph::Tensor_attributes>, void *> pack = {
        {p.q, (void *)x},        {p.k, (void *)(x + C)},       {p.v, (void *)(x + 2 * C)}, {p.o, (void *)out},
        {p.dO, (void *)dout},    {p.stats, (void *)lse},       {p.dQ, (void *)d},          {p.dK, (void *)(d + C)},
        {p.dV, (void *)(d + 2 * C)}};
    state_t &s = state(ctx);
    if (p.graph->execute(s.handle, pack, s.workspace).is_bad()) die("cuDNN attention backward failed to execute");
    return 0;
}

extern "C" void cuda_cudnn_attention_close(kb_ctx *ctx) {
    auto it = g_states.find(ctx);
    if (it == g_states.end()) return;
    cudaFree(it->second.workspace);
    if (it->second.handle) cudnnDestroy(it->second.handle);
    g_states.erase(it);
}
