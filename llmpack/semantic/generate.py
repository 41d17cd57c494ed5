"""Reproducible batched text generation: the regeneration half of semantic and summary modes.

Generation runs on the exact engine (llmpack.model.exact), so a row's tokens are a function
of its own prompt and seed only, on any machine and in any batch: prompts are right-
padded, each row advances at its own positions, and padding never reaches a row's
numbers. Token choice:

* seed 0: greedy (the largest logit; ties to the lowest id);
* seed s > 0: sampling with temperature and top-k, where the uniform number of step
  t comes from a counter-based generator, hash(s, t): no torch or numpy RNG state is
  involved. The tempered weights exp((logit - max) / T) come from the engine's exp
  table, and the cumulative sum is sequential float64: no libm call decides a token.

A row's seed may also change every `chunk` tokens (a schedule: one seed per chunk). The
encoder finds a schedule by search: rows that share a prompt each sample with their own
seed, and after each chunk `on_chunk` says which row every row continues from (its
tokens and cache are copied). Since a row's numbers depend on its own tokens only, the
decoder, stepping one row with the schedule found, generates the same tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hashlib
import struct
from dataclasses import dataclass

import numpy as np
import torch

if TYPE_CHECKING:  # annotations only: no model code is imported for them
    from ..model.exact.model import ExactLM


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.7  # for seeds > 0; below 1 keeps samples close to the greedy text
    top_k: int = 40  # for seeds > 0; only the k likeliest tokens are candidates


def uniform(seed: int, step: int) -> float:
    """Counter-based random number in [0, 1): a function of (seed, step) alone."""
    digest = hashlib.blake2b(struct.pack("<QQ", seed, step), digest_size=8).digest()
    return (int.from_bytes(digest, "little") >> 11) / float(1 << 53)


def choose(logits: np.ndarray, allowed: np.ndarray, seed: int, step: int, sampling: Sampling, exact: ExactLM) -> int:
    """Pick the next token from one row's logits over the vocabulary."""
    x = np.where(allowed, logits, -np.inf).astype(np.float32)
    if seed == 0:
        return int(np.argmax(x))
    order = np.argsort(-x, kind="stable")[: sampling.top_k]
    top = torch.from_numpy(x[order])
    tempered = exact.weights(top / np.float32(sampling.temperature)).numpy().astype(np.float64)
    tempered[~np.isfinite(x[order])] = 0.0
    cdf = np.cumsum(tempered)
    if cdf[-1] <= 0:
        return int(order[0])
    pick = int(np.searchsorted(cdf, uniform(seed, step) * cdf[-1], side="right"))
    return int(order[min(pick, len(order) - 1)])


def generate(
    exact: ExactLM,
    prompts: list[list[int]],
    lengths: list[int],
    seeds: list[int],
    allowed: np.ndarray,
    pad_id: int,
    sampling: Sampling = Sampling(),
    stop_ids: frozenset[int] = frozenset(),
    on_step=None,
    chunk: int = 0,
    on_chunk=None,
) -> list[list[int]]:
    """Generate up to lengths[r] tokens for each row r with the exact engine `exact`; a
    row also stops after a token in stop_ids.

    seeds[r]: row r's seed, or (with chunk > 0) its schedule, a list with the seed of
    each chunk of `chunk` tokens. on_chunk(tokens_so_far) -> source rows, called after
    every `chunk` steps and after the last: row r then continues as a copy of row
    source[r] (same tokens and cache; its own seed). `allowed` masks the vocabulary
    (stop tokens must be allowed to be chosen at all). Returns the generated ids per row,
    stop token excluded.
    """
    rows = len(prompts)
    if rows == 0:
        return []
    width = max(len(p) for p in prompts)
    steps = max(lengths, default=0)
    ids = torch.full((rows, width), pad_id, dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, : len(p)] = torch.tensor(p, dtype=torch.long)
    cache = exact.new_cache(rows, width + steps)
    vocab = exact.cfg.vocab
    allowed = allowed[:vocab]
    out: list[list[int]] = [[] for _ in range(rows)]
    running = [n > 0 for n in lengths]
    pos = torch.tensor([len(p) for p in prompts], dtype=torch.long)  # each row's next position
    logits = exact.forward(ids, torch.arange(width).expand(rows, width), cache, keep=pos - 1)
    for t in range(steps):
        table = logits.numpy()
        feed = [pad_id] * rows
        for r in range(rows):
            if not running[r]:
                continue
            seed = seeds[r] if isinstance(seeds[r], int) else seeds[r][t // chunk]
            tok = choose(table[r, :vocab], allowed, seed, t, sampling, exact)
            if tok in stop_ids:
                running[r] = False
                continue
            out[r].append(tok)
            feed[r] = tok
            running[r] = len(out[r]) < lengths[r]
        if on_step is not None:
            on_step(t + 1, steps)
        if on_chunk is not None and ((t + 1) % chunk == 0 or t + 1 == steps or not any(running)):
            src = on_chunk(out)
            if src != list(range(rows)):
                out, feed, running = [list(out[i]) for i in src], [feed[i] for i in src], [running[i] for i in src]
                cache.take(src)
                pos = pos[src]
        if not any(running):
            break
        cur = torch.tensor(feed, dtype=torch.long).view(rows, 1)
        logits = exact.forward(cur, pos.view(rows, 1), cache, keep=torch.zeros(rows, dtype=torch.long))
        pos = pos + 1
    return out
