"""semantic and summary modes on the real default model, with small real inputs."""


import pytest

import llmpack
from llmpack.model.loading import load
from llmpack.semantic.similarity import similarity

from .common import NEEDS_MODEL, corpus

pytestmark = NEEDS_MODEL


@pytest.fixture(scope="module")
def lm():
    return load(None)


def test_semantic_round_trip_on_markdown(lm):
    data = corpus("code_docs/requests_HISTORY.md", 700)
    c = llmpack.Compressor(mode="semantic", model=lm, fallback=False)  # the codec itself, not a smaller zstd file
    blob = c.compress(data)
    assert llmpack.decompress(blob, model=lm) == data
    info = llmpack.inspect(blob, prompts=True, model=lm)
    assert info["mode"] == "semantic" and all(p.strip() for p in info["prompts"])
    # the real model codes its own prompts in far fewer bytes than their text, and the
    # section after them
    assert info["prompt_storage"].startswith("model") and c.stats["residual_method"] == "model"
    assert c.stats["prompt_bytes"] * 3 < sum(len(p.encode()) for p in info["prompts"])
    assert len(blob) < len(llmpack.compress(data, mode="zstd"))


def test_strip_gives_the_summary_of_the_same_settings(lm):
    data = corpus("canterbury/alice29.txt", 900)
    semantic = llmpack.Compressor(mode="semantic", model=lm, fallback=False)
    blob = semantic.compress(data)
    cfg = semantic.codec.config
    summary = llmpack.compress(data, mode="summary", model=lm, prompt_tokens=cfg.prompt_tokens,
                               max_section_tokens=cfg.max_section_tokens)
    assert llmpack.strip(blob) == summary
    approx = llmpack.decompress(summary, model=lm)
    assert abs(llmpack.inspect(summary)["similarity"] - similarity(data, approx)) <= 0.01


def test_summary_is_small_and_its_similarity_matches_a_recomputation(lm):
    data = corpus("canterbury/alice29.txt", 1500)
    blob = llmpack.compress(data, mode="summary", model=lm)
    assert len(blob) <= len(data) // 4
    approx = llmpack.decompress(blob, model=lm)
    assert abs(llmpack.inspect(blob)["similarity"] - similarity(data, approx)) <= 0.02
