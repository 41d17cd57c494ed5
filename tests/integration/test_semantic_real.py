"""semantic and summary modes on the real default model, with small real inputs."""


import pytest

import llmpack
from llmpack.config import SemanticConfig
from llmpack.models import load
from llmpack.similarity import similarity

from .common import NEEDS_MODEL, corpus

pytestmark = NEEDS_MODEL


@pytest.fixture(scope="module")
def lm():
    return load(None)


def test_semantic_round_trip_on_markdown(lm):
    data = corpus("code_docs/requests_HISTORY.md", 700)
    blob = llmpack.compress(data, mode="semantic", model=lm, fallback=False)  # the codec itself, not the smaller zstd file
    assert llmpack.decompress(blob, model=lm) == data
    info = llmpack.inspect(blob)
    assert info["mode"] == "semantic" and all(p.strip() for p in info["prompts"])
    assert len(llmpack.compress(data, mode="semantic", model=lm)) <= min(len(blob), len(llmpack.compress(data, mode="zstd")))


def test_summary_is_small_and_its_similarity_matches_a_recomputation(lm):
    data = corpus("canterbury/alice29.txt", 1500)
    blob = llmpack.compress(data, mode="summary", model=lm)
    assert len(blob) <= len(data) // 4
    approx = llmpack.decompress(blob, model=lm)
    assert abs(llmpack.inspect(blob)["similarity"] - similarity(data, approx)) <= 0.02
