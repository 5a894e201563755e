#!/usr/bin/env bash
# Builds the device programs for the GPU machine here (a portable x86-64-v3 build, sm_90a
# only, debug info stripped so the copy fits what the device tool carries) into .devbuild/.
# Usage: bash tests/device/stage_build.sh [targets relative to the build dir...]
set -eu
cd "$(dirname "$0")/../.."
T=("$@")
[ ${#T[@]} -gt 0 ] || T=(bin/pretrain bin/shards tests/device/bench_gpt2 tests/device/bench_rollout
                         tests/device/test_cuda_ops tests/device/test_cuda_model tests/device/test_cuda_decode)
make -j"$(nproc)" BUILD=.devobj ARCH=-march=x86-64-v3 CUDA_GENCODE="-gencode=arch=compute_90a,code=sm_90a" \
    "${T[@]/#/.devobj/}"
for t in "${T[@]}"; do
    mkdir -p ".devbuild/$(dirname "$t")"
    strip --strip-debug -o ".devbuild/$t" ".devobj/$t"
done
du -sh .devbuild
