#!/usr/bin/env bash
# Sandboxed code checks per second on this machine against a plain `python3` subprocess per
# check, in the same run (build/tests/verify_sandbox/bench_sandbox); then the same pool under
# hostile load: 8 sleepers, and 8 programs that used to cost the judge seconds of CPU, among
# 3000 correct answers. Results go to tests/bench/RESULTS.md, section "Verifier: sandboxed
# code checks".
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin=$BUILD/tests/verify_sandbox/bench_sandbox
[ -x "$bin" ] || make --no-print-directory "$bin"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$bin" --checks "${CHECKS:-4000}" --plain "${PLAIN:-200}" ${WORKERS:+--workers "$WORKERS"}
for h in sleep_import collide_set; do
    echo "== hostile load: $h"
    "$bin" --checks "${HOSTILE_CHECKS:-3000}" --plain 2 --hostile "$h" --hostile-count 8 ${WORKERS:+--workers "$WORKERS"} |
        grep -E "^(sandbox|with|hostile|  CPU)"
done
