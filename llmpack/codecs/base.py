"""What every codec is: bytes -> (params, payload) and back, plus a header describer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..coding.container import Header
from ..errors import ModelError
from ..model.loading import LoadedModel, for_file, load


@dataclass
class Context:
    """What a codec may use while it runs.

    `model` is a preloaded model to use (a Compressor's, or a tiny test model);
    otherwise `model_name` (or the header's model, when decoding) is loaded on demand.
    """

    model_name: str | None = None
    model: LoadedModel | None = None
    progress: Callable[[int, int], None] | None = None  # (done, total) in input bytes
    stats: dict = field(default_factory=dict)  # codec-reported measurements (e.g. model bits)
    # Where the model work may run instead of this process: a llmpack.cluster.Pool (Ray
    # workers), or None. Codecs that can split their work use it; the bytes are the same.
    pool: object | None = None

    def get_model(self, name: str | None = None, fingerprint: bytes | None = None) -> LoadedModel:
        """Encoding: the given model or the default. Decoding (a header's model id and
        fingerprint): the given model, which must match, else the one the header names,
        found by models.for_file without trusting the header."""
        if self.model is None:
            if fingerprint is None or self.model_name is not None:
                self.model = load(self.model_name)
            else:
                self.model = for_file(name or "", fingerprint)
        loaded = self.model
        if fingerprint is not None and loaded.fingerprint != fingerprint:
            wanted = f"model '{name}'" if name else "an unregistered model"
            raise ModelError(
                f"this file needs {wanted} with fingerprint {fingerprint.hex()}, "
                f"but '{loaded.name}' has fingerprint {loaded.fingerprint.hex()}; pass the right model with -m"
            )
        return loaded

    def report(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)


@dataclass
class Encoded:
    params: bytes
    payload: bytes
    model: LoadedModel | None = None  # the model whose id and fingerprint the header records
    flags: int = 0


class Codec:
    name: str = ""
    mode: int = -1  # the header's mode byte; never reuse a number
    lossy: bool = False
    # Lossless codecs whose decoder computes (a model): the header keeps a checksum of the
    # original to confirm the decode. A lossless codec may also be replaced by a fallback.
    checked: bool = True
    config_class: type | None = None  # the dataclass of this codec's settings, if any

    def encode(self, data: bytes, ctx: Context) -> Encoded:
        raise NotImplementedError

    def decode(self, header: Header, payload: bytes, ctx: Context) -> bytes:
        raise NotImplementedError

    def describe(self, header: Header, payload: bytes) -> dict:
        """Human/JSON-friendly view of the params block; pure parsing, no model."""
        return {}
