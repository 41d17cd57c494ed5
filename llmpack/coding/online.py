"""Online models of the document, mixed with the LLM's next-token weights.

Both sides of the coder run the same updates on the same tokens, so the adjusted
weights are a function of the model's weights and the segment's earlier tokens only.
They stay exact on any machine: integer counts and sums, and otherwise only
elementwise IEEE-754 operations (+ - * / floor, correctly rounded everywhere, never
fused by numpy) and table lookups; no libm exp or log, no float reduction.

- Adaptive bias (Nacrith's per-document bias): weights times exp(b), b over the
  vocabulary, trained by SGD on each token's log-loss (b += rate * (onehot - p)).
  exp comes from a table on a fixed grid, p's normaliser is an exact integer sum.
- Match model (LZP): the token that followed the last occurrence of the current
  context of MATCH_ORDER tokens is predicted, with a weight learned per match length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.exact import core
from ..model.exact.tables import exp64

BIAS_GRID = 256  # exp(b) is looked up at b rounded to a multiple of 1/BIAS_GRID ...
BIAS_LIMIT = 4  # ... with b clipped to [-BIAS_LIMIT, BIAS_LIMIT]
FIXED_POINT = float(1 << 32)  # weights times exp(b) are summed as integers of this scale: 49152 * e^4 * 2^32 < 2^63
MATCH_BUCKETS = 16  # match lengths 0, 1, ... 15+ each learn their own weight
WEIGHT_FLOOR, WEIGHT_CEIL = 1.0 / 1024, 1023.0 / 1024  # a match weight never becomes certain
# `mass` (what adjust() leaves for the decoder's information budget) is the row's total
# weight scaled by this, so rounding can never make it exceed the true sum: a lower bound
# on the total, which keeps rangecoder.least_cost a lower bound on the bits spent.
MASS_MARGIN = 1.0 - 2.0**-30
MATCH_RATE = 0.02  # SGD step of the match weights


@dataclass(frozen=True)
class OnlineSpec:
    """Which online models run, with their constants. Part of a coding profile: a
    recorded profile never changes."""

    bias_rate: float = 0.0  # SGD step of the adaptive bias; 0: off
    match_order: int = 0  # context tokens the match model hashes; 0: off

    @property
    def active(self) -> bool:
        return bool(self.bias_rate or self.match_order)


OFF = OnlineSpec()


def _bias_table() -> np.ndarray:
    k = np.arange(-BIAS_LIMIT * BIAS_GRID, BIAS_LIMIT * BIAS_GRID + 1, dtype=np.float64)
    return exp64(k / BIAS_GRID).astype(np.float32).astype(np.float64)


def _compiled():
    """The compiled core's library (the same updates in C), or None: numpy."""
    return core.library()


class Online:
    """One segment's online models. adjust() then update() for each position, in order."""

    _table: np.ndarray | None = None

    def __init__(self, spec: OnlineSpec, vocab: int) -> None:
        self.spec, self.vocab = spec, vocab
        if spec.bias_rate:
            if Online._table is None:
                Online._table = _bias_table()
            self.bias = np.zeros(vocab)
            self.index = np.full(vocab, BIAS_LIMIT * BIAS_GRID, dtype=np.int64)  # table index of exp(b)
            self.p = np.zeros(vocab)
        if spec.match_order:
            self.history: list[int] = []
            self.seen: dict[tuple, int] = {}  # context -> position after its latest occurrence
            self.pointer = -1  # position in history of the predicted token, or -1
            self.length = 0  # tokens matched so far
            self.weights = [0.25] * MATCH_BUCKETS
        self.predicted = -1

    def adjust(self, w: np.ndarray) -> np.ndarray:
        """The coder's weights for this position from the model's (a row, modified in place
        and kept until update())."""
        v = self.vocab
        q = w[:v]
        lib = _compiled()
        if lib is not None and q.flags.c_contiguous and q.dtype == np.float64:  # the same bits, in one pass of C
            bias = bool(self.spec.bias_rate)
            self.norm = core.online_adjust(lib, q, *((Online._table, self.index, self.p) if bias else (None, None, None)))
        else:
            if self.spec.bias_rate:
                q *= Online._table[self.index]  # both factors are float32 values: the product is exact
            q *= FIXED_POINT
            np.floor(q, out=q)  # integers from here on: sums are exact in any order
            self.norm = float(q.astype(np.int64).sum())
            if self.spec.bias_rate:
                np.divide(q, self.norm, out=self.p)
        self.row, self.predicted = w, -1
        if self.spec.match_order and self.pointer >= 0 and self.history[self.pointer] < v:
            y = self.predicted = self.history[self.pointer]
            self.model_y = float(q[y])
            lam = self.weights[min(self.length, MATCH_BUCKETS - 1)]
            q[y] += self.norm * (lam / (1.0 - lam))  # (1 - lam) p + lam onehot(y), unnormalised
            self.mass = self.norm / (1.0 - lam) * MASS_MARGIN
        else:
            self.mass = self.norm * MASS_MARGIN
        return w

    def update(self, symbol: int) -> None:
        """Learn from the symbol just coded at this position."""
        lib = _compiled()
        if self.spec.bias_rate and lib is not None:
            core.online_update(lib, self.bias, self.p, self.spec.bias_rate, symbol, BIAS_LIMIT, BIAS_GRID, self.index,
                               self.p)
        elif self.spec.bias_rate:
            b = self.bias
            b -= self.spec.bias_rate * self.p
            if symbol < self.vocab:
                b[symbol] += self.spec.bias_rate
            np.clip(b, -BIAS_LIMIT, BIAS_LIMIT, out=b)
            np.rint(b * BIAS_GRID, out=self.p)
            self.index = self.p.astype(np.int64) + BIAS_LIMIT * BIAS_GRID
        if self.spec.match_order:
            self._learn_match(symbol)
            self._follow(symbol)

    def learn(self, rows: np.ndarray, symbols: list[int]) -> None:
        """adjust() then update() for each row of known weights and its symbol, in order
        (the encoder, which knows every token; rows are adjusted in place)."""
        for row, symbol in zip(rows, symbols):
            self.adjust(row)
            self.update(symbol)

    def observe(self, tokens: list[int]) -> None:
        """Add tokens to the match model's history without coding them (a dictionary's
        text beyond the model's window: matches into it cost nothing to find)."""
        if self.spec.match_order:
            for t in tokens:
                self._follow(t)
            self.pointer, self.length = -1, 0  # a match starts within the coded text's own context

    def _learn_match(self, symbol: int) -> None:
        """One SGD step on the match weight's log-loss: d/dlam log((1 - lam) p + lam [x = y])."""
        if self.predicted < 0:
            return
        bucket = min(self.length, MATCH_BUCKETS - 1)
        lam = self.weights[bucket]
        if symbol == self.predicted:
            p = self.model_y / self.norm
            grad = (1.0 - p) / ((1.0 - lam) * p + lam)
        else:
            grad = -1.0 / (1.0 - lam)
        self.weights[bucket] = min(WEIGHT_CEIL, max(WEIGHT_FLOOR, lam + MATCH_RATE * grad))

    def _follow(self, symbol: int) -> None:
        """Extend the current match by the symbol, or look for a new one."""
        if self.pointer >= 0:
            if self.history[self.pointer] == symbol:
                self.pointer, self.length = self.pointer + 1, self.length + 1
            else:
                self.pointer, self.length = -1, 0
        self.history.append(symbol)
        k = self.spec.match_order
        if len(self.history) >= k:
            context = tuple(self.history[-k:])
            if self.pointer < 0 and context in self.seen:
                self.pointer, self.length = self.seen[context], 0
            self.seen[context] = len(self.history)
