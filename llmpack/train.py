"""`llmpack train`: a dictionary (-D) built from sample records, as `zstd --train` builds one.

A dictionary primes the model and the online models before every segment: the model sees
its last DICT_TOKENS tokens, the match model all of it. So the samples most like the
others go last, where the model reads them, and the rest before them, where the match
model still finds their phrases; duplicates are dropped and the whole is cut to
`max_bytes` from the front (the least typical samples go first). Typicality is the
ZIP measure `select` uses, the other way round: how many bytes a sample saves zlib on the
others when it comes before them (against at most TYPICALITY_PEERS others, for big sets).

The encoder still decides per file: where a dictionary would cost bytes, the file is
coded without it (codecs.arithmetic), so a dictionary never makes a file bigger.
"""

from __future__ import annotations

import random
import zlib

from .coding.dictionary import SEPARATOR  # between samples: the dictionary ends where a record would start
from .errors import LLMPackError

DICT_MAX_BYTES = 110 * 1024  # zstd --train's default size
TYPICALITY_PEERS = 64  # others each sample is measured against (a fixed random subset beyond that)
ZLIB_LEVEL = 9


def _size(data: bytes) -> int:
    return len(zlib.compress(data, ZLIB_LEVEL))


def typicality(samples: list[bytes], peers: int = TYPICALITY_PEERS, seed: int = 0) -> list[int]:
    """Bytes each sample saves zlib on its peers when it comes first (higher: more typical)."""
    alone = [_size(s) for s in samples]
    rng = random.Random(seed)
    scores = []
    for i, a in enumerate(samples):
        others = [j for j in range(len(samples)) if j != i]
        if len(others) > peers:
            others = rng.sample(others, peers)
        base = alone[i]
        scores.append(sum(alone[j] - (_size(a + SEPARATOR + samples[j]) - base) for j in others))
    return scores


def train(samples: list[bytes], max_bytes: int = DICT_MAX_BYTES) -> bytes:
    """A dictionary from sample records: distinct samples, the most typical last, cut to
    max_bytes from the front (whole samples only; at least the most typical one)."""
    if max_bytes < 1:
        raise LLMPackError("the dictionary size must be at least 1 byte")
    distinct = list(dict.fromkeys(s for s in samples if s))
    if not distinct:
        raise LLMPackError("no samples to train on (every sample is empty)")
    scores = typicality(distinct)
    order = sorted(range(len(distinct)), key=lambda i: (scores[i], -i))  # ascending: the most typical last
    kept: list[bytes] = []
    size = 0
    for i in reversed(order):
        extra = len(distinct[i]) + (len(SEPARATOR) if kept else 0)
        if kept and size + extra > max_bytes:
            break
        kept.append(distinct[i])
        size += extra
    return SEPARATOR.join(reversed(kept))[-max_bytes:]
