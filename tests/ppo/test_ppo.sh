#!/usr/bin/env bash
# test_ppo.sh — build/bin/ppo end to end on the CPU: rollout samples trees from a tiny random
# policy, a toy verifier (tests/ppo/toy_verdicts.c: pass iff the first response token lies in
# [LO, HI)) judges the leaves, ppo publishes the next policy, and so on. Checks:
#   - the policy learns in each advantage mode (reward from near 0 to near 1), and the critic's
#     explained variance rises (gae);
#   - kill -9 in the middle of an iteration, then the same command: the published policy is
#     bit-identical to an uninterrupted run's; a finished iteration is not run again;
#   - 2 ranks under mpirun against 1 at the same global batch;
#   - staleness: older trees dropped and counted; a tree from a future version refused;
#   - bad inputs (vocabulary mismatch, verdicts of other trees, bad options) get a clear
#     message, a non-zero exit, and nothing published; a collapse monitor stops the run.
# Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
PPO=$B/bin/ppo
RO=$B/bin/rollout
FX=$B/tests/rollout/ro_fixture
TV=$B/tests/ppo/toy_verdicts
T=$(mktemp -d /tmp/ppo_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
export OMP_NUM_THREADS=1

"$FX" tokenizer "$T/tok.bpe" 400 || { echo "fixture: tokenizer failed"; echo "0 passed, 1 failed"; exit 1; }
"$FX" problems "$T/probs" 0 16 8 11 close
"$FX" policy "$T/policy-v0.bin" "$T/tok.bpe" 192 11
"$FX" policy "$T/wrongvocab.bin" "$T/tok.bpe" 192 11 5
ROLL=(--tokenizer "$T/tok.bpe" --problems "$T/probs" --roots 4 --fork 2 --depth 1 --max-new 8 --force-step 4 --kv-budget 16M)

# rollout + toy verdicts of policy DIR/policy-v<I>.bin into DIR/traj<I>, DIR/ver<I>
sample() {
    local d=$1 i=$2 lo=$3 hi=$4
    "$RO" --policy "$d/policy-v$i.bin" --out "$d/traj$i" --seed $((i + 1)) "${ROLL[@]}" ${ROLL_EXTRA:-} 2> "$d/roll$i.log" &&
        "$TV" "$d/traj$i" "$d/ver$i" "$lo" "$hi"
}

# learn MODE ITERS LO HI [ppo options]: ITERS iterations in $T/MODE; prints the rewards
learn() {
    local mode=$1 n=$2 lo=$3 hi=$4; shift 4
    local d=${LEARN_DIR:-$T/$mode}
    mkdir -p "$d"
    cp "$T/policy-v0.bin" "$d/"
    for i in $(seq 0 $((n - 1))); do
        sample "$d" "$i" "$lo" "$hi" || return 1
        local extra=()
        [ "$i" -gt 0 ] && extra+=(--optimizer "$d/ppo-v$i/opt.bin")
        [ "$mode" = gae ] && [ "$i" -gt 0 ] && extra+=(--critic "$d/critic-v$i.bin")
        "$PPO" --policy "$d/policy-v$i.bin" --trajectories "$d/traj$i" --verdicts "$d/ver$i" --tokenizer "$T/tok.bpe" \
            --out "$d" --advantage "$mode" --quiet "${extra[@]}" "$@" 2> "$d/ppo$i.log" || { tail -3 "$d/ppo$i.log"; return 1; }
    done
}
hist() { python3 -c "import json,sys; print(' '.join('%.3f' % json.loads(l)['$2'] for l in open('$1/ppo-history.jsonl')))"; }

# ---- options -----------------------------------------------------------------------------------------
"$PPO" --help > "$T/help.txt"; rc=$?
check "--help exits 0 and names the advantage modes" bash -c "[ $rc = 0 ] && grep -q 'tree (node value' '$T/help.txt'"
"$PPO" --policy "$T/policy-v0.bin" --out "$T/x" 2> "$T/err"; rc=$?
check "missing --trajectories: exit 2, named, nothing created" bash -c "[ $rc = 2 ] && grep -q -- '--trajectories' '$T/err' && [ ! -e '$T/x' ]"
"$PPO" --policy "$T/policy-v0.bin" --trajectories "$T/t" --verdicts "$T/v" --tokenizer "$T/tok.bpe" --out "$T/x" --epochs 0 2> "$T/err"; rc=$?
check "--epochs 0: exit 2, named" bash -c "[ $rc = 2 ] && grep -q -- '--epochs' '$T/err' && [ ! -e '$T/x' ]"

# ---- learning ----------------------------------------------------------------------------------------
# The toy reward: the first response token in [100, 398) — about 1 in 6 leaves at the start.
# tree and group side by side (one thread each)
learn tree 10 100 398 --lr 3e-3 --epochs 2 & p_tree=$!
learn group 12 100 398 --lr 3e-3 --epochs 2 & p_group=$!
LEARN_DIR=$T/flat learn tree 10 100 398 --lr 3e-3 --epochs 2 --drop-flat & p_flat=$!
if wait $p_tree; then
    r=$(hist "$T/tree" reward); echo "tree rewards: $r"
    check "tree advantages: the reward rises from < 0.3 to > 0.8 in 10 iterations ($r)" \
        python3 -c "r=[float(x) for x in '$r'.split()]; assert r[0] < 0.3 and max(r[-3:]) > 0.8"
else bad "tree learning run failed"; fi
if wait $p_group; then
    r=$(hist "$T/group" reward); echo "group rewards: $r"
    check "group advantages (GRPO): the reward rises from < 0.3 to > 0.6 ($r)" \
        python3 -c "r=[float(x) for x in '$r'.split()]; assert r[0] < 0.3 and max(r[-4:]) > 0.6"
else bad "group learning run failed"; fi
if wait $p_flat; then
    r=$(hist "$T/flat" reward); echo "tree --drop-flat rewards: $r"
    check "tree advantages with --drop-flat learn too ($r)" \
        python3 -c "r=[float(x) for x in '$r'.split()]; assert r[0] < 0.3 and max(r[-3:]) > 0.8"
    check "--drop-flat: flat problems left out and counted, reward over every row" python3 -c "
import json
a = json.load(open('$T/tree/ppo-v1/report.json')); b = json.load(open('$T/flat/ppo-v1/report.json'))
assert b['dropped_flat'] > 0 and b['rows'] + b['dropped_flat'] == a['rows'] and a['dropped_flat'] == 0, (a['rows'], b)
assert abs(a['reward'] - b['reward']) < 1e-9 and abs(a['pass_rate'] - b['pass_rate']) < 1e-9"
else bad "tree --drop-flat learning run failed"; fi
"$PPO" --policy "$T/policy-v0.bin" --trajectories "$T/t" --verdicts "$T/v" --tokenizer "$T/tok.bpe" --out "$T/x" --advantage gae \
    --drop-flat 2> "$T/err"; rc=$?
check "--drop-flat with gae: exit 2, named" bash -c "[ $rc = 2 ] && grep -q -- '--drop-flat' '$T/err'"
# gae: two rewarded ids and answers of two tokens, so that a critic can learn the value of
# having produced one (the token is then the current input) as well as the prior before it
if ROLL_EXTRA="--max-new 2 --depth 0 --roots 8" learn gae 12 398 400 --lr 1e-3 --epochs 4 --minibatches 2 --critic-lr 2e-3 --lambda 1 --value-clip 0; then
    r=$(hist "$T/gae" reward); echo "gae rewards: $r"
    ev=$(for v in $(seq 1 12); do python3 -c "import json; print('%.3f' % json.load(open('$T/gae/ppo-v$v/report.json'))['explained_variance'])"; done | tr '\n' ' ')
    echo "gae explained variance: $ev"
    check "gae: the reward rises from < 0.3 to > 0.6 ($r)" \
        python3 -c "r=[float(x) for x in '$r'.split()]; assert r[0] < 0.3 and max(r[-3:]) > 0.6"
    check "gae: the critic's explained variance rises from ≤ 0.05 to > 0.2 ($ev)" \
        python3 -c "e=[float(x) for x in '$ev'.split()]; assert e[0] <= 0.05 and max(e) > 0.2"
else bad "gae learning run failed"; fi
check "the report has FLOPs per model and the forward:backward ratio" python3 -c "
import json; d=json.load(open('$T/gae/ppo-v3/report.json'))
assert d['flops']['ppo.policy']['bwd'] > 0 and d['flops']['ppo.reference']['bwd'] == 0 and d['flops']['ppo.critic']['fwd'] > 0
assert 0 < d['fwd_bwd_ratio'] < 10 and d['logp_identical_share'] == 1.0, d"
check "the report has the wall time of each phase, and the update's within the whole" python3 -c "
import json; d=json.load(open('$T/gae/ppo-v3/report.json')); p=d['phase_seconds']
assert set(p) == {'rows', 'models', 'precompute', 'update', 'save_state'} and min(p.values()) >= 0, p
assert p['precompute'] > 0 and p['update'] > 0 and d['update_seconds'] <= p['update'] + 1e-3 and p['update'] == d['seconds'], d"

# ---- rewards from a reward model: verdicts all fail, the ORM prefers [100, 398) --------------------------
mkdir -p "$T/orm"
cp "$T/policy-v0.bin" "$T/orm/"
orm_ok=1
for i in $(seq 0 7); do
    "$RO" --policy "$T/orm/policy-v$i.bin" --out "$T/orm/traj$i" --seed $((i + 1)) "${ROLL[@]}" 2> /dev/null &&
        "$TV" "$T/orm/traj$i" "$T/orm/ver$i" 0 0 "$T/orm/sc$i" 100 398 || { orm_ok=0; break; }
    extra=(); [ "$i" -gt 0 ] && extra=(--optimizer "$T/orm/ppo-v$i/opt.bin")
    "$PPO" --policy "$T/orm/policy-v$i.bin" --trajectories "$T/orm/traj$i" --verdicts "$T/orm/ver$i" --scores "$T/orm/sc$i" \
        --orm-weight 1 --tokenizer "$T/tok.bpe" --out "$T/orm" --lr 3e-3 --epochs 2 --quiet "${extra[@]}" 2> "$T/orm/ppo$i.log" ||
        { orm_ok=0; tail -2 "$T/orm/ppo$i.log"; break; }
done
if [ $orm_ok = 1 ]; then
    r=$(hist "$T/orm" reward); p=$(hist "$T/orm" pass_rate)
    check "ORM rewards drive learning with every verdict failing: reward $r" \
        python3 -c "r=[float(x) for x in '$r'.split()]; p=[float(x) for x in '$p'.split()]; assert r[0] < 0.3 and max(r[-3:]) > 0.7 and max(p) == 0"
else bad "ORM reward run failed"; fi
"$PPO" --policy "$T/policy-v0.bin" --trajectories "$T/orm/traj0" --verdicts "$T/orm/ver0" --scores "$T/orm/ver0" --orm-weight 1 \
    --tokenizer "$T/tok.bpe" --out "$T/orm/x" --quiet 2> "$T/orm/bad.log"; rc=$?
check "scores of the wrong kind are refused" bash -c "[ $rc != 0 ] && grep -q 'not scores' '$T/orm/bad.log'"
"$PPO" --policy "$T/policy-v0.bin" --trajectories "$T/orm/traj0" --verdicts "$T/orm/ver0" --orm-weight 1 \
    --tokenizer "$T/tok.bpe" --out "$T/orm/x" --quiet 2> "$T/orm/bad.log"; rc=$?
check "--orm-weight without --scores: exit 2" bash -c "[ $rc = 2 ] && grep -q 'need --scores' '$T/orm/bad.log'"

# ---- kill -9 and resume: bit-identical -------------------------------------------------------------------
mkdir -p "$T/ka" "$T/kb"
cp "$T/policy-v0.bin" "$T/ka/"; cp "$T/policy-v0.bin" "$T/kb/"
sample "$T/ka" 0 100 398; cp -r "$T/ka/traj0" "$T/ka/ver0" "$T/kb/"
KOPT=(--trajectories "$T/ka/traj0" --verdicts "$T/ka/ver0" --tokenizer "$T/tok.bpe" --advantage gae --epochs 10
      --minibatches 4 --ckpt-every 3 --lr 1e-3 --critic-lr 1e-3 --quiet)
"$PPO" --policy "$T/ka/policy-v0.bin" --out "$T/ka" "${KOPT[@]}" 2> "$T/ka.log"
"$PPO" --policy "$T/kb/policy-v0.bin" --out "$T/kb" "${KOPT[@]}" 2> "$T/kb1.log" &
pid=$!
for _ in $(seq 1 400); do ls "$T/kb/ppo-v1/"ckpt_*.bin > /dev/null 2>&1 && break; sleep 0.02; done
kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
killed_early=$([ -f "$T/kb/policy-v1.bin" ] && echo no || echo yes)
"$PPO" --policy "$T/kb/policy-v0.bin" --out "$T/kb" "${KOPT[@]}" 2> "$T/kb2.log"; rc=$?
check "killed mid-iteration ($killed_early), the rerun exits 0" test $rc = 0
check "... and publishes a policy bit-identical to the uninterrupted run's" cmp -s "$T/ka/policy-v1.bin" "$T/kb/policy-v1.bin"
check "... and a critic bit-identical too" cmp -s "$T/ka/critic-v1.bin" "$T/kb/critic-v1.bin"
"$PPO" --policy "$T/kb/policy-v0.bin" --out "$T/kb" "${KOPT[@]}" 2> "$T/kb3.log"; rc=$?
check "a finished iteration is not run again" bash -c "[ $rc = 0 ] && grep -q 'already published' '$T/kb3.log'"

# ---- two ranks against one --------------------------------------------------------------------------------
if command -v mpirun > /dev/null; then
    MPIRUN=(mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -x OMPI_MCA_btl_vader_single_copy_mechanism=none -x OMP_NUM_THREADS=1)
    mkdir -p "$T/r1" "$T/r2"
    cp "$T/policy-v0.bin" "$T/r1/"; cp "$T/policy-v0.bin" "$T/r2/"
    ROPT=(--trajectories "$T/ka/traj0" --verdicts "$T/ka/ver0" --tokenizer "$T/tok.bpe" --epochs 2 --minibatches 2 --lr 1e-3 --quiet)
    "$PPO" --policy "$T/r1/policy-v0.bin" --out "$T/r1" "${ROPT[@]}" 2> "$T/r1.log"
    "${MPIRUN[@]}" -np 2 "$PPO" --policy "$T/r2/policy-v0.bin" --out "$T/r2" "${ROPT[@]}" > "$T/r2.log" 2>&1; rc=$?
    check "mpirun -np 2 exits 0 and publishes" bash -c "[ $rc = 0 ] && [ -f '$T/r2/policy-v1.bin' ]"
    check "2 ranks: the same per-step losses as 1 rank at the same global batch (within 2e-3)" python3 -c "
import json
def steps(p): return [json.loads(l) for l in open(p) if '\"loss\"' in l and '\"epoch\"' in l]
a, b = steps('$T/r1/ppo-v1/log.jsonl'), steps('$T/r2/ppo-v1/log.jsonl')
assert len(a) == len(b) == 4, (len(a), len(b))
for x, y in zip(a, b): assert abs(x['loss'] - y['loss']) <= 2e-3 * max(1e-3, abs(x['loss'])) + 1e-6, (x['loss'], y['loss'])"
else
    bad "mpirun not found (tests/deps.sh installs OpenMPI)"
fi

# ---- staleness ------------------------------------------------------------------------------------------
S=(--trajectories "$T/ka/traj0" --verdicts "$T/ka/ver0" --tokenizer "$T/tok.bpe" --epochs 1 --minibatches 1 --quiet)
mkdir -p "$T/st"
"$PPO" --policy "$T/policy-v0.bin" --policy-version 3 --out "$T/st" --max-staleness 4 "${S[@]}" 2> "$T/st1.log"; rc=$?
check "trees 3 versions old are used (staleness 3 reported)" python3 -c "
import json; d=json.load(open('$T/st/ppo-v4/report.json')); assert $rc == 0 and d['staleness_mean'] == 3 and d['dropped_stale'] == 0, d"
"$PPO" --policy "$T/policy-v0.bin" --policy-version 9 --out "$T/st" --max-staleness 4 "${S[@]}" 2> "$T/st2.log"; rc=$?
check "trees beyond --max-staleness are dropped and counted; none left is an error" \
    bash -c "[ $rc != 0 ] && grep -q '16 dropped as older than --max-staleness 4' '$T/st2.log' && [ ! -e '$T/st/policy-v10.bin' ]"
"$RO" --policy "$T/policy-v0.bin" --policy-version 5 --out "$T/fut" "${ROLL[@]}" 2> /dev/null; "$TV" "$T/fut" "$T/futv" 100 398
"$PPO" --policy "$T/policy-v0.bin" --policy-version 2 --trajectories "$T/fut" --verdicts "$T/futv" --tokenizer "$T/tok.bpe" \
    --out "$T/st" --quiet 2> "$T/st3.log"; rc=$?
check "a tree from a future policy version is refused" bash -c "[ $rc != 0 ] && grep -q 'newer than the policy being trained' '$T/st3.log'"

# ---- bad inputs: clear message, nothing published -------------------------------------------------------------
mkdir -p "$T/bad"
"$PPO" --policy "$T/wrongvocab.bin" "${S[@]}" --out "$T/bad" 2> "$T/b1.log"; rc=$?
check "a policy of another vocabulary than the tokenizer is refused, naming both sizes" \
    bash -c "[ $rc != 0 ] && grep -q 'vocabulary of 405, the tokenizer' '$T/b1.log' && [ ! -e '$T/bad/policy-v1.bin' ]"
"$PPO" --policy "$T/policy-v0.bin" --trajectories "$T/ka/traj0" --verdicts "$T/futv" --tokenizer "$T/tok.bpe" --out "$T/bad" \
    --quiet 2> "$T/b2.log"; rc=$?
check "verdicts of other trees are refused" bash -c "[ $rc != 0 ] && grep -q 'no trajectory shard given holds' '$T/b2.log' && [ ! -e '$T/bad/policy-v1.bin' ]"
"$PPO" --policy "$T/policy-v0.bin" "${S[@]}" --out "$T/bad" --min-entropy 100 --stop-on-collapse 2> "$T/b3.log"; rc=$?
check "a collapse monitor with --stop-on-collapse: exit 3, a warning, nothing published" \
    bash -c "[ $rc = 3 ] && grep -q 'collapse monitor: entropy' '$T/b3.log' && [ ! -e '$T/bad/policy-v1.bin' ]"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
