"""scoring.cross_entropy_bits: the full-pass estimate of what range coding spends."""

import math

import numpy as np

from llmpack.model.engine import Lockstep
from llmpack.model.scoring import cross_entropy_bits

TEXT = b"The quick brown fox jumps over the lazy dog.\nAnd then it sleeps."


def lockstep_bits(lm, text: bytes) -> float:
    """What arithmetic mode's decoder computes for text as one segment: -log2 p, one step at a time."""
    tok = lm.tokenizer
    ids = tok.encode(text)
    engine = Lockstep(lm.exact(), 1, tok.symbol_count, len(ids))
    total, prev = 0.0, tok.start_id
    for t in ids:
        w = engine.step([prev])[0]
        total -= math.log2(float(w[t]) / float(w.sum()))
        prev = tok.model_input(t)
    return total


def test_matches_the_coders_stepwise_cross_entropy(tiny_model):
    full = cross_entropy_bits(tiny_model, TEXT)
    assert full > 0
    assert np.isclose(full, lockstep_bits(tiny_model, TEXT), rtol=1e-9)


def test_context_conditions_and_is_cut_to_its_last_tokens(tiny_model):
    tok = tiny_model.tokenizer
    alone = cross_entropy_bits(tiny_model, b" dog.", b"")
    after = cross_entropy_bits(tiny_model, b" dog.", b"the lazy")
    assert after != alone
    assert cross_entropy_bits(tiny_model, b" dog.", b"the lazy", context_tokens=0) == alone
    tail = tok.encode(b"the lazy")
    longer = b"xyz\n" + b"the lazy"
    assert tok.encode(longer)[-len(tail) :] == tail  # the longer context ends in the same tokens
    assert cross_entropy_bits(tiny_model, b" dog.", longer, context_tokens=len(tail)) == after
    assert cross_entropy_bits(tiny_model, b" dog.", longer) != after
    assert cross_entropy_bits(tiny_model, b"", b"the lazy") == 0.0
