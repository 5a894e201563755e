#!/usr/bin/env bash
# Runs each test program given on the command line, shows its output, and sums the
# "N passed, M failed" line each one ends with.
#   - A program that crashes, times out, prints no summary or reports 0 passed and 0 failed
#     counts as one failure.
#   - A placeholder for a program whose dependency is missing (it prints "SKIPPED: why"; the
#     Makefile's skipped_test makes them) is a skip: listed with its reason and counted in
#     the closing line. Under CI=true a skip is refused: it counts as a failure.
#   - Sanitizer reruns (programs named *_san or *_asan: the same checks again under
#     ASan/UBSan) are summed on their own line; the closing line counts each check once
#     (their failures are in it, their passes are not).
# The closing line is "N passed, M failed" (", K skipped" added when something was skipped);
# the exit status is non-zero when M > 0.
set -u
total_pass=0; total_fail=0; broken=()
rerun_pass=0; rerun_fail=0; reruns=()
skips=()
ci=0; [ "${CI:-}" = true ] && ci=1
start=$(date +%s)
for t in "$@"; do
    name=${t#build/tests/}
    name=${name#skipped/}
    t0=$(date +%s)
    out=$(timeout "${TEST_TIMEOUT:-900}" "$t" 2>&1); rc=$?
    t1=$(date +%s)
    summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    skip=$(printf '%s\n' "$out" | grep -E '^SKIPPED: ' | head -n 1)
    if [ -z "$summary" ] && [ -n "$skip" ] && [ "$rc" = 0 ]; then
        skips+=("$name (${skip#SKIPPED: })")
        if [ $ci = 1 ]; then
            echo "== $name: SKIPPED (${skip#SKIPPED: }) — refused under CI=true, counted as 1 failure"
            total_fail=$((total_fail + 1)); broken+=("$name")
        else
            echo "== $name: SKIPPED (${skip#SKIPPED: })"
        fi
        continue
    fi
    if [ -z "$summary" ]; then
        printf '%s\n' "$out" | tail -n 40
        echo "== $name: no summary (exit $rc) — counted as 1 failure"
        total_fail=$((total_fail + 1)); broken+=("$name")
        continue
    fi
    p=${summary%% passed*}; f=${summary#*, }; f=${f%% failed*}
    if [ "$p" = 0 ] && [ "$f" = 0 ]; then
        printf '%s\n' "$out" | tail -n 20
        echo "== $name: 0 passed, 0 failed (exit $rc) — checked nothing, counted as 1 failure"
        total_fail=$((total_fail + 1)); broken+=("$name")
        continue
    fi
    if [ "$f" != 0 ] || [ "$rc" != 0 ]; then
        printf '%s\n' "$out" | grep -v -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 60
        [ "$f" = 0 ] && f=1
        broken+=("$name")
    fi
    case "$name" in
    *_san | *_asan)
        echo "== $name: $summary ($((t1 - t0))s, sanitizer rerun)"
        rerun_pass=$((rerun_pass + p)); rerun_fail=$((rerun_fail + f)); reruns+=("${name##*/}")
        total_fail=$((total_fail + f))
        ;;
    *)
        echo "== $name: $summary ($((t1 - t0))s)"
        total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
        ;;
    esac
done
echo
[ ${#reruns[@]} -gt 0 ] && echo "sanitizer reruns (${reruns[*]}): $rerun_pass passed, $rerun_fail failed (passes not counted again below)"
if [ ${#skips[@]} -gt 0 ]; then
    if [ $ci = 1 ]; then echo "skipped (refused under CI=true: each counted as a failure):"; else echo "skipped:"; fi
    for s in "${skips[@]}"; do echo "  $s"; done
fi
[ ${#broken[@]} -gt 0 ] && echo "failing: ${broken[*]}"
echo "all tests ($(( $(date +%s) - start ))s):"
if [ ${#skips[@]} -gt 0 ]; then
    echo "$total_pass passed, $total_fail failed, ${#skips[@]} skipped"
else
    echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" = 0 ]
