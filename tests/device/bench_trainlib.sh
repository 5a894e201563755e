#!/usr/bin/env bash
# The trainer-library issue's GPU benchmark, in one call: the d12 training step before the
# move (OLD: a build of the commit before it, default .old/build) and after it (this build),
# alternated twice so drift shows; and the fused policy-gradient loss against the plain
# cross-entropy classifier pass at d12's shape (8192 rows × 50257), from bench_ops.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
OLD=${OLD:-.old/build}
for round in 1 2; do
    for which in old new; do
        bin=$B/tests/device/bench_gpt2; [ $which = old ] && bin=$OLD/tests/device/bench_gpt2
        echo "== $which (round $round)"
        "$bin" 12 64 1024 30 2>&1 | grep -v '^attention:' | tail -n 3
    done
done
echo "== classifier pass against the fused pg loss (bench_ops, d12 shapes)"
"$B/tests/device/bench_ops" 2>&1 | grep -E "classifier softmax|pg loss"
# The pretrain stage itself (trainer library: feed thread, ZeRO-1 step, run log) before and
# after, on the same tokens, when CORPUS and TOKENIZER are given.
if [ -n "${CORPUS:-}" ] && [ -n "${TOKENIZER:-}" ]; then
    W=$(mktemp -d /tmp/berry_trainlib.XXXXXX)
    $B/bin/shards tokenize --tokenizer "$TOKENIZER" --out "$W/tokens" "$CORPUS" | tail -n 1
    median() { grep -o '"tok_s": [0-9.e+-]*' "$1/log.jsonl" | tail -n +11 | sed 's/.*: //' | sort -g |
               awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
    for round in 1 2; do
        for which in old new; do
            P=$B/bin/pretrain; [ $which = old ] && P=$OLD/bin/pretrain
            rm -rf "$W/$which"
            $P --data "$W/tokens" --tokenizer "$TOKENIZER" --vocab 50257 --depth 12 --seq-len 1024 --micro-batch 64 \
               --lr 6e-4 --warmup 20 --eval-every 0 --ckpt-every 0 --sample-every 0 --backend cuda --steps 50 \
               --out "$W/$which" > "$W/$which.log" 2>&1 || { tail -n 5 "$W/$which.log"; continue; }
            echo "pretrain stage d12 B=64 T=1024 ($which, round $round): median $(median "$W/$which") tok/s"
        done
    done
fi
