"""The exact engine on the real default model: as good as transformers' float32, and
files that decode on a simulated other CPU."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from llmpack.model.loading import load

from .common import NEEDS_MODEL, corpus

pytestmark = NEEDS_MODEL
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["canterbury/alice29.txt", "code_docs/requests_HISTORY.md"])
def test_cross_entropy_within_half_a_percent_of_float32(name):
    lm = load(None)
    tok = lm.tokenizer
    ids = [t for t in tok.encode(corpus(name, 6000)) if t < tok.vocab_size][:512]
    inputs = torch.tensor([[tok.start_id] + ids[:-1]])
    exact = lm.exact()
    n = inputs.shape[1]
    logits = exact.forward(inputs, torch.arange(n).unsqueeze(0), exact.new_cache(1, n))[0].double()
    w = exact.weights(logits.float()).double()
    target = torch.tensor(ids)
    bits_exact = -torch.log2(w[torch.arange(n), target] / w.sum(-1)).sum().item()
    with torch.no_grad():
        ref = lm.model(input_ids=inputs).logits[0].double()
    bits_float = -torch.log_softmax(ref, -1)[torch.arange(n), target].sum().item() / math.log(2)
    assert abs(bits_exact / bits_float - 1) < 0.005, (bits_exact, bits_float)


def test_file_from_an_avx2_single_thread_machine_decodes_here(tmp_path):
    data = corpus("canterbury/alice29.txt", 1500)
    src = tmp_path / "a.txt"
    src.write_bytes(data)
    env = {
        **os.environ,
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "OMP_NUM_THREADS": "1",
    }
    enc = subprocess.run(
        [sys.executable, "-m", "llmpack", "encode", "-q", str(src), "-o", str(tmp_path / "a.llmp")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=600,
    )
    assert enc.returncode == 0, enc.stderr
    dec = subprocess.run(
        [sys.executable, "-m", "llmpack", "decode", "-q", "-c", str(tmp_path / "a.llmp")],
        cwd=ROOT,
        capture_output=True,
        timeout=600,
    )
    assert dec.returncode == 0, dec.stderr
    assert dec.stdout == data
