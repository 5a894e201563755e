#!/usr/bin/env bash
# demo_base.sh — the GPU demo's base model for the device parts that need one (logprob, reward,
# interop, ppo): `berry run` with tests/rl/gpu.conf cut to one RL iteration and no SFT control
# (about a minute on an H200 instead of the whole demo's five). DIR gets berry's run layout:
# pretrain/model.bin (the base), data/tok.bpe, data/heldout (500 held-out problems), and the one
# PPO iteration over 512 problems' trees in policy/ppo-v1/ (report.json: phases, FLOPs).
# Usage: BUILD=build bash tests/device/demo_base.sh DIR    (an existing finished DIR is kept)
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
DIR=${1:?usage: demo_base.sh DIR}
BACKEND=${BACKEND:-cuda}
mkdir -p "$DIR"
CONF=$DIR/base.conf
{ grep -vE '^(iterations|eval_every|sft_control|backend) ' tests/rl/gpu.conf
  echo "iterations = 1"; echo "eval_every = 1"; echo "sft_control = 0"; echo "backend = $BACKEND"; } > "$CONF.tmp"
mv "$CONF.tmp" "$CONF"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
t0=$(date +%s)
"$B/bin/berry" run --config "$CONF" --out "$DIR/run" > "$DIR/berry.log" 2>&1 || { tail -n 20 "$DIR/berry.log"; exit 1; }
# the layout the device scripts read (DEMO=DIR)
ln -sfn run/pretrain "$DIR/pretrain"; ln -sfn run/data "$DIR/data"; ln -sfn run/policy "$DIR/policy"
echo "demo_base: $DIR in $(( $(date +%s) - t0 )) s: $(grep -E 'base model|after RL' "$DIR/run/report.txt" | head -n 2 | tr -s ' ' | tr '\n' ';')"
