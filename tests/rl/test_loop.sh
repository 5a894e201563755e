#!/usr/bin/env bash
# test_loop.sh — build/bin/berry, the RL loop as one command, at smoke sizes on the CPU
# (tests/rl/smoke.conf): the whole pipeline end to end with its report; kill -9 of the driver,
# and of a stage, mid-run, then the same command: policy versions continue, every shard
# directory holds what it should exactly once, and the final policy is bit-identical to an
# uninterrupted run's; bad configs fail before anything starts. Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
BERRY=$B/bin/berry
SH=$B/bin/shards
T=$(mktemp -d /tmp/berry_loop.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
CONF=tests/rl/smoke.conf

# ---- a whole run ---------------------------------------------------------------------------------------
"$BERRY" run --config "$CONF" --out "$T/a" 2> "$T/a.log"; rc=$?
check "berry run exits 0 ($(tail -n 1 "$T/a.log"))" test $rc = 0
check "the report has pass@1 before and after RL and the SFT control" \
    bash -c "grep -q 'base model (policy v0)' '$T/a/report.txt' && grep -q 'after RL (policy v2)' '$T/a/report.txt' && grep -q 'SFT control' '$T/a/report.txt'"
check "the report has the FLOPs table with post-training ÷ pretraining and forward:backward" \
    bash -c "grep -q 'post-training ÷ pretraining' '$T/a/report.txt' && grep -q 'post-training forward : backward' '$T/a/report.txt'"
check "report.html is self-contained with its plots inline" \
    bash -c "grep -q '<svg' '$T/a/report.html' && ! grep -q '<img' '$T/a/report.html'"
check "two policy versions were published" bash -c "[ -f '$T/a/policy/policy-v1.bin' ] && [ -f '$T/a/policy/policy-v2.bin' ]"
check "a switch set to 1 reaches its stage as the option alone (ppo --drop-flat)" \
    bash -c "grep -q -- '--drop-flat' '$T/a/logs/iter-0-ppo.log' && grep -q '\"dropped_flat\"' '$T/a/policy/ppo-v1/report.json'"
check "log.jsonl has a record per stage run" bash -c "[ \$(grep -c '\"event\": \"stage\"' '$T/a/log.jsonl') -ge 20 ]"
"$BERRY" run --config "$CONF" --out "$T/a" 2> "$T/a2.log"; rc=$?
check "the same command on a finished run redoes nothing" \
    bash -c "[ $rc = 0 ] && ! grep -q 'rollout \.\.\.' '$T/a2.log' && ! grep -q 'pretrain \.\.\.' '$T/a2.log'"

# ---- kill -9 of the driver, then of a stage ------------------------------------------------------------
"$BERRY" run --config "$CONF" --out "$T/b" 2> "$T/b1.log" &
pid=$!
for _ in $(seq 1 600); do [ -f "$T/b/logs/iter-1-rollout.log" ] && break; sleep 0.02; done
kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
check "the driver was killed in iteration 1 (before v2)" test ! -f "$T/b/policy/policy-v2.bin"
sleep 0.2
check "its stage died with it (no orphan writing into the run)" bash -c "! pgrep -f '[r]ollout --policy $T/b' > /dev/null"
"$BERRY" run --config "$CONF" --out "$T/b" 2> "$T/b2.log"; rc=$?
check "the same command continues the run (exit $rc)" test $rc = 0
check "... to the same final policy, bit for bit, as the uninterrupted run" cmp -s "$T/a/policy/policy-v2.bin" "$T/b/policy/policy-v2.bin"
n1=$("$SH" cat --quiet "$T/b/iter-1/traj" | wc -l); n0=$("$SH" cat --quiet "$T/b/iter-0/traj" | wc -l)
check "every iteration holds its 8 trees once ($n0, $n1)" bash -c "[ $n0 = 8 ] && [ $n1 = 8 ]"
v=$(grep -c '"version"' "$T/b/policy/ppo-history.jsonl")
check "the policy history has versions 1 and 2 once each ($v lines)" test "$v" = 2

"$BERRY" run --config "$CONF" --out "$T/c" 2> "$T/c1.log" &
pid=$!
killed=0
for _ in $(seq 1 1500); do
    p=$(pgrep -f "ppo --policy $T/c/policy/policy-v1.bin" | head -n 1)
    if [ -n "$p" ]; then kill -9 "$p" 2> /dev/null && killed=1; break; fi
    sleep 0.01
done
wait $pid; rc=$?
check "a stage killed by SIGKILL is started again and the run ends (exit $rc, killed $killed)" test $rc = 0
if [ $killed = 1 ]; then
    check "... the restart is in the run log" grep -q '"attempt": 2' "$T/c/log.jsonl"
fi
check "... with the same final policy" cmp -s "$T/a/policy/policy-v2.bin" "$T/c/policy/policy-v2.bin"

# ---- the pooled placement: rollout and verify beside the loop ------------------------------------------------
{ grep -v '^iterations' "$CONF"; echo "iterations = 3"; echo "placement = pooled"; } > "$T/pool.conf"
"$BERRY" run --config "$T/pool.conf" --out "$T/p" 2> "$T/p1.log" &
pid=$!
for _ in $(seq 1 600); do [ -f "$T/p/policy/policy-v1.bin" ] && break; sleep 0.02; done
kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
sleep 0.2
check "pooled: the killed driver took rollout and verify along" bash -c "! pgrep -f '[r]ollout --follow $T/p' > /dev/null && ! pgrep -f '[v]erify run --problems $T/p' > /dev/null"
"$BERRY" run --config "$T/pool.conf" --out "$T/p" 2> "$T/p2.log"; rc=$?
check "pooled: the same command finishes the run (exit $rc)" test $rc = 0
check "pooled: three versions published" bash -c "[ -f '$T/p/policy/policy-v3.bin' ] && [ ! -f '$T/p/policy/policy-v4.bin' ]"
nt=$("$SH" cat --quiet "$T/p/pool/traj" | wc -l)
check "pooled: the stream holds every problem's tree once (24 = $nt)" test "$nt" = 24
check "pooled: every leaf has one verdict" python3 -c "
import json, subprocess
t = [json.loads(l) for l in subprocess.run(['$SH', 'cat', '--quiet', '$T/p/pool/traj'], capture_output=True, text=True).stdout.splitlines()]
v = [json.loads(l) for l in subprocess.run(['$SH', 'cat', '--quiet', '$T/p/pool/verdicts'], capture_output=True, text=True).stdout.splitlines()]
leaves = sum(len(x['nodes']) - len({n['parent'] for n in x['nodes'] if n['parent'] is not None}) for x in t)
keys = {(r['tree_id'], r['node']) for r in v}
assert len(v) == leaves == len(keys), (len(v), leaves, len(keys))"
check "pooled: staleness within pool_ahead (1)" python3 -c "
import json
for k in (1, 2, 3):
    d = json.load(open('$T/p/policy/ppo-v%d/report.json' % k)); assert d['staleness_max'] <= 1 and d['dropped_stale'] == 0, d"

# ---- bad configs: a clear message naming the line, exit 2, nothing started -------------------------------
bad_conf() {
    local what=$1 want=$2 line=$3
    { cat "$CONF"; echo "$line"; } > "$T/bad.conf"
    "$BERRY" run --config "$T/bad.conf" --out "$T/bad" 2> "$T/bad.err"; local rc=$?
    if [ $rc = 2 ] && grep -qF -- "$want" "$T/bad.err" && [ ! -e "$T/bad" ]; then ok
    else bad "$what: exit $rc, wanted 2 and '$want': $(cat "$T/bad.err")"; fi
}
n=$(( $(wc -l < "$CONF") + 1 ))
bad_conf "an unknown key" "bad.conf line $n: unknown key 'iterationz'" "iterationz = 3"
bad_conf "a wrong type" "bad.conf line $n: sft_problems" "sft_problems = three"
bad_conf "a missing file" "init_from /nope.bin: no such file" "init_from = /nope.bin
tokenizer = $CONF"
bad_conf "an unknown stage" "unknown stage 'rollot'" "rollot.roots = 3"
bad_conf "an option the stage does not have" "rollout has no option --rootz" "rollout.rootz = 3"
bad_conf "an option berry wires itself" "ppo.policy is set by berry itself" "ppo.policy = x.bin"
bad_conf "a switch given a value other than 0 or 1" "ppo.drop-flat is a switch" "ppo.drop-flat = yes"
bad_conf "a line without '='" "expected 'key = value'" "just words"
"$BERRY" run --config "$T/none.conf" --out "$T/bad" 2> "$T/bad.err"; rc=$?
check "a missing config: exit 2, named" bash -c "[ $rc = 2 ] && grep -q 'none.conf' '$T/bad.err' && [ ! -e '$T/bad' ]"
"$BERRY" config > "$T/help.txt"; rc=$?
check "berry config lists every key" bash -c "[ $rc = 0 ] && grep -q 'problems_per_iter' '$T/help.txt' && grep -q 'stage.option' '$T/help.txt'"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
