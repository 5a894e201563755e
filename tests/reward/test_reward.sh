#!/usr/bin/env bash
# test_reward.sh — build/bin/reward on fixtures (tests/reward/rw_fixture.c: arithmetic trees whose
# verdicts come from the math verifier, and known scores), on the CPU:
#   - the command-line rules: --help/-h on stdout, usage errors exit 2 with one line and create nothing;
#   - label: one record per tree, values = passed / leaves, counts summing up the tree;
#   - train: kill -9 at random moments and --resume until done gives the uninterrupted run's
#     model.bin and losses bit for bit; SIGTERM checkpoints and exits 130; a second run into the
#     same --out is refused; 2 ranks under mpirun give 1 rank's losses and metrics;
#   - score: kill -9 and restart: every leaf scored exactly once, the same scores as one run;
#   - prune: the best K per problem by the rule, --passed-only, --order, and pretrain --sft trains on
#     the output;
#   - best-of: with the fixture's scores (ORM perfect, PRM-min reversed) ORM-best is the oracle and
#     PRM-min-best is below the first answer;
#   - bad inputs: mismatched trees and verdicts, another vocabulary, empty label shards, a language
#     model given as a reward model, an ORM given as a PRM: a clear message, exit 1, nothing written.
# Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
B=$(cd "${BUILD:-build}" && pwd)
R=$B/bin/reward
SH=$B/bin/shards
P=$B/bin/pretrain
FX=$B/tests/reward/rw_fixture
T=$(mktemp -d /tmp/reward_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
count() { "$SH" cat --quiet "$1" 2> /dev/null | wc -l; }
sorted() { "$SH" cat --quiet "$1" | sort; }
losses() { grep -o '"step": [0-9]*, "loss": [^,]*' "$1/log.jsonl"; }

"$FX" tokenizer "$T/tok.bpe" && "$FX" lm "$T/lm.bin" "$T/tok.bpe" 64 1 && "$FX" lm "$T/lm_v9.bin" "$T/tok.bpe" 64 1 9 &&
    "$FX" tasks "$T/a" "$T/tok.bpe" 40 3 2 5 train && "$FX" tasks "$T/b" "$T/tok.bpe" 24 8 0 6 heldout &&
    "$FX" tasks "$T/c" "$T/tok.bpe" 6 2 0 7 train
check "fixtures" test -f "$T/b/scores/CLOSED"
LEAVES_A=$(count "$T/a/verd")

# ---- the command-line rules -------------------------------------------------------------------------
for sub in label train score prune best-of; do
    "$R" $sub --help > "$T/h1" 2> "$T/h1.err"; rc1=$?
    "$R" $sub -h > "$T/h2" 2> /dev/null; rc2=$?
    "$R" help $sub > "$T/h3" 2> /dev/null
    check "$sub --help: exit 0, usage on stdout, nothing on stderr" bash -c "[ $rc1 = 0 ] && [ $rc2 = 0 ] && head -1 '$T/h1' | grep -q '^usage: reward $sub' && [ ! -s '$T/h1.err' ]"
    check "$sub: -h and help $sub print --help's text" bash -c "cmp -s '$T/h1' '$T/h2' && cmp -s '$T/h1' '$T/h3'"
    check "$sub --help lists --quiet" grep -q -- "--quiet" "$T/h1"
    (cd "$T" && "$R" $sub --out "$T/new" --no-such-option 1 > "$T/u.out" 2> "$T/u.err"); rc=$?
    check "$sub: an unknown option is a usage error (exit 2, one line naming it)" bash -c "[ $rc = 2 ] && [ ! -s '$T/u.out' ] && [ \$(wc -l < '$T/u.err') = 1 ] && grep -q \"^reward $sub: error: .*'--no-such-option'\" '$T/u.err'"
    check "$sub: ... and creates nothing" test ! -e "$T/new"
    "$R" $sub --out > /dev/null 2> "$T/u.err"; rc=$?
    check "$sub: a missing value is named" bash -c "[ $rc = 2 ] && grep -q -- '--out needs a value' '$T/u.err'"
done
"$R" > /dev/null 2> "$T/u.err"; rc=$?
check "no command: exit 2" bash -c "[ $rc = 2 ] && grep -q 'reward: error: no command given' '$T/u.err'"
"$R" help > "$T/h" 2>&1; rc=$?
check "reward help lists the commands" bash -c "[ $rc = 0 ] && grep -q '^  best-of ' '$T/h' && grep -q '^  label ' '$T/h'"
"$R" lbael 2> "$T/u.err"; rc=$?
check "a misspelt command: did you mean" bash -c "[ $rc = 2 ] && grep -q \"did you mean 'label'\" '$T/u.err'"
"$R" train --kind orm --labels x --init-from y --out "$T/new" --steps ten 2> "$T/u.err"; rc=$?
check "a bad number names the option and the value" bash -c "[ $rc = 2 ] && grep -q -- \"--steps needs a count like .*'ten'\" '$T/u.err'"
"$R" train --labels x --init-from y --out "$T/new" --steps 3 2> "$T/u.err"; rc=$?
check "train without --kind: exit 2" bash -c "[ $rc = 2 ] && grep -q -- '--kind orm|prm is required' '$T/u.err' && [ ! -e '$T/new' ]"
"$R" train --kind orm --labels x --init-from y --out "$T/new" --stpes 3 2> "$T/u.err"
check "a typo: did you mean" grep -q -- "did you mean --steps" "$T/u.err"

# ---- label ----------------------------------------------------------------------------------------------
"$R" label --trajectories "$T/a/traj" --verdicts "$T/a/verd" --out "$T/labels" 2> "$T/label.log"; rc=$?
check "label exits 0 ($(tail -n 1 "$T/label.log"))" test $rc = 0
check "one label record per tree" test "$(count "$T/labels")" = 40
check "labels are passed/leaves, summed up the tree, leaves carry the verdicts" python3 - "$SH" "$T/labels" "$T/a/verd" <<'EOF'
import json, subprocess, sys
sh, labels, verd = sys.argv[1:]
rows = [json.loads(l) for l in subprocess.run([sh, "cat", "--quiet", labels], capture_output=True, text=True).stdout.splitlines()]
v = {}
for l in subprocess.run([sh, "cat", "--quiet", verd], capture_output=True, text=True).stdout.splitlines():
    r = json.loads(l); v[(r["tree_id"], r["node"])] = r["outcome"]
n = 0
for t in rows:
    nodes = t["nodes"]
    for k, nd in enumerate(nodes):
        kids = [c for c in nodes if c["parent"] == k]
        if nd["leaf"]:
            assert not kids and nd["leaves"] == 1 and nd["outcome"] == v[(t["tree_id"], k)], (k, nd)
            assert nd["passed"] == (nd["outcome"] == "pass")
            n += 1
        else:
            assert kids and nd["leaves"] == sum(c["leaves"] for c in kids) and nd["passed"] == sum(c["passed"] for c in kids)
        assert abs(nd["value"] - nd["passed"] / nd["leaves"]) < 1e-7 and nd["hard"] == (nd["value"] > 0)
assert n == len(v), (n, len(v))
EOF
"$R" label --trajectories "$T/a/traj" --verdicts "$T/a/verd" --out "$T/labels" 2> "$T/e.log"; rc=$?
check "label refuses an --out that holds shards" bash -c "[ $rc = 1 ] && grep -q 'already holds' '$T/e.log'"

# ---- train: kill -9 and --resume, bit for bit -------------------------------------------------------------
TR=(--kind prm --labels "$T/labels" --steps 120 --micro-batch 4 --batch-rows 8 --lr 1e-3
    --warmup 5 --eval-every 40 --val-fraction 0.25 --ckpt-every 7 --keep 2 --backend cpu --tokenizer "$T/tok.bpe")
"$R" train "${TR[@]}" --init-from "$T/lm.bin" --out "$T/ref" 2> "$T/ref.log"; rc=$?
check "train exits 0 ($(tail -n 1 "$T/ref.log"))" test $rc = 0
check "the config echo and a progress line" bash -c "grep -q '^  kind  *prm' '$T/ref.log' && grep -q '^step  *120/120 | loss' '$T/ref.log'"
check "log.jsonl has FLOPs per step summing to flops_total, and validation metrics" python3 - "$T/ref/log.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
steps = [r for r in recs if "loss" in r]
end = [r for r in recs if r.get("event") == "end"][0]
assert len(steps) == 120 and all(r["flops"] > 0 for r in steps)
assert abs(sum(r["flops"] for r in steps) - end["flops_total"]) <= 1e-6 * end["flops_total"]
vals = [r for r in recs if "val_loss" in r]
assert [r["step"] for r in vals] == [0, 40, 80, 120] and all("val_first_error_acc" in r for r in vals), vals
c = [r for r in recs if r.get("event") == "counters"][-1]["counts"]
assert c["reward.prm"]["bwd"]["matmul"]["flops"] > 0 and c["reward.eval"]["fwd"]["matmul"]["flops"] > 0
EOF
kills=0
for attempt in $(seq 1 12); do
    start=(--init-from "$T/lm.bin")
    ls "$T/k"/ckpt_*.bin > /dev/null 2>&1 && start=(--resume)
    have=$(ls "$T/k"/ckpt_*.bin 2> /dev/null | wc -l)
    "$R" train "${TR[@]}" --out "$T/k" "${start[@]}" 2>> "$T/k.log" &
    pid=$!
    # kill -9 once this attempt has written a new checkpoint (so every attempt makes progress),
    # at a moment that varies from attempt to attempt
    for _ in $(seq 1 500); do
        [ "$(ls "$T/k"/ckpt_*.bin 2> /dev/null | wc -l)" -gt "$have" ] && break
        kill -0 $pid 2> /dev/null || break
        sleep 0.01
    done
    sleep "0.0$((RANDOM % 5))"
    if kill -9 $pid 2> /dev/null; then kills=$((kills + 1)); fi
    wait $pid 2> /dev/null
    [ -f "$T/k/model.bin" ] && break
done
[ -f "$T/k/model.bin" ] || "$R" train "${TR[@]}" --out "$T/k" --resume --quiet 2>> "$T/k.log"
echo "train kill test: $kills kills"
check "killed $kills times, resumed: model.bin bit-identical to the uninterrupted run" cmp -s "$T/ref/model.bin" "$T/k/model.bin"
check "... and every step's loss the same" cmp -s <(losses "$T/ref") <(losses "$T/k")
check "the kill test did kill" test "$kills" -gt 0
check "... and runs resumed from checkpoints" grep -q "resumed from .*ckpt_" "$T/k.log"
"$R" train "${TR[@]}" --init-from "$T/lm.bin" --out "$T/k" 2> "$T/e.log"; rc=$?
check "a new run into a directory with checkpoints is refused" bash -c "[ $rc = 1 ] && grep -q 'already holds checkpoints' '$T/e.log'"
"$R" train "${TR[@]}" --out "$T/k" --resume --kind orm 2> "$T/e.log"; rc=$?
check "--resume with another --kind is refused" bash -c "[ $rc = 2 ] && grep -q -- 'kind' '$T/e.log'"
"$R" train "${TR[@]}" --init-from "$T/lm.bin" --steps 100000 --out "$T/sig" --quiet 2> "$T/sig.log" &
pid=$!
for i in $(seq 1 100); do grep -q '"step": 3,' "$T/sig/log.jsonl" 2> /dev/null && break; sleep 0.05; done
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM: a checkpoint, exit 130" bash -c "[ $rc = 130 ] && ls '$T/sig'/ckpt_*.bin > /dev/null && grep -q 'interrupted by a signal' '$T/sig.log'"
if command -v mpirun > /dev/null; then
    MPIRUN=(mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -x OMPI_MCA_btl_vader_single_copy_mechanism=none
            -x OMP_NUM_THREADS -x OMP_WAIT_POLICY)
    D2=(--kind orm --labels "$T/labels" --init-from "$T/lm.bin" --steps 12 --micro-batch 4 --batch-rows 8 --lr 1e-3
        --eval-every 6 --val-fraction 0.25 --backend cpu --quiet)
    "$R" train "${D2[@]}" --out "$T/r1" 2> /dev/null
    "${MPIRUN[@]}" -np 2 "$R" train "${D2[@]}" --out "$T/r2" > "$T/r2.log" 2>&1; rc=$?
    check "2 ranks under mpirun: the losses and validation metrics of 1 rank (to rounding)" python3 - "$T/r1/log.jsonl" "$T/r2/log.jsonl" $rc <<'EOF'
import json, sys
assert sys.argv[3] == "0"
a, b = ([json.loads(l) for l in open(f)] for f in sys.argv[1:3])
la, lb = ([r["loss"] for r in x if "loss" in r] for x in (a, b))
va, vb = ([r["val_auc"] for r in x if "val_auc" in r] for x in (a, b))
assert len(la) == len(lb) == 12 and all(abs(x - y) <= 1e-5 * abs(x) for x, y in zip(la, lb)), (la, lb)
assert len(va) == len(vb) == 3 and all(abs(x - y) < 1e-6 for x, y in zip(va, vb)), (va, vb)
assert [r for r in b if r.get("event") == "config"][0]["world"] == 2
EOF
else
    bad "mpirun not found: install OpenMPI (tests/deps.sh does)"
fi
"$R" train --kind orm --labels "$T/labels" --init-from "$T/lm.bin" --steps 30 --micro-batch 8 --lr 1e-3 --eval-every 0 \
    --train-layers 1 --backend cpu --out "$T/orm" --quiet 2> "$T/orm.log"
check "an ORM with only the top layer trained" test -f "$T/orm/model.bin"

# ---- score: kill -9 and restart, exactly once -------------------------------------------------------------
SC=(--trajectories "$T/a/traj" --orm "$T/orm/model.bin" --prm "$T/ref/model.bin" --tokenizer "$T/tok.bpe" --backend cpu --batch 4)
t_ref=$(date +%s%N)
"$R" score "${SC[@]}" --out "$T/s_ref" --commit-records 1 2> "$T/s.log"; rc=$?
ms=$(( ($(date +%s%N) - t_ref) / 1000000 + 1 ))
check "score exits 0 ($(tail -n 1 "$T/s.log"))" test $rc = 0
check "one score per leaf ($LEAVES_A)" test "$(count "$T/s_ref")" = "$LEAVES_A"
check "scores carry ORM and PRM, min and product consistent" python3 - "$SH" "$T/s_ref" "$T/s_ref/score.stats.json" <<'EOF'
import json, math, subprocess, sys
rows = [json.loads(l) for l in subprocess.run([sys.argv[1], "cat", "--quiet", sys.argv[2]], capture_output=True, text=True).stdout.splitlines()]
for r in rows:
    assert r["has_orm"] and r["has_prm"] and 0 < r["orm"] < 1 and len(r["prm"]) >= 1 and r["tree_id"] != 0
    assert abs(r["prm_min"] - min(r["prm"])) < 1e-7 and abs(r["prm_prod"] - math.prod(r["prm"])) < 1e-6
s = json.load(open(sys.argv[3]))
assert s["leaves"] == len(rows) and s["tok_per_s"] > 0 and s["orm"]["tokens"] > 0
EOF
kills=0
for attempt in $(seq 1 30); do
    "$R" score "${SC[@]}" --out "$T/s_k" --commit-records 1 2>> "$T/sk.log" &
    pid=$!
    # a moment within the run (the reference committed as often)
    sleep "$(awk -v m=$ms -v r=$RANDOM 'BEGIN { printf "%.3f", (0.1 + 0.6 * r / 32768) * m / 1000 }')"
    if kill -9 $pid 2> /dev/null; then kills=$((kills + 1)); fi
    wait $pid 2> /dev/null
    if [ -f "$T/s_k/CLOSED" ]; then
        [ $kills -ge 3 ] && grep -q "resuming after commit [1-9]" "$T/sk.log" && break
        rm -rf "$T/s_k" "$T/sk.log"; kills=0  # it finished too soon to test much: again, from nothing
    fi
done
[ -f "$T/s_k/CLOSED" ] || "$R" score "${SC[@]}" --out "$T/s_k" 2>> "$T/sk.log"
echo "score kill test: $kills kills (an uninterrupted run takes $ms ms)"
check "killed $kills times: every leaf once, the scores of one run" cmp -s <(sorted "$T/s_ref") <(sorted "$T/s_k")
check "... restarts resumed after commits" grep -q "resuming after commit [1-9]" "$T/sk.log"
"$R" score "${SC[@]}" --orm "$T/ref/model.bin" --prm "$T/ref/model.bin" --out "$T/s_k" 2> "$T/e.log"; rc=$?
check "an ORM given as --orm that is a PRM is refused" bash -c "[ $rc = 1 ] && grep -q 'is a PRM' '$T/e.log'"
"$R" score --trajectories "$T/a/traj" --orm "$T/orm/model.bin" --backend cpu --out "$T/s_k" 2> "$T/e.log"; rc=$?
check "a restart with other models is refused" bash -c "[ $rc = 1 ] && grep -q 'other models' '$T/e.log'"

# ---- prune ------------------------------------------------------------------------------------------------
PR=(--trajectories "$T/a/traj" --verdicts "$T/a/verd" --scores "$T/a/scores" --problems "$T/a/problems" --tokenizer "$T/tok.bpe")
"$R" prune "${PR[@]}" --keep 2 --out "$T/p" 2> "$T/p.log"; rc=$?
check "prune exits 0 ($(tail -n 1 "$T/p.log"))" test $rc = 0
check "pruned problems: at most 2 per problem, passes first, text in the task format" python3 - "$SH" "$T" <<'EOF'
import json, subprocess, sys, collections
sh, T = sys.argv[1:]
cat = lambda d: [json.loads(l) for l in subprocess.run([sh, "cat", "--quiet", d], capture_output=True, text=True).stdout.splitlines()]
out, probs = cat(T + "/p"), {p["id"]: p for p in cat(T + "/a/problems")}
by = collections.defaultdict(list)
for p in out:
    by[(p["prompt"], p["answer"])].append(p)
    assert p["split"] == "train" and p["solution"].startswith("<|step|>") and "<|answer|>" in p["solution"]
    assert not p["solution"].endswith("<|endoftext|>")
assert len(by) == 40 and all(len(v) <= 2 for v in by.values()), len(by)
def ok(p):
    ans = p["solution"].split("<|answer|>")[1].strip()
    return int(ans) == int(p["answer"])
# a problem with a passing leaf keeps one first (verdict is the first key); the ORM breaks ties
# among passes (the fixture's ORM is the verdict itself), and the order is kept in the file
npass = sum(1 for v in by.values() if ok(v[0]))
assert npass >= 25, npass
for v in by.values():
    assert not (len(v) == 2 and ok(v[1]) and not ok(v[0]))
EOF
"$R" prune "${PR[@]}" --keep 3 --passed-only --out "$T/p2" --quiet 2> /dev/null
check "--passed-only keeps only verified solutions" python3 -c "
import json,subprocess
r=[json.loads(l) for l in subprocess.run(['$SH','cat','--quiet','$T/p2'],capture_output=True,text=True).stdout.splitlines()]
assert r and all(int(p['solution'].split('<|answer|>')[1].strip())==int(p['answer']) for p in r), len(r)"
"$R" prune "${PR[@]}" --keep 1 --order prm-min --out "$T/p3" --quiet 2> /dev/null
check "--order prm-min (the fixture's PRM prefers failures) keeps failures first" python3 -c "
import json,subprocess
r=[json.loads(l) for l in subprocess.run(['$SH','cat','--quiet','$T/p3'],capture_output=True,text=True).stdout.splitlines()]
bad=sum(int(p['solution'].split('<|answer|>')[1].strip())!=int(p['answer']) for p in r)
assert len(r)==40 and bad>=35, (len(r),bad)"
"$R" prune "${PR[@]}" --order orm --out "$T/p4" --split heldout --quiet 2> "$T/e.log"
check "--split heldout on train problems keeps nothing" test "$(count "$T/p4")" = 0
"$R" prune --trajectories "$T/a/traj" --verdicts "$T/a/verd" --problems "$T/a/problems" --tokenizer "$T/tok.bpe" \
    --out "$T/p5" 2> "$T/e.log"; rc=$?
check "the orm key without --scores is a usage error" bash -c "[ $rc = 2 ] && grep -q 'needs --scores' '$T/e.log' && [ ! -e '$T/p5' ]"
"$P" --sft --problems "$T/p" --tokenizer "$T/tok.bpe" --init-from "$T/lm.bin" --seq-len 64 --micro-batch 4 --steps 3 \
    --eval-every 0 --backend cpu --out "$T/sft" > "$T/sft.log" 2>&1; rc=$?
check "pretrain --sft trains on the pruned problems ($(tail -n 1 "$T/sft.log"))" bash -c "[ $rc = 0 ] && [ -f '$T/sft/model.bin' ]"

# ---- best-of ---------------------------------------------------------------------------------------------------
BO=(--trajectories "$T/b/traj" --verdicts "$T/b/verd" --scores "$T/b/scores" --problems "$T/b/problems" --tokenizer "$T/tok.bpe")
"$R" best-of "${BO[@]}" --subsets 50 --out "$T/bo" > "$T/bo.txt" 2> "$T/bo.log"; rc=$?
check "best-of exits 0 ($(tail -n 1 "$T/bo.log"))" test $rc = 0
check "the table: N = 1, 2, 4, 8 and every column" bash -c "grep -q 'first  majority       ORM   PRM-min  PRM-prod    oracle' '$T/bo.txt' && [ \$(grep -cE '^ +(1|2|4|8) ' '$T/bo.txt') = 4 ]"
check "the table and the plot written" bash -c "cmp -s '$T/bo.txt' '$T/bo/bestof.txt' && grep -q '<svg' '$T/bo/bestof.svg' && grep -q 'PRM-min' '$T/bo/bestof.svg'"
check "ORM-best (a perfect ORM) is the oracle; a reversed PRM is worst; all equal at N=1; majority >= first at 8" python3 - "$T/bo/bestof.json" <<'EOF'
import json, sys
b = json.load(open(sys.argv[1]))
assert b["n"] == [1, 2, 4, 8] and b["problems"] == 24 and b["subsets"] == 50, b
assert b["orm"] == b["oracle"], (b["orm"], b["oracle"])
assert all(b["prm_min"][i] <= b["first"][i] + 1e-9 for i in range(4)) and b["prm_min"][3] < b["first"][3]
assert len({round(b[k][0], 6) for k in ("first", "orm", "prm_min", "prm_prod", "oracle")}) == 1
assert b["oracle"][3] > b["oracle"][0] and b["majority"][3] >= b["first"][3] - 0.02, b
EOF
"$R" best-of --trajectories "$T/b/traj" --verdicts "$T/b/verd" --problems "$T/b/problems" --tokenizer "$T/tok.bpe" \
    --out "$T/bo2" --max-n 4 --quiet > "$T/bo2.txt" 2> /dev/null
check "without scores: first, majority, oracle only, up to --max-n" bash -c "grep -q 'first  majority    oracle' '$T/bo2.txt' && ! grep -qE '^ +8 ' '$T/bo2.txt'"

# ---- bad inputs: a clear message, exit 1, nothing written ----------------------------------------------------
"$R" label --trajectories "$T/a/traj" --verdicts "$T/b/verd" --out "$T/x1" 2> "$T/e.log"; rc=$?
check "trees and verdicts that do not match" bash -c "[ $rc = 1 ] && grep -q 'which no trajectory shard given holds' '$T/e.log' && [ ! -e '$T/x1' ]"
"$R" label --trajectories "$T/a/traj" --verdicts "$T/c/verd" --out "$T/x1" 2> "$T/e.log"; rc=$?
check "... also named when only some do not" bash -c "[ $rc = 1 ] && grep -qE 'names tree|has no verdict' '$T/e.log' && [ ! -e '$T/x1' ]"
"$R" train --kind orm --labels "$T/labels" --init-from "$T/lm_v9.bin" --steps 2 --eval-every 0 --backend cpu --out "$T/x2" \
    --tokenizer "$T/tok.bpe" 2> "$T/e.log"; rc=$?
check "a base model of another vocabulary than the tokenizer" bash -c "[ $rc = 1 ] && grep -q 'vocabulary of 273 tokens but tokenizer .* has 264' '$T/e.log' && [ ! -e '$T/x2' ]"
mkdir -p "$T/empty"
"$FX" tasks "$T/e0" "$T/tok.bpe" 0 1 0 1 train
"$R" label --trajectories "$T/e0/traj" --verdicts "$T/e0/verd" --out "$T/x3" 2> "$T/e.log"; rc=$?
check "no trees: a message" bash -c "[ $rc = 1 ] && grep -q 'holds no trajectory trees' '$T/e.log' && [ ! -e '$T/x3' ]"
"$R" score --trajectories "$T/e0/traj" --orm "$T/orm/model.bin" --backend cpu --out "$T/x3" 2> "$T/e.log"; rc=$?
check "score: a closed input without trees" bash -c "[ $rc = 1 ] && grep -q 'no trajectory trees' '$T/e.log' && [ ! -e '$T/x3' ]"
"$R" train --kind orm --labels "$T/empty" --init-from "$T/lm.bin" --steps 2 --eval-every 0 --backend cpu --out "$T/x4" 2> "$T/e.log"; rc=$?
check "empty label directory: a message" bash -c "[ $rc = 1 ] && grep -q 'is not closed' '$T/e.log' && [ ! -e '$T/x4' ]"
"$R" score --trajectories "$T/a/traj" --orm "$T/lm.bin" --backend cpu --out "$T/x5" 2> "$T/e.log"; rc=$?
check "a language model given to score" bash -c "[ $rc = 1 ] && grep -q 'not a reward model' '$T/e.log' && [ ! -e '$T/x5' ]"
"$R" score --trajectories "$T/a/traj" --prm "$T/orm/model.bin" --backend cpu --out "$T/x5" 2> "$T/e.log"; rc=$?
check "an ORM given as --prm" bash -c "[ $rc = 1 ] && grep -q 'is an ORM' '$T/e.log' && [ ! -e '$T/x5' ]"
"$R" train --kind orm --labels "$T/labels" --init-from "$T/lm_v9.bin" --steps 2 --eval-every 0 --backend cpu --out "$T/orm9" \
    --quiet 2> /dev/null
"$R" score --trajectories "$T/a/traj" --orm "$T/orm9/model.bin" --tokenizer "$T/tok.bpe" --backend cpu --out "$T/x6" 2> "$T/e.log"; rc=$?
check "score: a reward model of another vocabulary than the tokenizer" bash -c "[ $rc = 1 ] && grep -q 'vocabulary of 273 tokens but tokenizer .* has 264' '$T/e.log' && [ ! -e '$T/x6' ]"
"$FX" lm "$T/lm_small.bin" "$T/tok.bpe" 64 1 -40
"$R" train --kind orm --labels "$T/labels" --init-from "$T/lm_small.bin" --steps 2 --eval-every 0 --backend cpu --out "$T/x9" 2> "$T/e.log"; rc=$?
check "train: token ids outside the base model's vocabulary" bash -c "[ $rc = 1 ] && grep -q 'outside the vocabulary of 224 tokens' '$T/e.log' && [ ! -e '$T/x9' ]"
"$R" best-of "${BO[@]}" --trajectories "$T/a/traj" --out "$T/x7" 2> "$T/e.log"; rc=$?
check "best-of: scores of other trees" bash -c "[ $rc = 1 ] && grep -q 'no trajectory shard given holds\|has no score\|no verdict\|names tree' '$T/e.log' && [ ! -e '$T/x7' ]"
"$R" best-of "${BO[@]}" --max-n 64 --out "$T/x8" 2> "$T/e.log"; rc=$?
check "best-of: --max-n above every problem's candidates" bash -c "[ $rc = 1 ] && grep -q 'max-n 64' '$T/e.log' && [ ! -e '$T/x8' ]"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
