#!/usr/bin/env bash
# logprob_temps.sh — issue 20 on the GPU: rollout at temperatures 0.3, 0.7, 1.0 and 1.5, each
# plain, with top-k, and with top-k and top-p, over held-out problems; after each, `verify run`
# to the end over its output, a check that every recorded log-prob is finite and <= 0 (read
# back with `shards cat`, in Python), and the recorded log-probs against the trainer's log-prob
# op at that temperature (tests/device/logprob_compare: training forward + kb_classifier at
# inv_temp = 1/T). Ends with the table rows for tests/bench/RESULTS.md and
# "N passed, M failed".
#
# Inputs, from the environment:
#   MODEL, TOKENIZER, PROBLEMS   checkpoint, tokenizer and problem directory; when MODEL is
#                                unset, those of DEMO (a berry run directory), and without DEMO
#                                tests/device/demo_base.sh makes them (the GPU demo's base model
#                                and held-out problems, in $OUT/demo)
#   BACKEND    cuda (default) or cpu (the CPU test of this script, tests/rollout/test_logprob_temps.sh)
#   CONFIGS    space-separated TEMP[:TOPK[:TOPP]] (default: the 12 of the issue)
#   ROOTS, DEPTH, FORK, MAXNEW   rollout's shape (default 16, 0, 2, 192: the issue's command)
#   MAX_DIFF   fail when a max |recorded - trainer| exceeds it (default: report only; the CPU
#              test sets 0: bit for bit)
#   BUILD      binaries (default build; .devbuild from tests/device/stage_build.sh)
#   OUT        work and logs (default /tmp/berry-device/logprob), started afresh
# Usage on the GPU machine: bash tests/device/logprob_temps.sh   (or PARTS=logprob tests/device/run.sh)
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
OUT=${OUT:-/tmp/berry-device/logprob}
BACKEND=${BACKEND:-cuda}
CONFIGS=${CONFIGS:-0.3 0.7 1.0 1.5 0.3:50 0.7:50 1.0:50 1.5:50 0.3:50:0.9 0.7:50:0.9 1.0:50:0.9 1.5:50:0.9}
ROOTS=${ROOTS:-16}; DEPTH=${DEPTH:-0}; FORK=${FORK:-2}; MAXNEW=${MAXNEW:-192}
MAX_DIFF=${MAX_DIFF:-}
for b in bin/rollout bin/verify bin/shards tests/device/logprob_compare; do
    [ -x "$B/$b" ] || { echo "logprob_temps: $B/$b is missing (make, or bash tests/device/stage_build.sh" \
                             "bin/pretrain bin/shards bin/verify bin/rollout tests/device/logprob_compare" \
                             "and BUILD=.devbuild)"; echo "0 passed, 1 failed"; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT"
# as tests/device/run.sh: cuDNN from a Python wheel where there is one; NVLink multicast off
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}
cudnn_lib=$(python3 -c "import nvidia.cudnn as c, os; print(os.path.join(c.__path__[0], 'lib'))" 2>/dev/null)
[ -n "$cudnn_lib" ] && export LD_LIBRARY_PATH="$cudnn_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

if [ -z "${MODEL:-}" ]; then
    if [ -z "${DEMO:-}" ]; then
        echo "== the GPU demo's base model (tests/device/demo_base.sh into $OUT/demo)"
        DEMO=$OUT/demo
        BUILD=$B BACKEND=$BACKEND bash tests/device/demo_base.sh "$DEMO" ||
            { echo "logprob_temps: tests/device/demo_base.sh failed"; echo "0 passed, 1 failed"; exit 1; }
    fi
    MODEL=$DEMO/pretrain/model.bin; TOKENIZER=$DEMO/data/tok.bpe; PROBLEMS=$DEMO/data/heldout
fi
: "${TOKENIZER:?set TOKENIZER with MODEL}" "${PROBLEMS:?set PROBLEMS with MODEL}"
echo "== model $MODEL, problems $PROBLEMS, backend $BACKEND, roots $ROOTS, depth $DEPTH, max-new $MAXNEW"

rows=()
for cfg in $CONFIGS; do
    IFS=: read -r temp topk topp <<< "$cfg"
    topk=${topk:-0}; topp=${topp:-1}
    label="T${temp}_k${topk}_p${topp}"
    traj=$OUT/traj-$label; ver=$OUT/verdicts-$label
    t0=$(date +%s.%N)
    "$B/bin/rollout" --policy "$MODEL" --tokenizer "$TOKENIZER" --problems "$PROBLEMS" --out "$traj" \
        --roots "$ROOTS" --depth "$DEPTH" --fork "$FORK" --max-new "$MAXNEW" --temperature "$temp" \
        --top-k "$topk" --top-p "$topp" --backend "$BACKEND" --progress 1000 > "$OUT/rollout-$label.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    if [ $rc != 0 ]; then bad "$label: rollout exited $rc: $(tail -n 1 "$OUT/rollout-$label.log")"; continue; fi
    ok
    "$B/bin/verify" run --problems "$PROBLEMS" --trajectories "$traj" --out "$ver" --tokenizer "$TOKENIZER" \
        > "$OUT/verify-$label.log" 2>&1
    rc=$?
    if [ $rc = 0 ] && [ -f "$ver/CLOSED" ]; then ok; else
        bad "$label: verify run exited $rc (or left $ver open): $(grep -m1 error "$OUT/verify-$label.log")"; fi
    # every log-prob finite and <= 0, and one verdict per leaf (read back independently)
    "$B/bin/shards" cat --quiet "$traj" > "$OUT/traj-$label.jsonl" 2> "$OUT/cat-$label.log" || bad "$label: shards cat failed"
    "$B/bin/shards" cat --quiet "$ver" > "$OUT/verdicts-$label.jsonl" 2>> "$OUT/cat-$label.log"
    check=$(python3 - "$OUT/traj-$label.jsonl" "$OUT/verdicts-$label.jsonl" <<'EOF'
import json, math, sys
trees = leaves = tokens = above = nonfinite = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    trees += 1
    parents = {n["parent"] for n in t["nodes"] if n["parent"] is not None}
    leaves += sum(1 for i in range(len(t["nodes"])) if i not in parents)
    for n in t["nodes"]:
        for lp in n["logprobs"]:
            tokens += 1
            if not math.isfinite(lp): nonfinite += 1
            elif lp > 0: above += 1
verdicts = sum(1 for _ in open(sys.argv[2]))
print(trees, leaves, tokens, above, nonfinite, verdicts)
EOF
)
    read -r trees leaves tokens above nonfinite verdicts <<< "$check"
    if [ "${above:-x}" = 0 ] && [ "${nonfinite:-x}" = 0 ] && [ "${tokens:-0}" -gt 0 ]; then ok; else
        bad "$label: $tokens tokens, $above log-probs above 0, $nonfinite not finite (shards cat + python)"; fi
    if [ "${verdicts:-x}" = "${leaves:-y}" ]; then ok; else bad "$label: $verdicts verdicts for $leaves leaves"; fi
    "$B/tests/device/logprob_compare" --policy "$MODEL" --trajectories "$traj" --temperature "$temp" \
        --backend "$BACKEND" --label "$label" ${MAX_DIFF:+--max-diff "$MAX_DIFF"} > "$OUT/compare-$label.txt" \
        2> "$OUT/compare-$label.log"
    rc=$?
    res=$(grep '^RESULT' "$OUT/compare-$label.txt")
    if [ $rc = 0 ] && [ -n "$res" ]; then ok; else
        bad "$label: logprob_compare exited $rc: $(tail -n 1 "$OUT/compare-$label.log")"; fi
    val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$res"; }
    pass1=$(python3 -c "import json,sys; v=[json.loads(l)['outcome'] for l in open(sys.argv[1])]; print('%.1f%%' % (100*v.count('pass')/max(1,len(v))))" "$OUT/verdicts-$label.jsonl")
    secs=$(python3 -c "print('%.1f' % ($t1 - $t0))")
    rows+=("| $temp | $([ "$topk" = 0 ] && echo all || echo "$topk") | $topp | $trees | $leaves | $pass1 | $tokens | $secs | $(val above0) | $(val max_logprob) | $(val mean_diff) | $(val max_diff) | $(python3 -c "print('%.1f%%' % (100*float('$(val equal)' or 0)))") |")
    echo "== $label: ${rows[-1]}"
done

echo
echo "Rows for tests/bench/RESULTS.md (\"Rollout log-probs at every temperature\"):"
echo
echo "| temperature | top-k | top-p | trees | leaves verified | pass | tokens | rollout s | log-probs > 0 | largest log-prob | mean \\|diff\\| | max \\|diff\\| | bit-equal |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "$pass passed, $fail failed"
[ $fail = 0 ]
