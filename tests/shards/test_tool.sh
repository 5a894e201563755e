#!/usr/bin/env bash
# test_tool — the `shards` tool on the committed fixtures: help texts, bad flags rejected,
# cat (golden JSON lines, --from/--count, valid JSON), stat, verify (good, damaged and
# truncated files, directories), import-llmc (token-exact, closed directory, no silent
# re-import). Runs from the repository root (as `make test` does).
set -u
bin=build/bin/shards
fx=tests/shards/fixtures
work=$(mktemp -d "${TMPDIR:-/tmp}/berry-tool.XXXXXX")
trap 'rm -rf "$work"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect STATUS CMD...: runs CMD, output in $work/out (stdout) and $work/err (stderr)
expect() {
    local want=$1; shift
    "$@" >"$work/out" 2>"$work/err"; local got=$?
    if [ "$got" = "$want" ]; then ok; else bad "exit $got (want $want): $*"; head -5 "$work/err"; fi
}
has() { if grep -qF -- "$2" "$1"; then ok; else bad "$1 lacks '$2'"; head -5 "$1"; fi; }

# Help and usage errors.
expect 0 $bin --help; has "$work/out" "import-llmc"
for c in cat stat verify import-llmc tokenize train-tokenizer; do
    expect 0 $bin $c --help; has "$work/out" "usage: shards $c"
done
expect 2 $bin
expect 2 $bin frobnicate; has "$work/err" "unknown command"
expect 2 $bin cat --count abc $fx/tokens-v1.shard; has "$work/err" "--count"
expect 2 $bin cat --from -1 $fx/tokens-v1.shard; has "$work/err" "--from"
expect 2 $bin cat --bogus $fx/tokens-v1.shard; has "$work/err" "shards cat: error: unknown option '--bogus'"
expect 2 $bin cat --count; has "$work/err" "shards cat: error: --count needs a value"
expect 2 $bin cat --cout 1 $fx/tokens-v1.shard; has "$work/err" "did you mean --count?"
expect 2 $bin cat --tok x $fx/tokens-v1.shard; has "$work/err" "abbreviations are not accepted; did you mean --tokenizer?"
expect 0 $bin help cat; cp "$work/out" "$work/help_cat"
expect 0 $bin cat -h; cmp -s "$work/out" "$work/help_cat" && ok || bad "shards cat -h differs from shards help cat"
expect 2 $bin catt; has "$work/err" "did you mean 'cat'?"
expect 2 $bin cat; has "$work/err" "no shard file"
expect 2 $bin stat
expect 2 $bin verify --kind nonsense $fx/tokens-v1.shard; has "$work/err" "--kind"
expect 2 $bin import-llmc $fx/tiny.bin; has "$work/err" "--out"
expect 2 $bin import-llmc --out "$work/x" --record-tokens 0 $fx/tiny.bin; has "$work/err" "--record-tokens"
expect 2 $bin import-llmc --out "$work/x" --producer 'a b' $fx/tiny.bin; has "$work/err" "--producer"
expect 2 $bin import-llmc --out "$work/x" --level 0 $fx/tiny.bin
[ ! -e "$work/x" ] && ok || bad "a rejected command created its output directory"

# cat: golden output for every kind, paging, JSON validity.
for k in tokens-v1 problems-v1 trajectories-v1 verdicts-v1 scores-v1 scores-v2 labels-v1; do
    expect 0 $bin cat --quiet $fx/$k.shard
    if cmp -s "$work/out" $fx/$k.jsonl; then ok; else bad "cat $k differs from the golden file"; diff "$work/out" $fx/$k.jsonl | head; fi
    python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$work/out" && ok || bad "cat $k: invalid JSON"
done
expect 0 $bin cat --quiet --from 1 --count 1 $fx/verdicts-v1.shard
[ "$(cat "$work/out")" = "$(sed -n 2p $fx/verdicts-v1.jsonl)" ] && ok || bad "--from 1 --count 1"
expect 0 $bin cat --quiet --from 2 $fx/tokens-v1.shard $fx/tokens-v1.shard
[ "$(wc -l <"$work/out")" = 4 ] && ok || bad "--from across files: $(wc -l <"$work/out") lines"
expect 0 $bin cat $fx/scores-v1.shard; has "$work/err" "shards cat: from=0 count=- tokenizer=- paths=1"
expect 0 $bin cat --quiet $fx/scores-v1.shard; [ -s "$work/err" ] && bad "cat --quiet wrote to stderr: $(head -2 "$work/err")" || ok
# cat --tokenizer decodes token records: train a tiny tokenizer, tokenize, read the text back.
printf 'Compute 12 + 7.\nThe answer is 19.\n' >"$work/doc.txt"
expect 0 $bin train-tokenizer --vocab-size 270 --out "$work/tok.bpe" "$work/doc.txt"
expect 0 $bin tokenize --tokenizer "$work/tok.bpe" --out "$work/doc" "$work/doc.txt"
expect 0 $bin cat --quiet --tokenizer "$work/tok.bpe" "$work/doc"
has "$work/out" '"text":"<|endoftext|>Compute 12 + 7.\nThe answer is 19.\n"'
expect 1 $bin cat --tokenizer "$work/missing.bpe" "$work/doc"; has "$work/err" "missing.bpe"
# The invalid UTF-8 in a verdict survives as surrogate escapes.
python3 - "$fx/verdicts-v1.jsonl" <<'PY' && ok || bad "surrogateescape round trip"
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])][2]["detail"]
assert d.encode("utf-8", "surrogateescape") == b"stderr: \xff\xfe bad bytes\tand a tab", d
PY

# stat.
expect 0 $bin stat $fx/problems-v1.shard
for s in "kind: problems" "schema_version: 1" "records: 2" "producer: fixtures" "created: 2024-06-01T00:00:00Z" "compression:"; do has "$work/out" "$s"; done
expect 0 $bin stat $fx/tiny.bin; has "$work/out" "tokens: 300"
expect 0 $bin stat $fx/tokens-v1.shard; has "$work/out" "tokens: 13"

# verify: good files; a damaged and a truncated copy.
expect 0 $bin verify $fx/*.shard $fx/tiny.bin; has "$work/out" "all ok"
expect 0 $bin verify --kind problems $fx/problems-v1.shard
expect 1 $bin verify --kind tokens $fx/problems-v1.shard; has "$work/out" "expected tokens"
cp $fx/trajectories-v1.shard "$work/damaged.shard"
printf '\x55' | dd of="$work/damaged.shard" bs=1 seek=200 conv=notrunc status=none
expect 1 $bin verify "$work/damaged.shard"; has "$work/out" "damaged.shard"; has "$work/out" "byte offset"
expect 1 $bin cat "$work/damaged.shard"; has "$work/err" "byte offset"
head -c 250 $fx/trajectories-v1.shard >"$work/short.shard"
expect 1 $bin verify "$work/short.shard"; has "$work/out" "truncated"
expect 1 $bin stat "$work/short.shard"; has "$work/err" "short.shard"
expect 1 $bin cat "$work/missing.shard"; has "$work/err" "cannot open"

# A damaged shard of a directory is reported once (not again by the manifest check).
mkdir -p "$work/dmg"
$bin import-llmc --out "$work/dmg" --record-tokens 64 $fx/tiny.bin 2>/dev/null
truncate -s 300 "$work/dmg/llmc-00000000.shard"
expect 1 $bin verify "$work/dmg"
[ "$(grep -c 'FAIL .*llmc-00000000.shard' "$work/out")" = 1 ] && ok || bad "a truncated shard reported $(grep -c 'FAIL .*llmc-00000000.shard' "$work/out") times: $(cat "$work/out")"
expect 1 $bin verify --quiet "$work/dmg"; grep -q '^ok ' "$work/out" && bad "verify --quiet printed ok lines" || ok

# train-tokenizer: options and outputs checked before the corpus is read.
expect 2 $bin train-tokenizer --vocab-size 258 --out "$work/t258.bpe" "$work/doc.txt"
has "$work/err" "--vocab-size 258 leaves no room: the 256 byte tokens and 3 specials take 259 ids"
[ ! -e "$work/t258.bpe" ] && ok || bad "a refused train-tokenizer wrote its --out"
mkdir -p "$work/outdir"
expect 1 $bin train-tokenizer --vocab-size 270 --out "$work/outdir" "$work/doc.txt"; has "$work/err" "is a directory"
expect 1 $bin train-tokenizer --vocab-size 270 --out "$work/nodir/t.bpe" "$work/doc.txt"; has "$work/err" "does not exist"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    # (as an unprivileged user: root writes anywhere)
    mkdir -p "$work/ro"; chmod 755 "$work" "$work/ro"; cp $bin "$work/shards.bin"; chmod 755 "$work/shards.bin"; chmod 644 "$work/doc.txt"
    expect 1 setpriv --reuid=65534 --regid=65534 --clear-groups -- "$work/shards.bin" train-tokenizer --vocab-size 270 \
        --out "$work/ro/t.bpe" "$work/doc.txt"
    has "$work/err" "--out $work/ro/t.bpe: cannot write it in $work/ro: Permission denied"
    grep -q "corpus of" "$work/err" && bad "train-tokenizer read the corpus before refusing its --out" || ok
    expect 1 setpriv --reuid=65534 --regid=65534 --clear-groups -- "$work/shards.bin" tokenize --tokenizer "$work/tok.bpe" \
        --out "$work/ro/tokens" "$work/doc.txt"
    has "$work/err" "--out $work/ro/tokens: cannot create it in $work/ro: Permission denied"
fi
expect 1 $bin train-tokenizer --vocab-size 5000 --out "$work/t5000.bpe" "$work/doc.txt"; has "$work/err" "use --vocab-size <="
# Tokenizer messages name the options, not C functions.
printf '{"a": 0, "b": 1, "c": 2, "d": 3, "e": 4, "f": 5, "g": 6, "h": 7}' >"$work/vocab.json"; printf '#version: 0.2\n' >"$work/merges.txt"
expect 1 $bin tokenize --tokenizer "$work/vocab.json" --out "$work/tk" "$work/doc.txt"
has "$work/err" "--gpt2-vocab"; grep -q "bpe_load" "$work/err" && bad "a message names a C function" || ok
expect 1 $bin tokenize --gpt2-vocab "$work/vocab.json" --gpt2-merges "$work/merges.txt" --out "$work/tk" "$work/doc.txt"
has "$work/err" "shards tokenize: error: --gpt2-vocab $work/vocab.json --gpt2-merges $work/merges.txt: "
[ ! -e "$work/tk" ] && ok || bad "a failed tokenize left its --out"

# import-llmc: exact tokens, a closed, verifiable directory; no silent second import.
expect 0 $bin import-llmc --out "$work/tok" --record-tokens 64 --shard-records 2 $fx/tiny.bin $fx/tiny.bin
has "$work/err" "shards import-llmc: out=$work/tok"
has "$work/err" "wrote 600 tokens in 5 shards"
expect 0 $bin verify --kind tokens "$work/tok"; has "$work/out" "closed"
expect 0 $bin stat "$work/tok"; has "$work/out" "state: closed"; has "$work/out" "tokens: 600"; has "$work/out" "producer llmc: 5 shards"
$bin cat --quiet "$work/tok" >"$work/tok.jsonl"
python3 - "$work/tok.jsonl" $fx/tiny.bin <<'PY' && ok || bad "imported tokens differ from the llm.c file"
import json, struct, sys
ids = [i for l in open(sys.argv[1]) for i in json.loads(l)["ids"]]
raw = open(sys.argv[2], "rb").read()
n = struct.unpack("<i", raw[8:12])[0]
want = list(struct.unpack("<%dH" % n, raw[1024:1024 + 2 * n]))
assert ids == want + want, (len(ids), len(want))
PY
expect 1 $bin import-llmc --out "$work/tok" $fx/tiny.bin; has "$work/err" "already holds shards of producer llmc"
cp $fx/problems-v1.shard "$work/notbin.bin"
expect 1 $bin import-llmc --out "$work/tok2" "$work/notbin.bin"; has "$work/err" "the llm.c header alone is 1024"
head -c 2000 /dev/zero >"$work/zero.bin"
expect 1 $bin import-llmc --out "$work/tok2" "$work/zero.bin"; has "$work/err" "bad magic"
[ ! -e "$work/tok2" ] && ok || bad "a failed import created its output directory"
# A directory whose CLOSED manifest disagrees with its shards fails verify.
mv "$work/tok/llmc-00000004.shard" "$work/moved.shard"
expect 1 $bin verify "$work/tok"; has "$work/out" "missing"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
