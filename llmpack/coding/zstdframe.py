"""zstd frames with bounds: the baseline codec's payload, the coder's per-segment fallback,
and the small blocks of semantic files."""

from __future__ import annotations

import zstandard

from ..config import ZSTD_LEVEL, ZSTD_MAX_EXPANSION
from ..errors import FormatError

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
