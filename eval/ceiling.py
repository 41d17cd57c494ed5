"""Upper bound on arithmetic-mode speed on this CPU: the model's matrix products alone.

    python eval/ceiling.py [--rows 64] [--threads 2] [--bytes-per-token 3.86]

Every token costs one pass through each linear layer of the model (the tied head
included). This times exactly those products, layer after layer as in a real step, for a
batch of ROWS tokens, in float32 and bfloat16 and as the exact engine computes them
(portable fp32-on-integers, and int8 where torch has it), and prints the tokens/s and KB/s that
would follow if nothing else (attention, norms, softmax, range coding) took any time.
A real step is slower than this; if the bound is below a target, no scheduling of the
same products reaches it. The default bytes/token is alice29.txt's (eval/bench.py).
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F


def linear_weights(model) -> list[torch.Tensor]:
    """Each linear weight of one step, in model order (the tied head last)."""
    return [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]


def time_step(products: list[Callable[[], torch.Tensor]], repeats: int) -> float:
    """Seconds for one pass over products (one per linear layer), after a warm-up pass."""
    for p in products:
        p()
    start = time.perf_counter()
    for _ in range(repeats):
        for p in products:
            p()
    return (time.perf_counter() - start) / repeats


def seconds_per_step(weights: list[torch.Tensor], rows: int, dtype: torch.dtype, repeats: int) -> float:
    ws = [w.detach().to(dtype) for w in weights]
    xs = {w.shape[1]: torch.randn(rows, w.shape[1], dtype=dtype) for w in ws}
    return time_step([partial(F.linear, xs[w.shape[1]], w) for w in ws], repeats)


def exact_seconds_per_step(weights: list[torch.Tensor], rows: int, backend_name: str, repeats: int) -> float:
    """The same products as the exact engine computes them (quantize, integer product, scales)."""
    from llmpack.model.exact import DEFAULT
    from llmpack.model.exact.backends import Int8, Portable
    from llmpack.model.exact.model import Linear

    backend = {"portable": Portable, "int8": Int8}[backend_name]()
    layers = [Linear(w, None, DEFAULT, backend) for w in weights]
    xs = {w.shape[1]: torch.randn(rows, w.shape[1]) for w in weights}
    return time_step([partial(layer, xs[w.shape[1]]) for layer, w in zip(layers, weights)], repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=64, help="tokens per step (arithmetic mode's batch; default 64)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bytes-per-token", type=float, default=3.86)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from llmpack.model.loading import load

    weights = linear_weights(load(None).model)
    macs = sum(w.numel() for w in weights)  # multiply-adds per token
    flops = 2 * args.rows * macs
    print(f"{len(weights)} linear layers, {macs / 1e6:.1f} M multiply-adds per token, "
          f"{args.rows} rows, {args.threads} threads")
    runs = [(str(dtype).removeprefix("torch."), partial(seconds_per_step, weights, args.rows, dtype, repeats))
            for dtype, repeats in ((torch.float32, args.repeats), (torch.bfloat16, 1))]
    runs += [(f"exact {b}", partial(exact_seconds_per_step, weights, args.rows, b, args.repeats)) for b in ("portable", "int8")]
    for name, timed in runs:
        try:
            s = timed()
        except RuntimeError as exc:  # e.g. no int8 matrix product on this build
            print(f"{name:14} not available: {str(exc).splitlines()[0]}")
            continue
        tps = args.rows / s
        print(f"{name:14} {flops / s / 1e9:7.1f} GFLOP/s  {1000 * s:8.1f} ms/step  "
              f"ceiling {tps:7.0f} tokens/s = {tps * args.bytes_per_token / 1000:5.2f} KB/s")


if __name__ == "__main__":
    main()
