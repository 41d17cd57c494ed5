"""llmpack: text compression driven by small language models.

    import llmpack
    blob = llmpack.compress(b"some text")   # lossless, arithmetic mode, default model
    assert llmpack.decompress(blob) == b"some text"
"""

import os

# OpenMP threads that wait by sleeping, not spinning: two llmpack processes on the same
# cores then share them (two concurrent 32 KB encodes took 3.3x a lone one's time with
# spinning threads, 1.55x with passive ones; a lone run is as fast either way; see
# eval/two_runs.py). Read when torch loads, so it must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .errors import FormatError, IntegrityError, LLMPackError, ModelError, PoolError, ReportError  # noqa: E402

_API = ("compress", "decompress", "inspect", "Compressor", "Decompressor")


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
