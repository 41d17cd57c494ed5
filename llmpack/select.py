"""Entropy-Law ZIP data selection (Yin et al., 2024, arXiv 2407.06645) over ShareGPT pools.

The score of a list of samples is its compression ratio, len(raw) / len(compressed(raw)),
where raw is the UTF-8 of Python's str() of the list of sample dicts: lower means less
redundancy, which is preferred. As published (USTC-StarTeam/ZIP):

1. every sample gets a global score on its own;
2. until the budget is reached:
   a. take the k1 samples with the lowest global scores,
   b. re-score each as (selection so far + sample) and write those scores back,
   c. keep the k2 lowest and set their global scores to BURNT, so they are not taken again,
   d. among those k2, choose k3 greedily: from an empty list, repeatedly add the candidate
      that minimises the score of (list so far + candidate),
   e. append the k3 to the selection (which may overshoot the budget by up to k3 - 1).

Scores are compared as float32, as the reference does (it keeps them in torch tensors);
ties go to the lower pool index. One deliberate difference: a sample already selected
is never a candidate again (the reference can re-score and re-pick one when k1 exceeds
the samples left, which duplicates it in the output).

Scoring (prefix + candidate) for many candidates is the hot loop. For zlib the prefix
is compressed once and each candidate continues from a copy of that compressor state:
deflate's output does not depend on how its input is fed, so the lengths equal those of
zlib.compress on the whole string (tests check this).
"""

from __future__ import annotations

import json
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import PoolError

DEFAULT_K1, DEFAULT_K2, DEFAULT_K3 = 10000, 200, 100  # the reference's defaults
BURNT = np.float32(1_000_000)  # the reference's "very large" score for samples taken into stage 3
ZLIB_LEVEL = 9  # as published
ZSTD_SCORER_LEVEL = 3  # the zstd scorer recompresses every list in full; level 3 keeps that affordable


def load_pool(path: str | Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            pool = json.load(fh)
    except json.JSONDecodeError as exc:
        raise PoolError(f"invalid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise PoolError("invalid JSON: not UTF-8 text") from None
    validate_pool(pool)
    return pool


def validate_pool(pool) -> None:
    if not isinstance(pool, list):
        raise PoolError("expected a JSON list of ShareGPT samples")
    for i, sample in enumerate(pool):
        if not isinstance(sample, dict):
            raise PoolError(f"sample {i} is not an object")
        convs = sample.get("conversations")
        if not isinstance(convs, list):
            raise PoolError(f"sample {i} has no 'conversations' list")
        for turn in convs:
            if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
                raise PoolError(f"sample {i}: every turn needs 'from' and 'value'")


# -- scorers -----------------------------------------------------------------------------
class Scorer:
    """Scores (prefix + [candidate]) for many candidates; samples are given as their str() bytes."""

    name = ""

    def __init__(self, texts: list[bytes], jobs: int = 1) -> None:
        self.texts = texts
        self.jobs = max(1, jobs)

    def head(self, prefix: list[int]) -> bytes:
        """str(prefix_list) without its closing bracket."""
        return b"[" + b", ".join(self.texts[i] for i in prefix)

    def tail(self, prefix: list[int], i: int) -> bytes:
        return (b", " if prefix else b"") + self.texts[i] + b"]"

    def scores(self, prefix: list[int], candidates: list[int]) -> np.ndarray:
        head = self.head(prefix)
        one = self.prepare(head)
        run = lambda i: one(self.tail(prefix, i))  # noqa: E731
        if self.jobs > 1 and len(candidates) > 1:
            with ThreadPoolExecutor(self.jobs) as ex:  # zlib and zstd release the GIL
                values = list(ex.map(run, candidates, chunksize=max(1, len(candidates) // (4 * self.jobs))))
        else:
            values = [run(i) for i in candidates]
        return np.asarray(values, dtype=np.float32)

    def prepare(self, head: bytes) -> Callable[[bytes], float]:
        raise NotImplementedError


class ZlibScorer(Scorer):
    """The published measure: zlib level 9."""

    name = "zlib"

    def prepare(self, head: bytes):
        base = zlib.compressobj(ZLIB_LEVEL)
        head_out = len(base.compress(head))

        def one(tail: bytes) -> float:
            c = base.copy()
            n = head_out + len(c.compress(tail)) + len(c.flush())
            return (len(head) + len(tail)) / n

        return one


class ZstdScorer(Scorer):
    name = "zstd"

    def prepare(self, head: bytes):
        import zstandard

        def one(tail: bytes) -> float:
            raw = head + tail
            return len(raw) / len(zstandard.ZstdCompressor(level=ZSTD_SCORER_LEVEL).compress(raw))

        return one


class LMScorer(Scorer):
    """Compression ratio under the language model: bytes / (model cross-entropy in bytes).

    cost(prefix + tail) = cost(prefix) + cost(tail | the last CONTEXT_TOKENS of the prefix);
    the prefix cost is cached as the lists grow. One forward pass per candidate: slow on a
    CPU, meant for small pools, or spread over a Ray cluster (`pool`, a
    llmpack.cluster.Pool: the same numbers, so the same selection).
    """

    name = "lm"
    CONTEXT_TOKENS = 256  # how much of the prefix conditions a candidate

    def __init__(self, texts: list[bytes], jobs: int = 1, model=None, pool=None) -> None:
        super().__init__(texts, 1)  # the model already uses every core
        from .model.loading import LoadedModel, load

        self.pool = pool
        if pool is None:
            self.lm = model if isinstance(model, LoadedModel) else load(model)
        else:
            self.model_name = model  # each worker loads it once
        self._prefix_bits: dict[bytes, float] = {b"[": self.bits_many(b"", [b"["])[0]}

    def bits_many(self, context: bytes, texts: list[bytes]) -> list[float]:
        """Bits of each text after the context, here or on the cluster."""
        if self.pool is not None:
            return self.pool.cross_entropy(self.model_name, context, texts, self.CONTEXT_TOKENS)
        from .model.scoring import cross_entropy_bits

        return [cross_entropy_bits(self.lm, t, context, self.CONTEXT_TOKENS) for t in texts]

    def head_bits(self, head: bytes) -> float:
        if head not in self._prefix_bits:
            cut = head.rfind(b", ")
            parent = head[:cut] if cut > 0 else b"["
            self._prefix_bits[head] = self.head_bits(parent) + self.bits_many(parent, [head[len(parent) :]])[0]
        return self._prefix_bits[head]

    def scores(self, prefix: list[int], candidates: list[int]) -> np.ndarray:
        head = self.head(prefix)
        head_bits = self.head_bits(head)
        tails = [self.tail(prefix, i) for i in candidates]
        bits = self.bits_many(head, tails)  # all candidates at once: one batch of cluster tasks
        return np.asarray([(len(head) + len(t)) / max(1e-9, (head_bits + b) / 8) for t, b in zip(tails, bits)],
                          dtype=np.float32)


SCORERS: dict[str, type[Scorer]] = {c.name: c for c in (ZlibScorer, ZstdScorer, LMScorer)}


def sample_bytes(sample: dict) -> bytes:
    """What the reference measures: the UTF-8 of str(sample) (inside str(list))."""
    return repr(sample).encode("utf-8", "surrogatepass")


# -- the algorithm -----------------------------------------------------------------------
def _lowest(values: np.ndarray, ids: list[int], k: int) -> list[int]:
    """Positions of the k lowest values; ties go to the lower pool id."""
    return sorted(range(len(ids)), key=lambda j: (values[j], ids[j]))[:k]


def select(
    pool: list[dict],
    budget: int,
    k1: int = DEFAULT_K1,
    k2: int = DEFAULT_K2,
    k3: int = DEFAULT_K3,
    scorer: str | Scorer = "zlib",
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[int]:
    """Pool indices of the selected samples, in selection order."""
    validate_pool(pool)
    if budget < 1 or budget > len(pool):
        raise PoolError(f"budget {budget} is not between 1 and the pool size {len(pool)}")
    if min(k1, k2, k3) < 1:
        raise PoolError("k1, k2 and k3 must be at least 1")
    if isinstance(scorer, str):
        if scorer not in SCORERS:
            raise PoolError(f"unknown scorer '{scorer}' (choose from: {', '.join(SCORERS)})")
        scorer = SCORERS[scorer]([sample_bytes(s) for s in pool], jobs)
    n = len(pool)
    scores = scorer.scores([], list(range(n)))  # stage 0: each sample alone
    taken = np.zeros(n, dtype=bool)
    selected: list[int] = []
    while len(selected) < budget:
        free = [i for i in range(n) if not taken[i]]
        # Stage 1: the k1 lowest global scores (burnt samples sort last, as in the reference).
        cand = [free[j] for j in _lowest(scores[free], free, k1)]
        # Stage 2: re-score against the selection, write back, keep the k2 lowest.
        fresh = scorer.scores(selected, cand)
        scores[cand] = fresh
        stage2 = [cand[j] for j in _lowest(fresh, cand, k2)]
        scores[stage2] = BURNT
        # Stage 3: greedy k3 out of the k2, starting from an empty list.
        picked: list[int] = []
        left = list(stage2)
        while left and len(picked) < k3:
            s3 = scorer.scores(picked, left)
            picked.append(left.pop(_lowest(s3, left, 1)[0]))
            if progress is not None:
                progress(min(budget, len(selected) + len(picked)), budget)
        selected += picked
        taken[picked] = True
    return selected
