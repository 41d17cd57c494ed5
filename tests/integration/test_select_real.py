"""`llmpack select --scorer lm` on the real default model: it prefers novel samples."""

from llmpack import select as zs
from llmpack.model.loading import load

from .common import NEEDS_MODEL

pytestmark = NEEDS_MODEL


def conv(i: int, human: str, gpt: str) -> dict:
    return {"id": i, "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}], "source": "test"}


def test_lm_scorer_prefers_novel_text():
    """After a sample, its duplicate compresses far better than a new one: the duplicate's
    score (compression ratio) is higher, and the selection takes the novel sample."""
    question = "How do I keep bread fresh for longer?"
    answer = "Store it in a paper bag at room temperature, or freeze slices you will not eat within two days."
    pool = [conv(0, question, answer), conv(1, question, answer),
            conv(2, "Why is the sky blue?", "Air scatters short blue wavelengths of sunlight more than red ones.")]
    scorer = zs.LMScorer([zs.sample_bytes(s) for s in pool], model=load(None))
    duplicate, novel = scorer.scores([0], [1, 2])
    assert duplicate > 1.2 * novel
    picked = zs.select(pool, budget=2, k1=3, k2=3, k3=2, scorer=scorer)
    assert sorted(picked) in ([0, 2], [1, 2])
