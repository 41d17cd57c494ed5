"""Files made on one machine or device, checked on another: the exact numerics' promise.

    python eval/cross_device.py make DIR FILE[:N]@LEVEL...    # encode each into DIR
    python eval/cross_device.py check DIR FILE[:N]@LEVEL...   # here: encode again and compare
                                                              # bytes, decode DIR's file, time both

@LEVEL is an arithmetic level (1-9) or a mode, @semantic or @summary (default settings).
A summary file decodes to an approximation: `make` also stores that decode here as
NAME.out, and `check` compares the decode there with it. `--no-encode` checks decodes
only (the semantic encoders need the MiniLM similarity model, which a lent GPU machine
may lack; their decoders do not).

`--device cpu|cuda` picks where the model runs (default: auto). Prints one line per
input: size, bits/byte, encode (and decode) time and KB/s, and SAME/DIFFERENT/EXACT.
Exit 1 if any file differs or decodes wrong.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import llmpack

sys.path.insert(0, str(Path(__file__).parent))
from bench import read_spec  # noqa: E402


def blob_name(spec: str) -> str:
    spec, _, level = spec.rpartition("@")
    path, _, limit = spec.partition(":")
    return f"{Path(path).name}.{limit or 'all'}.l{level}.llmp"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("make", "check"))
    ap.add_argument("dir", type=Path)
    ap.add_argument("inputs", nargs="+", help="FILE[:MAX_BYTES]@LEVEL")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--no-decode", action="store_true", help="check: compare encodes only")
    ap.add_argument("--no-encode", action="store_true", help="check: decode the made files only")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    lm = llmpack.Compressor().ctx.get_model()
    failed = False
    for item in args.inputs:
        spec, _, level = item.rpartition("@")
        name, data = read_spec(spec)
        options = {"level": int(level)} if level.isdigit() else {}
        mode = "arithmetic" if level.isdigit() else level
        path = args.dir / blob_name(item)
        want = path.with_suffix(".out").read_bytes() if mode == "summary" and args.action == "check" else data
        kb = len(data) / 1000
        line = f"{name} {'level ' + level if options else mode}:"
        if args.action == "make" or not args.no_encode:
            comp = llmpack.Compressor(mode, model=lm, device=args.device, **options)
            t = time.perf_counter()
            blob = comp.compress(data)
            enc = time.perf_counter() - t
            line += (f" {len(blob)} bytes, {8 * len(blob) / len(data):.4f} bits/byte, "
                     f"sha256 {hashlib.sha256(blob).hexdigest()[:16]}, encode {enc:.1f} s ({kb / enc:.2f} KB/s)")
        if args.action == "make":
            path.write_bytes(blob)
            if mode == "summary":
                path.with_suffix(".out").write_bytes(llmpack.Decompressor(model=lm).decompress(blob))
        else:
            other = path.read_bytes()
            if not args.no_encode:
                same = other == blob
                failed |= not same
                line += ", SAME bytes as the made file" if same else f", DIFFERENT from the made file ({len(other)} bytes)"
            if not args.no_decode:
                t = time.perf_counter()
                try:
                    back = llmpack.Decompressor(model=lm, device=args.device).decompress(other)
                except llmpack.LLMPackError as exc:  # a checksum catches other probabilities
                    failed = True
                    line += f" decode of the made file REFUSED: {exc}"
                else:
                    dec = time.perf_counter() - t
                    ok = back == want
                    failed |= not ok
                    line += (f" decode of the made file ({len(other)} bytes) {dec:.1f} s ({kb / dec:.2f} KB/s), "
                             f"{('EXACT' if mode != 'summary' else 'SAME as the decode where it was made') if ok else 'WRONG'}")
        print(line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
