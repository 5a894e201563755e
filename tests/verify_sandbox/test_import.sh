#!/usr/bin/env bash
# test_import.sh — `verify import` (JSON-lines problems into problem shards), end to end:
#   - GSM8K-, MATH- and MBPP-style files round-trip: import -> shards cat shows the same prompts and
#     final answers / tests, the solutions in the step format;
#   - a reimport gives the same ids; repeated prompts are removed and counted;
#   - every class of bad line is refused with FILE:LINE and its reason, exit 1, nothing written;
#     --skip-bad leaves them out and counts them;
#   - --heldout-frac: the two directories are disjoint by id, together hold every problem, follow
#     the documented rule (id >> 11) / 2^53 < F, and are the same on a second run;
#   - imported problems are verified like generated ones (verify check): a correct answer passes and
#     a wrong one fails, for a GSM8K problem, a MATH problem and an MBPP problem (in the sandbox);
#   - usage errors exit 2 and create nothing.
# Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
B=$(cd "${BUILD:-build}" && pwd)
V=$B/bin/verify
SH=$B/bin/shards
T=$(mktemp -d "${TMPDIR:-/tmp}/berry-import.XXXXXX")
trap "rm -rf \"$T\"" EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

# ---- fixtures ----------------------------------------------------------------------------------------
python3 - "$T" <<'EOF'
import json, sys
T = sys.argv[1]
gsm = [
    {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?",
     "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"},
    {"question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
     "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10"},
    {"question": "A shop sold 1234 pens. How many?\r\n", "answer": "It sold 1,234.\r\n#### 1,234"},
    {"question": "Caf\u00e9 \u2014 how many cups are 2 and 3?", "answer": "2 + 3 = 5\n#### 5"},
]
with open(T + "/gsm.jsonl", "w") as f:
    for g in gsm: f.write(json.dumps(g) + "\n")
    f.write("\n")                                   # a blank line is ignored
    f.write(json.dumps(gsm[0]) + "\n")              # the same line again: a duplicate
    f.write(json.dumps({"question": gsm[1]["question"], "answer": "other words\n#### 10"}) + "\n")  # same prompt and answer: a duplicate
math = [
    {"problem": "What is $\\frac{1}{2} + \\frac{1}{3}$?", "solution": "We have $\\frac12+\\frac13=\\frac{3}{6}+\\frac{2}{6}$.\nSo the answer is $\\boxed{\\frac{5}{6}}$.", "level": "Level 2", "type": "Prealgebra"},
    {"problem": "Expand $(x+1)(x+2)$.", "solution": "It is $\\boxed{x^2+3x+2}$.", "level": "Level 1", "type": "Algebra"},
    {"problem": "Simplify $\\dfrac{2x}{4}$.", "solution": "$\\boxed{\\dfrac{x}{2}}$", "level": "Level 4", "type": "Algebra"},
]
with open(T + "/math.jsonl", "w") as f:
    for m in math: f.write(json.dumps(m) + "\n")
mbpp = [
    {"task_id": 2, "text": "Write a function to find the shared elements from the given two lists.",
     "code": "def similar_elements(test_tup1, test_tup2):\r\n  res = tuple(set(test_tup1) & set(test_tup2))\r\n  return (res) ",
     "test_list": ["assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))",
                   "assert set(similar_elements((1, 2, 3, 4),(5, 4, 3, 7))) == set((3, 4))",
                   "assert set(similar_elements((11, 12, 14, 13),(17, 15, 14, 13))) == set((13, 14))"],
     "test_setup_code": "", "challenge_test_list": []},
    {"task_id": 3, "text": "Write a python function to identify non-prime numbers.",
     "code": "import math\r\ndef is_not_prime(n):\r\n    result = False\r\n    for i in range(2,int(math.sqrt(n)) + 1):\r\n        if n % i == 0:\r\n            result = True\r\n    return result",
     "test_list": ["assert is_not_prime(2) == False", "assert is_not_prime(10) == True", "assert is_not_prime(35) == True"],
     "test_setup_code": "", "challenge_test_list": []},
]
with open(T + "/mbpp.jsonl", "w") as f:
    for m in mbpp: f.write(json.dumps(m) + "\n")
# Many distinct problems for the split.
with open(T + "/many.jsonl", "w") as f:
    for i in range(300):
        f.write(json.dumps({"prompt": "Compute %d + %d." % (i, 2 * i), "answer": str(3 * i)}) + "\n")
with open(T + "/many_plus.jsonl", "w") as f:
    for i in range(4):
        f.write(json.dumps({"prompt": "Other %d?" % i, "answer": str(i)}) + "\n")
    f.write(open(T + "/many.jsonl").read())
json.dump({"gsm": gsm, "math": math, "mbpp": mbpp}, open(T + "/src.json", "w"))
EOF

cat_json() { "$SH" cat --quiet "$1" 2> /dev/null; }

# ---- GSM8K: round trip, duplicates, reimport ----------------------------------------------------------
"$V" import --preset gsm8k --out "$T/g" "$T/gsm.jsonl" 2> "$T/g.log"; rc=$?
check "gsm8k import exits 0 ($(tail -n 1 "$T/g.log"))" test $rc = 0
check "gsm8k: 2 duplicates removed and counted, the blank line ignored" grep -q "7 lines (1 blank), 4 problems: 4 train -> .*; 2 duplicates removed, 0 bad lines skipped" "$T/g.log"
cat_json "$T/g" > "$T/g.cat"
check "gsm8k: shards cat shows each prompt, answer and solution" python3 - "$T" <<'EOF'
import json, sys, re
T = sys.argv[1]
src = json.load(open(T + "/src.json"))["gsm"]
recs = [json.loads(l) for l in open(T + "/g.cat")]
assert len(recs) == 4, len(recs)
for s, r in zip(src, recs):
    q = s["question"].replace("\r\n", "\n").strip()
    final = s["answer"].split("####")[-1].strip()
    assert r["prompt"] == q + "\n", (r["prompt"], q)
    assert r["answer"] == final, (r["answer"], final)
    assert r["task"] == "arith" and r["split"] == "train" and r["tests"] == "" and r["difficulty"] == 1, r
    steps = [re.sub(r"<<[^>]*>>", "", l).strip() for l in s["answer"].replace("\r\n", "\n").split("####")[0].split("\n") if l.strip()]
    want = "".join("<|step|>" + l + "\n" for l in steps) + "<|answer|>" + final + "\n"
    assert r["solution"] == want, (r["solution"], want)
EOF
"$V" import --quiet --preset gsm8k --out "$T/g2" "$T/gsm.jsonl" 2> /dev/null
cat_json "$T/g2" > "$T/g2.cat"
check "a reimport gives the same records and ids" cmp -s "$T/g.cat" "$T/g2.cat"
"$V" import --quiet --preset gsm8k --out "$T/g3" "$T/gsm.jsonl" "$T/gsm.jsonl" 2> "$T/g3.log"
check "two copies of one file: the second is all duplicates" bash -c "grep -q '4 problems: 4 train.*; 8 duplicates removed' '$T/g3.log' && cmp -s '$T/g.cat' <('$SH' cat --quiet '$T/g3')"

# ---- MATH and MBPP ------------------------------------------------------------------------------------
"$V" import --quiet --preset math --out "$T/x" "$T/math.jsonl" 2> "$T/x.log"; rc=$?
cat_json "$T/x" > "$T/x.cat"
check "math: boxed answers as the verifier reads them, kinds, levels as difficulty ($(tail -n 1 "$T/x.log"))" python3 - "$T" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/x.cat")]
got = [(r["answer"], r["task"], r["difficulty"]) for r in recs]
assert got == [("5/6", "arith", 2), ("x^2+3x+2", "algebra", 1), ("(x)/(2)", "algebra", 4)], got
assert recs[0]["solution"].endswith("<|answer|>5/6\n") and recs[0]["solution"].startswith("<|step|>We have"), recs[0]
EOF
"$V" import --quiet --preset mbpp --out "$T/m" "$T/mbpp.jsonl" 2> "$T/m.log"; rc=$?
cat_json "$T/m" > "$T/m.cat"
check "mbpp: tests, the function's name and an example in the prompt, the code as the solution (exit $rc)" python3 - "$T" <<'EOF'
import json, sys
T = sys.argv[1]
src = json.load(open(T + "/src.json"))["mbpp"]
recs = [json.loads(l) for l in open(T + "/m.cat")]
assert len(recs) == 2
for s, r, name in zip(src, recs, ["similar_elements", "is_not_prime"]):
    assert r["task"] == "code" and r["answer"] == "", r
    assert r["tests"] == "\n".join(s["test_list"]), r["tests"]
    ex = s["test_list"][0][len("assert "):]
    assert r["prompt"] == s["text"] + "\nName the function %s. Examples:\n%s\n" % (name, ex), r["prompt"]
    assert r["solution"] == "<|answer|>" + s["code"].replace("\r\n", "\n").strip() + "\n", r["solution"]
EOF

# ---- imported problems are verified like generated ones ---------------------------------------------------
python3 - "$T" <<'EOF'
import json, sys
T = sys.argv[1]
def recs(d): return [json.loads(l) for l in open(T + "/" + d + ".cat")]
g, x, m = recs("g"), recs("x"), recs("m")
def line(f, pid, text): f.write(json.dumps({"problem": str(pid), "completion": text}) + "\n")
with open(T + "/cand_g.jsonl", "w") as f:
    line(f, g[0]["id"], "<|step|>48 / 2 = 24\n<|answer|>72\n<|endoftext|>")   # pass
    line(f, g[0]["id"], "<|answer|>71\n<|endoftext|>")                        # fail
    line(f, g[2]["id"], "<|answer|>1234\n")                                   # pass: 1,234 by value
with open(T + "/cand_x.jsonl", "w") as f:
    line(f, x[0]["id"], "<|answer|>10/12\n")                                  # pass
    line(f, x[1]["id"], "<|answer|>(x+2)(x+1)\n")                             # pass: equivalent
    line(f, x[1]["id"], "<|answer|>x^2+3x+1\n")                               # fail
with open(T + "/cand_m.jsonl", "w") as f:
    line(f, m[1]["id"], m[1]["solution"] + "<|endoftext|>")                   # pass: the reference
    line(f, m[1]["id"], "<|answer|>def is_not_prime(n):\n    return False\n")  # fail
    line(f, m[0]["id"], "<|step|>intersect\n" + m[0]["solution"])             # pass
    line(f, m[0]["id"], "<|answer|>def similar_elements(a, b):\n    return a\n")  # fail
EOF
outcomes() { "$SH" cat --quiet "$1" 2> /dev/null | python3 -c 'import json,sys; print(" ".join(json.loads(l)["outcome"] for l in sys.stdin))'; }
"$V" check --quiet --problems "$T/g" --candidates "$T/cand_g.jsonl" --out "$T/vg" 2> "$T/vg.log"
check "gsm8k problem: a correct answer passes, a wrong one fails ($(outcomes "$T/vg"))" test "$(outcomes "$T/vg")" = "pass fail pass"
"$V" check --quiet --problems "$T/x" --candidates "$T/cand_x.jsonl" --out "$T/vx" 2> "$T/vx.log"
check "math problem: correct answers pass, a wrong one fails ($(outcomes "$T/vx"))" test "$(outcomes "$T/vx")" = "pass pass fail"
"$V" check --quiet --problems "$T/m" --candidates "$T/cand_m.jsonl" --out "$T/vm" --workers 2 2> "$T/vm.log"
check "mbpp problem in the sandbox: correct code passes, wrong code fails ($(outcomes "$T/vm"); $(tail -n 1 "$T/vm.log"))" \
    test "$(outcomes "$T/vm")" = "pass fail pass fail"

# ---- bad lines, one test per class ------------------------------------------------------------------------
# refused NAME PRESET LINE NEEDLE [OPTIONS...]: a file of one good line and LINE as line 2 fails with
# FILE:2: NEEDLE, exit 1, and writes nothing.
good_gsm='{"question": "What is 1 + 1?", "answer": "#### 2"}'
good_mbpp='{"text": "Add.", "test_list": ["assert add(1, 2) == 3"]}'
good_math='{"problem": "Half?", "solution": "$\\boxed{\\frac{1}{2}}$"}'
refused() {
    local name=$1 preset=$2 bad_line=$3 needle=$4; shift 4
    local good=$good_gsm
    [ "$preset" = mbpp ] && good=$good_mbpp
    [ "$preset" = math ] && good=$good_math
    printf '%s\n%s\n' "$good" "$bad_line" > "$T/bad.jsonl"
    rm -rf "$T/bad_out"
    "$V" import --quiet --preset "$preset" --out "$T/bad_out" "$@" "$T/bad.jsonl" > /dev/null 2> "$T/bad.err"; local rc=$?
    if [ $rc = 1 ] && grep -qF "verify import: error: $T/bad.jsonl:2: $needle" "$T/bad.err" && [ ! -e "$T/bad_out" ] &&
        [ -z "$(ls "$T" | grep 'bad_out.tmp')" ]; then ok
    else bad "$name: exit $rc, $(cat "$T/bad.err") (wanted exit 1, '$T/bad.jsonl:2: $needle', no output)"; fi
}
refused "not JSON" gsm8k '{"question": "x", "answer": "#### 1",}' 'not JSON: column 38: trailing comma'
refused "truncated JSON" gsm8k '{"question": "x", "answer": "#### 1"' "not JSON: column 37: expected ',' or '}'"
refused "not an object" gsm8k '["question", "answer"]' 'expected a JSON object, found an array'
refused "missing field" gsm8k '{"question": "What?"}' 'missing field "answer" (the answer'
refused "missing prompt" gsm8k '{"q": "What?", "answer": "#### 1"}' 'missing field "question" (the prompt'
refused "wrong type" gsm8k '{"question": 12, "answer": "#### 1"}' 'field "question" (the prompt) is a number, expected a string'
refused "empty prompt" gsm8k '{"question": "  \n ", "answer": "#### 1"}' 'field "question" (the prompt) is empty'
refused "no ####" gsm8k '{"question": "What?", "answer": "It is 4."}' 'field "answer" (the answer): no "####" before the final answer'
refused "empty final answer" gsm8k '{"question": "What?", "answer": "It is.\n####  "}' 'field "answer" (the answer): empty final answer after "####"'
refused "an answer the verifier cannot read" gsm8k '{"question": "What?", "answer": "#### four"}' 'field "answer": the final answer "four" is not one the math verifier can check'
refused "over-long line" gsm8k "{\"question\": \"$(printf 'a%.0s' $(seq 200))\", \"answer\": \"#### 1\"}" 'line of 236 bytes, more than --max-line-bytes 128' --max-line-bytes 128
refused "a NUL byte" gsm8k '{"question": "a\u0000b", "answer": "#### 1"}' 'field "question" holds a NUL byte'
refused "duplicate key" gsm8k '{"question": "a", "question": "b", "answer": "#### 1"}' 'not JSON: column 19: duplicate key "question"'
refused "same prompt, another answer" gsm8k '{"question": "What is 1 + 1?", "answer": "#### 3"}' "the prompt of $T/bad.jsonl:1 with a different reference answer"
refused "boxed LaTeX the verifier does not read" math '{"problem": "Root?", "solution": "$\\boxed{\\sqrt{2}}$"}' 'field "solution" (the answer): boxed answer uses \sqrt, which the math verifier does not read'
refused "no boxed answer" math '{"problem": "Root?", "solution": "It is 2."}' 'field "solution" (the answer): no \boxed{...} final answer'
refused "mbpp tests of the wrong type" mbpp '{"text": "Sub.", "test_list": "assert sub(1) == 1" , "code": 5}' 'field "code" (the solution) is a number, expected a string'
refused "mbpp test items not strings" mbpp '{"text": "Sub.", "test_list": [1, 2]}' 'field "test_list" (the tests): item 0 is a number, expected a string'
refused "mbpp no function called" mbpp '{"text": "Sub.", "test_list": ["assert 1 == 1"]}' 'the tests call no function'
refused "mbpp empty tests" mbpp '{"text": "Sub.", "test_list": []}' 'field "test_list" (the tests) is empty'
refused "unknown task kind" gsm8k '{"question": "What?", "answer": "#### 1", "kind": "poetry"}' 'field "kind": unknown task kind "poetry"' --map task=kind

# --skip-bad: the bad lines are left out, reported and counted.
python3 - "$T" <<'EOF'
import json, sys
T = sys.argv[1]
with open(T + "/mixed.jsonl", "w") as f:
    f.write(json.dumps({"question": "One?", "answer": "#### 1"}) + "\n")
    f.write("not json\n")
    f.write(json.dumps({"question": "Two?"}) + "\n")
    f.write(json.dumps({"question": "Three?", "answer": "#### 3"}) + "\n")
    f.write(json.dumps({"question": "", "answer": "#### 3"}) + "\n")
EOF
"$V" import --quiet --preset gsm8k --skip-bad --out "$T/sk" "$T/mixed.jsonl" 2> "$T/sk.log"; rc=$?
check "--skip-bad: exit 0, 2 problems, 3 bad lines counted, each reported by line" bash -c "[ $rc = 0 ] &&
    grep -q '5 lines (0 blank), 2 problems: 2 train.*; 0 duplicates removed, 3 bad lines skipped' '$T/sk.log' &&
    grep -q 'skipped $T/mixed.jsonl:2: not JSON' '$T/sk.log' && grep -q 'skipped $T/mixed.jsonl:3: missing field' '$T/sk.log' &&
    grep -q 'skipped $T/mixed.jsonl:5: field \"question\" (the prompt) is empty' '$T/sk.log' && [ \$('$SH' cat --quiet '$T/sk' | wc -l) = 2 ]"
"$V" import --quiet --preset gsm8k --out "$T/sk2" "$T/mixed.jsonl" 2> "$T/sk2.log"; rc=$?
check "without --skip-bad the first bad line fails the import and nothing is written" bash -c "[ $rc = 1 ] && [ ! -e '$T/sk2' ] && grep -q 'mixed.jsonl:2: not JSON' '$T/sk2.log'"
printf 'not json\n' > "$T/allbad.jsonl"
"$V" import --quiet --skip-bad --out "$T/ab" "$T/allbad.jsonl" 2> "$T/ab.log"; rc=$?
check "--skip-bad with no good line: exit 1, no problems, nothing written" bash -c "[ $rc = 1 ] && [ ! -e '$T/ab' ] && grep -q 'no problems in' '$T/ab.log'"

# ---- the held-out split -----------------------------------------------------------------------------------
"$V" import --quiet --out "$T/tr" --heldout-out "$T/ho" --heldout-frac 0.3 "$T/many.jsonl" 2> "$T/split.log"; rc=$?
"$V" import --quiet --out "$T/tr2" --heldout-out "$T/ho2" --heldout-frac 0.3 "$T/many.jsonl" 2> /dev/null
"$V" import --quiet --out "$T/all" "$T/many.jsonl" 2> /dev/null
for d in tr ho tr2 ho2 all; do cat_json "$T/$d" > "$T/$d.cat"; done
check "held-out split: disjoint by id, together every problem, the documented rule, the same on a second run (exit $rc)" python3 - "$T" <<'EOF'
import json, sys
T = sys.argv[1]
def ids(d): return [json.loads(l)["id"] for l in open(T + "/" + d + ".cat")]
def splits(d): return {json.loads(l)["split"] for l in open(T + "/" + d + ".cat")}
tr, ho, al = ids("tr"), ids("ho"), ids("all")
assert not set(tr) & set(ho), "overlap"
assert sorted(tr + ho) == sorted(al) and len(al) == 300, (len(tr), len(ho), len(al))
assert all((i >> 11) / 2**53 < 0.3 for i in ho) and all((i >> 11) / 2**53 >= 0.3 for i in tr)
assert 45 <= len(ho) <= 135, len(ho)
assert splits("tr") == {"train"} and splits("ho") == {"heldout"}
assert open(T + "/tr.cat").read() == open(T + "/tr2.cat").read() and open(T + "/ho.cat").read() == open(T + "/ho2.cat").read()
EOF
"$V" import --quiet --out "$T/hs" --heldout-out "$T/hs_h" --heldout-frac 0.5 "$T/many_plus.jsonl" 2> /dev/null
for d in hs hs_h; do cat_json "$T/$d" > "$T/$d.cat"; done
check "a problem's split does not depend on the other lines or on --heldout-frac's run" python3 - "$T" <<'EOF2'
import json, sys
T = sys.argv[1]
def ids(d): return {json.loads(l)["id"] for l in open(T + "/" + d + ".cat")}
many = ids("all")
# At 0.5 every problem held out at 0.3 is still held out; the file's other lines change nothing.
assert ids("ho") <= ids("hs_h") & many, "held-out set moved"
assert (ids("hs") | ids("hs_h")) >= many and len(ids("hs") | ids("hs_h")) == 304
EOF2

# ---- usage errors and outputs -------------------------------------------------------------------------------
usage() {  # usage NAME NEEDLE ARGS...: exit 2, one line naming NEEDLE, nothing created
    local name=$1 needle=$2; shift 2
    rm -rf "$T/u_out" "$T/u_ho"
    "$V" import "$@" > /dev/null 2> "$T/u.err"; local rc=$?
    if [ $rc = 2 ] && grep -qF -- "$needle" "$T/u.err" && [ "$(wc -l < "$T/u.err")" = 1 ] && [ ! -e "$T/u_out" ] && [ ! -e "$T/u_ho" ]; then ok
    else bad "$name: exit $rc, $(cat "$T/u.err")"; fi
}
usage "no --out" "--out DIR is required" "$T/gsm.jsonl"
usage "no input" "no input FILE given" --out "$T/u_out"
usage "--heldout-frac without --heldout-out" "--heldout-frac 0.2 needs --heldout-out DIR" --out "$T/u_out" --heldout-frac 0.2 "$T/gsm.jsonl"
usage "--heldout-out without a fraction" "--heldout-out needs --heldout-frac" --out "$T/u_out" --heldout-out "$T/u_ho" "$T/gsm.jsonl"
usage "an unknown preset" "--preset" --out "$T/u_out" --preset alpaca "$T/gsm.jsonl"
usage "a bad --map" "--map: unknown key 'question'" --out "$T/u_out" --map question=q "$T/gsm.jsonl"
"$V" import --quiet --preset gsm8k --out "$T/g" "$T/gsm.jsonl" 2> "$T/again.err"; rc=$?
check "an --out that holds shards is refused (nothing overwritten)" bash -c "[ $rc = 1 ] && grep -q 'already holds' '$T/again.err' && cmp -s '$T/g.cat' <('$SH' cat --quiet '$T/g')"
mkdir -p "$T/empty"
"$V" import --quiet --preset gsm8k --out "$T/empty" "$T/gsm.jsonl" 2> /dev/null; rc=$?
check "an empty --out directory is filled" bash -c "[ $rc = 0 ] && cmp -s '$T/g.cat' <('$SH' cat --quiet '$T/empty')"
"$V" import --quiet --out "$T/nf" "$T/no_such.jsonl" 2> "$T/nf.err"; rc=$?
check "a missing input file: exit 1, named, nothing written" bash -c "[ $rc = 1 ] && grep -q 'no_such.jsonl' '$T/nf.err' && [ ! -e '$T/nf' ]"
# --map over a preset: the plain preset reading other names, with a task field per line.
printf '%s\n' '{"q": "Solve for x: x + 3 = 5.", "a": "2", "k": "linear"}' '{"q": "Name it.", "t": ["assert f(1) == 2"], "k": "code"}' > "$T/mapped.jsonl"
"$V" import --quiet --map prompt=q,answer=a,tests=t,task=k --out "$T/mp" "$T/mapped.jsonl" 2> "$T/mp.log"; rc=$?
check "--map: field names and a task field per line ($(tail -n 1 "$T/mp.log"))" bash -c "[ $rc = 0 ] && '$SH' cat --quiet '$T/mp' | python3 -c '
import json, sys
r = [json.loads(l) for l in sys.stdin]
assert [x[\"task\"] for x in r] == [\"linear\", \"code\"] and r[0][\"answer\"] == \"2\" and r[1][\"tests\"] == \"assert f(1) == 2\", r
'"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
