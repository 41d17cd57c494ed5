"""`llmpack train`: dictionaries built from sample records."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import llmpack
from llmpack.cli import app
from llmpack.train import SEPARATOR, train

RECORDS = [b'{"id": %d, "name": "item %d", "tags": ["red", "blue"], "price": %d.99}' % (i, i, 10 + i) for i in range(8)]
ODD = b"An unrelated sentence about the weather, which no other sample resembles at all."


def test_the_most_typical_samples_go_last_and_duplicates_once():
    d = train([ODD] + RECORDS + [RECORDS[3]])
    parts = d.split(SEPARATOR)
    assert parts[0] == ODD and sorted(parts[1:]) == sorted(RECORDS)  # each record once, the odd one first


def test_the_size_cap_keeps_whole_samples_from_the_most_typical():
    d = train([ODD] + RECORDS, max_bytes=3 * len(RECORDS[0]) + 2 * len(SEPARATOR))
    parts = d.split(SEPARATOR)
    assert len(parts) == 3 and all(p in RECORDS for p in parts)
    assert len(train(RECORDS, max_bytes=10)) == 10  # one sample longer than the cap: its end
    with pytest.raises(llmpack.LLMPackError):
        train([b"", b""])


def test_train_on_the_command_line_and_use_the_dictionary(tmp_path, tiny_model_dir):
    files = []
    for i, r in enumerate(RECORDS):
        (tmp_path / f"r{i}.json").write_bytes(r)
        files.append(str(tmp_path / f"r{i}.json"))
    out = tmp_path / "records.dict"
    runner = CliRunner()
    r = runner.invoke(app, ["train", *files[1:], "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == train(RECORDS[1:])
    r = runner.invoke(app, ["train", *files[1:], "-o", str(out)])  # refuses to overwrite
    assert r.exit_code == 1 and "already exists" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = runner.invoke(app, ["train", str(tmp_path), "-o", str(tmp_path / "x.dict")])  # a folder without -r
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.dict").exists()
    r = runner.invoke(app, ["encode", files[0], "-D", str(out), "-m", str(tiny_model_dir), "--no-fallback", "-q"])
    assert r.exit_code == 0, r.output
    packed = tmp_path / "r0.json.llmp"
    (tmp_path / "r0.json").unlink()
    assert llmpack.inspect(packed.read_bytes())["dictionary"]  # the match model finds the other records in it
    r = runner.invoke(app, ["decode", str(packed), "-m", str(tiny_model_dir)])
    assert r.exit_code == 1 and "-D" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r0.json").exists()
    r = runner.invoke(app, ["decode", str(packed), "-D", str(out), "-m", str(tiny_model_dir)])
    assert r.exit_code == 0 and (tmp_path / "r0.json").read_bytes() == RECORDS[0]
