"""A dictionary's most relevant parts for one file, moved to where the model reads them.

A dictionary primes every segment: the model reads its last tokens (modelcoder.prime),
the match model all of it. A trained dictionary is records joined by blank lines
(llmpack.train), and a record is helped most by the records most like it; so the
encoder may move a few parts (the dictionary split at blank lines) to the end, most
relevant last, and record their indices in the file's header. Relevance is the ZIP
measure `train` uses: the bytes a part saves deflate on the file when it comes first.
The arithmetic codec codes the file with the arranged dictionary, the dictionary as
given and none, and keeps the smallest.
"""

from __future__ import annotations

import zlib

from ..errors import FormatError

SEPARATOR = b"\n\n"  # between a dictionary's parts (train joins its samples with it)
RELEVANT_PARTS = 3  # parts moved to the end at most (eval/train_dictionary.py: 1 part gets most of it)
RELEVANT_MAX_INPUT = 16 * 1024  # larger files skip the search: a few parts matter little to them ...
RELEVANT_MAX_PARTS = 1024  # ... and so do dictionaries of more parts (the search deflates the file once per part)
RELEVANT_MIN_GAIN = 8  # deflate bytes a part must save on the file to count (fewer is noise: shared letters)
ZLIB_LEVEL = 9


def parts(dictionary: bytes) -> list[bytes]:
    return dictionary.split(SEPARATOR)


def arrange(dictionary: bytes, chosen: list[int]) -> bytes:
    """The dictionary with parts `chosen` moved to the end, in that order; the others keep
    theirs. Indices out of range or repeated are a corrupt header."""
    ps = parts(dictionary)
    if len(set(chosen)) != len(chosen) or any(not 0 <= i < len(ps) for i in chosen):
        raise FormatError("corrupt arithmetic header: dictionary parts out of range")
    keep = set(chosen)
    return SEPARATOR.join([p for i, p in enumerate(ps) if i not in keep] + [ps[i] for i in chosen])


def relevant(dictionary: bytes, data: bytes, most: int = RELEVANT_PARTS) -> list[int]:
    """Up to `most` parts that save deflate bytes on data, the most relevant last; [] where
    the dictionary is one part (or very many), data is large, or they are its last parts
    already (the arrangement would change nothing)."""
    ps = parts(dictionary)
    if not 2 <= len(ps) <= RELEVANT_MAX_PARTS or not data or len(data) > RELEVANT_MAX_INPUT:
        return []
    alone = _deflated(data)
    gains = sorted(((alone - _deflated(data, p), i) for i, p in enumerate(ps)), reverse=True)
    chosen = [i for gain, i in gains[:most] if gain >= RELEVANT_MIN_GAIN][::-1]  # the most relevant last
    return [] if chosen == list(range(len(ps) - len(chosen), len(ps))) else chosen


def _deflated(data: bytes, before: bytes = b"") -> int:
    """Raw deflate's size of data, after `before` (a preset dictionary: its own cost is not counted)."""
    preset = {"zdict": before} if before else {}
    z = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, -15, **preset)
    return len(z.compress(data) + z.flush())
