"""The .llmp container: a common prelude, a codec-specific parameter block, the payload.

Layout (docs/FORMAT.md is the reference):

    magic "LLMP" | version u8 | mode u8 | flags u8 | original_size varint
    | checksum 8B | model name (varint len + utf-8) | fingerprint 8B if a model is named
    | params (varint len + bytes) | header CRC32 u32le | payload ...

Reading a header is pure parsing: it never loads a model.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from .config import CHECKSUM_BYTES, FINGERPRINT_BYTES, FORMAT_VERSION, MAGIC, READABLE_VERSIONS
from .errors import FormatError

FLAG_LOSSY = 0x01  # decoding yields an approximation, not the original bytes
KNOWN_FLAGS = FLAG_LOSSY


def checksum(data: bytes) -> bytes:
    """Checksum of the original stored in every header (truncated SHA-256)."""
    return hashlib.sha256(data).digest()[:CHECKSUM_BYTES]


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


class Writer:
    """Append-only byte builder with the few field types the format uses."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> "Writer":
        self._parts.append(struct.pack("<B", value))
        return self

    def u32(self, value: int) -> "Writer":
        self._parts.append(struct.pack("<I", value))
        return self

    def varint(self, value: int) -> "Writer":
        if value < 0:
            raise ValueError("varint must be non-negative")
        out = bytearray()
        while True:
            byte = value & 0x7F
            value >>= 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                break
        self._parts.append(bytes(out))
        return self

    def raw(self, data: bytes) -> "Writer":
        self._parts.append(bytes(data))
        return self

    def blob(self, data: bytes) -> "Writer":
        return self.varint(len(data)).raw(data)

    def text(self, value: str) -> "Writer":
        return self.blob(value.encode("utf-8"))

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Cursor over bytes; every read that runs past the end raises FormatError."""

    def __init__(self, data: bytes, what: str = "header") -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.what = what

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError(f"truncated {self.what}")
        chunk = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self._take(1)[0]

    def u32(self) -> int:
        return struct.unpack("<I", self._take(4))[0]

    def varint(self) -> int:
        value = shift = 0
        while True:
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise FormatError(f"corrupt {self.what}: varint too long")

    def raw(self, n: int) -> bytes:
        return self._take(n)

    def blob(self) -> bytes:
        return self._take(self.varint())

    def text(self) -> str:
        try:
            return self.blob().decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"corrupt {self.what}: bad text field") from None

    def rest(self) -> bytes:
        return self._take(len(self.data) - self.pos)

    def at_end(self) -> bool:
        return self.pos == len(self.data)


@dataclass
class Header:
    """Fields every container has. `params` is the codec's own block, opaque here."""

    mode: int
    flags: int
    original_size: int
    checksum: bytes
    model: str = ""  # model id or path the file was made with; "" for model-free modes
    fingerprint: bytes = b""  # weights + tokenizer hash; empty when model is ""
    params: bytes = b""
    version: int = FORMAT_VERSION

    @property
    def lossy(self) -> bool:
        return bool(self.flags & FLAG_LOSSY)


def pack(header: Header, payload: bytes) -> bytes:
    w = Writer().raw(MAGIC).u8(header.version).u8(header.mode).u8(header.flags)
    w.varint(header.original_size).raw(header.checksum).text(header.model)
    if header.model:
        if len(header.fingerprint) != FINGERPRINT_BYTES:
            raise ValueError("fingerprint must be FINGERPRINT_BYTES long")
        w.raw(header.fingerprint)
    w.blob(header.params)
    head = w.getvalue()
    return head + struct.pack("<I", crc32(head)) + payload


def unpack(blob: bytes) -> tuple[Header, bytes]:
    """Split a container into its header and payload, checking magic, version and header CRC."""
    if len(blob) < len(MAGIC) or bytes(blob[: len(MAGIC)]) != MAGIC:
        raise FormatError("not an llmpack file (bad magic)")
    r = Reader(blob)
    r.raw(len(MAGIC))
    version = r.u8()
    if version not in READABLE_VERSIONS:
        raise FormatError(f"unsupported format version {version} (this llmpack reads {FORMAT_VERSION})")
    mode, flags = r.u8(), r.u8()
    original_size = r.varint()
    digest = r.raw(CHECKSUM_BYTES)
    model = r.text()
    fingerprint = r.raw(FINGERPRINT_BYTES) if model else b""
    params = r.blob()
    head_end = r.pos
    stored_crc = r.u32()
    if crc32(bytes(blob[:head_end])) != stored_crc:
        raise FormatError("corrupt header (CRC mismatch)")
    if flags & ~KNOWN_FLAGS:
        raise FormatError(f"unknown header flags 0x{flags:02x}")
    header = Header(mode, flags, original_size, digest, model, fingerprint, params, version)
    return header, r.rest()
