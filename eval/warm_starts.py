"""What a segment gains from context it does not code: the bits of each segment of the
default level's cut, coded after only the start token (today), after the file's first W
tokens (a head coded once for the whole file), or after the previous segment's last W
tokens (what a decoder in waves could give it).

    python eval/warm_starts.py FILE[:MAX_BYTES]... [--level N] [--head 64,256] [--tail 128,512]

Model bits per byte of the text (the coder's own cross-entropy: no header, no stream
ends), with each level's online models. Encoder-side only: no file is written, and
nothing here changes what llmpack writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import llmpack
from llmpack.codecs.arithmetic import ArithmeticCodec
from llmpack.coding import modelcoder, profiles
from llmpack.config import DEFAULT_LEVEL, ArithmeticConfig

sys.path.insert(0, str(Path(__file__).parent))
from bench import read_spec  # noqa: E402


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="FILE or FILE:MAX_BYTES")
    ap.add_argument("--level", type=int, default=DEFAULT_LEVEL)
    ap.add_argument("--head", default="64,256", help="file-head prefixes to try, in tokens")
    ap.add_argument("--tail", default="128,512", help="previous-segment tails to try, in tokens")
    args = ap.parse_args()
    lm = llmpack.Compressor().ctx.get_model()
    tok = lm.tokenizer
    codec = ArithmeticCodec(ArithmeticConfig(level=args.level))
    profile = profiles.get(codec.config.settings().profile)
    exact = lm.exact(profile.numerics)
    heads, tails = _ints(args.head), _ints(args.tail)
    columns = [f"head {w}" for w in heads] + [f"previous tail {w}" for w in tails]
    print("| input | segments | cold | " + " | ".join(columns) + " |")
    print("|---|---:|---:|" + "---:|" * (len(heads) + len(tails)), flush=True)
    for spec in args.files:
        name, data = read_spec(spec)
        pieces, _ = codec.segments_of(data, tok)
        ids = [[tok.model_input(t) for t in tok.encode(p)] for p in pieces]
        _, primed = modelcoder.prime(exact, tok, profile, None)
        start = [tok.start_id]
        trials = [[start] * len(pieces)]
        trials += [[start] + [start + ids[0][:w]] * (len(pieces) - 1) for w in heads]
        trials += [[start] + [start + ids[k - 1][-w:] for k in range(1, len(pieces))] for w in tails]
        cells = []
        for prefixes in trials:
            _, _, bits = modelcoder.ModelCoder.code_pieces(exact, tok, profile, pieces, prefixes, primed)
            cells.append(f"{sum(map(sum, bits)) / len(data):.3f}")
        print(f"| {name} | {len(pieces)} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
