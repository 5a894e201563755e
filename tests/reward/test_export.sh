#!/usr/bin/env bash
# test_export.sh — `reward export` (trajectories as prompt/completion JSON lines for other SFT
# trainers) on the fixture trees of rw_fixture (arithmetic trees whose verdicts come from the math
# verifier, with known scores), read back with python3's json module:
#   - every leaf once, with prompt, completion, problem_id, tree_id, node, policy_version, verdict
#     and scores equal to the shards' (shards cat of trees, verdicts and scores);
#   - --passed-only: exactly the passing leaves; --best-per-problem: one line per problem, a pass
#     where the problem has one, the highest ORM among its passes;
#   - reward prune's output exported with --problems: its prompts and solutions;
#   - usage errors exit 2 and create nothing; a failing export (trees without their verdicts)
#     exits 1 and leaves no file.
# Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
B=$(cd "${BUILD:-build}" && pwd)
R=$B/bin/reward
SH=$B/bin/shards
FX=$B/tests/reward/rw_fixture
T=$(mktemp -d "${TMPDIR:-/tmp}/berry-export.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

"$FX" tokenizer "$T/tok.bpe" && "$FX" tasks "$T/a" "$T/tok.bpe" 12 3 2 5 train
check "fixtures" test -f "$T/a/scores/CLOSED"
for d in traj verd scores problems; do "$SH" cat --quiet "$T/a/$d" > "$T/$d.cat" 2> /dev/null; done
"$SH" cat --quiet --tokenizer "$T/tok.bpe" "$T/a/traj" > "$T/traj_text.cat" 2> /dev/null

TR=(--trajectories "$T/a/traj" --verdicts "$T/a/verd" --tokenizer "$T/tok.bpe")
"$R" export "${TR[@]}" --scores "$T/a/scores" --out "$T/all.jsonl" 2> "$T/all.log"; rc=$?
check "export exits 0 ($(tail -n 1 "$T/all.log"))" test $rc = 0
"$R" export "${TR[@]}" --passed-only --out "$T/pass.jsonl" --quiet 2> /dev/null
"$R" export "${TR[@]}" --scores "$T/a/scores" --best-per-problem --out "$T/best.jsonl" --quiet 2> /dev/null
"$R" export "${TR[@]}" --best-per-problem --passed-only --out "$T/bestpass.jsonl" --quiet 2> /dev/null
check "the exported lines match the shards (fields, counts, verdicts, scores, text), filters hold" python3 - "$T" <<'EOF'
import json, sys
T = sys.argv[1]
def jl(name): return [json.loads(l) for l in open(T + "/" + name)]
verd, scores, probs = jl("verd.cat"), jl("scores.cat"), jl("problems.cat")
all_, passed, best, bestpass = jl("all.jsonl"), jl("pass.jsonl"), jl("best.jsonl"), jl("bestpass.jsonl")
fields = ["prompt", "completion", "problem_id", "tree_id", "node", "policy_version", "verdict", "orm", "prm_min", "prm_prod"]
assert all(list(r.keys()) == fields for r in all_), all_[0].keys()
assert all(isinstance(r["prompt"], str) and isinstance(r["completion"], str) and r["completion"] for r in all_)
# Every leaf exactly once, with its verdict.
key = lambda r: (r["problem_id"], r["tree_id"], r["node"])
want = {(v["problem_id"], v["tree_id"], v["node"]): v["outcome"] for v in verd}
got = {key(r): r["verdict"] for r in all_}
assert len(all_) == len(verd) == len(got) and got == want, (len(all_), len(verd))
# Scores as the score shards hold them.
sc = {(s["problem_id"], s["tree_id"], s["node"]): s for s in scores}
for r in all_:
    s = sc[key(r)]
    assert abs(r["orm"] - s["orm"]) < 1e-6 and abs(r["prm_min"] - s["prm_min"]) < 1e-6 and abs(r["prm_prod"] - s["prm_prod"]) < 1e-6
# Prompts are the problems' prompts; completions end with the answer line, no end-of-text.
pp = {p["id"]: p["prompt"] for p in probs}
assert all(r["prompt"] == pp[r["problem_id"]] for r in all_)
assert all("<|answer|>" in r["completion"] and not r["completion"].endswith("<|endoftext|>") for r in all_)
# A passing completion's answer is the problem's answer.
ans = {p["id"]: p["answer"] for p in probs}
for r in all_:
    a = r["completion"].split("<|answer|>")[1].strip()
    try: same = int(a) == int(ans[r["problem_id"]])  # the verifier compares by value ("036" is 36)
    except ValueError: same = False
    assert same == (r["verdict"] == "pass"), (a, r)
# --passed-only: exactly the passing leaves, in the same order.
assert passed == [dict(r, orm=None, prm_min=None, prm_prod=None) for r in all_ if r["verdict"] == "pass"], (len(passed))
assert 0 < len(passed) < len(all_)
# --best-per-problem: one per problem; a pass where there is one, the highest ORM among them.
pids = sorted({r["problem_id"] for r in all_})
assert [r["problem_id"] for r in best] == pids, "one line per problem, in problem order"
for r in best:
    mine = [x for x in all_ if x["problem_id"] == r["problem_id"]]
    if any(x["verdict"] == "pass" for x in mine):
        assert r["verdict"] == "pass" and r["orm"] == max(x["orm"] for x in mine if x["verdict"] == "pass")
    else:
        assert r["orm"] == max(x["orm"] for x in mine)
assert [r["problem_id"] for r in bestpass] == sorted({r["problem_id"] for r in passed})
assert all(r["verdict"] == "pass" for r in bestpass)
print("all %d, passed %d, best %d, best passed %d" % (len(all_), len(passed), len(best), len(bestpass)))
EOF

# reward prune's output as JSON lines.
"$R" prune --trajectories "$T/a/traj" --verdicts "$T/a/verd" --problems "$T/a/problems" --tokenizer "$T/tok.bpe" \
    --order verdict --keep 2 --passed-only --out "$T/p" --quiet 2> /dev/null
"$SH" cat --quiet "$T/p" > "$T/p.cat" 2> /dev/null
"$R" export --problems "$T/p" --out "$T/p.jsonl" --quiet 2> "$T/p.log"; rc=$?
check "prune output exported: one line per solution, its prompt, solution and answer (exit $rc)" python3 - "$T" <<'EOF'
import json, sys
T = sys.argv[1]
recs = [json.loads(l) for l in open(T + "/p.cat")]
out = [json.loads(l) for l in open(T + "/p.jsonl")]
assert len(recs) == len(out) > 0
for p, r in zip(recs, out):
    assert list(r.keys()) == ["prompt", "completion", "id", "task", "split", "answer"], r.keys()
    assert (r["prompt"], r["completion"], r["id"], r["task"], r["answer"]) == (p["prompt"], p["solution"], p["id"], p["task"], p["answer"])
EOF

# ---- errors -------------------------------------------------------------------------------------------------
usage() {  # usage NAME NEEDLE ARGS...
    local name=$1 needle=$2; shift 2
    "$R" export "$@" > /dev/null 2> "$T/u.err"; local rc=$?
    if [ $rc = 2 ] && grep -qF -- "$needle" "$T/u.err" && [ "$(wc -l < "$T/u.err")" = 1 ] && [ ! -e "$T/u.jsonl" ]; then ok
    else bad "$name: exit $rc, $(cat "$T/u.err")"; fi
}
usage "no --out" "--out FILE is required" "${TR[@]}"
usage "neither input" "give either --trajectories" --out "$T/u.jsonl"
usage "both inputs" "give either --trajectories" "${TR[@]}" --problems "$T/p" --out "$T/u.jsonl"
usage "trees without verdicts" "--trajectories needs --verdicts and --tokenizer" --trajectories "$T/a/traj" --out "$T/u.jsonl"
usage "--problems with a tree filter" "--problems takes no" --problems "$T/p" --passed-only --out "$T/u.jsonl"
"$FX" tasks "$T/b" "$T/tok.bpe" 4 2 0 9 train
"$R" export --trajectories "$T/a/traj" --verdicts "$T/b/verd" --tokenizer "$T/tok.bpe" --out "$T/x.jsonl" --quiet 2> "$T/x.err"; rc=$?
check "verdicts of other trees: exit 1, a message, no file" bash -c "[ $rc = 1 ] && [ -s '$T/x.err' ] && [ ! -e '$T/x.jsonl' ] && [ -z \"\$(ls '$T' | grep 'x.jsonl.tmp')\" ]"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
