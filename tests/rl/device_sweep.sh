#!/usr/bin/env bash
# RL settings side by side on the GPU demo's base: the base model is made once (tests/rl/gpu.conf
# with no iterations), then each given setting runs the RL loop from it (init_from) and its
# held-out pass@1 before and after is printed. Usage:
#   bash tests/rl/device_sweep.sh "name: key = value; key = value" ...
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
W=${WORK:-/tmp/berry_sweep}
mkdir -p "$W"
{ grep -v '^iterations\|^sft_control' tests/rl/gpu.conf; echo "iterations = 0"; echo "sft_control = 0"; } > "$W/base.conf"
"$B/bin/berry" run --config "$W/base.conf" --out "$W/base" --quiet || exit 1
grep "base model" "$W/base/report.txt"
for spec in "$@"; do
    name=${spec%%:*}; kv=${spec#*:}
    { grep -v '^pretrain\.\|^corpus_docs\|^vocab_size' tests/rl/gpu.conf
      echo "init_from = $W/base/pretrain/model.bin"; echo "tokenizer = $W/base/data/tok.bpe"; echo "sft_control = 0"
      tr ';' '\n' <<< "$kv" | sed 's/^ *//'; } | tac | awk -F' = ' '!seen[$1]++' | tac > "$W/$name.conf"
    t0=$(date +%s)
    timeout "${EACH:-150}" "$B/bin/berry" run --config "$W/$name.conf" --out "$W/$name" --quiet 2> "$W/$name.err" || echo "$name: stopped ($(tail -n 1 "$W/$name.err"))"
    echo "== $name ($(( $(date +%s) - t0 )) s): $kv"
    grep -E "after RL|RL gain" "$W/$name/report.txt"
    echo "   train reward by version: $(grep '^  v' "$W/$name/report.txt" | awk '{printf "%s ", $2}')"
done
