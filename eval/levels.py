"""Bits/byte and speed of arithmetic mode per level (the README's level table).

    python eval/levels.py ../shared/corpus/canterbury/alice29.txt --levels 1,3,5,7,9
    python eval/levels.py ../shared/corpus/enwik8_1MB/enwik8_1MB --levels 9 --no-decode
    python eval/levels.py FILE:5000 --levels 5 --dict DICT
    python eval/levels.py FILE --levels 1,2 --no-decode --save out/levels   # decode later:
    python eval/decode_time.py out/levels/FILE.L1.llmp FILE

FILE:N measures the first N bytes. Every encode is decoded again and compared (unless
--no-decode, for ratio-only runs of slow levels). The model is loaded once, before
timing. Run one at a time: two model jobs on two cores slow each other 20-50x.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import llmpack
from llmpack.config import DEFAULT_LEVEL, LEVELS

sys.path.insert(0, str(Path(__file__).parent))
from bench import read_spec  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="FILE or FILE:MAX_BYTES")
    ap.add_argument("--levels", default=",".join(map(str, LEVELS)), help="comma list (default: all)")
    ap.add_argument("--no-decode", action="store_true", help="encode only (ratio and encode speed)")
    ap.add_argument("--dict", type=Path, help="a dictionary (-D) for every file")
    ap.add_argument("--json", type=Path, help="append rows as JSON lines here")
    ap.add_argument("--save", type=Path, help="write each file here as NAME.L<level>.llmp (for eval/decode_time.py)")
    args = ap.parse_args()
    dictionary = args.dict.read_bytes() if args.dict else None
    lm = llmpack.Compressor().ctx.get_model()
    print("| file | level | bytes | bits/byte | encode | decode |\n|---|---:|---:|---:|---|---|", flush=True)
    for spec in args.files:
        name, data = read_spec(spec)
        for level in (int(x) for x in args.levels.split(",")):
            comp = llmpack.Compressor(model=lm, level=level, dictionary=dictionary)
            t = time.perf_counter()
            blob = comp.compress(data)
            enc = time.perf_counter() - t
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                (args.save / f"{Path(spec).name.replace(':', '_')}.L{level}.llmp").write_bytes(blob)
            dec = None
            if not args.no_decode:
                t = time.perf_counter()
                back = llmpack.Decompressor(model=lm, dictionary=dictionary).decompress(blob)
                dec = time.perf_counter() - t
                if back != data:
                    print(f"ROUND TRIP FAILED: {name} level {level}", file=sys.stderr)
                    return 1
            kb = len(data) / 1000
            mark = " (default)" if level == DEFAULT_LEVEL else ""
            dec_text = f"{dec:.1f} s, {kb / dec:.2f} KB/s" if dec else "-"
            print(f"| {name} | {level}{mark} | {len(blob)} | {8 * len(blob) / len(data):.3f} | "
                  f"{enc:.1f} s, {kb / enc:.2f} KB/s | {dec_text} |", flush=True)
            if args.json:
                with args.json.open("a") as fh:
                    fh.write(json.dumps({"file": name, "level": level, "bytes": len(blob), "original": len(data),
                                         "encode_s": enc, "decode_s": dec, "fallback": comp.stats.get("fallback")}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
