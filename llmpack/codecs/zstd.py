"""`zstd` and `stored` modes: plain zstd, or the bytes as they are, inside the container.
Baselines, model-free options, and what a file falls back to when the model loses."""

from __future__ import annotations

import zstandard

from ..config import ZSTD_LEVEL, ZSTD_MAX_EXPANSION
from ..coding.container import Header
from ..errors import FormatError
from .base import Codec, Context, Encoded

READ_CHUNK = 1 << 20  # bytes decompressed at a time


def zstd_compress(data: bytes, level: int = ZSTD_LEVEL) -> bytes:
    return zstandard.ZstdCompressor(level=level).compress(data)


def zstd_max_output(payload_bytes: int) -> int:
    """Most bytes a zstd frame of this size can decode to (a header claiming more is corrupt)."""
    return ZSTD_MAX_EXPANSION * payload_bytes + (1 << 17)


def zstd_decompress(data: bytes, size: int) -> bytes:
    """Exactly `size` bytes from one zstd frame. Read in pieces, so that a frame or header
    claiming a huge size costs no memory until that much data really comes out."""
    chunks, total = [], 0
    try:
        with zstandard.ZstdDecompressor().stream_reader(data) as reader:
            while total <= size:
                chunk = reader.read(min(READ_CHUNK, size - total + 1))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
    except zstandard.ZstdError as exc:
        raise FormatError(f"corrupt zstd data: {exc}") from None
    if total != size:
        raise FormatError("corrupt zstd data: wrong length")
    return b"".join(chunks)


class ZstdCodec(Codec):
    name = "zstd"
    mode = 0
    checked = False  # zstd's frame and the container's CRCs are the checks

    def encode(self, data: bytes, ctx: Context) -> Encoded:
        return Encoded(params=b"", payload=zstd_compress(data))

    def decode(self, header: Header, payload: bytes, ctx: Context) -> bytes:
        if header.original_size > zstd_max_output(len(payload)):
            raise FormatError(f"corrupt zstd file: an original of {header.original_size} bytes cannot come from "
                              f"{len(payload)} bytes of zstd")
        return zstd_decompress(payload, header.original_size)

    def describe(self, header: Header, payload: bytes) -> dict:
        return {"level": ZSTD_LEVEL}


class StoredCodec(Codec):
    """The input as it is: for empty, tiny or incompressible inputs."""

    name = "stored"
    mode = 4
    checked = False  # the payload is the original: the container's CRCs check it

    def encode(self, data: bytes, ctx: Context) -> Encoded:
        return Encoded(params=b"", payload=data)

    def decode(self, header: Header, payload: bytes, ctx: Context) -> bytes:
        if len(payload) != header.original_size:
            raise FormatError("corrupt stored data: wrong length")
        return payload
