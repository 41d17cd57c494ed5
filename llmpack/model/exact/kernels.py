"""A decoding step's attention products from a compact KV cache, for the torch path.

A decoding step reads every cached key and value of every row; with float32 keys and
values that read is most of a step at long contexts (eval/step_cost.py). torch has no
CPU product of int16/int8 operands with float32 results, so the compiled core
(core.c: llmpack_qk, llmpack_pv) computes q.k (int16 keys) and p.v (int8 values) as
integer sums: 3 bytes per cached number instead of 8, and the same bits as the float
path (integer sums are exact in any order).

The engine runs these only on the torch path (the compiled core's own forward reads
the compact cache itself). Where the core is not built, or where the self-test differs
from the float path, the engine keeps float32 caches: slower, never other bits.
LLMPACK_KERNELS=0 turns them off.
"""

from __future__ import annotations

import ctypes
import functools

import torch

from ... import environment
from . import core
from .backends import _debug

I64, PTR = ctypes.c_int64, ctypes.c_void_p
note = "not loaded yet"  # what attention() found, for `llmpack doctor`


class Attention:
    """q.k and p.v over a compact cache (int16 keys, int8 values), on the CPU."""

    key_dtype, value_dtype = torch.int16, torch.int8

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        lib.llmpack_qk.argtypes = [PTR, PTR, PTR, I64, I64, I64, I64, I64]
        lib.llmpack_qk.restype = None
        lib.llmpack_pv.argtypes = [PTR, PTR, PTR, I64, I64, I64, I64, I64]
        lib.llmpack_pv.restype = ctypes.c_int

    def qk(self, q: torch.Tensor, keys: torch.Tensor, length: int) -> torch.Tensor:
        """q (B, H, G, D) integer-valued floats, keys (B, H, C, D) int16 -> (B, H, G, length) float32."""
        B, H, G, D = q.shape
        q16 = q.to(torch.int16).contiguous()
        out = torch.empty(B, H, G, length)
        _check(keys, D)
        self.lib.llmpack_qk(q16.data_ptr(), keys.data_ptr(), out.data_ptr(), B * H, G, length, D, keys.stride(1))
        return out

    def pv(self, w: torch.Tensor, values: torch.Tensor, length: int) -> torch.Tensor:
        """w (B, H, G, length) integers in [0, 2^15), values (B, H, C, D) int8 -> (B, H, G, D) float32."""
        B, H, G, _ = w.shape
        D = values.shape[-1]
        w32 = w.to(torch.int32).contiguous()
        out = torch.empty(B, H, G, D)
        _check(values, D)
        if self.lib.llmpack_pv(w32.data_ptr(), values.data_ptr(), out.data_ptr(), B * H, G, length, D, values.stride(1)):
            raise ValueError("p.v kernel: too many query rows")
        return out


def _check(cache: torch.Tensor, dim: int) -> None:
    """The C code walks (row, head) pairs `stride(1)` elements apart with contiguous (L, D) inside."""
    B, H, C, D = cache.shape
    if D != dim or cache.stride(3) != 1 or cache.stride(2) != D or cache.stride(0) != H * cache.stride(1):
        raise ValueError("attention kernel: unexpected cache layout")


@functools.lru_cache(maxsize=None)
def attention() -> Attention | None:
    """The compiled kernels, self-tested; None where they cannot be used here."""
    global note
    if not environment.kernels_enabled():
        return _unused("off (LLMPACK_KERNELS=0)")
    lib = core.library()
    if lib is None:
        return _unused(f"not used: compiled core {core.note}")
    kernels = Attention(lib)
    why = self_test(kernels)
    if why:
        return _unused(f"not used: {why}")
    note = "compact KV cache, self-test passed"
    return kernels


def _unused(why: str) -> None:
    global note
    note = why
    _debug(f"attention kernels {why}")
    return None


def self_test(kernels: Attention) -> str | None:
    """None if the kernels give the float path's bits on random extremes, else why not."""
    gen = torch.Generator().manual_seed(7)
    B, H, G, C, D, L = 2, 3, 3, 1100, 64, 1037
    q = torch.randint(-511, 512, (B, H, G, D), generator=gen).float()
    q[0, 0, 0] = 511
    keys = torch.randint(-511, 512, (B, H, C, D), generator=gen)
    keys[1, 2, :L] = -511  # the largest sums
    values = torch.randint(-127, 128, (B, H, C, D), generator=gen)
    w = torch.randint(0, 1 << 15, (B, H, G, L), generator=gen).float()
    w[0, 1] = (1 << 15) - 1
    values[0, 1, :L] = 127
    want_s = q @ keys[:, :, :L].float().transpose(-1, -2)
    want_o = (w.double() @ values[:, :, :L].double()).float()
    got_s = kernels.qk(q, keys.to(torch.int16), L)
    got_o = kernels.pv(w, values.to(torch.int8), L)
    if not torch.equal(got_s, want_s):
        return "q.k differs from the float path"
    if not torch.equal(got_o, want_o):
        return "p.v differs from the float path"
    return None
