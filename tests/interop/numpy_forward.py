#!/usr/bin/env python3
"""GPT-2 forward in float64 numpy from a Hugging Face export (model.safetensors read with the
safetensors package, sizes from config.json), written independently of berry's kernels, against
berry's CPU logits (interop_tool logits). Usage: numpy_forward.py DIR LOGITS.f32 TOL T1 T2 ...
Prints the largest absolute difference; exit 1 when it exceeds TOL."""
import json
import sys

import numpy as np
from safetensors.numpy import load_file

d, logits_path, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
tokens = [int(t) for t in sys.argv[4:]]
cfg = json.load(open(f"{d}/config.json"))
assert cfg["activation_function"] == "gelu_new" and cfg["architectures"] == ["GPT2LMHeadModel"]
w = {k.removeprefix("transformer."): v.astype(np.float64) for k, v in load_file(f"{d}/model.safetensors").items()}
L, C, H, V = cfg["n_layer"], cfg["n_embd"], cfg["n_head"], cfg["vocab_size"]
eps = cfg["layer_norm_epsilon"]
assert w["wte.weight"].shape == (V, C) and "lm_head.weight" not in w


def ln(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)  # biased, as GPT-2
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu_new(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


T = len(tokens)
x = w["wte.weight"][tokens] + w["wpe.weight"][:T]
mask = np.triu(np.full((T, T), -np.inf), 1)
for i in range(L):
    p = lambda n: w[f"h.{i}.{n}"]
    a = ln(x, p("ln_1.weight"), p("ln_1.bias")) @ p("attn.c_attn.weight") + p("attn.c_attn.bias")  # Conv1D: x @ W
    q, k, v = (a[:, j * C:(j + 1) * C].reshape(T, H, C // H).transpose(1, 0, 2) for j in range(3))
    s = q @ k.transpose(0, 2, 1) / np.sqrt(C // H) + mask
    s = np.exp(s - s.max(-1, keepdims=True))
    y = (s / s.sum(-1, keepdims=True)) @ v
    x = x + y.transpose(1, 0, 2).reshape(T, C) @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
    h = gelu_new(ln(x, p("ln_2.weight"), p("ln_2.bias")) @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"))
    x = x + h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
logits = ln(x, w["ln_f.weight"], w["ln_f.bias"]) @ w["wte.weight"].T  # tied classifier

berry = np.fromfile(logits_path, dtype=np.float32).reshape(T, V)
diff = float(np.abs(berry - logits).max())
print(f"numpy forward vs berry CPU logits: {T} positions x {V}, max |diff| {diff:.3g} "
      f"(logits span {logits.min():.3f}..{logits.max():.3f}), tolerance {tol:g}")
sys.exit(0 if diff <= tol else 1)
