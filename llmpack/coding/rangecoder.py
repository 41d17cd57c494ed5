"""Range coding of token streams with constriction, one independent stream per segment.

constriction's default range coder (32-bit words, 64-bit state) quantizes each
distribution to 24-bit fixed point ("leaky": every symbol keeps at least 2^-24), so
symbols the model calls impossible stay codable. Over a 49k-token vocabulary the
floor costs ~0.3% of the mass; measured overhead over the model's own cross-entropy
is reported by eval/bench.py.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache

import numpy as np

from ..errors import FormatError, LLMPackError

PRECISION_BITS = 24  # constriction's default for queue.RangeEncoder; recorded in headers
# Bits a stream may hold beyond its symbols' information: the coder's 64-bit final state
# and the word that seals it.
FLUSH_BITS = 96
MIN_SYMBOLS = 256  # every tokenizer's alphabet covers the 256 bytes (tokens.ByteTokenizer)


def max_tokens(payload_bytes: int, symbols: int = MIN_SYMBOLS) -> int:
    """Most symbols a stream of this many bytes can hold over an alphabet of `symbols`.

    The leaky quantizer gives every symbol at least 2^-PRECISION_BITS of the mass, so the
    likeliest one has at most 1 - (symbols - 1) 2^-PRECISION_BITS and each symbol costs at
    least -log2 of that (SmolLM2's 49,173 symbols: 0.0042 bits, 1,890 tokens a byte; 256
    symbols, known before a model loads: 366k a byte). A header claiming more tokens than
    this for its payload is corrupt: the bound keeps a tiny file from stepping a model
    without end (the range decoder never runs dry)."""
    least_bits = -math.log2(1 - (symbols - 1) / (1 << PRECISION_BITS))
    return int(payload_bits(payload_bytes) / least_bits)


def payload_bits(payload_bytes: int) -> float:
    """The information a stream of this many bytes can hold, at most."""
    return 8.0 * payload_bytes + FLUSH_BITS


def least_cost(weights: np.ndarray, symbol: int, mass: float | None = None) -> float:
    """A lower bound on the bits the coder spent on `symbol` under `weights` (a decoder
    that has decoded more than its payload's payload_bits has run past the coded tokens).

    With p the symbol's share of the weights and q its quantized probability (at least
    2^-PRECISION_BITS, at most p + 2^-(PRECISION_BITS - 1)), q <= sqrt(p) wherever
    p >= 2^-(2 PRECISION_BITS): so -log2 q >= -log2(p) / 2, with -log2 p capped at
    PRECISION_BITS for the symbols the quantizer lifts. `mass`, where the caller knows
    one, is at most the weights' sum (a smaller total only weakens the bound) and spares
    the sum over the vocabulary."""
    total = float(weights.sum()) if mass is None else mass
    p = float(weights[symbol]) / total if total > 0 else 0.0
    return 0.5 * min(max(-math.log2(p), 0.0), PRECISION_BITS) if p > 0 else 0.5 * PRECISION_BITS


@lru_cache(maxsize=None)
def _constriction():
    import constriction  # imported on first use: reading headers never needs it

    return constriction


# The stream a reference sequence codes to (_reference_stream): files decode only where
# constriction quantizes and codes as it did when they were made, so a version that
# differs is refused at first use instead of decoding garbage.
REFERENCE_DIGEST = "5a38ceab186cb963"  # constriction 0.4.1 to 0.5.0


@lru_cache(maxsize=None)
def _family():
    family = _constriction().stream.model.Categorical(perfect=False)
    got = hashlib.sha256(_reference_stream(family)).hexdigest()[:16]
    if got != REFERENCE_DIGEST:
        version = getattr(_constriction(), "__version__", "?")
        raise LLMPackError(f"constriction {version} codes differently from the range coder llmpack files use "
                           f"(reference stream {got}, expected {REFERENCE_DIGEST}); install constriction 0.4 or 0.5")
    return family


def _reference_stream(family) -> bytes:
    """64 symbols over 300 under peaked, flat and one-hot distributions (the leaky floor),
    made with integer arithmetic only."""
    i, j = np.arange(64)[:, None], np.arange(300)[None, :]
    probs = (((i * 31 + j * 17) % 97 + 1) ** 4).astype(np.float64)
    probs[::5, 3] = 1e9
    probs[1::7] = 0.0
    probs[1::7, 9] = 1.0
    symbols = ((np.arange(64) * 53) % 300).astype(np.int32)
    enc = _constriction().stream.queue.RangeEncoder()
    enc.encode(symbols, family, probs)
    return enc.get_compressed().astype("<u4").tobytes()


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
