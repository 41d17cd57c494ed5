"""What `llmpack select` keeps of a ShareGPT pool: the distinct opening questions its
selection covers, and the selection's combined zlib ratio (str() of the list, level 9,
the measure it minimises) against the same number of samples drawn at random and the
first ones.

    python eval/select_coverage.py ../shared/corpus/sharegpt/fastchat_dummy_conversation.json --budget 100
"""

from __future__ import annotations

import argparse
import random
import time
import zlib

from llmpack import select as zs


def ratio(pool: list[dict], ids: list[int]) -> float:
    text = repr([pool[i] for i in ids]).encode("utf-8", "surrogatepass")
    return len(text) / len(zlib.compress(text, 9))


def questions(pool: list[dict], ids: list[int]) -> int:
    return len({pool[i]["conversations"][0]["value"] for i in ids})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pool")
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0, help="for the random draw")
    args = ap.parse_args()
    pool = zs.load_pool(args.pool)
    t = time.perf_counter()
    chosen = zs.select(pool, args.budget)
    elapsed = time.perf_counter() - t
    drawn = random.Random(args.seed).sample(range(len(pool)), args.budget)
    first = list(range(args.budget))
    print(f"pool: {len(pool)} samples, {questions(pool, list(range(len(pool))))} distinct opening questions")
    print("| samples | distinct questions | zlib ratio |\n|---|---:|---:|")
    for name, ids in ((f"selected ({elapsed:.1f} s)", chosen), (f"random (seed {args.seed})", drawn), ("first", first)):
        print(f"| {name} | {questions(pool, ids)} | {ratio(pool, ids):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
