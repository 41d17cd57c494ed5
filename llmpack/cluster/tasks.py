"""What a Ray worker runs: shares of a job, with the model loaded once per worker process.

Every function here is a plain function of picklable values; llmpack.cluster.pool wraps
them as Ray tasks. A worker process keeps its models between tasks (and Ray keeps its
worker processes), so a model loads once per worker, not once per task. Results are
the same bytes a local run computes: the exact engine's numbers do not depend on the
machine, the thread count or how segments are grouped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass

from ..coding.modelcoder import ModelCoder
from ..errors import ModelError

if TYPE_CHECKING:  # annotations only: no model code is imported for them
    from ..model.loading import LoadedModel


@dataclass(frozen=True)
class ModelRef:
    """How a worker finds the driver's model: by the name the user gave (an id, alias,
    folder or .gguf path), else by the registry id and fingerprint a header records. A
    non-empty fingerprint is checked: a worker with another model refuses the task."""

    name: str | None
    registry_id: str = ""
    fingerprint: bytes = b""

    @classmethod
    def of(cls, job, lm: LoadedModel) -> "ModelRef":
        return cls(job.model_name, lm.registry_id, lm.fingerprint)


_MODELS: dict[ModelRef, object] = {}


def model(ref: ModelRef):
    """The LoadedModel for ref, loaded on this worker's first task that needs it."""
    lm = _MODELS.get(ref)
    if lm is None:
        from ..model.loading import for_file, load

        lm = load(ref.name) if ref.name or not ref.fingerprint else for_file(ref.registry_id, ref.fingerprint)
        if ref.fingerprint and lm.fingerprint != ref.fingerprint:
            import socket

            raise ModelError(f"worker on {socket.gethostname()}: model '{lm.name}' has fingerprint "
                             f"{lm.fingerprint.hex()}, the job needs {ref.fingerprint.hex()}")
        _MODELS[ref] = lm
    return lm


def _threads(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def code_pieces(ref: ModelRef, coder: ModelCoder, profile, pieces: list[bytes], dictionary: bytes | None, threads: int):
    """The model pass over some of a file's pieces: (segments, tokens, bits)."""
    _threads(threads)
    return coder.model_pass(model(ref), profile, pieces, dictionary)


def decode_segments(ref: ModelRef, coder: ModelCoder, profile, segments: list, dictionary: bytes | None,
                    threads: int) -> list[bytes]:
    """Model-coded segments (a group of a file's), decoded together."""
    _threads(threads)
    return coder.decode_segments(model(ref), profile, segments, dictionary, None, lambda n: None)


def compress(model_name: str | None, mode: str, options: dict, data: bytes, threads: int) -> bytes:
    """A whole file in a mode that does not split across workers (semantic, summary, ...)."""
    from ..api import Compressor

    _threads(threads)
    lm = model(ModelRef(model_name)) if mode != "zstd" else None
    return Compressor(mode=mode, model=lm, **options).compress(data)


def decompress(ref: ModelRef | None, device: str, dictionary: bytes | None, blob: bytes, threads: int) -> bytes:
    """A whole file of a mode that does not split across workers."""
    from ..api import Decompressor

    _threads(threads)
    return Decompressor(model=model(ref) if ref else None, device=device, dictionary=dictionary).decompress(blob)


def cross_entropy(ref: ModelRef, context: bytes, texts: list[bytes], context_tokens: int, threads: int) -> list[float]:
    """select's LM scorer: bits of each text after the context."""
    from ..model.scoring import cross_entropy_bits

    _threads(threads)
    lm = model(ref)
    return [cross_entropy_bits(lm, t, context, context_tokens) for t in texts]
