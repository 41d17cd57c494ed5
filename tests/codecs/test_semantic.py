"""semantic and summary modes on the tiny random model: round trips, seed search, mismatch errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

import llmpack
from llmpack.semantic import generate as gen
from llmpack.coding import container
from llmpack.config import FORMAT_VERSION
from llmpack.semantic import residual, sections, templates
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


def test_a_searched_schedule_regenerates_alone(tiny_model):
    # Three rows share a prompt, sampling with seeds 0, 1, 2; after each 4-token chunk all
    # continue from a row picked by a fixed rule. One row stepping with the seeds picked
    # (one per chunk) must generate the same tokens: the decoder's side of the search.
    tok = tiny_model.tokenizer
    allowed = np.array([t is not None for t in tok.table[: tok.vocab_size]])
    exact = tiny_model.exact()
    prompt = tok.encode(b"Alice was beginning to get")
    picked = []

    def on_chunk(ids):
        k = (len(ids[0]) * 7 + len(picked)) % 3  # varies by chunk
        picked.append(k)
        return [k] * 3

    rows = gen.generate(exact, [prompt] * 3, [18] * 3, [0, 1, 2], allowed, 0, chunk=4, on_chunk=on_chunk)
    assert len(picked) == 5 and len(set(picked)) > 1 and rows[0] == rows[1] == rows[2] and len(rows[0]) == 18
    alone = gen.generate(exact, [prompt], [18], [picked], allowed, 0, chunk=4)
    assert alone[0] == rows[0]
    assert alone[0] != gen.generate(exact, [prompt], [18], [0], allowed, 0)[0]  # not just the greedy text


# -- codec round trips -----------------------------------------------------------------
@pytest.mark.parametrize("residual_coding", ["auto", "model", "diff", "lm"])
def test_semantic_round_trip(tiny_model, residual_coding):
    c = llmpack.Compressor(mode="semantic", model=tiny_model, residual=residual_coding, prompt_tokens=8,
                           max_section_tokens=24, fallback=False)
    blob = c.compress(TEXT)
    assert llmpack.decompress(blob, model=tiny_model) == TEXT
    method = c.stats["residual_method"]
    if residual_coding == "auto":  # the one it chose, asked for by name, writes the same file
        assert method in ("model", "diff", "lm")
        assert llmpack.compress(TEXT, mode="semantic", model=tiny_model, residual=method, prompt_tokens=8,
                                max_section_tokens=24, fallback=False) == blob
    else:
        assert method == residual_coding
    info = llmpack.inspect(blob, prompts=True, model=tiny_model)
    assert info["mode"] == "semantic" and info["lossy"] is False and info["format_version"] == FORMAT_VERSION
    assert info["sections"] > 1 and len(info["prompts"]) == len(info["seeds"]) == info["sections"]
    assert info["residual"].startswith("per section" if c.stats["residual_method"] == "model" else "edit script")


def test_auto_residual_is_the_smallest(tiny_model):
    sizes = {r: len(llmpack.compress(TEXT, mode="semantic", model=tiny_model, residual=r, prompt_tokens=6,
                                     max_section_tokens=24, fallback=False))
             for r in ("auto", "model", "diff", "lm")}
    assert sizes["auto"] == min(sizes.values())


def test_model_residual_codes_each_section_with_or_without_its_prompt(tiny_model):
    from llmpack.codecs.semantic import CONTEXT_NAMES, K_EDITS

    c = llmpack.Compressor(mode="semantic", model=tiny_model, residual="model", prompt_tokens=6, max_section_tokens=24,
                           fallback=False)
    blob = c.compress(TEXT)
    _, payload = container.unpack(blob)
    n = llmpack.inspect(blob)["sections"]
    assert payload[0] != K_EDITS and all(x in CONTEXT_NAMES for x in payload[:n])
    assert llmpack.decompress(blob, model=tiny_model) == TEXT


@pytest.mark.parametrize("data", [b"", b"x", b"\x00\xff\xfe binary \x80", "ünï 中文 🙂\r\n".encode() * 3])
def test_semantic_round_trips_odd_inputs(tiny_model, data):
    blob = llmpack.compress(data, mode="semantic", model=tiny_model, prompt_tokens=4)
    assert llmpack.decompress(blob, model=tiny_model) == data


@pytest.mark.parametrize("context", ["C_PLAIN", "C_TEMPLATE", "C_HEADING"])
def test_each_residual_context_decodes(tiny_model, monkeypatch, context):
    monkeypatch.setattr(semantic, "MODEL_CONTEXTS", (getattr(semantic, context),))
    blob = llmpack.compress(TEXT, mode="semantic", model=tiny_model, residual="model", prompt_tokens=6,
                            max_section_tokens=24, fallback=False)
    _, payload = container.unpack(blob)
    n = llmpack.inspect(blob)["sections"]
    assert set(payload[:n]) == {getattr(semantic, context)}
    assert llmpack.decompress(blob, model=tiny_model) == TEXT


def test_chunk_seeds_raise_the_similarity(tiny_model, monkeypatch):
    # A stand-in similarity that adds up: the count of "e". The search keeps, per chunk,
    # the candidate with the most, and per section the greedy text where it has more:
    # the whole text can only gain over one seed's.
    import llmpack.semantic.similarity

    monkeypatch.setattr(llmpack.semantic.similarity, "similarity",
                        lambda a, b: float(bytes(b if isinstance(b, bytes) else b.encode()).count(b"e")))
    options = dict(mode="summary", model=tiny_model, prompt_tokens=6, max_section_tokens=80)
    one, three = (llmpack.compress(TEXT, seeds=n, **options) for n in (1, 3))
    a, b = (llmpack.decompress(x, model=tiny_model) for x in (one, three))
    info = llmpack.inspect(three)
    assert info["recipe"] == 2 and info["candidates"] == 3 and llmpack.inspect(one)["recipe"] == 1
    chunks = [-(-n // info["chunk_tokens"]) for n in info["section_tokens"]]
    assert [len(s) for s in info["seeds"]] == chunks and max(chunks) > 1
    assert all(0 <= d < 3 for s in info["seeds"] for d in s) and any(any(s) for s in info["seeds"])
    assert b.count(b"e") > a.count(b"e")
    assert llmpack.inspect(three, prompts=True, model=tiny_model)["prompts"] == \
        llmpack.inspect(one, prompts=True, model=tiny_model)["prompts"]  # the greedy prompts, as with one seed
    blob = llmpack.compress(TEXT, mode="semantic", model=tiny_model, seeds=3, prompt_tokens=6, max_section_tokens=80)
    assert llmpack.decompress(blob, model=tiny_model) == TEXT


def test_seeds_keep_each_sections_best_regeneration(tiny_model, monkeypatch):
    # Recipe 1: whole-section candidates. A stand-in similarity that adds up over
    # sections: the count of "e". Keeping each section's best of 3 seeds can then only
    # raise the whole text's score over seed 0's.
    import llmpack.semantic.similarity

    monkeypatch.setattr(llmpack.semantic.similarity, "similarity", lambda a, b: float(bytes(b).count(b"e")))
    options = dict(mode="summary", model=tiny_model, prompt_tokens=6, max_section_tokens=24, recipe=1)
    one, three = (llmpack.compress(TEXT, seeds=n, **options) for n in (1, 3))
    a, b = (llmpack.decompress(x, model=tiny_model) for x in (one, three))
    assert max(llmpack.inspect(three)["seeds"]) < 3 and set(llmpack.inspect(one)["seeds"]) == {0}
    assert b.count(b"e") >= a.count(b"e")
    blob = llmpack.compress(TEXT, mode="semantic", model=tiny_model, seeds=3, prompt_tokens=6, max_section_tokens=24,
                            recipe=1)
    assert llmpack.decompress(blob, model=tiny_model) == TEXT


def test_each_candidate_brings_its_own_prompt(tiny_model, monkeypatch):
    # Candidate k > 0 is a prompt sampled with seed k, regenerated with seed k; k = 0 is
    # the greedy prompt. A stand-in similarity that favours the last candidate's text.
    import llmpack.semantic.similarity

    options = dict(mode="summary", model=tiny_model, prompt_tokens=6, max_section_tokens=24, recipe=1)
    greedy = llmpack.inspect(llmpack.compress(TEXT, seeds=1, **options), prompts=True, model=tiny_model)["prompts"]
    monkeypatch.setattr(llmpack.semantic.similarity, "similarity", lambda a, b: float(len(set(bytes(b)))))
    blob = llmpack.compress(TEXT, seeds=3, **options)
    info = llmpack.inspect(blob, prompts=True, model=tiny_model)
    assert set(info["seeds"]) - {0}, "some section kept a sampled candidate"
    for seed, prompt, first in zip(info["seeds"], info["prompts"], greedy):
        if seed == 0:
            assert prompt == first
    assert [p for s, p, g in zip(info["seeds"], info["prompts"], greedy) if s and p != g], "sampled prompts are stored"
    summary = llmpack.decompress(blob, model=tiny_model)
    assert len(summary) > 0  # each section's seed regenerates it from its own prompt (CRC-checked)


@pytest.mark.parametrize("mode", ["semantic", "summary"])
def test_a_different_regeneration_is_an_error_not_wrong_output(tiny_model, monkeypatch, mode):
    options = {"residual": "diff", "fallback": False} if mode == "semantic" else {}
    blob = llmpack.compress(TEXT, mode=mode, model=tiny_model, prompt_tokens=6, **options)
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
    from llmpack.semantic.similarity import similarity

    c = llmpack.Compressor(mode="summary", model=tiny_model, prompt_tokens=6)
    blob = c.compress(TEXT)
    info = llmpack.inspect(blob)
    assert info["lossy"] is True and info["mode"] == "summary"
    approx = llmpack.decompress(blob, model=tiny_model)
    assert approx != TEXT
    assert info["similarity"] == pytest.approx(similarity(TEXT, approx), abs=0.004)  # stored in a byte
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


# -- layers: strip, prompts, format 4 ------------------------------------------------------
def test_strip_leaves_the_summary_file_of_the_same_settings(tiny_model):
    options = dict(model=tiny_model, prompt_tokens=6, max_section_tokens=40, seeds=2)  # chunk seeds
    semantic_blob = llmpack.compress(TEXT, mode="semantic", fallback=False, **options)
    summary_blob = llmpack.compress(TEXT, mode="summary", **options)
    stripped = llmpack.strip(semantic_blob)
    assert stripped == summary_blob
    assert llmpack.inspect(stripped)["mode"] == "summary" and llmpack.inspect(stripped)["lossy"] is True
    assert llmpack.decompress(stripped, model=tiny_model) == llmpack.decompress(summary_blob, model=tiny_model)
    with pytest.raises(llmpack.LLMPackError, match="only semantic files"):
        llmpack.strip(summary_blob)


def test_model_coded_prompts_round_trip_and_info_decodes_them(tiny_model, monkeypatch):
    from llmpack.codecs import semantic_params

    # The tiny model codes text worse than raw bytes: make the text storage look huge so that
    # the model-coded prompt block is chosen.
    real = semantic_params.Params.store_prompts_plain

    def bulky(self):
        text = real(self)
        self.prompt_coded = b"\0" * 100000
        return text

    monkeypatch.setattr(semantic_params.Params, "store_prompts_plain", bulky)
    c = llmpack.Compressor(mode="summary", model=tiny_model, prompt_tokens=6, max_section_tokens=24)
    blob = c.compress(TEXT)
    monkeypatch.undo()
    plain = llmpack.compress(TEXT, mode="summary", model=tiny_model, prompt_tokens=6, max_section_tokens=24)
    info = llmpack.inspect(blob)
    assert info["prompts"] is None and info["prompt_storage"].startswith("model")
    shown = llmpack.inspect(blob, prompts=True, model=tiny_model)["prompts"]
    assert shown == llmpack.inspect(plain)["prompts"] and len(shown) == info["sections"] > 1
    assert llmpack.decompress(blob, model=tiny_model) == llmpack.decompress(plain, model=tiny_model)


def _v4_file(tiny_model, data: bytes, lossy: bool) -> tuple[bytes, bytes]:
    """A file as format 4 wrote it (prompts as text, templates and sampling in full, 32-bit
    CRCs; semantic: an edit script with zstd inserts), made from this version's base layer."""
    import struct

    from llmpack.codecs import Context
    from llmpack.codecs.semantic_params import Params, pack_small_v4
    from llmpack.model.exact.numerics import DEFAULT as DEFAULT_NUMERICS
    from llmpack.coding.container import Header, Writer, checksum

    summary = llmpack.compress(data, mode="summary", model=tiny_model, prompt_tokens=6, max_section_tokens=24, seeds=2,
                               recipe=1)
    info = llmpack.inspect(summary)
    approx = llmpack.decompress(summary, model=tiny_model)
    header, _ = container.unpack(summary)
    base, codec = Params.unpack(header.params, 5, header.original_size), semantic.SummaryCodec()
    codec._prompts(base, tiny_model)  # model-coded prompts: decoded
    regens = codec._regenerate_checked(base, tiny_model, Context())
    assert b"".join(regens) == approx
    prompts = [s.prompt for s in base.sections]  # bytes, as format 4 stored them
    w = Writer().text(DEFAULT_NUMERICS.tag()).varint(16).varint(tiny_model.tokenizer.start_id).u8(24)
    w.text("condense-v1").u32(0x496910BA).text("regenerate-v1").u32(0x714A8783)
    w.varint(6).varint(700).varint(40).raw(struct.pack("<f", info["similarity"] if lossy else 1.0))
    w.varint(info["sections"])
    for n, seed, text in zip(info["section_tokens"], info["seeds"], regens):
        w.varint(n).varint(seed).u32(container.crc32(text))
    pack_small_v4(w, b"".join(Writer().blob(p).getvalue() for p in prompts))
    payload = b""
    if not lossy:
        pieces = sections.split(data, lambda b: len(tiny_model.tokenizer.encode(b)), 24)
        diffs = [residual.diff(t, p) for t, p in zip(regens, pieces)]
        table = Writer()
        for d in diffs:
            table.blob(d.pack_ops()).varint(len(d.inserts))
        out = Writer()
        pack_small_v4(out, table.getvalue())
        payload = out.u8(0).getvalue() + b"".join(d.inserts for d in diffs)
    header = Header(3 if lossy else 2, container.FLAG_LOSSY if lossy else 0, len(data), b"" if lossy else checksum(data),
                    tiny_model.registry_id, tiny_model.fingerprint, w.getvalue(), version=4)
    return container.pack(header, payload), approx


def test_format_4_files_still_decode(tiny_model):
    v4_summary, approx = _v4_file(tiny_model, TEXT, lossy=True)
    assert llmpack.inspect(v4_summary)["format_version"] == 4
    assert llmpack.decompress(v4_summary, model=tiny_model) == approx
    v4_semantic, _ = _v4_file(tiny_model, TEXT, lossy=False)
    assert llmpack.decompress(v4_semantic, model=tiny_model) == TEXT
    with pytest.raises(llmpack.LLMPackError, match="format 4"):
        llmpack.strip(v4_semantic)


def test_strip_on_the_command_line(tiny_model_dir, tmp_path):
    src = tmp_path / "t.txt"
    src.write_bytes(TEXT)
    runner = CliRunner()
    r = runner.invoke(app, ["encode", str(src), "--mode", "semantic", "--no-fallback", "--prompt-tokens", "4",
                            "-m", str(tiny_model_dir), "-q"])
    assert r.exit_code == 0, r.output
    packed = tmp_path / "t.txt.llmp"
    r = runner.invoke(app, ["strip", str(packed)])
    assert r.exit_code == 0, r.output
    stripped = tmp_path / "t.summary.txt.llmp"
    assert packed.exists() and llmpack.strip(packed.read_bytes()) == stripped.read_bytes()
    info = json.loads(runner.invoke(app, ["info", str(stripped), "--json"]).output)
    assert info["mode"] == "summary" and info["lossy"] is True
    r = runner.invoke(app, ["strip", str(packed)])  # refuses to overwrite
    assert r.exit_code == 1 and "already exists" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = runner.invoke(app, ["decode", str(stripped), "-q"])  # the approximation: t.summary.txt
    assert r.exit_code == 0 and (tmp_path / "t.summary.txt").exists()
    zstd_file = tmp_path / "z.txt.llmp"
    r = runner.invoke(app, ["encode", str(src), "--mode", "zstd", "-o", str(zstd_file)])
    r = runner.invoke(app, ["strip", str(zstd_file)])
    assert r.exit_code == 1 and "only semantic files" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "z.summary.txt.llmp").exists()


# -- fidelity ----------------------------------------------------------------------------
@pytest.mark.parametrize("fidelity", [1.0, 0.9, 0.6])
def test_fidelity_keeps_the_similarity_it_promises(tiny_model, fidelity):
    from llmpack.semantic.similarity import similarity

    c = llmpack.Compressor(mode="fidelity", model=tiny_model, fidelity=fidelity)
    blob = c.compress(TEXT)
    approx = llmpack.decompress(blob, model=tiny_model)
    info = llmpack.inspect(blob)
    assert info["mode"] == "fidelity" and info["lossy"] is True and info["approximation_size"] == len(approx)
    assert similarity(TEXT, approx) >= fidelity
    assert info["similarity"] == pytest.approx(similarity(TEXT, approx), abs=0.004)
    if fidelity == 1.0:
        assert approx == TEXT


def test_fidelity_keeps_the_smallest_of_its_approximations(tiny_model):
    from llmpack.codecs import Context
    from llmpack.codecs.fidelity import FidelityCodec
    from llmpack.config import FidelityConfig
    from llmpack.semantic.similarity import similarity

    codec = FidelityCodec(FidelityConfig(fidelity=0.6))
    candidates = codec.approximations(TEXT, tiny_model, Context())
    assert candidates[0] == (TEXT, 1.0) and len(candidates) > 1
    for text, s in candidates[1:]:  # the tiny model's guesses are noise, yet some can go
        assert text != TEXT and s == pytest.approx(similarity(TEXT, text)) and s >= 0.6
    sizes = {text: len(llmpack.compress(text, model=tiny_model, fallback=False)) for text, _ in candidates}
    approx = llmpack.decompress(llmpack.compress(TEXT, mode="fidelity", model=tiny_model, fidelity=0.6), model=tiny_model)
    assert sizes[approx] == min(sizes.values())


def test_fidelity_on_the_command_line(tiny_model_dir, tmp_path):
    src = tmp_path / "t.txt"
    src.write_bytes(TEXT)
    runner = CliRunner()
    r = runner.invoke(app, ["encode", str(src), "--fidelity", "0.9", "-m", str(tiny_model_dir), "-q"])
    assert r.exit_code == 0, r.output
    info = json.loads(runner.invoke(app, ["info", str(src) + ".llmp", "--json"]).output)
    assert info["mode"] == "fidelity" and info["similarity"] >= 0.9 - 0.004
    r = runner.invoke(app, ["decode", str(src) + ".llmp", "-q"])
    assert r.exit_code == 0 and "similarity" in r.stderr and (tmp_path / "t.summary.txt").exists()
    r = runner.invoke(app, ["encode", str(src), "--mode", "semantic", "--fidelity", "0.9", "-f"])
    assert r.exit_code == 2


def test_chunk_seeds_pack_as_digits_and_out_of_range_is_a_format_error():
    from llmpack.codecs.semantic_params import RECIPES, Params, Section

    p = Params(RECIPES[2], 0.5, [Section(40, 0, 0, b"a prompt")], recipe_number=2, candidates=3)
    p.set_schedule(p.sections[0], [2, 1])  # 40 tokens: two 32-token chunks
    p.store_prompts_plain()
    q = Params.unpack(p.pack(), 5, 1000)
    assert q.candidates == 3 and q.schedule(q.sections[0]) == [2, 1] and q.sections[0].seed == 2 + 1 * 3
    p.sections[0].seed = 3 * 3  # needs a third digit
    with pytest.raises(llmpack.FormatError, match="seed out of range"):
        Params.unpack(p.pack(), 5, 1000)
