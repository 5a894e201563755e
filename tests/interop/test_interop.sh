#!/usr/bin/env bash
# Models in and out (issue 15) on the CPU: `pretrain export --format hf|llmc` and reading the
# results back wherever berry reads a checkpoint.
#   - berry -> HF -> berry and berry -> llm.c (fp32) -> berry are bit-exact, also with scalar
#     heads; bf16 exports hold the parameters rounded to bf16 (nearest even);
#   - an independent float64 numpy forward over the export (the safetensors package) gives
#     berry's CPU logits within 1e-5; the exported tokenizer.json (HF tokenizers) gives
#     berry's ids;
#   - pretrain --init-from a HF directory, a safetensors file and an llm.c file trains exactly
#     as from the berry checkpoint;
#   - damaged files (crafted cases, random byte flips, truncations) are refused with the file
#     and the place named, and a failed export replaces nothing and leaves nothing behind.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
P=$BUILD/bin/pretrain
SH=$BUILD/bin/shards
T=$BUILD/tests/interop/interop_tool
W=$(mktemp -d /tmp/berry_interop.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@" > "$W/check.out" 2>&1; then ok "$what"; else bad "$what"; tail -5 "$W/check.out"; fi; }

# ---- a tiny trained model, its tokenizer, a reward-model-shaped copy with 2 scalar heads -----------
awk 'BEGIN { srand(5); for (i = 0; i < 1500; i++) { a = int(rand() * 60); b = int(rand() * 60);
      printf "Compute %d + %d.\n<|step|>%d + %d = %d\n<|answer|>%d\n<|endoftext|>", a, b, a, b, a + b, a + b } }' \
    > "$W/corpus.txt"
$SH train-tokenizer --vocab-size 266 --out "$W/tok.bpe" "$W/corpus.txt" > "$W/setup.log" 2>&1 &&
    $SH tokenize --tokenizer "$W/tok.bpe" --out "$W/tokens" "$W/corpus.txt" >> "$W/setup.log" 2>&1 &&
    $P --data "$W/tokens" --tokenizer "$W/tok.bpe" --layers 2 --channels 64 --heads 4 --seq-len 64 --context 96 \
        --micro-batch 8 --steps 40 --lr 3e-3 --warmup 5 --eval-every 0 --ckpt-every 0 --backend cpu --out "$W/run" \
        --quiet >> "$W/setup.log" 2>&1 && $T heads "$W/run/model.bin" "$W/rm.bin" 2 >> "$W/setup.log" 2>&1
check "a tiny model (40 steps), its tokenizer and a 2-head copy" test -f "$W/rm.bin"
M=$W/run/model.bin

# ---- exports and bit-exact round trips ----------------------------------------------------------------
check "export hf (fp32, with the tokenizer)" $P export --quiet --ckpt "$M" --format hf --out "$W/hf" --tokenizer "$W/tok.bpe"
for f in model.safetensors config.json generation_config.json tokenizer.json vocab.json merges.txt tokenizer_config.json special_tokens_map.json; do
    [ -f "$W/hf/$f" ] || bad "export hf wrote no $f"
done
check "export hf leaves no staging directory" bash -c "! ls -A '$W/hf' | grep -q '^\.'"
check "berry -> HF -> berry is bit-exact" $T same "$M" "$W/hf"
check "berry -> HF (the safetensors file alone) -> berry is bit-exact" $T same "$M" "$W/hf/model.safetensors"
check "export llmc fp32 + tokenizer" $P export --quiet --ckpt "$M" --format llmc --out "$W/m.bin" --tokenizer "$W/tok.bpe" --tokenizer-out "$W/tok_llmc.bin"
check "berry -> llm.c fp32 -> berry is bit-exact" $T same "$M" "$W/m.bin"
check "llm.c header: magic 20240326, version 3, maxT 96, V 266, L 2, NH 4, C 64, Vp 384" python3 - "$W/m.bin" <<'PY'
import struct, sys
h = struct.unpack("<256i", open(sys.argv[1], "rb").read(1024))
assert h[:8] == (20240326, 3, 96, 266, 2, 4, 64, 384) and not any(h[8:]), h[:9]
PY
check "llm.c tokenizer file: magic 20240328, version 2, 266 tokens, eot = <|endoftext|>, bytes of every token" \
    python3 - "$W/tok_llmc.bin" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
h = struct.unpack("<256i", b[:1024])
assert h[:3] == (20240328, 2, 266), h[:4]
toks, i = [], 1024
while i < len(b):
    n = b[i]; toks.append(b[i + 1:i + 1 + n]); i += 1 + n
assert i == len(b) and len(toks) == 266 and toks[h[3]] == b"<|endoftext|>", (len(toks), h[3])
assert toks[:256] == [bytes([k]) for k in range(256)]
PY
check "export llmc bf16 (version 5)" $P export --quiet --ckpt "$M" --format llmc --dtype bf16 --out "$W/mb.bin"
check "berry -> llm.c bf16 -> berry equals the bf16 rounding of every parameter" $T same "$M" "$W/mb.bin" --bf16
check "export hf bf16, read back as the bf16 rounding" bash -c "$P export --quiet --ckpt '$M' --format hf --dtype bf16 --out '$W/hfb' && $T same '$M' '$W/hfb' --bf16"
check "HF -> llm.c equals berry -> llm.c byte for byte" bash -c "$P export --quiet --ckpt '$W/hf' --format llmc --out '$W/m2.bin' && cmp '$W/m.bin' '$W/m2.bin'"
check "llm.c -> HF equals berry -> HF byte for byte" bash -c "$P export --quiet --ckpt '$W/m.bin' --format hf --out '$W/hf2' && cmp '$W/hf/model.safetensors' '$W/hf2/model.safetensors'"
check "scalar heads: berry -> HF -> berry bit-exact" bash -c "$P export --quiet --ckpt '$W/rm.bin' --format hf --out '$W/rmhf' && $T same '$W/rm.bin' '$W/rmhf'"
check "scalar heads: berry -> llm.c -> berry bit-exact" bash -c "$P export --quiet --ckpt '$W/rm.bin' --format llmc --out '$W/rm_llmc.bin' && $T same '$W/rm.bin' '$W/rm_llmc.bin'"
check "scalar heads are berry.heads.weight (2, 64) and berry.heads.bias (2) in the safetensors file" python3 - "$W/rmhf/model.safetensors" <<'PY'
import sys
from safetensors.numpy import load_file
w = load_file(sys.argv[1])
assert w["berry.heads.weight"].shape == (2, 64) and list(w["berry.heads.bias"]) == [0.01, 0.02] or \
    abs(w["berry.heads.bias"] - [0.01, 0.02]).max() < 1e-9, w["berry.heads.bias"]
assert "lm_head.weight" not in w and w["transformer.wte.weight"].shape == (266, 64)
assert w["transformer.h.0.attn.c_attn.weight"].shape == (64, 192) and w["transformer.h.1.mlp.c_proj.weight"].shape == (256, 64)
PY

# ---- an independent forward, the tokenizer ----------------------------------------------------------
TOKS="262 261 32 49 50 256 32 55 46 10 264 49 50 256 32 55 257 32 49 57 10 265 49 57 10 263 262 261 32 56"
check "numpy float64 forward over the export = berry's CPU logits within 1e-5" \
    bash -c "$T logits '$M' '$W/logits.f32' $TOKS && python3 tests/interop/numpy_forward.py '$W/hf' '$W/logits.f32' 1e-5 $TOKS"
grep 'max |diff|' "$W/check.out"
check "HF tokenizers with the exported tokenizer.json = berry's ids (digits mode, specials)" python3 - "$W" "$T" <<'PY'
import random, subprocess, sys
from tokenizers import Tokenizer
w, tool = sys.argv[1], sys.argv[2]
tok = Tokenizer.from_file(f"{w}/hf/tokenizer.json")
texts = open(f"{w}/corpus.txt").read().split("<|endoftext|>")[:200]
rnd = random.Random(3)
alpha = "abc xyz 0123456789+-=.\n\t  '<|step|><|answer|>ÄéΩ漢"
texts += ["".join(rnd.choice(alpha) for _ in range(rnd.randint(1, 60))) for _ in range(200)]
texts += ["Compute 12 + 7.\n<|step|>12 + 7 = 19\n<|answer|>19\n<|endoftext|>", "  42  apples", "x=12345", ""]
bad = 0
for t in texts:
    b = subprocess.run([tool, "encode", f"{w}/tok.bpe"], input=t.encode(), capture_output=True, check=True).stdout.split()
    h = tok.encode(t).ids
    if [int(x) for x in b] != h:
        bad += 1
        if bad < 4: print("differ:", repr(t), b[:12], h[:12])
    if tok.decode(h, skip_special_tokens=False) != t:
        bad += 1
        if bad < 4: print("decode differs:", repr(t))
print(f"{len(texts)} texts, {bad} differences")
sys.exit(bad != 0)
PY

# ---- --init-from takes every format --------------------------------------------------------------------
TR=(--data "$W/tokens" --tokenizer "$W/tok.bpe" --layers 2 --channels 64 --heads 4 --seq-len 64 --micro-batch 8 --steps 3
    --lr 1e-3 --warmup 0 --eval-every 0 --ckpt-every 0 --backend cpu --quiet)
losses() { grep -o '"loss": [^,]*' "$1/log.jsonl"; }
$P "${TR[@]}" --init-from "$M" --out "$W/from_berry" > /dev/null 2>&1
for src in hf hf/model.safetensors m.bin; do
    $P "${TR[@]}" --init-from "$W/$src" --out "$W/from_x" > "$W/from.log" 2>&1; rc=$?
    check "pretrain --init-from $src trains exactly as from the berry checkpoint (exit $rc)" \
        bash -c "[ $rc = 0 ] && [ -n \"\$(grep -o '\"loss\": [^,]*' '$W/from_berry/log.jsonl')\" ] && diff <(grep -o '\"loss\": [^,]*' '$W/from_berry/log.jsonl') <(grep -o '\"loss\": [^,]*' '$W/from_x/log.jsonl')"
    rm -rf "$W/from_x"
done
check "greedy decoding from the HF export = from the berry checkpoint" \
    bash -c "[ \"\$($T greedy '$M' 12 262 261 32 49)\" = \"\$($T greedy '$W/hf' 12 262 261 32 49)\" ]"
$P "${TR[@]}" --init-from "$W/m.bin" --resume --out "$W/x" > "$W/e.log" 2>&1; rc=$?
check "--resume does not take a foreign file (exit $rc)" test "$rc" = 2

# ---- damaged files are refused, with the file and the place --------------------------------------------
python3 - "$W" <<'PY'
import json, os, shutil, struct, sys
w = sys.argv[1]
src = open(f"{w}/hf/model.safetensors", "rb").read()
n = struct.unpack("<Q", src[:8])[0]
hdr, data = json.loads(src[8:8 + n]), src[8 + n:]
def write(name, h, d=data, raw=None, cfg=True):
    os.makedirs(f"{w}/bad/{name}", exist_ok=True)
    t = raw if raw is not None else json.dumps(h).encode()
    open(f"{w}/bad/{name}/model.safetensors", "wb").write(struct.pack("<Q", len(t)) + t + d)
    if cfg: shutil.copy(f"{w}/hf/config.json", f"{w}/bad/{name}/config.json")
def mod(f):
    h = json.loads(json.dumps(hdr)); f(h); return h
k = "transformer.h.0.attn.c_attn.weight"
write("trunc", hdr, data[:-4])
write("trailing", hdr, data + b"\0" * 8)
write("overlap", mod(lambda h: h[k].__setitem__("data_offsets", [h[k]["data_offsets"][0] - 4, h[k]["data_offsets"][1] - 4])))
write("outside", mod(lambda h: h["transformer.ln_f.bias"].__setitem__("data_offsets", [len(data) - 256, len(data) + 4])))
write("dtype", mod(lambda h: h[k].__setitem__("dtype", "F64")))
write("size", mod(lambda h: h[k].__setitem__("shape", [64, 191])))
write("shape", mod(lambda h: h[k].__setitem__("shape", [192, 64])))
write("field", mod(lambda h: h[k].__setitem__("strides", [1])))
h = json.loads(json.dumps(hdr)); h["transformer.h.0.attn.extra"] = {"dtype": "F32", "shape": [2], "data_offsets": [len(data), len(data) + 8]}
write("unknown", h, data + b"\0" * 8)
write("missing", mod(lambda h: h.__setitem__("renamed.weight", h.pop("transformer.ln_f.weight"))))
t = json.dumps(hdr).encode()
write("comma", None, raw=t[:-1] + b",}")
i = t.index(b'"transformer.wpe.weight"')
write("dup", None, raw=t[:i] + t[i:].replace(b'"transformer.wpe.weight"', b'"transformer.wte.weight"', 1))
write("hdrlen", None, raw=b"{}", d=b"")
open(f"{w}/bad/hdrlen/model.safetensors", "wb").write(struct.pack("<Q", 1 << 40) + b"{" + b" " * 64)
write("nocfg", hdr, cfg=False)
write("gelu", hdr)
c = json.load(open(f"{w}/hf/config.json")); c["activation_function"] = "gelu"
json.dump(c, open(f"{w}/bad/gelu/config.json", "w"))
write("lmhead", mod(lambda h: None))  # lm_head differing from wte: wte's bytes with one flipped
h = json.loads(json.dumps(hdr)); wte = h["transformer.wte.weight"]["data_offsets"]
h["lm_head.weight"] = {"dtype": "F32", "shape": [266, 64], "data_offsets": [len(data), len(data) + wte[1] - wte[0]]}
lm = bytearray(data[wte[0]:wte[1]]); lm[100] ^= 1
write("lmhead", h, data + bytes(lm))
m = bytearray(open(f"{w}/m.bin", "rb").read())
open(f"{w}/bad/llmc_trunc.bin", "wb").write(m[:-1])
v = bytearray(m); v[4] = 4; open(f"{w}/bad/llmc_version.bin", "wb").write(v)
v = bytearray(m); v[16] = 3; open(f"{w}/bad/llmc_layers.bin", "wb").write(v)
open(f"{w}/bad/junk.bin", "wb").write(b"hello world, not a model" * 20)
PY
refused() {  # name, path, expected message part
    $P export --quiet --ckpt "$2" --format llmc --out "$W/never.bin" > "$W/r.out" 2> "$W/r.err"; local rc=$?
    if [ $rc = 1 ] && grep -qF -- "$3" "$W/r.err" && grep -qF "$W/bad/" "$W/r.err" && [ ! -e "$W/never.bin" ]; then
        ok "refused: $1 ($(head -c 220 "$W/r.err"))"
    else bad "$1: exit $rc, expected '$3' and the file named: $(cat "$W/r.err")"; fi
}
B=$W/bad
refused "truncated data" "$B/trunc" "outside the 493052 data bytes"
refused "trailing bytes" "$B/trailing" "truncated or trailing data"
refused "overlapping tensors" "$B/overlap" "overlaps"
refused "offsets outside the data" "$B/outside" "outside the"
refused "unsupported dtype" "$B/dtype" "dtype F64 is not supported"
refused "byte count not shape x dtype" "$B/size" "but shape and dtype F32 need"
refused "shape against the config" "$B/shape" "the config needs [64, 192]"
refused "unknown field in a tensor entry" "$B/field" "unknown field 'strides'"
refused "unknown tensor" "$B/unknown" "is not part of a GPT-2"
refused "missing tensor" "$B/missing" "has no tensor 'ln_f.weight'"
refused "trailing comma in the header" "$B/comma" "header JSON"
refused "duplicate key in the header" "$B/dup" "duplicate key"
refused "header length beyond the file" "$B/hdrlen" "does not fit the file"
refused "directory without config.json" "$B/nocfg" "without config.json"
refused "another activation in config.json" "$B/gelu" "activation_function"
refused "lm_head not tied to wte" "$B/lmhead" "differs from wte.weight"
refused "llm.c file cut short" "$B/llmc_trunc.bin" "truncated or trailing data"
refused "llm.c version 4" "$B/llmc_version.bin" "version 4 at offset 4"
refused "llm.c header sizes against the file" "$B/llmc_layers.bin" "describes"
refused "not a model at all" "$B/junk.bin" "not a berry checkpoint (bad magic at offset 0), nor an llm.c"
check "random flips and truncations of model.safetensors: no crash, every refusal names the file" $T fuzz "$W/hf/model.safetensors" 400 11
grep '^fuzz' "$W/check.out"
check "random flips and truncations of the llm.c file: no crash, every refusal names the file" $T fuzz "$W/m.bin" 400 12
grep '^fuzz' "$W/check.out"

# ---- a failed export replaces nothing ---------------------------------------------------------------------
cp -r "$W/hf" "$W/keep"; cp "$W/m.bin" "$W/keep.bin"
$P export --quiet --ckpt "$B/trunc" --format hf --out "$W/hf" 2> /dev/null
check "a refused --ckpt leaves the previous HF export as it was" diff -r "$W/hf" "$W/keep"
# a special token of 256 bytes fits berry's tokenizer but not llm.c's file: the model file was
# already staged when the tokenizer fails
long=$(printf 'L%.0s' $(seq 256))
$SH train-tokenizer --vocab-size 266 --special '<|endoftext|>' --special '<|step|>' --special '<|answer|>' --special "$long" --out "$W/tok_long.bpe" "$W/corpus.txt" > /dev/null 2>&1
$P export --quiet --ckpt "$W/rm.bin" --format llmc --out "$W/m.bin" --tokenizer "$W/tok_long.bpe" --tokenizer-out "$W/tl.bin" 2> "$W/e.log"
rc=$?
grep -q "token 26[0-9] is 256 bytes" "$W/e.log" || bad "the half-way failure is the 256-byte token: $(cat "$W/e.log")"
check "an export failing half way (a 256-byte token) exits 1" test $rc = 1
check "... and leaves the previous llm.c file and no staging file" bash -c "cmp '$W/m.bin' '$W/keep.bin' && ! ls '$W' | grep -q export && [ ! -e '$W/tl.bin' ]"
$P export --quiet --ckpt "$M" --format hf --out "$W/newdir" --tokenizer "$W/tok_llmc.bin" 2> /dev/null
check "a refused HF export into a new directory leaves no directory" test ! -e "$W/newdir"
$P export --ckpt "$M" --format hf --out "$W/x" --tokenizer-out y 2> "$W/e.log"; rc=$?
check "usage errors exit 2 (--tokenizer-out with hf)" test $rc = 2
$P export --ckpt "$M" --out "$W/x" 2> "$W/e.log"; rc=$?
check "--format is required (exit $rc)" bash -c "[ $rc = 2 ] && grep -q 'format hf|llmc is required' '$W/e.log'"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
