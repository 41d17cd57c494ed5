"""llmpack's linear layers: same outputs as nn.Linear up to float rounding, head still tied, numerics recorded in headers."""

import torch

import llmpack
from llmpack.kernels import NUMERICS, TransposedLinear, prepare, restore

from conftest import build_tiny_model


def test_loaded_models_get_transposed_linears(tiny_model):
    model = tiny_model.model
    assert not any(type(m) is torch.nn.Linear for m in model.modules())
    assert sum(isinstance(m, TransposedLinear) for m in model.modules()) == 1 + 7 * model.config.num_hidden_layers
    head = model.get_output_embeddings()
    assert isinstance(head, TransposedLinear)
    # tied: the head still shares the embedding matrix, it was not copied
    assert head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    prepare(model)  # idempotent: nothing wrapped twice
    assert model.get_output_embeddings() is head


def test_logits_match_the_linear_head():
    torch.manual_seed(0)
    for bias in (False, True):
        linear = torch.nn.Linear(24, 301, bias=bias)
        head = TransposedLinear(linear)
        for shape in [(1, 1, 24), (3, 1, 24), (2, 5, 24), (7, 24)]:
            h = torch.randn(*shape)
            with torch.no_grad():
                got, want = head(h), linear(h)
            assert got.shape == want.shape
            assert got.is_contiguous()
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_model_matches_transformers_own_layers():
    lm = build_tiny_model(seed=3)
    reference = build_tiny_model(seed=3).model  # same weights
    restore(reference)
    assert sum(type(m) is torch.nn.Linear for m in reference.modules()) == 1 + 7 * reference.config.num_hidden_layers
    ids = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])
    with torch.no_grad():
        ours, theirs = lm.model(input_ids=ids).logits, reference(input_ids=ids).logits
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_numerics_are_recorded(tiny_model):
    blob = llmpack.compress(b"numerics tag " * 10, model=tiny_model)
    assert ("/" + NUMERICS) in llmpack.inspect(blob)["environment"]
