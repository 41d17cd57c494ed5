"""Encode then decode one file, for comparing two checkouts side by side in one run.

    git worktree add /tmp/before COMMIT    # copy the built _core*.so and _core.sha256 in if C is unchanged
    for i in 1 2; do
        PYTHONPATH=/tmp/before python eval/side_by_side.py FILE [MAX_BYTES]
        python eval/side_by_side.py FILE [MAX_BYTES]
    done

Prints which llmpack ran, the file's size and both directions' times (the model loaded
and warmed first); run alone: two model jobs at once slow each other many times over.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import llmpack


def main() -> int:
    path = Path(sys.argv[1])
    data = path.read_bytes()[: int(sys.argv[2])] if len(sys.argv) > 2 else path.read_bytes()
    lm = llmpack.Compressor().ctx.get_model()
    c, d = llmpack.Compressor(model=lm), llmpack.Decompressor(model=lm)
    d.decompress(c.compress(b"warm up text"))
    t = time.perf_counter()
    blob = c.compress(data)
    enc = time.perf_counter() - t
    t = time.perf_counter()
    assert d.decompress(blob) == data
    dec = time.perf_counter() - t
    kb = len(data) / 1000
    print(f"{Path(llmpack.__file__).parent}: {path.name} {len(data)} B -> {len(blob)} B, "
          f"encode {enc:.2f} s ({kb / enc:.2f} KB/s), decode {dec:.2f} s ({kb / dec:.2f} KB/s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
