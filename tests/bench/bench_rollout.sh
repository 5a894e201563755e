#!/usr/bin/env bash
# The rollout engine's benchmark scenarios (tests/device/bench_rollout.c: A-D and the log-prob
# check L) on the CPU backend at 1/8 scale with a small random GPT-2 (d4, V=4096): what the
# 2-core CI machine can run in about a minute. The GPU figures come from the same program at
# full scale (`build/tests/device/bench_rollout`, see tests/bench/RESULTS.md). One thread by
# default: decode steps are many small ops, and two OpenMP threads on a machine whose other
# core is busy wait a scheduler slice at every parallel region.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
"$B/tests/device/bench_rollout" --backend cpu --depth 4 --vocab 4096 --ctx 512 --scale 8 --kv-budget 0.5 "$@"
