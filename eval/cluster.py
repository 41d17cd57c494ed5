"""--ray against local runs: identical bytes, throughput per worker count, a killed worker.

    python eval/cluster.py --parts big,kill,files,select

Every run goes through the command line, one at a time (never two model jobs at once):
  big     the first --big-bytes of enwik8_1MB: a local `llmpack encode` (torch's threads),
          then `--ray --workers 1` and `--ray --workers 2` (local clusters of single-CPU
          workers); bytes compared, KB/s and the 2-worker/1-worker ratio printed.
  kill    the same input on 2 workers; --kill-after seconds in, one worker process that
          is coding a piece is killed (SIGKILL, by pid); the file must still be identical.
  files   --files inputs of --file-bytes each cut from `-r ../shared/corpus` (the first
          --file-bytes of each of its files, then the next --file-bytes of the large
          ones, in name order), encoded locally and with --ray (-r on a folder), then
          decoded with --ray: outputs compared file by file, round trips checked.
  select  --pool-size conversations of a ShareGPT file, `select --scorer lm` with and
          without --ray: the selections compared.
Wall-clock times include starting the cluster and loading the model in every worker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def llmpack(*args: str) -> float:
    """Run the CLI; return its wall time (exit on failure, with its output)."""
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "llmpack", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"llmpack {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return time.perf_counter() - t


def same(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


def busy_workers(task: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/cmdline").read_bytes().startswith(f"ray::{task}".encode()):
                    out.append(int(entry))
            except OSError:
                pass
    return out


def big(work: Path, size: int) -> None:
    src = work / "enwik.txt"
    src.write_bytes((CORPUS / "enwik8_1MB").read_bytes()[:size])
    kb = size / 1000
    t_local = llmpack("encode", "-q", "-f", "-o", str(work / "local.llmp"), str(src))
    print(f"local encode (torch threads: {os.cpu_count()}): {t_local:.1f} s, {kb / t_local:.3f} KB/s", flush=True)
    times = {}
    for n in (1, 2):
        out = work / f"ray{n}.llmp"
        times[n] = llmpack("encode", "-q", "-f", "--ray", "--workers", str(n), "-o", str(out), str(src))
        print(f"--ray --workers {n}: {times[n]:.1f} s, {kb / times[n]:.3f} KB/s, identical to local: "
              f"{same(out, work / 'local.llmp')}", flush=True)
    print(f"throughput 2 workers / 1 worker: {times[1] / times[2]:.2f}x; 2 workers / local: {t_local / times[2]:.2f}x; "
          f"{size} -> {(work / 'local.llmp').stat().st_size} bytes", flush=True)


def kill(work: Path, size: int, after: float) -> None:
    src = work / "enwik.txt"
    if not src.exists():
        src.write_bytes((CORPUS / "enwik8_1MB").read_bytes()[:size])
    if not (work / "local.llmp").exists():
        llmpack("encode", "-q", "-f", "-o", str(work / "local.llmp"), str(src))
    killed: list[int] = []

    def killer():
        time.sleep(after)
        while not killed:
            pids = busy_workers("code_pieces")
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.2)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    t = llmpack("encode", "-q", "-f", "--ray", "--workers", "2", "-o", str(work / "killed.llmp"), str(src))
    print(f"killed worker pid {killed[0] if killed else None} {after:.0f} s in; job finished in {t:.1f} s; "
          f"identical to local: {same(work / 'killed.llmp', work / 'local.llmp')}", flush=True)


def files(work: Path, count: int, size: int) -> None:
    names = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    cuts = [(p, 0) for p in names] + [(p, size) for p in names if p.stat().st_size >= 2 * size]
    here, there = work / "here", work / "there"
    for folder in (here, there):
        shutil.rmtree(folder, ignore_errors=True)
    for p, start in cuts[:count]:
        rel = p.relative_to(CORPUS)
        name = f"{rel.as_posix().replace('/', '__')}.{start // size}"
        for folder in (here, there):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(p.read_bytes()[start : start + size])
    total = sum(f.stat().st_size for f in here.iterdir())
    n = len(list(here.iterdir()))
    t_local = llmpack("encode", "-q", "-r", str(here))
    t_ray = llmpack("encode", "-q", "-r", "--ray", "--workers", "2", str(there))
    outs = sorted(p.name for p in here.glob("*.llmp"))
    identical = all(same(here / o, there / o) for o in outs)
    print(f"{n} files, {total} bytes: local encode {t_local:.1f} s ({total / 1000 / t_local:.3f} KB/s), --ray 2 workers "
          f"{t_ray:.1f} s ({total / 1000 / t_ray:.3f} KB/s); {len(outs)} outputs identical: {identical}; "
          f"compressed {sum((here / o).stat().st_size for o in outs)} bytes", flush=True)
    originals = {p.name: p.read_bytes() for p in there.iterdir() if not p.name.endswith(".llmp")}
    for name in originals:
        (there / name).unlink()
    t_dec = llmpack("decode", "-q", "-r", "--ray", "--workers", "2", str(there))
    exact = all((there / name).read_bytes() == data for name, data in originals.items())
    print(f"--ray decode of the {len(outs)} files: {t_dec:.1f} s ({total / 1000 / t_dec:.3f} KB/s); every round trip exact: "
          f"{exact}", flush=True)


def select(work: Path, size: int, pool_file: Path, budget: int, k: tuple[int, int, int]) -> None:
    import json

    pool = json.loads(pool_file.read_text(encoding="utf-8"))[:size]
    src = work / "pool.json"
    src.write_text(json.dumps(pool), encoding="utf-8")
    ks = ["--k1", str(k[0]), "--k2", str(k[1]), "--k3", str(k[2])]
    t_local = llmpack("select", str(src), "-n", str(budget), *ks, "--scorer", "lm", "-q", "-f",
                      "-o", str(work / "sel_local.json"))
    t_ray = llmpack(
        "select",
        str(src),
        "-n",
        str(budget),
        *ks,
        "--scorer",
        "lm",
        "-q",
        "-f",
        "--ray",
        "--workers",
        "2",
        "-o",
        str(work / "sel_ray.json"),
    )
    picked = json.loads((work / "sel_local.json").read_text())
    print(
        f"select --scorer lm on {len(pool)} conversations (budget {budget}, k1/k2/k3 {k}): local {t_local:.1f} s, "
        f"--ray 2 workers {t_ray:.1f} s; same selection: {same(work / 'sel_local.json', work / 'sel_ray.json')} "
        f"({len(picked)} samples)",
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="big,kill,files,select")
    ap.add_argument("--big-bytes", type=int, default=200_000)
    ap.add_argument("--kill-after", type=float, default=60.0)
    ap.add_argument("--files", type=int, default=30)
    ap.add_argument("--file-bytes", type=int, default=8000)
    ap.add_argument("--pool", type=Path, default=CORPUS / "sharegpt" / "llamafactory_glaive_toolcall_en_demo.json")
    ap.add_argument("--pool-size", type=int, default=200)
    ap.add_argument("--budget", type=int, default=6)
    ap.add_argument("--k", default="40,12,3", help="select's k1,k2,k3")
    ap.add_argument("--work", type=Path, default=None, help="folder for inputs and outputs [default: a temporary one]")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="llmpack-cluster-"))
    work.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    if "big" in parts:
        big(work, args.big_bytes)
    if "kill" in parts:
        kill(work, args.big_bytes, args.kill_after)
    if "files" in parts:
        files(work, args.files, args.file_bytes)
    if "select" in parts:
        select(work, args.pool_size, args.pool, args.budget, tuple(int(x) for x in args.k.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
