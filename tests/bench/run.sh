#!/usr/bin/env bash
# Runs every CPU benchmark script tests/bench/bench_*.sh in turn (`make bench` builds the
# programs first); a failing one is reported and the others still run.
set -u
cd "$(dirname "$0")/../.."
rc=0
for b in tests/bench/bench_*.sh; do
    echo "=== $b"
    bash "$b" || { echo "=== $b failed"; rc=1; }
    echo
done
exit $rc
