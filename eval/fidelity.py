"""The fidelity mode against the arithmetic mode (issue 16, item 4).

    python eval/fidelity.py ../shared/corpus/canterbury/alice29.txt:5000 --fidelity 0.9,0.95,0.99

FILE:N measures the first N bytes. Each file is decoded; its similarity to the original
is recomputed and must match the header's within 0.01. Prints bytes, the fraction of the
arithmetic mode's size and the similarity per file and level, and a sample of what changed.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

import llmpack
from llmpack.semantic.similarity import similarity

sys.path.insert(0, str(Path(__file__).parent))
from bench import read_spec  # noqa: E402


def _changes(a: bytes, b: bytes, n: int = 4) -> str:
    """The first n replaced spans, 'old -> new'."""
    sm = difflib.SequenceMatcher(None, a.decode("utf-8", "replace"), b.decode("utf-8", "replace"), autojunk=False)
    spans = [f"{sm.a[i1:i2]!r}->{sm.b[j1:j2]!r}" for op, i1, i2, j1, j2 in sm.get_opcodes() if op != "equal"]
    return ", ".join(spans[:n])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="FILE or FILE:MAX_BYTES")
    ap.add_argument("--fidelity", default="0.95", help="comma list of fidelity levels")
    args = ap.parse_args()
    levels = [float(x) for x in args.fidelity.split(",")]
    lm = llmpack.Compressor().ctx.get_model()
    print("| input | arithmetic | fidelity | bytes | / arithmetic | similarity | recomputed | first changes |")
    print("|---|---:|---:|---:|---:|---:|---:|---|", flush=True)
    worst = 0.0
    for spec in args.files:
        name, data = read_spec(spec)
        arith = len(llmpack.Compressor(model=lm).compress(data))
        for f in levels:
            blob = llmpack.compress(data, mode="fidelity", model=lm, fidelity=f)
            approx = llmpack.decompress(blob, model=lm)
            stored, again = llmpack.inspect(blob)["similarity"], similarity(data, approx)
            if abs(stored - again) > 0.01 or again < f - 0.01:
                print(f"SIMILARITY MISMATCH: {name} at {f}: stored {stored}, recomputed {again}", file=sys.stderr)
                return 1
            worst = max(worst, len(blob) / arith) if f == levels[0] else worst
            print(f"| {name} | {arith} | {f} | {len(blob)} | {len(blob) / arith:.3f} | {stored:.3f} | {again:.3f} | "
                  f"{_changes(data, approx)} |", flush=True)
    print(f"\nlargest fidelity / arithmetic at {levels[0]}: {worst:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
