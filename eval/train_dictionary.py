"""What a trained dictionary gains on small records of one kind (issue 35's measure):
12 records of 300-1,500 bytes, each compressed alone at the default level, without and
with a dictionary trained (`llmpack.train.train`) from 50 other records of that kind.

    python eval/train_dictionary.py [--kinds pydoc,docstrings,earthquakes,toolcalls,c4] [--decode 2]

Kinds (records cut from real files, shuffled with a fixed seed; the 12 are never among
the 50): pydoc = the topics of Python's pydoc_data (documentation; only 35 in range),
docstrings = the docstrings of the public names of 50 standard-library modules, each
after its dotted name (documentation with enough records), earthquakes = two
GeoJSON features of ../shared/corpus/data/vega_earthquakes.json per record, toolcalls =
conversations of ../shared/corpus/sharegpt/llamafactory_glaive_toolcall_en_demo.json,
c4 = web pages of ../shared/corpus/prose/llamafactory_c4_demo.jsonl. --decode N decodes
the first N records of each kind with the dictionary and checks the bytes.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import llmpack
from llmpack.train import train

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TEST, SAMPLES, LOW, HIGH = 12, 50, 300, 1500


DOCSTRING_MODULES = (
    "os shutil subprocess json re itertools functools collections pathlib argparse logging socket threading "
    "asyncio typing datetime random statistics textwrap string zipfile tarfile urllib.request http.client "
    "email.message csv sqlite3 heapq bisect inspect dataclasses enum contextlib tempfile glob fnmatch hashlib "
    "base64 struct codecs io time math decimal fractions unittest difflib pprint copy pickle"
).split()


def docstrings() -> list[bytes]:
    import importlib
    import inspect

    found = set()
    for name in DOCSTRING_MODULES:
        module = importlib.import_module(name)
        for attr, obj in inspect.getmembers(module):
            if attr.startswith("_"):
                continue
            doc = inspect.getdoc(obj)
            if doc and (getattr(obj, "__module__", None) or "").startswith(name.split(".")[0]):
                found.add(f"{name}.{attr}\n\n{doc}".encode())
    return sorted(found)


def records(kind: str) -> list[bytes]:
    if kind == "docstrings":
        return docstrings()
    if kind == "pydoc":
        import pydoc_data.topics as topics

        return [topics.topics[k].encode() for k in sorted(topics.topics)]
    if kind == "earthquakes":
        feats = json.loads((CORPUS / "data" / "vega_earthquakes.json").read_text())["features"]
        lines = [json.dumps(f, separators=(",", ":")).encode() for f in feats]
        return [b"\n".join(lines[i : i + 2]) for i in range(0, len(lines), 2)]
    if kind == "toolcalls":
        path = CORPUS / "sharegpt" / "llamafactory_glaive_toolcall_en_demo.json"
        return [json.dumps(c).encode() for c in json.loads(path.read_text())]
    if kind == "c4":
        path = CORPUS / "prose" / "llamafactory_c4_demo.jsonl"
        return [json.loads(line)["text"].encode() for line in path.read_text().splitlines()]
    raise SystemExit(f"unknown kind {kind}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", default="pydoc,docstrings,earthquakes,toolcalls,c4")
    ap.add_argument("--decode", type=int, default=0)
    args = ap.parse_args()
    lm = llmpack.Compressor().ctx.get_model()
    print(f"| kind | {TEST} records | bytes | alone | with a dictionary of {SAMPLES} others | smaller by | files using it |")
    print("|---|---:|---:|---:|---:|---:|---:|", flush=True)
    for kind in args.kinds.split(","):
        pool = [r for r in records(kind) if LOW <= len(r) <= HIGH]
        random.Random(1).shuffle(pool)
        test, samples = pool[:TEST], pool[TEST : TEST + SAMPLES]
        dictionary = train(samples)
        alone = sum(len(llmpack.compress(r, model=lm)) for r in test)
        c = llmpack.Compressor(model=lm, dictionary=dictionary)
        blobs, used = [], 0
        for r in test:
            blobs.append(c.compress(r))
            used += bool(c.stats.get("dictionary_used"))
        for r, blob in list(zip(test, blobs))[: args.decode]:
            assert llmpack.decompress(blob, model=lm, dictionary=dictionary) == r, kind
        withd = sum(map(len, blobs))
        print(f"| {kind} | {len(test)} of {len(pool)} | {sum(map(len, test))} | {alone} | {withd} "
              f"({len(dictionary)} B dictionary) | {100 * (1 - withd / alone):.1f}% | {used} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
