"""The exact engine: the same bits whatever the CPU, threads, batch or pass split."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from exact_probe import IDS, golden_model, logits_hash
from machines import OTHER_CPUS, ROOT, SMALL_NUMPY
from llmpack.errors import ModelError
from llmpack.model.exact import DEFAULT, ExactLM, Numerics, backends, ops, tables
from llmpack.model.exact.numerics import V1

# sha256 of the golden model's exact logits (tests/exact_probe.py). It changes only when
# the numerics do: then bump llmpack.model.exact.numerics.VERSION (old files must be refused,
# not decoded to wrong bytes) and update this value deliberately. Numerics version 2; an
# H100 (CUDA, torch 2.11) computed the same hash on 2026-11-27.
GOLDEN = "8b47a494cdfb6b9c"



@pytest.fixture(scope="module")
def golden():
    return ExactLM(golden_model(), backend="portable")


def _forward(exact, ids: list[list[int]], start: int = 0, cache=None, keep=None):
    rows, n = len(ids), len(ids[0])
    cache = cache if cache is not None else exact.new_cache(rows, start + n)
    pos = torch.arange(start, start + n).unsqueeze(0).expand(rows, n)
    return exact.forward(torch.tensor(ids), pos, cache, keep=keep), cache


def test_golden_hash(golden):
    assert logits_hash(golden) == GOLDEN, "the numerics changed: bump numerics.VERSION and update GOLDEN"


def _smollm_shaped(layers: int = 2, vocab: int = 1000):
    """A random model with SmolLM2-135M's widths (576 hidden, 9/3 heads of 64, 1536 MLP)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(7)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=layers,
        num_attention_heads=9,
        num_key_value_heads=3,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config).eval()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (CI has none)")
def test_same_bits_on_cuda(golden):
    """The GPU computes the CPU's bits: the golden hash, and a SmolLM2-shaped model's full
    pass and one-token steps."""
    assert logits_hash(ExactLM(golden_model(), device="cuda")) == GOLDEN
    model = _smollm_shaped()
    cpu, gpu = ExactLM(model, backend="portable"), ExactLM(model, device="cuda")
    ids = [[(31 * i * i + 7 * i) % 1000 for i in range(300)], [(17 * i + 5) % 1000 for i in range(300)]]
    full = _forward(cpu, ids)[0]
    assert torch.equal(_forward(gpu, ids)[0], full)
    cache = gpu.new_cache(2, 300)
    _forward(gpu, [row[:280] for row in ids], 0, cache)
    steps = [_forward(gpu, [[row[p]] for row in ids], p, cache)[0][:, 0] for p in range(280, 300)]
    assert torch.equal(torch.stack(steps, dim=1), full[:, 280:])


def test_auto_device_is_the_cpu_even_where_a_gpu_is_seen(monkeypatch):
    """--device auto never picks the GPU (slower than the CPU for this engine); cuda only
    when asked, and an error where there is none."""
    from llmpack.errors import LLMPackError
    from llmpack.model.exact.backends import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cpu" and resolve_device("cuda") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(LLMPackError, match="no CUDA device"):
        resolve_device("cuda")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OTHER_CPUS))
def test_same_bits_on_other_cpus_in_subprocesses(name):
    env = {**os.environ, **OTHER_CPUS[name]}
    out = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "exact_probe.py")], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == GOLDEN


def test_same_bits_with_any_thread_count(golden):
    before = torch.get_num_threads()
    try:
        hashes = set()
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            hashes.add(logits_hash(golden))
    finally:
        torch.set_num_threads(before)
    assert hashes == {GOLDEN}


def test_full_sequence_equals_steps_and_any_split(golden):
    full, _ = _forward(golden, [IDS])
    steps, cache = _forward(golden, [IDS[:33]], cache=golden.new_cache(1, len(IDS)))
    parts = [steps[0]]
    for p in range(33, len(IDS)):
        parts.append(_forward(golden, [IDS[p : p + 1]], p, cache)[0][0])
    assert torch.equal(full[0], torch.cat(parts))
    cache = golden.new_cache(1, len(IDS))
    chunks = [_forward(golden, [IDS[a:b]], a, cache)[0][0] for a, b in ((0, 5), (5, 64), (64, 80))]
    assert torch.equal(full[0], torch.cat(chunks))
    cache = golden.new_cache(1, len(IDS))  # one token at a time from the very first position, as decoders do
    steps = [_forward(golden, [IDS[p : p + 1]], p, cache)[0][0] for p in range(len(IDS))]
    assert torch.equal(full[0], torch.cat(steps))


def test_a_row_is_the_same_alone_and_in_any_batch(golden):
    alone, _ = _forward(golden, [IDS[:40]])
    others = [[(i * 13) % 300 for i in range(40)], IDS[:40], [5] * 40]
    batch, _ = _forward(golden, others)
    assert torch.equal(batch[1], alone[0])
    # right-padded beside a longer row: the shorter row's positions keep their bits
    mixed, _ = _forward(golden, [IDS[:60], IDS[:40] + [0] * 20])
    assert torch.equal(mixed[1, :40], alone[0])


@pytest.mark.parametrize("pass_tokens,head_rows", [(4096, 64), (16, 7), (50, 1)])
def test_encoder_passes_equal_decoder_steps(golden, monkeypatch, pass_tokens, head_rows):
    """engine.sequence_weights (windows of PASS_TOKENS over the cache, the head HEAD_ROWS
    positions at a time, rows batched) gives the weights Lockstep gives one step at a time."""
    from llmpack.model import engine

    monkeypatch.setattr(engine, "PASS_TOKENS", pass_tokens)
    monkeypatch.setattr(engine, "HEAD_ROWS", head_rows)
    inputs = [IDS[:70], IDS[10:13], [IDS[5]], IDS[:40]]
    symbols = 310  # the coder's alphabet: the vocabulary and 10 virtual symbols, always 0
    got = {j: [] for j in range(len(inputs))}
    for j, start, w in engine.sequence_weights(golden, inputs, symbols):
        assert start == sum(len(b) for b in got[j])
        got[j].append(w.copy())
    for j, seq in enumerate(inputs):
        stepper = engine.Lockstep(golden, 1, symbols, len(seq))
        want = np.concatenate([stepper.step([t]).copy() for t in seq])
        assert np.array_equal(np.concatenate(got[j]), want)
        assert not want[:, 300:].any() and (want[:, :300].max(axis=1) == 1).all()


@pytest.mark.parametrize("size,slide", [(16, 5), (20, 19), (8, 1)])
def test_sliding_windows_agree(golden, monkeypatch, size, slide):
    """A segment longer than its window: the encoder's full passes per window give the
    decoder's steps, which re-encode the kept inputs at each slide; with a prefix fed first
    (a dictionary), shorter or longer than the window, the same. And a slide really drops
    context: the weights change."""
    from llmpack.model import engine

    monkeypatch.setattr(engine, "PASS_TOKENS", 24)
    window = engine.Window(size, slide)
    inputs = [IDS[:70], IDS[10:13], IDS[: size + 1]]
    symbols = 300
    for skip in (0, size + 3, 3):  # (the checks after the loop use the last)
        got = {j: [] for j in range(len(inputs))}
        for j, start, w in engine.sequence_weights(golden, inputs, symbols, window, skip=skip):
            assert start == sum(len(b) for b in got[j])
            got[j].append(w.copy())
        for j, seq in enumerate(inputs):
            if len(seq) <= skip:
                assert not got[j]
                continue
            stepper = engine.Lockstep(golden, 2, symbols, len(seq), window)
            stepper.restart([0, 1], [seq[:skip], seq[:skip]])
            want = np.concatenate([stepper.step([t, t]).copy()[:1] for t in seq[skip:]])
            assert np.array_equal(np.concatenate(got[j]), want)
    full = np.concatenate([w.copy() for _, _, w in engine.sequence_weights(golden, [IDS[:70]], symbols)])
    assert np.array_equal(np.concatenate(got[0])[: size - 3], full[3:size])
    assert not np.array_equal(np.concatenate(got[0])[size:], full[size + 3 :])


def test_rows_restart_slide_and_drop_on_their_own(golden):
    """Continuous batching: a row restarting with another sequence (after a prefix) while
    the other row goes on, windows sliding at different steps, then a row dropped: each
    row gets the bits it gets alone."""
    from llmpack.model import engine

    symbols, window = 300, engine.Window(16, 5)
    a, b, c, prefix = IDS[:50], IDS[20:31], IDS[5:40], IDS[60:66]

    def alone(seq, before=()):
        stepper = engine.Lockstep(golden, 1, symbols, 64, window)
        stepper.restart([0], [list(before)])
        return [stepper.step([t])[0].copy() for t in seq]

    want_a, want_b, want_c = alone(a), alone(b), alone(c, prefix)
    stepper = engine.Lockstep(golden, 2, symbols, 64, window)
    got_a, got_b, got_c = [], [], []
    for k, t in enumerate(a):
        if k == len(b):
            stepper.restart([1], [prefix])
        row1 = b[k] if k < len(b) else c[k - len(b)] if k - len(b) < len(c) else None
        if row1 is None and stepper.rows == 2:
            stepper.keep([0])
        w = stepper.step([t] + ([row1] if stepper.rows == 2 else []))
        got_a.append(w[0].copy())
        if stepper.rows == 2:
            (got_b if k < len(b) else got_c).append(w[1].copy())
    assert len(got_c) == len(c) and stepper.rows == 1
    for got, want in ((got_a, want_a), (got_b, want_b), (got_c, want_c)):
        assert np.array_equal(np.stack(got), np.stack(want))
    assert not np.array_equal(np.stack(want_c), np.stack(alone(c))[:, :])  # the prefix counts


def test_compact_cache_kernels_give_the_float_bits(monkeypatch):
    """On the torch path, decoding steps read int16 keys and int8 values through kernels.py
    where the core is built: the same weights as float32 caches."""
    from llmpack.model import engine
    from llmpack.model.exact import kernels

    if kernels.attention() is None:
        pytest.skip(f"no kernels to compare with the float path: {kernels.note}")
    seq, symbols = IDS[:60], 300
    torch_path = ExactLM(golden_model(), backend="portable", compiled=False)

    def steps(exact) -> np.ndarray:
        stepper = engine.Lockstep(exact, 3, symbols, len(seq), engine.Window(24, 7))
        return np.concatenate([stepper.step([t, t, IDS[0]]).copy() for t in seq]), stepper.cache

    with_kernels, cache = steps(torch_path)
    assert cache.compact and not cache.blocked and cache.k[0].dtype == torch.int16 and cache.v[0].dtype == torch.int8
    monkeypatch.setattr(torch_path, "kernels", None)
    without, cache = steps(torch_path)
    assert not cache.compact and cache.k[0].dtype == torch.float32
    assert np.array_equal(with_kernels, without)


def test_kernels_and_core_fall_back_when_not_built(monkeypatch, capsys):
    from llmpack.model.exact import core, kernels

    monkeypatch.delenv("LLMPACK_CORE", raising=False)  # the notes of a core not built (LLMPACK_CORE=0 says why first)
    monkeypatch.setenv("LLMPACK_DEBUG", "1")
    monkeypatch.setattr(core, "_path", lambda: None)
    for cached in (core.library, kernels.attention):
        cached.cache_clear()
    try:
        assert core.library() is None and "not built" in core.note
        assert kernels.attention() is None
        assert "attention kernels not used" in capsys.readouterr().err
        exact = ExactLM(golden_model(), backend="portable")
        assert exact.core is None and logits_hash(exact) == GOLDEN  # the torch path, the same bits
        monkeypatch.undo()
        monkeypatch.setenv("LLMPACK_CORE", "0")
        core.library.cache_clear()
        assert core.library() is None and "LLMPACK_CORE=0" in core.note
    finally:
        for cached in (core.library, kernels.attention):
            cached.cache_clear()


def test_kernel_self_test_catches_wrong_products():
    from llmpack.model.exact import kernels

    real = kernels.attention()
    if real is None:
        pytest.skip("the compiled core is not built here")
    assert kernels.self_test(real) is None

    class Off(kernels.Attention):
        def qk(self, q, keys, length):
            return super().qk(q, keys, length) + 1

    assert "q.k differs" in kernels.self_test(Off(real.lib))


def test_close_to_the_float_model(golden):
    """Quantization is fine-grained: the exact next-token distribution is close to transformers' float one."""
    model = golden_model()
    exact, _ = _forward(golden, [IDS])
    with torch.no_grad():
        ref = model(input_ids=torch.tensor([IDS])).logits
    p, q = torch.softmax(ref[0].double(), -1), torch.softmax(exact[0].double(), -1)
    assert float((p * (p.log() - q.log())).sum(-1).max()) < 1e-3  # KL per token, nats


def test_int8_backend_gives_the_portable_bits():
    w = torch.randint(-127, 128, (96, 576)).float()
    assert backends.self_test(backends.Int8(), [w], DEFAULT.levels(DEFAULT.act_bits)) is None
    exact = ExactLM(golden_model(), backend="int8")
    assert exact.backend.name == "int8" and logits_hash(exact) == GOLDEN


def test_backend_choice_falls_back_and_says_why(monkeypatch, capsys):
    w = [torch.randn(64, 64)]
    monkeypatch.setenv("LLMPACK_DEBUG", "1")
    monkeypatch.setattr(backends, "_has_int8_units", lambda: False)
    assert backends.choose(w, 511)[0].name == "portable"
    assert "no AVX512-VNNI or AMX" in capsys.readouterr().err
    monkeypatch.setattr(backends, "_has_int8_units", lambda: True)
    monkeypatch.setattr(backends.Int8, "matmul", lambda self, q, p, levels: torch.zeros(q.shape[0], p["n"]))
    backend, notes = backends.choose(w, 511)
    assert backend.name == "portable" and "products differ" in notes[0]
    assert "int8 not used: int8: products differ" in capsys.readouterr().err


def test_chunked_fallback_is_exact_where_one_gemm_would_round():
    """Rows whose sum |q| * max|w| reaches 2^24 are computed in exact chunks."""
    gen = torch.Generator().manual_seed(0)
    q = torch.randint(-2047, 2048, (3, 1536), generator=gen).float()  # 12-bit rows: far past the bound
    w = torch.randint(-127, 128, (40, 1536), generator=gen).float()
    exact = (q.double() @ w.double().t()).float()
    out = backends.Portable().matmul(q, backends.Portable().prepare(w), 2047)
    assert torch.equal(out, exact)


def test_unsupported_models_get_a_clear_error():
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    with pytest.raises(ModelError, match="runs llama, qwen2, mistral models, not gpt2"):
        ExactLM(GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50)))
    scaled = LlamaConfig(
        vocab_size=50,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        rope_scaling={"rope_type": "linear", "factor": 2.0},
    )
    with pytest.raises(ModelError, match="RoPE scaling"):
        ExactLM(LlamaForCausalLM(scaled))


def test_tables_match_libm_closely():
    k = np.arange(0, 32 * 1024 + 1)
    ref = np.exp(-k / 1024).astype(np.float32)
    got = tables.exp_table(1024, 32)
    assert got[-1] == 0 and got[0] == 1
    assert np.max(np.abs(got[:-1].view(np.int32) - ref.view(np.int32))) <= 1  # within one float32 ulp
    x = np.linspace(0, 4000, 20001)
    s, c = tables.sin_cos64(x)
    assert np.max(np.abs(s - np.sin(x))) < 1e-12 and np.max(np.abs(c - np.cos(x))) < 1e-12
    assert tables._ln64(100000.0) == pytest.approx(math.log(100000.0), rel=1e-15)


def test_tree_sum_ignores_trailing_zeros_and_quantize_bounds():
    x = torch.rand(5, 37)
    padded = torch.nn.functional.pad(x, (0, 91))
    assert torch.equal(ops.tree_sum(x), ops.tree_sum(padded))
    q, s = ops.quantize(torch.randn(4, 100) * 7, 511)
    assert q.abs().max() <= 511 and torch.equal(q, q.round())
    assert torch.equal(ops.quantize(torch.zeros(2, 3), 511)[0], torch.zeros(2, 3))


def test_sqrt_is_correctly_rounded():
    """ops.sqrt against numpy's (IEEE, correctly rounded) on random, tiny, huge and exact
    squares; torch.sqrt itself is a ulp off on many of these on MKL builds."""
    rng = np.random.default_rng(11)
    x = np.concatenate(
        [
            rng.random(100_000) * 1e3,
            rng.random(10_000) * 1e-30,
            rng.random(10_000) * 1e30,
            np.arange(1, 5000) ** 2.0,
            [0.0, 1e-45, 2.0**-126, 3.4e38],
        ]
    ).astype(np.float32)
    assert np.array_equal(ops.sqrt(torch.from_numpy(x)).numpy(), np.sqrt(x))
    assert np.array_equal(ops.corrected_sqrt(torch.from_numpy(x)).numpy(), np.sqrt(x))  # the GPU's path


def test_version_1_keeps_torch_sqrt(golden):
    """Files made with numerics x1 decode where they did: its engine still takes torch.sqrt."""
    old = ExactLM(golden_model(), V1, backend="portable")
    x = torch.randn(3, 64) * 5
    assert torch.equal(old._norm(x, old.norm), ops.rms_norm(x, old.norm, old.cfg.eps, exact_sqrt=False))
    assert torch.equal(golden._norm(x, golden.norm), ops.rms_norm(x, golden.norm, golden.cfg.eps))


def test_numerics_tag_round_trips_and_refuses_others():
    assert Numerics.parse(DEFAULT.tag()) == DEFAULT
    assert Numerics.parse(V1.tag()) == V1  # files made with version 1 are still read
    from llmpack.errors import FormatError

    with pytest.raises(FormatError, match="x9"):
        Numerics.parse(DEFAULT.tag().replace(f"x{DEFAULT.version}/", "x9/", 1))
    with pytest.raises(FormatError, match="unknown numerics"):
        Numerics.parse("torch 2.4/transformers 4.50/k2")


# -- files made on one "machine" decode on another ------------------------------------
def _cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "llmpack", *args], env={**os.environ, **env}, cwd=ROOT, capture_output=True, timeout=300
    )


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["arithmetic", "arithmetic-9", "semantic", "summary", "summary-seeds", "fidelity"])
def test_round_trips_across_simulated_machines(tmp_path, tiny_model_dir, mode):
    """arithmetic-9: the best level, whose online models run in numpy: one side also
    dispatches numpy without AVX2/AVX512. summary-seeds: the chunk seeds' schedules."""
    data = b"Alice was beginning to get very tired of sitting by her sister on the bank.\n" * 3
    src = tmp_path / "in.txt"
    src.write_bytes(data)
    # one side: the core's AVX2 engine on one thread; the other: no compiled core at all
    a, b = OTHER_CPUS["avx2-1thread"], {**OTHER_CPUS["default-sse42-2threads"], **OTHER_CPUS["torch-path"]}
    if mode == "arithmetic-9":
        a = {**a, **SMALL_NUMPY}
    home = {"LLMPACK_HOME": str(tmp_path / "home")}
    extra = {
        "semantic": ["--prompt-tokens", "6"],
        "summary": ["--prompt-tokens", "6"],
        "arithmetic-9": ["-9"],
        "summary-seeds": ["--prompt-tokens", "6", "--seeds", "3"],
        "fidelity": ["--fidelity", "0.9"],
    }.get(mode, [])
    variant, mode = mode, mode.split("-")[0]
    for enc_env, dec_env, name in ((a, b, "ab"), (b, a, "ba")):
        packed = tmp_path / f"{name}.llmp"
        enc = _cli(
            ["encode", "-q", "--no-fallback", "-m", str(tiny_model_dir), "--mode", mode, *extra, str(src), "-o", str(packed)],
            {**enc_env, **home},
        )
        assert enc.returncode == 0, enc.stderr
        dec = _cli(["decode", "-q", "-c", "-m", str(tiny_model_dir), str(packed)], {**dec_env, **home})
        assert dec.returncode == 0, dec.stderr
        if mode in ("summary", "fidelity"):  # lossy: the same output on both machines
            reference = _cli(["decode", "-q", "-c", "-m", str(tiny_model_dir), str(packed)], {**enc_env, **home})
            assert dec.stdout == reference.stdout and dec.stdout
        else:
            assert dec.stdout == data
    ab, ba = (tmp_path / "ab.llmp").read_bytes(), (tmp_path / "ba.llmp").read_bytes()
    import llmpack

    assert llmpack.inspect(ab)["mode"] == mode  # the model coded it (the random tiny model would lose to zstd)
    if mode == "summary":  # the stored MiniLM similarity is a float measurement, not coder numerics
        import llmpack

        # (the chunk seeds are chosen by MiniLM floats too: each file decodes alike everywhere, above)
        keep = ("prompts", "section_tokens", "numerics") + (("seeds",) if variant == "summary" else ())
        assert {k: llmpack.inspect(ab)[k] for k in keep} == {k: llmpack.inspect(ba)[k] for k in keep}
        if variant == "summary-seeds":
            assert llmpack.inspect(ab)["recipe"] == 2 and max(map(len, llmpack.inspect(ab)["seeds"])) > 1
    elif mode != "fidelity":  # both machines wrote the same file (fidelity's choice rests on MiniLM floats)
        assert hashlib.sha256(ab).digest() == hashlib.sha256(ba).digest()
