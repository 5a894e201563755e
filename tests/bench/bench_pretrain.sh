#!/usr/bin/env bash
# Pretrain stage, CPU: training throughput of the demo's CPU model (1 rank with 2 threads, and
# 1 vs 2 ranks of 1 thread under mpirun), and the data path alone (shuffled step batches from
# token shards, and from memory). Prints markdown tables (tests/bench/RESULTS.md, "Pretrain").
#   bash tests/bench/bench_pretrain.sh        (after make; STEPS=N to change the run length)
set -euo pipefail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # as make demo: robust on a shared machine
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
STEPS=${STEPS:-60}
W=$(mktemp -d /tmp/berry_bench_pretrain.XXXXXX)
trap 'rm -rf "$W"' EXIT

$B/bin/verify corpus --out "$W/corpus.txt" --kinds math --difficulty 1-2 --count 40000 --quiet
$B/bin/shards train-tokenizer --vocab-size 448 --out "$W/tok.bpe" "$W/corpus.txt" > /dev/null
$B/bin/shards tokenize --tokenizer "$W/tok.bpe" --out "$W/tokens" "$W/corpus.txt" > /dev/null 2>&1

MODEL=(--data "$W/tokens" --tokenizer "$W/tok.bpe" --layers 4 --channels 128 --heads 4 --seq-len 128 --micro-batch 16
       --batch-tokens 4096 --steps "$STEPS" --lr 3e-3 --warmup 10 --eval-every 0 --ckpt-every 0 --backend cpu)

# median over steps after the first 5: ms, tok/s, MFU, data wait
summary() {
    grep -o '"ms": [0-9.]*, "tok_s": [0-9.]*, "mfu": [0-9.]*, "data_wait_ms": [0-9.]*' "$1/log.jsonl" | tail -n +6 |
        sed 's/"[a-z_]*": //g; s/,//g' | sort -n -k1,1 |
        awk '{ a[NR] = $0 } END { split(a[int((NR + 1) / 2)], m, " "); printf "%.1f | %.0f | %.1f%% | %.2f", m[1], m[2], 100 * m[3], m[4] }'
}
echo "training, L=4 C=128 heads=4 V=448 T=128, 4096 tokens/step (B=16, accumulation 2 on 1 rank), $STEPS steps, medians:"
echo
echo "| run | ms/step | tok/s | MFU | data wait ms |"
echo "|---|---|---|---|---|"
OMP_NUM_THREADS=2 $B/bin/pretrain "${MODEL[@]}" --out "$W/r2t" > /dev/null 2>&1
echo "| 1 rank, 2 threads | $(summary "$W/r2t") |"
OMP_NUM_THREADS=1 $B/bin/pretrain "${MODEL[@]}" --out "$W/r1t" > /dev/null 2>&1
echo "| 1 rank, 1 thread | $(summary "$W/r1t") |"
mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -x OMP_NUM_THREADS=1 -np 2 \
    $B/bin/pretrain "${MODEL[@]}" --out "$W/m2" > /dev/null 2>&1
echo "| 2 ranks (mpirun, MPI + ZeRO-1), 1 thread each | $(summary "$W/m2") |"
OMP_NUM_THREADS=2 $B/bin/pretrain "${MODEL[@]}" --data-memory 0 --out "$W/r2s" > /dev/null 2>&1
echo "| 1 rank, 2 threads, reading the shards (--data-memory 0) | $(summary "$W/r2s") |"
echo
echo "data path alone (one reader, shuffled sequences, the corpus above):"
echo
echo "| data | tokens | source | rows B×T×accum | ms/step | tokens/s |"
echo "|---|---|---|---|---|---|"
for shape in "16 128 2 300" "64 1024 1 30"; do
    $B/tests/pretrain/bench_loader "$W/tokens" $shape 2>/dev/null | sed "s|$W/||"
    $B/tests/pretrain/bench_loader "$W/tokens" $shape memory 2>/dev/null | sed "s|$W/||"
done
