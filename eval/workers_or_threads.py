"""Decoding few segments: two forked workers (a thread each) against one process with both
threads, side by side in one run, the same file decoded alternately (best of two each).

    python eval/workers_or_threads.py FILE[:MAX_BYTES]...

"before" forks a worker per thread whenever there are at least as many segments as
threads; "after" is llmpack.coding.workers.count (one process up to ONE_PROCESS_ROWS
segments). Every decode is compared with the input.
"""

from __future__ import annotations

import sys
import time

import llmpack
from llmpack.coding import workers


def forked_always(items: int, threads: int) -> tuple[int, int]:
    n = max(1, min(items, threads))
    return n, max(1, threads // n)


def main() -> int:
    lm = llmpack.Compressor().ctx.get_model()
    now = workers.count
    print("| input | segments | before | after | speed-up |\n|---|---:|---:|---:|---:|", flush=True)
    for spec in sys.argv[1:]:
        path, _, limit = spec.partition(":")
        with open(path, "rb") as fh:
            data = fh.read()[: int(limit) if limit else None]
        blob = llmpack.compress(data, model=lm)
        d = llmpack.Decompressor(model=lm)
        d.decompress(blob)  # warm
        times: dict[str, list[float]] = {"before": [], "after": []}
        try:
            for _ in range(2):
                for name, rule in (("before", forked_always), ("after", now)):
                    workers.count = rule
                    t = time.perf_counter()
                    if d.decompress(blob) != data:
                        print(f"ROUND TRIP FAILED: {spec}", file=sys.stderr)
                        return 1
                    times[name].append(time.perf_counter() - t)
        finally:
            workers.count = now
        b, a = min(times["before"]), min(times["after"])
        segments = llmpack.inspect(blob)["segments"]
        print(f"| {spec} | {segments} | {b:.2f} s ({len(data) / 1000 / b:.2f} KB/s) | {a:.2f} s "
              f"({len(data) / 1000 / a:.2f} KB/s) | {b / a:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
