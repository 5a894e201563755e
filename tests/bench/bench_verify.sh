#!/usr/bin/env bash
# Sandboxed code checks per second on this machine against a plain `python3` subprocess per
# check, in the same run (build/tests/verify_sandbox/bench_sandbox); then the same pool under
# hostile load: 8 sleepers, and 8 programs that used to cost the judge seconds of CPU
# (collide_patched), among 3000 correct answers. Results go to tests/bench/RESULTS.md,
# section "Verifier: sandboxed code checks".
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin=$BUILD/tests/verify_sandbox/bench_sandbox
[ -x "$bin" ] || make --no-print-directory "$bin"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
if [ -z "${STAGE_ONLY:-}" ]; then  # STAGE_ONLY=1: only the verify check part below
    "$bin" --checks "${CHECKS:-4000}" --plain "${PLAIN:-200}" ${WORKERS:+--workers "$WORKERS"}
    for h in sleep_import collide_patched; do
        echo "== hostile load: $h"
        "$bin" --checks "${HOSTILE_CHECKS:-3000}" --plain 2 --hostile "$h" --hostile-count 8 ${WORKERS:+--workers "$WORKERS"} |
            grep -E "^(sandbox|with|hostile|  CPU)"
    done
fi

# The stage itself under hostile load: `verify check` on 3000 correct answers (generated code
# problems, references), alone and with 8 sleepers or 8 judge-CPU programs (collide_patched)
# spread among them. VERIFY=path/to/verify compares another build.
verify=${VERIFY:-$BUILD/bin/verify}
[ -x "$verify" ] || make --no-print-directory "$BUILD/bin/verify"
work=$(mktemp -d /tmp/berry-bench-verify-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$verify" gen --out "$work/problems" --count 128 --kinds code --seed 7 --quiet >/dev/null 2>&1
"$BUILD/bin/shards" cat "$work/problems" 2>/dev/null | python3 -c '
import json, sys
probs = [json.loads(l) for l in sys.stdin]
hostile = {n: open("tests/verify_sandbox/hostile/%s.py" % n).read() for n in ("sleep_import", "collide_patched")}
def write(path, extra):
    with open(path, "w") as out:
        for i in range(3000):
            p = probs[i % len(probs)]
            out.write(json.dumps({"problem": str(p["id"]), "completion": p["solution"] + "<|endoftext|>"}) + "\n")
            if extra and i % 375 == 187:
                out.write(json.dumps({"problem": str(p["id"]), "completion": "<|answer|>" + hostile[extra] + "<|endoftext|>"}) + "\n")
write(sys.argv[1] + "/correct.jsonl", None)
for n in hostile:
    write(sys.argv[1] + "/%s.jsonl" % n, n)
' "$work"
for set in correct sleep_import collide_patched; do
    t0=$(date +%s.%N)
    "$verify" check --problems "$work/problems" --candidates "$work/$set.jsonl" --out "$work/out-$set" \
        ${WORKERS:+--workers "$WORKERS"} 2>"$work/$set.log" || { tail -n 3 "$work/$set.log"; echo "verify check failed on $set"; }
    t1=$(date +%s.%N)
    n=$(wc -l <"$work/$set.jsonl")
    printf "verify check, %s: %d candidates in %.2f s = %.0f checks/s; %s\n" "$set" "$n" "$(echo "$t1 - $t0" | bc)" \
        "$(echo "$n / ($t1 - $t0)" | bc -l)" "$(grep -o 'pass [0-9]* fail [0-9]* timeout [0-9]* crash [0-9]* violation [0-9]*' "$work/$set.log" | tail -n 1)"
done
