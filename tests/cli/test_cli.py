"""The command line, through typer's CliRunner, on the tiny model saved as a folder."""

import json

import pytest
from typer.testing import CliRunner

from llmpack.cli import app

TEXT = b"Alice was beginning to get very tired of sitting by her sister on the bank.\n" * 8


@pytest.fixture
def run(tiny_model_dir):
    runner = CliRunner()

    def invoke(*args, input=None):
        argv = [str(a) for a in args]
        if argv[0] == "encode" and "--mode" not in argv:
            argv += ["-m", str(tiny_model_dir)]
        return runner.invoke(app, argv, input=input)

    return invoke


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_bytes(TEXT)
    return path


def test_encode_decode_round_trip_keeps_input(run, src, tmp_path):
    result = run("encode", src, "-q")
    assert result.exit_code == 0, result.output
    packed = tmp_path / "doc.txt.llmp"
    assert packed.exists() and src.exists()
    src.rename(tmp_path / "orig.txt")
    result = run("decode", packed, "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "doc.txt").read_bytes() == TEXT
    assert packed.exists()


def test_stdin_to_stdout(run):
    enc = run("encode", "-", "-c", input=TEXT)
    assert enc.exit_code == 0
    assert enc.stdout_bytes.startswith(b"LLMP")
    dec = run("decode", "-", input=enc.stdout_bytes)
    assert dec.exit_code == 0
    assert dec.stdout_bytes == TEXT


def test_output_option(run, src, tmp_path):
    out = tmp_path / "custom.bin"
    assert run("encode", src, "-o", out).exit_code == 0
    back = tmp_path / "back.txt"
    assert run("decode", out, "-o", back).exit_code == 0
    assert back.read_bytes() == TEXT


def test_refuses_to_overwrite_without_force(run, src, tmp_path):
    packed = tmp_path / "doc.txt.llmp"
    packed.write_bytes(b"precious")
    result = run("encode", src)
    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert packed.read_bytes() == b"precious"
    assert run("encode", src, "-f").exit_code == 0
    assert packed.read_bytes().startswith(b"LLMP")


def test_zstd_mode_needs_no_model(run, src, tmp_path):
    assert run("encode", src, "--mode", "zstd").exit_code == 0
    info = json.loads(run("info", tmp_path / "doc.txt.llmp", "--json").stdout)
    assert info["mode"] == "zstd" and info["model"] is None


def test_info_json_fields(run, src, tmp_path):
    assert run("encode", src).exit_code == 0
    result = run("info", tmp_path / "doc.txt.llmp", "--json")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    for key in ("mode", "lossy", "original_size", "compressed_size", "model"):
        assert key in info
    assert info["mode"] == "arithmetic" and info["lossy"] is False and info["original_size"] == len(TEXT)
    assert info["compressed_size"] == (tmp_path / "doc.txt.llmp").stat().st_size
    human = run("info", tmp_path / "doc.txt.llmp")
    assert "original_size:" in human.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not an llmpack file"),
        (b"hello, this is plain text", "not an llmpack file"),
        (b"LLMP\x01", "truncated"),
    ],
)
def test_bad_input_gives_one_line_and_no_output(run, tmp_path, content, message):
    bad = tmp_path / "bad.llmp"
    bad.write_bytes(content)
    result = run("decode", bad)
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith(f"llmpack: {bad}: ") and message in result.stderr
    assert not (tmp_path / "bad").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.llmp"]


def test_corrupt_payload_leaves_no_output(run, src, tmp_path):
    assert run("encode", src).exit_code == 0
    packed = tmp_path / "doc.txt.llmp"
    data = bytearray(packed.read_bytes())
    data[-2] ^= 0xFF
    packed.write_bytes(bytes(data))
    src.unlink()
    result = run("decode", packed)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert not src.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["doc.txt.llmp"]


def test_truncated_file(run, src, tmp_path):
    assert run("encode", src).exit_code == 0
    packed = tmp_path / "doc.txt.llmp"
    packed.write_bytes(packed.read_bytes()[:-5])
    result = run("decode", packed, "-o", tmp_path / "out.txt")
    assert result.exit_code == 1 and "truncated" in result.stderr
    assert not (tmp_path / "out.txt").exists()


def test_decode_needs_suffix_or_output(run, src):
    result = run("decode", src)
    assert result.exit_code == 2 and "unknown suffix" in result.stderr  # a warning, as gzip


def test_missing_input(run, tmp_path):
    result = run("encode", tmp_path / "nope.txt")
    assert result.exit_code == 1
    assert "No such file" in result.stderr


def test_unknown_model_is_one_line(tmp_path, src):
    result = CliRunner().invoke(app, ["encode", str(src), "-m", "no-such-model"])
    assert result.exit_code == 1
    assert "unknown model 'no-such-model'" in result.stderr
    assert not (tmp_path / "doc.txt.llmp").exists()


def test_usage_errors_exit_2(run, src):
    assert run("encode", src, "--mode", "nonsense").exit_code == 2
    assert run("encode", src, "--no-such-flag").exit_code == 2
    result = run("frobnicate")  # gzip style: a file name, not a command
    assert result.exit_code == 1 and "frobnicate: No such file" in result.stderr


def test_already_compressed_suffix_is_refused(run, src, tmp_path):
    assert run("encode", src).exit_code == 0
    result = run("encode", tmp_path / "doc.txt.llmp")
    assert result.exit_code == 2 and "already has the .llmp suffix" in result.stderr  # a warning, as gzip


def test_models_lists_the_default(run):
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0
    assert "smollm2-135m (default)" in result.stdout


def test_closed_stdout_pipe_stops_quietly(tmp_path):
    """`llmpack decode -c FILE | head -c 10`: no error line, exit 141 (as a shell reports for cat)."""
    import os
    import subprocess
    import sys

    import llmpack

    packed = tmp_path / "data.llmp"
    packed.write_bytes(llmpack.compress(b"some bytes " * 1000, mode="zstd"))
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before llmpack writes anything
    try:
        proc = subprocess.run([sys.executable, "-m", "llmpack", "decode", "-c", str(packed)],
                              stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    assert proc.returncode == 141
    assert proc.stderr == b""


def test_doctor_names_the_backend_and_numerics(run, tiny_model_dir, monkeypatch):
    from llmpack.model.exact import DEFAULT, backends

    monkeypatch.setattr(backends, "_has_int8_units", lambda: False)  # as on an AVX2-only CPU
    monkeypatch.setattr("llmpack.model.loading._LOADED", {})  # no engine built earlier in this process
    result = run("doctor", "-m", tiny_model_dir)
    assert result.exit_code == 0, result.output
    assert f"numerics: {DEFAULT.tag()}" in result.output
    assert "backend: portable" in result.output and "no AVX512-VNNI or AMX" in result.output
    from llmpack.model.exact import core

    assert f"compiled core: {core.note}\n" in result.output and core.note != "not loaded yet"
    assert run("doctor", "-m", "/no/such/model").exit_code == 1


def test_device_option(run, src, tmp_path, tiny_model_dir):
    import torch

    packed = tmp_path / "cpu.llmp"
    assert run("encode", src, "-q", "--device", "cpu", "-o", packed).exit_code == 0
    result = run("decode", packed, "-c", "-q", "--device", "cpu", "-m", tiny_model_dir)
    assert result.exit_code == 0 and result.stdout_bytes == TEXT
    assert run("encode", src, "-q", "--device", "tpu", "-o", tmp_path / "x.llmp").exit_code == 2
    if not torch.cuda.is_available():
        result = run("decode", packed, "-c", "-q", "--device", "cuda", "-m", tiny_model_dir)
        assert result.exit_code == 1 and "no CUDA device" in result.output


def test_levels_and_dictionary_on_the_command_line(run, src, tmp_path):
    """-1 .. -9 (also combined, -9c) and --level set the profile; -D primes encode and decode."""
    import llmpack
    from llmpack.config import LEVELS

    for args, level in ((["-1"], 1), (["--level", "7"], 7), (["-9"], 9)):
        out = tmp_path / f"l{level}.llmp"
        result = run("encode", src, *args, "-o", out)
        assert result.exit_code == 0, result.output
        assert llmpack.inspect(out.read_bytes())["profile"] == LEVELS[level].profile
    primer = tmp_path / "primer.txt"
    primer.write_bytes(TEXT[:200])
    result = run("encode", src, "-D", primer, "-o", tmp_path / "d.llmp")
    assert result.exit_code == 0, result.output
    assert run("decode", tmp_path / "d.llmp", "-D", primer, "-c").stdout_bytes == TEXT
    missing = run("decode", tmp_path / "d.llmp", "-c")
    assert missing.exit_code == 1 and "-D" in missing.stderr and missing.stdout_bytes == b""
    assert run("encode", src, "--mode", "zstd", "-9", "-c").exit_code == 2  # levels are arithmetic's
    assert run("encode", src, "-D", tmp_path / "nope", "-c").exit_code == 2
