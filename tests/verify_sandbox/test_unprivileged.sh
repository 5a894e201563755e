#!/usr/bin/env bash
# test_unprivileged.sh — the sandbox started by an unprivileged user (uid 65534 when the
# suite runs as root): the user namespace is created without privilege (the host writes a
# one-id map and denies setgroups), every layer must still be confirmed, and a verify check
# of generated code problems gives the right verdicts.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
pass=0
fail=0
check() {  # check NAME COMMAND...
    local name=$1
    shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}

work=$(mktemp -d /tmp/berry-unpriv-XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
# The binary is copied where any uid can run it (the checkout may be under /root).
cp "$BUILD/bin/verify" "$work/verify"
chmod 755 "$work/verify"
as_user=()
if [ "$(id -u)" = 0 ]; then
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
fi
# An interpreter every uid can reach (a pyenv python under /root is not).
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)

out=$("${as_user[@]}" "$work/verify" sandbox-info --python "$python" 2>&1)
rc=$?
echo "$out"
check "sandbox-info exits 0 as uid $("${as_user[@]}" id -u)" test "$rc" = 0
for layer in userns mntns pidns netns ipcns unprivileged landlock no_new_privs seccomp rlimits; do
    check "layer $layer active" grep -Eq "^  $layer +active" <<<"$out"
done
check "workers run as the invoking uid" grep -q "outside uid $("${as_user[@]}" id -u)," <<<"$out"

# Generated code problems, the reference solution and a wrong one for each.
"$BUILD/bin/verify" gen --out "$work/problems" --count 30 --kinds code --seed 9 --quiet
check "gen" test $? = 0
"$BUILD/bin/shards" cat "$work/problems" 2>/dev/null | "$python" -c '
import json, sys
with open(sys.argv[1], "w") as out:
    for line in sys.stdin:
        p = json.loads(line)
        out.write(json.dumps({"problem": p["id"], "node": 0, "completion": p["solution"] + "<|endoftext|>"}) + "\n")
        bad = p["solution"].split("<|answer|>")[0] + "<|answer|>def f(x):\n    return x\n<|endoftext|>"
        out.write(json.dumps({"problem": p["id"], "node": 1, "completion": bad}) + "\n")
' "$work/cands.jsonl"
chmod -R a+rX "$work"
mkdir "$work/out" && chmod 777 "$work/out"
"${as_user[@]}" "$work/verify" check --problems "$work/problems" --candidates "$work/cands.jsonl" \
    --out "$work/out/verdicts" --python "$python" --workers 2 >"$work/check.log" 2>&1
rc=$?
tail -n 3 "$work/check.log"
check "verify check exits 0" test "$rc" = 0
summary=$("$BUILD/bin/shards" cat "$work/out/verdicts" 2>/dev/null | "$python" -c '
import collections, json, sys
c = collections.Counter((json.loads(l)["node"], json.loads(l)["outcome"]) for l in sys.stdin)
print(c[(0, "pass")], c[(1, "fail")], sum(c.values()))')
echo "verdicts (reference pass, wrong fail, total): $summary"
check "every reference passes and every wrong answer fails" test "$summary" = "30 30 60"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
