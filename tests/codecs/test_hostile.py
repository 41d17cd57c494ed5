"""Hostile files and a hostile environment: bounded work, nothing read or loaded because
a header says so, header text escaped, no side effects of importing llmpack."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import llmpack
from llmpack.cli import app
from llmpack.codecs.arithmetic import Params
from llmpack.coding.modelcoder import MODEL, Segment
from llmpack.coding import container
from llmpack.coding.container import Header, Writer
from llmpack.model.loading import REGISTRY
from formats import pack_old

SMOL = REGISTRY["smollm2-135m"]
OPENED: list[str] = []  # files opened by this process whose name has MARK in it (audit hook)
MARK = "llmpack-planted"


def _audit(event: str, args) -> None:
    if event == "open" and MARK in str(args[0]):
        OPENED.append(str(args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def no_model(monkeypatch):
    """Any model load fails the test: the refusals must come before one."""
    import llmpack.codecs.base as base

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(base, "load", refuse)
    monkeypatch.setattr(base, "for_file", refuse)


def _smol_file(mode: int, params: bytes, payload: bytes, original_size: int, version: int = 5, lossy: bool = False) -> bytes:
    header = Header(mode, container.FLAG_LOSSY if lossy else 0, original_size, b"" if lossy else b"\0" * 4,
                    SMOL.id, bytes.fromhex(SMOL.fingerprint), params, version=version)
    return container.pack(header, payload)


def _refused(tmp_path: Path, blob: bytes, *commands: list[str]) -> None:
    """Each command on the file: one line on stderr, exit 1, in well under a second,
    nothing written beside it."""
    path = tmp_path / "hostile.llmp"
    path.write_bytes(blob)
    for command in commands or (["info"], ["decode", "-k"]):
        t = time.perf_counter()
        r = CliRunner().invoke(app, [*command, str(path)])
        elapsed = time.perf_counter() - t
        assert r.exit_code == 1, (command, r.output)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "internal error" not in lines[0] and "Traceback" not in r.output, r.output
        assert elapsed < 1.0, (command, elapsed)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.llmp"]


def test_a_tiny_file_claiming_2_60_tokens_is_refused_at_once(tmp_path, no_model):
    params = Params(0, 5, b"", [Segment(MODEL, 0, 1 << 60, b"\x01" * 16)]).pack()
    blob = _smol_file(1, params, b"\x01" * 16, 1 << 40)
    assert len(blob) <= 50
    _refused(tmp_path, blob)
    with pytest.raises(llmpack.FormatError, match="more tokens than its payload can hold"):
        llmpack.inspect(blob)
    # fewer tokens, still more than 16 bytes can carry over any alphabet
    params = Params(0, 5, b"", [Segment(MODEL, 0, 1 << 30, b"\x01" * 16)]).pack()
    _refused(tmp_path, _smol_file(1, params, b"\x01" * 16, 1 << 30))


@pytest.mark.parametrize("mode", [0, 1, 2, 3, 4, 5])
def test_a_file_claiming_a_2_62_byte_original_is_refused_at_once(tmp_path, no_model, mode):
    blob = _smol_file(mode, b"\x00", b"x" * 20, 1 << 62, lossy=mode in (3, 5))
    _refused(tmp_path, blob)
    with pytest.raises(llmpack.FormatError, match="an original of"):
        llmpack.inspect(blob)


def test_an_original_too_big_for_its_payload_is_refused(tmp_path, no_model):
    """Under the absolute cap, but more than the payload can produce."""
    zstd = _smol_file(0, b"", llmpack.compress(b"abc" * 10, mode="zstd")[-20:], 1 << 39)
    _refused(tmp_path, zstd, ["decode", "-k"])
    params = Params(0, 5, b"", [Segment(MODEL, 0, 10, b"\x01" * 16)]).pack()
    _refused(tmp_path, _smol_file(1, params, b"\x01" * 16, 1 << 39))  # 10 tokens are not 2^39 bytes


def test_sections_with_more_tokens_than_the_original_has_bytes_are_refused(tmp_path, no_model):
    """A token is at least one byte: a semantic or summary header may not ask regeneration
    for more tokens than the original's bytes."""
    blob = _smol_file(3, _v4_semantic_params(n_tokens=61), b"", 60, version=4, lossy=True)
    _refused(tmp_path, blob)
    with pytest.raises(llmpack.FormatError, match="sections longer than the original"):
        llmpack.inspect(blob)
    assert llmpack.inspect(_smol_file(3, _v4_semantic_params(n_tokens=60), b"", 60, version=4, lossy=True))
    # found by test_fuzz: a 41-byte format 6 summary file, sections of 14, 14 and 2,773
    # tokens for a 160-byte original (it took the tiny model 6-7 s without the compiled core)
    forged = bytes.fromhex("4c4c4d500613a001015045e6eb546c2c4b13018f030e00af730e00af73d515004ea1020a0a7f40e956")
    _refused(tmp_path, forged)
    with pytest.raises(llmpack.FormatError, match="sections longer than the original"):
        llmpack.inspect(forged)


def _v4_semantic_params(condense: str = "condense-v1", regenerate: str = "regenerate-v1", temperature: int = 700,
                        top_k: int = 40, prompt: bytes = b"a prompt", n_tokens: int = 12) -> bytes:
    from llmpack.codecs.semantic_params import pack_small_v4
    from llmpack.model.exact.numerics import DEFAULT

    w = Writer().text(DEFAULT.tag()).varint(16).varint(1).u8(24)
    w.text(condense).u32(0x496910BA).text(regenerate).u32(0x714A8783)
    w.varint(6).varint(temperature).varint(top_k).raw(struct.pack("<f", 0.5))
    w.varint(1).varint(n_tokens).varint(0).u32(0)
    pack_small_v4(w, Writer().blob(prompt).getvalue())
    return w.getvalue()


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_template_ids_from_a_header_never_become_paths(tmp_path, no_model, where):
    from llmpack.semantic import templates

    planted = tmp_path / f"{MARK}.txt"
    planted.write_text("[system]\nleak\n[user]\nleak\n")
    target = str(tmp_path / MARK)
    ident = target if where == "absolute" else os.path.relpath(target, templates.prompts_dirs()[0])
    for params in (_v4_semantic_params(condense=ident), _v4_semantic_params(regenerate=ident)):
        blob = _smol_file(3, params, b"", 60, version=4, lossy=True)
        OPENED.clear()
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        (out / "hostile.llmp").write_bytes(blob)
        for command in (["info"], ["decode", "-k"]):
            r = CliRunner().invoke(app, [*command, str(out / "hostile.llmp")])
            assert r.exit_code == 1 and "unknown prompt template" in r.stderr, r.output
            assert "leak" not in r.output and len(r.stderr.strip().splitlines()) == 1
        assert OPENED == [], OPENED
        assert sorted(p.name for p in out.iterdir()) == ["hostile.llmp"]
    with pytest.raises(llmpack.FormatError, match="unknown prompt template"):
        templates.load(ident)
    assert OPENED == []


@pytest.mark.parametrize("temperature, top_k", [(0, 40), (700, 0), (10**9, 40), (700, 1 << 40)])
def test_format_4_sampling_out_of_range_is_a_format_error(tmp_path, no_model, temperature, top_k):
    blob = _smol_file(3, _v4_semantic_params(temperature=temperature, top_k=top_k), b"", 60, version=4, lossy=True)
    _refused(tmp_path, blob)
    with pytest.raises(llmpack.FormatError, match="sampling"):
        llmpack.inspect(blob)


def test_header_text_is_escaped_on_the_terminal(tmp_path, no_model):
    blob = _smol_file(3, _v4_semantic_params(prompt=b"\x1b[2J\x1b]0;owned\x07 hi\xe2\x80\xae"), b"", 60, version=4, lossy=True)
    path = tmp_path / "f.llmp"
    path.write_bytes(blob)
    r = CliRunner().invoke(app, ["info", str(path)])
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output and "\x07" not in r.output and "\u202e" not in r.output
    assert "\\x1b[2J" in r.output and "\\u202e" in r.output
    # error messages that quote a header too
    bad = _smol_file(1, Writer().u8(0).varint(5).varint(1).varint(3).getvalue(), b"", 3)
    numerics = Writer().u8(0).text("x2/\x1b[31mred").varint(1).varint(1).u8(24).varint(0).getvalue()
    old = pack_old(Header(1, 0, 3, b"\0" * 8, "", b"", numerics, version=3), b"")
    for blob in (bad, old):
        path.write_bytes(blob)
        r = CliRunner().invoke(app, ["info", str(path)])
        assert "\x1b" not in r.output and len(r.stderr.strip().splitlines()) <= 1, r.output


def test_bad_options_fail_before_any_model_loads(no_model):
    for options in ({"level": 12}, {"level": 0}, {"profile": 99}, {"min_segment_tokens": 0}):
        with pytest.raises(llmpack.LLMPackError):
            llmpack.compress(b"text", **options)
    for mode, options in (("semantic", {"seeds": 0}), ("semantic", {"seeds": 1000}), ("summary", {"max_section_tokens": 10**6}),
                          ("semantic", {"recipe": 99}), ("fidelity", {"level": 12}), ("fidelity", {"fidelity": 2.0})):
        with pytest.raises(llmpack.LLMPackError):
            llmpack.compress(b"text", mode=mode, **options)


def test_importing_llmpack_changes_nothing_in_the_process():
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "HF_HUB_OFFLINE",
                                                             "TRANSFORMERS_VERBOSITY")}
    code = ("import os, llmpack, llmpack.api, llmpack.cli; "
            "print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('HF_HUB_OFFLINE'), os.environ.get('TRANSFORMERS_VERBOSITY'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["None", "None", "None"]


# -- what llmpack loads from disk -------------------------------------------------------------
MARKER_C = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void mark(void) {
    const char *path = getenv("LLMPACK_TEST_MARKER");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) { fputs("constructor ran\n", f); fclose(f); }
}
int llmpack_core_version(void) { return -1; }
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to build the marker library")
def test_a_planted_core_library_is_never_loaded(tmp_path, monkeypatch):
    from llmpack.model.exact import core

    monkeypatch.delenv("LLMPACK_CORE", raising=False)  # the checks of a library found (LLMPACK_CORE=0 skips them)
    folder = tmp_path / "pkg"
    folder.mkdir(mode=0o755)
    lib = folder / "_core.so"
    (tmp_path / "marker.c").write_text(MARKER_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(tmp_path / "marker.c")], check=True)
    lib.chmod(0o755)
    marker = tmp_path / "marker"
    monkeypatch.setenv("LLMPACK_TEST_MARKER", str(marker))
    monkeypatch.setattr(core, "_path", lambda: lib)
    record = folder / core.HASH_FILE
    digest = hashlib.sha256(lib.read_bytes()).hexdigest()

    def loads() -> bool:
        core.library.cache_clear()
        core.library()
        ran = marker.exists()
        marker.unlink(missing_ok=True)
        return ran

    try:
        assert not loads() and "no recorded hash" in core.note  # nothing recorded
        record.write_text("0" * 64 + "  _core.so\n")
        assert not loads() and "not the library its build recorded" in core.note  # wrong hash
        record.write_text(f"{digest}  _core.so\n")
        lib.chmod(0o777)
        assert not loads() and "writable by others" in core.note  # right hash, writable by others
        lib.chmod(0o775)
        if os.geteuid() == 0:  # a group that is not ours
            os.chown(lib, -1, 4242)
            assert not loads() and "writable by others" in core.note
            os.chown(lib, -1, os.getegid())
        lib.chmod(0o755)
        folder.chmod(0o777)
        assert not loads() and "writable by others" in core.note  # its folder writable by others
        folder.chmod(0o755)
        assert loads() and "another version" in core.note  # private and recorded: this one is loaded
    finally:
        monkeypatch.undo()
        core.library.cache_clear()


def test_a_converted_model_others_could_write_is_not_loaded(tmp_path, tiny_model_dir, monkeypatch):
    from llmpack.config import user_dir
    from llmpack.errors import ModelError
    from llmpack.model import loading

    fp = bytes(range(8))
    folder = user_dir() / "models" / fp.hex()
    shutil.copytree(tiny_model_dir, folder)
    for p in [folder, *folder.iterdir()]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    (folder / "config.json").chmod(0o666)
    with pytest.raises(ModelError, match="writable by others"):
        loading.for_file("", fp)
    (folder / "config.json").chmod(0o644)
    assert loading.for_file("", fp).fingerprint == fp
    loading._LOADED.pop(fp, None)


def test_a_fingerprint_memo_others_could_write_is_ignored(tiny_model_dir):
    import json

    from llmpack.config import user_dir
    from llmpack.model import loading

    source = loading.resolve(str(tiny_model_dir))
    true = loading.fingerprint(source)
    memo_path = user_dir() / "fingerprints.json"
    bogus = json.dumps({k: "00" * 8 for k in json.loads(memo_path.read_text())})  # vouches for other weights
    memo_path.write_text(bogus)
    memo_path.chmod(0o666)
    assert loading.fingerprint(source) == true
    memo_path.write_text(bogus)
    memo_path.chmod(0o600)
    assert loading.fingerprint(source) == bytes(8)  # the memo is read where only its owner can write it
