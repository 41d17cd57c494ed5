"""Writes the fixture files in this folder: files made by an earlier llmpack that every
later one must decode to the same bytes (tests/integration/test_fixtures.py).

    python tests/data/make_fixtures.py   # only to add fixtures; never rewrite existing ones

The files here were made at commit 15ce624 (numerics x2, format 5), before the compiled
core (issue 32), on a 2-core AMD EPYC with torch 2.13.0, by this script. Inputs are
slices of ../shared/corpus; FIXTURES.json records each file's input and the sha256 of
what it decodes to (a summary file decodes to an approximation: its hash pins the
regeneration too).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[2] / "shared" / "corpus"

# name: (corpus file, first byte, bytes, mode, options, dictionary slice or None)
SPECS = {
    "alice3000.L1": ("canterbury/alice29.txt", 0, 3000, "arithmetic", {"level": 1}, None),
    "alice3000.L5": ("canterbury/alice29.txt", 0, 3000, "arithmetic", {"level": 5}, None),
    "alice3000.L7": ("canterbury/alice29.txt", 0, 3000, "arithmetic", {"level": 7}, None),
    "alice3000.L5.dict": (
        "canterbury/alice29.txt",
        30000,
        3000,
        "arithmetic",
        {"level": 5},
        ("canterbury/alice29.txt", 20000, 4000),
    ),
    # one segment longer than its 2048-token window: the window slides while decoding
    "enwik8000.slide": (
        "enwik8_1MB",
        0,
        8000,
        "arithmetic",
        {"level": 1, "min_segment_tokens": 4000, "max_segment_tokens": 4000, "fallback": False},
        None,
    ),
    "fields.L3": ("canterbury/fields.c", 0, 4000, "arithmetic", {"level": 3}, None),
    "history1200.semantic": ("code_docs/requests_HISTORY.md", 0, 1200, "semantic", {"fallback": False}, None),
    "alice1500.summary": ("canterbury/alice29.txt", 2000, 1500, "summary", {}, None),
}


def piece(name: str, start: int, n: int) -> bytes:
    return (CORPUS / name).read_bytes()[start : start + n]


def main() -> int:
    import llmpack
    from llmpack.model.loading import load

    lm = load(None)
    record = json.loads((HERE / "FIXTURES.json").read_text()) if (HERE / "FIXTURES.json").exists() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    for name, (src, start, n, mode, options, dict_spec) in SPECS.items():
        out = HERE / f"{name}.llmp"
        if out.exists():
            continue
        data = piece(src, start, n)
        dictionary = piece(*dict_spec) if dict_spec else None
        opts = dict(options, **({"dictionary": dictionary} if dictionary else {}))
        blob = llmpack.Compressor(mode=mode, model=lm, **opts).compress(data)
        decoded = llmpack.Decompressor(model=lm, dictionary=dictionary).decompress(blob)
        if mode != "summary":
            assert decoded == data, name
        out.write_bytes(blob)
        record[name] = {
            "input": [src, start, n],
            "dictionary": list(dict_spec) if dict_spec else None,
            "mode": mode,
            "options": options,
            "decodes_to_sha256": hashlib.sha256(decoded).hexdigest(),
            "bytes": len(blob),
            "made_at": commit,
        }
        print(f"{name}: {len(data)} -> {len(blob)} bytes", flush=True)
    (HERE / "FIXTURES.json").write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
