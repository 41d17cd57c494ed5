"""`llmpack report` on the tiny model: every codec and key, figures equal to separate runs, outputs written."""

from __future__ import annotations

import html as _html
import json
import re

import pytest
import zstandard
from typer.testing import CliRunner

import llmpack
from llmpack.cli import app
from llmpack.config import ReportConfig
from llmpack.report.measure import BASELINES
from llmpack.report import OUTPUTS, build, surprisal
from llmpack.report.tables import JSON_KEYS

TEXT_A = "The quick brown fox <jumps> & over the lazy dog.\n\nAlice was tired of sitting, é 中.\n".encode() * 3
TEXT_B = b"def compress(data: bytes) -> bytes:\n    return data\n" * 4


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "a.txt").write_bytes(TEXT_A)
    (folder / "b.md").write_bytes(TEXT_B)
    return [str(folder / "a.txt"), str(folder / "b.md")]


@pytest.fixture(scope="module")
def report(tiny_model, inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    rows = build(inputs, out, ReportConfig(prompt_tokens=(4, 8), seeds=(1, 2), fidelity=(0.9,), jobs=1), tiny_model)
    return rows, out


def test_report_has_every_codec_setting_and_key(report):
    rows, out = report
    data = json.loads((out / "report.json").read_text())
    assert [tuple(d) for d in data] == [JSON_KEYS] * len(data)
    expected = [b.partition(" ")[0] for b in BASELINES] + ["arithmetic", "semantic"] + ["summary"] * 4 + ["fidelity"]
    for name in ("a.txt", "b.md"):
        assert [d["codec"] for d in data if d["file"] == name] == expected
    settings = [d["setting"] for d in data if d["codec"] in ("summary", "fidelity") and d["file"] == "a.txt"]
    assert settings == ["prompt_tokens=4, seeds=1", "prompt_tokens=8, seeds=1", "prompt_tokens=4, seeds=2",
                        "prompt_tokens=8, seeds=2", "0.9"]
    for d in data:
        if d["codec"] == "fidelity":  # the approximation keeps what it promises
            assert d["similarity"] >= 0.9 and d["exact"] is (d["similarity"] == 1.0)
            continue
        lossless = d["codec"] != "summary"
        assert d["exact"] is lossless
        assert (d["similarity"] == 1.0) if lossless else (-1.0 <= d["similarity"] < 1.0)
        assert d["bpb"] == pytest.approx(8 * d["compressed_bytes"] / d["original_bytes"])
        assert d["ratio"] == pytest.approx(d["original_bytes"] / d["compressed_bytes"])
        assert d["encode_s"] > 0 and d["decode_s"] > 0


@pytest.mark.fallback  # the report runs in worker processes, as users do: with the whole-file fallback
def test_report_figures_equal_separate_encode_runs(report, tiny_model):
    rows, _ = report
    by = {(r.file, r.label): r for r in rows}
    for name, data in (("a.txt", TEXT_A), ("b.md", TEXT_B)):
        assert by[(name, "arithmetic")].compressed_bytes == len(llmpack.compress(data, model=tiny_model))
        assert by[(name, "semantic")].compressed_bytes == len(llmpack.compress(data, mode="semantic", model=tiny_model))
        for p in (4, 8):
            blob = llmpack.compress(data, mode="summary", model=tiny_model, prompt_tokens=p, seeds=2)
            assert by[(name, f"summary prompt_tokens={p}, seeds=2")].compressed_bytes == len(blob)
            assert by[(name, f"summary prompt_tokens={p}, seeds=2")].similarity == pytest.approx(
                llmpack.inspect(blob)["similarity"], abs=0.004)
        blob = llmpack.compress(data, mode="fidelity", model=tiny_model, fidelity=0.9)
        assert by[(name, "fidelity 0.9")].compressed_bytes == len(blob)
        assert by[(name, "zstd -19")].compressed_bytes == len(zstandard.ZstdCompressor(level=19).compress(data))


def test_report_writes_plots_markdown_and_surprisal(report, tiny_model):
    rows, out = report
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    for name in ("bpb.png", "frontier.png", "throughput.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "## a.txt" in md and "## b.md" in md and "![Size/similarity frontier](frontier.png)" in md
    html = (out / "surprisal.html").read_text()
    text = html.split('<div class="text">')[1].split("</div>")[0]
    shown = _html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\u21b5\n", "\n")
    assert shown == TEXT_A.decode() and "<jumps" not in html  # the whole text, escaped
    assert html.count("<section>") == 2
    # The colours are the encoder's own costs: they add up to its cross-entropy.
    c = llmpack.Compressor(model=tiny_model)
    c.compress(TEXT_A)
    costs = c.stats["surprisal"]
    assert b"".join(t for t, _ in costs) == TEXT_A
    assert sum(b for _, b in costs) == pytest.approx(c.stats["model_bits"], rel=1e-6)


def test_surprisal_spans_keep_split_characters_whole():
    tokens = [(b"a", 1.0), ("é".encode()[:1], 2.0), ("é".encode()[1:], 3.0), (b"<", 0.5)]
    assert surprisal.spans(tokens) == [("a", 1.0), ("é", 5.0), ("<", 0.5)]
    assert surprisal.colour(0) != surprisal.colour(20) and surprisal.colour(16) == surprisal.colour(40)


def test_cli_report_refuses_to_overwrite_and_reports_bad_input(tiny_model_dir, inputs, tmp_path):
    runner = CliRunner()
    out = tmp_path / "rep"
    args = ["report", *inputs, "-o", str(out), "-m", str(tiny_model_dir), "--jobs", "1", "--modes", "arithmetic,summary",
            "--prompt-tokens", "4", "--seeds", "1", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == set(OUTPUTS)
    before = (out / "report.json").read_bytes()
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "already exists; use -f" in again.output
    assert len(again.output.strip().splitlines()) == 1
    assert (out / "report.json").read_bytes() == before

    missing = runner.invoke(app, ["report", str(tmp_path / "nope.txt"), "-o", str(tmp_path / "r2"), "-q"])
    assert missing.exit_code == 1 and "nope.txt" in missing.output and not (tmp_path / "r2").exists()
    (tmp_path / "empty.txt").write_bytes(b"")
    empty = runner.invoke(app, ["report", str(tmp_path / "empty.txt"), "-o", str(tmp_path / "r3"), "-q"])
    assert empty.exit_code == 1 and "empty" in empty.output and not (tmp_path / "r3").exists()
    assert runner.invoke(app, ["report", inputs[0], "--modes", "zip"]).exit_code == 2
    assert runner.invoke(app, ["report", inputs[0], "--prompt-tokens", "0"]).exit_code == 2
    assert runner.invoke(app, ["report", inputs[0], "--fidelity", "0.9,x"]).exit_code == 2


@pytest.mark.slow
def test_parallel_jobs_give_the_same_rows(tiny_model_dir, inputs, tmp_path):
    """Worker processes (one model each) measure the same codecs with the same exact results."""
    config = ReportConfig(modes=("arithmetic", "summary"), prompt_tokens=(4,), jobs=2)
    rows = build(inputs, tmp_path / "par", config, str(tiny_model_dir))
    assert [(r.file, r.label) for r in rows] == [(f, label) for f in ("a.txt", "b.md")
                                                 for label in [*BASELINES, "arithmetic", "summary prompt_tokens=4, seeds=1",
                                                               "summary prompt_tokens=4, seeds=4"]]
    assert all(r.exact for r in rows if r.codec != "summary")
    assert (tmp_path / "par" / "surprisal.html").exists()
