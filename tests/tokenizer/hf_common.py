"""Helpers shared by the HF comparison test and the tokenizer benchmark: the records file
bpe_cli reads, GPT-2's byte mapping, HF's pre-tokenizers for berry's two modes, and a
deterministic synthetic corpus (prose, arithmetic with step/answer markers, code, many
scripts and emoji)."""
import subprocess

from tokenizers import pre_tokenizers

SPECIALS = ["<|endoftext|>", "<|step|>", "<|answer|>"]


def write_records(path, texts):
    with open(path, "wb") as f:
        for t in texts:
            b = t.encode("utf-8") if isinstance(t, str) else t
            f.write(b"%d\n" % len(b) + b + b"\n")


def read_records(data):
    out, pos = [], 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        n = int(data[pos:nl])
        out.append(data[nl + 1:nl + 1 + n])
        pos = nl + 2 + n
    return out


def run_cli(cli, *args):
    r = subprocess.run([cli, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError(f"bpe_cli {' '.join(args)} failed: {r.stderr.decode(errors='replace')}")
    return r.stdout


# GPT-2's byte <-> unicode mapping, to turn HF's pre-tokens back into bytes.
_bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
_cs, _n = _bs[:], 0
for _b in range(256):
    if _b not in _bs:
        _bs.append(_b)
        _cs.append(256 + _n)
        _n += 1
BYTE_OF = {chr(c): b for b, c in zip(_bs, _cs)}


def hf_pretokenizer(mode):
    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if mode == "gpt2":
        return bl
    return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), bl])


WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at which but have an "
         "had they you were their one all we can her has there been if more when will would who so no time people "
         "year way day man thing woman life child world school state family student group country problem hand "
         "part place case week company system program question work government number night point home water room "
         "mother area money story fact month lot right study book eye job word business issue side kind head house "
         "service friend father power hour game line end member law car city community name president team minute "
         "idea kid body information back parent face others level office door health person art war history party "
         "result change morning reason research girl guy moment air teacher force education").split()
UNICODE_LINES = ["Le café est très naïve à Zürich.", "Über den Wolken muß die Freiheit wohl grenzenlos sein.",
                 "Съешь же ещё этих мягких французских булок, да выпей чаю.", "Τάχιστη αλώπηξ βαφής ψημένη γη.",
                 "日本語の文章です。漢字とかなが混ざっています。", "我们用中文写了一些句子。", "이것은 한국어 문장입니다.",
                 "Emoji: 😀 🎉 👍🏽 ❤️ 🇩🇪", "Mathe: ∑ x² + ½ = ∞ ≠ √2", "Ελληνικά και العربية ١٢٣ and हिन्दी"]


def make_corpus(rng, size):
    parts, n = [], 0
    while n < size:
        r = rng.random()
        if r < 0.55:
            k = rng.randrange(5, 25)
            s = " ".join(rng.choice(WORDS) for _ in range(k))
            s = s[0].upper() + s[1:] + rng.choice([".", ".", "!", "?", "'s.", ", he said.", " -- don't."]) + "\n"
        elif r < 0.7:
            a, b = rng.randrange(0, 10 ** rng.randrange(1, 6)), rng.randrange(0, 1000)
            op = rng.choice(["+", "-", "*"])
            val = a + b if op == "+" else a - b if op == "-" else a * b
            s = f"<|step|> {a} {op} {b} = {val} <|answer|> {val}<|endoftext|>\n"
        elif r < 0.85:
            v = rng.choice(["x", "i", "count", "total", "buf", "n"])
            s = rng.choice([f"for (int {v} = 0; {v} < {rng.randrange(100)}; {v}++) {{\n    sum += a[{v}];\n}}\n",
                            f"def f_{v}({v}):\n    return {v} * {rng.randrange(10)} + 1\n",
                            f"if ({v} != NULL && {v}->len > 0) return -1;\n",
                            f"    {v} = {v}.strip().split(',')  # {rng.choice(WORDS)}\n"])
        else:
            s = rng.choice(UNICODE_LINES) + rng.choice(["\n", " ", "\n\n", "\t"])
        parts.append(s)
        n += len(s.encode())
    return "".join(parts)
