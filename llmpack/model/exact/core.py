"""The compiled exact core (core.c): the engine's forward pass, its LM head and the
coder's per-token work in C, with the same bits as the torch path of model.py.

`pip install` builds core.c into `_core*.so` beside this file (setup.py; optional: no
compiler, no library). It is loaded with ctypes and used where it loads and its
self-test on a small random model gives the torch path's bits; otherwise the engine
runs in torch, slower, with the same numbers. LLMPACK_CORE=0 turns it off. The
instruction set of its integer products (AVX512-VNNI, AVX2 or plain C) is picked at run
time; ATEN_CPU_CAPABILITY=avx2|default caps it as it caps torch's (the cross-capability
tests use that), LLMPACK_CORE_ISA too.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.machinery
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from ... import environment
from ...errors import ModelError
from ...files import untrusted
from . import memory

if TYPE_CHECKING:  # torch is imported where a model runs: the coder's online models need only numpy
    import torch

VERSION = 3  # core.h's CORE_VERSION: the structures below and the cache's layout
HASH_FILE = "_core.sha256"  # the SHA-256 of the built library, written beside it by setup.py
KEY_GROUP = 64  # engine.h's KEY_GROUP: a blocked cache's capacity is a multiple of it
ISAS = {"default": 0, "generic": 0, "avx2": 1, "avx512": 2, "avx512vnni": 2}  # caps by name
ISA_NAMES = {0: "plain C", 1: "AVX2", 2: "AVX512-VNNI"}
I64, PTR, F32, F64, INT = ctypes.c_int64, ctypes.c_void_p, ctypes.c_float, ctypes.c_double, ctypes.c_int
note = "not loaded yet"  # what library() found, for `llmpack doctor`


class _Lin(ctypes.Structure):
    _fields_ = [("n", I64), ("k", I64), ("np", I64), ("kp", I64), ("packed", PTR), ("colsum", PTR),
                ("scale", PTR), ("bias", PTR)]


class _Layer(ctypes.Structure):
    _fields_ = [("attn_norm", PTR), ("mlp_norm", PTR), ("qkv", _Lin), ("o", _Lin), ("gate_up", _Lin), ("down", _Lin)]


class _Model(ctypes.Structure):
    _fields_ = [(name, I64) for name in ("vocab", "dim", "hidden", "layers", "heads", "kv_heads", "head_dim", "max_pos")] + [
        ("eps", F32), ("score_to_index", F32),
        ("act_levels", I64), ("qk_levels", I64), ("v_levels", I64), ("p_levels", I64),
        ("exp_table", PTR), ("exp_last", I64), ("exp_grid", I64), ("sigmoid", PTR), ("sig_half", I64),
        ("cos", PTR), ("sin", PTR), ("embed", PTR), ("norm", PTR), ("layer", ctypes.POINTER(_Layer)), ("head", _Lin)]


class _Cache(ctypes.Structure):
    _fields_ = [("rows", I64), ("capacity", I64), ("k", ctypes.POINTER(PTR)), ("v", ctypes.POINTER(PTR)),
                ("ks", ctypes.POINTER(PTR)), ("vs", ctypes.POINTER(PTR))]


def _path() -> Path | None:
    here = Path(__file__).resolve().parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if (here / f"_core{suffix}").is_file():
            return here / f"_core{suffix}"
    return None


def _hash_mismatch(path: Path) -> str | None:
    """None if the library's SHA-256 is the one its build recorded beside it (setup.py)."""
    try:
        recorded = path.with_name(HASH_FILE).read_text().split()[0]
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, IndexError):
        return f"no recorded hash of {path.name} ({HASH_FILE})"
    return None if actual == recorded else f"{path.name} is not the library its build recorded"


def _isa_cap() -> int:
    """The highest instruction set the environment allows the core (-1: no cap)."""
    caps = [ISAS.get(v, -1) for v in environment.isa_caps()]
    caps = [c for c in caps if c >= 0]
    return min(caps) if caps else -1


@functools.lru_cache(maxsize=None)
def library() -> ctypes.CDLL | None:
    """The built core, or None (not built, turned off, or another version)."""
    global note
    if not environment.core_enabled():
        note = "off (LLMPACK_CORE=0): the engine runs in torch"
        return None
    path = _path()
    if path is None:
        note = "not built (no C compiler at install?): the engine runs in torch"
        return None
    why = untrusted(path) or _hash_mismatch(path)
    if why:  # never dlopen (which runs its constructors) a library we did not build
        note = f"not used: {why}; reinstall llmpack (the engine runs in torch)"
        return None
    try:
        lib = ctypes.CDLL(str(path))
        if lib.llmpack_core_version() != VERSION:
            note = f"not used: {path.name} is another version; reinstall llmpack"
            return None
    except (OSError, AttributeError) as exc:
        note = f"not used: {exc}".splitlines()[0]
        return None
    lib.llmpack_core_set_isa.argtypes = [INT]
    lib.llmpack_forward.argtypes = [ctypes.POINTER(_Model), ctypes.POINTER(_Cache), PTR, PTR, I64, I64, PTR, PTR, INT]
    lib.llmpack_head.argtypes = [ctypes.POINTER(_Model), PTR, I64, PTR, INT]
    lib.llmpack_weights.argtypes = [PTR, I64, I64, PTR, I64, I64, PTR, I64]
    lib.llmpack_weights.restype = None
    lib.llmpack_online_adjust.argtypes = [PTR, I64, PTR, PTR, PTR, INT]
    lib.llmpack_online_adjust.restype = F64
    lib.llmpack_online_update.argtypes = [PTR, PTR, I64, F64, I64, F64, F64, PTR, PTR]
    lib.llmpack_online_update.restype = None
    isa = lib.llmpack_core_set_isa(_isa_cap())
    note = f"{path.name}, {ISA_NAMES[isa]} products"
    return lib


def isa_name() -> str:
    lib = library()
    return ISA_NAMES[lib.llmpack_core_set_isa(_isa_cap())] if lib else "none"


def _ptr(a) -> int:
    return a.ctypes.data if isinstance(a, np.ndarray) else a.data_ptr()


class PackedLinear:
    """One linear layer's int8 weights in the layouts core.c reads, and its scales; the
    packed weights in `arena` (memory.py) where one is given."""

    def __init__(self, w8: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
                 arena: memory.Arena | None = None) -> None:
        w = w8.numpy().astype(np.int8)
        n, k = w.shape
        np_, kp = self.padded_shape(w8)
        padded = np.zeros((np_, kp), dtype=np.int8)
        padded[:n, :k] = w
        shape = (np_ // 16, kp // 4, 16, 4)
        self.packed = arena.array(shape, np.int8) if arena is not None else np.empty(shape, dtype=np.int8)
        self.packed[...] = padded.reshape(np_ // 16, 16, kp // 4, 4).transpose(0, 2, 1, 3)
        self.colsum = padded.astype(np.int32).sum(axis=1).astype(np.int32)
        self.scale = np.ascontiguousarray(scale.reshape(-1).numpy(), dtype=np.float32)
        self.bias = None if bias is None else np.ascontiguousarray(bias.numpy(), dtype=np.float32)
        self.struct = _Lin(n, k, np_, kp, _ptr(self.packed), _ptr(self.colsum), _ptr(self.scale),
                           _ptr(self.bias) if self.bias is not None else None)

    @staticmethod
    def padded_shape(w8: torch.Tensor) -> tuple[int, int]:
        """Outputs padded to 16, inputs to 4: the packed layout's blocks."""
        n, k = w8.shape
        return -(-n // 16) * 16, -(-k // 4) * 4


class Core:
    """An ExactLM's weights as core.c reads them; forward/head/weights as in model.py."""

    def __init__(self, lib: ctypes.CDLL, exact) -> None:
        import torch

        cfg, num = exact.cfg, exact.num
        self.lib, self.cfg = lib, cfg
        self.keep_alive: list = []
        keep = self.keep_alive.append

        def f32(t: torch.Tensor) -> torch.Tensor:
            t = t.detach().to(torch.float32).contiguous()
            keep(t)
            return t

        linears = [ly[name] for ly in exact.layers for name in ("qkv", "o", "gate_up", "down")] + [exact.head]
        # all packed weights in one arena of huge pages: a decoding step streams them all
        arena = memory.Arena(memory.Arena.room([PackedLinear.padded_shape(x.w8) for x in linears]))

        def lin(layer) -> _Lin:
            p = PackedLinear(layer.w8, layer.scale, layer.bias, arena)
            keep(p)
            return p.struct

        layers = (_Layer * cfg.layers)()
        for i, ly in enumerate(exact.layers):
            layers[i] = _Layer(_ptr(f32(ly["attn_norm"])), _ptr(f32(ly["mlp_norm"])), lin(ly["qkv"]), lin(ly["o"]),
                               lin(ly["gate_up"]), lin(ly["down"]))
        keep(layers)
        exp, sig = f32(exact.exp_cpu), f32(exact.sigmoid)
        self.exp = exp
        self.model = _Model(
            cfg.vocab, cfg.dim, cfg.hidden, cfg.layers, cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.max_positions,
            float(torch.tensor(cfg.eps, dtype=torch.float32)), exact.score_to_index,
            num.levels(num.act_bits), exact.qk_levels, num.levels(num.v_bits), num.levels(num.p_bits),
            _ptr(exp), exp.shape[0] - 1, num.exp_grid, _ptr(sig), (sig.shape[0] - 1) // 2,
            _ptr(f32(exact.cos)), _ptr(f32(exact.sin)), _ptr(f32(exact.embed)), _ptr(f32(exact.norm)),
            layers, lin(exact.head))

    def forward(self, ids: torch.Tensor, pos: torch.Tensor, cache, keep: torch.Tensor | None, threads: int) -> torch.Tensor:
        import torch

        B, T = ids.shape
        ids = ids.to(torch.int64).contiguous()
        pos = pos.to(torch.int64).contiguous()
        keep = None if keep is None else keep.to(torch.int64).contiguous()
        out = torch.empty((B if keep is not None else B * T, self.cfg.dim), dtype=torch.float32)
        rc = self.lib.llmpack_forward(ctypes.byref(self.model), ctypes.byref(cache.core_struct()), _ptr(ids), _ptr(pos),
                                      B, T, _ptr(keep) if keep is not None else None, _ptr(out), threads)
        _check(rc)
        return out if keep is not None else out.view(B, T, self.cfg.dim)

    def head(self, h: torch.Tensor, threads: int) -> torch.Tensor:
        import torch

        shape = h.shape[:-1]
        flat = h.reshape(-1, self.cfg.dim).to(torch.float32).contiguous()
        out = torch.empty((flat.shape[0], self.cfg.vocab), dtype=torch.float32)
        _check(self.lib.llmpack_head(ctypes.byref(self.model), _ptr(flat), flat.shape[0], _ptr(out), threads))
        return out.view(*shape, self.cfg.vocab)

    def weights_into(self, logits: torch.Tensor, out: np.ndarray, grid: int) -> None:
        """out[:, :vocab] = ExactLM.weights(logits) as float64 (out: C-contiguous rows)."""
        import torch

        logits = logits.to(torch.float32).contiguous()
        n, vocab = logits.shape
        if out.dtype != np.float64 or not out.flags.c_contiguous or out.shape[0] < n or out.shape[1] < vocab:
            raise ValueError("weights_into: out must be C-contiguous float64 rows")
        self.lib.llmpack_weights(_ptr(logits), n, vocab, _ptr(self.exp), self.exp.shape[0] - 1, grid, _ptr(out), out.shape[1])


def _check(rc: int) -> None:
    if rc == -1:
        raise MemoryError("llmpack core: out of memory")
    if rc == -3:
        raise ModelError("llmpack core: a cache or head shape it does not handle")
    if rc:
        raise ModelError(f"llmpack core: invalid input (code {rc}): a token or position outside the model or cache")


def cache_struct(cache) -> _Cache:
    """The ctypes view of a blocked KVCache (int16 keys, int8 values)."""
    if not cache.blocked:
        raise ValueError("llmpack core: the cache is not blocked for the core")
    n = len(cache.k)
    arrays = [(PTR * n)(*[t.data_ptr() for t in group]) for group in (cache.k, cache.v, cache.ks, cache.vs)]
    for group in (cache.k, cache.v, cache.ks, cache.vs):
        for t in group:
            if not t.is_contiguous() or t.device.type != "cpu":
                raise ValueError("llmpack core: cache tensors must be contiguous CPU tensors")
    s = _Cache(cache.k[0].shape[0], cache.k[0].shape[2], *[ctypes.cast(a, ctypes.POINTER(PTR)) for a in arrays])
    s._arrays = arrays  # keep the pointer arrays alive with the struct
    return s


def online_adjust(lib, q: np.ndarray, table: np.ndarray | None, index: np.ndarray | None, p: np.ndarray | None) -> float:
    """online.Online.adjust's fixed-point weights, and with the adaptive bias (table, index
    and p given) its factors and probabilities, in C; returns the norm."""
    bias = table is not None
    return lib.llmpack_online_adjust(q.ctypes.data, q.shape[0], table.ctypes.data if bias else None,
                                     index.ctypes.data if bias else None, p.ctypes.data if bias else None, int(bias))


def online_update(lib, b: np.ndarray, p: np.ndarray, rate: float, symbol: int, limit: float, grid: float,
                  index: np.ndarray, rounded: np.ndarray) -> None:
    lib.llmpack_online_update(b.ctypes.data, p.ctypes.data, b.shape[0], rate, symbol, limit, grid, index.ctypes.data,
                              rounded.ctypes.data)


# Numerics the core computes: weights int8, activations up to 10 bits (int32 sums stay
# exact), values int8, attention weights below 2^15, head_dim within its stack buffers.
MAX_ACT_BITS, MAX_HEAD_DIM = 10, 512


def supports(exact) -> str | None:
    """None if the core computes this engine's numerics, else why not."""
    num, cfg = exact.num, exact.cfg
    if num.version < 2:
        return f"numerics x{num.version} (its square root is torch's own)"
    if num.weight_bits > 8 or num.act_bits > MAX_ACT_BITS or num.v_bits > 8 or num.p_bits > 16:
        return f"numerics {num.tag()} beyond the core's integer widths"
    if cfg.head_dim > MAX_HEAD_DIM or cfg.head_dim % 2 or cfg.heads % cfg.kv_heads:
        return "head shape beyond the core's"
    return None


def engine_core(exact) -> Core | None:
    """The core for this CPU engine, or None where the torch path must run."""
    lib = library()
    if lib is None or supports(exact) is not None:
        return None
    if self_test() is not None:
        return None
    return Core(lib, exact)


@functools.lru_cache(maxsize=None)
def self_test() -> str | None:
    """None if the library gives the torch path's bits on a small random model (full
    passes, one-token steps of rows at different positions, the head and the coder's
    weights), else why not; then the engine runs in torch."""
    global note
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from .model import ExactLM

    config = LlamaConfig(vocab_size=103, hidden_size=42, intermediate_size=72, num_hidden_layers=2,
                         num_attention_heads=6, num_key_value_heads=2, head_dim=16, max_position_embeddings=700,
                         tie_word_embeddings=False, rms_norm_eps=1e-5)
    with torch.random.fork_rng():
        torch.manual_seed(11)
        model = LlamaForCausalLM(config).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(4)  # large activations: the high bytes of the products are exercised
    torch_path, compiled = ExactLM(model, compiled=False), ExactLM(model, compiled=False)
    compiled.core = Core(library(), compiled)
    gen = torch.Generator().manual_seed(3)
    ids = torch.randint(0, 103, (3, 600), generator=gen)
    pos = torch.arange(600).expand(3, 600)
    got, want = [], []
    for exact, out in ((torch_path, want), (compiled, got)):
        cache = exact.new_cache(3, 640, stepping=True)
        out.append(exact.forward(ids, pos, cache))
        for step in range(3):  # rows at different positions, as the decoder's
            p = torch.tensor([[600 + step], [610 + step], [620 + 2 * step]])
            out.append(exact.forward(ids[:, step : step + 1], p, cache, keep=torch.zeros(3, dtype=torch.long)))
    weights = np.zeros((3, 110))
    compiled.core.weights_into(got[-1], weights, compiled.num.exp_grid)
    if not all(torch.equal(a, b) for a, b in zip(got, want)):
        note = "not used: its self-test differs from the torch path"
        return note
    if not np.array_equal(weights[:, :103], compiled.weights(want[-1]).numpy().astype(np.float64)):
        note = "not used: its coder weights differ from the torch path"
        return note
    return None
