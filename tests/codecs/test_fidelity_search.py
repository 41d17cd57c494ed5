"""The fidelity encoder's edit search (llmpack.codecs.fidelity_search), on the tiny model."""

from __future__ import annotations

import pytest

import llmpack
from llmpack.coding import profiles
from llmpack.codecs import fidelity_search as fs
from llmpack.semantic.similarity import local_similarities, similarity

STORY = (
    b"Alice was beginning to get very tired of sitting by her sister on the bank. "
    b"The quick brown fox jumps over the lazy dog!\n"
    b"She had peeped into the book her sister was reading.\n"
    b"It had no pictures or conversations in it. What is the use of a book?\n"
    b"def compress(data: bytes) -> bytes:\n    return data\n"
    b"So she was considering in her own mind whether it was worth the trouble.\n"
)


@pytest.fixture()
def search(tiny_model):
    profile = profiles.get(llmpack.config.ArithmeticConfig().settings().profile)
    return fs.Search(tiny_model.exact(profile.numerics), tiny_model.tokenizer, profile.window, similarity,
                     local_similarities)


def test_spans_are_the_sentences_and_lines(search, tiny_model):
    tok = tiny_model.tokenizer
    piece = tok.encode(STORY)
    spans = search._spans(piece)
    assert [s for s, _ in spans][0] == 0 and spans[-1][1] == len(piece)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # they tile the piece
    texts = [tok.decode(piece[a:b]) for a, b in spans]
    assert texts[0] == b"Alice was beginning to get very tired of sitting by her sister on the bank."
    assert texts[1] == b" The quick brown fox jumps over the lazy dog!\n"
    assert texts[-1] == b"So she was considering in her own mind whether it was worth the trouble.\n"


def test_edits_apply_later_first_and_keep_their_distance(tiny_model):
    tok = tiny_model.tokenizer
    piece = tok.encode(STORY)
    far = len(piece) - 3
    edits = [fs.Edit(0, 0, 2, ()), fs.Edit(0, far, far + 1, tuple(tok.encode(b"X")))]
    out = fs.Search.apply([piece], edits)[0]
    assert out == piece[2:far] + tok.encode(b"X") + piece[far + 1 :]
    near = fs.Edit(0, 2 + fs.LOOKAHEAD_TOKENS - 1, 2 + fs.LOOKAHEAD_TOKENS, ())
    assert fs.Search._spaced([edits[0], near, edits[1]]) == [edits[0], edits[1]]


def test_measured_gains_are_what_the_rows_save(search, tiny_model):
    tok = tiny_model.tokenizer
    pieces = [tok.encode(STORY)]
    edits = search._candidates(pieces)
    assert edits and all(d.gain >= fs.MIN_GAIN_BITS for d in edits)
    spans = set(search._spans(pieces[0]))
    assert all((d.start, d.end) in spans for d in edits)
    d = max(edits, key=lambda d: d.gain)  # recompute its gain from the two rows
    context = pieces[0][max(0, d.start - fs.CONTEXT_TOKENS) : d.start]
    after = pieces[0][d.end : d.end + fs.LOOKAHEAD_TOKENS]
    old, new = search._row_costs([context + pieces[0][d.start : d.end] + after, context + list(d.tokens) + after],
                                 [len(context)] * 2)
    assert d.gain == pytest.approx(sum(old) - sum(new))


@pytest.mark.parametrize("fidelity", [0.9, 0.6])
def test_every_round_keeps_the_similarity(search, tiny_model, fidelity):
    tok = tiny_model.tokenizer
    rounds = list(search.run(STORY, [tok.encode(STORY)], lambda ps: tok.decode(ps[0]), fidelity))
    assert rounds, "the tiny model's spans cost bits: some can go"
    previous = STORY
    for pieces, text, reached in rounds:
        assert text == tok.decode(pieces[0]) != previous
        assert reached == pytest.approx(similarity(STORY, text)) and reached >= fidelity
        previous = text


def test_fidelity_files_are_smaller_than_exact_ones(tiny_model):
    exact = len(llmpack.compress(STORY, model=tiny_model))
    seen = []
    blob = llmpack.Compressor(mode="fidelity", model=tiny_model, fidelity=0.6,
                              progress=lambda done, total: seen.append((done, total))).compress(STORY)
    assert seen == sorted(seen) and seen[-1] == (len(STORY), len(STORY)) and len(set(seen)) > 3  # each round shows as progress
    approx = llmpack.decompress(blob, model=tiny_model)
    assert len(blob) < exact and approx != STORY and similarity(STORY, approx) >= 0.6
