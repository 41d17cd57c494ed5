"""A tiny Llama whose weights are the same bits on every machine, and the hash of its
exact logits. Imported by tests/test_exact.py, and run as a script in subprocesses that
pretend to be other CPUs:  python tests/exact_probe.py  prints the hash."""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import torch

IDS = [(7 * i * i + 3 * i + 1) % 300 for i in range(80)]  # a fixed token sequence, longer than 64 (tree sums pad)


def golden_model():
    """Weights from integer draws of numpy's PCG64 (platform-independent), scaled exactly."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, rms_norm_eps=1e-5)
    model = LlamaForCausalLM(config).eval()
    rng = np.random.default_rng(20261126)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            draw = rng.integers(-1000, 1001, size=tuple(p.shape)).astype(np.float64)
            values = 1.0 + draw / 4000 if name.endswith("norm.weight") else draw / 5000
            p.copy_(torch.from_numpy(values.astype(np.float32)))
    return model


def logits_hash(exact, ids=IDS) -> str:
    n = len(ids)
    logits = exact.forward(torch.tensor([ids]), torch.arange(n).unsqueeze(0), exact.new_cache(1, n))
    return hashlib.sha256(logits.numpy().tobytes()).hexdigest()[:16]


if __name__ == "__main__":
    sys.path.insert(0, ".")
    from llmpack.model.exact import ExactLM

    backend = sys.argv[1] if len(sys.argv) > 1 else "auto"
    device = sys.argv[2] if len(sys.argv) > 2 else "cpu"
    print(logits_hash(ExactLM(golden_model(), backend=backend, device=device)), torch.get_num_threads())
