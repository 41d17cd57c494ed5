"""What a gzip/zstd user expects of the command line: metadata kept, the input never
overwritten, errors naming the right file, gzip-style invocations, skipped special files,
one-line usage errors. Mostly zstd mode, so that no model is needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

import llmpack
from llmpack.cli import app, paths
from machines import ROOT

TEXT = b"The same line, over and over, compresses well enough.\n" * 40


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


@pytest.fixture
def private(tmp_path):
    """A 0600 file with an old modification time."""
    path = tmp_path / "secret.txt"
    path.write_bytes(TEXT)
    path.chmod(0o600)
    os.utime(path, (1_500_000_000, 1_600_000_000))
    return path


def test_mode_and_mtime_are_kept_both_ways(private, tmp_path):
    assert run("encode", "--mode", "zstd", private).exit_code == 0
    packed = tmp_path / "secret.txt.llmp"
    assert packed.stat().st_mode & 0o777 == 0o600 and packed.stat().st_mtime == 1_600_000_000
    private.unlink()
    assert run("decode", packed).exit_code == 0
    assert private.read_bytes() == TEXT
    assert private.stat().st_mode & 0o777 == 0o600 and private.stat().st_mtime == 1_600_000_000


def test_output_is_never_wider_than_the_input_even_while_written(private, monkeypatch):
    from llmpack import files

    created = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *a, **k):
        if flags & os.O_CREAT:
            created.append(mode)
        return real_open(path, flags, mode, *a, **k)

    monkeypatch.setattr(files.os, "open", spy)
    assert run("encode", "--mode", "zstd", private).exit_code == 0
    assert created and all(m & ~0o600 == 0 for m in created)


def test_output_naming_the_input_is_refused_even_with_force(private, tmp_path):
    for target in (private, tmp_path / "link.txt"):
        if target != private:
            target.symlink_to(private)
        result = run("encode", "--mode", "zstd", private, "-o", target, "-f")
        assert result.exit_code == 1 and "is the input file" in result.stderr
        assert private.read_bytes() == TEXT


def test_errors_about_the_output_name_the_output(private, tmp_path):
    result = run("encode", "--mode", "zstd", private, "-o", tmp_path / "nodir" / "x.llmp")
    assert result.exit_code == 1 and f"{tmp_path / 'nodir' / 'x.llmp'}: No such directory" in result.stderr
    (tmp_path / "adir").mkdir()
    result = run("encode", "--mode", "zstd", private, "-o", tmp_path / "adir", "-f")
    assert result.exit_code == 1 and f"{tmp_path / 'adir'}: is a directory" in result.stderr
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


def test_gzip_style_invocations(private, tmp_path):
    other = tmp_path / "other.txt"
    other.write_bytes(b"second file\n")
    result = run("--mode", "zstd", "-v", private, other)  # llmpack FILE... means encode
    assert result.exit_code == 0, result.output
    assert "->" in result.stderr  # -v: sizes per file
    assert (tmp_path / "other.txt.llmp").exists()
    private.unlink()
    result = run("-dc", tmp_path / "secret.txt.llmp")
    assert result.exit_code == 0 and result.stdout_bytes == TEXT
    assert run("-d", "--rm", tmp_path / "secret.txt.llmp").exit_code == 0
    assert private.read_bytes() == TEXT and not (tmp_path / "secret.txt.llmp").exists()
    assert run("-V").output.startswith("llmpack ")
    assert run("--version").exit_code == 0


def test_recursive_walks_folders_and_plain_folders_are_skipped(tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"a\n")
    (tree / "sub" / "b.txt").write_bytes(b"b\n")
    result = run("--mode", "zstd", tree)
    assert result.exit_code == 2 and "is a directory" in result.stderr  # a warning, as gzip
    assert run("--mode", "zstd", "-r", tree).exit_code == 0
    assert (tree / "a.txt.llmp").exists() and (tree / "sub" / "b.txt.llmp").exists()
    for p in ("a.txt", "sub/b.txt"):
        (tree / p).unlink()
    assert run("-d", "-r", tree).exit_code == 0
    assert (tree / "sub" / "b.txt").read_bytes() == b"b\n"


def test_several_files_go_on_after_a_failure(private, tmp_path):
    result = run("--mode", "zstd", tmp_path / "missing.txt", private)
    assert result.exit_code == 1 and "missing.txt" in result.stderr
    assert (tmp_path / "secret.txt.llmp").exists()


def test_special_files_are_skipped_and_a_terminal_is_not_read(tmp_path, monkeypatch):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = run("--mode", "zstd", fifo)
    assert result.exit_code == 2 and "not a regular file" in result.stderr
    assert not (tmp_path / "pipe.llmp").exists()
    monkeypatch.setattr(paths, "_terminal", lambda stream: True)
    result = run("decode")
    assert result.exit_code == 1 and "terminal" in result.stderr


def test_usage_errors_are_one_line_with_a_hint(private):
    for args in (["encode", "--mode", "nonsense", private], ["select", "pool.json", "--budget", "0"], ["--no-such-flag"]):
        result = run(*args)
        assert result.exit_code == 2, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("llmpack: ") and "--help" in lines[0], result.stderr


def test_help_lists_choices_and_defaults():
    text = run("encode", "--help").output
    for word in ("arithmetic, semantic, summary, fidelity, zstd", "model, diff, lm or auto", "[default: arithmetic]"):
        assert word in " ".join(text.split()), word


def test_info_is_plain_text_and_checks_the_file(tmp_path):
    import llmpack

    packed = tmp_path / "f.llmp"
    packed.write_bytes(llmpack.compress(TEXT, mode="zstd"))
    out = run("info", packed).output
    assert out.splitlines()[0].split() == ["lossy:", "no"]
    assert "None" not in out and "{" not in out
    packed.write_bytes(packed.read_bytes()[:-3])
    result = run("info", packed)
    assert result.exit_code == 1 and "truncated" in result.stderr


def _no_heavy_imports(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint([m for m in ('torch', 'transformers') if m in sys.modules])"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_help_info_and_models_do_not_import_torch(tmp_path):
    import llmpack

    packed = tmp_path / "f.llmp"
    packed.write_bytes(llmpack.compress(TEXT, mode="zstd"))
    for argv in (["--help"], ["info", str(packed)], ["models"], ["-V"]):
        code = f"from llmpack.cli import app\ntry:\n    app({argv!r})\nexcept SystemExit:\n    pass"
        assert _no_heavy_imports(code) == "[]", argv


def test_ctrl_c_is_one_line_and_exit_130():
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmpack", "encode", "--mode", "zstd", "-c"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # a background job inherits an ignored SIGINT; a user's terminal never does
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(2)  # starting up or blocked reading stdin: either way Ctrl-C must be one line
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.decode().strip() == "llmpack: interrupted"


def test_which_option_goes_with_which_mode_comes_from_the_configs(private):
    """An option a mode's config does not declare is a usage error naming the modes that take it."""
    for args, hint, takers in (
        (["--mode", "zstd", "-L", "3"], "--level", "arithmetic or fidelity"),
        (["--seeds", "2"], "--seeds", "semantic or summary"),
        (["--mode", "summary", "--residual", "diff"], "--residual", "semantic only"),
        (["--mode", "semantic", "-D", private], "-D/--dict", "arithmetic only"),
    ):
        result = run("encode", *args, private)
        assert result.exit_code == 2, (args, result.output)
        assert hint in result.stderr and takers in result.stderr, result.stderr
    with pytest.raises(llmpack.LLMPackError, match="has no option residual"):
        llmpack.Compressor(mode="summary", residual="diff")
