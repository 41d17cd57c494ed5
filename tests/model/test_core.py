"""The compiled core (llmpack/model/exact/core_c) computes the torch path's bits, on every
instruction set it has, any thread count, batch shape and split into passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from exact_probe import golden_model, logits_hash
from llmpack.errors import ModelError
from llmpack.model import engine
from llmpack.model.exact import ExactLM, core
from llmpack.coding.online import Online, OnlineSpec

pytestmark = pytest.mark.skipif(core.library() is None, reason="the compiled core is not built here")


def _isas() -> list[int]:
    lib = core.library()
    best = lib.llmpack_core_set_isa(-1)
    lib.llmpack_core_set_isa(core._isa_cap())
    return list(range(best + 1))


@pytest.fixture(params=_isas() if core.library() else [0], ids=lambda n: core.ISA_NAMES[n])
def isa(request):
    """Each instruction set this CPU can run (plain C, AVX2, AVX512-VNNI), one at a time."""
    lib = core.library()
    lib.llmpack_core_set_isa(request.param)
    yield request.param
    lib.llmpack_core_set_isa(core._isa_cap())


def _smollm_shaped(layers: int = 2, vocab: int = 1000):
    """SmolLM2-135M's widths (576 hidden, 9/3 heads of 64, 1536 MLP): the shape the
    core's fastest paths are written for."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(7)
    config = LlamaConfig(vocab_size=vocab, hidden_size=576, intermediate_size=1536, num_hidden_layers=layers,
                         num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                         tie_word_embeddings=True)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)  # heavier activations: more of them past a byte
    return model


@pytest.fixture(scope="module")
def engines():
    """(compiled, torch path) engines of the golden model and of a SmolLM2-shaped one."""
    pairs = {}
    for name, model in (("golden", golden_model()), ("smollm", _smollm_shaped())):
        compiled, plain = ExactLM(model, backend="portable"), ExactLM(model, backend="portable", compiled=False)
        assert compiled.core is not None and plain.core is None
        pairs[name] = (compiled, plain)
    return pairs


def _passes(exact, ids: list[list[int]], splits: list[int], capacity: int):
    """Logits of ids (rows of equal length) computed in passes cut at `splits`, then 6
    one-token steps of the rows at different positions."""
    rows, n = len(ids), len(ids[0])
    cache = exact.new_cache(rows, capacity)
    bounds = [0, *splits, n]
    out = [exact.forward(torch.tensor([r[a:b] for r in ids]), torch.arange(a, b).expand(rows, b - a), cache)
           for a, b in zip(bounds, bounds[1:])]
    for step in range(6):
        pos = torch.tensor([[n + step + 3 * r] for r in range(rows)])
        out.append(exact.forward(torch.tensor([[r[step]] for r in ids]), pos, cache, keep=torch.zeros(rows, dtype=torch.long)))
    return out


def test_golden_hash_on_every_instruction_set(isa, engines):
    compiled, _ = engines["golden"]
    assert logits_hash(compiled) == logits_hash(engines["golden"][1])
    assert logits_hash(ExactLM(golden_model(), backend="portable")) == "8b47a494cdfb6b9c"


@pytest.mark.parametrize("name", ["golden", "smollm"])
def test_passes_and_steps_equal_the_torch_path(isa, engines, name):
    compiled, plain = engines[name]
    vocab = compiled.cfg.vocab
    ids = [[(31 * i * i + 7 * i) % vocab for i in range(150)], [(17 * i + 5) % vocab for i in range(150)]]
    for splits in ([], [1, 77]):
        got = _passes(compiled, ids, splits, 170)
        want = _passes(plain, ids, splits, 170)
        assert all(torch.equal(a, b) for a, b in zip(got, want))
    out = np.zeros((2, vocab + 5))
    compiled.core.weights_into(got[-1], out, compiled.num.exp_grid)
    assert np.array_equal(out[:, :vocab], plain.weights(want[-1]).numpy()) and not out[:, vocab:].any()


def test_any_thread_count_gives_the_same_bits(engines):
    compiled, _ = engines["smollm"]
    ids = torch.tensor([[(13 * i) % 1000 for i in range(70)]] * 3)
    pos = torch.arange(70).expand(3, 70)
    results = [compiled.core.forward(ids, pos, compiled.new_cache(3, 80), None, threads) for threads in (1, 2, 3, 5)]
    heads = [compiled.core.head(results[0][:, -4:], threads) for threads in (1, 2, 3)]
    assert all(torch.equal(r, results[0]) for r in results) and all(torch.equal(h, heads[0]) for h in heads)


@pytest.mark.parametrize("window", [engine.Window(0, 0), engine.Window(32, 9)])
def test_encoder_and_decoder_agree_with_the_torch_path(isa, engines, window):
    """engine.sequence_weights (the encoder) and Lockstep with restarts and sliding
    windows (the decoder) on the core give the torch path's weights."""
    compiled, plain = engines["smollm"]
    symbols = 1010
    inputs = [[(7 * i * i + 3 * i + 1) % 1000 for i in range(90)], [(11 * i + 2) % 1000 for i in range(41)]]

    def encode(exact):
        return [(j, s, w.copy()) for j, s, w in engine.sequence_weights(exact, inputs, symbols, window)]

    def decode(exact):
        stepper = engine.Lockstep(exact, 2, symbols, 100, window)
        stepper.restart([0, 1], [inputs[0][:5], inputs[1][:1]])
        out = [stepper.step([inputs[0][5 + k], inputs[1][1 + k]]).copy() for k in range(30)]
        stepper.restart([1], [inputs[0][:3]])  # a row starts again beside one going on
        out += [stepper.step([inputs[0][35 + k], inputs[0][3 + k]]).copy() for k in range(40)]
        return out

    for (ja, sa, wa), (jb, sb, wb) in zip(encode(compiled), encode(plain), strict=True):
        assert (ja, sa) == (jb, sb) and np.array_equal(wa, wb)
    assert all(np.array_equal(a, b) for a, b in zip(decode(compiled), decode(plain), strict=True))


def test_online_models_in_c_equal_numpy(monkeypatch):
    """The adaptive bias and the fixed-point weights of online.py, in C and in numpy."""
    import llmpack.coding.online as online

    rng = np.random.default_rng(5)
    rows = rng.random((40, 1200)) ** 8
    rows[:, 1000:] = 0  # the coder's virtual symbols after the vocabulary
    symbols = rng.integers(0, 1000, 40).tolist()
    spec = OnlineSpec(bias_rate=0.1, match_order=2)

    def run():
        model, out = Online(spec, 1000), []
        for row, sym in zip(rows.copy(), symbols):
            out.append(model.adjust(row).copy())
            model.update(sym)
        return np.stack(out), model.bias.copy(), model.index.copy()

    with_c = run()
    monkeypatch.setattr(online, "_compiled", lambda: None)
    with_numpy = run()
    assert all(np.array_equal(a, b) for a, b in zip(with_c, with_numpy))


def test_a_failing_self_test_keeps_the_torch_path(monkeypatch):
    real = core.Core.forward

    def off_by_one(self, *args):
        out = real(self, *args)
        out[0, 0] += 1
        return out

    monkeypatch.setattr(core.Core, "forward", off_by_one)
    core.self_test.cache_clear()
    try:
        assert "differs" in core.self_test()
        assert ExactLM(golden_model()).core is None
    finally:
        monkeypatch.undo()
        core.self_test.cache_clear()
    assert core.self_test() is None


def test_bad_inputs_are_refused_not_read(engines):
    compiled, _ = engines["golden"]
    cache = compiled.new_cache(1, core.KEY_GROUP)  # a whole group: no room past the capacity
    with pytest.raises(ModelError, match="outside"):
        compiled.forward(torch.tensor([[1000]]), torch.tensor([[0]]), cache)  # no such token
    with pytest.raises(ModelError, match="outside"):
        compiled.forward(torch.tensor([[1]]), torch.tensor([[core.KEY_GROUP]]), cache)  # past the cache
    with pytest.raises(ModelError, match="outside"):
        compiled.forward(torch.tensor([[1], [2]]), torch.tensor([[0], [0]]), cache)  # more rows than the cache
