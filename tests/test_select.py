"""`llmpack select`: Entropy-Law ZIP selection, checked against a literal transcription."""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

import llmpack
from llmpack import select as zs
from llmpack.cli import app

from machines import CORPUS


def ratio(samples: list) -> np.float32:
    raw = str(samples).encode("utf-8")
    return np.float32(len(raw) / len(zlib.compress(raw, 9)))


def published(pool: list, budget: int, k1: int, k2: int, k3: int) -> list[int]:
    """The algorithm as the issue states it, recompressing every list in full (float32, ties to the lower index)."""
    g = np.array([ratio([s]) for s in pool], dtype=np.float32)
    out: list[int] = []
    while len(out) < budget:
        cand = sorted(range(len(pool)), key=lambda i: (g[i], i))[:k1]
        for i in cand:
            g[i] = ratio([pool[j] for j in out] + [pool[i]])
        top = sorted(cand, key=lambda i: (g[i], i))[:k2]
        for i in top:
            g[i] = 1_000_000
        chosen: list[int] = []
        left = list(top)
        while len(chosen) < k3:
            s = {i: ratio([pool[j] for j in chosen] + [pool[i]]) for i in left}
            best = min(left, key=lambda i: (s[i], i))
            chosen.append(best)
            left.remove(best)
        out += chosen
    return out


def conv(i: int, human: str, gpt: str) -> dict:
    return {"id": i, "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}], "source": "test"}


def prose_pool(path: Path, n: int, seed: int) -> list[dict]:
    """Conversations cut from a real text: a few lines as the question, the next few as the answer."""
    if not path.exists():
        pytest.skip(f"{path} not found")
    lines = [ln[:300] for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    rng = random.Random(seed)
    pool = []
    for i in range(n):
        a = rng.randrange(0, len(lines) - 8)
        pool.append(conv(i, " ".join(lines[a : a + rng.randint(1, 3)]), " ".join(lines[a + 3 : a + 3 + rng.randint(1, 5)])))
    return pool


@pytest.mark.parametrize(
    "path,n",
    [("prose/llamafactory_wiki_demo.txt", 240), ("canterbury/alice29.txt", 250), ("code_docs/requests_HISTORY.md", 260)],
)
def test_zlib_selection_equals_the_published_algorithm(path, n):
    pool = prose_pool(CORPUS / path, n, seed=n)
    ours = zs.select(pool, budget=40, k1=120, k2=30, k3=10)
    assert ours == published(pool, 40, 120, 30, 10)


def test_real_sharegpt_pool_matches_too():
    path = CORPUS / "sharegpt" / "llamafactory_glaive_toolcall_en_demo.json"
    if not path.exists():
        pytest.skip(f"{path} not found")
    pool = json.loads(path.read_text())
    assert zs.select(pool, 40, 120, 30, 10, jobs=2) == published(pool, 40, 120, 30, 10)


def test_hand_checked_small_pool():
    # Duplicates are redundant: once "a" is chosen, a second copy of it compresses too well.
    a = conv(0, "Tell me about the Eiffel Tower in Paris.", "It is a wrought-iron lattice tower built in 1889.")
    b = conv(1, "What is 17 times 23?", "17 times 23 is 391.")
    c = dict(a, id=2)
    d = conv(3, "Name a prime above 100.", "101 is prime.")
    pool = [a, b, c, d]
    picked = zs.select(pool, budget=2, k1=4, k2=4, k3=2)
    assert picked == published(pool, 2, 4, 4, 2)
    assert not {0, 2} <= set(picked)  # never both copies of the same conversation
    assert len(set(picked)) == 2


def test_stages_k1_limits_candidates_and_k3_sets_the_round_size():
    pool = prose_pool(CORPUS / "canterbury" / "alice29.txt", 60, seed=1)
    calls = []

    class Counting(zs.ZlibScorer):
        def scores(self, prefix, candidates):
            calls.append((len(prefix), len(candidates)))
            return super().scores(prefix, candidates)

    scorer = Counting([zs.sample_bytes(s) for s in pool])
    picked = zs.select(pool, budget=12, k1=20, k2=8, k3=5, scorer=scorer)
    assert len(picked) == 15 and len(set(picked)) == 15  # 3 rounds of 5 overshoot the budget by 3, as published
    assert calls[0] == (0, 60)  # stage 0: every sample alone
    stage2 = [c for c in calls[1:] if c[1] == 20]
    assert [p for p, _ in stage2] == [0, 5, 10]  # k1 candidates scored against the selection so far
    stage3 = [c for c in calls[1:] if c[1] != 20]
    assert [c[1] for c in stage3[:5]] == [8, 7, 6, 5, 4]  # greedy over the k2, one pick per step


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=400), min_size=1, max_size=6), st.text(max_size=400))
def test_incremental_zlib_scores_equal_full_compression(prefix_texts, cand_text):
    pool = [conv(i, t, t[::-1]) for i, t in enumerate(prefix_texts)] + [conv(99, cand_text, "ok")]
    scorer = zs.ZlibScorer([zs.sample_bytes(s) for s in pool])
    prefix = list(range(len(prefix_texts)))
    got = scorer.scores(prefix, [len(pool) - 1])[0]
    assert got == ratio(pool)


def test_zstd_scorer_runs_and_returns_a_selection():
    pool = prose_pool(CORPUS / "canterbury" / "alice29.txt", 40, seed=2)
    picked = zs.select(pool, budget=10, k1=30, k2=10, k3=5, scorer="zstd")
    assert len(picked) == 10 and len(set(picked)) == 10


def test_lm_scorer_scores_are_bytes_over_the_model_bits(tiny_model):
    """A score is the selection's bytes over its cost in bytes under the model, the
    candidate's bits taken after the last CONTEXT_TOKENS of the selection (a random
    model cannot prefer novel text: tests/integration/test_select_real.py checks that)."""
    from llmpack.model.scoring import cross_entropy_bits

    pool = [conv(0, "alpha beta gamma", "delta"), conv(1, "alpha beta gamma", "delta"), conv(2, "zeta eta theta iota", "kappa")]
    scorer = zs.LMScorer([zs.sample_bytes(s) for s in pool], model=tiny_model)
    head = scorer.head([0])
    head_bits = cross_entropy_bits(tiny_model, b"[") + cross_entropy_bits(tiny_model, head[1:], b"[", zs.LMScorer.CONTEXT_TOKENS)
    want = []
    for i in (1, 2):
        tail = scorer.tail([0], i)
        bits = cross_entropy_bits(tiny_model, tail, head, zs.LMScorer.CONTEXT_TOKENS)
        want.append((len(head) + len(tail)) / ((head_bits + bits) / 8))
    assert scorer.scores([0], [1, 2]) == pytest.approx(np.array(want, dtype=np.float32), rel=1e-6)
    picked = zs.select(pool, budget=2, k1=3, k2=3, k3=2, scorer=scorer)
    assert len(set(picked)) == 2


# -- errors and the command line -----------------------------------------------------------------
def write(tmp_path, content) -> str:
    p = tmp_path / "pool.json"
    p.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(p)


@pytest.mark.parametrize(
    "content,message",
    [
        ("[{not json", "invalid JSON"),
        ([{"id": 1, "source": "x"}], "no 'conversations'"),
        ({"id": 1}, "JSON list"),
        ([{"conversations": [{"from": "human"}]}], "'from' and 'value'"),
        ([conv(0, "a", "b")], "budget 5"),
    ],
)
def test_bad_pools_get_one_line_and_exit_1(tmp_path, content, message):
    out = tmp_path / "out.json"
    r = CliRunner().invoke(app, ["select", write(tmp_path, content), "--budget", "5", "-o", str(out)])
    assert r.exit_code == 1
    assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not out.exists()


def test_select_api_rejects_a_budget_larger_than_the_pool():
    with pytest.raises(llmpack.PoolError):
        zs.select([conv(0, "a", "b")], budget=2)


def test_cli_writes_the_selection_in_order(tmp_path):
    pool = prose_pool(CORPUS / "prose" / "llamafactory_wiki_demo.txt", 50, seed=3)
    out = tmp_path / "sel.json"
    r = CliRunner().invoke(app, ["select", write(tmp_path, pool), "--budget", "10", "--k1", "40", "--k2", "20", "--k3", "5",
                                 "-o", str(out), "-j", "2"])
    assert r.exit_code == 0, r.output
    chosen = json.loads(out.read_text())
    assert [c["id"] for c in chosen] == zs.select(pool, 10, 40, 20, 5)
    r = CliRunner().invoke(app, ["select", write(tmp_path, pool), "--budget", "10", "-o", str(out)])
    assert r.exit_code == 1 and "already exists" in r.stderr
    r = CliRunner().invoke(app, ["select", write(tmp_path, pool), "--budget", "3", "--scorer", "gzip"])
    assert r.exit_code == 2
