#!/usr/bin/env bash
# Runs each test program given on the command line, shows its output, and sums the
# "N passed, M failed" line each one ends with. A program that crashes, times out or
# prints no summary counts as one failure.
set -u
total_pass=0; total_fail=0; broken=()
start=$(date +%s)
for t in "$@"; do
    name=${t#build/tests/}
    t0=$(date +%s)
    out=$(timeout "${TEST_TIMEOUT:-900}" "$t" 2>&1); rc=$?
    t1=$(date +%s)
    summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$summary" ]; then
        printf '%s\n' "$out" | tail -n 40
        echo "== $name: no summary (exit $rc) — counted as 1 failure"
        total_fail=$((total_fail + 1)); broken+=("$name")
        continue
    fi
    p=${summary%% passed*}; f=${summary#*, }; f=${f%% failed*}
    if [ "$f" != 0 ] || [ "$rc" != 0 ]; then
        printf '%s\n' "$out" | grep -v -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 60
        [ "$f" = 0 ] && f=1
        broken+=("$name")
    fi
    echo "== $name: $summary ($((t1 - t0))s)"
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
done
echo
[ ${#broken[@]} -gt 0 ] && echo "failing: ${broken[*]}"
echo "all tests ($(( $(date +%s) - start ))s):"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
