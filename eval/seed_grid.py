"""How much can summary candidates gain? Every (prompt, seed) pair (issue 16, item 3).

    python eval/seed_grid.py ../shared/corpus/canterbury/alice29.txt:1500 --candidates 4

For each file (FILE:N: its first N bytes), prompts 0..N-1 (0 greedy, k > 0 sampled with
seed k) are each regenerated with seeds 0..N-1, at the summary mode's default settings,
and the similarity of each whole regeneration to the original is printed as a matrix
(rows: prompts, columns: seeds). `--seeds N` keeps the best of the diagonal; the
matrix's maximum bounds what any choice of N x N candidates could reach.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import llmpack
from llmpack.semantic import sections as sec
from llmpack.semantic import templates
from llmpack.coding.modelcoder import threads
from llmpack.codecs.base import Context
from llmpack.codecs.semantic import SummaryCodec
from llmpack.codecs.semantic_params import RECIPES, Params, Section
from llmpack.semantic.similarity import similarity

sys.path.insert(0, str(Path(__file__).parent))
from bench import read_spec  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="FILE or FILE:MAX_BYTES")
    ap.add_argument("--candidates", type=int, default=4, help="prompts and seeds per section")
    args = ap.parse_args()
    n = args.candidates
    lm = llmpack.Compressor().ctx.get_model()
    tok = lm.tokenizer
    codec = SummaryCodec()
    recipe = RECIPES[1]  # whole-section candidates
    condense, regenerate = templates.load(*recipe.condense), templates.load(*recipe.regenerate)
    for spec in args.files:
        name, data = read_spec(spec)
        pieces = sec.split(data, lambda b: len(tok.encode(b)), codec.config.max_section_tokens)
        counts = [len(tok.encode(p)) for p in pieces]
        grid = np.zeros((n, n))
        with threads(None):
            exact = lm.exact(Params(recipe, 1.0).numerics, "auto")
            for k in range(n):
                prompts = codec._condense(exact, lm, condense, pieces, counts, Context(), seed=k)
                candidate = Params(recipe, 1.0, [Section(c, 0, 0, q) for c, q in zip(counts, prompts)])
                for s in range(n):
                    regen = codec._regenerate(exact, lm, candidate, regenerate, [s] * len(pieces), Context())
                    grid[k, s] = similarity(data, b"".join(regen))
        diagonal = max(grid[k, k] for k in range(n))
        print(f"{name}: {len(pieces)} section(s); greedy {grid[0, 0]:.3f}, best of the diagonal {diagonal:.3f}, "
              f"best of all {grid.max():.3f}")
        print(np.array2string(grid, precision=3), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
