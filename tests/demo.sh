#!/usr/bin/env bash
# make demo (first version): from nothing to a base model and its verified pass@1.
#
#   1. problems and the built-in corpus from the verify stage's generators
#   2. a BPE tokenizer trained on the corpus, and the corpus as token shards
#   3. pretraining a small GPT-2 (on the GPU if there is one; on the CPU at a size that takes
#      about 5 minutes on 2 cores, reaching a pass@1 around 20% on one-step problems)
#   4. answers to held-out problems sampled from the model (greedy)
#   5. the answers checked by the verifiers (math and code, in the sandbox)
#   6. a report (text) and the loss curve (SVG)
#
# Everything goes to DEMO_OUT (default build/demo), started afresh. DEMO_SMOKE=1 runs the same
# pipeline at toy sizes in well under a minute (the test suite does).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=${DEMO_OUT:-$BUILD/demo}
SMOKE=${DEMO_SMOKE:-0}
P=$BUILD/bin/pretrain
SH=$BUILD/bin/shards
V=$BUILD/bin/verify
for b in "$P" "$SH" "$V"; do
    [ -x "$b" ] || { echo "demo: $b is missing: run make first" >&2; exit 1; }
done
BACKEND=${DEMO_BACKEND:-$($P device)}
t_start=$(date +%s)
stage() { echo; echo "=== demo [$1/6] $2 ($(( $(date +%s) - t_start )) s)"; }

# Sizes. CPU: a 4-layer, 128-channel model on one-step arithmetic and linear equations
# (difficulty 1), about 5 minutes on 2 cores; GPU: d6 on every task kind; smoke: toy sizes.
if [ "$SMOKE" = 1 ]; then
    KINDS=arith,linear; DIFF=1; DOCS=3000; TRAIN_PROBLEMS=200; HELDOUT=8; VOCAB=300
    MODEL=(--layers 1 --channels 32 --heads 2); SEQ=64; MB=8; BATCH=512; STEPS=30; LR=3e-3; WARMUP=3
    EVAL=15; MAXNEW=32
elif [ "$BACKEND" = cuda ]; then
    KINDS=all; DIFF=1-3; DOCS=400000; TRAIN_PROBLEMS=20000; HELDOUT=500; VOCAB=4096
    MODEL=(--depth 6); SEQ=256; MB=64; BATCH=65536; STEPS=1500; LR=1.5e-3; WARMUP=100
    EVAL=250; MAXNEW=192
else
    KINDS=arith,linear; DIFF=1; DOCS=40000; TRAIN_PROBLEMS=2000; HELDOUT=100; VOCAB=400
    MODEL=(--layers 4 --channels 128 --heads 4); SEQ=128; MB=16; BATCH=2048; STEPS=2000; LR=3e-3; WARMUP=50
    EVAL=250; MAXNEW=64
fi
# Idle OpenMP threads sleep instead of spinning: on a busy machine spinning threads steal the
# cores the working ones need (5x slower steps measured); on an idle one it costs nothing.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

rm -rf "$OUT"
mkdir -p "$OUT"
echo "demo: backend $BACKEND, output in $OUT$([ "$SMOKE" = 1 ] && echo ' (smoke sizes)')"

stage 1 "problems and corpus (verify gen, verify corpus)"
$V corpus --out "$OUT/corpus.txt" --kinds "$KINDS" --difficulty "$DIFF" --count "$DOCS" --quiet
# (train-split problems are for the later stages: SFT, rollout, RL; held-out ones measure pass@1)
$V gen --out "$OUT/problems" --kinds "$KINDS" --difficulty "$DIFF" --count "$TRAIN_PROBLEMS" --split train --quiet
$V gen --out "$OUT/heldout" --kinds "$KINDS" --difficulty "$DIFF" --count "$HELDOUT" --split heldout --quiet

stage 2 "tokenizer and token shards (shards train-tokenizer, shards tokenize)"
$SH train-tokenizer --vocab-size "$VOCAB" --out "$OUT/tok.bpe" "$OUT/corpus.txt"
$SH tokenize --tokenizer "$OUT/tok.bpe" --out "$OUT/tokens" "$OUT/corpus.txt"

stage 3 "pretraining ($BACKEND)"
$P --data "$OUT/tokens" --tokenizer "$OUT/tok.bpe" "${MODEL[@]}" --seq-len "$SEQ" --micro-batch "$MB" \
    --batch-tokens "$BATCH" --steps "$STEPS" --lr "$LR" --warmup "$WARMUP" --eval-every "$EVAL" --ckpt-every "$EVAL" \
    --sample-every "$EVAL" --sample-tokens 48 --sample-prompt "Compute " --backend "$BACKEND" --out "$OUT/run"

stage 4 "answers to held-out problems (pretrain generate, greedy)"
$P generate --ckpt "$OUT/run/model.bin" --tokenizer "$OUT/tok.bpe" --problems "$OUT/heldout" --max-new "$MAXNEW" \
    --backend "$BACKEND" --out "$OUT/candidates.jsonl"

stage 5 "checking the answers (verify check)"
$V check --problems "$OUT/heldout" --candidates "$OUT/candidates.jsonl" --out "$OUT/verdicts"

stage 6 "report and loss curve (pretrain plot)"
$P plot --log "$OUT/run/log.jsonl" --out "$OUT/loss.svg" --title "berry demo: pretraining loss ($BACKEND)"
$SH cat "$OUT/verdicts" 2>/dev/null > "$OUT/verdicts.jsonl"
$SH cat "$OUT/heldout" 2>/dev/null > "$OUT/heldout.jsonl"
{
    echo "berry demo report ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    # (the device name of the CPU backend already starts with "cpu": "cpu (2 threads)")
    device=$(grep -o '"device": "[^"]*"' "$OUT/run/log.jsonl" | head -1 | cut -d'"' -f4)
    case "$device" in "$BACKEND"*) echo "backend:        $device" ;; *) echo "backend:        $BACKEND ($device)" ;; esac
    echo "corpus:         $DOCS documents ($KINDS, difficulty $DIFF), $(wc -c < "$OUT/corpus.txt") bytes"
    echo "tokenizer:      byte-level BPE, $VOCAB ids"
    awk -F'"model": ' 'NR == 1 && /"event": "config"/ { split($2, a, "}"); print "model:          " a[1] "}" }' \
        "$OUT/run/log.jsonl"
    grep -o '"n_params": [0-9]*' "$OUT/run/log.jsonl" | head -1 | sed 's/"n_params": /parameters:     /'
    awk '/"event": "end"/ { match($0, /"seconds": [0-9.]*/); s = substr($0, RSTART + 11, RLENGTH - 11);
          match($0, /"tokens": [0-9]*/); t = substr($0, RSTART + 10, RLENGTH - 10);
          match($0, /"flops_total": [0-9.e+]*/); f = substr($0, RSTART + 15, RLENGTH - 15);
          printf "training:       %s steps, %s tokens, %.1f s, %.4g FLOPs (pretrain stage, counted)\n", '"$STEPS"', t, s, f }' \
        "$OUT/run/log.jsonl"
    awk '/"loss": / && !/val_loss/ { match($0, /"loss": [0-9.e+-]*/); l = substr($0, RSTART + 8, RLENGTH - 8); if (!n++) f = l }
         /"val_loss"/ { match($0, /"val_loss": [0-9.e+-]*/); v = substr($0, RSTART + 12, RLENGTH - 12); if (!m++) vf = v }
         END { printf "train loss:     %.4f -> %.4f\nvalidation:     %.4f -> %.4f\n", f, l, vf, v }' "$OUT/run/log.jsonl"
    echo
    # pass@1 overall and per task kind: verdicts joined with the problems' kinds
    awk 'FNR == NR { if (match($0, /"id": *[0-9]+/)) { id = substr($0, RSTART, RLENGTH); sub(/.*: */, "", id);
                       match($0, /"task": *"[a-z]+"/); k = substr($0, RSTART, RLENGTH); sub(/.*: *"/, "", k); sub(/"/, "", k);
                       kind[id] = k }; next }
         { match($0, /"problem_id": *[0-9]+/); id = substr($0, RSTART, RLENGTH); sub(/.*: */, "", id);
           k = (id in kind) ? kind[id] : "?"; n[k]++; N++
           if ($0 ~ /"outcome": *"pass"/) { p[k]++; P++ } }
         END { printf "pass@1 (greedy, held-out problems, checked by the verifiers): %d/%d = %.1f%%\n", P, N, N ? 100 * P / N : 0
               for (k in n) printf "  %-8s %d/%d = %.1f%%\n", k, p[k], n[k], 100 * p[k] / n[k] }' \
        "$OUT/heldout.jsonl" "$OUT/verdicts.jsonl"
    echo
    echo "a few answers (the problem, the model's completion, the verifier's verdict):"
    python3 - "$OUT/heldout.jsonl" "$OUT/candidates.jsonl" "$OUT/verdicts.jsonl" <<'PY'
import json, sys
problems = {p["id"]: p for p in map(json.loads, open(sys.argv[1]))}
verdicts = {(v["problem_id"], v["node"]): v for v in map(json.loads, open(sys.argv[3]))}
for line in open(sys.argv[2]).readlines()[:3]:
    c = json.loads(line)
    p, v = problems.get(c["problem"], {}), verdicts.get((c["problem"], c["node"]), {})
    short = lambda s, n: s if len(s) <= n else s[:n] + "..."
    print("  problem:    " + short(p.get("prompt", "?").strip().replace("\n", " / "), 150))
    print("  completion: " + short(c["completion"].replace("<|endoftext|>", "").strip().replace("\n", " / "), 150))
    print("  verdict:    %s (expected answer %s)%s" % (v.get("outcome", "?"), short(p.get("answer", "?").strip(), 40),
          "; " + short(v["detail"], 80) if v.get("detail") and v.get("outcome") != "pass" else ""))
PY
    echo
    echo "files: $OUT/loss.svg (loss curve), $OUT/run/log.jsonl (run log), $OUT/run/model.bin (weights),"
    echo "       $OUT/candidates.jsonl (answers), $OUT/verdicts (verdict shards)"
    echo "total time: $(( $(date +%s) - t_start )) s"
} > "$OUT/report.txt"
echo
cat "$OUT/report.txt"
