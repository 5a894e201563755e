#!/usr/bin/env bash
# make demo: from nothing to a reasoning-tuned model, with its report — the RL loop of
# build/bin/berry on the built-in tasks:
#
#   1. problems and a pretraining corpus from the verify stage's generators; a BPE tokenizer
#   2. pretraining a small GPT-2 (the base model)
#   3. RL iterations: rollout samples trajectory trees on fresh train problems, verify run
#      checks every leaf (math exactly, code in the sandbox), ppo turns the verdicts into tree
#      advantages and publishes the next policy
#   4. held-out pass@1 (greedy) of the base and of the policies, and of an SFT control given
#      the same FLOPs on reference solutions
#   5. report.txt and report.html: pass@1 with confidence intervals, the RL curves, the FLOPs
#      table (post-training against pretraining, forward against backward)
#
# Config: tests/rl/gpu.conf on a GPU (d6 on every task kind), tests/rl/cpu.conf on the CPU (a
# 0.9M-parameter model on one-step problems, minutes on 2 cores), tests/rl/smoke.conf with
# DEMO_SMOKE=1. DEMO_CONFIG overrides the choice; DEMO_BACKEND=cpu forces the CPU config.
# Everything goes to DEMO_OUT (default build/demo), started afresh (DEMO_KEEP=1: continue a run
# that was stopped).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=${DEMO_OUT:-$BUILD/demo}
for b in berry pretrain rollout verify ppo shards; do
    [ -x "$BUILD/bin/$b" ] || { echo "demo: $BUILD/bin/$b is missing: run make first" >&2; exit 1; }
done
BACKEND=${DEMO_BACKEND:-$($BUILD/bin/pretrain device)}
if [ -n "${DEMO_CONFIG:-}" ]; then CONF=$DEMO_CONFIG
elif [ "${DEMO_SMOKE:-0}" = 1 ]; then CONF=tests/rl/smoke.conf
elif [ "$BACKEND" = cuda ]; then CONF=tests/rl/gpu.conf
else CONF=tests/rl/cpu.conf; fi
# Idle OpenMP threads sleep instead of spinning: on a busy machine spinning threads steal the
# cores the working ones need (5x slower steps measured); on an idle one it costs nothing.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
[ "${DEMO_KEEP:-0}" = 1 ] || rm -rf "$OUT"
echo "demo: backend $BACKEND, config $CONF, output in $OUT"
t0=$(date +%s)
"$BUILD/bin/berry" run --config "$CONF" --out "$OUT"
echo
cat "$OUT/report.txt"
echo "whole demo: $(( $(date +%s) - t0 )) s"
