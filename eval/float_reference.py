"""llmpack against a float reference of the same weights: what segment restarts cost.

    python eval/float_reference.py FILE[:MAX_BYTES]... [--level N] [--window 1024] [--stride 512]

For each input: the cross-entropy of the same model weights in a plain float32 forward
(transformers, the dequantized GGUF that llmpack loads) with a continuous context,
evaluated in windows of --window tokens that advance by --stride (each token scored once,
after at least window - stride tokens of context where the text allows), over the same
tokens llmpack codes (its byte-exact tokenizer; a byte the vocabulary lacks counts 8
bits); then `llmpack.compress` at the level: the whole file, and the model-coded bits
alone (no header, no stream ends). Prints one Markdown row per input and the gap of each
to the reference. Ratios only: timing is not measured.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

import llmpack
from llmpack.config import DEFAULT_LEVEL

sys.path.insert(0, str(Path(__file__).parent))
from bench import read_spec  # noqa: E402


def reference_bits(lm, data: bytes, window: int, stride: int) -> float:
    """Bits of data under the float model with continuous context (strided windows)."""
    tok = lm.tokenizer
    ids = tok.encode(data)
    inputs = [tok.start_id] + [tok.model_input(t) for t in ids]  # inputs[k] predicts ids[k]
    n = len(ids)
    total, scored = 0.0, 0
    start = 0  # first input of the window
    while scored < n:
        end = min(start + window, n)  # inputs start..end-1 predict ids start..end-1
        with torch.no_grad():
            logits = lm.model(torch.tensor([inputs[start:end]])).logits[0].double()
        logp = torch.log_softmax(logits, dim=-1)
        for k in range(scored, end):
            t = ids[k]
            total += 8.0 if t >= tok.vocab_size else -float(logp[k - start, t]) / math.log(2)
        scored = end
        start = max(0, end - (window - stride)) if end < n else end
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="FILE or FILE:MAX_BYTES")
    ap.add_argument("--level", type=int, default=DEFAULT_LEVEL)
    ap.add_argument("--window", type=int, default=1024)
    ap.add_argument("--stride", type=int, default=512)
    args = ap.parse_args()
    c = llmpack.Compressor(level=args.level)
    lm = c.ctx.get_model()
    print(f"| input | bytes | float reference ({args.window}/{args.stride}) | llmpack -{args.level} model bits "
          "| gap | llmpack -{0} file | gap |".format(args.level))
    print("|---|---:|---:|---:|---:|---:|---:|", flush=True)
    for spec in args.files:
        name, data = read_spec(spec)
        ref = reference_bits(lm, data, args.window, args.stride) / len(data)
        blob = c.compress(data)
        if llmpack.decompress(blob, model=lm) != data:
            print(f"ROUND TRIP FAILED: {name}", file=sys.stderr)
            return 1
        coded = c.stats.get("model_bits", 0.0) / len(data)
        whole = 8 * len(blob) / len(data)
        print(f"| {name} | {len(data)} | {ref:.3f} | {coded:.3f} | {100 * (coded / ref - 1):+.1f}% "
              f"| {whole:.3f} | {100 * (whole / ref - 1):+.1f}% |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
