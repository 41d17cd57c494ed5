import numpy as np
import pytest

from llmpack.coding import rangecoder
from llmpack.errors import FormatError


def test_round_trip_random_distributions():
    rng = np.random.default_rng(0)
    dists = [rng.dirichlet(np.full(300, 0.1)).astype(np.float32) for _ in range(500)]
    symbols = [int(rng.choice(300, p=d / d.sum())) for d in dists]
    enc = rangecoder.Encoder()
    for s, d in zip(symbols, dists):
        enc.encode(s, d)
    dec = rangecoder.Decoder(enc.finish())
    assert [dec.decode(d) for d in dists] == symbols


def test_zero_probability_symbols_stay_codable():
    probs = np.zeros(1000, dtype=np.float32)
    probs[0] = 1.0
    enc = rangecoder.Encoder()
    for s in [999, 0, 500]:
        enc.encode(s, probs)
    dec = rangecoder.Decoder(enc.finish())
    assert [dec.decode(probs) for _ in range(3)] == [999, 0, 500]


def test_cost_is_close_to_cross_entropy():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.full(49152, 0.02)).astype(np.float32)
    symbols = rng.choice(49152, size=2000, p=probs / probs.sum())
    enc = rangecoder.Encoder()
    for s in symbols:
        enc.encode(int(s), probs)
    bits = 8 * len(enc.finish())
    ideal = -np.log2(probs[symbols].astype(np.float64)).sum()
    assert bits <= ideal * 1.01 + 64


def test_payload_must_be_whole_words():
    with pytest.raises(FormatError):
        rangecoder.Decoder(b"abc")


def test_trimmed_seals_decode_the_same_and_save_bytes():
    rng = np.random.default_rng(2)
    saved = []
    for _ in range(1500):
        n, vocab = int(rng.integers(1, 300)), int(rng.integers(2, 200))
        probs = rng.random((n, vocab)) ** rng.uniform(1, 14)
        symbols = [int(rng.choice(vocab, p=p / p.sum())) for p in probs]
        enc = rangecoder.Encoder()
        enc.encode_all(symbols, probs)
        full, trimmed = enc.finish(), enc.finish(trim=True)
        assert full[:-4] == trimmed[: len(full) - 4] and 1 <= len(trimmed) - (len(full) - 4) <= 4
        dec = rangecoder.Decoder(trimmed, trimmed=True)
        assert [dec.decode(p) for p in probs] == symbols
        saved.append(len(full) - len(trimmed))
    assert 1.0 < np.mean(saved) < 3.0  # the seal's needed bytes vary with the final range
    assert rangecoder.Encoder().finish(trim=True) == b""


def test_a_range_coder_that_codes_differently_is_refused(monkeypatch):
    """Files decode only where constriction codes the reference stream as it did when they
    were made: another quantizer is refused at first use, before it decodes garbage."""
    from llmpack.coding import rangecoder
    from llmpack.errors import LLMPackError

    rangecoder._family.cache_clear()
    try:
        assert rangecoder._family() is not None  # this machine's constriction codes as recorded
        monkeypatch.setattr(rangecoder, "REFERENCE_DIGEST", "0" * 16)
        rangecoder._family.cache_clear()
        with pytest.raises(LLMPackError, match="codes differently"):
            rangecoder.Encoder().encode(1, np.ones(4))
    finally:
        monkeypatch.undo()
        rangecoder._family.cache_clear()
