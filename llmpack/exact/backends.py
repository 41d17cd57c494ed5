"""Integer matrix products: where the engine's time goes, and the one place hardware differs.

A backend multiplies integer-valued activations q (rows, K) by integer weights
(N, K) and returns the exact integer products as float32 (rounded once, the same way
everywhere, where they reach 2^24). `Portable` runs on any torch device with an fp32
GEMM. `Int8` uses int8 matrix units (AVX512-VNNI, AMX; torch._int_mm) and is used only
after `self_test` shows it gives the portable bits on this machine and these shapes.
"""

from __future__ import annotations

import os

import torch

from . import ops
from .numerics import EXACT_FLOAT_INT

SMALL_ROWS = 8  # up to this many rows, (W @ x.T).T beats x @ W.T on MKL (1.2-2x at 3-5 rows)


def _debug(msg: str) -> None:
    if os.environ.get("LLMPACK_DEBUG"):
        import sys

        print(f"llmpack: debug: {msg}", file=sys.stderr)


def chunked(q: torch.Tensor, w_t: torch.Tensor, chunk: int) -> torch.Tensor:
    """q @ w_t with K cut into chunks whose fp32 products are exact, added in float64."""
    k = q.shape[-1]
    if k <= chunk:
        return q @ w_t
    acc = None
    for k0 in range(0, k, chunk):
        part = (q[..., k0 : k0 + chunk] @ w_t[..., k0 : k0 + chunk, :]).double()
        acc = part if acc is None else acc + part
    return acc.float()


class Portable:
    """fp32 GEMM on integer operands: exact whenever every partial sum stays below 2^24.

    Rows whose sum |q| * max|w| could reach 2^24 are recomputed with K in chunks that
    cannot, added in float64 (rare: activations are heavy-tailed, so sum |q| is small)."""

    name = "portable"

    def prepare(self, w: torch.Tensor, levels: int) -> dict:
        return {"w": w, "wmax": float(w.abs().max())}

    def matmul(self, q: torch.Tensor, prepared: dict, act_levels: int) -> torch.Tensor:
        w, wmax = prepared["w"], prepared["wmax"]
        flat = q.reshape(-1, q.shape[-1])
        # speed only (the result is exact either way): few rows run faster as (W @ x.T).T
        out = torch.nn.functional.linear(flat, w) if flat.shape[0] > SMALL_ROWS else (w @ flat.t()).t()
        fits = flat.abs().sum(dim=-1) * wmax < EXACT_FLOAT_INT
        if not bool(fits.all()):
            bad = (~fits).nonzero().squeeze(-1)
            chunk = max(1, (EXACT_FLOAT_INT - 1) // max(1, int(act_levels * wmax)))
            out = out.contiguous()
            out[bad] = chunked(flat[bad], w.t(), chunk)
        return out.reshape(*q.shape[:-1], w.shape[0])


class Int8:
    """torch._int_mm (int8 x int8 -> int32). Activations of up to 16 bits are split into a
    signed high and low byte, two products, combined exactly in int64."""

    name = "int8"

    def prepare(self, w: torch.Tensor, levels: int) -> dict:
        return {"w8": w.t().contiguous().to(torch.int8), "n": w.shape[0]}

    def matmul(self, q: torch.Tensor, prepared: dict, act_levels: int) -> torch.Tensor:
        flat = q.reshape(-1, q.shape[-1])
        rows = flat.shape[0]
        pad = (-rows) % 32 if rows < 32 else 0  # _int_mm wants more than 16 rows on some paths
        if pad:
            flat = torch.nn.functional.pad(flat, (0, 0, 0, pad))
        hi = torch.floor((flat + 128) / 256)
        lo = flat - hi * 256
        both = torch.cat([hi, lo]).to(torch.int8)
        prod = torch._int_mm(both, prepared["w8"]).to(torch.int64)
        n = flat.shape[0]
        out = (prod[:n] * 256 + prod[n:]).to(torch.float64).float()[:rows]
        return out.reshape(*q.shape[:-1], prepared["n"])


def self_test(backend, weights: list[torch.Tensor], act_levels: int, rows: tuple[int, ...] = (1, 5, 64)) -> str | None:
    """None if `backend` reproduces Portable exactly on these weights, else why not.
    Inputs include the extremes (all +-levels), where saturating int16 paths go wrong."""
    ref = Portable()
    gen = torch.Generator().manual_seed(1234)
    for weight in weights:
        w = ops.quantize(weight.float(), 127)[0]  # int8 per output channel, as the engine stores it
        try:
            a, b = ref.prepare(w, 127), backend.prepare(w, 127)
            for m in rows:
                q = torch.randint(-act_levels, act_levels + 1, (m, w.shape[1]), generator=gen).float()
                q[0] = act_levels
                if m > 1:
                    q[1] = -act_levels
                if not torch.equal(ref.matmul(q, a, act_levels), backend.matmul(q, b, act_levels)):
                    return f"{backend.name}: products differ from the portable path ({m}x{w.shape[1]} @ {w.shape[1]}x{w.shape[0]})"
        except (RuntimeError, NotImplementedError) as exc:
            return f"{backend.name}: {exc}".splitlines()[0]
    return None


def choose(weights: list[torch.Tensor], act_levels: int, wanted: str = "auto"):
    """The fastest backend that passes its self-test here; LLMPACK_DEBUG=1 says why others were not."""
    if wanted == "portable":
        return Portable()
    if wanted in ("auto", "int8") and _has_int8_units():
        backend = Int8()
        why = self_test(backend, weights, act_levels)
        if why is None:
            _debug("backend int8: self-test passed")
            return backend
        _debug(f"backend int8 not used: {why}")
    elif wanted == "auto":
        _debug("backend int8 not used: no AVX512-VNNI or AMX on this CPU")
    return Portable()


def _has_int8_units() -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "amx_int8" in flags
