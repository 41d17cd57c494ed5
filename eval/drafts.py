"""Could a decoder guess tokens ahead (speculative decoding) so that fewer, longer
segments decode as fast as today's? How often a cheap draft equals the next token.

    python eval/drafts.py FILE[:MAX_BYTES]... [--segments 2] [--order 6]

A decoding step could feed each row its known token plus a guess of the next one: where
the guess is right, the step's second position gives the following token's weights too
(the engine's numbers do not depend on how many positions a pass holds), so a row moves
two tokens in one step. The guess must exist before the step, so it cannot come from
the step's own output. Printed per file, over the text cut into --segments pieces as the
coder cuts it: how often the n-gram draft (the latest follower of the longest earlier
context of up to --order tokens in the same segment, backing off to shorter ones) is
right, and, for scale, how often the model's own most likely token is (which a draft
could only approach). Nothing here changes what llmpack writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import llmpack
from llmpack.coding import segments
from llmpack.model import engine

sys.path.insert(0, str(Path(__file__).parent))
from bench import read_spec  # noqa: E402


def ngram_hits(ids: list[int], order: int) -> int:
    """Positions whose token equals the follower of the longest earlier context (up to
    `order` tokens) that has been seen before in ids."""
    tables: dict[int, dict] = {k: {} for k in range(1, order + 1)}  # context length -> context -> follower
    hits = 0
    for t, token in enumerate(ids):
        for k in range(min(order, t), 0, -1):
            guess = tables[k].get(tuple(ids[t - k : t]))
            if guess is not None:
                hits += guess == token
                break
        for k in range(1, min(order, t) + 1):
            tables[k][tuple(ids[t - k : t])] = token
    return hits


def model_hits(exact, tok, ids: list[int]) -> int:
    inputs = [[tok.start_id] + [tok.model_input(t) for t in ids[:-1]]]
    hits = 0
    for _, start, weights in engine.sequence_weights(exact, inputs, tok.symbol_count):
        top = np.argmax(weights, axis=1)
        hits += int(np.sum(top == np.asarray(ids[start : start + len(top)])))
    return hits


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="FILE or FILE:MAX_BYTES")
    ap.add_argument("--segments", type=int, default=2)
    ap.add_argument("--order", type=int, default=6)
    args = ap.parse_args()
    lm = llmpack.Compressor().ctx.get_model()
    tok, exact = lm.tokenizer, lm.exact()
    print("| input | segments | tokens | n-gram draft right | tokens per step, one draft | model's top token right |")
    print("|---|---:|---:|---:|---:|---:|", flush=True)
    for spec in args.files:
        name, data = read_spec(spec)
        pieces = [tok.encode(p) for p in segments.split(data, args.segments)]
        n = sum(map(len, pieces))
        drafted = sum(ngram_hits(ids, args.order) for ids in pieces) / n
        top = sum(model_hits(exact, tok, ids) for ids in pieces) / n
        print(f"| {name} | {len(pieces)} | {n} | {drafted:.1%} | {1 + drafted:.2f} | {top:.1%} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
