"""Where the time of an encode and of a decode goes, function by function (cProfile).

    python eval/time_split.py ../shared/corpus/prose/llamafactory_wiki_demo.txt:8000
    python eval/time_split.py FILE:8000 --level 5 --top 12
    (cd /tmp && PYTHONPATH=/path/to/old/worktree python /path/to/eval/time_split.py FILE:8000)

Runs with one thread in one process (the decoder's forked workers would hide their
time from the profiler), after the model is loaded and warmed. Prints each phase's
wall time and its functions by own time, as a share of the phase. Inside the compiled
core the profiler sees one call per forward or LM-head pass; `perf record -g` splits
those further (docs/DESIGN.md, "Where the time goes").
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import torch

import llmpack


def show(profile: cProfile.Profile, phase: str, seconds: float, nbytes: int, top: int) -> None:
    stats = pstats.Stats(profile)
    rows = sorted(((v[2], k) for k, v in stats.stats.items()), reverse=True)[:top]  # (own time, (file, line, name))
    total = sum(v[2] for v in stats.stats.values()) or 1.0
    print(f"\n{phase}: {seconds:.2f} s, {nbytes / 1000 / seconds:.2f} KB/s")
    print("| share | own s | function |\n|---:|---:|---|")
    for own, (file, line, name) in rows:
        where = f"{Path(file).parent.name}/{Path(file).name}:{line}" if file != "~" else "builtin"
        print(f"| {100 * own / total:.1f}% | {own:.2f} | {name} ({where}) |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="FILE or FILE:MAX_BYTES")
    ap.add_argument("--level", type=int, default=None, help="arithmetic level (default: the default level)")
    ap.add_argument("--top", type=int, default=10, help="functions shown per phase")
    args = ap.parse_args()
    path, _, limit = args.file.partition(":")
    data = Path(path).read_bytes()[: int(limit) if limit else None]

    torch.set_num_threads(1)
    options = {"level": args.level} if args.level else {}
    compressor = llmpack.Compressor(**options)
    compressor.compress(b"warm up")
    decompressor = llmpack.Decompressor(model=compressor.ctx.model)

    profile = cProfile.Profile()
    t = time.perf_counter()
    blob = profile.runcall(compressor.compress, data)
    show(profile, "encode", time.perf_counter() - t, len(data), args.top)

    profile = cProfile.Profile()
    t = time.perf_counter()
    out = profile.runcall(decompressor.decompress, blob)
    show(profile, "decode", time.perf_counter() - t, len(data), args.top)
    return 0 if out == data else 1


if __name__ == "__main__":
    sys.exit(main())
