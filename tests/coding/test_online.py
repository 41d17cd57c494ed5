"""The online models (adaptive bias, match model): what they learn, and that both sides
of the coder compute the same weights whatever the numpy build does underneath."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from machines import ROOT, SMALL_NUMPY

from llmpack.coding.online import FIXED_POINT, Online, OnlineSpec

VOCAB = 50


def _model_rows(n: int, seed: int = 3) -> np.ndarray:
    """Weights like the engine's: float32 table values in [0, 1], the top one 1, then 2 virtual symbols."""
    rng = np.random.default_rng(seed)
    w = np.exp(-rng.integers(0, 8 * 1024, size=(n, VOCAB)) / 1024).astype(np.float32).astype(np.float64)
    w[np.arange(n), rng.integers(0, VOCAB, size=n)] = 1.0
    return np.concatenate([w, np.zeros((n, 2))], axis=1)


def run(spec: OnlineSpec, tokens: list[int]) -> np.ndarray:
    online = Online(spec, VOCAB)
    rows = _model_rows(len(tokens))
    for row, t in zip(rows, tokens):
        online.adjust(row)
        online.update(t)
    return rows


TOKENS = [(i * 7) % 13 for i in range(40)] + [1, 2, 3, 4, 5, 6, 7, 8] * 6


def test_bias_learns_the_documents_tokens():
    spec = OnlineSpec(bias_rate=0.2)
    plain, adjusted = _model_rows(len(TOKENS)), run(spec, TOKENS)
    p_plain = plain[np.arange(len(TOKENS)), TOKENS] / plain.sum(1)
    p_adj = adjusted[np.arange(len(TOKENS)), TOKENS] / adjusted.sum(1)
    assert -np.log2(p_adj[20:]).sum() < 0.95 * -np.log2(p_plain[20:]).sum()
    assert not adjusted[:, VOCAB:].any()  # virtual symbols stay at the coder's floor
    # sums are exact: every adjusted weight is an integer in fixed point
    assert np.array_equal(adjusted[:, :VOCAB], np.floor(adjusted[:, :VOCAB]))


def test_match_model_predicts_repeats():
    spec = OnlineSpec(match_order=3)
    plain, adjusted = _model_rows(len(TOKENS)), run(spec, TOKENS)
    tail = slice(len(TOKENS) - 24, len(TOKENS))  # the fourth to sixth repeat of 1..8
    idx = np.arange(len(TOKENS))[tail]
    gain = adjusted[idx, np.array(TOKENS)[tail]] / adjusted[idx].sum(1) / (plain[idx, np.array(TOKENS)[tail]] / plain[idx].sum(1))
    assert (gain > 1.5).all()
    online = Online(spec, VOCAB)
    for t in [9, 9, 9, 9]:
        online.adjust(_model_rows(1)[0])
        online.update(t)
    assert online.pointer >= 0 and online.history[online.pointer] == 9


def test_a_copy_continues_identically():
    """Segments start from copies of the state after a dictionary."""
    spec = OnlineSpec(bias_rate=0.1, match_order=2)
    a = Online(spec, VOCAB)
    for row, t in zip(_model_rows(10), TOKENS):
        a.adjust(row)
        a.update(t)
    b = copy.deepcopy(a)
    for row_a, row_b, t in zip(_model_rows(20, 9), _model_rows(20, 9), TOKENS[10:30]):
        assert np.array_equal(a.adjust(row_a), b.adjust(row_b))
        a.update(t)
        b.update(t)


def _digest(spec: OnlineSpec) -> str:
    import hashlib

    return hashlib.sha256(run(spec, TOKENS * 3).tobytes()).hexdigest()


def test_same_weights_with_numpy_on_a_smaller_cpu():
    """Elementwise IEEE operations and integer sums: numpy's SIMD level changes nothing."""
    spec = OnlineSpec(bias_rate=0.1, match_order=4)
    paths = [str(Path(__file__).parent), str(ROOT / "tests")]
    code = (f"import sys; sys.path[:0] = {paths!r}; from test_online import _digest; "
            "from llmpack.coding.online import OnlineSpec; print(_digest(OnlineSpec(bias_rate=0.1, match_order=4)))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **SMALL_NUMPY}, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == _digest(spec)
    assert FIXED_POINT == 2.0**32


def test_match_model_finds_observed_dictionary_text():
    """A dictionary's text beyond the window is observed, not coded: matches into it are found."""
    online = Online(OnlineSpec(match_order=3), VOCAB)
    online.observe([7, 8, 9, 10, 11, 12, 13] + [1] * 5)
    for t in (7, 8, 9):
        online.adjust(_model_rows(1)[0])
        online.update(t)
    row = _model_rows(1, seed=11)[0]
    before = row[10] / row[:VOCAB].sum()
    online.adjust(row)
    assert online.predicted == 10 and row[10] / row.sum() > 2 * before


def test_the_mass_adjust_reports_is_a_lower_bound_close_to_the_sum():
    """The decoder's information budget divides by `mass` instead of summing the row: it
    must never exceed the adjusted row's sum (or the bound on bits would not hold), and
    stay within a part in 10^6 of it (or the budget would weaken)."""
    from llmpack.coding.rangecoder import least_cost

    online = Online(OnlineSpec(bias_rate=0.2, match_order=3), VOCAB)
    rows = _model_rows(len(TOKENS))
    matched = 0
    for row, t in zip(rows, TOKENS):
        online.adjust(row)
        matched += online.predicted >= 0
        total = row.sum()
        assert total * (1 - 1e-6) <= online.mass <= total
        assert 0 <= least_cost(row, t, online.mass) <= least_cost(row, t) + 1e-6
        online.update(t)
    assert matched > 20  # the match model's share was in the mass most of the time
