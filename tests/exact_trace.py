"""Where two machines part ways: a hash of every intermediate result of the golden
model's exact forward pass, one line each. Run it on both machines (or devices) and
diff the outputs; the first differing line names the op.

    python tests/exact_trace.py [cpu|cuda] > here.txt
    diff here.txt there.txt | head

Also checks the elementwise operations the engine relies on being correctly rounded
(division, sqrt, products) against numpy's, on random data.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from exact_probe import IDS, golden_model  # noqa: E402
from llmpack.model.exact import backends, model, ops  # noqa: E402

LINES: list[str] = []


def digest(x) -> str:
    if isinstance(x, tuple):
        return ",".join(digest(t) for t in x)
    if isinstance(x, torch.Tensor):
        return hashlib.sha256(x.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()[:12]
    return repr(x)


def traced(name: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        LINES.append(f"{len(LINES):4d} {name} {digest(out)}")
        return out

    return wrapper


def elementwise_checks(device: str) -> list[str]:
    """IEEE basic operations on this device against numpy's (correctly rounded) on the CPU."""
    rng = np.random.default_rng(5)
    a = (rng.random(1 << 18) * 1000).astype(np.float32)
    b = (rng.random(1 << 18) * 10 + 0.1).astype(np.float32)
    ta, tb = torch.from_numpy(a).to(device), torch.from_numpy(b).to(device)
    checks = {
        "a / b": ((ta / tb).cpu().numpy(), a / b),
        "a / 511 (python scalar)": ((ta / 511).cpu().numpy(), a / np.float32(511)),
        "ops.div(a, 511)": (ops.div(ta, 511).cpu().numpy(), a / np.float32(511)),
        "sqrt(a)": (torch.sqrt(ta).cpu().numpy(), np.sqrt(a)),
        "1 / sqrt(a)": ((1.0 / torch.sqrt(ta)).cpu().numpy(), np.float32(1) / np.sqrt(a)),
        "ops.sqrt(a)": (ops.sqrt(ta).cpu().numpy(), np.sqrt(a)),
        "a * b": ((ta * tb).cpu().numpy(), a * b),
        "round(a / b)": (torch.round(ta / tb).cpu().numpy(), np.round(a / b)),
    }
    return [f"elementwise {k}: {int((x != y).sum())} of {len(y)} differ from numpy" for k, (x, y) in checks.items()]


def main() -> int:
    device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
    for name in ("quantize", "rms_norm", "tree_sum", "lookup", "exp_neg", "silu", "div"):
        setattr(ops, name, traced(name, getattr(ops, name)))
    backends.Portable.matmul = traced("matmul", backends.Portable.matmul)
    backends.exact_pv = traced("exact_pv", backends.exact_pv)
    model.ExactLM._rope = traced("rope", model.ExactLM._rope)
    model.ExactLM._attend = traced("attend", model.ExactLM._attend)
    model.ExactLM._mlp = traced("mlp", model.ExactLM._mlp)
    exact = model.ExactLM(golden_model(), backend="portable", device=device)
    LINES.clear()  # the weights' quantization is the same everywhere; trace the pass
    n = len(IDS)
    logits = exact.forward(torch.tensor([IDS]), torch.arange(n).unsqueeze(0), exact.new_cache(1, n))
    print(f"torch {torch.__version__} on {device}; logits {digest(logits)}")
    print("\n".join(elementwise_checks(device)))
    print("\n".join(LINES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
