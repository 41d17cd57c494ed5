"""Reproducible batched text generation: the regeneration half of semantic and summary modes.

Each row starts from its own prompt (left-padded to the batch's longest, with an
attention mask) and then advances one token per step, like the arithmetic engine.
The decoder rebuilds exactly the same batches (same prompts, same padding, same
rows), so it sees bit-identical floats and picks the same tokens. Token choice:

* seed 0: greedy (argmax; ties to the lowest id);
* seed s > 0: sampling with temperature and top-k, where the uniform number of step
  t comes from a counter-based generator, hash(s, t): no torch or numpy RNG state is
  involved, so a row's choices depend on its seed and its own probabilities only.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import numpy as np
import torch
from transformers.cache_utils import Cache

from .engine import PreallocatedLayer, _cache_kwarg


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.7  # for seeds > 0; below 1 keeps samples close to the greedy text
    top_k: int = 40  # for seeds > 0; only the k likeliest tokens are candidates


def uniform(seed: int, step: int) -> float:
    """Counter-based random number in [0, 1): a function of (seed, step) alone."""
    digest = hashlib.blake2b(struct.pack("<QQ", seed, step), digest_size=8).digest()
    return (int.from_bytes(digest, "little") >> 11) / float(1 << 53)


def choose(probs: np.ndarray, allowed: np.ndarray, seed: int, step: int, sampling: Sampling) -> int:
    """Pick the next token from one row's probabilities over the vocabulary."""
    p = np.where(allowed, probs, 0.0)
    if seed == 0:
        return int(np.argmax(p))
    order = np.argsort(-p, kind="stable")[: sampling.top_k]
    weights = np.power(p[order].astype(np.float64), 1.0 / sampling.temperature)
    cdf = np.cumsum(weights)
    if cdf[-1] <= 0:
        return int(order[0])
    pick = int(np.searchsorted(cdf, uniform(seed, step) * cdf[-1], side="right"))
    return int(order[min(pick, len(order) - 1)])


@torch.inference_mode()
def generate(
    model,
    prompts: list[list[int]],
    lengths: list[int],
    seeds: list[int],
    allowed: np.ndarray,
    pad_id: int,
    sampling: Sampling = Sampling(),
    stop_ids: frozenset[int] = frozenset(),
    on_step=None,
) -> list[list[int]]:
    """Generate up to lengths[r] tokens for each row r; a row also stops after a token in stop_ids.

    `allowed` masks the vocabulary (stop tokens must be allowed to be chosen at all).
    Returns the generated ids per row, stop token excluded.
    """
    rows = len(prompts)
    if rows == 0:
        return []
    width = max(len(p) for p in prompts)
    steps = max(lengths, default=0)
    ids = torch.full((rows, width), pad_id, dtype=torch.long)
    mask = torch.zeros((rows, width + steps), dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        mask[r, width - len(p) :] = 1
    positions = (mask[:, :width].cumsum(-1) - 1).clamp(min=0)
    layers = model.config.num_hidden_layers
    cache = Cache(layers=[PreallocatedLayer(width + steps) for _ in range(layers)])
    kwargs = {_cache_kwarg(model): cache}
    vocab = model.config.vocab_size
    out: list[list[int]] = [[] for _ in range(rows)]
    running = [n > 0 for n in lengths]
    logits = model(input_ids=ids, attention_mask=mask[:, :width], position_ids=positions, use_cache=True, logits_to_keep=1, **kwargs).logits
    next_pos = positions[:, -1:] + 1
    for t in range(steps):
        probs = torch.softmax(logits[:, -1, :].float(), dim=-1).numpy()
        feed = [pad_id] * rows
        for r in range(rows):
            if not running[r]:
                continue
            tok = choose(probs[r, :vocab], allowed[:vocab], seeds[r], t, sampling)
            if tok in stop_ids:
                running[r] = False
                continue
            out[r].append(tok)
            feed[r] = tok
            running[r] = len(out[r]) < lengths[r]
        if on_step is not None:
            on_step(t + 1, steps)
        if not any(running):
            break
        cur = torch.tensor(feed, dtype=torch.long).view(rows, 1)
        logits = model(
            input_ids=cur, attention_mask=_grow(mask, width + t + 1),
            position_ids=next_pos, use_cache=True, logits_to_keep=1, **kwargs,
        ).logits
        next_pos = next_pos + 1
    return out


def _grow(mask: torch.Tensor, upto: int) -> torch.Tensor:
    """The attention mask after one more generated position (generated tokens are always attended)."""
    mask[:, upto - 1] = 1
    return mask[:, :upto]
