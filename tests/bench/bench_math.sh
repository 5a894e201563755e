#!/usr/bin/env bash
# Math verifier checks per second on one core (per task kind), and task generation rate.
# Results go to tests/bench/RESULTS.md, section "Verifier: math checks".
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin=$BUILD/tests/verify_tasks/bench_math
[ -x "$bin" ] || make --no-print-directory "$bin"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$bin" --checks "${CHECKS:-1M}"
