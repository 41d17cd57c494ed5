"""Cutting a byte string into segments that are coded independently, in parallel.

Cuts fall at line ends where possible (then spaces), never inside a UTF-8 character,
so each segment tokenizes on its own exactly as it would in context.
"""

from __future__ import annotations

import math

SNAP_WINDOW = 0.15  # look this fraction of a segment back from each target cut for a good boundary


def plan(n_tokens: int, max_rows: int, min_tokens: int, max_tokens: int) -> tuple[int, int]:
    """(segments, rows per batch) for a text of about n_tokens tokens.

    Enough batches that no segment exceeds max_tokens; as many segments as fit the
    batches without going below min_tokens; rows balanced across batches.
    """
    if n_tokens == 0:
        return 0, 1
    batches = max(1, math.ceil(n_tokens / (max_rows * max_tokens)))
    segments = max(1, min(batches * max_rows, n_tokens // max(1, min_tokens)))
    segments = max(segments, math.ceil(n_tokens / max_tokens))
    rows = math.ceil(segments / batches)
    return segments, rows


def _is_char_start(data: bytes, i: int) -> bool:
    return i <= 0 or i >= len(data) or (data[i] & 0xC0) != 0x80


def _snap(data: bytes, target: int, lo: int) -> int:
    """Best cut in (lo, target]: after a newline, else after a space, else at a character start."""
    floor = max(lo + 1, target - max(1, int((target - lo) * SNAP_WINDOW)))
    for sep in (b"\n", b" "):
        pos = data.rfind(sep, floor - 1, target)
        if pos >= 0:
            return pos + 1
    cut = target
    while cut > lo and not _is_char_start(data, cut):
        cut -= 1
    return cut  # == lo when no character starts in (lo, target]: the caller skips the cut


def split(data: bytes, count: int) -> list[bytes]:
    """Split into `count` non-empty pieces of roughly equal size (fewer if data is tiny)."""
    if not data or count <= 1:
        return [data] if data else []
    count = min(count, len(data))
    bounds = [0]
    for k in range(1, count):
        target = round(len(data) * k / count)
        if target <= bounds[-1]:
            continue
        cut = _snap(data, target, bounds[-1])
        if bounds[-1] < cut < len(data):
            bounds.append(cut)
    bounds.append(len(data))
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]
