"""Sizes of small inputs next to zstd -19 (its command line's frame, with a checksum).

    python eval/small.py ../shared/corpus/canterbury/alice29.txt

Inputs: empty, 1, 32 and 300 bytes of the given text (from byte 1000 on), and 1 KB of
random bytes. Each is decoded again and compared.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import zstandard

import llmpack
from llmpack.coding import container


def main() -> int:
    text = Path(sys.argv[1]).read_bytes()[1000:]
    lm = llmpack.Compressor().ctx.get_model()
    inputs = {"empty": b"", "1 byte": text[:1], "32 bytes of text": text[:32], "300 bytes of text": text[:300],
              "1 KB random": random.Random(7).randbytes(1024)}
    print("| input | zstd -19 | llmpack | difference | stored as | header + CRCs |\n|---|---:|---:|---:|---|---:|")
    for name, data in inputs.items():
        blob = llmpack.compress(data, model=lm)
        assert llmpack.decompress(blob, model=lm) == data
        z = len(zstandard.ZstdCompressor(level=19, write_checksum=True).compress(data))
        header, payload = container.unpack(blob)
        print(
            f"| {name} | {z} | {len(blob)} | {len(blob) - z:+d} | {llmpack.inspect(blob)['mode']} | {len(blob) - len(payload)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
