#!/usr/bin/env bash
# Builds the device programs for the GPU machine here (a portable x86-64-v3 build, sm_90a
# only, debug info stripped so the copy fits what the device tool carries) into .devbuild/.
# Usage: bash tests/device/stage_build.sh [targets relative to the build dir...]
set -eu
cd "$(dirname "$0")/../.."
T=("$@")
# bin/verify is built here, where <seccomp.h> is (the GPU machine may lack it); the reward device
# script (tests/reward/device_reward.sh) runs rollout, verify and reward.
[ ${#T[@]} -gt 0 ] || T=(bin/pretrain bin/shards bin/rollout bin/verify bin/reward bin/ppo bin/berry
                         tests/device/bench_gpt2 tests/device/bench_rollout tests/device/bench_ops
                         tests/device/test_cuda_ops tests/device/test_cuda_model tests/device/test_cuda_decode
                         tests/device/test_cuda_rl tests/device/logprob_compare tests/interop/interop_tool)
make -j"$(nproc)" BUILD=.devobj ARCH=-march=x86-64-v3 CUDA_GENCODE="-gencode=arch=compute_90a,code=sm_90a" \
    "${T[@]/#/.devobj/}"
for t in "${T[@]}"; do
    mkdir -p ".devbuild/$(dirname "$t")"
    strip --strip-debug -o ".devbuild/$t" ".devobj/$t"
done
du -sh .devbuild
