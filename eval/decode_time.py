"""Time one decode of a .llmp file with whichever llmpack is on sys.path (the model is
loaded before timing), and check it against the original.

    python eval/decode_time.py FILE.llmp ORIGINAL
    python eval/decode_time.py out/levels/FILE_5000.L5.llmp FILE:5000   # eval/levels.py --save of FILE:5000
    PYTHONPATH=/tmp/old python eval/decode_time.py old.llmp ORIGINAL   # a worktree of an older commit

For side-by-side speed comparisons: run the old and the new decoder one after the other
in one shell command, never at the same time (two model jobs on 2 cores slow each other
20-50x).
"""

from __future__ import annotations

import os
import sys
import time

import llmpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import read_spec  # noqa: E402


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    blob = open(sys.argv[1], "rb").read()
    _, original = read_spec(sys.argv[2])
    lm = llmpack.Compressor().ctx.get_model()
    t = time.perf_counter()
    out = llmpack.Decompressor(model=lm).decompress(blob)
    dt = time.perf_counter() - t
    print(f"{sys.argv[1]}: llmpack from {llmpack.__file__}: {'identical' if out == original else 'DIFFERENT'}, "
          f"{dt:.1f} s, {len(original) / 1000 / dt:.2f} KB/s", flush=True)
    return 0 if out == original else 1


if __name__ == "__main__":
    sys.exit(main())
