"""Fuzzing the decoder: mutated and truncated files of every mode through `inspect` and
decode. Each must be refused with an LLMPackError or decode exactly, within a time bound
per file, and the whole run within a memory bound.

Two kinds of mutation: raw ones (bit flips, truncations, inserted and deleted bytes),
which the container's CRCs must catch, and forged ones, where a mutated header or payload
is packed again with valid CRCs, so that the codecs' own parsers and bounds are what
stands between the bytes and the model.
"""

from __future__ import annotations

import random
import resource
import time

import pytest

import llmpack
from llmpack.coding import container
from llmpack.config import ArithmeticConfig
from machines import DATA

RAW_CASES = 1800  # cheap: refused by the container's checks
FORGED_CASES = 1200  # reach the codecs' parsers (and, where they pass, the model)
SECONDS_PER_FILE = 3.0  # the tiny model decodes any of these inputs in well under that
MEMORY_GROWTH = 1 << 30  # bytes of peak RSS the whole run may add
FIXTURES = DATA
TEXT = b"".join(b"Line %d: Alice was beginning to get very tired of sitting by her sister on the bank.\n\n" % i for i in range(8))


@pytest.fixture(scope="module")
def samples(tiny_model):
    """(name, file, original or None for lossy files) of every mode, small inputs."""
    text = TEXT[:400]
    arithmetic = ArithmeticConfig(max_rows=4, min_segment_tokens=16, max_segment_tokens=48, fallback=False)
    out = [
        ("zstd", llmpack.compress(text, mode="zstd"), text),
        ("stored", llmpack.compress(b"", mode="stored"), b""),
        ("stored", llmpack.compress(text[:40], mode="stored"), text[:40]),
        ("arithmetic", llmpack.Compressor(model=tiny_model, config=arithmetic).compress(text), text),
        ("arithmetic-1", llmpack.compress(text[:60], model=tiny_model, level=1), text[:60]),
        ("semantic", llmpack.compress(text[:160], mode="semantic", model=tiny_model, prompt_tokens=4, max_section_tokens=24,
                                      fallback=False), text[:160]),
        ("summary", llmpack.compress(text[:160], mode="summary", model=tiny_model, prompt_tokens=4, max_section_tokens=24),
         None),
        ("fidelity", llmpack.compress(text[:120], mode="fidelity", model=tiny_model, fidelity=0.9), None),
    ]
    for name in ("alice3000.L1.llmp", "history1200.semantic.llmp", "alice1500.summary.llmp"):  # older formats, the real model's
        out.append((name, (FIXTURES / name).read_bytes(), "info only"))
    return out


def _raw_mutation(rng: random.Random, blob: bytes) -> bytes:
    b = bytearray(blob)
    kind = rng.randrange(4)
    if kind == 0 or len(b) < 2:
        return bytes(b[: rng.randrange(len(b))])  # truncated
    if kind == 1:
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == 2:
        at = rng.randrange(len(b) + 1)
        return bytes(b[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))) + b[at:])
    at = rng.randrange(len(b))
    return bytes(b[:at] + b[at + rng.randint(1, 4):])


def _forged_mutation(rng: random.Random, blob: bytes) -> bytes:
    """Mutate the params or the payload (or the original's size) and pack again: valid CRCs."""
    header, payload = container.unpack(blob)
    params, payload = bytearray(header.params), bytearray(payload)
    for _ in range(rng.randint(1, 2)):
        target = params if (rng.random() < 0.7 or not payload) and params else payload
        if not target:
            break
        at = rng.randrange(len(target))
        choice = rng.randrange(4)
        if choice == 0:
            target[at] ^= 1 << rng.randrange(8)
        elif choice == 1:
            target[at] = rng.choice((0, 1, 0x7F, 0x80, 0xFF))
        elif choice == 2:
            del target[at]
        else:
            target.insert(at, rng.randrange(256))
    if rng.random() < 0.15:
        header.original_size = rng.choice((0, 1, header.original_size + 1, header.original_size * 1000, 1 << 39, 1 << 62))
    header.params = bytes(params)
    try:
        return container.pack(header, bytes(payload))
    except (ValueError, OverflowError):
        return blob


def _check(blob: bytes, original: bytes | str | None, tiny_model) -> str:
    """'refused', 'info' or 'decoded'; raises on anything else."""
    try:
        llmpack.inspect(blob)
    except llmpack.LLMPackError:
        return "refused"
    if original == "info only":
        return "info"
    try:
        data = llmpack.decompress(blob, model=tiny_model)
    except llmpack.LLMPackError:
        return "refused"
    if original is not None:
        header, _ = container.unpack(blob)
        if header.checksum:  # a model decoded it: the original's checksum vouches for it
            assert container.checksum(data, len(header.checksum)) == header.checksum
    return "decoded"


def test_mutated_files_are_refused_or_decode_exactly(samples, tiny_model):
    rng = random.Random(2026)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    outcomes: dict[str, int] = {}
    slowest = (0.0, "")
    start = time.perf_counter()
    cases = [(False, i) for i in range(RAW_CASES)] + [(True, i) for i in range(FORGED_CASES)]
    for forged, i in cases:
        name, blob, original = samples[i % len(samples)]
        mutated = _forged_mutation(rng, blob) if forged else _raw_mutation(rng, blob)
        t = time.perf_counter()
        outcome = _check(mutated, original, tiny_model)
        elapsed = time.perf_counter() - t
        slowest = max(slowest, (elapsed, f"{name} {'forged' if forged else 'raw'} #{i}: {mutated.hex()}"))
        assert elapsed < SECONDS_PER_FILE, slowest
        if not forged and outcome == "decoded":  # the CRCs catch every raw change but a no-op
            assert original is None or llmpack.decompress(mutated, model=tiny_model) == llmpack.decompress(blob, model=tiny_model)
        outcomes[f"{'forged' if forged else 'raw'} {outcome}"] = outcomes.get(f"{'forged' if forged else 'raw'} {outcome}", 0) + 1
    total = time.perf_counter() - start
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak
    print(f"{len(cases)} cases in {total:.1f} s; slowest {slowest[0]:.2f} s; peak RSS +{grew >> 20} MB; {outcomes}")
    assert len(cases) >= 2000 and grew < MEMORY_GROWTH
    assert outcomes.get("forged refused", 0) > FORGED_CASES // 2  # the forgeries reached the codecs and were refused
