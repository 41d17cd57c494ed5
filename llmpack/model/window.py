"""The context window a model-coded stream is computed over (a coding profile records it;
the engine steps and re-encodes by it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """How much context each token sees. A segment longer than `size` slides: when the
    cache is full, the oldest `slide` inputs after the start token are dropped and the
    rest re-encoded from position 1 (the start token stays at 0 as an attention sink).
    The exact engine makes that re-encoding equal to any other way of computing it, so
    the encoder (full passes per window) and the decoder (steps, re-encoding at each
    slide) agree. Recorded in headers."""

    size: int  # most positions in the KV cache; 0: unlimited (a segment is one window)
    slide: int  # inputs dropped when it fills; more means fewer re-encodings, less context

    def starts(self, n: int) -> list[tuple[int, int, int]]:
        """The windows that predict an n-input sequence x: (a, end, emit) = the inputs
        [x0] + x[a+1:end] at positions 0.., whose outputs from position `emit` on predict
        the tokens a+emit .. end-1. The first window has a = 0 and emit = 0."""
        if not self.size or n <= self.size:
            return [(0, n, 0)]
        out = [(0, self.size, 0)]
        first = self.size  # first token the next window predicts
        while first < n:
            a = first - (self.size - self.slide)
            out.append((a, min(n, a + self.size), self.size - self.slide))
            first = a + self.size
        return out


UNLIMITED = Window(0, 0)  # format 3 and embedded streams: a segment is one window
