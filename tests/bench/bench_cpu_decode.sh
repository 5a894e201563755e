#!/usr/bin/env bash
# Decoding on the CPU backend: the matmul at a few rows (matrix-vector path vs packed path),
# paged attention, sampling, and generation through the paged KV cache of a small GPT-2
# (the demo-sized model of bench_kernels_cpu.sh). Results go in tests/bench/RESULTS.md
# ("Kernels: CPU backend, decoding").
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}/tests/kernels
[ -x "$B/bench_cpu_decode" ] || { echo "bench_cpu_decode: $B/bench_cpu_decode is missing: run 'make bench' (or make $B/bench_cpu_decode)" >&2; exit 1; }
"$B/bench_cpu_decode" --layers 4 --channels 256 --heads 4 --vocab 8192 --seqs 8 --context 256 --new 32
echo
"$B/bench_cpu_decode" --layers 12 --channels 768 --heads 12 --vocab 50257 --seqs 4 --context 128 --new 8 --iters 5
