#!/usr/bin/env bash
# build/bin/pretrain end to end on the CPU backend, on a tiny generated corpus:
#   - the loss falls by a set margin within a bounded time;
#   - kill -9 mid-run, then --resume: every loss, validation loss, sample and the final
#     weights are bit-identical to an uninterrupted run;
#   - a checkpoint save killed at every one of its file operations (LD_PRELOAD fault
#     injector) leaves the previous checkpoint loadable, and resuming from it ends bit-identical;
#   - bad or inconsistent flags are rejected before any work, with the right message;
#   - 2 ranks under mpirun (MPI collectives, ZeRO-1) match 1 rank within tolerance, and a
#     2-rank checkpoint resumes on 1 rank (and the other way round);
#   - SFT on problem shards trains; generate writes a candidate file verify check reads; plot
#     writes an SVG.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
P=$BUILD/bin/pretrain
SH=$BUILD/bin/shards
V=$BUILD/bin/verify
FAULT=$BUILD/tests/pretrain/libfault.so
W=$(mktemp -d /tmp/berry_pretrain.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

# losses of a run log, one "step loss" per line (full precision, as logged)
losses() { grep -o '"step": [0-9]*, "loss": [^,]*' "$1/log.jsonl" | sed 's/"step": //; s/, "loss": / /'; }
vals() { grep -o '"step": [0-9]*, "val_loss": [^,}]*' "$1/log.jsonl" | sed 's/"step": //; s/, "val_loss": / /'; }
samples() { grep '"sample"' "$1/log.jsonl"; }

# ---- data: a tiny arithmetic corpus, its tokenizer and token shards ------------------------------
awk 'BEGIN { srand(11); for (i = 0; i < 2500; i++) { a = int(rand() * 60); b = int(rand() * 60);
      printf "Compute %d + %d.\n<|step|>%d + %d = %d\n<|answer|>%d\n<|endoftext|>", a, b, a, b, a + b, a + b } }' \
    > "$W/corpus.txt"
$SH train-tokenizer --vocab-size 266 --out "$W/tok.bpe" "$W/corpus.txt" > "$W/setup.log" 2>&1 &&
    $SH tokenize --tokenizer "$W/tok.bpe" --out "$W/tokens" --record-tokens 4096 --shard-records 4 "$W/corpus.txt" \
        >> "$W/setup.log" 2>&1
check "corpus, tokenizer and token shards" test -f "$W/tokens/CLOSED"

TINY=(--data "$W/tokens" --tokenizer "$W/tok.bpe" --layers 2 --channels 64 --heads 4 --seq-len 64 --backend cpu)

# ---- the loss falls ------------------------------------------------------------------------------
start=$(date +%s)
timeout 180 $P "${TINY[@]}" --context 128 --micro-batch 8 --steps 60 --lr 3e-3 --warmup 5 --eval-every 30 \
    --ckpt-every 0 --out "$W/fall" > "$W/fall.log" 2>&1
rc=$?; secs=$(( $(date +%s) - start ))
first=$(vals "$W/fall" | head -1 | cut -d' ' -f2); last=$(vals "$W/fall" | tail -1 | cut -d' ' -f2)
check "a 60-step run finishes in bounded time ($secs s, exit $rc)" test "$rc" = 0
check "validation loss falls by more than 2.5 nats ($first -> $last)" \
    awk -v a="${first:-0}" -v b="${last:-99}" 'BEGIN { exit !(a - b > 2.5) }'
check "train loss at the end below 2.5 ($(losses "$W/fall" | tail -1))" \
    awk -v l="$(losses "$W/fall" | tail -1 | cut -d' ' -f2)" 'BEGIN { exit !(l != "" && l < 2.5) }'
check "run log has per-step FLOPs summing to flops_total" python3 - "$W/fall/log.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
steps = [r for r in recs if "loss" in r]
tot = sum(r["flops"] for r in steps)
end = [r for r in recs if r.get("event") == "end"][0]
assert len(steps) == 60 and abs(tot - end["flops_total"]) <= 1e-9 * tot, (len(steps), tot, end)
assert all(r["flops"] > 0 and r["mfu"] > 0 and r["tok_s"] > 0 for r in steps)
assert any(r.get("event") == "counters" and "pretrain" in r["counts"] for r in recs)
EOF
check "model.bin written" test -s "$W/fall/model.bin"

# ---- kill -9 and resume: bit-identical ----------------------------------------------------------
# (read from the shards by the reader thread, not from memory: that path is resumed too)
RUN=("${TINY[@]}" --micro-batch 4 --batch-tokens 512 --steps 36 --lr 3e-3 --eval-every 9 --ckpt-every 4
     --sample-every 12 --sample-tokens 16 --data-memory 0)
$P "${RUN[@]}" --out "$W/ref" > "$W/ref.log" 2>&1
$P "${RUN[@]}" --out "$W/kill" > "$W/kill.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
    n=$(grep -c '"loss"' "$W/kill/log.jsonl" 2>/dev/null); [ "${n:-0}" -ge 14 ] && break; sleep 0.02
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
killed_at=$(losses "$W/kill" | tail -1 | cut -d' ' -f1)
check "the run was killed mid-way (after step ${killed_at:-none})" test "${killed_at:-0}" -ge 12 -a "${killed_at:-99}" -lt 36
$P --out "$W/kill" --resume > "$W/resume.log" 2>&1
check "resume after kill -9 exits 0" test $? = 0
check "resumed from the latest checkpoint" grep -q "resumed from $W/kill/ckpt_000000" "$W/resume.log"
check "losses after resume are bit-identical" cmp -s <(losses "$W/ref") <(losses "$W/kill")
check "validation losses are bit-identical" cmp -s <(vals "$W/ref") <(vals "$W/kill")
check "samples are identical (RNG state restored)" cmp -s <(samples "$W/ref") <(samples "$W/kill")
check "final weights are bit-identical" cmp -s "$W/ref/model.bin" "$W/kill/model.bin"
check "keep-last-3 pruned older checkpoints" test "$(ls "$W/kill" | grep -c '^ckpt_.*\.bin$')" = 3
$P --out "$W/kill" --resume > "$W/again.log" 2>&1
check "resuming a finished run is a no-op" grep -q "already complete" "$W/again.log"
# The newest checkpoint's payload damaged (its header intact): --resume takes the one before,
# says so, and ends bit-identical.
cp -r "$W/ref" "$W/dmg"; rm "$W/dmg/model.bin"
newest=$(ls "$W/dmg" | grep '^ckpt_.*\.bin$' | tail -1); older=$(ls "$W/dmg" | grep '^ckpt_.*\.bin$' | tail -2 | head -1)
printf '\x55' | dd of="$W/dmg/$newest" bs=1 seek=1000 conv=notrunc status=none
$P --out "$W/dmg" --resume > "$W/dmg.log" 2>&1
check "a damaged newest checkpoint is passed over (exit $?)" grep -q "passing over a damaged checkpoint: .*$newest: payload checksum mismatch" "$W/dmg.log"
check "... and the one resumed from is named" grep -q "resuming from $W/dmg/$older" "$W/dmg.log"
check "... ending bit-identical" cmp -s "$W/ref/model.bin" "$W/dmg/model.bin"

# ---- SIGTERM: the step finishes, a checkpoint is written, exit 130; resuming is bit-identical -------
$P "${RUN[@]}" --out "$W/term" > "$W/term.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
    n=$(grep -c '"loss"' "$W/term/log.jsonl" 2>/dev/null); [ "${n:-0}" -ge 6 ] && break; sleep 0.02
done
kill -TERM $pid; wait $pid 2>/dev/null; rc=$?
at=$(losses "$W/term" | tail -1 | cut -d' ' -f1)
check "SIGTERM: exit 130 with a checkpoint of the last step ($at)" \
    test "$rc" = 130 -a -f "$W/term/ckpt_$(printf %08d "${at:-0}").bin"
check "SIGTERM: the message says how to continue" grep -q "continue with --resume" "$W/term.log"
$P --out "$W/term" --resume > "$W/term_resume.log" 2>&1
check "SIGTERM: the resumed run is bit-identical" cmp -s <(losses "$W/ref") <(losses "$W/term")

# ---- a checkpoint save killed at every file operation --------------------------------------------
SAVE=("${TINY[@]}" --layers 1 --channels 32 --heads 2 --seq-len 32 --micro-batch 2 --steps 3 --eval-every 0
      --ckpt-every 1 --lr 1e-2)
$P "${SAVE[@]}" --out "$W/save_ref" > "$W/save_ref.log" 2>&1
rm -f "$W/fault.log"
LD_PRELOAD=$FAULT BERRY_FAULT_MATCH=ckpt_ BERRY_FAULT_LOG="$W/fault.log" $P "${SAVE[@]}" --out "$W/save_count" \
    > /dev/null 2>&1
points=$(wc -l < "$W/fault.log" 2>/dev/null || echo 0)
check "fault injector sees every file operation of the saves ($points)" test "$points" -ge 27
bad_points=""
for k in $(seq 1 "$points"); do
    d="$W/save_$k"
    # (in a subshell, so the shell's "Killed" notice goes to the log too)
    (LD_PRELOAD=$FAULT BERRY_FAULT_MATCH=ckpt_ BERRY_FAULT_AT=$k $P "${SAVE[@]}" --out "$d"; exit $?) > "$d.log" 2>&1
    rc=$?
    if [ "$rc" != 137 ] && [ "$k" -lt "$points" ]; then bad_points+=" $k(not-killed:$rc)"; continue; fi
    if ls "$d" 2>/dev/null | grep -q '^ckpt_.*\.bin$'; then
        $P --out "$d" --resume > "$d.resume.log" 2>&1 || { bad_points+=" $k(resume)"; continue; }
        grep -q "removed .*\.tmp\." "$d.resume.log" || ! ls "$d" | grep -q '\.tmp\.' || bad_points+=" $k(temp-left)"
    else
        # killed before the first checkpoint was published: only a fresh start is possible
        $P --out "$d" --resume > "$d.resume.log" 2>&1 && { bad_points+=" $k(resumed-nothing)"; continue; }
        grep -q "no usable checkpoint" "$d.resume.log" || { bad_points+=" $k(message)"; continue; }
        rm -rf "$d"; $P "${SAVE[@]}" --out "$d" > /dev/null 2>&1
    fi
    cmp -s <(losses "$W/save_ref") <(losses "$d") && cmp -s "$W/save_ref/model.bin" "$d/model.bin" ||
        bad_points+=" $k(differs)"
done
check "every interrupted save left a loadable checkpoint and an identical resume (${bad_points:-all $points})" \
    test -z "$bad_points"

# ---- bad flags: rejected before any work, with the right message ---------------------------------
expect_err() {  # expect_err "message" ARGS...: exit 2 (or 1) and the message on stderr
    local msg=$1; shift
    local out; out=$($P "$@" 2>&1); local rc=$?
    if [ "$rc" != 0 ] && grep -qF -- "$msg" <<<"$out"; then ok "rejects: $msg"
    else bad "'$*' -> exit $rc: $(head -c 300 <<<"$out") (wanted: $msg)"; fi
}
expect_err "--out DIR is required" "${TINY[@]}" --steps 3
expect_err "give --steps N or --tokens N" "${TINY[@]}" --out "$W/x"
expect_err "is not a multiple of micro-batch × seq-len × ranks = 4 × 64 × 1 = 256" "${TINY[@]}" --out "$W/x" --steps 3 \
    --micro-batch 4 --batch-tokens 1000
expect_err "unknown option '--frobnicate'" "${TINY[@]}" --out "$W/x" --steps 3 --frobnicate 1
expect_err "abbreviations are not accepted; did you mean --steps" "${TINY[@]}" --out "$W/x" --step 3
expect_err "--lr must be in" "${TINY[@]}" --out "$W/x" --steps 3 --lr -1
expect_err "--warmup 10 is longer than the run (3 steps)" "${TINY[@]}" --out "$W/x" --steps 3 --warmup 10
expect_err "size the model with --depth D" --data "$W/tokens" --tokenizer "$W/tok.bpe" --out "$W/x" --steps 3 --seq-len 64
expect_err "--depth and --layers/--channels/--heads" "${TINY[@]}" --depth 2 --out "$W/x" --steps 3
expect_err "already holds checkpoints of a run" "${TINY[@]}" --out "$W/ref" --steps 3
expect_err "no usable checkpoint" --out "$W/empty" --resume
expect_err "--lr 0.001 differs from the resumed run's 0.0030000000000000001" --out "$W/ref" --resume --lr 1e-3
expect_err "cannot open" --data "$W/nope" --tokenizer "$W/tok.bpe" --out "$W/x" --steps 3 --layers 1 --channels 32 --heads 2 \
    --seq-len 32 --backend cpu
# (bad data, unlike bad flags, is found while reading it: the run stops at the first bad token)
expect_err "outside the model's vocabulary of 100" --data "$W/tokens" --layers 1 --channels 32 --heads 2 --seq-len 32 \
    --backend cpu --vocab 100 --out "$W/baddata" --steps 3 --eval-every 0
expect_err "--vocab 100 is smaller than the tokenizer's 266 ids" "${TINY[@]}" --tokenizer "$W/tok.bpe" --vocab 100 \
    --out "$W/x" --steps 3 --eval-every 0 --val-fraction 0
expect_err "--sft needs --problems DIR" "${TINY[@]/--data/--init-from}" --sft --out "$W/x" --steps 3
expect_err "--seq-len 256 exceeds the model's context 128" --init-from "$W/fall/model.bin" --data "$W/tokens" \
    --tokenizer "$W/tok.bpe" --seq-len 256 --out "$W/x" --steps 3 --backend cpu
if [ "$($P device)" = cpu ]; then  # (where a GPU is present, --backend cuda works)
    expect_err "CUDA" "${TINY[@]/cpu/cuda}" --steps 3 --out "$W/x"
fi
check "no output directory was created by rejected runs" test ! -e "$W/x"
# --out: new, empty, or a run's own; never a shard directory (not even its own --data) or a
# directory of other files. Nothing is written into the refused one.
expect_status() {  # expect_status STATUS "message" ARGS...
    local want=$1 msg=$2; shift 2
    local out; out=$($P "$@" 2>&1); local rc=$?
    if [ "$rc" = "$want" ] && grep -qF -- "$msg" <<<"$out"; then ok "exit $want: $msg"
    else bad "'$*' -> exit $rc: $(head -c 300 <<<"$out") (wanted exit $want: $msg)"; fi
}
before=$(ls -A "$W/tokens" | sort | tr '\n' ' ')
expect_status 1 "--out $W/tokens is --data $W/tokens" "${TINY[@]}" --steps 3 --out "$W/tokens"
cp -r "$W/tokens" "$W/tokens2"
expect_status 1 "--out $W/tokens2 is a shard directory" "${TINY[@]}" --steps 3 --out "$W/tokens2"
expect_status 1 "is inside --data" "${TINY[@]}" --steps 3 --out "$W/tokens/run"
mkdir -p "$W/notes"; echo hello > "$W/notes/notes.txt"
expect_status 1 "holds files that are not a run's (e.g. notes.txt)" "${TINY[@]}" --steps 3 --out "$W/notes"
check "the shard directories are untouched" test "$(ls -A "$W/tokens" | sort | tr '\n' ' ')" = "$before"
check "... and still verify" "$SH" verify "$W/tokens" "$W/tokens2" > /dev/null 2>&1
check "... as does the directory of other files" test "$(ls -A "$W/notes")" = notes.txt
# Exit status 2 for a usage error, 1 for a failure while running.
expect_status 2 "pretrain train: error: unknown option '--frobnicate'" "${TINY[@]}" --out "$W/x" --steps 3 --frobnicate 1
expect_status 1 "pretrain train: error: " --data "$W/nope" --tokenizer "$W/tok.bpe" --out "$W/x" --steps 3 --layers 1 \
    --channels 32 --heads 2 --seq-len 32 --backend cpu
# A tokenizer whose vocabulary is not the checkpoint's is refused, naming both files and sizes.
$SH train-tokenizer --vocab-size 267 --out "$W/tok267.bpe" "$W/corpus.txt" > /dev/null 2>&1
expect_status 1 "tokenizer $W/tok267.bpe has a vocabulary of 267 tokens but the model in $W/fall/model.bin has 266" \
    --init-from "$W/fall/model.bin" --data "$W/tokens" --tokenizer "$W/tok267.bpe" --seq-len 64 --steps 3 --out "$W/x" --backend cpu
check "no output directory was created by these either" test ! -e "$W/x"
$P --data "$W/tokens" --tokenizer "$W/tok.bpe" --layers 1 --channels 32 --heads 2 --seq-len 32 --micro-batch 2 --steps 2 \
    --eval-every 0 --backend cpu --quiet --out "$W/quiet" > "$W/quiet.log" 2>&1
check "--quiet: no config echo, no step lines" bash -c "! grep -q '^step \|lr  *' '$W/quiet.log' && test -s '$W/quiet/model.bin'"
check "--help exits 0 and lists the options" bash -c "$P --help | grep -q -- '--batch-tokens'"

# ---- 2 ranks (MPI, ZeRO-1) against 1 rank --------------------------------------------------------
if command -v mpirun > /dev/null; then
    MPIRUN=(mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -x OMPI_MCA_btl_vader_single_copy_mechanism=none
            -x OMP_NUM_THREADS=1)
    DP=("${TINY[@]}" --micro-batch 4 --batch-tokens 1024 --steps 16 --lr 3e-3 --eval-every 8 --ckpt-every 8)
    OMP_NUM_THREADS=1 $P "${DP[@]}" --out "$W/dp1" > "$W/dp1.log" 2>&1
    "${MPIRUN[@]}" -np 2 $P "${DP[@]}" --out "$W/dp2" > "$W/dp2.log" 2>&1
    check "2-rank run exits 0" test $? = 0
    check "2-rank run used MPI" grep -q "2 (mpi)" "$W/dp2.log"
    cmp_runs() {  # max relative difference of the losses of two runs below $3
        paste <(losses "$1") <(losses "$2") | awk -v tol="$3" '{ n++; d = ($2 - $4) / $2; if (d < 0) d = -d;
            if (d > m) m = d; if ($1 != $3) bad = 1 } END { print "max rel diff " m " over " n " steps";
            exit !(n > 0 && !bad && m < tol) }'
    }
    check "2-rank losses match 1-rank within 1e-5 ($(cmp_runs "$W/dp1" "$W/dp2" 1e-5))" cmp_runs "$W/dp1" "$W/dp2" 1e-5
    check "2-rank validation losses match 1-rank" paste <(vals "$W/dp1") <(vals "$W/dp2") | awk '{ d = ($2 - $4) / $2;
        if (d < 0) d = -d; if (d > 1e-5) exit 1 }'
    # a ZeRO checkpoint of 2 ranks resumed by 1, and one of 1 rank resumed by 2
    mkdir -p "$W/dp21" "$W/dp12"
    cp "$W/dp2/ckpt_00000008.bin" "$W/dp21/"; cp "$W/dp1/ckpt_00000008.bin" "$W/dp12/"
    OMP_NUM_THREADS=1 $P --out "$W/dp21" --resume > "$W/dp21.log" 2>&1
    "${MPIRUN[@]}" -np 2 $P --out "$W/dp12" --resume > "$W/dp12.log" 2>&1
    tail_match() {  # the last $3 losses of run $1 equal run $2's (same steps) within 1e-5
        paste <(losses "$1" | tail -"$3") <(losses "$2" | tail -"$3") | awk -v n0="$3" '{ d = ($2 - $4) / $2;
            if (d < 0) d = -d; if ($1 != $3 || d > 1e-5) bad = 1; n++ } END { exit !(n == n0 && !bad) }'
    }
    check "2-rank checkpoint resumed on 1 rank continues the curve" tail_match "$W/dp1" "$W/dp21" 8
    check "1-rank checkpoint resumed on 2 ranks continues the curve" tail_match "$W/dp1" "$W/dp12" 8
    out=$("${MPIRUN[@]}" -np 3 $P "${DP[@]}" --out "$W/dp3" 2>&1)
    check "3 ranks with an indivisible batch: one clear error" \
        test "$(grep -c 'is not a multiple of micro-batch × seq-len × ranks = 4 × 64 × 3' <<<"$out")" = 1
else
    bad "mpirun not found: install OpenMPI (tests/deps.sh installs libopenmpi-dev openmpi-bin)"
fi

# ---- SFT, generate, verify check, plot -----------------------------------------------------------
$V gen --out "$W/problems" --kinds arith --difficulty 1 --count 300 --split train --quiet > "$W/gen.log" 2>&1 &&
    $V gen --out "$W/heldout" --kinds arith --difficulty 1 --count 40 --split heldout --quiet >> "$W/gen.log" 2>&1
check "problem shards generated" test -f "$W/problems/CLOSED" -a -f "$W/heldout/CLOSED"
SFT=(--sft --problems "$W/problems" --val-problems "$W/heldout" --tokenizer "$W/tok.bpe" --init-from "$W/fall/model.bin"
     --micro-batch 4 --lr 1e-3 --backend cpu)
expect_err "prompt + solution is" "${SFT[@]}" --seq-len 24 --steps 2 --out "$W/x"
$P "${SFT[@]}" --seq-len 64 --sft-drop-long --steps 1 --eval-every 0 --out "$W/sft_drop" > "$W/sft_drop.log" 2>&1
check "--sft-drop-long counts what it drops" grep -qE "train examples .* [1-9][0-9]* dropped as too long" "$W/sft_drop.log"
$P "${SFT[@]}" --seq-len 128 --steps 20 --eval-every 10 --ckpt-every 10 --out "$W/sft" > "$W/sft.log" 2>&1
check "SFT run exits 0" test $? = 0
mkdir -p "$W/sft_resume" && cp "$W/sft/ckpt_00000010.bin" "$W/sft_resume/"
$P --out "$W/sft_resume" --resume > "$W/sft_resume.log" 2>&1
check "SFT resumed from its step-10 checkpoint: steps 11-20 bit-identical" \
    cmp -s <(losses "$W/sft" | tail -10) <(losses "$W/sft_resume")
check "SFT reports its examples" grep -q "300 train examples" "$W/sft.log"
a=$(vals "$W/sft" | head -1 | cut -d' ' -f2); b=$(vals "$W/sft" | tail -1 | cut -d' ' -f2)
check "SFT validation loss (solutions only) falls ($a -> $b)" awk -v a="${a:-0}" -v b="${b:-9}" 'BEGIN { exit !(b < a) }'
$P generate --ckpt "$W/sft/model.bin" --tokenizer "$W/tok.bpe" --problems "$W/heldout" --count 8 \
    --max-new 24 --backend cpu --out "$W/cand.jsonl" > "$W/generate.log" 2>&1
check "generate writes one candidate per problem" test "$(grep -c '"completion"' "$W/cand.jsonl" 2>/dev/null)" = 8
check "generate reports the sizes it chose" grep -q "generate: sizes: max-batch [0-9]* (chosen: " "$W/generate.log"
# One sampling path (the rollout engine): the answers do not depend on the decode batch or the KV
# budget (preemption); sampled answers are reproducible by seed (tests/rollout/test_generate.c
# compares greedy answers with the full recompute this command used before).
$P generate --ckpt "$W/sft/model.bin" --tokenizer "$W/tok.bpe" --problems "$W/heldout" --count 8 \
    --max-new 24 --backend cpu --batch 1 --out "$W/cand1.jsonl" > "$W/generate1.log" 2>&1
check "greedy answers at --batch 1 = at the chosen batch" cmp -s "$W/cand.jsonl" "$W/cand1.jsonl"
check "... and the echo says --batch was given" grep -q "sizes: max-batch 1 (given)" "$W/generate1.log"
for b in 0 3; do
    $P generate --ckpt "$W/sft/model.bin" --tokenizer "$W/tok.bpe" --problems "$W/heldout" --count 6 --samples 3 \
        --temperature 0.8 --seed 5 --max-new 24 --backend cpu --batch $b --kv-budget 256K --out "$W/samp$b.jsonl" > /dev/null 2>&1
done
$P generate --ckpt "$W/sft/model.bin" --tokenizer "$W/tok.bpe" --problems "$W/heldout" --count 6 --samples 3 \
    --temperature 0.8 --seed 6 --max-new 24 --backend cpu --out "$W/samp6.jsonl" > /dev/null 2>&1
check "sampled answers: 18, the same at batch 3 with a small KV budget, other ones with another seed" bash -c \
    "test \$(grep -c '\"completion\"' '$W/samp0.jsonl') = 18 && cmp -s '$W/samp0.jsonl' '$W/samp3.jsonl' && ! cmp -s '$W/samp0.jsonl' '$W/samp6.jsonl'"
$V check --problems "$W/heldout" --candidates "$W/cand.jsonl" --out "$W/verdicts" > "$W/check.log" 2>&1
check "verify check reads the candidate file" grep -q "8 verdicts" "$W/check.log"
$P plot --log "$W/kill/log.jsonl" --out "$W/loss.svg" > /dev/null 2>&1
check "plot writes an SVG with the loss curves" bash -c "grep -q '<svg' $W/loss.svg && test \$(grep -c '<polyline' $W/loss.svg) = 2"
# Outputs and the tokenizer are checked before any work.
expect_status 1 "--out $W/heldout is a directory" generate --ckpt "$W/sft/model.bin" --tokenizer "$W/tok.bpe" \
    --problems "$W/heldout" --count 2 --max-new 4 --backend cpu --out "$W/heldout"
check "... before generating" bash -c "! grep -q 'answers' <<< \"\$($P generate --ckpt '$W/sft/model.bin' --tokenizer '$W/tok.bpe' --problems '$W/heldout' --count 2 --max-new 4 --backend cpu --out '$W/heldout' 2>&1)\""
expect_status 1 "tokenizer $W/tok267.bpe has a vocabulary of 267 tokens but the model in $W/sft/model.bin has 266" \
    generate --ckpt "$W/sft/model.bin" --tokenizer "$W/tok267.bpe" --problems "$W/heldout" --count 2 --backend cpu --out "$W/c267.jsonl"
check "... writing nothing" test ! -e "$W/c267.jsonl"
expect_status 1 "--out $W/heldout is a directory" plot --log "$W/kill/log.jsonl" --out "$W/heldout"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
