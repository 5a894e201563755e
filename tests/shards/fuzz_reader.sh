#!/usr/bin/env bash
# fuzz_reader — runs the libFuzzer target over the shard reader, record decoders and cursor
# parser for a bounded time (FUZZ_SECONDS, default 30), seeded with valid inputs. Passes if
# libFuzzer found no crash, leak, overflow, undefined behaviour or timeout.
set -u
here=$(cd "$(dirname "$0")" && pwd)
secs=${FUZZ_SECONDS:-30}
work=$(mktemp -d "${TMPDIR:-/tmp}/berry-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
pass=0; fail=0
if ! "$here/gen_corpus" "$work/seeds"; then
    echo "gen_corpus failed"; echo "0 passed, 1 failed"; exit 1
fi
mkdir -p "$work/corpus"
echo "fuzzing for ${secs}s, seeds: $(ls "$work/seeds" | wc -l)"
TMPDIR="$work" "$here/../../fuzz/fuzz_shard" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2560 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$work/seeds" >"$work/log" 2>&1
rc=$?
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$work/log" | sort -u
if [ $rc -eq 0 ] && ! ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* >/dev/null 2>&1; then
    pass=$((pass + 1))
else
    tail -n 60 "$work/log"
    for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
        [ -e "$f" ] && { echo "artifact: $f"; od -A d -t x1 "$f" | head -20; }
    done
    echo "fuzzer exit status $rc"
    fail=$((fail + 1))
fi
# The run must have executed a meaningful number of inputs.
execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$work/log" | grep -oE '[0-9]+$' | tail -n 1)
if [ -n "$execs" ] && [ "$execs" -ge 1000 ]; then pass=$((pass + 1)); else echo "only ${execs:-0} inputs executed"; fail=$((fail + 1)); fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
