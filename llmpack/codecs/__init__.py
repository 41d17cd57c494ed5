"""Codec registry: mode name -> codec class, and the header's mode byte -> name."""

from __future__ import annotations

from .arithmetic import ArithmeticCodec
from .base import Codec, Context, Encoded
from .fidelity import FidelityCodec
from .semantic import SemanticCodec, SummaryCodec
from .zstd import StoredCodec, ZstdCodec

CODECS: dict[str, type[Codec]] = {
    c.name: c for c in (ArithmeticCodec, SemanticCodec, SummaryCodec, FidelityCodec, ZstdCodec, StoredCodec)
}
BY_MODE: dict[int, type[Codec]] = {c.mode: c for c in CODECS.values()}
DEFAULT_MODE = "arithmetic"
FALLBACKS = (ZstdCodec, StoredCodec)  # what a lossless file becomes when it is smaller so (whole-file fallback)

__all__ = ["CODECS", "BY_MODE", "DEFAULT_MODE", "FALLBACKS", "Codec", "Context", "Encoded", "StoredCodec", "ZstdCodec"]
