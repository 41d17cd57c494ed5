"""Shared fixtures. Unit tests use a tiny randomly initialised Llama built here, never the real model."""

from __future__ import annotations

import hashlib

import pytest


def pytest_collection_modifyitems(config, items):
    """Integration tests (the real model) are slow too: `pytest -m "not slow"` is the
    development subset; the full run (CI, the README's command) runs everything."""
    for item in items:
        if item.get_closest_marker("integration") is not None:
            item.add_marker(pytest.mark.slow)

TINY_TRAINING_TEXT = [
    "The quick brown fox jumps over the lazy dog.\n",
    "Alice was beginning to get very tired of sitting by her sister on the bank.\n",
    "def compress(data: bytes) -> bytes:\n    return data\n",
    "Ünïcödé text, 中文, emoji 🙂 and numbers 12345.\n",
] * 20


def build_tiny_model(seed: int = 0, vocab_target: int = 400, full_alphabet: bool = True):
    """A LoadedModel with a ~50k-parameter Llama and a byte-level BPE tokenizer trained in-process.

    With full_alphabet=False the vocabulary lacks most single bytes, as SmolLM2's lacks 21,
    so the tokenizer's virtual byte symbols get exercised.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from llmpack.model.loading import LoadedModel

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_target,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet() if full_alphabet else [],
        show_progress=False,
    )
    tok.train_from_iterator(TINY_TRAINING_TEXT, trainer)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=0,
        eos_token_id=0,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).eval()
    fp = hashlib.sha256(f"tiny-{seed}-{vocab_target}-{full_alphabet}".encode()).digest()[:8]
    return LoadedModel(name="tiny-test", fingerprint=fp, model=model, hf_tokenizer=hf_tok)


@pytest.fixture(scope="session")
def tiny_model():
    return build_tiny_model()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_model):
    """The tiny model saved as a Hugging Face folder, for `-m FOLDER` on the command line."""
    folder = tmp_path_factory.mktemp("tiny-model")
    tiny_model.model.save_pretrained(folder)
    tiny_model.hf_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def _no_whole_file_fallback(request, monkeypatch):
    """The tiny model is random, so zstd beats it on any text and a whole file would fall
    back to zstd: unit tests of the model codecs keep their codec, except those marked
    `fallback`, which test the fallback itself. Integration tests run as users do."""
    if request.node.get_closest_marker("integration") is None and request.node.get_closest_marker("fallback") is None:
        import llmpack.api

        monkeypatch.setattr(llmpack.api, "FALLBACKS", ())


@pytest.fixture(autouse=True)
def _user_dir(request, tmp_path_factory, monkeypatch):
    """Unit tests get a private LLMPACK_HOME; integration tests share the real cache of converted weights."""
    if request.node.get_closest_marker("integration") is None:
        monkeypatch.setenv("LLMPACK_HOME", str(tmp_path_factory.mktemp("llmpack-home")))
