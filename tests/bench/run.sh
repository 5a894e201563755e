#!/usr/bin/env bash
# Runs every CPU benchmark script tests/bench/bench_*.sh in turn (what `make bench` does).
set -uo pipefail
cd "$(dirname "$0")/../.."
rc=0
for b in tests/bench/bench_*.sh; do
    echo "== $b"
    bash "$b" || { echo "== $b failed" >&2; rc=1; }
done
exit $rc
