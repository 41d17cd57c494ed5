"""Lockstep incremental inference: the one place next-token probabilities are computed.

Encoder and decoder must see bit-identical probabilities, so both run exactly this
code with the same batch shape, dtype and thread count: B rows advance one token per
step through the KV cache. (A single full-sequence forward pass would be faster for
the encoder but rounds differently, and the decoder can only go one step at a time.)

The KV cache is preallocated for the whole run and written in place. transformers'
DynamicCache grows by torch.cat, which copies the whole cache every step: at 800
tokens x 32 rows that copy was 60% of the step time on a 2-core CPU.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
from transformers.cache_utils import Cache, DynamicLayer


def _cache_kwarg(model) -> str:
    """transformers >= 5.24 names the KV-cache argument `cache`; older versions `past_key_values`."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class PreallocatedLayer(DynamicLayer):
    """One layer's KV cache in a fixed buffer of `capacity` positions; attention sees a view of the filled part."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        batch, heads, _, dim = key_states.shape
        self._k = torch.zeros(batch, heads, self.capacity, dim, dtype=key_states.dtype)
        self._v = torch.zeros(batch, heads, self.capacity, value_states.shape[-1], dtype=value_states.dtype)
        self.keys, self.values = self._k[:, :, :0], self._v[:, :, :0]
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n = key_states.shape[-2]
        if self.length + n > self.capacity:
            raise RuntimeError(f"KV cache full ({self.capacity} positions)")
        self._k[:, :, self.length : self.length + n] = key_states
        self._v[:, :, self.length : self.length + n] = value_states
        self.length += n
        self.keys, self.values = self._k[:, :, : self.length], self._v[:, :, : self.length]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length


class Lockstep:
    """Steps `rows` independent sequences of a causal LM together, one token each, for at most `steps` steps."""

    def __init__(self, model, rows: int, symbol_count: int, steps: int) -> None:
        self.model = model
        self.rows = rows
        layers = model.config.num_hidden_layers
        self.cache = Cache(layers=[PreallocatedLayer(max(1, steps)) for _ in range(layers)])
        # Coder alphabet may extend past the vocabulary (virtual byte symbols): those
        # columns stay 0 and the range coder's probability floor makes them codable.
        self.probs = np.zeros((rows, symbol_count), dtype=np.float32)
        self.vocab = model.config.vocab_size
        self._cache_kwarg = _cache_kwarg(model)

    @torch.inference_mode()
    def step(self, input_ids: list[int] | list[list[int]]) -> np.ndarray:
        """Feed one token per row (or, for a prefill, equal-length lists of tokens per row);
        return the next-token probabilities, shape (rows, symbols)."""
        ids = torch.tensor(input_ids, dtype=torch.long).view(self.rows, -1)
        kwargs = {self._cache_kwarg: self.cache}
        out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1, **kwargs)
        logits = out.logits[:, -1, :].float()
        self.probs[:, : self.vocab] = torch.softmax(logits, dim=-1).numpy()
        return self.probs
