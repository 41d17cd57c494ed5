"""Decoder step time against context length: the cost that decode speed is made of.

    python eval/step_cost.py ROWS CONTEXTS [--profile] [--workers N]
    python eval/step_cost.py 20 200,1000,1900 --workers 2

For each context length L: a Lockstep of ROWS rows is prefilled with L random tokens,
then 10 steps are timed (after 3 warm-up steps). --profile prints torch's operator
table for the timed steps. --workers N splits the rows between N forked processes with
one torch thread each, as the decoder does (llmpack.coding.workers), and reports the slowest
one's step time. Run alone: timings on 2 shared cores are noisy.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

import llmpack
from llmpack.model import engine
from llmpack.coding import workers
from llmpack.model.window import Window

STEPS, WARM = 10, 3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows", type=int)
    ap.add_argument("contexts", help="comma list of context lengths (below 4096)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--workers", type=int, default=1, help="forked processes sharing the rows (one thread each)")
    args = ap.parse_args()
    lm = llmpack.Compressor().ctx.get_model()
    exact = lm.exact()

    def timed(L: int, rows: int, seed: int):
        def run(report) -> float:
            rng = np.random.default_rng(seed)
            step = engine.Lockstep(exact, rows, lm.tokenizer.symbol_count, 4096, Window(4096, 1024))
            step.restart(list(range(rows)), rng.integers(100, 40000, (rows, L)).tolist())
            for _ in range(WARM):
                step.step(rng.integers(100, 40000, rows).tolist())
            prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) if args.profile else None
            if prof:
                prof.__enter__()
            t = time.perf_counter()
            for _ in range(STEPS):
                step.step(rng.integers(100, 40000, rows).tolist())
            dt = (time.perf_counter() - t) / STEPS
            if prof:
                prof.__exit__(None, None, None)
                print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
            return dt
        return run

    for L in (int(x) for x in args.contexts.split(",")):
        shares = [len(range(w, args.rows, args.workers)) for w in range(args.workers)]
        dt = max(workers.run([timed(L, n, w) for w, n in enumerate(shares)], lambda n: None, workers.can_fork("cpu")))
        print(f"rows {args.rows}, workers {args.workers}, context {L}: {dt * 1000:.1f} ms per step, "
              f"{dt / args.rows * 1000:.2f} ms per token", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
