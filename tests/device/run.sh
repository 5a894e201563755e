#!/usr/bin/env bash
# make device-check: CUDA tests against the CPU reference, then the training benchmark beside
# PyTorch (../shared/bench/torch_gpt2.py, or $PEERS/torch_gpt2.py) in the same run.
# Set BENCH=0 to skip the benchmarks, QUICK=1 for d12 only.
set -u
B=${BUILD:-build}
PEERS=${PEERS:-../shared/bench}
OUT=${OUT:-/tmp}
export PYTHONUNBUFFERED=1
fail=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
for t in test_cuda_ops test_cuda_model test_cuda_decode; do
    echo "== $t"
    "$B/tests/device/$t" 2>&1 | tee "$OUT/$t.log"
    [ "${PIPESTATUS[0]}" = 0 ] || fail=1
done
if [ "${BENCH:-1}" = 1 ]; then
    echo "== training step benchmark (berry, then PyTorch, same machine, same call)"
    configs="12:64"
    [ "${QUICK:-0}" = 1 ] || configs="12:64 24:32"
    for c in $configs; do
        d=${c%%:*}; b=${c##*:}
        "$B/tests/device/bench_gpt2" "$d" "$b" 1024 30 2>&1 | tee -a "$OUT/bench.log"
        if [ -f "$PEERS/torch_gpt2.py" ]; then
            python3 "$PEERS/torch_gpt2.py" --depth "$d" --B "$b" --T 1024 --steps 30 2>&1 | grep -v Warning | tail -n 1 | tee -a "$OUT/bench.log"
        else
            echo "(no PyTorch peer at $PEERS/torch_gpt2.py: set PEERS)"
        fi
    done
fi
echo
grep -h -E "passed|failed" "$OUT"/test_cuda_*.log | tail -n 2
[ -f "$OUT/bench.log" ] && grep -E "^(berry|torch)" "$OUT/bench.log"
exit $fail
