#!/usr/bin/env bash
# Tokenizer benchmark: berry's byte-level BPE against HF tokenizers, one thread each, same
# text and vocabulary in one run (see bench_tokenizer.py). Run from the repository root
# after `make` (the `make bench` target does both). Extra arguments go to the driver.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
[ -x "$BUILD/tests/tokenizer/bpe_cli" ] || { echo "bench_tokenizer: build first (make all)" >&2; exit 1; }
echo "== tokenizer: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
BUILD=$BUILD python3 tests/bench/bench_tokenizer.py "$@"
