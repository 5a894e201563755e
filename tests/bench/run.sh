#!/usr/bin/env bash
# Runs every CPU benchmark script tests/bench/bench_*.sh in turn (`make bench` builds the
# programs first). Stops at the first one that fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
for b in tests/bench/bench_*.sh; do
    echo "=== $b"
    bash "$b"
    echo
done
