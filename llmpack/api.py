"""Python API in the style of zstandard/lzma: module functions and reusable objects.

    blob = llmpack.compress(data)                 # arithmetic mode, default model
    data = llmpack.decompress(blob)
    llmpack.inspect(blob)                         # header only; never loads a model
    llmpack.strip(blob)                           # a semantic file's summary layer
    c = llmpack.Compressor(model="smollm2-135m")  # holds the loaded model across calls
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from .coding import container
from .codecs import BY_MODE, CODECS, DEFAULT_MODE, FALLBACKS, Context, StoredCodec
from .codecs.semantic import SemanticCodec, SummaryCodec, strip as semantic_strip
from .config import option_names
from .errors import FormatError, IntegrityError, LLMPackError
from .model.loading import LoadedModel

Progress = Callable[[int, int], None]


def _context(model: str | LoadedModel | None, progress: Progress | None, pool=None) -> Context:
    if isinstance(model, LoadedModel):
        return Context(model=model, progress=progress, pool=pool)
    return Context(model_name=model, progress=progress, pool=pool)


class Compressor:
    """Reusable compressor; keeps its model loaded between calls."""

    def __init__(self, mode: str = DEFAULT_MODE, model: str | LoadedModel | None = None, config=None,
                 progress: Progress | None = None, pool=None, *, level: int | None = None, **options) -> None:
        """`options` set fields of the mode's config, e.g. prompt_tokens=32, seeds=4 for semantic.
        pool: a llmpack.cluster.Pool to spread the model work over (same bytes)."""
        if level is not None:  # arithmetic and fidelity: 1 (fastest) to 9 (smallest)
            options["level"] = level
        if mode not in CODECS:
            raise LLMPackError(f"unknown mode '{mode}' (choose from: {', '.join(CODECS)})")
        cls = CODECS[mode]
        if options:
            if cls.config_class is None:
                raise LLMPackError(f"mode '{mode}' takes no options (got {', '.join(options)})")
            unknown = sorted(set(options) - set(option_names(cls.config_class)))
            if unknown:
                raise LLMPackError(f"mode '{mode}' has no option {', '.join(unknown)}")
            config = dataclasses.replace(config or cls.config_class(), **options)
            if "device" in options:
                from .model.exact.backends import resolve_device

                resolve_device(options["device"])
        self.codec = cls(config) if config is not None else cls()
        self.ctx = _context(model, progress, pool)

    @property
    def stats(self) -> dict:
        """Measurements from the last compress() (e.g. the model's own cross-entropy in bits)."""
        return self.ctx.stats

    def compress(self, data: bytes) -> bytes:
        """The codec's container, or, for a lossless mode, a zstd or stored one where that
        is smaller (stats["fallback"] then names it; a config with fallback=False keeps
        the codec). An empty input runs no model."""
        data = bytes(data)
        self.ctx.stats = {}
        codec = self.codec
        if codec.lossy or not data or not getattr(getattr(codec, "config", None), "fallback", True):
            return _pack(codec if data else StoredCodec(), data, self.ctx)
        best = _pack(codec, data, self.ctx)
        for alt in FALLBACKS:
            if alt is not type(codec):
                blob = _pack(alt(), data, Context())
                if len(blob) < len(best):
                    best, self.ctx.stats["fallback"] = blob, alt.name
        return best


def _pack(codec, data: bytes, ctx: Context) -> bytes:
    encoded = codec.encode(data, ctx)
    lm = encoded.model
    header = container.Header(
        mode=codec.mode,
        flags=encoded.flags | (container.FLAG_LOSSY if codec.lossy else 0),
        original_size=len(data),
        checksum=container.checksum(data) if codec.checked and not codec.lossy else b"",
        model=lm.registry_id if lm else "",  # never a path: files travel, paths leak and mislead
        fingerprint=lm.fingerprint if lm else b"",
        params=encoded.params,
    )
    return container.pack(header, encoded.payload)


class Decompressor:
    """Reusable decompressor; `model` overrides the model named in the header (same fingerprint required)."""

    def __init__(self, model: str | LoadedModel | None = None, progress: Progress | None = None, device: str = "auto",
                 dictionary: bytes | None = None, pool=None) -> None:
        """device: where the model runs ("auto", "cpu", "cuda"); the decoded bytes are the same.
        dictionary: the priming text a file was compressed with (arithmetic mode's -D).
        pool: a llmpack.cluster.Pool to spread the model work over."""
        if device != "auto":  # (auto is the CPU; checking needs torch, which a refused file should not wait for)
            from .model.exact.backends import resolve_device

            resolve_device(device)  # an unusable device is an error even for files that need no model
        self.ctx = _context(model, progress, pool)
        self.device = device
        self.dictionary = dictionary
        self.header: container.Header | None = None  # the last file's header (e.g. to see if it was lossy)

    def decompress(self, blob: bytes) -> bytes:
        header, payload = container.unpack(bytes(blob))
        self.header = header
        codec = _codec_for(header, self.device, self.dictionary)
        data = codec.decode(header, payload, self.ctx)
        if not header.lossy:
            if len(data) != header.original_size:
                raise IntegrityError(f"decoded {len(data)} bytes, header says {header.original_size}")
            if header.checksum and container.checksum(data, len(header.checksum)) != header.checksum:
                raise IntegrityError("decoded data does not match the original's checksum")
        return data


def _codec_for(header: container.Header, device: str = "auto", dictionary: bytes | None = None):
    cls = BY_MODE.get(header.mode)
    if cls is None:
        raise FormatError(f"unknown mode {header.mode} (file from a newer llmpack?)")
    settings = {"device": device} if device != "auto" else {}
    if (
        dictionary is not None
        and cls.config_class is not None
        and "dictionary" in {f.name for f in dataclasses.fields(cls.config_class)}
    ):
        settings["dictionary"] = dictionary
    if cls.config_class is not None and settings:
        return cls(dataclasses.replace(cls.config_class(), **settings))
    return cls()


def compress(data: bytes, *, mode: str = DEFAULT_MODE, model: str | LoadedModel | None = None, level: int | None = None,
             **options) -> bytes:
    """Compress bytes; `options` are the mode's settings (e.g. prompt_tokens, seeds, residual)."""
    return Compressor(mode=mode, model=model, level=level, **options).compress(data)


def decompress(
    blob: bytes, *, model: str | LoadedModel | None = None, device: str = "auto", dictionary: bytes | None = None
) -> bytes:
    return Decompressor(model=model, device=device, dictionary=dictionary).decompress(blob)


def inspect(blob: bytes, *, prompts: bool = False, model: str | LoadedModel | None = None) -> dict:
    """Everything the header says, without decoding or loading a model. prompts=True also
    decodes a semantic or summary file's model-coded prompts (this loads the model, and
    runs it over the prompts only)."""
    header, payload = container.unpack(bytes(blob))
    codec = _codec_for(header)
    lm = None
    if prompts and header.mode in (SemanticCodec.mode, SummaryCodec.mode):
        lm = _context(model, None).get_model(header.model, header.fingerprint)
    info = {
        "format_version": header.version,
        "mode": codec.name,
        "lossy": header.lossy,
        "original_size": header.original_size,
        "compressed_size": len(blob),
        "bits_per_byte": round(8 * len(blob) / header.original_size, 4) if header.original_size else None,
        "model": header.model or None,
        "model_fingerprint": header.fingerprint.hex() or None,
        "checksum": header.checksum.hex() or None,
    }
    info.update(codec.describe(header, payload, lm) if lm is not None else codec.describe(header, payload))
    return info


def strip(blob: bytes) -> bytes:
    """A semantic file without its residual layer: a valid summary file, the same as a
    summary encode of the text at the same settings. Runs no model."""
    return semantic_strip(blob)
