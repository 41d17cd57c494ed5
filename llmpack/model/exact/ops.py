"""Exact operations: the only float arithmetic the engine does.

Each op is one of: an elementwise IEEE-754 basic operation (+ - * / sqrt round,
comparisons; correctly rounded on every CPU and GPU, and torch never fuses two of them
in eager mode); an exact integer product (integer-valued float operands whose partial
sums all stay below 2^24, so any summation order gives the same integer); a fixed
pairwise tree of elementwise adds; a table lookup. So the results do not depend on the
SIMD level, the thread count, the batch shape or how a sequence is split into passes.
"""

from __future__ import annotations

import functools

import numpy as np
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


def div(x: torch.Tensor, n: float) -> torch.Tensor:
    """x / n for a Python number n, a true IEEE division on every device. (CUDA turns a
    division by a CPU scalar into a product with the rounded reciprocal, which can be a
    bit off; a divisor tensor on x's device is divided by everywhere.)"""
    return x / _divisor(float(n), x.dtype, x.device)


@functools.lru_cache(maxsize=None)
def _divisor(n: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """One 0-d tensor per divisor, made once: a fresh one per call is an allocation (and on
    a GPU a host-to-device copy) in the decoder's hottest loop. Never written to."""
    return torch.tensor(n, dtype=dtype, device=device)


def quantize(x: torch.Tensor, levels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row symmetric quantization: x ~ q * scale, q integer-valued in [-levels, levels]."""
    # an all-zero row gets a tiny scale instead of 0 (its q is 0 either way)
    scale = div(x.abs().amax(dim=-1, keepdim=True).clamp_min_(TINY), levels)
    return torch.round(x / scale), scale


def sqrt(x: torch.Tensor) -> torch.Tensor:
    """The correctly rounded float32 square root of x >= 0, on every machine. torch.sqrt's
    vectorised CPU path (MKL) is up to one ulp off on ~20% of inputs, differently per
    library and CPU, so it is never trusted: on the CPU numpy's sqrt (the IEEE instruction,
    or C's sqrtf, both correctly rounded) is used; elsewhere torch's, checked and corrected."""
    if x.device.type == "cpu":
        return torch.from_numpy(np.sqrt(x.numpy()))
    return corrected_sqrt(x)


def corrected_sqrt(x: torch.Tensor) -> torch.Tensor:
    """torch.sqrt(x) made correctly rounded. A float32 y is sqrt(x) correctly rounded when
    x lies between the squares of the midpoints to y's neighbours; the midpoints and their
    squares are exact in float64 (25 and 50 significant bits). Two rounds of stepping one
    ulp towards x cover a first guess up to two ulps off."""
    y = torch.sqrt(x)
    wide = x.double()
    for _ in range(2):
        up, down = torch.nextafter(y, torch.full_like(y, float("inf"))), torch.nextafter(y, torch.zeros_like(y))
        hi, lo = (y.double() + up.double()) * 0.5, (y.double() + down.double()) * 0.5
        y = torch.where(wide > hi * hi, up, torch.where(wide < lo * lo, down, y))
    return y


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float, exact_sqrt: bool = True) -> torch.Tensor:
    """Llama's RMSNorm: x / sqrt(mean(x^2) + eps) * weight, with a tree sum and no rsqrt.
    exact_sqrt=False keeps numerics version 1's torch.sqrt (see numerics.VERSION)."""
    mean = div(tree_sum(x * x), x.shape[-1])
    inv = 1.0 / (sqrt if exact_sqrt else torch.sqrt)(mean + eps)
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
