"""`zstd` mode: plain zstd inside the container. A baseline, and a model-free option."""

from __future__ import annotations

import zstandard

from ..config import ZSTD_LEVEL
from ..container import Header
from ..errors import FormatError
from .base import Codec, Context, Encoded


def zstd_compress(data: bytes, level: int = ZSTD_LEVEL) -> bytes:
    return zstandard.ZstdCompressor(level=level).compress(data)


def zstd_decompress(data: bytes, size: int) -> bytes:
    try:
        out = zstandard.ZstdDecompressor().decompress(data, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise FormatError(f"corrupt zstd data: {exc}") from None
    if len(out) != size:
        raise FormatError("corrupt zstd data: wrong length")
    return out


class ZstdCodec(Codec):
    name = "zstd"
    mode = 0

    def encode(self, data: bytes, ctx: Context) -> Encoded:
        return Encoded(params=b"", payload=zstd_compress(data))

    def decode(self, header: Header, payload: bytes, ctx: Context) -> bytes:
        return zstd_decompress(payload, header.original_size)

    def describe(self, params: bytes) -> dict:
        return {"level": ZSTD_LEVEL}
