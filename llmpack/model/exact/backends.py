"""Integer matrix products: where the engine's time goes, and the one place hardware differs.

A backend multiplies integer-valued activations q (rows, K) by integer weights
(N, K) and returns the exact integer products as float32 (rounded once, the same way
everywhere, where they reach 2^24). `Portable` runs on any torch device with an fp32
GEMM. `Int8` uses int8 matrix units (AVX512-VNNI, AMX; torch._int_mm) and is used only
after `self_test` shows it gives the portable bits on this machine and these shapes.
"""

from __future__ import annotations


import torch

from ... import environment
from . import ops
from .numerics import EXACT_FLOAT_INT

SMALL_ROWS = 8  # up to this many rows, (W @ x.T).T beats x @ W.T on MKL (1.2-2x at 3-5 rows)
MIN_INT_MM_ROWS = 17  # torch._int_mm's CPU path wants more than 16 rows
FLOAT64_PV_ROWS = 8  # p.v with more query rows than this runs in float64 (full passes), fewer as split bytes (steps)


def _debug(msg: str) -> None:
    if environment.debug():
        import sys

        print(f"llmpack: debug: {msg}", file=sys.stderr)


def chunked(q: torch.Tensor, w_t: torch.Tensor, chunk: int) -> torch.Tensor:
    """q @ w_t with K cut into chunks whose fp32 products are exact: the exact integer
    sums, in float32 when K fits one chunk, else added in float64 (callers round once)."""
    k = q.shape[-1]
    if k <= chunk:
        return q @ w_t
    return sum((q[..., k0 : k0 + chunk] @ w_t[..., k0 : k0 + chunk, :]).double() for k0 in range(0, k, chunk))


def exact_pv(w: torch.Tensor, values: torch.Tensor, chunk: int) -> torch.Tensor:
    """Attention's p.v: w (..., rows, L) integers in [0, 2^15), values (..., L, D) integers
    in [-127, 127]; the exact integer sums, rounded once to float32. Many rows: one float64
    product (exact below 2^53). Few rows (decoding): w split in two signed bytes stacked
    as rows of one fp32 product over key chunks small enough to stay below 2^24, so the
    cache is read once and never copied to float64."""
    rows = w.shape[-2]
    if rows > FLOAT64_PV_ROWS:
        return (w.double() @ values.double()).float()
    hi = (w * (1 / 256)).round_()
    prod = chunked(torch.cat([hi, w - hi * 256], dim=-2), values, chunk)  # lo in [-128, 128]
    return (prod[..., :rows, :] * 256 + prod[..., rows:, :]).float()


class Portable:
    """fp32 GEMM on integer operands: exact whenever every partial sum stays below 2^24.

    Rows whose sum |q| * max|w| could reach 2^24 are recomputed with K in chunks that
    cannot, added in float64 (rare: activations are heavy-tailed, so sum |q| is small)."""

    name = "portable"

    def prepare(self, w: torch.Tensor) -> dict:
        return {"w": w, "wmax": float(w.abs().max())}

    def matmul(self, q: torch.Tensor, prepared: dict, act_levels: int) -> torch.Tensor:
        w, wmax = prepared["w"], prepared["wmax"]
        flat = q.reshape(-1, q.shape[-1])
        # speed only (the result is exact either way): few rows run faster as (W @ x.T).T
        out = torch.nn.functional.linear(flat, w) if flat.shape[0] > SMALL_ROWS else (w @ flat.t()).t()
        fits = ops.l1_fits(flat, wmax)
        if not bool(fits.all()):
            bad = (~fits).nonzero().squeeze(-1)
            chunk = max(1, (EXACT_FLOAT_INT - 1) // max(1, int(act_levels * wmax)))
            out = out.contiguous()
            out[bad] = chunked(flat[bad], w.t(), chunk).float()
        return out.reshape(*q.shape[:-1], w.shape[0])


class Int8:
    """torch._int_mm (int8 x int8 -> int32, exact). A 10-bit activation q is split as
    q = 256 * hi + lo, lo a signed byte and |hi| <= 2; both halves go through one int8
    product (stacked rows: at the few rows of decoding its cost is reading the weights
    once), and are combined exactly in int32."""

    name = "int8"

    def prepare(self, w: torch.Tensor) -> dict:
        return {"w8": w.t().contiguous().to(torch.int8), "n": w.shape[0]}  # (K, N)

    def matmul(self, q: torch.Tensor, prepared: dict, act_levels: int) -> torch.Tensor:
        flat = q.reshape(-1, q.shape[-1])
        rows = flat.shape[0]
        hi = torch.floor((flat + 128) * (1 / 256))
        both = torch.cat([flat - hi * 256, hi])
        if both.shape[0] < MIN_INT_MM_ROWS:
            both = torch.nn.functional.pad(both, (0, 0, 0, MIN_INT_MM_ROWS - both.shape[0]))
        prod = torch._int_mm(both.to(torch.int8), prepared["w8"])
        out = prod[:rows].add_(prod[rows : 2 * rows], alpha=256)
        return out.float().reshape(*q.shape[:-1], prepared["n"])


def self_test(backend, weights: list[torch.Tensor], act_levels: int, rows: tuple[int, ...] = (1, 5, 64)) -> str | None:
    """None if `backend` reproduces Portable exactly on these weights, else why not.
    Inputs include the extremes (all +-levels), where saturating int16 paths go wrong."""
    ref = Portable()
    gen = torch.Generator().manual_seed(1234)
    for weight in weights:
        w = ops.quantize(weight.float(), 127)[0]  # int8 per output channel, as the engine stores it
        try:
            a, b = ref.prepare(w), backend.prepare(w)
            for m in rows:
                q = torch.randint(-act_levels, act_levels + 1, (m, w.shape[1]), generator=gen).float()
                q[0] = act_levels
                if m > 1:
                    q[1] = -act_levels
                if not torch.equal(ref.matmul(q, a, act_levels), backend.matmul(q, b, act_levels)):
                    return (
                        f"{backend.name}: products differ from the portable path ({m}x{w.shape[1]} @ {w.shape[1]}x{w.shape[0]})"
                    )
        except (RuntimeError, NotImplementedError) as exc:
            return f"{backend.name}: {exc}".splitlines()[0]
    return None


def choose(weights: list[torch.Tensor], act_levels: int, wanted: str = "auto") -> tuple[object, list[str]]:
    """The fastest backend that passes its self-test here, and notes on why others were not
    used (printed under LLMPACK_DEBUG=1, shown by `llmpack doctor`). wanted: "auto" (int8
    where the CPU has int8 units and it self-tests), "int8" or "portable"."""
    notes: list[str] = []
    if wanted in ("auto", "int8"):
        if not _has_int8_units() and wanted == "auto":
            notes.append("int8 not used: no AVX512-VNNI or AMX on this CPU")
        else:
            why = self_test(Int8(), weights, act_levels)
            if why is None:
                notes.append("int8: self-test passed")
                _debug(f"backend {notes[-1]}")
                return Int8(), notes
            notes.append(f"int8 not used: {why}")
    for note in notes:
        _debug(f"backend {note}")
    return Portable(), notes


def resolve_device(name: str = "auto") -> str:
    """The device the exact engine runs on; files are the same on every one. "auto" is the
    CPU: the engine's many small steps run slower on a GPU than on two CPU cores with the
    compiled core (docs/DESIGN.md, "GPU"), so a GPU is used only when asked for."""
    from ...errors import LLMPackError

    if name == "auto":
        return "cpu"
    if name not in ("cpu", "cuda"):
        raise LLMPackError(f"unknown device '{name}' (choose from: auto, cpu, cuda)")
    if name == "cuda" and not torch.cuda.is_available():
        raise LLMPackError("--device cuda: torch sees no CUDA device here")
    return name


def _has_int8_units() -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "amx_int8" in flags
