"""The exact inference engine: next-token probabilities that are a pure function of
(model, tokens), bit-identical on any CPU, SIMD level, thread count, batch shape and
split into passes. numerics.py records what the bits depend on; ops.py and tables.py
are the only float arithmetic; backends.py does the integer products; model.py is
the forward pass."""

from .numerics import DEFAULT, Numerics


def __getattr__(name: str):  # the model (torch) loads on first use: reading numerics tags needs no torch
    if name in ("ExactLM", "KVCache"):
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module 'llmpack.model.exact' has no attribute '{name}'")


__all__ = ["ExactLM", "KVCache", "Numerics", "DEFAULT"]
