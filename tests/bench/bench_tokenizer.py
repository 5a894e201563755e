#!/usr/bin/env python3
"""Tokenizer benchmark: berry's encoder against HF tokenizers, one thread each, same texts,
same vocabulary, in one run; also times berry's training.

Text: the .py files of this Python's standard library (real code and English prose, one
document per file) plus 8 MB of the synthetic multilingual corpus of the tokenizer tests
(prose, arithmetic with step/answer markers, code, many scripts, emoji), cut into
documents of 40 lines. berry trains a vocabulary on all of it (the training time is
reported), saves it as GPT-2 files, and both load them. The encode set is the first
--encode-mb MB of stdlib documents plus 4 MB of synthetic ones; each side encodes every
document (best of --repeat runs) and the ids of the two are compared in full. Prints a
markdown table.

Usage: tests/bench/bench_tokenizer.py [--vocab-size 8192] [--repeat 2] [--encode-mb 12]   (from the repo root)
"""
import argparse
import glob
import json
import os
import shutil
import random
import sys
import sysconfig
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # HF single-threaded, before tokenizers loads
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers  # noqa: E402
from tokenizers import Tokenizer, decoders, models  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tokenizer"))
from hf_common import SPECIALS, hf_pretokenizer, make_corpus, run_cli, write_records  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("BUILD", "build")
CLI = os.environ.get("BPE_CLI", os.path.join(REPO, BUILD, "tests", "tokenizer", "bpe_cli"))


def documents():
    """Returns (stdlib documents, synthetic documents)."""
    docs = []
    for path in sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "**", "*.py"), recursive=True)):
        if "site-packages" in path or "dist-packages" in path:
            continue
        with open(path, "rb") as f:
            raw = f.read()
        try:
            docs.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            continue  # HF takes Python str; the few non-UTF-8 test files are left out
    lines = make_corpus(random.Random(3), 8_000_000).split("\n")
    return docs, ["\n".join(lines[i:i + 40]) + "\n" for i in range(0, len(lines), 40)]


def take_mb(docs, mb):
    out, n = [], 0
    for d in docs:
        if n >= mb * 1e6:
            break
        out.append(d)
        n += len(d.encode())
    return out


def best_time(fn, repeat):
    best, out = 1e30, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--encode-mb", type=float, default=12)
    args = ap.parse_args()
    stdlib, synthetic = documents()
    train_text = "".join(stdlib + synthetic)
    train_mb = len(train_text.encode()) / 1e6
    docs = take_mb(stdlib, args.encode_mb) + take_mb(synthetic, 4)
    nbytes = sum(len(d.encode()) for d in docs)
    tmp = tempfile.mkdtemp(prefix="berry_bench_tok.")
    corpus, rec = os.path.join(tmp, "corpus.txt"), os.path.join(tmp, "docs.rec")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(train_text)
    write_records(rec, docs)
    print(f"bench_tokenizer: train on {train_mb:.1f} MB; encode {len(docs)} documents, {nbytes / 1e6:.1f} MB; "
          f"vocab {args.vocab_size}; HF tokenizers {tokenizers.__version__}; best of {args.repeat}", file=sys.stderr)
    rows = []
    for mode in ["digits", "gpt2"]:
        vj, mt = os.path.join(tmp, f"vocab-{mode}.json"), os.path.join(tmp, f"merges-{mode}.txt")
        spec = sum((["--special", s] for s in SPECIALS), [])
        t0 = time.perf_counter()
        run_cli(CLI, "train", "--input", corpus, "--vocab-size", str(args.vocab_size), "--pretok", mode, *spec,
                "--vocab-json", vj, "--merges-txt", mt)
        train_s = time.perf_counter() - t0
        load = ["--vocab-json", vj, "--merges-txt", mt, "--pretok", mode]
        berry = json.loads(run_cli(CLI, "bench", *load, "--input", rec, "--repeat", str(args.repeat)))
        berry_ids = [[int(x) for x in line.split()] for line in
                     run_cli(CLI, "encode", *load, "--input", rec).decode().split("\n")[:len(docs)]]

        tok = Tokenizer(models.BPE.from_file(vj, mt))
        tok.pre_tokenizer = hf_pretokenizer(mode)
        tok.decoder = decoders.ByteLevel()
        tok.add_special_tokens(SPECIALS)
        hf = {}
        hf["encode_batch"], encs = best_time(lambda: tok.encode_batch(docs), args.repeat)
        hf_ids = [e.ids for e in encs]
        if hasattr(tok, "encode_batch_fast"):
            hf["encode_batch_fast"], _ = best_time(lambda: tok.encode_batch_fast(docs), args.repeat)
        hf["encode (loop)"], _ = best_time(lambda: [tok.encode(d) for d in docs], args.repeat)
        same = berry_ids == hf_ids
        fastest = min(hf, key=hf.get)
        rows.append((mode, train_s, berry, hf, fastest, same, sum(map(len, hf_ids))))
        print(f"{mode}: berry {berry['mb_per_s']:.1f} MB/s, HF {fastest} {nbytes / hf[fastest] / 1e6:.1f} MB/s, "
              f"ids identical: {same}", file=sys.stderr)

    print(f"Training: {args.vocab_size} ids (3 specials) on {train_mb:.1f} MB (Python {sys.version.split()[0]} stdlib .py "
          f"files + 8 MB synthetic multilingual corpus), wall time of `bpe_cli train` including reading the file.  ")
    print(f"Encoding: {len(docs)} documents, {nbytes / 1e6:.1f} MB ({args.encode_mb:g} MB of the stdlib files + 4 MB "
          f"synthetic); HF tokenizers {tokenizers.__version__} with the same vocab.json/merges.txt; one thread each "
          f"(RAYON_NUM_THREADS=1); best of {args.repeat}.\n")
    print("| pre-tokenisation | berry train | berry encode | HF encode_batch | HF encode_batch_fast | HF encode loop "
          "| berry / fastest HF | ids identical |")
    print("|---|---|---|---|---|---|---|---|")
    for mode, train_s, berry, hf, fastest, same, nids in rows:
        mbs = lambda s: f"{nbytes / s / 1e6:.1f} MB/s"
        fast = mbs(hf["encode_batch_fast"]) if "encode_batch_fast" in hf else "n/a"
        print(f"| {mode} | {train_s:.1f} s | {berry['mb_per_s']:.1f} MB/s | {mbs(hf['encode_batch'])} | {fast} | "
              f"{mbs(hf['encode (loop)'])} | {berry['mb_per_s'] / (nbytes / hf[fastest] / 1e6):.1f}x | "
              f"{'yes' if same else 'NO'} ({nids} ids) |")
    shutil.rmtree(tmp, ignore_errors=True)
    if not all(r[5] for r in rows):
        sys.exit("bench_tokenizer: berry's ids differ from HF's")


if __name__ == "__main__":
    main()
