"""Semantic files against the arithmetic mode and zstd -19 (issue 16's acceptance table).

    python eval/semantic.py ../shared/corpus/canterbury/alice29.txt:1500 \
        ../shared/corpus/prose/llamafactory_wiki_demo.txt:5000
    python eval/semantic.py FILE:1500 --option prompt_tokens=24 --option max_section_tokens=768

FILE:N measures the first N bytes. Every semantic file is decoded and compared, and
stripped (`llmpack.strip`) to check it equals the summary file of the same settings.
Prints one Markdown row per input: bytes of each, semantic / arithmetic, and the parts
of the semantic file (prompts, residual) with its per-section coding.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import llmpack
from llmpack.coding.zstdframe import zstd_compress

sys.path.insert(0, str(Path(__file__).parent))
from bench import read_spec  # noqa: E402


def _value(text: str):
    try:
        return int(text)
    except ValueError:
        return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="FILE or FILE:MAX_BYTES")
    ap.add_argument("--option", action="append", default=[], help="semantic setting NAME=VALUE (repeatable)")
    ap.add_argument("--no-check", action="store_true", help="skip the decode and the strip check")
    ap.add_argument("--no-strip-check", action="store_true", help="skip the strip check only (it encodes the summary again)")
    args = ap.parse_args()
    options = dict((k, _value(v)) for k, v in (o.split("=", 1) for o in args.option))
    lm = llmpack.Compressor().ctx.get_model()
    print("| input | zstd -19 | arithmetic | semantic | semantic / arithmetic | prompts | residual | encode |")
    print("|---|---:|---:|---:|---:|---:|---|---|", flush=True)
    worst = 0.0
    for spec in args.files:
        name, data = read_spec(spec)
        arith = llmpack.Compressor(model=lm).compress(data)
        comp = llmpack.Compressor(mode="semantic", model=lm, **options)
        cfg = comp.codec.config  # the summary of the same settings: what strip must give
        base = {k: getattr(cfg, k) for k in ("prompt_tokens", "seeds", "max_section_tokens", "recipe")}
        t = time.perf_counter()
        blob = comp.compress(data)
        enc = time.perf_counter() - t
        st = comp.stats
        if not args.no_check:
            if llmpack.decompress(blob, model=lm) != data:
                print(f"ROUND TRIP FAILED: {name}", file=sys.stderr)
                return 1
            if (
                "fallback" not in st
                and not args.no_strip_check
                and llmpack.strip(blob) != llmpack.Compressor(mode="summary", model=lm, **base).compress(data)
            ):
                print(f"STRIP DIFFERS FROM SUMMARY: {name}", file=sys.stderr)
                return 1
        ratio = len(blob) / len(arith)
        worst = max(worst, ratio)
        residual = st.get("fallback") or f"{st.get('residual_method')}: {llmpack.inspect(blob).get('residual', '')}"
        print(
            f"| {name} | {len(zstd_compress(data))} | {len(arith)} | {len(blob)} | {ratio:.3f} | "
            f"{st.get('prompt_bytes', '-')} B, {st.get('sections', '-')} sections | {residual} | {enc:.1f} s |",
            flush=True,
        )
    print(f"\nlargest semantic / arithmetic: {worst:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
