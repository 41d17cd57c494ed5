"""Codec registry: mode name -> codec class, and the header's mode byte -> name."""

from __future__ import annotations

from .arithmetic import ArithmeticCodec
from .base import Codec, Context, Encoded
from .semantic import SemanticCodec, SummaryCodec
from .zstd import ZstdCodec

CODECS: dict[str, type[Codec]] = {c.name: c for c in (ArithmeticCodec, SemanticCodec, SummaryCodec, ZstdCodec)}
BY_MODE: dict[int, type[Codec]] = {c.mode: c for c in CODECS.values()}
DEFAULT_MODE = "arithmetic"

__all__ = ["CODECS", "BY_MODE", "DEFAULT_MODE", "Codec", "Context", "Encoded"]
