"""One file's encode or decode on a cluster, as a driver thread runs it.

Arithmetic files are cut and assembled here, their model work spread as tasks (each
piece when encoding, groups of segments when decoding); the other modes run a whole file
per task. Either way the bytes equal a local run's.
"""

from __future__ import annotations

from .pool import Pool
from .tasks import ModelRef

SPLIT_MODE = "arithmetic"  # the mode whose files are spread by segment


def encode(pool: Pool, data: bytes, mode: str, model: str | None, options: dict) -> bytes:
    """What Compressor(mode, model, **options).compress(data) returns."""
    with pool.turn():
        if mode == SPLIT_MODE:
            from ..api import Compressor

            return Compressor(mode=mode, model=model, pool=pool, **options).compress(data)
        return pool.compress(model, mode, options, data)


def decode(pool: Pool, blob: bytes, model: str | None, device: str, dictionary: bytes | None) -> bytes:
    """What Decompressor(model, device, dictionary).decompress(blob) returns."""
    from ..coding import container
    from ..api import Decompressor
    from ..codecs import CODECS

    header, _ = container.unpack(blob)
    with pool.turn():
        if header.mode == CODECS[SPLIT_MODE].mode:
            return Decompressor(model=model, device=device, dictionary=dictionary, pool=pool).decompress(blob)
        ref = ModelRef(model, header.model, header.fingerprint) if header.fingerprint else None
        return pool.decompress(ref, device, dictionary, blob)
