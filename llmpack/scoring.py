"""The model's cross-entropy of a text, from one full-sequence forward pass.

For estimates only (select's LM scorer, eval/int8.py): a full-sequence pass rounds
differently from the one-token steps that coding uses, so range coding takes its
probabilities from engine.Lockstep, never from here.
"""

from __future__ import annotations

import math

VIRTUAL_SYMBOL_BITS = 8.0  # a byte-fallback symbol (not in the vocabulary) costs about one byte


def cross_entropy_bits(model, tokenizer, text: bytes, context: bytes = b"", context_tokens: int | None = None) -> float:
    """Bits the model spends on text after the start token and context (its last
    context_tokens tokens, all of it when None)."""
    import torch

    tok = tokenizer
    ctx = [tok.model_input(t) for t in tok.encode(context)]
    ctx_ids = [tok.start_id] + (ctx[max(0, len(ctx) - context_tokens) :] if context_tokens is not None else ctx)
    ids = tok.encode(text)
    if not ids:
        return 0.0
    inputs = torch.tensor([ctx_ids + [tok.model_input(t) for t in ids[:-1]]])
    with torch.inference_mode():
        logits = model(input_ids=inputs).logits[0, len(ctx_ids) - 1 :].float()
    logp = torch.log_softmax(logits, dim=-1)
    total = 0.0
    for row, t in zip(logp, ids):
        total += -float(row[t]) / math.log(2) if t < tok.vocab_size else VIRTUAL_SYMBOL_BITS
    return total
