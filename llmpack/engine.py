"""Next-token probabilities for the coders, from the exact engine (llmpack.exact).

The engine's numbers are a pure function of (model, tokens), so the encoder computes a
whole segment in full-sequence passes (`sequence_weights`) while the decoder, which
learns one token at a time, steps all rows of a batch together (`Lockstep`): both see
the same bits on any machine.

Probabilities are handed to the range coder unnormalised, as exp(logit - max) in
[0, 1] (constriction normalises), widened to float64: constriction's float32 path
panics on some unnormalised inputs (about 1 in 8 random ones), its float64 path never
did in our stress tests, and either is deterministic Rust. The coder alphabet may extend past the vocabulary
(virtual byte symbols), whose columns stay 0 and are coded through the coder's floor.
"""

from __future__ import annotations

import numpy as np
import torch

# Encoder passes: at most this many token positions at once (rows x length). Long
# segments run as several passes over the KV cache (same bits as one pass). Big enough
# for efficient GEMMs; small enough that a layer's activations (positions x 2 x 1536 x 4
# bytes for SmolLM2's MLP) stay below glibc's largest mmap threshold (32 MB), so their
# memory is reused between layers instead of being page-faulted in afresh each time.
PASS_TOKENS = 1024
# Positions sent through the LM head and the exp table at once: their (rows x vocabulary)
# buffers stay below that threshold too (64 x 49152 x 8 bytes = 25 MB for SmolLM2).
HEAD_ROWS = 64


class _Weights:
    """Reused float64 buffers for the coder: exp(logit - max) for the vocabulary, then zeros
    for the coder's virtual symbols. A returned view is valid until the next call."""

    def __init__(self, exact, symbol_count: int) -> None:
        self.exact, self.symbol_count = exact, symbol_count
        self.buf = np.zeros((0, symbol_count), dtype=np.float64)

    def __call__(self, logits: torch.Tensor) -> np.ndarray:
        n, vocab = logits.shape
        if self.buf.shape[0] < n:
            self.buf = np.zeros((n, self.symbol_count), dtype=np.float64)
        out = self.buf[:n]
        out[:, :vocab] = self.exact.weights(logits).numpy()
        return out


class Lockstep:
    """Steps `rows` independent sequences together, one token each, for at most `steps` steps."""

    def __init__(self, exact, rows: int, symbol_count: int, steps: int) -> None:
        self.exact = exact
        self.rows = rows
        self.weights = _Weights(exact, symbol_count)
        self.cache = exact.new_cache(rows, max(1, steps))
        self.position = 0

    def step(self, input_ids: list[int]) -> np.ndarray:
        """Feed one token per row; return next-token weights, shape (rows, symbols), valid
        until the next step."""
        ids = torch.tensor(input_ids, dtype=torch.long).view(self.rows, 1)
        pos = torch.full((self.rows, 1), self.position, dtype=torch.long)
        logits = self.exact.forward(ids, pos, self.cache, keep=torch.zeros(self.rows, dtype=torch.long))
        self.position += 1
        return self.weights(logits)


def sequence_weights(exact, inputs: list[list[int]], symbol_count: int):
    """For each input sequence (model ids, start token first), the next-token weights at
    every position, as (index, start, weights): weights (n, symbols) for positions
    start..start+n-1 of inputs[index], in order of index then start, each valid until the
    next item. Computed in full-sequence passes of several right-padded rows (padding
    never changes a row's numbers); the LM head runs HEAD_ROWS positions at a time."""
    weights = _Weights(exact, symbol_count)
    i = 0
    while i < len(inputs):
        rows = max(1, PASS_TOKENS // max(1, len(inputs[i])))
        batch = list(range(i, min(len(inputs), i + rows)))
        width = max(len(inputs[j]) for j in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        for r, j in enumerate(batch):
            ids[r, : len(inputs[j])] = torch.tensor(inputs[j], dtype=torch.long)
        pos = torch.arange(width).unsqueeze(0).expand(len(batch), width)
        cache = exact.new_cache(len(batch), width)
        step = max(1, PASS_TOKENS // len(batch))
        hidden = torch.cat([exact.hidden(ids[:, a : a + step], pos[:, a : a + step], cache) for a in range(0, width, step)], dim=1)
        for r, j in enumerate(batch):
            for a in range(0, len(inputs[j]), HEAD_ROWS):
                b = min(len(inputs[j]), a + HEAD_ROWS)
                yield j, a, weights(exact.logits(hidden[r, a:b]))
        i += len(batch)


def bits(weights: np.ndarray, symbols: list[int]) -> list[float]:
    """The model's cost of each symbol in bits, -log2 p (for statistics, not for coding)."""
    w = np.asarray(weights, dtype=np.float64)  # no copy: the coder's weights are float64 already
    p = w[np.arange(len(symbols)), symbols] / w.sum(axis=-1)
    return list(-np.log2(np.maximum(p, 1e-30)))
