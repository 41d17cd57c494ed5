"""Bits/byte of a default encode, without decoding: for comparing with an older commit.

    git worktree add /tmp/old 8c485fd
    (cd /tmp/old && PYTHONPATH=/tmp/old python /work/main/eval/encode_only.py FILE[:N]...)

Uses whichever llmpack comes first on sys.path, with its default settings.
"""
import sys
import time
import llmpack
for spec in sys.argv[1:]:
    path, _, n = spec.partition(":")
    data = open(path, "rb").read()[: int(n) if n else None]
    c = llmpack.Compressor()
    c.compress(b"warm")
    t = time.perf_counter()
    blob = c.compress(data)
    dt = time.perf_counter() - t
    print(
        f"{llmpack.__file__} {spec}: {len(data)} -> {len(blob)} bytes, "
        f"{8 * len(blob) / len(data):.4f} bits/byte, encode {dt:.1f} s",
        flush=True,
    )
