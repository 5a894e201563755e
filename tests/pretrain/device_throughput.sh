#!/usr/bin/env bash
# Pretrain throughput at d12 (B=64) and d24 (B=32), T=1024, on the built-in corpus, beside
# PyTorch's training step (../shared/bench/torch_gpt2.py) in the same call: the figures of
# tests/bench/RESULTS.md "pretrain: throughput". Needs a GPU; run after `make`:
#
#   CORPUS=corpus.txt TOKENIZER=tok.bpe bash tests/pretrain/device_throughput.sh
#
# (a corpus from `verify corpus` and a tokenizer from `shards train-tokenizer`; without them
# both are made here, which needs build/bin/verify). STEPS steps per run (default 60); the
# median of the step records after the first 10 is reported.
set -eu
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
P=$B/bin/pretrain
PEERS=${PEERS:-../shared/bench}
STEPS=${STEPS:-60}
W=${WORK:-$(mktemp -d /tmp/berry_pretrain_tput.XXXXXX)}
mkdir -p "$W"
median_of() {
    grep -o "\"$2\": [0-9.e+-]*" "$1/log.jsonl" | tail -n +11 | sed 's/.*: //' | sort -g |
        awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
if [ -n "${CORPUS:-}" ] && [ -n "${TOKENIZER:-}" ]; then
    cp "$TOKENIZER" "$W/tok.bpe"; cp "$CORPUS" "$W/corpus.txt"
else
    $B/bin/verify corpus --out "$W/corpus.txt" --count 60K --quiet
    $B/bin/shards train-tokenizer --vocab-size 4096 --out "$W/tok.bpe" "$W/corpus.txt" > /dev/null
fi
$B/bin/shards tokenize --tokenizer "$W/tok.bpe" --out "$W/tokens" "$W/corpus.txt" | tail -n 1
for c in 12:64 24:32; do
    IFS=: read -r d mb <<< "$c"
    rm -rf "$W/d$d"
    $P --data "$W/tokens" --tokenizer "$W/tok.bpe" --vocab 50257 --depth "$d" --seq-len 1024 --micro-batch "$mb" \
       --lr 6e-4 --warmup 20 --eval-every 0 --ckpt-every 0 --sample-every 0 --backend cuda --steps "$STEPS" \
       --out "$W/d$d" > "$W/d$d.log" 2>&1 || { tail -n 20 "$W/d$d.log"; exit 1; }
    mem=$(grep -o '"peak_alloc_gib": [0-9.]*' "$W/d$d/log.jsonl" | sed 's/.*: //')
    dev=$(grep -o '"device_in_use_gib": [0-9.]*' "$W/d$d/log.jsonl" | sed 's/.*: //')
    echo "berry pretrain d$d B=$mb T=1024: median $(median_of "$W/d$d" tok_s) tok/s, MFU $(median_of "$W/d$d" mfu)," \
         "data wait $(median_of "$W/d$d" data_wait_ms) ms, peak $mem GiB allocated ($dev GiB in use on the device)"
    if [ -f "$PEERS/torch_gpt2.py" ]; then
        python3 "$PEERS/torch_gpt2.py" --depth "$d" --B "$mb" --T 1024 --steps 30 2>&1 | tail -n 1
    fi
done
