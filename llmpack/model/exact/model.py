"""An exact Llama forward pass: the same bits on every machine, batch shape and pass split.

One file, nanoGPT style. Linear layers are int8 weights (per output channel) times
activations quantized per token; attention is integer q.k and p.v products; exp,
sigmoid and RoPE come from tables (tables.py); sums are fixed trees (ops.py). So a
token's logits are a function of (weights, its own preceding tokens) only: full-
sequence passes (the encoder) and one-token steps (the decoder) agree bit for bit.

Positions are per row and the KV cache is indexed by position, so rows of different
lengths can share a batch (right-padded) without changing each other's numbers.
"""

from __future__ import annotations

import ctypes
import math
import sys
from dataclasses import dataclass

import torch

from . import backends, core, kernels, ops, tables
from .numerics import DEFAULT, Numerics
from ...errors import ModelError

SUPPORTED = ("llama", "qwen2", "mistral")  # config.model_type of the Llama-shaped causal LMs it runs
KEY_CHUNK = 1024  # p.v splits p in two bytes: 128 * 127 * 1024 < 2^24 keeps each chunk exact
QUERY_BLOCK = 128  # queries attended together; later blocks see more keys (causal), earlier ones fewer
KERNEL_ROWS = 8  # query rows (heads per kv-head x positions) up to which a compact cache is read by kernels.py
# glibc serves allocations above a threshold with fresh mmaps, page-faulted in on every
# use; the threshold adapts upwards (to at most 32 MB, trimming above twice that) only
# as big blocks are freed, so a process's first passes fault in gigabytes. The engine
# starts where glibc would end up (speed only; numbers are unaffected).
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 << 20, 64 << 20


def _reuse_freed_memory() -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None)
            libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
            libc.mallopt(-1, TRIM_THRESHOLD)  # M_TRIM_THRESHOLD
        except (OSError, AttributeError):  # not glibc (musl has no mallopt)
            pass


@dataclass(frozen=True)
class Config:
    vocab: int  # rows of the embedding (and of the tied head)
    dim: int  # hidden size
    hidden: int  # MLP intermediate size
    layers: int
    heads: int  # query heads
    kv_heads: int  # key/value heads (grouped-query attention when fewer than heads)
    head_dim: int
    eps: float  # RMSNorm epsilon
    theta: float  # RoPE base
    max_positions: int  # RoPE table length

    @classmethod
    def from_hf(cls, c) -> "Config":
        arch = getattr(c, "model_type", "?")
        if arch not in SUPPORTED:
            raise ModelError(f"the exact engine runs {', '.join(SUPPORTED)} models, not {arch}")
        rope = getattr(c, "rope_parameters", None) or getattr(c, "rope_scaling", None) or {}
        if rope.get("rope_type", rope.get("type", "default")) != "default":
            raise ModelError(f"the exact engine does not support RoPE scaling '{rope.get('rope_type')}'")
        if getattr(c, "hidden_act", "silu") != "silu":
            raise ModelError(f"the exact engine supports the silu activation, not {c.hidden_act}")
        if getattr(c, "mlp_bias", False) or getattr(c, "sliding_window", None) and getattr(c, "use_sliding_window", False):
            raise ModelError("the exact engine does not support MLP biases or sliding-window attention")
        heads = c.num_attention_heads
        theta = rope.get("rope_theta", getattr(c, "rope_theta", 10000.0))
        return cls(c.vocab_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers, heads,
                   getattr(c, "num_key_value_heads", heads), getattr(c, "head_dim", None) or c.hidden_size // heads,
                   float(c.rms_norm_eps), float(theta), int(c.max_position_embeddings))


class Linear:
    """y = x @ W.T (+ b), computed as (int q) @ (int8 W).T * row scale * channel scale."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, num: Numerics, engine: "ExactLM") -> None:
        w, scale = ops.quantize(weight.detach().float(), num.levels(num.weight_bits))
        self.w8 = w.to(torch.int8)  # the integers (the compiled core packs them; |w| <= 127 by the numerics' range)
        self.scale = scale.reshape(1, -1).to(engine.device)
        self.bias = None if bias is None else bias.detach().float().to(engine.device)
        self.engine, self.levels = engine, num.levels(num.act_bits)
        self._prepared = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        backend = self.engine.backend
        if self._prepared is None:  # the torch path's weights, made on first use
            self._prepared = backend.prepare(self.w8.float().to(self.engine.device))
        q, s = ops.quantize(x, self.levels)
        y = backend.matmul(q, self._prepared, self.levels).mul_(s).mul_(self.scale)  # in place: a fresh tensor
        return y if self.bias is None else y.add_(self.bias)


class KVCache:
    """Per layer: integer keys and values with their per-vector scales, indexed by position.
    Float32, or compact (int16 keys, int8 values: kernels.py reads them in decoding steps),
    or compact and blocked, for the compiled core: each (row, head)'s keys as groups of 64
    positions with pairs of dims together, values as pairs of positions (engine.h says how);
    a blocked cache's capacity is a multiple of 64 and only the core reads it."""

    def __init__(self, cfg: Config, rows: int, capacity: int, device=None, compact: bool = False,
                 blocked: bool = False) -> None:
        size = self.blocked_size(capacity) if blocked else capacity
        shape = (rows, cfg.kv_heads, size, cfg.head_dim)  # keys of a head contiguous: no copy per step
        kd, vd = self.dtypes(compact or blocked)
        self.compact, self.blocked = compact or blocked, blocked
        self.k = [torch.zeros(shape, device=device, dtype=kd) for _ in range(cfg.layers)]
        self.v = [torch.zeros(shape, device=device, dtype=vd) for _ in range(cfg.layers)]
        self.ks = [torch.zeros(shape[:3], device=device) for _ in range(cfg.layers)]
        self.vs = [torch.zeros(shape[:3], device=device) for _ in range(cfg.layers)]
        self.capacity = capacity
        self._struct = None

    def take(self, rows: list[int]) -> None:
        """Row r becomes a copy of row rows[r] (generation's search over seeds)."""
        index = torch.tensor(rows, dtype=torch.long, device=self.k[0].device)
        for group in (self.k, self.v, self.ks, self.vs):
            group[:] = [x.index_select(0, index) for x in group]
        self._struct = None

    def put(self, rows: list[int], part: "KVCache") -> None:
        """Rows `rows` take the positions 0..part.capacity-1 of part's rows, in order (a
        blocked cache: its whole blocks, whose positions past part.capacity are unused)."""
        index = torch.tensor(rows, dtype=torch.long, device=self.k[0].device)
        n = part.k[0].shape[2]
        for mine, theirs in ((self.k, part.k), (self.v, part.v), (self.ks, part.ks), (self.vs, part.vs)):
            for dst, src in zip(mine, theirs):
                dst[index, :, :n] = src.to(dst.dtype)

    def core_struct(self):
        """The compiled core's view of this (compact) cache, made once per set of tensors."""
        if self._struct is None:
            self._struct = core.cache_struct(self)
        return self._struct

    @staticmethod
    def dtypes(compact: bool) -> tuple[torch.dtype, torch.dtype]:
        return (torch.int16, torch.int8) if compact else (torch.float32, torch.float32)

    @staticmethod
    def blocked_size(capacity: int) -> int:
        """Positions a blocked cache holds for `capacity`: whole groups of the core's layout."""
        return -(-capacity // core.KEY_GROUP) * core.KEY_GROUP

    @staticmethod
    def row_bytes(cfg: Config, capacity: int, compact: bool) -> int:
        """Bytes of one row's cache: keys, values and their float32 scales."""
        kd, vd = KVCache.dtypes(compact)
        capacity = KVCache.blocked_size(capacity) if compact else capacity
        return capacity * cfg.layers * cfg.kv_heads * (cfg.head_dim * (kd.itemsize + vd.itemsize) + 2 * 4)


class ExactLM:
    def __init__(self, hf_model, numerics: Numerics = DEFAULT, backend: str = "auto", device: str = "cpu",
                 compiled: bool = True) -> None:
        """device: "cpu" or "cuda" (the same bits on either; on CUDA, fp32 GEMMs run in
        IEEE mode, never TF32, and products are exact integers whatever cuBLAS does).
        compiled: run on the compiled core (core.py) where it is built and passes its
        self-test here (the same bits; False: always torch)."""
        cfg = self.cfg = Config.from_hf(hf_model.config)
        _reuse_freed_memory()
        self.num = numerics
        self.device = torch.device(device)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False  # TF32 would round the integer operands
            backend = "portable"  # torch._int_mm on CUDA is not self-tested here yet
        sd = {k: v.detach().float() for k, v in hf_model.state_dict().items()}
        layer_weights = [
            (torch.cat([sd[f"model.layers.{i}.self_attn.{p}_proj.weight"] for p in "qkv"]),
             torch.cat([sd[f"model.layers.{i}.mlp.{p}_proj.weight"] for p in ("gate", "up")]))
            for i in range(cfg.layers)
        ]
        dev = self.device
        self.embed = sd["model.embed_tokens.weight"].to(dev)
        head = sd.get("lm_head.weight", self.embed)
        self._backend_choice = ([layer_weights[0][0], layer_weights[0][1], sd["model.layers.0.mlp.down_proj.weight"]],
                                backend)
        self._backend = None
        self.layers = []
        for i, (qkv, gate_up) in enumerate(layer_weights):
            p = f"model.layers.{i}."
            bias = [sd.get(f"{p}self_attn.{x}_proj.bias") for x in "qkv"]
            self.layers.append({
                "attn_norm": sd[p + "input_layernorm.weight"].to(dev),
                "qkv": Linear(qkv, torch.cat(bias) if bias[0] is not None else None, numerics, self),
                "o": Linear(sd[p + "self_attn.o_proj.weight"], None, numerics, self),
                "mlp_norm": sd[p + "post_attention_layernorm.weight"].to(dev),
                "gate_up": Linear(gate_up, None, numerics, self),
                "down": Linear(sd[p + "mlp.down_proj.weight"], None, numerics, self),
            })
        self.norm = sd["model.norm.weight"].to(dev)
        self.head = Linear(head, sd.get("lm_head.bias"), numerics, self)
        cos, sin = tables.rope_tables(cfg.head_dim, cfg.theta, cfg.max_positions)
        self.cos, self.sin = torch.from_numpy(cos).to(dev), torch.from_numpy(sin).to(dev)
        self.exp_cpu = torch.from_numpy(tables.exp_table(numerics.exp_grid, numerics.exp_span))
        self.exp = self.exp_cpu.to(dev)
        self.sigmoid = torch.from_numpy(tables.sigmoid_table(numerics.exp_grid, numerics.exp_span)).to(dev)
        self.qk_levels = Numerics.qk_levels(cfg.head_dim)
        # softmax(s / sqrt(d)): the table index is (max - s) * grid / sqrt(d), one rounded constant
        self.score_to_index = float(torch.tensor(numerics.exp_grid / math.sqrt(cfg.head_dim), dtype=torch.float32))
        # decoding steps read compact caches with C kernels where they build and self-test here
        self.kernels = kernels.attention() if self.device.type == "cpu" else None
        self.core = core.engine_core(self) if compiled and self.device.type == "cpu" else None

    @property
    def backend(self):
        """The torch path's integer products (backends.choose), chosen on first use."""
        if self._backend is None:
            weights, wanted = self._backend_choice
            self._backend, self._backend_notes = backends.choose(weights, self.num.levels(self.num.act_bits), wanted)
        return self._backend

    @property
    def backend_notes(self) -> list[str]:
        """Why the torch path's backend was chosen (`llmpack doctor`)."""
        _ = self.backend
        return self._backend_notes

    def new_cache(self, rows: int, capacity: int, stepping: bool = False) -> KVCache:
        """stepping: for one-token steps (the decoder), compact where the kernels run (always
        compact on the compiled core)."""
        if capacity > self.cfg.max_positions:
            raise ModelError(f"sequence of {capacity} tokens is longer than the model's {self.cfg.max_positions} positions")
        return KVCache(self.cfg, rows, capacity, self.device, self._compact(stepping), blocked=self.core is not None)

    def cache_bytes(self, capacity: int, stepping: bool = False) -> int:
        """Bytes of one row of new_cache(rows, capacity, stepping)."""
        return KVCache.row_bytes(self.cfg, capacity, self._compact(stepping))

    def _compact(self, stepping: bool) -> bool:
        return self.core is not None or (stepping and self.kernels is not None)

    def _rope(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        cos, sin = self.cos[pos].unsqueeze(2), self.sin[pos].unsqueeze(2)  # (B, T, 1, D)
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rotated * sin

    def _attention(self, i: int, h: torch.Tensor, pos: torch.Tensor, cache: KVCache) -> torch.Tensor:
        cfg, num = self.cfg, self.num
        B, T, _ = h.shape
        H, Hkv, D = cfg.heads, cfg.kv_heads, cfg.head_dim
        G = H // Hkv
        qkv = self.layers[i]["qkv"](h)
        q = self._rope(qkv[..., : H * D].reshape(B, T, H, D), pos)
        k = self._rope(qkv[..., H * D : (H + Hkv) * D].reshape(B, T, Hkv, D), pos)
        v = qkv[..., (H + Hkv) * D :].reshape(B, T, Hkv, D)
        qq, qs = ops.quantize(q, self.qk_levels)
        kq, ks = ops.quantize(k, self.qk_levels)
        vq, vs = ops.quantize(v, num.levels(num.v_bits))
        self._store(cache, i, pos, kq, ks, vq, vs)
        # per query vector: its scale times grid / sqrt(d), so that scores are exp-table steps
        qsc = (qs * self.score_to_index).reshape(B, T, Hkv, G).permute(0, 2, 3, 1).unsqueeze(-1)
        qg = qq.reshape(B, T, Hkv, G, D).permute(0, 2, 3, 1, 4)  # (B, Hkv, G, T, D)
        out = torch.empty(B, Hkv, G, T, D, device=h.device)
        for a in range(0, T, QUERY_BLOCK):  # causal: a block of queries sees keys up to its last position
            b = min(T, a + QUERY_BLOCK)
            out[:, :, :, a:b] = self._attend(i, cache, qg[:, :, :, a:b], qsc[:, :, :, a:b], pos[:, a:b])
        return self.layers[i]["o"](out.permute(0, 3, 1, 2, 4).reshape(B, T, H * D))

    @staticmethod
    def _store(cache: KVCache, i: int, pos: torch.Tensor, kq, ks, vq, vs) -> None:
        """Write this pass's keys and values at their rows' positions (a slice when every row is at the same ones)."""
        B, T = pos.shape
        p0 = int(pos[0, 0])
        if bool((pos == torch.arange(p0, p0 + T, device=pos.device)).all()):
            for dst, src in ((cache.k, kq), (cache.v, vq)):
                dst[i][:, :, p0 : p0 + T] = src.transpose(1, 2)  # integers: exact in a compact cache too
            for dst, src in ((cache.ks, ks), (cache.vs, vs)):
                dst[i][:, :, p0 : p0 + T] = src.squeeze(-1).transpose(1, 2)
            return
        rows = torch.arange(B, device=pos.device).unsqueeze(1).expand(B, T)
        cache.k[i][rows, :, pos], cache.ks[i][rows, :, pos] = kq.to(cache.k[i].dtype), ks.squeeze(-1)  # (B, T, Hkv, ...)
        cache.v[i][rows, :, pos], cache.vs[i][rows, :, pos] = vq.to(cache.v[i].dtype), vs.squeeze(-1)

    def _attend(self, i: int, cache: KVCache, qg: torch.Tensor, qsc: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """softmax(q.k / sqrt(d)) . v for one block of queries, qg (B, Hkv, G, Tb, D) integer-valued."""
        B, Hkv, G, Tb, D = qg.shape
        L = int(pos.max()) + 1
        kernel = self.kernels if cache.compact and G * Tb <= KERNEL_ROWS else None  # a few query rows: read the compact cache
        if kernel:
            s = kernel.qk(qg.reshape(B, Hkv, G * Tb, D), cache.k[i], L).view(B, Hkv, G, Tb, L)
        else:
            keys = cache.k[i][:, :, :L].float()  # (B, Hkv, L, D); no copy when already float32
            s = (qg.reshape(B, Hkv, G * Tb, D) @ keys.transpose(-1, -2)).view(B, Hkv, G, Tb, L)  # exact: D * qk^2 < 2^24
        s.mul_(qsc).mul_(cache.ks[i][:, :, :L].reshape(B, Hkv, 1, 1, L))
        if Tb > 1 or bool((pos != L - 1).any()):  # else (a decoding step) every key is visible
            visible = torch.arange(L, device=qg.device).reshape(1, 1, L) <= pos.unsqueeze(-1)  # (B, Tb, L)
            s.masked_fill_(~visible.reshape(B, 1, 1, Tb, L), -math.inf)
        top = s.amax(dim=-1, keepdim=True)
        index = s.neg_().add_(top).round_().clamp_(max=self.exp.shape[0] - 1)  # top - s, in table steps
        e = ops.lookup(self.exp, index)
        total = ops.tree_sum(e)
        w = e.mul_(cache.vs[i][:, :, :L].reshape(B, Hkv, 1, 1, L))  # v's per-key scale folded into p
        scale = ops.div(w.amax(dim=-1, keepdim=True).clamp_min_(ops.TINY), self.num.levels(self.num.p_bits))
        wq = w.div_(scale).round_().reshape(B, Hkv, G * Tb, L)
        if kernel:
            num = kernel.pv(wq, cache.v[i], L).view(B, Hkv, G, Tb, D)
        else:
            num = backends.exact_pv(wq, cache.v[i][:, :, :L].float(), KEY_CHUNK).view(B, Hkv, G, Tb, D)
        return (num * scale) / total.unsqueeze(-1)

    def _mlp(self, i: int, h: torch.Tensor) -> torch.Tensor:
        gu = self.layers[i]["gate_up"](h)
        g, u = gu[..., : self.cfg.hidden], gu[..., self.cfg.hidden :]
        return self.layers[i]["down"](ops.silu(g, self.sigmoid, self.num.exp_grid).mul_(u))

    def forward(self, ids: torch.Tensor, pos: torch.Tensor, cache: KVCache, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (float32) for tokens ids (B, T) at positions pos (B, T), appended to `cache`.

        keep: per row, the index in 0..T-1 whose logits to return (shape (B, vocab));
        None returns every position (B, T, vocab). Inputs and logits live on the CPU."""
        return self.logits(self.hidden(ids, pos, cache, keep))

    @torch.inference_mode()
    def hidden(self, ids: torch.Tensor, pos: torch.Tensor, cache: KVCache, keep: torch.Tensor | None = None) -> torch.Tensor:
        """forward() up to the LM head: the final normalised hidden states, on the engine's device."""
        if self.core is not None:
            return self.core.forward(ids, pos, cache, keep, torch.get_num_threads())
        dev = self.device
        ids, pos = ids.to(dev), pos.to(dev)
        x = self.embed[ids]
        for i, layer in enumerate(self.layers):
            x = x + self._attention(i, self._norm(x, layer["attn_norm"]), pos, cache)
            x = x + self._mlp(i, self._norm(x, layer["mlp_norm"]))
        if keep is not None:
            x = x[torch.arange(x.shape[0], device=dev), keep.to(dev)]
        return self._norm(x, self.norm)

    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return ops.rms_norm(x, weight, self.cfg.eps, exact_sqrt=self.num.version >= 2)

    @torch.inference_mode()
    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """The LM head on hidden() states: logits (float32) on the CPU."""
        if self.core is not None:
            return self.core.head(h, torch.get_num_threads())
        return self.head(h).cpu()

    def weights(self, logits: torch.Tensor) -> torch.Tensor:
        """Unnormalised next-token probabilities exp(logit - max), each in [0, 1], the top one 1."""
        top = logits.amax(dim=-1, keepdim=True)
        table = self.exp if logits.device == self.exp.device else self.exp_cpu
        return ops.exp_neg((top - logits).mul_(float(self.num.exp_grid)), table, 1)
