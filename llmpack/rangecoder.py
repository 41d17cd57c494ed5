"""Range coding of token streams with constriction, one independent stream per segment.

constriction's default range coder (32-bit words, 64-bit state) quantizes each
distribution to 24-bit fixed point ("leaky": every symbol keeps at least 2^-24), so
symbols the model calls impossible stay codable. Over a 49k-token vocabulary the
floor costs ~0.3% of the mass; measured overhead over the model's own cross-entropy
is reported by eval/bench.py.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .errors import FormatError

PRECISION_BITS = 24  # constriction's default for queue.RangeEncoder; recorded in headers


@lru_cache(maxsize=None)
def _constriction():
    import constriction  # imported on first use: reading headers never needs it

    return constriction


@lru_cache(maxsize=None)
def _family():
    return _constriction().stream.model.Categorical(perfect=False)


class Encoder:
    def __init__(self) -> None:
        self._enc = _constriction().stream.queue.RangeEncoder()

    def encode(self, symbol: int, probs: np.ndarray) -> None:
        """Code `symbol` under the distribution `probs` (1-D, need not be normalised)."""
        self._enc.encode(np.array([symbol], dtype=np.int32), _family(), probs[None, :])

    def encode_all(self, symbols: list[int], probs: np.ndarray) -> None:
        """Code symbols[i] under probs[i] for every i, in order (one call; same bits as encode())."""
        if len(symbols):
            self._enc.encode(np.asarray(symbols, dtype=np.int32), _family(), probs)

    def finish(self) -> bytes:
        return self._enc.get_compressed().astype("<u4").tobytes()


class Decoder:
    def __init__(self, payload: bytes) -> None:
        if len(payload) % 4:
            raise FormatError("corrupt segment: range-coded payload is not whole 32-bit words")
        words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        self._dec = _constriction().stream.queue.RangeDecoder(words)

    def decode(self, probs: np.ndarray) -> int:
        return int(self._dec.decode(_family(), probs[None, :])[0])
