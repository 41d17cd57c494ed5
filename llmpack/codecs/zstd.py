"""`zstd` and `stored` modes: plain zstd, or the bytes as they are, inside the container.
Baselines, model-free options, and what a file falls back to when the model loses."""

from __future__ import annotations

from ..config import ZSTD_LEVEL
from ..coding.container import Header
from ..coding.zstdframe import zstd_compress, zstd_decompress, zstd_max_output
from ..errors import FormatError
from .base import Codec, Context, Encoded


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
