"""Exact operations: the only float arithmetic the engine does.

Each op is one of: an elementwise IEEE-754 basic operation (+ - * / sqrt round,
comparisons; correctly rounded on every CPU and GPU, and torch never fuses two of them
in eager mode); an exact integer product (integer-valued float operands whose partial
sums all stay below 2^24, so any summation order gives the same integer); a fixed
pairwise tree of elementwise adds; a table lookup. So the results do not depend on the
SIMD level, the thread count, the batch shape or how a sequence is split into passes.
"""

from __future__ import annotations

import torch

from .numerics import EXACT_FLOAT_INT

TINY = 2.0**-126  # smallest normal float32


def tree_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over the last dim as a fixed pairwise tree, zero-padded to a power of two.

    Zeros added at the end leave every partial sum unchanged, so the result depends on
    the values only, not on how much padding (e.g. masked keys) follows them."""
    n = x.shape[-1]
    width = 1 << max(0, (n - 1).bit_length())
    if width != n:
        x = torch.nn.functional.pad(x, (0, width - n))
    if width == 1:
        return x[..., 0].clone()  # never a view: callers may update x in place afterwards
    while width > 1:
        width //= 2
        x = x[..., :width] + x[..., width:]
    return x[..., 0]


def quantize(x: torch.Tensor, levels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row symmetric quantization: x ~ q * scale, q integer-valued in [-levels, levels]."""
    # an all-zero row gets a tiny scale instead of 0 (its q is 0 either way)
    scale = x.abs().amax(dim=-1, keepdim=True).clamp_min_(TINY) / levels
    return torch.round(x / scale), scale


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Llama's RMSNorm: x / sqrt(mean(x^2) + eps) * weight, with a tree sum and no rsqrt."""
    mean = tree_sum(x * x) / x.shape[-1]
    inv = 1.0 / torch.sqrt(mean + eps)
    return (x * inv.unsqueeze(-1)) * weight


def lookup(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """table[index] for an integer-valued float index already clamped into range."""
    return table.index_select(0, index.reshape(-1).to(torch.int32)).view(index.shape)


def exp_neg(d: torch.Tensor, table: torch.Tensor, grid: int) -> torch.Tensor:
    """exp(-d) for d >= 0 (or +inf) from the table: d rounded to a multiple of 1/grid.
    Beyond the table's span the result is exactly 0."""
    last = table.shape[0] - 1
    return lookup(table, (d * grid).round_().clamp_(0, last))


def silu(x: torch.Tensor, sigmoid: torch.Tensor, grid: int) -> torch.Tensor:
    """x * sigmoid(x), sigmoid from the table (clamped at its ends, where it is 0 or 1 to ~1e-14)."""
    half = (sigmoid.shape[0] - 1) // 2
    return lookup(sigmoid, (x * grid).round_().clamp_(-half, half).add_(half)).mul_(x)


def l1_fits(q: torch.Tensor, wmax: float) -> torch.Tensor:
    """Per row: is sum_k |q_k| * wmax below 2^24, so that q @ W.T is exact in float32?
    (The sum of |q| is itself an integer below 2^24, exact in any order.)"""
    return q.abs().sum(dim=-1) * wmax < EXACT_FLOAT_INT
