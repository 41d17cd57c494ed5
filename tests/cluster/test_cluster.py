"""--ray: model work spread over a local Ray cluster gives the bytes of a local run.

One local cluster of two single-CPU workers serves the whole module (starting one takes
seconds); the tiny model is loaded by the workers from its folder. The module checks at
the end that no Ray process is left behind.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("ray", reason="the Ray extra is not installed (pip install 'llmpack[ray]')")
pytestmark = pytest.mark.slow  # a local Ray cluster per module

import llmpack  # noqa: E402
from llmpack import select as zs  # noqa: E402
from llmpack.cli import app  # noqa: E402
from llmpack.cli.group import gzip_args  # noqa: E402
from llmpack.cluster import connect, jobs  # noqa: E402
from llmpack.cluster.pool import failure  # noqa: E402
from llmpack.errors import LLMPackError  # noqa: E402
from machines import CORPUS  # noqa: E402

ALICE = (CORPUS / "canterbury" / "alice29.txt").read_bytes()[:6000] if (CORPUS / "canterbury").is_dir() else \
    b"Alice was beginning to get very tired of sitting by her sister on the bank.\n" * 80
LEVEL_1 = {"level": 1, "fallback": False}  # 256-token segments: the input is cut into many pieces


def ray_processes() -> list[int]:
    """Pids of Ray's own processes (raylet, GCS, workers) on this machine."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"raylet" in cmd or b"gcs_server" in cmd or cmd.startswith(b"ray::"):
                pids.append(int(entry))
    return pids


@pytest.fixture(scope="module")
def pool():
    before = set(ray_processes())
    with connect("local", workers=2) as p:
        yield p
    time.sleep(1)  # shutdown signals the processes; give them a moment to exit
    assert set(ray_processes()) <= before, "Ray processes were left running"


def test_arithmetic_file_is_spread_by_segment_and_identical(pool, tiny_model_dir):
    local = llmpack.Compressor(model=tiny_model_dir, **LEVEL_1).compress(ALICE)
    done = []
    pool.progress = done.append
    try:
        blob = jobs.encode(pool, ALICE, "arithmetic", tiny_model_dir, LEVEL_1)
    finally:
        pool.progress = None
    assert blob == local
    assert llmpack.inspect(blob)["segments"] > 2 and len(done) == llmpack.inspect(blob)["segments"]  # a task per piece
    assert sum(done) == len(ALICE.replace(b"\r\n", b"\n"))  # progress counts every (normalised) byte
    assert jobs.decode(pool, blob, tiny_model_dir, "auto", None) == ALICE


def test_dictionary_travels_to_the_workers(pool, tiny_model_dir):
    primer = ALICE[:3000] + ALICE[3000:]  # holds the text: profile 5's match model finds it
    options = dict(LEVEL_1, profile=5, dictionary=primer)
    local = llmpack.Compressor(model=tiny_model_dir, **options).compress(ALICE[:3000])
    blob = jobs.encode(pool, ALICE[:3000], "arithmetic", tiny_model_dir, options)
    assert blob == local and llmpack.inspect(blob)["dictionary"]
    assert jobs.decode(pool, blob, tiny_model_dir, "auto", primer) == ALICE[:3000]
    with pytest.raises(LLMPackError, match="dictionary"):
        jobs.decode(pool, blob, tiny_model_dir, "auto", None)


@pytest.mark.parametrize("mode", ["summary", "semantic"])
def test_other_modes_run_a_whole_file_per_task(pool, tiny_model_dir, mode):
    options = {"fallback": False} if mode == "semantic" else {}
    text = ALICE[:1200]
    local = llmpack.Compressor(mode=mode, model=tiny_model_dir, **options).compress(text)
    blob = jobs.encode(pool, text, mode, tiny_model_dir, options)
    assert blob == local
    assert jobs.decode(pool, blob, tiny_model_dir, "auto", None) == llmpack.decompress(local, model=tiny_model_dir)


def test_files_decoded_together_share_tasks_and_fail_alone(pool, tiny_model_dir):
    """Segments of files that arrive together are stepped in the same tasks; a file whose
    segment fails in a worker fails alone, the others still decode."""
    from concurrent.futures import ThreadPoolExecutor

    from llmpack.coding import container, profiles
    from llmpack.codecs.arithmetic import Params
    from llmpack.codecs.base import Context
    from llmpack.coding.modelcoder import ModelCoder

    texts = [ALICE[1000 * i: 1000 * i + 900] for i in range(4)]
    blobs = [llmpack.Compressor(model=tiny_model_dir, **LEVEL_1).compress(t) for t in texts]
    files = []
    for blob in blobs:
        header, payload = container.unpack(blob)
        files.append(Params.unpack(header.params, header.original_size, payload, header.version))
    files[2].segments[0].payload = b"bad"  # not whole 32-bit words: the worker's decoder refuses it
    ctx = Context(model_name=str(tiny_model_dir), pool=pool)
    lm = ctx.get_model()
    coder = ModelCoder()
    submitted = []
    real_run = pool.run

    def counting_run(name, calls, done):
        submitted.append((name, sum(len(c[3]) for c in calls)))
        return real_run(name, calls, done)

    pool.run = counting_run
    try:
        with ThreadPoolExecutor(4) as ex:
            futures = [ex.submit(pool.decode_segments, ctx, lm, coder, profiles.get(p.profile), p.segments, None) for p in files]
        outcomes = []
        for f in futures:
            try:
                outcomes.append(b"".join(f.result()))
            except LLMPackError as exc:
                outcomes.append(exc)
    finally:
        del pool.run
    assert submitted[0] == ("decode_segments", sum(len(p.segments) for p in files))  # one batch of all four files
    assert isinstance(outcomes[2], LLMPackError) and "32-bit words" in str(outcomes[2])
    for i in (0, 1, 3):
        assert outcomes[i] == texts[i].replace(b"\r\n", b"\n")


def test_a_worker_error_comes_back_as_one_llmpack_error(pool, tmp_path):
    with pytest.raises(LLMPackError, match="cannot load model|not found|no-such"):
        jobs.encode(pool, b"some text " * 50, "arithmetic", str(tmp_path / "no-such-model"), {})


def test_failures_other_than_llmpack_errors_become_one_line():
    class Crash(Exception):
        pass

    exc = Crash("worker died\nstack trace line")
    assert str(failure(exc)).count("\n") == 0 and "worker died" in str(failure(exc))
    wrapped = Crash("task failed")
    wrapped.cause = ValueError("bad value\nmore")
    assert str(failure(wrapped)) == "a cluster worker failed: ValueError: bad value"
    wrapped.cause = LLMPackError("clear reason")
    assert failure(wrapped) is wrapped.cause


def test_killed_worker_costs_only_its_task(pool, tiny_model_dir):
    """Kill worker processes while they code pieces: Ray reruns those tasks, the file is the same."""
    text = ALICE * 3
    local = llmpack.Compressor(model=tiny_model_dir, **LEVEL_1).compress(text)
    killed: list[int] = []

    def killer():
        deadline = time.time() + 60
        while time.time() < deadline and len(killed) < 2:
            for pid in ray_processes():
                try:
                    busy = Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::code_pieces")
                except OSError:
                    continue
                if busy and pid not in killed:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
            time.sleep(0.01)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        blob = jobs.encode(pool, text, "arithmetic", tiny_model_dir, LEVEL_1)
    finally:
        thread.join()
    assert killed, "no worker was seen coding a piece"
    assert blob == local


def test_lm_scorer_on_the_cluster_scores_and_selects_the_same(pool, tiny_model, tiny_model_dir):
    pool_samples = [{"id": i, "conversations": [{"from": "human", "value": ALICE[300 * i: 300 * i + 150].decode("latin-1")},
                                                {"from": "gpt", "value": ALICE[300 * i + 150: 300 * i + 300].decode("latin-1")}]}
                    for i in range(12)]
    texts = [zs.sample_bytes(s) for s in pool_samples]
    here = zs.LMScorer(texts, model=tiny_model_dir)
    there = zs.LMScorer(texts, model=tiny_model_dir, pool=pool)
    assert list(here.scores([3, 1], list(range(12)))) == list(there.scores([3, 1], list(range(12))))
    assert zs.select(pool_samples, 4, 6, 4, 2, here) == zs.select(pool_samples, 4, 6, 4, 2, there)


# -- the command line -----------------------------------------------------------------------
def test_bare_ray_never_takes_a_file_as_its_address():
    assert gzip_args(["encode", "--ray", "a.txt"], {"encode": None}) == ["encode", "--ray=local", "a.txt"]
    assert gzip_args(["encode", "--ray"], {"encode": None}) == ["encode", "--ray=local"]
    assert gzip_args(["encode", "--ray", "auto", "a.txt"], {"encode": None}) == ["encode", "--ray", "auto", "a.txt"]
    assert gzip_args(["--ray", "10.0.0.5:6379", "a.txt"], {"encode": None}) == ["encode", "--ray", "10.0.0.5:6379", "a.txt"]
    assert gzip_args(["encode", "--", "--ray"], {"encode": None}) == ["encode", "--", "--ray"]


def test_cli_encodes_and_decodes_many_files_on_a_cluster(pool, tiny_model_dir, tmp_path):
    """The command line with --ray (this process's Ray connection, the module's cluster, is used as it is)."""
    here, there = tmp_path / "here", tmp_path / "there"
    for folder in (here, there):
        (folder / "sub").mkdir(parents=True)
        for i in range(4):
            (folder / "sub" / f"part{i}.txt").write_bytes(ALICE[1500 * i: 1500 * (i + 1)])
        (folder / "empty.txt").write_bytes(b"")
        os.utime(folder / "empty.txt", (1_000_000_000, 1_000_000_000))
    base = ["-m", str(tiny_model_dir), "-q", "-1", "--no-fallback", "-r"]
    runner = CliRunner()
    assert runner.invoke(app, ["encode", *base, str(here)]).exit_code == 0
    r = runner.invoke(app, ["encode", *base, "--ray", "auto", str(there)])
    assert r.exit_code == 0, r.output
    outputs = sorted(p.relative_to(here) for p in here.rglob("*.llmp"))
    assert len(outputs) == 5
    for rel in outputs:
        assert (here / rel).read_bytes() == (there / rel).read_bytes(), rel
    assert os.stat(there / "empty.txt.llmp").st_mtime == 1_000_000_000  # the input's mtime, as locally

    for rel in outputs:  # decode on the cluster, next to the originals
        (there / rel.with_suffix("")).rename(there / (str(rel.with_suffix("")) + ".orig"))
    (there / "sub" / "part2.txt.llmp").write_bytes(b"LLMP broken")
    r = runner.invoke(app, ["decode", "-m", str(tiny_model_dir), "-q", "-r", "--ray", "auto", str(there)])
    assert r.exit_code == 1
    assert "part2.txt.llmp" in r.output and "1 of 5 inputs failed" in r.output
    assert not (there / "sub" / "part2.txt").exists()  # no partial output
    for rel in outputs:
        name = str(rel.with_suffix(""))
        if "part2" not in name:
            assert (there / name).read_bytes() == (there / (name + ".orig")).read_bytes()


def test_cli_refuses_what_ray_cannot_do(tmp_path):
    src = tmp_path / "a.txt"
    src.write_bytes(b"hello")
    r = CliRunner().invoke(app, ["encode", "--workers", "2", str(src)])
    assert r.exit_code == 2 and "--ray" in r.output
    pool_file = tmp_path / "pool.json"
    pool_file.write_text('[{"conversations": [{"from": "human", "value": "hi"}]}]')
    r = CliRunner().invoke(app, ["select", str(pool_file), "-n", "1", "--ray"])
    assert r.exit_code == 2 and "--scorer lm" in r.output
    assert not (tmp_path / "a.txt.llmp").exists()


def test_missing_ray_says_how_to_install(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    src = tmp_path / "a.txt"
    src.write_bytes(b"hello")
    r = CliRunner().invoke(app, ["encode", "--ray", str(src)])
    assert r.exit_code == 1 and "pip install 'llmpack[ray]'" in r.output
    assert not (tmp_path / "a.txt.llmp").exists()
