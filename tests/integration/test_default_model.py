"""Round trips on the real default model (SmolLM2-135M-Instruct) with small real inputs."""

import json
import os
import lzma

import pytest
from typer.testing import CliRunner

import llmpack
from llmpack.cli import app
from llmpack.model.loading import load

from .common import NEEDS_MODEL, corpus

pytestmark = NEEDS_MODEL


@pytest.fixture(scope="module")
def pair():
    lm = load(None)  # the default model, loaded once for the module
    return llmpack.Compressor(model=lm), llmpack.Decompressor(model=lm)


def round_trip(pair, data: bytes) -> bytes:
    c, d = pair
    blob = c.compress(data)
    assert d.decompress(blob) == data
    return blob


def test_english_prose_beats_xz(pair):
    data = corpus("canterbury/alice29.txt", 2500)
    blob = round_trip(pair, data)
    assert len(blob) < len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)) / 1.8
    info = llmpack.inspect(blob)
    assert info["model"] == "smollm2-135m" and info["newlines"] == "crlf"
    assert info["segment_methods"] == {"model": info["segments"]}


@pytest.mark.parametrize(
    "name", ["code_docs/requests_models.py", "multilingual/llamafactory_README_zh.md", "data/vega_seattle-weather.csv"]
)
def test_other_kinds_of_text(pair, name):
    round_trip(pair, corpus(name, 1200))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"caf\xc3\xa9 \xff\xfe\xfd invalid UTF-8\r\nand CRLF\r\nlines, <|im_start|> too\r\n",
        b"mixed\r\nnewlines\nhere\x00\x04",
    ],
    ids=["empty", "invalid-utf8-crlf", "mixed-newlines-control-bytes"],
)
def test_edge_cases(pair, data):
    round_trip(pair, data)


def test_random_bytes_fall_back_without_growing_much(pair):
    data = os.urandom(4096)
    blob = round_trip(pair, data)
    assert llmpack.inspect(blob)["mode"] == "stored"  # the whole-file fallback: no model needed to decode
    assert len(blob) <= len(data) + 24


def test_cli_with_the_default_model(tmp_path):
    src = tmp_path / "alice.txt"
    src.write_bytes(corpus("canterbury/alice29.txt", 800))
    runner = CliRunner()
    assert runner.invoke(app, ["encode", str(src), "-q"]).exit_code == 0
    info = json.loads(runner.invoke(app, ["info", str(tmp_path / "alice.txt.llmp"), "--json"]).stdout)
    assert info["mode"] == "arithmetic" and info["model"] == "smollm2-135m" and info["original_size"] == 800
    out = tmp_path / "back.txt"
    result = runner.invoke(app, ["decode", str(tmp_path / "alice.txt.llmp"), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes() == src.read_bytes()


def test_models_command_sees_the_installed_default():
    result = CliRunner().invoke(app, ["models"])
    assert "smollm2-135m (default)" in result.stdout and "installed" in result.stdout


@pytest.mark.parametrize("name", ["empty", "1 byte", "32 bytes", "300 bytes", "1 KB random"])
def test_small_inputs_cost_little(pair, name):
    """Never more than 24 bytes over zstd -19 (as its command line writes it, with a
    checksum); an empty input in at most 16 bytes; a model-coded file's header at most
    24 bytes over its range-coded payload."""
    import random

    import zstandard

    from llmpack.coding import container

    text = corpus("canterbury/alice29.txt", 2000)[1000:]
    data = {
        "empty": b"",
        "1 byte": b"A",
        "32 bytes": text[:32],
        "300 bytes": text[:300],
        "1 KB random": random.Random(7).randbytes(1024),
    }[name]
    blob = round_trip(pair, data)
    zstd19 = zstandard.ZstdCompressor(level=19, write_checksum=True).compress(data)
    assert len(blob) <= len(zstd19) + 24
    if not data:
        assert len(blob) <= 16
    header, payload = container.unpack(blob)
    if header.mode == 1:
        assert len(blob) - len(payload) <= 24
    if name == "300 bytes":
        assert header.mode == 1 and llmpack.inspect(blob)["model"] == "smollm2-135m"
