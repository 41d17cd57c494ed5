"""Lookup tables for exp, sigmoid and RoPE, built bit-identically on every machine.

No libm call: math.exp/cos differ between C libraries in the last bit. Values are
computed in float64 with our own range reduction and Taylor polynomials (numpy
elementwise +, -, *, /, which are IEEE-exact everywhere, never fused), then rounded
once to float32.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# ln 2 and pi/2 split in a high part with trailing zero bits and a low part, so that
# n * HI is exact for the n we meet (Cody-Waite range reduction).
LN2_HI, LN2_LO = 0.693145751953125, 1.4286068203094173e-06
HALF_PI_HI, HALF_PI_LO = 1.5707963267341256, 6.077100506506192e-11
_TAYLOR_TERMS = 18  # |r| <= 0.35 (exp) or pi/4 (sin/cos): 18 terms are far below float64's ulp


def exp64(x: np.ndarray) -> np.ndarray:
    """exp(x) in float64 for |x| < 700."""
    x = np.asarray(x, dtype=np.float64)
    n = np.floor(x / LN2_HI + 0.5)
    r = (x - n * LN2_HI) - n * LN2_LO
    acc = np.ones_like(r)
    for k in range(_TAYLOR_TERMS, 0, -1):  # Horner: 1 + r/1 (1 + r/2 (1 + ...))
        acc = 1.0 + (r / k) * acc
    return np.ldexp(acc, n.astype(np.int64))


def _sin_cos_reduced(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r2 = r * r
    s = np.ones_like(r)
    c = np.ones_like(r)
    for k in range(_TAYLOR_TERMS, 0, -1):
        s = 1.0 - (r2 / ((2 * k) * (2 * k + 1))) * s
        c = 1.0 - (r2 / ((2 * k - 1) * (2 * k))) * c
    return r * s, c


def sin_cos64(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sin x, cos x) in float64 for |x| below ~1e6 (RoPE angles: position x frequency <= 1)."""
    x = np.asarray(x, dtype=np.float64)
    n = np.floor(x / HALF_PI_HI + 0.5)
    r = (x - n * HALF_PI_HI) - n * HALF_PI_LO
    s, c = _sin_cos_reduced(r)
    quadrant = n.astype(np.int64) & 3
    sin = np.select([quadrant == 0, quadrant == 1, quadrant == 2], [s, c, -s], -c)
    cos = np.select([quadrant == 0, quadrant == 1, quadrant == 2], [c, -s, -c], s)
    return sin, cos


@lru_cache(maxsize=8)
def exp_table(grid: int, span: int) -> np.ndarray:
    """float32 exp(-k / grid) for k = 0 .. grid*span, then one 0 (anything further down)."""
    k = np.arange(grid * span + 1, dtype=np.float64)
    return np.append(exp64(-k / grid), 0.0).astype(np.float32)


@lru_cache(maxsize=8)
def sigmoid_table(grid: int, span: int) -> np.ndarray:
    """float32 sigmoid(k / grid) for k = -grid*span .. grid*span."""
    k = np.arange(-grid * span, grid * span + 1, dtype=np.float64)
    return (1.0 / (1.0 + exp64(-k / grid))).astype(np.float32)


def rope_tables(head_dim: int, theta: float, positions: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 cos and sin, shape (positions, head_dim), in the rotate-half layout Llama uses."""
    i = np.arange(0, head_dim, 2, dtype=np.float64) / head_dim
    inv_freq = exp64(-i * _ln64(theta))
    angles = np.arange(positions, dtype=np.float64)[:, None] * inv_freq[None, :]
    sin, cos = sin_cos64(angles)
    cos = np.concatenate([cos, cos], axis=1).astype(np.float32)
    sin = np.concatenate([sin, sin], axis=1).astype(np.float32)
    return cos, sin


def _ln64(x: float) -> float:
    """Natural log of a positive float64 by Newton's method on exp64 (no libm log)."""
    m, e = np.frexp(np.float64(x))  # x = m * 2^e, m in [0.5, 1)
    y = 0.0
    for _ in range(60):
        y = y - 1.0 + float(m) / float(exp64(np.array(y)))
    return float(e * (LN2_HI + LN2_LO) + y)
