"""Would int8 matrix products make arithmetic mode fast enough on an AVX2 CPU? Speed and cost.

    python eval/int8.py [--file ../shared/corpus/canterbury/alice29.txt] [--segments 8]

eval/ceiling.py shows that fp32 products alone cap the speed below 1.5 KB/s on a 2-core
AVX2 CPU (bf16 is slower still). int8 products are the other route: integer sums are
exact, so they would even be thread-count independent. This measures both sides with
PyTorch's dynamic quantization (int8 weights, activations quantized per step):

- speed: each of the model's linear layers at ROWS rows, fp32 vs int8;
- cost: the model's cross-entropy (bits/byte) on some of FILE's segments, as arithmetic
  mode cuts them, with fp32, with only the output head in int8, and with every linear.

Cross-entropy is what range coding spends (plus ~2 bytes per segment), so a bits/byte
rise here is a rise in file size.
"""

from __future__ import annotations

import argparse
import copy
import warnings
from functools import partial
from pathlib import Path

import torch
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

from ceiling import linear_weights, seconds_per_step, time_step
from llmpack.scoring import cross_entropy_bits

warnings.filterwarnings("ignore", category=DeprecationWarning)  # torch.ao.quantization is deprecated, still works
warnings.filterwarnings("ignore", category=UserWarning, module="torch")


def int8(module: torch.nn.Module) -> torch.nn.Module:
    """Every nn.Linear inside module (or module itself) as a dynamically quantized int8 linear."""
    return quantize_dynamic(module, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def products_seconds(weights: list[torch.Tensor], rows: int, repeats: int) -> tuple[float, float]:
    """Seconds per model step for all linear products, fp32 and int8."""
    fp32 = seconds_per_step(weights, rows, torch.float32, repeats)
    q = []
    for w in weights:
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        lin.weight = torch.nn.Parameter(w.detach().clone(), requires_grad=False)
        q.append(int8(torch.nn.Sequential(lin)))
    xs = {w.shape[1]: torch.randn(rows, w.shape[1]) for w in weights}
    with torch.inference_mode():
        return fp32, time_step([partial(lin, xs[w.shape[1]]) for lin, w in zip(q, weights)], repeats)


def bits_per_byte(model, lm, pieces: list[bytes]) -> float:
    """The model's cross-entropy on each piece (coded from the start token, as a segment is), in bits per byte."""
    bits = sum(cross_entropy_bits(model, lm.tokenizer, p) for p in pieces)
    return bits / sum(len(p) for p in pieces)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", default="../shared/corpus/canterbury/alice29.txt")
    ap.add_argument("--segments", type=int, default=8, help="how many of the file's segments to score (default 8)")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from llmpack import kernels, segments as seg
    from llmpack.config import ArithmeticConfig
    from llmpack.models import load

    lm = load(None, "float32")
    kernels.restore(lm.model)  # plain nn.Linear layers, which quantize_dynamic recognises

    f, q = products_seconds(linear_weights(lm.model), args.rows, args.repeats)
    print(f"linear products, {args.rows} rows, {args.threads} threads: fp32 {1000 * f:.1f} ms/step, "
          f"int8 {1000 * q:.1f} ms/step ({f / q:.2f}x)")

    cfg = ArithmeticConfig()
    data = Path(args.file).read_bytes()
    count, _ = seg.plan(len(lm.tokenizer.encode(data)), cfg.max_rows, cfg.min_segment_tokens, cfg.max_segment_tokens)
    pieces = seg.split(data, count)
    step = max(1, len(pieces) // args.segments)
    scored = pieces[::step][: args.segments]
    print(f"cross-entropy on {len(scored)} of {len(pieces)} segments of {args.file}:")
    print(f"  fp32                  {bits_per_byte(lm.model, lm, scored):.4f} bits/byte")
    head = copy.deepcopy(lm.model)
    head.lm_head = int8(torch.nn.Sequential(head.lm_head))
    print(f"  int8 output head only {bits_per_byte(head, lm, scored):.4f} bits/byte")
    print(f"  int8 every linear     {bits_per_byte(int8(copy.deepcopy(lm.model)), lm, scored):.4f} bits/byte")


if __name__ == "__main__":
    main()
