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

# Encoder passes: at most this many token positions at once (rows x length), which
# bounds the logits buffer (positions x vocabulary x 4 bytes: 800 MB for SmolLM2).
PASS_TOKENS = 4096


def _padded(weights: torch.Tensor, symbol_count: int) -> np.ndarray:
    out = np.zeros((*weights.shape[:-1], symbol_count), dtype=np.float64)
    out[..., : weights.shape[-1]] = weights.numpy()
    return out


class Lockstep:
    """Steps `rows` independent sequences together, one token each, for at most `steps` steps."""

    def __init__(self, exact, rows: int, symbol_count: int, steps: int) -> None:
        self.exact = exact
        self.rows = rows
        self.symbol_count = symbol_count
        self.cache = exact.new_cache(rows, max(1, steps))
        self.position = 0

    def step(self, input_ids: list[int]) -> np.ndarray:
        """Feed one token per row; return next-token weights, shape (rows, symbols)."""
        ids = torch.tensor(input_ids, dtype=torch.long).view(self.rows, 1)
        pos = torch.full((self.rows, 1), self.position, dtype=torch.long)
        logits = self.exact.forward(ids, pos, self.cache, keep=torch.zeros(self.rows, dtype=torch.long))
        self.position += 1
        return _padded(self.exact.weights(logits), self.symbol_count)


def sequence_weights(exact, inputs: list[list[int]], symbol_count: int):
    """For each input sequence (model ids, start token first), the next-token weights at
    every position, shape (len, symbols); yielded in order, computed in full-sequence
    passes of several right-padded rows (padding never changes a row's numbers)."""
    order = list(range(len(inputs)))
    i = 0
    while i < len(order):
        width = len(inputs[order[i]])
        rows = max(1, PASS_TOKENS // max(1, width))
        batch = order[i : i + rows]
        width = max(len(inputs[j]) for j in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        for r, j in enumerate(batch):
            ids[r, : len(inputs[j])] = torch.tensor(inputs[j], dtype=torch.long)
        pos = torch.arange(width).unsqueeze(0).expand(len(batch), width)
        cache = exact.new_cache(len(batch), width)
        logits = exact.forward(ids, pos, cache)
        for r, j in enumerate(batch):
            yield _padded(exact.weights(logits[r, : len(inputs[j])]), symbol_count)
        i += len(batch)


def bits(weights: np.ndarray, symbols: list[int]) -> list[float]:
    """The model's cost of each symbol in bits, -log2 p (for statistics, not for coding)."""
    w = np.asarray(weights, dtype=np.float64)  # no copy: the coder's weights are float64 already
    p = w[np.arange(len(symbols)), symbols] / w.sum(axis=-1)
    return list(-np.log2(np.maximum(p, 1e-30)))
