#!/usr/bin/env bash
# device_ppo.sh — one PPO iteration on the GPU demo's model (issue 12; part "ppo" of
# tests/device/run.sh): the iteration tests/device/demo_base.sh runs (policy v0 -> v1 over 512
# problems' trees: 4 roots x 2-way forks at depth 1, temperature 1.5), read back from its
# report: wall time per phase, FLOPs per model and phase, forward:backward, and the update's
# tokens/s beside the pretraining step's (same run, same model). Ends "N passed, M failed".
# DEMO: a berry run directory (default: demo_base.sh makes one in $OUT/demo).
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
OUT=${OUT:-/tmp/berry-device}
if [ -z "${DEMO:-}" ]; then
    DEMO=$OUT/demo
    BUILD=$B bash tests/device/demo_base.sh "$DEMO" || { echo "0 passed, 1 failed"; exit 1; }
fi
python3 - "$DEMO" <<'PY'
import json, sys
d = sys.argv[1]
passed = failed = 0
def check(what, cond):
    global passed, failed
    if cond: passed += 1
    else: failed += 1; print("FAIL:", what)
try:
    r = json.load(open(d + "/policy/ppo-v1/report.json"))
    end = [json.loads(l) for l in open(d + "/pretrain/log.jsonl") if '"event": "end"' in l][-1]
    cfg = [json.loads(l) for l in open(d + "/policy/ppo-v1/log.jsonl") if '"event": "config"' in l][-1]["options"]
except (OSError, ValueError, IndexError) as e:
    print("device_ppo: cannot read the iteration's report under", d, ":", e); print("0 passed, 1 failed"); sys.exit(1)
p = r["phase_seconds"]
print("one PPO iteration: policy v0 -> v1, %d trees, %d rows, %d tokens trained (%d epoch(s) x %d minibatches), advantage %s"
      % (r["trees"], r["rows"], r["tokens_trained"], cfg["epochs"], cfg["minibatches"], cfg["advantage"]))
print("| phase | seconds |\n|---|---:|")
for k in ("rows", "models", "precompute", "update", "save_state"): print("| %s | %.2f |" % (k, p[k]))
print("| model | forward FLOPs | backward FLOPs | optimizer FLOPs |\n|---|---:|---:|---:|")
for m, f in r["flops"].items(): print("| %s | %.3e | %.3e | %.3e |" % (m, f["fwd"], f["bwd"], f["opt"]))
pre = end["tokens"] / end["seconds"]
print("forward:backward FLOPs %.2f; update %.0f tok/s (fwd+bwd+AdamW) beside pretraining's %.0f tok/s (same model, whole run incl. evals): %.2fx"
      % (r["fwd_bwd_ratio"], r["update_tok_s"], pre, r["update_tok_s"] / pre))
check(">= 64 problems' trees", r["trees"] >= 64)
check("every phase timed", all(p[k] >= 0 for k in p) and p["update"] > 0 and p["precompute"] > 0)
check("policy and reference FLOPs counted", r["flops"]["ppo.policy"]["bwd"] > 0 and r["flops"]["ppo.reference"]["fwd"] > 0)
check("the behaviour log-probs equal the trainer's (share %.4f)" % r["logp_identical_share"], r["logp_mismatch_max"] < 1e-2)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
