"""How llmpack computes the model's floats, where it departs from transformers' defaults.

Encoder and decoder must compute bit-identical probabilities, so anything here that
changes the floats also changes NUMERICS, which every container records in its
environment string (a file made under other numerics fails its CRC, and the error
shows the string).

Linear layers. transformers computes a linear layer as x @ W.T: a GEMM with a few
rows against a transposed weight. On the 2-core AVX2 CPU this project targets, the
same product computed as (W @ x.T).T runs much faster at the few rows that KB-sized
inputs step together (eval/kernels.py measures it). One model step of SmolLM2-135M,
fp32, 300 tokens of context:

    threads rows   x @ W.T   (W @ x.T).T
       1      3    181 ms     130 ms
       1      5    183 ms     146 ms
       2      3    203 ms     102 ms
       2      5    141 ms      96 ms

From about 12 rows up it is slower, so larger products keep x @ W.T
(TRANSPOSED_MAX_ROWS). Between 2 and 8 rows the two round differently, hence
NUMERICS. The output is made contiguous: the next layer's GEMM takes a different
(much slower) kernel on a transposed input.
"""

from __future__ import annotations

import torch

# Recorded in every container's environment string; bump when the floats change.
# Files without it were made under 1 (transformers' own nn.Linear).
NUMERICS = "k2"  # 2: every nn.Linear is a TransposedLinear
# Products with more rows than this keep transformers' x @ W.T, which is faster there
# (a 15-row step: 252 ms as x @ W.T, 345 ms transposed; a 1800-token prefill 10 s vs 11.5 s).
TRANSPOSED_MAX_ROWS = 8


class TransposedLinear(torch.nn.Module):
    """An nn.Linear computed as (W @ x.T).T; keeps the original parameters (a tied
    output head still shares the embedding matrix)."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        if flat.shape[0] > TRANSPOSED_MAX_ROWS:
            return torch.nn.functional.linear(x, self.weight, self.bias)
        out = torch.mm(self.weight, flat.t()).t()
        if self.bias is not None:
            out = out + self.bias
        return out.contiguous().view(*x.shape[:-1], self.out_features)


def _swap(model: torch.nn.Module, match, build) -> None:
    """Replace, in place, every submodule for which match(module) holds by build(module)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if match(child):
                setattr(parent, name, build(child))


def prepare(model: torch.nn.Module) -> None:
    """Install llmpack's numerics on a transformers causal LM, in place (idempotent)."""
    _swap(model, lambda m: type(m) is torch.nn.Linear, TransposedLinear)


def restore(model: torch.nn.Module) -> None:
    """Undo prepare(): transformers' own nn.Linear again, same parameters (for comparisons)."""

    def plain(t: TransposedLinear) -> torch.nn.Linear:
        linear = torch.nn.Linear(t.in_features, t.out_features, bias=t.bias is not None)
        linear.weight, linear.bias = t.weight, t.bias
        return linear

    _swap(model, lambda m: isinstance(m, TransposedLinear), plain)
