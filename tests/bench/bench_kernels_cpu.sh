#!/usr/bin/env bash
# CPU backend of the kernel library: every op at GPT-2 124M layer shapes and at a small
# demo-sized model, then whole training steps of that small model. Results go in
# tests/bench/RESULTS.md ("Kernels: CPU backend").
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}/tests/kernels
for p in bench_cpu_ops bench_cpu_step; do
    [ -x "$B/$p" ] || { echo "bench_kernels_cpu: $B/$p is missing: run 'make bench' (or make $B/$p)" >&2; exit 1; }
done
"$B/bench_cpu_ops" --batch 4 --seq 256 --channels 768 --heads 12 --vocab 50257 --params 124M --iters 3
echo
"$B/bench_cpu_ops" --batch 8 --seq 128 --channels 256 --heads 4 --vocab 8192 --params 5M --iters 5
echo
"$B/bench_cpu_step" --layers 4 --channels 256 --heads 4 --vocab 8192 --batch 8 --seq 128 --steps 5
