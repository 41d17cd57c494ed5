"""The exact inference engine: next-token probabilities that are a pure function of
(model, tokens), bit-identical on any CPU, SIMD level, thread count, batch shape and
split into passes. numerics.py records what the bits depend on; ops.py and tables.py
are the only float arithmetic; backends.py does the integer products; model.py is
the forward pass."""

from .model import ExactLM, KVCache
from .numerics import DEFAULT, Numerics

__all__ = ["ExactLM", "KVCache", "Numerics", "DEFAULT"]
