"""Summary files with more seeds: similarity gained and bytes spent (issue 16, item 3).

    python eval/seeds.py ../shared/corpus/canterbury/alice29.txt:1500 \
        ../shared/corpus/prose/llamafactory_wiki_demo.txt:1500 \
        ../shared/corpus/code_docs/requests_HISTORY.md:1500 --seeds 1,4

FILE:N measures the first N bytes. Each file is decoded and its similarity recomputed
(it must match the header's within 0.01). Prints bytes and similarity per file and
setting, then the mean similarity and total bytes per setting.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import llmpack
from llmpack.semantic.similarity import similarity

sys.path.insert(0, str(Path(__file__).parent))
from bench import read_spec  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="FILE or FILE:MAX_BYTES")
    ap.add_argument("--seeds", default="1,4", help="comma list of seed counts")
    ap.add_argument("--prompt-tokens", type=int, default=None, help="summary prompt budget (default: the mode's)")
    args = ap.parse_args()
    counts = [int(x) for x in args.seeds.split(",")]
    lm = llmpack.Compressor().ctx.get_model()
    options = {"prompt_tokens": args.prompt_tokens} if args.prompt_tokens else {}
    totals = {n: [0, 0.0] for n in counts}
    print("| input | seeds | bytes | similarity | recomputed |\n|---|---:|---:|---:|---:|", flush=True)
    for spec in args.files:
        name, data = read_spec(spec)
        for n in counts:
            blob = llmpack.compress(data, mode="summary", model=lm, seeds=n, **options)
            stored = llmpack.inspect(blob)["similarity"]
            again = similarity(data, llmpack.decompress(blob, model=lm))
            if abs(stored - again) > 0.01:
                print(f"SIMILARITY MISMATCH: {name} seeds {n}: stored {stored}, recomputed {again}", file=sys.stderr)
                return 1
            totals[n][0] += len(blob)
            totals[n][1] += stored
            print(f"| {name} | {n} | {len(blob)} | {stored:.3f} | {again:.3f} |", flush=True)
    print()
    for n, (size, sim) in totals.items():
        print(f"seeds {n}: {size} bytes in all, mean similarity {sim / len(args.files):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
