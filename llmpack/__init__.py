"""llmpack: text compression driven by small language models.

    import llmpack
    blob = llmpack.compress(b"some text")   # lossless, arithmetic mode, default model
    assert llmpack.decompress(blob) == b"some text"
"""

from .errors import FormatError, IntegrityError, LLMPackError, ModelError, PoolError, ReportError

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
