#!/usr/bin/env bash
# test_cli.sh — the reward stage in a whole pipeline of the real binaries, on the CPU, at sizes
# that run in seconds: verify corpus / gen, shards train-tokenizer / tokenize, pretrain (a tiny
# model), rollout --roots 4 --fork 2 --depth 1, verify run, reward label, reward train --kind orm
# and --kind prm, rollout --depth 0 on held-out problems, verify run, reward score, reward best-of,
# reward prune and pretrain --sft on what it keeps; then tests/reward/device_reward.sh at toy sizes
# (DEVICE_SMOKE=1) on the same model, so the device script is known to run. Ends with
# "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
R=$B/bin/reward P=$B/bin/pretrain RO=$B/bin/rollout V=$B/bin/verify SH=$B/bin/shards
W=$(mktemp -d /tmp/reward_cli.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
count() { "$SH" cat --quiet "$1" 2> /dev/null | wc -l; }
if [ ! -x "$V" ]; then
    echo "build/bin/verify is not built (no <seccomp.h>): the pipeline test needs it"
    echo "0 passed, 1 failed"
    exit 1
fi
t0=$(date +%s)

# ---- data and a tiny language model -------------------------------------------------------------------
$V corpus --out "$W/corpus.txt" --kinds arith,linear --difficulty 1 --count 3000 --quiet 2> /dev/null &&
    $V gen --out "$W/train" --kinds arith,linear --difficulty 1 --count 24 --split train --seed 3 --quiet 2> /dev/null &&
    $V gen --out "$W/heldout" --kinds arith,linear --difficulty 1 --count 10 --split heldout --quiet 2> /dev/null &&
    $SH train-tokenizer --vocab-size 290 --out "$W/tok.bpe" "$W/corpus.txt" > /dev/null 2>&1 &&
    $SH tokenize --tokenizer "$W/tok.bpe" --out "$W/tokens" "$W/corpus.txt" > /dev/null 2>&1
check "corpus, problems, tokenizer, token shards" test -f "$W/tokens/CLOSED"
$P --data "$W/tokens" --tokenizer "$W/tok.bpe" --layers 2 --channels 64 --heads 4 --seq-len 64 --context 128 --micro-batch 16 \
    --steps 80 --lr 3e-3 --warmup 5 --eval-every 0 --ckpt-every 0 --backend cpu --out "$W/lm" > "$W/lm.log" 2>&1
check "pretrain: a tiny model ($(tail -n 1 "$W/lm.log" | cut -c1-80))" test -f "$W/lm/model.bin"
echo "data and model: $(( $(date +%s) - t0 )) s"

# ---- trees, verdicts, labels ------------------------------------------------------------------------------
GEN=(--policy "$W/lm/model.bin" --tokenizer "$W/tok.bpe" --max-new 48 --temperature 0.7 --kv-budget 64M --backend cpu --progress 1000)
$RO "${GEN[@]}" --problems "$W/train" --out "$W/trees" --roots 4 --fork 2 --depth 1 2> "$W/ro.log"
check "rollout --roots 4 --fork 2 --depth 1: 24 trees" test "$(count "$W/trees")" = 24
$V run --problems "$W/train" --trajectories "$W/trees" --out "$W/verdicts" --tokenizer "$W/tok.bpe" 2> "$W/vr.log"
leaves=$(count "$W/verdicts")
check "verify run: a verdict per leaf ($(tail -n 1 "$W/vr.log" | cut -c1-100))" test "$leaves" -gt 24
$R label --trajectories "$W/trees" --verdicts "$W/verdicts" --out "$W/labels" 2> "$W/label.log"; rc=$?
check "reward label ($(tail -n 1 "$W/label.log" | cut -c1-120))" bash -c "[ $rc = 0 ] && [ \$('$SH' cat --quiet '$W/labels' | wc -l) = 24 ]"
check "the trees forked: inner nodes with leaves below them" bash -c "'$SH' cat --quiet '$W/labels' | grep -q '\"leaf\":false,\"outcome\":null,\"leaves\":2'"

# ---- ORM and PRM --------------------------------------------------------------------------------------------
for kind in orm prm; do
    $R train --kind $kind --labels "$W/labels" --init-from "$W/lm/model.bin" --tokenizer "$W/tok.bpe" --steps 16 --micro-batch 8 \
        --lr 1e-3 --warmup 2 --eval-every 8 --val-fraction 0.25 --backend cpu --out "$W/$kind" 2> "$W/$kind.log"; rc=$?
    check "reward train --kind $kind ($(tail -n 1 "$W/$kind.log" | cut -c1-100))" bash -c "[ $rc = 0 ] && [ -f '$W/$kind/model.bin' ]"
    check "$kind: validation metrics at steps 0, 8, 16 in the log" bash -c "[ \$(grep -c '\"val_auc\"' '$W/$kind/log.jsonl') = 3 ]"
done
check "prm: first-error accuracy logged" grep -q '"val_first_error_acc"' "$W/prm/log.jsonl"

# ---- held-out samples, scores, best-of --------------------------------------------------------------------------
$RO "${GEN[@]}" --problems "$W/heldout" --out "$W/samples" --roots 8 --depth 0 2> "$W/ro2.log"
$V run --problems "$W/heldout" --trajectories "$W/samples" --out "$W/sample_verdicts" --tokenizer "$W/tok.bpe" 2> /dev/null
check "8 answers to each of 10 held-out problems, verified" test "$(count "$W/sample_verdicts")" = 80
$R score --trajectories "$W/samples" --out "$W/scores" --orm "$W/orm/model.bin" --prm "$W/prm/model.bin" --tokenizer "$W/tok.bpe" \
    --backend cpu 2> "$W/score.log"; rc=$?
check "reward score: a score per answer" bash -c "[ $rc = 0 ] && [ \$('$SH' cat --quiet '$W/scores' | wc -l) = 80 ] && [ -f '$W/scores/CLOSED' ]"
$R best-of --trajectories "$W/samples" --verdicts "$W/sample_verdicts" --scores "$W/scores" --problems "$W/heldout" \
    --tokenizer "$W/tok.bpe" --subsets 30 --out "$W/bestof" > "$W/bestof.txt" 2> "$W/bestof.log"; rc=$?
cat "$W/bestof.txt"
check "reward best-of: a row per N = 1, 2, 4, 8" bash -c "[ $rc = 0 ] && [ \$(grep -cE '^ +(1|2|4|8) ' '$W/bestof.txt') = 4 ]"
check "best-of JSON: oracle >= every rule, all equal at N = 1" python3 - "$W/bestof/bestof.json" <<'EOF'
import json, sys
b = json.load(open(sys.argv[1]))
assert b["problems"] == 10 and b["n"] == [1, 2, 4, 8]
for k in ("first", "majority", "orm", "prm_min", "prm_prod"):
    assert all(b[k][i] <= b["oracle"][i] + 1e-9 for i in range(4)), k
assert len({round(b[k][0], 6) for k in ("first", "orm", "prm_min", "prm_prod", "oracle")}) == 1
EOF

# ---- prune, then SFT on what it keeps -------------------------------------------------------------------------------
$R score --trajectories "$W/trees" --out "$W/tree_scores" --orm "$W/orm/model.bin" --prm "$W/prm/model.bin" --backend cpu --quiet
$R prune --trajectories "$W/trees" --verdicts "$W/verdicts" --scores "$W/tree_scores" --problems "$W/train" --tokenizer "$W/tok.bpe" \
    --keep 2 --out "$W/pruned" 2> "$W/prune.log"; rc=$?
check "reward prune ($(tail -n 1 "$W/prune.log" | cut -c1-120))" bash -c "[ $rc = 0 ] && [ \$('$SH' cat --quiet '$W/pruned' | wc -l) -ge 24 ]"
$P --sft --problems "$W/pruned" --tokenizer "$W/tok.bpe" --init-from "$W/lm/model.bin" --seq-len 128 --micro-batch 4 --steps 3 \
    --eval-every 0 --backend cpu --out "$W/sft" > "$W/sft.log" 2>&1; rc=$?
check "pretrain --sft on the pruned trajectories" bash -c "[ $rc = 0 ] && [ -f '$W/sft/model.bin' ]"
echo "pipeline: $(( $(date +%s) - t0 )) s"

# ---- the device script at toy sizes --------------------------------------------------------------------------------
BUILD=$B DEVICE_SMOKE=1 MODEL="$W/lm/model.bin" TOKENIZER="$W/tok.bpe" HELDOUT="$W/heldout" TRAIN_PROBLEMS="$W/train" \
    WORK="$W/device" bash tests/reward/device_reward.sh > "$W/device.log" 2>&1; rc=$?
tail -n 14 "$W/device.log"
check "device_reward.sh at toy sizes exits 0" test $rc = 0
check "... prints the best-of table, the bars and both throughputs" bash -c "grep -q 'first  majority       ORM   PRM-min  PRM-prod    oracle' '$W/device.log' &&
    grep -q 'N=16: not measured' '$W/device.log' && grep -q 'rollout generation: [0-9]* new tok/s' '$W/device.log' &&
    grep -q 'PRM scoring, forward only: [0-9]* tok/s' '$W/device.log'"
echo "total: $(( $(date +%s) - t0 )) s"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
