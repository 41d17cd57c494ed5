"""semantic and summary modes on the tiny random model: round trips, seed search, mismatch errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

import llmpack
from llmpack import generate as gen
from llmpack import residual, sections, templates
from llmpack.cli import app
from llmpack.codecs import semantic

TEXT = (
    b"Alice was beginning to get very tired of sitting by her sister on the bank.\n\n"
    b"The quick brown fox jumps over the lazy dog. \xff invalid byte\r\n\n"
    b"def compress(data: bytes) -> bytes:\n    return data\n"
)


# -- residual ---------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_residual_turns_any_regeneration_into_the_original(regen, original):
    d = residual.diff(regen, original)
    again = residual.Residual(residual.Residual.unpack_ops(d.pack_ops()), d.inserts)
    assert residual.apply(regen, again) == original


def test_residual_keeps_shared_text_out_of_the_inserts():
    original = b"The quick brown fox jumps over the lazy dog, and runs away."
    d = residual.diff(b"The quick red fox jumps over the lazy cat, and runs away.", original)
    assert len(d.inserts) < 12


def test_residual_that_does_not_fit_is_an_error():
    d = residual.diff(b"abcdef", b"abXdef")
    with pytest.raises(llmpack.FormatError):
        residual.apply(b"abcdefg", d)


# -- sections -----------------------------------------------------------------------
def test_sections_cut_at_paragraphs_and_concatenate_back():
    paras = [(f"Paragraph {i} " + "word " * 30).encode() + b"\n\n" for i in range(6)]
    data = b"".join(paras)
    count = lambda b: len(b.split())  # noqa: E731  (a word is a "token" here)
    parts = sections.split(data, count, 70)
    assert b"".join(parts) == data
    assert all(p.endswith(b"\n\n") for p in parts)  # every cut is at a paragraph end
    assert [len(p.split()) for p in parts] == [64, 64, 64]


def test_a_long_paragraph_is_cut_into_pieces():
    data = ("word " * 500).encode()
    parts = sections.split(data, lambda b: len(b.split()), 100)
    assert b"".join(parts) == data and len(parts) == 5


# -- generation -----------------------------------------------------------------------
def test_counter_based_uniforms_depend_on_seed_and_step_only():
    assert gen.uniform(3, 7) == gen.uniform(3, 7)
    assert len({gen.uniform(s, t) for s in range(1, 5) for t in range(50)}) == 200
    assert all(0 <= gen.uniform(1, t) < 1 for t in range(100))


def test_generation_is_reproducible_and_rows_are_independent(tiny_model):
    tok = tiny_model.tokenizer
    allowed = np.array([t is not None for t in tok.table[: tok.vocab_size]])
    prompts = [tok.encode(b"The quick brown"), tok.encode(b"Alice was beginning to get")]
    exact = tiny_model.exact()
    a = gen.generate(exact, prompts, [20, 20], [0, 5], allowed, 0)
    b = gen.generate(exact, prompts, [20, 20], [0, 5], allowed, 0)
    c = gen.generate(exact, prompts, [20, 20], [0, 9], allowed, 0)
    assert a == b and len(a[0]) == 20
    assert a[0] == c[0]  # row 0 does not depend on row 1's seed
    assert a[1] != c[1]  # row 1 does
    # nor on its batch: alone, and beside a longer prompt (right-padding), it generates the same
    assert gen.generate(exact, prompts[1:], [20], [5], allowed, 0) == a[1:]
    longer = [tok.encode(b"def compress(data: bytes) -> bytes: return data")]
    assert gen.generate(exact, longer + prompts[:1], [20, 20], [3, 0], allowed, 0)[1] == a[0]


# -- codec round trips -----------------------------------------------------------------
@pytest.mark.parametrize("residual_coding", ["auto", "zstd", "lm"])
def test_semantic_round_trip(tiny_model, residual_coding):
    c = llmpack.Compressor(mode="semantic", model=tiny_model, residual=residual_coding, prompt_tokens=8, max_section_tokens=24)
    blob = c.compress(TEXT)
    assert llmpack.decompress(blob, model=tiny_model) == TEXT
    info = llmpack.inspect(blob)
    assert info["mode"] == "semantic" and info["lossy"] is False
    assert info["sections"] > 1 and len(info["prompts"]) == len(info["seeds"]) == info["sections"]


@pytest.mark.parametrize("data", [b"", b"x", b"\x00\xff\xfe binary \x80", "ünï 中文 🙂\r\n".encode() * 3])
def test_semantic_round_trips_odd_inputs(tiny_model, data):
    blob = llmpack.compress(data, mode="semantic", model=tiny_model, prompt_tokens=4)
    assert llmpack.decompress(blob, model=tiny_model) == data


def test_more_seeds_never_make_the_file_larger(tiny_model):
    sizes = [
        len(llmpack.compress(TEXT, mode="semantic", model=tiny_model, seeds=n, prompt_tokens=6, max_section_tokens=24))
        for n in (1, 2, 3, 5)
    ]
    assert sizes == sorted(sizes, reverse=True)
    blob = llmpack.compress(TEXT, mode="semantic", model=tiny_model, seeds=5, prompt_tokens=6, max_section_tokens=24)
    assert llmpack.decompress(blob, model=tiny_model) == TEXT
    assert max(llmpack.inspect(blob)["seeds"]) < 5


def test_a_different_regeneration_is_an_error_not_wrong_output(tiny_model, monkeypatch):
    blob = llmpack.compress(TEXT, mode="semantic", model=tiny_model, prompt_tokens=6)
    real = gen.generate

    q, r = (tiny_model.tokenizer.byte_ids[b] for b in b"QR")

    def drifting(*args, **kwargs):  # another machine: the last token of each row comes out different
        out = real(*args, **kwargs)
        return [ids[:-1] + [r if ids[-1] == q else q] if ids else ids for ids in out]

    monkeypatch.setattr(gen, "generate", drifting)
    with pytest.raises(llmpack.IntegrityError, match="regeneration differs"):
        llmpack.decompress(blob, model=tiny_model)


def test_a_changed_template_is_refused(tiny_model, tmp_path, monkeypatch):
    blob = llmpack.compress(b"Some text.\n", mode="semantic", model=tiny_model, prompt_tokens=4)
    for name in (templates.CONDENSE, templates.REGENERATE):
        path = next(d / f"{name}.txt" for d in templates.prompts_dirs() if (d / f"{name}.txt").is_file())
        (tmp_path / f"{name}.txt").write_bytes(path.read_bytes() + b" edited")
    monkeypatch.setenv("LLMPACK_PROMPTS", str(tmp_path))
    with pytest.raises(llmpack.FormatError, match="has changed"):
        llmpack.decompress(blob, model=tiny_model)


def test_corrupt_semantic_payload_is_a_clean_error(tiny_model):
    blob = llmpack.compress(TEXT, mode="semantic", model=tiny_model, prompt_tokens=4, residual="zstd")
    for cut in (1, 5, len(blob) // 2):
        with pytest.raises(llmpack.LLMPackError):
            llmpack.decompress(blob[:-cut], model=tiny_model)


# -- summary ----------------------------------------------------------------------------
def test_summary_keeps_prompts_only_and_its_similarity_is_reproducible(tiny_model):
    from llmpack.similarity import similarity

    c = llmpack.Compressor(mode="summary", model=tiny_model, prompt_tokens=6)
    blob = c.compress(TEXT)
    info = llmpack.inspect(blob)
    assert info["lossy"] is True and info["mode"] == "summary"
    approx = llmpack.decompress(blob, model=tiny_model)
    assert approx != TEXT
    assert info["similarity"] == pytest.approx(similarity(TEXT, approx), abs=1e-4)
    # Nothing but the header: a prompt of at most 6 tokens per section.
    assert len(blob) < len(llmpack.compress(TEXT, mode="semantic", model=tiny_model, prompt_tokens=6))


def test_summary_cli_decode_says_the_output_is_lossy(tiny_model_dir, tmp_path):
    src = tmp_path / "t.txt"
    src.write_bytes(TEXT)
    runner = CliRunner()
    r = runner.invoke(app, ["encode", str(src), "--mode", "summary", "--prompt-tokens", "4", "-m", str(tiny_model_dir), "-q"])
    assert r.exit_code == 0, r.output
    info = json.loads(runner.invoke(app, ["info", str(src) + ".llmp", "--json"]).output)
    for key in ("mode", "lossy", "original_size", "compressed_size", "model", "prompts", "seeds", "similarity"):
        assert key in info
    r = runner.invoke(app, ["decode", str(src) + ".llmp", "-o", str(tmp_path / "out.txt"), "-q"])
    assert r.exit_code == 0, r.output
    assert "lossy" in r.stderr
    # without -o the approximation never takes the original's name, and -q does not hide that
    src.rename(tmp_path / "moved.txt")
    r = runner.invoke(app, ["decode", str(tmp_path / "t.txt.llmp"), "-q"])
    assert r.exit_code == 0, r.output
    assert not src.exists() and (tmp_path / "t.summary.txt").read_bytes() == (tmp_path / "out.txt").read_bytes()
    assert "t.summary.txt" in r.stderr and "approximation" in r.stderr
    shown = runner.invoke(app, ["info", str(tmp_path / "t.txt.llmp")]).output.splitlines()
    assert shown[0].split() == ["lossy:", "yes"]


def test_semantic_options_are_usage_errors_elsewhere(tmp_path):
    src = tmp_path / "t.txt"
    src.write_bytes(b"hello")
    r = CliRunner().invoke(app, ["encode", str(src), "--mode", "zstd", "--seeds", "3"])
    assert r.exit_code == 2 and not (tmp_path / "t.txt.llmp").exists()
    r = CliRunner().invoke(app, ["encode", str(src), "--mode", "semantic", "--residual", "gzip"])
    assert r.exit_code == 2
