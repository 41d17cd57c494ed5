"""The model's cross-entropy of a text, from one full-sequence pass of the exact engine.

What range coding the text as one segment after that context would spend (before the
coder's few bytes of overhead), the same on every machine: select's LM scorer ranks
with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from . import engine

if TYPE_CHECKING:  # annotations only: no model code is imported for them
    from .loading import LoadedModel

VIRTUAL_SYMBOL_BITS = 8.0  # a byte-fallback symbol (not in the vocabulary) costs about one byte


def cross_entropy_bits(lm: LoadedModel, text: bytes, context: bytes = b"", context_tokens: int | None = None) -> float:
    """Bits the model spends on text after the start token and context (its last
    context_tokens tokens, all of it when None). `lm` is a LoadedModel."""
    tok = lm.tokenizer
    ctx = [tok.model_input(t) for t in tok.encode(context)]
    ctx_ids = [tok.start_id] + (ctx[max(0, len(ctx) - context_tokens) :] if context_tokens is not None else ctx)
    ids = tok.encode(text)
    if not ids:
        return 0.0
    exact = lm.exact()
    inputs = ctx_ids + [tok.model_input(t) for t in ids[:-1]]
    n = len(inputs)
    logits = exact.forward(torch.tensor([inputs]), torch.arange(n).unsqueeze(0), exact.new_cache(1, n))[0, len(ctx_ids) - 1 :]
    weights = exact.weights(logits).numpy()
    vocab = [t for t in ids if t < tok.vocab_size]
    rows = [i for i, t in enumerate(ids) if t < tok.vocab_size]
    bits = engine.bits(weights[rows], vocab) if rows else []
    return float(sum(bits)) + VIRTUAL_SYMBOL_BITS * (len(ids) - len(rows))
