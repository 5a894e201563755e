#!/usr/bin/env python3
"""berry's tokenizer against HF tokenizers (the reference implementation of GPT-2's).

1. Pre-tokenisation: berry's hand-written GPT-2 regex equals HF's ByteLevel pre-tokenizer
   (and the digits mode equals Sequence([Digits(individual_digits=True), ByteLevel])) on
   tricky texts, on thousands of random texts, and on every Unicode code point.
2. Full encoding: a vocabulary trained by berry and saved as vocab.json + merges.txt,
   loaded into HF's BPE model, gives identical ids on a varied text set, in both modes,
   with special tokens; both decoders give the text back.

Runs build/tests/tokenizer/bpe_cli (or $BPE_CLI; $BUILD names the build directory).
Prints "N passed, M failed" last and exits non-zero on any failure.
"""
import os
import random
import shutil
import sys
import tempfile
import time
import unicodedata

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build")
CLI = os.environ.get("BPE_CLI", os.path.join(REPO, BUILD, "tests", "tokenizer", "bpe_cli"))

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what}" + (f": {detail}" if detail else ""), file=sys.stderr)
    return ok


def finish():
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


try:
    import tokenizers
    from tokenizers import Tokenizer, decoders, models

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from hf_common import BYTE_OF, SPECIALS, hf_pretokenizer, make_corpus, read_records, run_cli, write_records
except ImportError:
    check(False, "import tokenizers", "pip install tokenizers (tests/deps.sh does)")
    finish()

if not os.access(CLI, os.X_OK):
    check(False, "bpe_cli", f"{CLI} not found: run make first")
    finish()

TMP = tempfile.mkdtemp(prefix="berry_hf_compare.")


def cli(*args):
    return run_cli(CLI, *args)


def hf_pretok(pt, text):
    return [bytes(BYTE_OF[c] for c in piece) for piece, _ in pt.pre_tokenize_str(text)]


def berry_pretok(mode, texts):
    path = os.path.join(TMP, "pretok.rec")
    write_records(path, texts)
    lines = cli("pretok", "--pretok", mode, "--input", path).decode().split("\n")[:len(texts)]
    return [[bytes.fromhex(h) for h in line.split(" ")] if line else [] for line in lines]


TRICKY = [
    "Hello world", "Hello  world", "Hello   world", "  leading", "trailing  ", "   ", " ", "", "\n", "\n\n\n",
    "a\nb", "a\n\nb", "a \n b", "a\t\tb", "a \t b", "line one\r\nline two\r\n", "\r\n\r\n", "x\n \n y",
    "I'm you're he's she'd we've they'll it's don't can't won't",
    "I'M YOU'RE HE'S SHE'D WE'VE THEY'LL IT'S DON'T",  # upper case: not contractions in GPT-2
    "'s 't 're 've 'm 'll 'd", "''s", "'''", "a's'", " 's", "rock 'n' roll", "'S'LL'Ll'lL", "O'Neil's l'été",
    "’s curly apostrophe", "`s backtick",
    "3.14159 2,718 1e10 0x1F -42 +7 12345678901234567890", "a1b2c3", "v2.0.1-rc3", "x=12+34*56/78",
    "1 + 1 = 2", "  12  +  3  ", "The year 1984.", "$100.00 50% #1",
    "naïve café résumé Ångström", "e\u0301 (combining acute) n\u0303", "ß ẞ ſ ﬁ", "Привет, мир! Ёжик",
    "Γειά σου Κόσμε", "日本語のテキスト、カタカナ。", "中文文本，没有空格。", "한국어 텍스트", "ภาษาไทย",
    "مرحبا بالعالم ١٢٣", "עברית", "हिन्दी पाठ", "٣٤٥ ٠١٢ ۴۵۶ ߁߂", "²³ ½¼ Ⅻ ⅷ ① ⑽ 𝟙𝟚",
    "😀 😀😀 👍🏽 👨‍👩‍👧 🇫🇷", "emoji😀inside", "tab\there", "nbsp\u00a0here", "ideographic\u3000space",
    "line\u2028separator", "para\u2029sep", "nel\u0085char", "thin\u2009space", "zw\u200bspace",
    "mongolian\u180evowel", "\x1c\x1d\x1e\x1f separators", "\x00nul\x01ctrl\x7fdel", "\x0b\x0c vt ff",
    "int main(void) {\n    return 0;\n}\n", "def f(x):\n\treturn x**2  # square\n",
    "if (a && b || !c) { x->y[i] += 1; }", "<html><body class=\"x\">hi</body></html>",
    "https://example.com/path?q=1&r=2#frag", "user@example.com", "snake_case camelCase PascalCase",
    "<|endoftext|>", "a<|endoftext|>b", "<|step|> 1 + 2 = 3 <|answer|> 3<|endoftext|>", "<|step", "|>",
    "...!!!???", "--- *** ===", "a.b.c", "   \u00a0  x", " \u3000 x", "\t x", "  \n  x",
]


def random_texts(rng, n, maxlen):
    pieces = ["a", "b", "the", "The", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "'", "'s", "'t", "'re", "'ve",
              "'m", "'ll", "'d", "'S", "'LL", "0", "1", "42", "3.14", "+", "=", "(", ")", "!", "?", ".", ",", "_",
              "\"", "\\", "é", "ü", "ß", "Ж", "ж", "Ω", "日", "本", "😀", "👍🏽", "e\u0301", "²", "½", "٣", "Ⅻ",
              "\u00a0", "\u3000", "\u2028", "\u0085", "\x0b", "\x0c", "\x1c", "\x01", "\x7f", "\u200b", "𝟙",
              "ǅ", "ʰ", "々", "〇", "<|endoftext|>", "<|step|>", "<|"]
    out = []
    for _ in range(n):
        k = rng.randrange(0, maxlen)
        out.append("".join(rng.choice(pieces) for _ in range(k)))
    return out


def compare_pretok(mode, texts, label, each):
    pt = hf_pretokenizer(mode)
    got = berry_pretok(mode, texts)
    bad = []
    for t, g in zip(texts, got):
        want = hf_pretok(pt, t)
        ok = g == want
        if each:
            check(ok, f"pre-tokenisation ({mode}) of {t!r}", f"berry {g} HF {want}")
        elif not ok:
            bad.append((t, g, want))
    if not each:
        detail = "; ".join(f"{t!r}: berry {g} HF {w}" for t, g, w in bad[:3])
        check(not bad, f"pre-tokenisation ({mode}) of {len(texts)} {label}: {len(bad)} differ", detail)


def sweep_code_points(mode):
    """Code points, in probes that tell their class apart (letter: joins 'x'; number: joins
    '1'; other: joins ','; white space: splits), compared in chunks. Swept: every code point
    that this Python's Unicode data (14.0.0 in Python 3.11) assigns, except private use, and
    every one that berry's Unicode 16.0.0 table calls a letter, number or space; the rest are
    "other" to both (HF's newer Unicode may know some: those are not berry's claim)."""
    pt = hf_pretokenizer(mode)
    classes = cli("classes").decode().strip()
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp < 0xE000 and
           (classes[cp] != "0" or unicodedata.category(chr(cp)) not in ("Cn", "Co"))]
    probe = lambda c: f"x{c}1{c},{c} {c}"
    chunk = 2048
    parts = [cps[i:i + chunk] for i in range(0, len(cps), chunk)]
    texts = ["".join(probe(chr(cp)) for cp in part) for part in parts]
    bad = []
    for part, text, got in zip(parts, texts, berry_pretok(mode, texts)):
        if got == hf_pretok(pt, text):
            continue
        for cp, b in zip(part, berry_pretok(mode, [probe(chr(cp)) for cp in part])):
            if b != hf_pretok(pt, probe(chr(cp))):
                bad.append(cp)
    check(not bad, f"code point sweep ({mode}): berry and HF agree on {len(cps)} code points",
          f"{len(bad)} differ, first: " + ", ".join(f"U+{cp:04X}" for cp in bad[:10]) +
          f" (HF tokenizers {tokenizers.__version__}; berry's table is Unicode 16.0.0 — see shards/tokenizer_unicode_gen.py)")


# ---- corpus for training ------------------------------------------------------------------------

def repo_texts():
    """This repository's own sources: real code and prose."""
    out = []
    for d in ["shards", "tests/tokenizer", "kernels"]:
        full = os.path.join(REPO, d)
        for name in sorted(os.listdir(full)):
            if name.endswith((".c", ".h", ".py", ".md")) and name != "tokenizer_unicode.c":
                with open(os.path.join(full, name), "rb") as f:
                    raw = f.read()
                try:
                    out.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    pass  # HF takes Unicode text only; berry's own tests cover other bytes
    return out


def compare_encoding(mode, corpus_path, eval_texts):
    vj, mt = os.path.join(TMP, f"vocab-{mode}.json"), os.path.join(TMP, f"merges-{mode}.txt")
    spec = sum((["--special", s] for s in SPECIALS), [])
    cli("train", "--input", corpus_path, "--vocab-size", "3000", "--pretok", mode, *spec, "--vocab-json", vj,
        "--merges-txt", mt)
    tok = Tokenizer(models.BPE.from_file(vj, mt))
    tok.pre_tokenizer = hf_pretokenizer(mode)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS)
    check(tok.get_vocab_size() == 3000, f"HF loads berry's {mode} vocabulary", f"size {tok.get_vocab_size()}")
    rec = os.path.join(TMP, "eval.rec")
    write_records(rec, eval_texts)
    berry_ids = [[int(x) for x in line.split()] for line in
                 cli("encode", "--vocab-json", vj, "--merges-txt", mt, "--pretok", mode, "--input", rec).decode().split("\n")[:len(eval_texts)]]
    hf_ids = [e.ids for e in tok.encode_batch(eval_texts)]
    bad = [i for i, (a, b) in enumerate(zip(berry_ids, hf_ids)) if a != b]
    detail = ""
    if bad:
        i = bad[0]
        detail = f"first: {eval_texts[i][:80]!r}: berry {berry_ids[i][:20]} HF {hf_ids[i][:20]}"
    n_ids = sum(len(x) for x in hf_ids)
    check(not bad and len(berry_ids) == len(hf_ids),
          f"{mode}: identical ids on {len(eval_texts)} texts ({n_ids} ids), {len(bad)} differ", detail)
    # The texts with special tokens did produce them.
    sp_ids = {tok.token_to_id(s) for s in SPECIALS}
    check(sum(1 for ids in berry_ids for x in ids if x in sp_ids) > 0, f"{mode}: special tokens appear in the ids")
    # Both decoders give the texts back.
    hf_back = tok.decode_batch(hf_ids, skip_special_tokens=False)
    check(hf_back == eval_texts, f"{mode}: HF decodes berry's ids back to the texts")
    ids_rec = os.path.join(TMP, "ids.rec")
    write_records(ids_rec, [" ".join(map(str, ids)) for ids in berry_ids])
    back = read_records(cli("decode", "--vocab-json", vj, "--merges-txt", mt, "--pretok", mode, "--input", ids_rec))
    check(back == [t.encode() for t in eval_texts], f"{mode}: berry decodes its ids back to the texts")


def main():
    rng = random.Random(20240521)
    for mode in ["gpt2", "digits"]:
        t0 = time.time()
        compare_pretok(mode, TRICKY, "tricky texts", each=True)
        compare_pretok(mode, random_texts(rng, 3000, 40), "random texts", each=False)
        compare_pretok(mode, repo_texts(), "source files", each=False)
        t1 = time.time()
        sweep_code_points(mode)
        print(f"{mode}: pre-tokenisation checks {t1 - t0:.1f}s, code point sweep {time.time() - t1:.1f}s",
              file=sys.stderr)

    corpus = make_corpus(random.Random(1), 1_500_000) + "".join(repo_texts())
    corpus_path = os.path.join(TMP, "corpus.txt")
    with open(corpus_path, "w", encoding="utf-8") as f:
        f.write(corpus)
    held_out = make_corpus(random.Random(2), 300_000).split("\n")
    eval_texts = TRICKY + random_texts(rng, 1500, 60) + held_out + repo_texts()
    for mode in ["gpt2", "digits"]:
        t0 = time.time()
        compare_encoding(mode, corpus_path, eval_texts)
        print(f"{mode}: train + encode + compare {len(eval_texts)} texts {time.time() - t0:.1f}s", file=sys.stderr)


try:
    main()
except Exception as exc:  # a crash is a failure with its reason, not a missing summary
    check(False, "test_hf_compare", repr(exc))
finally:
    shutil.rmtree(TMP, ignore_errors=True)
finish()
