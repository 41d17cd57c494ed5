"""`llmpack report` on the real default model with a small real file."""

import json

from typer.testing import CliRunner

import llmpack
from llmpack.cli import app

from .common import NEEDS_MODEL, corpus

pytestmark = NEEDS_MODEL


def test_report_on_a_small_real_file_matches_llmpack_encode(tmp_path):
    data = corpus("canterbury/alice29.txt", 600)
    src = tmp_path / "alice.txt"
    src.write_bytes(data)
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(src), "-o", str(out), "--modes", "arithmetic,summary",
                                      "--prompt-tokens", "8", "--seeds", "1", "--jobs", "1", "-q"])
    assert result.exit_code == 0, result.output
    rows = {(d["codec"], d["setting"]): d for d in json.loads((out / "report.json").read_text())}
    arithmetic = rows[("arithmetic", "")]
    assert arithmetic["exact"] and arithmetic["compressed_bytes"] == len(llmpack.compress(data))
    assert arithmetic["bpb"] < rows[("xz", "-9e")]["bpb"]
    summary = rows[("summary", "prompt_tokens=8, seeds=1")]
    assert not summary["exact"] and 0 < summary["similarity"] < 1
    assert "Alice" in (out / "surprisal.html").read_text()
