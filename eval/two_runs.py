"""Two llmpack processes sharing the machine: each should keep a fair share of a lone run's speed.

    python eval/two_runs.py [--bytes 32000] FILE [FILE2]

Times `llmpack encode` of the first N bytes of FILE alone, then two encodes at once (FILE
and FILE2, default the same file), each in its own process with default threads, and
prints the wall times and the ratio (the issue's bar: both finish within 3x the lone time).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def encode_cmd(src: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "llmpack", "encode", "-q", "-f", str(src), "-o", str(out)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("file2", nargs="?")
    ap.add_argument("--bytes", type=int, default=32000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        srcs = []
        for k, name in enumerate((args.file, args.file2 or args.file)):
            path = tmp / f"in{k}.txt"
            path.write_bytes(Path(name).read_bytes()[: args.bytes])
            srcs.append(path)
        start = time.perf_counter()
        subprocess.run(encode_cmd(srcs[0], tmp / "alone.llmp"), check=True)
        alone = time.perf_counter() - start
        start = time.perf_counter()
        procs = [subprocess.Popen(encode_cmd(s, tmp / f"pair{k}.llmp")) for k, s in enumerate(srcs)]
        ends = []
        for p in procs:
            p.wait()
            ends.append(time.perf_counter() - start)
        if any(p.returncode for p in procs):
            sys.exit("an encode failed")
    print(f"alone: {alone:.1f} s; two at once: {ends[0]:.1f} s and {ends[1]:.1f} s "
          f"({max(ends) / alone:.2f}x the lone time; the bar is 3x)")


if __name__ == "__main__":
    main()
