#!/usr/bin/env bash
# `make demo`'s script (tests/demo.sh) end to end at smoke sizes: every stage runs, and the
# report, the loss curve, the answers and their verdicts are there.
set -u
cd "$(dirname "$0")/../.."
OUT=$(mktemp -d /tmp/berry_demo.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
pass=0; fail=0
check() { local what=$1; shift; if "$@"; then pass=$((pass + 1)); echo "ok: $what"; else fail=$((fail + 1)); echo "FAIL: $what"; fi; }

DEMO_SMOKE=1 DEMO_OUT="$OUT/demo" DEMO_BACKEND=cpu timeout 600 bash tests/demo.sh > "$OUT/demo.log" 2>&1
rc=$?
check "demo script exits 0 (exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || tail -30 "$OUT/demo.log"
for s in 1 2 3 4 5 6; do check "stage $s reported" grep -q "=== demo \[$s/6\]" "$OUT/demo.log"; done
check "report has pass@1 from the verifiers" grep -qE "^pass@1 \(greedy, held-out problems, checked by the verifiers\): [0-9]+/8 = " \
    "$OUT/demo/report.txt"
check "report has the training summary" grep -qE "^training: +30 steps, 15360 tokens, .* FLOPs" "$OUT/demo/report.txt"
check "one answer per held-out problem" test "$(grep -c '"completion"' "$OUT/demo/candidates.jsonl")" = 8
check "one verdict per answer" test "$(grep -c '"outcome"' "$OUT/demo/verdicts.jsonl")" = 8
check "loss curve written" grep -q "<polyline" "$OUT/demo/loss.svg"
check "the device is named once" grep -qE "^backend: +cpu \([0-9]+ threads\)$" "$OUT/demo/report.txt"
check "answers come with their problem and verdict" \
    bash -c "test \$(grep -c '^  problem: ' '$OUT/demo/report.txt') = 3 && test \$(grep -cE '^  verdict: +(pass|fail|timeout|crash|violation) \(expected answer ' '$OUT/demo/report.txt') = 3"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
