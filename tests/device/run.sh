#!/usr/bin/env bash
# make device-check: the GPU checks and benchmarks, on a machine with an NVIDIA GPU.
#   1. CUDA ops, the model and the decoding path against the CPU reference (tests/device/test_*)
#   2. the training step beside PyTorch (../shared/bench/torch_gpt2.py) at d12 and d24
#   3. rollout scenarios A-D and L beside PyTorch/HF generation (torch_decode.py, hf_generate.py)
#   4. the pretrain stage (tests/pretrain/device_pretrain.sh): throughput and resume
#   5. logprob, only when asked (PARTS=logprob; it needs build/bin/verify and bin/rollout):
#      tests/device/logprob_temps.sh, rollout at temperatures 0.3-1.5 with top-k/top-p, verify
#      run over each, recorded log-probs <= 0 and against the trainer's (issue 20)
#   6. reward, only when asked (PARTS=reward; tests/reward/device_reward.sh): ORM and PRM on the
#      demo's model, best-of-N on its held-out problems, scoring throughput (needs tests/demo.sh's
#      output, or MODEL= etc.)
#   7. interop, only when asked (PARTS=interop; tests/interop/device_interop.sh, issue 15): the demo's
#      model exported to transformers (logits within 1e-4, same greedy tokens) and transformers'
#      random GPT-2s imported into berry (needs torch and transformers)
#   8. ppo, only when asked (PARTS=ppo; tests/ppo/device_ppo.sh, issue 12): one PPO iteration on the
#      GPU demo's model, time per phase, FLOPs per model, update tok/s beside pretraining's
# Parts 5-8 need a model: DEMO (a berry run directory) or, without it, tests/device/demo_base.sh
# makes the GPU demo's base (and its one RL iteration) in $OUT/demo once for all of them.
# Parts: PARTS="tests train rollout pretrain" (default: these four). PEERS=dir of the peer scripts
# (default ../shared/bench). Logs go to $OUT (default /tmp/berry-device).
# cuDNN from a Python wheel is found automatically (nvidia.cudnn); NVLink multicast stays off.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
PEERS=${PEERS:-../shared/bench}
OUT=${OUT:-/tmp/berry-device}
PARTS=${PARTS:-tests train rollout pretrain}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0
cudnn_lib=$(python3 -c "import nvidia.cudnn as c, os; print(os.path.join(c.__path__[0], 'lib'))" 2>/dev/null)
[ -n "$cudnn_lib" ] && export LD_LIBRARY_PATH="$cudnn_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
has() { case " $PARTS " in *" $1 "*) return 0;; esac; return 1; }
fail=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

if has tests; then
    for t in test_cuda_ops test_cuda_model test_cuda_decode test_cuda_rl; do
        "$B/tests/device/$t" > "$OUT/$t.log" 2>&1; rc=$?
        echo "== $t: $(tail -n 1 "$OUT/$t.log") (exit $rc)"
        [ $rc = 0 ] || { fail=1; grep FAIL "$OUT/$t.log" | head; }
    done
fi
if has train; then
    echo "== training step (berry, then PyTorch, same machine)"
    "$B/tests/device/bench_ops" attn-time 2>&1 | grep -E "^  (fwd|bwd)" | tee "$OUT/attention.log"
    for c in 12:64:30 24:32:25; do
        IFS=: read -r d b s <<< "$c"
        "$B/tests/device/bench_gpt2" "$d" "$b" 1024 "$s" 2>&1 | grep -v '^attention:' | tee -a "$OUT/train.log"
        if [ -f "$PEERS/torch_gpt2.py" ]; then
            python3 "$PEERS/torch_gpt2.py" --depth "$d" --B "$b" --T 1024 --steps "$s" 2>&1 | tail -n 1 | tee -a "$OUT/train.log"
        else
            echo "(no $PEERS/torch_gpt2.py: set PEERS)"
        fi
    done
fi
if has rollout; then
    echo "== rollout (berry, then PyTorch static-cache decode and HF generate)"
    "$B/tests/device/bench_rollout" 2>&1 | tee "$OUT/rollout.log"
    [ -f "$PEERS/torch_decode.py" ] && python3 "$PEERS/torch_decode.py" 12 64,256 2>&1 | grep -E "^torch" | tee -a "$OUT/rollout.log"
    [ -f "$PEERS/hf_generate.py" ] && python3 "$PEERS/hf_generate.py" 12 2>&1 | grep -E "^hf" | tee -a "$OUT/rollout.log"
fi
if has pretrain && [ -f tests/pretrain/device_pretrain.sh ]; then
    bash tests/pretrain/device_pretrain.sh 2>&1 | tee "$OUT/pretrain.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail=1
fi
if { has logprob || has reward || has interop || has ppo; } && [ -z "${DEMO:-}" ]; then
    echo "== the GPU demo's base model (tests/device/demo_base.sh into $OUT/demo)"
    BUILD=$B bash tests/device/demo_base.sh "$OUT/demo" || fail=1
    export DEMO=$OUT/demo
fi
if has logprob; then
    OUT="$OUT/logprob" BUILD=$B bash tests/device/logprob_temps.sh 2>&1 | tee "$OUT/logprob.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail=1
fi
if has ppo; then
    OUT="$OUT" BUILD=$B bash tests/ppo/device_ppo.sh 2>&1 | tee "$OUT/ppo.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail=1
fi
if has reward && [ -f tests/reward/device_reward.sh ]; then
    BUILD=$B bash tests/reward/device_reward.sh 2>&1 | tee "$OUT/reward.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail=1
fi
if has interop && [ -f tests/interop/device_interop.sh ]; then
    OUT="$OUT" BUILD=$B bash tests/interop/device_interop.sh 2>&1 | tee "$OUT/interop.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail=1
fi
exit $fail
