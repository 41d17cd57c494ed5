"""Files made by an earlier llmpack (tests/data, made at 15ce624 before the compiled core)
decode to the bytes they decoded to then: lossless files to their input, a summary file
to the same approximation."""

import hashlib
import json
from pathlib import Path

import pytest

import llmpack
from llmpack.model.loading import load

from .common import NEEDS_MODEL, corpus

pytestmark = NEEDS_MODEL
DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = json.loads((DATA / "FIXTURES.json").read_text())


@pytest.fixture(scope="module")
def lm():
    return load(None)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_old_files_decode_to_the_same_bytes(lm, name):
    spec = FIXTURES[name]
    src, start, n = spec["input"]
    dictionary = None
    if spec["dictionary"]:
        d_src, d_start, d_n = spec["dictionary"]
        dictionary = corpus(d_src, d_start + d_n)[d_start:]
    out = llmpack.Decompressor(model=lm, dictionary=dictionary).decompress((DATA / f"{name}.llmp").read_bytes())
    assert hashlib.sha256(out).hexdigest() == spec["decodes_to_sha256"]
    if spec["mode"] != "summary":
        assert out == corpus(src, start + n)[start:]
