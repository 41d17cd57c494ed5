"""Size, bits/byte, similarity and speed of llmpack's modes next to zstd -19 and xz -9e.

    python eval/bench.py ../shared/corpus/canterbury/alice29.txt \
        ../shared/corpus/prose/llamafactory_wiki_demo.txt:100000
    python eval/bench.py --modes arithmetic,semantic,summary,fidelity --baselines "zstd -19" \
        ../shared/corpus/canterbury/alice29.txt:1500 ../shared/corpus/canterbury/alice29.txt:5000

FILE:N measures the first N bytes of FILE. Throughput excludes model loading (the model
is loaded and warmed once before timing). Prints a Markdown table; --json writes rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import llmpack
from llmpack.report.measure import BASELINES, measure_baseline, measure_llmpack

DEFAULT_BASELINES = ["zstd -19", "xz -9e"]


def read_spec(spec: str) -> tuple[str, bytes]:
    path, _, limit = spec.partition(":")
    data = Path(path).read_bytes()
    if limit:
        data = data[: int(limit)]
    n = int(limit) if limit else 0
    label = Path(path).name + ((f" (first {n // 1000} KB)" if n % 1000 == 0 else f" (first {n} B)") if limit else "")
    return label, data


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="FILE or FILE:MAX_BYTES")
    ap.add_argument("-m", "--model", default=None, help="model id, alias, folder or .gguf (default: smollm2-135m)")
    ap.add_argument("--baselines", default=",".join(DEFAULT_BASELINES), help=f"comma list from: {', '.join(BASELINES)}")
    ap.add_argument("--modes", default="arithmetic", help="comma list of llmpack modes: arithmetic, semantic, summary, fidelity")
    ap.add_argument("--seeds", type=int, default=None, help="semantic/summary: seeds tried per section")
    ap.add_argument("--level", type=int, default=None, help="arithmetic/fidelity level (default: the default level)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args()

    t = time.perf_counter()
    level = {"level": args.level} if args.level else {}
    compressor = llmpack.Compressor(model=args.model, **level)
    compressor.compress(b"warm up")  # loads the model (and converts it on first use)
    lm = compressor.ctx.model
    decompressor = llmpack.Decompressor(model=lm)
    print(f"model loaded in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    modes = [m for m in args.modes.split(",") if m]
    options = {"seeds": args.seeds} if args.seeds else {}
    compressors = {
        m: compressor
        if m == "arithmetic"
        else llmpack.Compressor(mode=m, model=lm, **options, **(level if m == "fidelity" else {}))
        for m in modes
    }

    rows = []
    for spec in args.files:
        name, data = read_spec(spec)
        for label in [b for b in args.baselines.split(",") if b]:
            rows.append(measure_baseline(name, label, data))
        for mode in modes:
            print(f"{name}: running {mode} mode on {len(data)} bytes ...", file=sys.stderr, flush=True)
            rows.append(measure_llmpack(name, data, compressors[mode], decompressor))

    print(
        "| file | codec | bytes | compressed | bits/byte | similarity | exact | encode s | decode s | encode KB/s | decode KB/s |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.file} | {r.label} | {r.original_bytes} | {r.compressed_bytes} | {r.bpb:.3f} | {r.similarity:.3f} "
            f"| {'yes' if r.exact else 'no'} | {r.encode_s:.2f} | {r.decode_s:.2f} "
            f"| {r.kbps(r.encode_s):.2f} | {r.kbps(r.decode_s):.2f} |"
        )
    for r in rows:
        if "model_bits" in r.extra and r.extra["model_bits"]:
            x = r.extra
            print(
                f"\n{r.file}: {x['tokens']} tokens ({r.original_bytes / max(1, x['tokens']):.2f} bytes/token); "
                f"model-coded segments: cross-entropy {x['model_bits'] / 8:.0f} bytes, range-coded "
                f"{x['model_payload_bytes']} bytes (coder overhead {100 * x['coder_overhead']:.2f}%, "
                f"{(x['model_payload_bytes'] - x['model_bits'] / 8) / x['model_segments']:.1f} bytes per segment "
                f"over {x['model_segments']} segments; each stream's final flush costs about 2 bytes)"
            )
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=2))
    lossless = [r for r in rows if r.codec not in ("summary", "fidelity")]
    return 0 if all(r.exact for r in lossless) else 1


if __name__ == "__main__":
    sys.exit(main())
