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

from ..errors import FormatError

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

    def finish(self, trim: bool = False) -> bytes:
        """The stream as little-endian 32-bit words. trim=True (format 5's semantic streams)
        stores the last word, the seal, big-endian and only as many of its leading bytes as
        identify a point of the final range (1.5 bytes fewer on average); see _seal."""
        _, (lower, size) = self._enc.pos()
        words = self._enc.get_compressed()
        out = words.astype("<u4").tobytes()
        if not trim or not len(words):
            return out
        return out[:-4] + _seal(lower, size, int(words[-1]))


def _seal(lower: int, size: int, word: int) -> bytes:
    """The shortest big-endian form of the final word. The decoder reads its point from
    the last words, missing bytes as zeros; constriction seals with the top word of
    lower rounded up to a multiple of 2^32, and any point in [lower, lower + size) decodes
    the same. So lower rounded up to a multiple of 2^(64 - 8k) does too, for the smallest
    k where that stays inside the range. Where constriction's word is not that rounding
    (its carry bookkeeping) or the range reaches 2^64, the whole word is kept."""
    if (lower + (1 << 32) - 1) >> 32 != word or lower + size > 1 << 64:
        return word.to_bytes(4, "big")
    for k in range(1, 4):
        grid = 1 << (64 - 8 * k)
        point = -(-lower // grid) * grid
        if point < lower + size:
            return (point >> 32).to_bytes(4, "big")[:k]
    return word.to_bytes(4, "big")


def _untrim(payload: bytes) -> np.ndarray:
    """Words from a trimmed stream: the seal is its last 1-4 bytes, padded with zeros."""
    seal = len(payload) - 4 * ((len(payload) - 1) // 4)
    bulk = np.frombuffer(payload[: len(payload) - seal], dtype="<u4").astype(np.uint32)
    last = int.from_bytes(payload[len(payload) - seal :] + bytes(4 - seal), "big")
    return np.concatenate([bulk, np.array([last], dtype=np.uint32)])


class Decoder:
    def __init__(self, payload: bytes, trimmed: bool = False) -> None:
        if trimmed and payload:
            words = _untrim(payload)
        else:
            if len(payload) % 4:
                raise FormatError("corrupt segment: range-coded payload is not whole 32-bit words")
            words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        self._dec = _constriction().stream.queue.RangeDecoder(words)

    def decode(self, probs: np.ndarray) -> int:
        return int(self._dec.decode(_family(), probs[None, :])[0])
