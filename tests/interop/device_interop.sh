#!/usr/bin/env bash
# Interop with transformers (issue 15), on a machine with torch, transformers and safetensors
# (the GPU machine; part "interop" of tests/device/run.sh). Everything berry computes here runs on
# its CPU backend (interop_tool), the reference the issue compares against.
#   1. export: the GPU demo's d6 model (DEMO=build/demo, a berry run directory: pretrain/model.bin + data/tok.bpe, or MODEL= and
#      TOKENIZER=; without them a tiny model is trained here with pretrain in a minute) goes out
#      with `pretrain export --format hf`; AutoModelForCausalLM / AutoTokenizer.from_pretrained load
#      it with no code of ours; the tokenizer's ids equal berry's; the logits of a prompt equal
#      berry's CPU logits within 1e-4 (TOL); greedy tokens are the same (N_GREEDY);
#   2. import: a GPT2LMHeadModel with random weights (seeded) saved by transformers'
#      save_pretrained, at a small size and at GPT-2 124M's (V = 50257, padded by berry to 50304;
#      IMPORT_124M=0 skips it), is read by berry: logits within TOL and the same greedy tokens;
#      `pretrain --init-from DIR` starts from it.
# Prints the rows for tests/bench/RESULTS.md ("Interop"). Ends "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
OUT=${OUT:-/tmp/berry-device}/interop
DEMO=${DEMO:-$B/demo}
MODEL=${MODEL:-$DEMO/pretrain/model.bin}
TOKENIZER=${TOKENIZER:-$DEMO/data/tok.bpe}
TOL=${TOL:-1e-4}
N_GREEDY=${N_GREEDY:-32}
IMPORT_124M=${IMPORT_124M:-1}
T=$B/tests/interop/interop_tool
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
rm -rf "$OUT"; mkdir -p "$OUT"
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
for b in "$B/bin/pretrain" "$B/bin/shards" "$T"; do
    [ -x "$b" ] || { echo "device_interop: $b is missing (make, or BUILD=.devbuild after tests/device/stage_build.sh)"; echo "0 passed, 1 failed"; exit 1; }
done
python3 -c "import torch, transformers, safetensors, numpy" 2>/dev/null ||
    { echo "device_interop: needs torch, transformers, safetensors, numpy"; echo "0 passed, 1 failed"; exit 1; }
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"

# ---- 1. export -----------------------------------------------------------------------------------------
if [ ! -f "$MODEL" ] || [ ! -f "$TOKENIZER" ]; then
    echo "device_interop: no $MODEL / $TOKENIZER: training a tiny model here"
    awk 'BEGIN { srand(5); for (i = 0; i < 4000; i++) { a = int(rand() * 90); b = int(rand() * 90);
          printf "Compute %d + %d.\n<|step|>%d + %d = %d\n<|answer|>%d\n<|endoftext|>", a, b, a, b, a + b, a + b } }' > "$OUT/corpus.txt"
    "$B/bin/shards" train-tokenizer --vocab-size 300 --out "$OUT/tok.bpe" "$OUT/corpus.txt" > "$OUT/setup.log" 2>&1 &&
        "$B/bin/shards" tokenize --tokenizer "$OUT/tok.bpe" --out "$OUT/tokens" "$OUT/corpus.txt" >> "$OUT/setup.log" 2>&1 &&
        "$B/bin/pretrain" --data "$OUT/tokens" --tokenizer "$OUT/tok.bpe" --layers 4 --channels 128 --heads 4 --seq-len 128 \
            --micro-batch 16 --steps 300 --lr 3e-3 --warmup 20 --eval-every 0 --ckpt-every 0 --out "$OUT/run" --quiet \
            >> "$OUT/setup.log" 2>&1 || { tail "$OUT/setup.log"; bad "training the tiny model"; }
    MODEL=$OUT/run/model.bin; TOKENIZER=$OUT/tok.bpe
fi
start=$(date +%s.%N)
if "$B/bin/pretrain" export --ckpt "$MODEL" --format hf --out "$OUT/hf" --tokenizer "$TOKENIZER"; then
    ok "pretrain export --format hf ($MODEL, $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s)"
else bad "pretrain export --format hf $MODEL"; fi
PROMPT=${PROMPT:-$'Compute 37 + 45.\n<|step|>'}
printf '%s' "$PROMPT" > "$OUT/prompt.txt"
ids=$("$T" encode "$TOKENIZER" < "$OUT/prompt.txt")
"$T" logits "$MODEL" "$OUT/berry_logits.f32" $ids > /dev/null || bad "berry logits"
berry_greedy=$("$T" greedy "$MODEL" "$N_GREEDY" $ids) || bad "berry greedy"
python3 - "$OUT" "$TOL" "$N_GREEDY" "$berry_greedy" $ids <<'PY' && ok "transformers loads the export: tokenizer, logits, greedy" || bad "transformers against the export"
import sys, numpy as np, torch
from transformers import AutoModelForCausalLM, AutoTokenizer

def greedy(model, ids, n):  # argmax with full recompute, no stop token: what interop_tool greedy does
    x = list(ids)
    with torch.no_grad():
        for _ in range(n):
            x.append(int(model(torch.tensor([x])).logits[0, -1].argmax()))
    return x[len(ids):]
out, tol, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
berry_greedy = [int(x) for x in sys.argv[4].split()]
ids = [int(x) for x in sys.argv[5:]]
tok = AutoTokenizer.from_pretrained(f"{out}/hf")
model = AutoModelForCausalLM.from_pretrained(f"{out}/hf").float().eval()  # (torch_dtype/dtype: named differently in v4 and v5)
prompt = open(f"{out}/prompt.txt").read()
hf_ids = tok(prompt)["input_ids"]
ok = hf_ids == ids
print(f"tokenizer: {type(tok).__name__}, prompt of {len(ids)} ids, {'equal to' if ok else 'DIFFERENT from'} berry's")
with torch.no_grad():
    lg = model(torch.tensor([ids])).logits[0].double().numpy()
berry = np.fromfile(f"{out}/berry_logits.f32", dtype=np.float32).reshape(len(ids), -1)
d = float(np.abs(lg - berry).max())
print(f"logits: {lg.shape[0]} x {lg.shape[1]}, max |transformers - berry CPU| = {d:.3g} (tolerance {tol:g})")
g = greedy(model, ids, n)
same = g == berry_greedy
print(f"greedy: {n} tokens, {'identical' if same else 'DIFFERENT'}; transformers decodes them as {tok.decode(g)!r}")
if not same:
    print("  transformers:", g, "\n  berry:       ", berry_greedy)
sys.exit(0 if ok and d <= tol and same else 1)
PY

# ---- 2. import --------------------------------------------------------------------------------------------
sizes="small"; [ "$IMPORT_124M" = 1 ] && sizes="small 124M"
for size in $sizes; do
    d=$OUT/hf_random_$size
    python3 - "$d" "$size" <<'PY' || { bad "save_pretrained of a random $size GPT-2"; continue; }
import sys, torch
from transformers import GPT2Config, GPT2LMHeadModel
d, size = sys.argv[1], sys.argv[2]
torch.manual_seed(1234)
cfg = GPT2Config() if size == "124M" else GPT2Config(vocab_size=300, n_positions=128, n_embd=128, n_layer=3, n_head=4)
m = GPT2LMHeadModel(cfg)
# random layernorm gains and biases too, so that a swapped or dropped one shows
with torch.no_grad():
    for n, p in m.named_parameters():
        if p.dim() == 1: p.normal_(1.0 if n.endswith("weight") and ".ln_" in n else 0.0, 0.05)
m.save_pretrained(d)  # safetensors by default (transformers >= 4.35; the only format in v5)
print(f"saved a random GPT2LMHeadModel ({size}, {sum(p.numel() for p in m.parameters())} parameters) to {d}")
PY
    ids="1 2 3 4 5 6 7 8 9 10 11 12 100 200 250"
    "$T" logits "$d" "$d.logits.f32" $ids > /dev/null || { bad "berry reads $d"; continue; }
    bg=$("$T" greedy "$d" 16 $ids)
    python3 - "$d" "$TOL" "$bg" $ids <<'PY' && ok "berry imports transformers' $size save_pretrained: logits, greedy" || bad "import of $size"
import sys, numpy as np, torch
from transformers import GPT2LMHeadModel

def greedy(model, ids, n):  # argmax with full recompute, no stop token: what interop_tool greedy does
    x = list(ids)
    with torch.no_grad():
        for _ in range(n):
            x.append(int(model(torch.tensor([x])).logits[0, -1].argmax()))
    return x[len(ids):]
d, tol, bg = sys.argv[1], float(sys.argv[2]), [int(x) for x in sys.argv[3].split()]
ids = [int(x) for x in sys.argv[4:]]
m = GPT2LMHeadModel.from_pretrained(d).float().eval()
with torch.no_grad():
    lg = m(torch.tensor([ids])).logits[0].double().numpy()
berry = np.fromfile(f"{d}.logits.f32", dtype=np.float32).reshape(len(ids), -1)
diff = float(np.abs(lg - berry).max())
g = greedy(m, ids, 16)
print(f"import {d}: logits max |diff| {diff:.3g}; greedy {'identical' if g == bg else 'DIFFERENT'}")
if g != bg: print("  transformers:", g, "\n  berry:       ", bg)
sys.exit(0 if diff <= tol and g == bg else 1)
PY
done
if [ -d "$OUT/hf_random_small" ]; then
    # --init-from a transformers directory: the run starts (tokens of the small model's vocabulary)
    python3 -c "
import numpy as np; np.random.seed(0)
open('$OUT/rand.txt','w').write(''.join(chr(97 + i % 26) for i in np.random.randint(0, 26, 20000)))"
    "$B/bin/shards" train-tokenizer --vocab-size 300 --out "$OUT/tok300.bpe" "$OUT/rand.txt" > /dev/null 2>&1 &&
        "$B/bin/shards" tokenize --tokenizer "$OUT/tok300.bpe" --out "$OUT/tok300" "$OUT/rand.txt" > /dev/null 2>&1 &&
        "$B/bin/pretrain" --data "$OUT/tok300" --tokenizer "$OUT/tok300.bpe" --init-from "$OUT/hf_random_small" --seq-len 64 \
            --micro-batch 4 --steps 3 --eval-every 0 --ckpt-every 0 --out "$OUT/from_hf" --quiet > "$OUT/from_hf.log" 2>&1 &&
        ok "pretrain --init-from a transformers save_pretrained directory" || { tail -3 "$OUT/from_hf.log"; bad "pretrain --init-from $OUT/hf_random_small"; }
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
