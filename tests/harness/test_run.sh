#!/usr/bin/env bash
# The harness against its own claims: tests/test.h through build/tests/harness/probe, and
# tests/run.sh on stand-in programs. Prints "N passed, M failed" last.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
P="$B/tests/harness/probe"
T=$(mktemp -d /tmp/berry_harness.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() {  # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $what" >&2; fi
}
# probe MODE: its exit status and its summary line
probe() { out=$("$P" "$1" 2>&1); rc=$?; summary=$(printf '%s\n' "$out" | tail -n 1); }

probe nothing;       check "test.h: a program that checks nothing fails" test "$rc" != 0 -a "$summary" = "0 passed, 1 failed"
probe pass;          check "test.h: one passing check passes" test "$rc" = 0 -a "$summary" = "1 passed, 0 failed"
probe expect-closed; check "test.h: passing EXPECTs closed by CHECK_EXPECTED are one check" test "$rc" = 0 -a "$summary" = "1 passed, 0 failed"
probe expect-failed; check "test.h: a failing EXPECT fails its CHECK_EXPECTED" test "$rc" != 0 -a "$summary" = "0 passed, 1 failed"
probe expect-open;   check "test.h: an EXPECT never closed still fails the program" test "$rc" != 0 -a "$summary" = "1 passed, 1 failed"
probe require;       check "test.h: a failed REQUIRE ends the program as one failure" test "$rc" != 0 -a "$summary" = "1 passed, 1 failed"
out=$(BERRY_TEST_SEED=99 "$P" seed 2>&1)
check "test.h: BERRY_TEST_SEED sets the seed, and it is printed" grep -q '^seed 99 (replay with BERRY_TEST_SEED=99)' <<< "$out"

# stand-ins for run.sh
mk() { printf '#!/bin/sh\n%s\n' "$2" > "$T/$1"; chmod +x "$T/$1"; }
mk good 'echo "5 passed, 0 failed"'
mk bad 'echo "4 passed, 2 failed"; exit 1'
mk silent 'echo "no summary here"'
mk crash 'echo "3 passed, 0 failed"; kill -SEGV $$'
mk zero 'echo "0 passed, 0 failed"'
mk skipped 'echo "SKIPPED: libfoo not found"'
mk thing_san 'echo "7 passed, 0 failed"'
runsh() { out=$(env -u CI bash tests/run.sh "$@" 2>&1); rc=$?; last=$(printf '%s\n' "$out" | tail -n 1); }

runsh "$T/good";            check "run.sh: a passing program passes" test "$rc" = 0 -a "$last" = "5 passed, 0 failed"
runsh "$T/good" "$T/bad";   check "run.sh: failures are summed and fail the run" test "$rc" != 0 -a "$last" = "9 passed, 2 failed"
runsh "$T/silent";          check "run.sh: no summary is a failure" test "$rc" != 0 -a "$last" = "0 passed, 1 failed"
runsh "$T/crash";           check "run.sh: a crash after its summary is a failure" test "$rc" != 0
runsh "$T/zero";            check "run.sh: a program that reports 0 passed fails" test "$rc" != 0 -a "$last" = "0 passed, 1 failed"
runsh "$T/good" "$T/skipped"
check "run.sh: a skip is counted in the closing line" test "$rc" = 0 -a "$last" = "5 passed, 0 failed, 1 skipped"
check "run.sh: a skip is listed with its reason" grep -q 'skipped (libfoo not found)\|SKIPPED (libfoo not found)' <<< "$out"
out=$(CI=true bash tests/run.sh "$T/good" "$T/skipped" 2>&1); rc=$?; last=$(printf '%s\n' "$out" | tail -n 1)
check "run.sh: under CI=true a skip is a failure" test "$rc" != 0 -a "$last" = "5 passed, 1 failed, 1 skipped"
runsh "$T/good" "$T/thing_san"
check "run.sh: a sanitizer rerun's passes are not counted again" test "$rc" = 0 -a "$last" = "5 passed, 0 failed"
check "run.sh: ... and are reported on their own line" grep -q '^sanitizer reruns (thing_san): 7 passed, 0 failed' <<< "$out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
