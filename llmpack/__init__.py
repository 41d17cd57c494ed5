"""llmpack: text compression driven by small language models.

    import llmpack
    blob = llmpack.compress(b"some text")   # lossless, arithmetic mode, default model
    assert llmpack.decompress(blob) == b"some text"
"""

from .api import Compressor, Decompressor, compress, decompress, inspect
from .errors import FormatError, IntegrityError, LLMPackError, ModelError, PoolError, ReportError

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
