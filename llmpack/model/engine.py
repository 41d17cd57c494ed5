"""Next-token probabilities for the coders, from the exact engine (llmpack.model.exact).

The engine's numbers are a pure function of (model, tokens), so the encoder computes a
whole segment in full-sequence passes (`sequence_weights`) while the decoder, which
learns one token at a time, steps many segments together (`Lockstep`): both see
the same bits on any machine.

Probabilities are handed to the range coder unnormalised, as exp(logit - max) in
[0, 1] (constriction normalises), widened to float64: constriction's float32 path
panics on some unnormalised inputs (about 1 in 8 random ones), its float64 path never
did in our stress tests, and either is deterministic Rust. The coder alphabet may extend past the vocabulary
(virtual byte symbols), whose columns stay 0 and are coded through the coder's floor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from .window import UNLIMITED, Window

if TYPE_CHECKING:  # annotations only: no model code is imported for them
    from .exact.model import ExactLM

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
    for the coder's virtual symbols. A returned view is valid for the next `keep` - 1
    calls (the buffers are taken in turn)."""

    def __init__(self, exact: ExactLM, symbol_count: int, keep: int = 1) -> None:
        self.exact, self.symbol_count = exact, symbol_count
        self.bufs = [np.zeros((0, symbol_count), dtype=np.float64) for _ in range(keep)]
        self.turn = 0

    def __call__(self, logits: torch.Tensor) -> np.ndarray:
        n, vocab = logits.shape
        self.turn = (self.turn + 1) % len(self.bufs)
        if self.bufs[self.turn].shape[0] < n:
            self.bufs[self.turn] = np.zeros((n, self.symbol_count), dtype=np.float64)
        out = self.bufs[self.turn][:n]
        if self.exact.core is not None and logits.device.type == "cpu":
            self.exact.core.weights_into(logits, out, self.exact.num.exp_grid)
        else:
            out[:, :vocab] = self.exact.weights(logits).numpy()
        return out




def _prefill(exact: ExactLM, ids: torch.Tensor, start: int, cache) -> torch.Tensor:
    """hidden() of ids (rows, T) at positions start.., in passes of PASS_TOKENS positions."""
    rows, width = ids.shape
    pos = torch.arange(start, start + width).unsqueeze(0).expand(rows, width)
    step = max(1, PASS_TOKENS // rows)
    return torch.cat([exact.hidden(ids[:, a : a + step], pos[:, a : a + step], cache) for a in range(0, width, step)], dim=1)


class Lockstep:
    """Steps `rows` independent sequences together, one token each, each sequence at most
    `steps` tokens long. Rows are independent: each slides its own window, a row can
    restart with a new sequence while the others go on (continuous batching), and rows
    can be dropped. A row's keys past its own position are masked, which gives exactly
    the bits it would get alone (exact numerics: masked keys weigh an exact 0)."""

    def __init__(self, exact: ExactLM, rows: int, symbol_count: int, steps: int, window: Window = UNLIMITED) -> None:
        self.exact = exact
        self.rows = rows
        self.window = window
        self.weights = _Weights(exact, symbol_count)
        self.cache = exact.new_cache(rows, max(1, min(steps, window.size) if window.size else steps), stepping=True)
        self.fed = [0] * rows  # inputs fed to each row since its sequence began
        self.position = [0] * rows  # cache position of each row's next input
        self.history: list[list[int]] = [[] for _ in range(rows)]  # each row's inputs (kept only when windows slide)

    def restart(self, rows: list[int], prefixes: list[list[int]]) -> None:
        """Rows `rows` begin new sequences, each after its prefix, fed without logits (of
        any length: one longer than the window leaves the window that stepping through it
        would leave). The other rows go on. Prefixes of one length are prefilled together."""
        by_length: dict[int, list[int]] = {}
        for k, p in enumerate(prefixes):
            by_length.setdefault(len(p), []).append(k)
        for ks in by_length.values():
            self._begin([rows[k] for k in ks], [prefixes[k] for k in ks])

    def keep(self, rows: list[int]) -> None:
        """Drop the other rows: row k becomes what row rows[k] was."""
        self.cache.take(rows)
        self.fed, self.position, self.history = ([x[r] for r in rows] for x in (self.fed, self.position, self.history))
        self.rows = len(rows)

    def _begin(self, rows: list[int], inputs: list[list[int]]) -> None:
        n = len(inputs[0])
        a, _, _ = self.window.starts(n)[-1]  # the window that holds the last input
        kept = [x[:1] + x[a + 1 :] for x in inputs]
        if kept[0]:
            self._load(rows, kept)
        for r, x in zip(rows, inputs):
            self.fed[r], self.position[r] = n, len(kept[0])
            self.history[r] = list(x) if self.window.size else []

    def _load(self, rows: list[int], inputs: list[list[int]]) -> None:
        """The caches of `rows` become those of `inputs` (equal lengths) at positions 0.. ;
        their later positions are overwritten before they are read (or masked)."""
        ids = torch.tensor(inputs, dtype=torch.long)
        if rows == list(range(self.rows)):
            _prefill(self.exact, ids, 0, self.cache)
            return
        part = self.exact.new_cache(len(rows), ids.shape[1], stepping=True)
        _prefill(self.exact, ids, 0, part)
        self.cache.put(rows, part)

    def _slide_full_windows(self) -> None:
        """Rows whose window is full keep its last size - slide inputs (and the first, the
        start token), re-encoded from position 0."""
        w = self.window
        if not w.size:
            return
        full = [r for r, f in enumerate(self.fed) if f >= w.size and (f - w.size) % w.slide == 0]
        if not full:
            return
        kept = [self.history[r][:1] + self.history[r][self.fed[r] - (w.size - w.slide) + 1 : self.fed[r]] for r in full]
        self._load(full, kept)
        for r in full:
            self.position[r] = len(kept[0])

    def step(self, input_ids: list[int]) -> np.ndarray:
        """Feed one token per row; return next-token weights, shape (rows, symbols), valid
        until the next step."""
        self._slide_full_windows()
        ids = torch.tensor(input_ids, dtype=torch.long).view(self.rows, 1)
        pos = torch.tensor(self.position, dtype=torch.long).view(self.rows, 1)
        logits = self.exact.forward(ids, pos, self.cache, keep=torch.zeros(self.rows, dtype=torch.long))
        for r, t in enumerate(input_ids):
            if self.window.size:
                self.history[r].append(t)
            self.fed[r] += 1
            self.position[r] += 1
        return self.weights(logits)


def sequence_weights(exact: ExactLM, inputs: list[list[int]], symbol_count: int, window: Window = UNLIMITED,
                     skip: int | list[int] = 0, keep: int = 1):
    """For each input sequence (model ids, start token first), the next-token weights at
    every position from `skip` on (one number, or one per input: a prefix's outputs are
    not needed), as (index, start, weights): weights (n, symbols) for
    positions start..start+n-1 of inputs[index], in order of index then start, each valid
    until `keep` more items have been taken. Computed window by window (Window.starts) in
    full-sequence passes of several right-padded rows (padding never changes a row's
    numbers); the LM head runs HEAD_ROWS positions at a time."""
    weights = _Weights(exact, symbol_count, keep)
    skips = skip if isinstance(skip, list) else [skip] * len(inputs)
    views = [(j, a, end, emit) for j, x in enumerate(inputs) for a, end, emit in window.starts(len(x))
             if end > skips[j]]
    i = 0
    while i < len(views):
        rows = max(1, PASS_TOKENS // max(1, views[i][2] - views[i][1]))
        batch = views[i : i + rows]
        width = max(end - a for _, a, end, _ in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        for r, (j, a, end, _) in enumerate(batch):
            ids[r, : end - a] = torch.tensor(inputs[j][:1] + inputs[j][a + 1 : end], dtype=torch.long)
        hidden = _prefill(exact, ids, 0, exact.new_cache(len(batch), width))
        for r, (j, a, end, emit) in enumerate(batch):
            for s in range(max(emit, skips[j] - a), end - a, HEAD_ROWS):
                e = min(end - a, s + HEAD_ROWS)
                yield j, a + s - skips[j], weights(exact.logits(hidden[r, s:e]))
        i += len(batch)


def bits(weights: np.ndarray, symbols: list[int]) -> list[float]:
    """The model's cost of each symbol in bits, -log2 p (for statistics, not for coding)."""
    w = np.asarray(weights, dtype=np.float64)  # no copy: the coder's weights are float64 already
    p = w[np.arange(len(symbols)), symbols] / w.sum(axis=-1)
    return list(-np.log2(np.maximum(p, 1e-30)))
