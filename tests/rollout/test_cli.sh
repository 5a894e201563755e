#!/usr/bin/env bash
# test_cli.sh — build/bin/rollout end to end on the CPU with a tiny random policy: output
# shards and statistics, the same trees for any thread count / batch / part split, exactly
# once across kill -9 and restarts, following a checkpoint directory, and the clear messages
# for a checkpoint/tokenizer vocabulary mismatch, prompts longer than the context, an empty
# problem shard directory and bad options. Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
RO=$B/bin/rollout
FX=$B/tests/rollout/ro_fixture
SH=$B/bin/shards
T=$(mktemp -d /tmp/rollout_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
# Trees of a directory as sorted JSON lines (one per record).
trees() { "$SH" cat --quiet "$1" | sort; }
count() { "$SH" cat --quiet "$1" | wc -l; }
# One thread each (the machine runs other tests too); the reference run below uses two.
export OMP_NUM_THREADS=1

"$FX" tokenizer "$T/tok.bpe" 400 || { echo "fixture: tokenizer failed"; echo "0 passed, 1 failed"; exit 1; }
"$FX" problems "$T/probs" 0 24 5 11 close
"$FX" policy "$T/policy-v3.bin" "$T/tok.bpe" 512 11
COMMON=(--tokenizer "$T/tok.bpe" --roots 3 --fork 2 --depth 2 --max-new 40 --kv-budget 32M --progress 1000)

# ---- a plain run --------------------------------------------------------------------------------
"$RO" --help > "$T/help.txt"; rc=$?; check "--help exits 0" test $rc = 0
check "--help names the branching options" grep -q -- "--fork K" "$T/help.txt"
OMP_NUM_THREADS=2 "$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/a" "${COMMON[@]}" 2> "$T/a.log"; rc=$?
check "plain run exits 0 ($(tail -n 1 "$T/a.log"))" test $rc = 0
check "config echo" grep -q "rollout: config: roots 3, fork 2, depth 2" "$T/a.log"
check "24 trees written" test "$(count "$T/a")" = 24
check "output directory closed" test -f "$T/a/CLOSED"
check "shards verify accepts the output" "$SH" verify "$T/a" > /dev/null 2>&1
check "trees carry policy version 3" bash -c "\"$SH\" cat --quiet \"$T/a\" | grep -c '\"policy_version\":3,' | grep -qx 24"
check "stats JSON written" python3 -c "
import json,sys; s=json.load(open('$T/a/rollout.stats.json'))
assert s['problems']==24 and s['nodes']>24 and s['tokens_generated']>0 and s['kv_reused']>0 and s['flops']>0, s
assert s['kv_computed']+s['kv_reused']==s['kv_from_scratch']+s['kv_lost_preempted'], s
assert s['finish']['branched']>0 and s['finish']['answer']>0, s['finish']
assert s['counters']['rollout']['fwd']['matmul']['flops']>0"
"$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/a" "${COMMON[@]}" 2> "$T/a2.log"
check "a finished producer is not run again" grep -q "already finished" "$T/a2.log"
check "... and writes nothing more" test "$(count "$T/a")" = 24

# ---- the same trees for any threads, batch, sharing and split -----------------------------------------
trees "$T/a" > "$T/a.json"
"$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/b" "${COMMON[@]}" \
    --max-batch 3 --prefill-tokens 17 --commit-records 1 2> "$T/b.log"
check "1 thread (reference: 2), batch 3, prefill 17: same trees" cmp -s "$T/a.json" <(trees "$T/b")
# The engine sizes: chosen from the device and the model when not given (2 threads: batch 64,
# rollout/sizing.h), the given ones kept; both said in the echo and the statistics.
check "sizes chosen: the echo says so" bash -c "grep -q 'rollout: config: sizes: max-batch 64 (chosen: ' '$T/a.log' &&
    grep -q 'kv-budget 32.0 MiB (given)' '$T/a.log' && grep -q 'max-batch 64, prefill-tokens' '$T/a.log'"
check "... and the statistics" python3 -c "
import json; z=json.load(open('$T/a/rollout.stats.json'))['sizing']
assert z['max_batch']==64 and z['max_batch_chosen'] and not z['kv_budget_chosen'] and z['kv_budget']==32<<20, z
assert z['buckets_chosen'] and z['buckets']==[1,2,4,8,16,32,64] and 'chosen' in z['why'], z"
check "sizes given: --max-batch 3 kept, buckets up to it" bash -c "grep -q 'sizes: max-batch 3 (given)' '$T/b.log' &&
    grep -q 'buckets 1,2,3,' '$T/b.log'"
"$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/c" "${COMMON[@]}" --no-share 2> "$T/c.log"
check "--no-share: same trees" cmp -s "$T/a.json" <(trees "$T/c")
for k in 0 1 2; do
    "$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/d" "${COMMON[@]}" --part $k --parts 3 \
        2> "$T/d$k.log" || bad "part $k of 3 failed: $(tail -n 1 "$T/d$k.log")"
done
check "three parts: same trees, directory closed" cmp -s "$T/a.json" <(trees "$T/d")
check "three parts: CLOSED after the last" test -f "$T/d/CLOSED"

# ---- a shared instruction: stored once, found in the prefix tree -----------------------------------
printf 'Solve the following problem step by step. Write each step on its own line, then the answer.\n' > "$T/instr.txt"
"$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/i" "${COMMON[@]}" --instruction "$T/instr.txt" \
    --max-batch 3 2> "$T/i.log"
check "--instruction: every prompt starts with the instruction's tokens; later problems find them in the tree" python3 -c "
import json,subprocess
rows=[json.loads(l) for l in subprocess.run(['$SH','cat','--quiet','$T/i'],capture_output=True,text=True).stdout.splitlines()]
a=[json.loads(l) for l in subprocess.run(['$SH','cat','--quiet','$T/a'],capture_output=True,text=True).stdout.splitlines()]
n=len(rows[0]['prompt'])-len([r for r in a if r['problem_id']==rows[0]['problem_id']][0]['prompt'])
assert n>=16 and len(rows)==24, (n,len(rows))
assert all(r['prompt'][:n]==rows[0]['prompt'][:n] for r in rows)
s=json.load(open('$T/i/rollout.stats.json'))
assert s['kv_reused_from_tree']>=23*16, s['kv_reused_from_tree']"
"$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/i2" "${COMMON[@]}" --instruction "$T/instr.txt" \
    --no-share 2> "$T/i2.log"
check "--instruction: --no-share gives the same trees" cmp -s <(trees "$T/i") <(trees "$T/i2")

# ---- exactly once across kill -9 -------------------------------------------------------------------
"$FX" problems "$T/big" 0 120 10 12 close
"$RO" --policy "$T/policy-v3.bin" --problems "$T/big" --out "$T/ref" "${COMMON[@]}" 2> /dev/null
trees "$T/ref" > "$T/ref.json"
kills=0
for attempt in $(seq 1 8); do
    "$RO" --policy "$T/policy-v3.bin" --problems "$T/big" --out "$T/k" "${COMMON[@]}" --commit-records 3 \
        --max-batch 2 2>> "$T/k.log" &
    pid=$!
    sleep "0.$((RANDOM % 4 + 1))"
    if kill -9 $pid 2> /dev/null; then kills=$((kills + 1)); fi
    wait $pid 2> /dev/null
    [ -f "$T/k/CLOSED" ] && break
done
if [ ! -f "$T/k/CLOSED" ]; then
    "$RO" --policy "$T/policy-v3.bin" --problems "$T/big" --out "$T/k" "${COMMON[@]}" 2>> "$T/k.log"
fi
check "killed $kills times: still 120 trees, no repeats" test "$(count "$T/k")" = 120
check "killed $kills times: the trees of an uninterrupted run" cmp -s "$T/ref.json" <(trees "$T/k")
echo "kill test: $kills kills, $(grep -c "resuming rollout" "$T/k.log") resumes"
check "the kill test did kill" test "$kills" -gt 0
check "restarts resumed from a commit" grep -q "resuming rollout after" "$T/k.log"

# ---- streaming input, restarts at idle time-outs, other options refused ---------------------------------
"$FX" problems "$T/s" 0 10 5 13 open
"$RO" --policy "$T/policy-v3.bin" --problems "$T/s" --out "$T/so" "${COMMON[@]}" --idle-timeout 1 2> "$T/s1.log"; rc=$?
check "open input with an idle time-out fails" test $rc != 0
check "... after writing what was there" test "$(count "$T/so")" = 10
"$FX" problems "$T/s" 10 10 5 13 close
"$RO" --policy "$T/policy-v3.bin" --problems "$T/s" --out "$T/so" "${COMMON[@]}" --roots 2 2> "$T/s2.log"
check "a restart with other branching options is refused" grep -q "other branching/sampling options" "$T/s2.log"
"$RO" --policy "$T/policy-v3.bin" --problems "$T/s" --out "$T/so" "${COMMON[@]}" 2> "$T/s3.log"
check "the restart takes the rest" test "$(count "$T/so")" = 20
"$FX" problems "$T/s20" 0 20 5 13 close
"$RO" --policy "$T/policy-v3.bin" --problems "$T/s20" --out "$T/s20o" "${COMMON[@]}" 2> /dev/null
check "streamed in two runs: the trees of one run" cmp -s <(trees "$T/s20o") <(trees "$T/so")

# ---- following a checkpoint directory ---------------------------------------------------------------
mkdir -p "$T/ckpt"
cp "$T/policy-v3.bin" "$T/ckpt/policy-v1.bin"
"$FX" problems "$T/f" 0 6 3 14 open
"$RO" --follow "$T/ckpt" --follow-poll 0.05 --problems "$T/f" --out "$T/fo" "${COMMON[@]}" --commit-records 1 \
    --commit-seconds 0.05 2> "$T/f.log" &
fpid=$!
for i in $(seq 1 200); do [ "$(count "$T/fo" 2> /dev/null)" = 6 ] && break; sleep 0.05; done
"$FX" policy "$T/ckpt/policy-v2.tmp" "$T/tok.bpe" 512 12 && mv "$T/ckpt/policy-v2.tmp" "$T/ckpt/policy-v2.bin"
sleep 0.5
"$FX" problems "$T/f" 6 6 3 14 close
wait $fpid; rc=$?
check "follow run exits 0 ($(tail -n 1 "$T/f.log"))" test $rc = 0
check "follow: 6 trees of version 1" test "$("$SH" cat --quiet "$T/fo" | grep -c '"policy_version":1,')" = 6
check "follow: 6 trees of version 2" test "$("$SH" cat --quiet "$T/fo" | grep -c '"policy_version":2,')" = 6
check "follow: the switch is logged" grep -q "policy version 2 from" "$T/f.log"

# ---- clear messages ---------------------------------------------------------------------------------
"$FX" policy "$T/wrongv.bin" "$T/tok.bpe" 512 11 5
"$RO" --policy "$T/wrongv.bin" --problems "$T/probs" --out "$T/e1" "${COMMON[@]}" 2> "$T/e1.log"; rc=$?
check "vocabulary mismatch fails" test $rc != 0
check "... naming both sizes" grep -q "vocabulary of 405 tokens but tokenizer .* has 400" "$T/e1.log"
"$FX" policy "$T/short.bin" "$T/tok.bpe" 24 11
"$RO" --policy "$T/short.bin" --problems "$T/probs" --out "$T/e2" "${COMMON[@]}" 2> "$T/e2.log"; rc=$?
check "a prompt longer than the context fails" test $rc != 0
check "... naming the problem, the shard and the context" grep -q "gen-0000000[0-9].shard record [0-9]*: problem [0-9]*: the prompt leaves no room to generate: [0-9]* tokens .* context of 24 tokens" "$T/e2.log"
check "... and publishes nothing" test "$(count "$T/e2" 2> /dev/null || echo 0)" = 0
"$FX" policy "$T/mid.bin" "$T/tok.bpe" 60 11
"$RO" --policy "$T/mid.bin" --problems "$T/probs" --out "$T/e3" "${COMMON[@]}" --skip-long-prompts 2> "$T/e3.log"; rc=$?
check "--skip-long-prompts runs" test $rc = 0
nskip=$(grep -c "rollout: skipped" "$T/e3.log")
check "... reports every skipped problem ($nskip) and writes the rest" test "$((nskip + $(count "$T/e3")))" = 24
check "... and some were skipped, some not" test "$nskip" -gt 0 -a "$nskip" -lt 24
"$FX" problems "$T/empty" 0 0 1 1 empty
"$RO" --policy "$T/policy-v3.bin" --problems "$T/empty" --out "$T/e4" "${COMMON[@]}" 2> "$T/e4.log"; rc=$?
check "an empty problem shard directory fails" test $rc != 0
check "... saying so" grep -q "no problems: .* is closed and its shards hold no problem records" "$T/e4.log"
"$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/e5" "${COMMON[@]}" --fork 0 2> "$T/e5.log"
check "a bad option value is named" grep -q -- "--fork" "$T/e5.log"
"$RO" --problems "$T/probs" --out "$T/e6" --tokenizer "$T/tok.bpe" 2> "$T/e6.log"; rc=$?
check "no policy: exit 2 with a message" bash -c "test $rc = 2 && grep -q 'exactly one of --policy' '$T/e6.log'"
"$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/e7" "${COMMON[@]}" --kv-budget 100K 2> "$T/e7.log"
check "a KV budget below one sequence is refused" grep -q "KV budget of .* needs" "$T/e7.log"
"$RO" --policy "$T/nope.bin" --problems "$T/probs" --out "$T/e8" "${COMMON[@]}" 2> "$T/e8.log"
check "a missing checkpoint is named" grep -q "nope.bin" "$T/e8.log"

# ---- mistakes found before any work, and leaving nothing behind --------------------------------------
"$RO" --policy "$T/policy-v3.bin" --problems "$T/nope" --out "$T/n1" "${COMMON[@]}" 2> "$T/n1.log" & npid=$!
for i in $(seq 1 100); do kill -0 $npid 2> /dev/null || break; sleep 0.05; done
if kill -0 $npid 2> /dev/null; then kill -9 $npid; bad "a problem directory that does not exist is waited for"; else ok; fi
wait $npid; rc=$?
check "... exit 1 naming it" bash -c "test $rc = 1 && grep -q 'rollout: error: --problems $T/nope: no such directory' '$T/n1.log'"
check "... and --out is not created" test ! -e "$T/n1"
mkdir -p "$T/fdir"
"$RO" --follow "$T/nofollow" --problems "$T/probs" --out "$T/n2" "${COMMON[@]}" 2> "$T/n2.log"; rc=$?
check "a --follow directory that does not exist fails at once" bash -c "test $rc = 1 && grep -q -- '--follow $T/nofollow: no such directory' '$T/n2.log' && test ! -e '$T/n2'"
"$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/n3" "${COMMON[@]}" --kv-budget 0 2> "$T/n3.log"; rc=$?
check "--kv-budget 0 is refused (exit 2), not read as the default" bash -c "test $rc = 2 && grep -q 'rollout: error: --kv-budget 0: ' '$T/n3.log'"
"$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/n4" "${COMMON[@]}" --kv-budget 1K 2> "$T/n4.log"; rc=$?
check "--kv-budget 1K: a readable size in the message" bash -c "test $rc = 1 && grep -q 'a KV budget of 1.0 KiB holds 0 blocks .* give at least [0-9.]* KiB' '$T/n4.log'"
check "... and the failed run leaves no --out (no lock, no stats file)" test ! -e "$T/n4"
mkdir -p "$T/n5"
"$RO" --policy "$T/short.bin" --problems "$T/probs" --out "$T/n5" "${COMMON[@]}" 2> "$T/n5.log"; rc=$?
check "a failed run into an existing directory leaves it empty ($(ls -A "$T/n5" | tr '\n' ' '))" \
    bash -c "test $rc = 1 && test -z \"\$(ls -A '$T/n5')\""
"$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/a" --roots 2 "${COMMON[@]:0:2}" 2> "$T/n6.log"; rc=$?
check "a refused restart (other options) writes no stats into the directory it refuses" \
    bash -c "test $rc = 1 && ! grep -q 'stats' '$T/n6.log' && grep -q 'rollout: error: ' '$T/n6.log'"
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then  # (root writes anywhere: the check runs as nobody)
    mkdir -p "$T/ro"; chmod 755 "$T" "$T/ro"; chmod -R a+rX "$T"
    cp "$RO" "$T/rollout.bin"; chmod 755 "$T/rollout.bin"
    setpriv --reuid=65534 --regid=65534 --clear-groups -- "$T/rollout.bin" --policy "$T/policy-v3.bin" --problems "$T/probs" \
        --out "$T/ro/x" "${COMMON[@]}" 2> "$T/n7.log"; rc=$?
    check "a read-only target: the first (and only) error names it" \
        bash -c "test $rc = 1 && test \$(wc -l < '$T/n7.log') = 1 && grep -q 'rollout: error: --out $T/ro/x: cannot create it in $T/ro: Permission denied' '$T/n7.log'"
fi
"$RO" --policy "$T/policy-v3.bin" --problems "$T/probs" --out "$T/q" "${COMMON[@]}" --quiet 2> "$T/q.log"; rc=$?
check "--quiet: no config echo or progress lines" bash -c "test $rc = 0 && ! grep -q 'config:' '$T/q.log'"
check "... and the same 24 trees" test "$(count "$T/q")" = 24
check "the config echo names the device once" grep -q "rollout: config: backend cpu ([0-9]* threads)," "$T/a.log"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
