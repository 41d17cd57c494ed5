"""Time linear layers as transformers computes them and as llmpack does, at the batch sizes llmpack uses.

    python eval/kernels.py [--threads 1,2] [--rows 1,3,5,8]

Linear layers computed as transformers does (x @ W.T) and as llmpack does
((W @ x.T).T, llmpack/kernels.py), and whether the two give the same floats: first
the output head alone, on a weight the size of SmolLM2's (49152 x 576, three copies
so it is not cached), then one KV-cache step of the default model, as the codecs run it.
"""

from __future__ import annotations

import argparse
import time

import torch

VOCAB, HIDDEN = 49152, 576  # SmolLM2-135M's output head
COPIES = 3  # distinct weights cycled through, so each product streams its weight from memory


def per_call_ms(fn, repeats: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000


def head(rows: int, repeats: int) -> str:
    weights = [torch.randn(VOCAB, HIDDEN) * 0.05 for _ in range(COPIES)]
    h = torch.randn(rows, HIDDEN)
    turn = iter(range(1 << 30))

    def default():
        return torch.mm(h, weights[next(turn) % COPIES].t())

    def transposed():
        return torch.mm(weights[next(turn) % COPIES], h.t()).t()

    same = torch.equal(torch.mm(h, weights[0].t()), torch.mm(weights[0], h.t()).t())
    return (f"head h@W.T {per_call_ms(default, repeats):6.1f} ms   (W@h.T).T {per_call_ms(transposed, repeats):6.1f} ms"
            f"   same floats: {'yes' if same else 'no'}")


def step(rows: int, repeats: int, context: int = 300) -> str:
    from llmpack.engine import Lockstep
    from llmpack.kernels import prepare, restore
    from llmpack.models import load

    model = load(None, "float32").model
    times, probs = [], []
    for install in (restore, prepare):  # transformers' own layers, then llmpack's
        install(model)
        lockstep = Lockstep(model, rows, model.config.vocab_size, context + repeats + 2)
        lockstep.step([[1] * context] * rows)
        times.append(per_call_ms(lambda ls=lockstep: ls.step([5] * rows), repeats))
        probs.append(lockstep.step([5] * rows).copy())
    same = "yes" if (probs[0] == probs[1]).all() else "no"
    return f"model step: x@W.T {times[0]:6.1f} ms   (W@x.T).T {times[1]:6.1f} ms   same floats: {same}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2", help="comma list of torch thread counts")
    ap.add_argument("--rows", default="1,3,5,8", help="comma list of batch rows")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--no-model", action="store_true", help="time the head only (no model load)")
    args = ap.parse_args()
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        for rows in (int(r) for r in args.rows.split(",")):
            parts = [head(rows, args.repeats)]
            if not args.no_model:
                parts.append(step(rows, args.repeats))
            print(f"threads {threads}  rows {rows:3}   " + "   ".join(parts), flush=True)


if __name__ == "__main__":
    main()
