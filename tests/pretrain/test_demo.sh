#!/usr/bin/env bash
# `make demo`'s script (tests/demo.sh) end to end at smoke sizes: the RL loop runs and the
# report has pass@1 before and after RL, the SFT control and the FLOPs table.
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
check "report: pass@1 of the base model" grep -qE "base model \(policy v0\) +[0-9]+/16 " "$OUT/demo/report.txt"
check "report: pass@1 after RL" grep -qE "after RL \(policy v2\) +[0-9]+/16 " "$OUT/demo/report.txt"
check "report: the SFT control" grep -q "SFT control (same FLOPs)" "$OUT/demo/report.txt"
check "report: FLOPs with post-training ÷ pretraining" grep -q "post-training ÷ pretraining" "$OUT/demo/report.txt"
check "report: RL iterations table" grep -qE "^  v2 " "$OUT/demo/report.txt"
check "the demo printed the report" grep -q "berry run report" "$OUT/demo.log"
check "report.html with inline plots" grep -q "<polyline" "$OUT/demo/report.html"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
