"""What a dictionary (-D) gains on small records: single conversations of a ShareGPT file,
each compressed alone, without and with the rest of that file as the dictionary.

    python eval/dictionary.py ../shared/corpus/sharegpt/*.json --per-file 10 --decode 2

A record is the exact bytes of one conversation object in the file (as a user would cut
it out); its dictionary is the file without it. Prints each record's sizes and the total
saving. --decode N also decodes the first N records of each file with their dictionary
and checks the bytes (decoding steps one token at a time, so it is the slow part).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import llmpack


def records(text: bytes) -> list[tuple[int, int]]:
    """(start, end) byte ranges of the top-level objects of a JSON array."""
    s = text.decode("utf-8")
    decoder, out, i = json.JSONDecoder(), [], s.index("[") + 1
    while True:
        while i < len(s) and s[i] in " \t\r\n,":
            i += 1
        if i >= len(s) or s[i] == "]":
            return [(len(s[:a].encode()), len(s[:b].encode())) for a, b in out]
        _, end = decoder.raw_decode(s, i)
        out.append((i, end))
        i = end


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--per-file", type=int, default=10, help="records taken from each file, spread evenly")
    ap.add_argument("--level", type=int, default=None)
    ap.add_argument("--decode", type=int, default=0, help="also decode the first N records of each file")
    args = ap.parse_args()
    lm = llmpack.Compressor().ctx.get_model()
    options = {"level": args.level} if args.level else {}
    plain_total = dict_total = raw_total = 0
    print("| record | bytes | alone | with -D | saving |\n|---|---:|---:|---:|---:|", flush=True)
    for path in args.files:
        text = path.read_bytes()
        spans = records(text)
        step = max(1, len(spans) // args.per_file)
        for k, (a, b) in enumerate(spans[::step][: args.per_file]):
            record, rest = text[a:b], text[:a] + text[b:]
            alone = llmpack.Compressor(model=lm, **options).compress(record)
            t = time.perf_counter()
            primed = llmpack.Compressor(model=lm, dictionary=rest, **options).compress(record)
            enc = time.perf_counter() - t
            note = ""
            if k < args.decode:
                t = time.perf_counter()
                assert llmpack.decompress(primed, model=lm, dictionary=rest) == record, "round trip failed"
                note = f" (round trip exact; encode {enc:.1f} s, decode {time.perf_counter() - t:.1f} s)"
            raw_total, plain_total, dict_total = raw_total + len(record), plain_total + len(alone), dict_total + len(primed)
            print(f"| {path.name} #{spans.index((a, b))} | {len(record)} | {len(alone)} | {len(primed)} | "
                  f"{1 - len(primed) / len(alone):.0%}{note} |", flush=True)
    print(f"\n{raw_total} bytes in all: {plain_total} alone, {dict_total} with the dictionary, "
          f"{1 - dict_total / plain_total:.1%} smaller", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
