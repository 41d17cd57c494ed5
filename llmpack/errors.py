"""One exception family, as in CPython's lzma/gzip: catch LLMPackError for everything."""


class LLMPackError(Exception):
    """Base class of every error llmpack raises on purpose."""


class FormatError(LLMPackError):
    """The input is not an llmpack container, or it is truncated or corrupt."""


class IntegrityError(LLMPackError):
    """Decoding finished but the result does not match the stored checksums.

    Damaged files are refused earlier, by the container's checksums (FormatError), so
    for the model-driven codecs this means the decoder computed other numbers than the
    encoder (which exact numerics exist to prevent).
    """


class ModelError(LLMPackError):
    """The model cannot be found, loaded, or is not the one the file needs."""


class PoolError(LLMPackError):
    """A data-selection pool that is not a usable ShareGPT list (llmpack select)."""


class ReportError(LLMPackError):
    """Bad `llmpack report` input: a missing or empty file, an unknown mode, existing outputs."""
