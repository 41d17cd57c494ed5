"""Cutting text into sections for the semantic and summary modes.

A section is what one reconstruction prompt describes and one regeneration rebuilds.
Cuts fall at paragraph ends (blank lines); paragraphs are packed together up to
`max_tokens`, and a paragraph longer than that is cut at line ends or spaces.
"""

from __future__ import annotations

import math
import re

from ..coding import segments

_PARAGRAPH_END = re.compile(rb"\n[ \t\r]*\n\s*")


def paragraphs(data: bytes) -> list[bytes]:
    """Split after each run of blank lines; the pieces concatenate back to data."""
    out, pos = [], 0
    for m in _PARAGRAPH_END.finditer(data):
        out.append(data[pos : m.end()])
        pos = m.end()
    if pos < len(data):
        out.append(data[pos:])
    return out


def split(data: bytes, count_tokens, max_tokens: int) -> list[bytes]:
    """Sections of at most about max_tokens tokens each (count_tokens: bytes -> int)."""
    pieces: list[tuple[bytes, int]] = []
    for para in paragraphs(data):
        n = count_tokens(para)
        if n <= max_tokens:
            pieces.append((para, n))
        else:
            for part in segments.split(para, math.ceil(n / max_tokens)):
                pieces.append((part, count_tokens(part)))
    sections: list[bytes] = []
    current, used = b"", 0
    for piece, n in pieces:
        if current and used + n > max_tokens:
            sections.append(current)
            current, used = b"", 0
        current += piece
        used += n
    if current:
        sections.append(current)
    return sections
