import pytest
from hypothesis import given, strategies as st

from llmpack import container
from llmpack.config import FORMAT_VERSION, MAGIC
from llmpack.errors import FormatError


def _header(**kw):
    base = dict(mode=1, flags=0, original_size=5, checksum=container.checksum(b"hello"), model="m", fingerprint=b"\x01" * 8, params=b"abc")
    base.update(kw)
    return container.Header(**base)


def test_pack_unpack_round_trip():
    blob = container.pack(_header(), b"PAYLOAD")
    header, payload = container.unpack(blob)
    assert payload == b"PAYLOAD"
    assert (header.mode, header.original_size, header.model, header.fingerprint, header.params) == (1, 5, "m", b"\x01" * 8, b"abc")
    assert header.version == FORMAT_VERSION and not header.lossy


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


@pytest.mark.parametrize("cut", [4, 5, 8, 12, 20, 30])
def test_truncated_header(cut):
    blob = container.pack(_header(), b"")
    with pytest.raises(FormatError):
        container.unpack(blob[:cut])


def test_header_bit_flip_is_caught_by_crc():
    blob = container.pack(_header(), b"x")
    for i in range(len(MAGIC) + 1, len(blob) - 5):
        damaged = bytearray(blob)
        damaged[i] ^= 0x10
        with pytest.raises(FormatError):
            container.unpack(bytes(damaged))
