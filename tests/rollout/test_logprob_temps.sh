#!/usr/bin/env bash
# test_logprob_temps.sh — tests/device/logprob_temps.sh on the CPU with a tiny random policy
# (issue 20): rollout at temperatures 0.3, 0.7, 1.0 and 1.5, plain, with top-k and with top-k
# and top-p; verify run to the end over each output; every recorded log-prob finite and <= 0;
# the recorded log-probs equal to the trainer's (training forward + kb_classifier at 1/T) bit
# for bit (MAX_DIFF=0). And that the comparison does fail at another temperature. Ends with
# "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
FX=$B/tests/rollout/ro_fixture
T=$(mktemp -d /tmp/logprob_temps.XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
if ! { "$FX" tokenizer "$T/tok.bpe" 400 && "$FX" problems "$T/probs" 0 12 6 11 close &&
       "$FX" policy "$T/pol.bin" "$T/tok.bpe" 256 11; } > "$T/fixture.log" 2>&1; then
    cat "$T/fixture.log"; echo "fixture failed"; echo "0 passed, 1 failed"; exit 1
fi
OUT=$T/out BUILD=$B BACKEND=cpu MODEL=$T/pol.bin TOKENIZER=$T/tok.bpe PROBLEMS=$T/probs ROOTS=3 DEPTH=1 MAXNEW=40 \
    MAX_DIFF=0 bash tests/device/logprob_temps.sh > "$T/script.log" 2>&1
summary=$(tail -n 1 "$T/script.log")
read -r pass _ fail _ <<< "$summary"
if ! [[ "$pass" =~ ^[0-9]+$ && "$fail" =~ ^[0-9]+$ ]] || [ "$pass" -lt 60 ]; then
    # 5 checks for each of the 12 configurations
    cat "$T/script.log"; echo "logprob_temps.sh: '$summary', expected 60 checks"; pass=${pass//[^0-9]/}; fail=$(( ${fail//[^0-9]/0} + 1 ))
else
    grep FAIL "$T/script.log"
fi
# The comparison is sensitive: the same trajectories against the trainer at 1.0 instead of 0.7.
if "$B/tests/device/logprob_compare" --policy "$T/pol.bin" --trajectories "$T/out/traj-T0.7_k0_p1" --temperature 1.0 \
    --backend cpu --max-diff 0 > "$T/wrong.txt" 2>&1; then
    fail=$((fail + 1)); echo "FAIL: logprob_compare accepted T=0.7 trajectories compared at T=1.0"
else
    pass=$((pass + 1))
fi
echo "${pass:-0} passed, $fail failed"
[ "$fail" = 0 ]
