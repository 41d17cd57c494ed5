"""llmpack: text compression driven by small language models.

    import llmpack
    blob = llmpack.compress(b"some text")   # lossless, arithmetic mode, default model
    assert llmpack.decompress(blob) == b"some text"
"""

import os

# OpenMP threads spin only briefly (2000 spins, about a microsecond) before they sleep.
# libgomp's default long spin makes two llmpack processes on the same cores wait on each
# other (two concurrent 32 KB encodes: 3.3x a lone one's time; 10k spins: 3.5x; 2000:
# 2.0x); never spinning (OMP_WAIT_POLICY=PASSIVE) wakes sleeping threads for every small
# op and doubled the decoder's step time (5 KB: 36 s; 2000 spins: 19-23 s; long spins:
# 18 s). See eval/two_runs.py. Read when torch loads, so it must be set before torch is
# imported; a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "2000")

from .errors import FormatError, IntegrityError, LLMPackError, ModelError, PoolError, ReportError  # noqa: E402

_API = ("compress", "decompress", "inspect", "strip", "Compressor", "Decompressor")


def __getattr__(name: str):
    """The API loads on first use, so that `import llmpack` (and `llmpack --help`) stay fast."""
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'llmpack' has no attribute '{name}'")


__version__ = "0.1.0"

__all__ = [
    "compress",
    "decompress",
    "inspect",
    "strip",
    "Compressor",
    "Decompressor",
    "LLMPackError",
    "FormatError",
    "IntegrityError",
    "ModelError",
    "PoolError",
    "ReportError",
    "__version__",
]
