import struct
import zlib

import pytest
from hypothesis import given, strategies as st

from llmpack.coding import container
from formats import pack_old
from llmpack.config import FORMAT_VERSION, MAGIC
from llmpack.errors import FormatError
from llmpack.model.loading import REGISTRY


def _header(**kw):
    base = dict(
        mode=1, flags=0, original_size=5, checksum=container.checksum(b"hello"), model="", fingerprint=b"\x01" * 8, params=b"abc"
    )
    base.update(kw)
    return container.Header(**base)


def test_pack_unpack_round_trip():
    blob = container.pack(_header(), b"PAYLOAD")
    header, payload = container.unpack(blob)
    assert payload == b"PAYLOAD"
    assert (header.mode, header.original_size, header.model, header.fingerprint, header.params) == (1, 5, "", b"\x01" * 8, b"abc")
    assert header.version == FORMAT_VERSION and not header.lossy


SMOLLM = bytes.fromhex(REGISTRY["smollm2-135m"].fingerprint)


def test_registered_model_is_one_byte():
    """A registered model with its pinned fingerprint is named by its number; the same id
    with other weights is an unregistered model, named by its fingerprint."""
    plain = container.pack(_header(model="", fingerprint=b""), b"PAYLOAD")
    named = container.pack(_header(model="smollm2-135m", fingerprint=SMOLLM), b"PAYLOAD")
    assert len(named) == len(plain)
    header, _ = container.unpack(named)
    assert (header.model, header.fingerprint) == ("smollm2-135m", SMOLLM)
    other = container.pack(_header(model="smollm2-135m", fingerprint=b"\x02" * 8), b"PAYLOAD")
    assert len(other) == len(plain) + 8
    assert container.unpack(other)[0].model == ""


def test_small_files_cost_little():
    """Format 4's overhead: an empty stored file is 13 bytes; a registered model's
    single-block file adds magic, version, mode, size, checksum, model, params and one CRC."""
    empty = container.pack(_header(mode=4, original_size=0, checksum=b"", model="", fingerprint=b"", params=b""), b"")
    assert len(empty) == 13
    payload = b"p" * 200
    blob = container.pack(_header(original_size=1500, model="smollm2-135m", fingerprint=SMOLLM, params=b"abcd"), payload)
    assert len(blob) - len(payload) == 4 + 1 + 1 + 2 + 4 + 1 + 5 + 4


def test_unknown_model_number():
    blob = container.pack(_header(model="smollm2-135m", fingerprint=SMOLLM), b"x")
    at = blob.index(bytes([container.MODEL_REGISTERED + REGISTRY["smollm2-135m"].number]), 6 + 4)
    damaged = bytearray(blob)
    damaged[at] = 99
    with pytest.raises(FormatError, match="fail their checksum"):  # damage first
        container.unpack(bytes(damaged))
    head = bytes(damaged[:-5])
    fixed = head + struct.pack("<I", zlib.crc32(b"x", zlib.crc32(head))) + b"x"
    with pytest.raises(FormatError, match="unknown model number 97"):
        container.unpack(fixed)


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("size", [0, 1, 16384, 16385, 40000])
def test_payload_blocks(version, size):
    """One CRC for header and payload up to one block; block CRCs beyond; format 3 as it was."""
    payload = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    checksum = container.checksum(b"hello", 8 if version == 3 else 4)
    blob = (pack_old if version < 4 else container.pack)(_header(version=version, checksum=checksum), payload)
    header, got = container.unpack(blob)
    assert got == payload and header.version == version and header.checksum == checksum
    if size:
        damaged = bytearray(blob)
        damaged[-1] ^= 1
        with pytest.raises(FormatError, match="fail their checksum"):
            container.unpack(bytes(damaged))
    with pytest.raises(FormatError, match="truncated|fail their checksum"):
        container.unpack(blob[:-1])


def test_model_free_header_has_no_fingerprint():
    blob = container.pack(_header(model="", fingerprint=b""), b"")
    header, _ = container.unpack(blob)
    assert header.model == "" and header.fingerprint == b""


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_varint_round_trip(n):
    assert container.Reader(container.Writer().varint(n).getvalue()).varint() == n


def test_bad_magic():
    with pytest.raises(FormatError, match="not an llmpack file"):
        container.unpack(b"PK\x03\x04 something else")


def test_unsupported_version():
    blob = bytearray(container.pack(_header(), b""))
    blob[len(MAGIC)] = FORMAT_VERSION + 1
    with pytest.raises(FormatError, match="unsupported format version"):
        container.unpack(bytes(blob))


def test_truncated_header():
    blob = container.pack(_header(), b"")
    for cut in range(len(blob)):
        with pytest.raises(FormatError):
            container.unpack(blob[:cut])


def test_header_bit_flip_is_caught_by_crc():
    blob = container.pack(_header(), b"x")
    for i in range(len(MAGIC) + 1, len(blob) - 5):
        damaged = bytearray(blob)
        damaged[i] ^= 0x10
        with pytest.raises(FormatError):
            container.unpack(bytes(damaged))
