"""Byte-exact round trips over the corpus: every file under the limit, and the first LIMIT bytes of larger ones.

    python eval/roundtrip.py ../shared/corpus [--limit 200000] [--only canterbury,data]

Prints one line per file (size, compressed size, bits/byte, seconds, exact) and exits
non-zero if any file fails to round-trip. Files run smallest first, so that a run cut
short has covered as many files as it could. Slow on a 2-core CPU (about 1 KB/s each way):
the whole corpus at the default limit takes hours; --only picks folders or files.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import llmpack
from llmpack.report.measure import measure_llmpack


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--limit", type=int, default=200_000, help="bytes taken from each file (default 200000)")
    ap.add_argument("--only", default="", help="comma list of path prefixes inside the corpus")
    ap.add_argument("-m", "--model", default=None)
    args = ap.parse_args()

    files = sorted(p for p in args.corpus.rglob("*") if p.is_file() and p.name != "MANIFEST.md")
    prefixes = [s for s in args.only.split(",") if s]
    if prefixes:
        files = [p for p in files if any(str(p.relative_to(args.corpus)).startswith(s) for s in prefixes)]
    files.sort(key=lambda p: (min(p.stat().st_size, args.limit), str(p)))
    compressor = llmpack.Compressor(model=args.model)
    compressor.compress(b"warm up")
    decompressor = llmpack.Decompressor(model=compressor.ctx.model)
    failures = 0
    start = time.perf_counter()
    for path in files:
        data = path.read_bytes()[: args.limit]
        row = measure_llmpack(str(path.relative_to(args.corpus)), data, compressor, decompressor)
        failures += not row.exact
        print(
            f"{row.file:55} {row.original_bytes:>8} -> {row.compressed_bytes:>7}  {row.bpb:6.3f} bpb  "
            f"enc {row.encode_s:7.1f} s  dec {row.decode_s:7.1f} s  {'exact' if row.exact else 'MISMATCH'}",
            flush=True,
        )
    print(f"{len(files) - failures} exact, {failures} failed, {time.perf_counter() - start:.0f} s in all")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
