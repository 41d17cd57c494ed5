"""The .llmp container: a common prelude, a codec-specific parameter block, the payload.

Layout of format 4 (docs/FORMAT.md is the reference), built to cost little on small files:

    magic "LLMP" | version u8 | mode and flags u8 | original_size varint
    | checksum 4B if flagged | model varint (0 none, 1 fingerprint 8B follows, 2+ registry)
    | params (blob) | if flagged (a payload over one block): payload_size varint and a
    CRC-32 per PAYLOAD_BLOCK | CRC-32 u32le of the header, and of the payload when it is
    one block | payload ...

Reading a header is pure parsing and checksumming: it never loads a model, and every
byte of the file is checked before a codec sees it, so corruption is reported with its
position, never as a model mismatch. Formats 1-3 are still read.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from ..config import (
    CHECKSUM_BYTES, FINGERPRINT_BYTES, FORMAT_VERSION, MAGIC, MAX_ORIGINAL_SIZE, OLD_CHECKSUM_BYTES, PAYLOAD_BLOCK,
    READABLE_VERSIONS,
)
from ..errors import FormatError

FLAG_LOSSY = 0x01  # decoding yields an approximation, not the original bytes
FLAG_MODEL = 0x02  # format 3: a model fingerprint follows the model id
KNOWN_FLAGS = FLAG_LOSSY | FLAG_MODEL
# Format 4's second byte: the mode in the low bits, then two flags.
MODE_BITS = 0x0F
BIT_LOSSY, BIT_CHECKSUM, BIT_BLOCKS = 0x10, 0x20, 0x40
# Format 4's model field: none, an unregistered model (its fingerprint follows), or a
# registered model's number + MODEL_REGISTERED (models.ModelSpec.number; its pinned
# fingerprint is implied).
MODEL_NONE, MODEL_FINGERPRINT, MODEL_REGISTERED = 0, 1, 2


def checksum(data: bytes, size: int = CHECKSUM_BYTES) -> bytes:
    """Checksum of the original that headers store (truncated SHA-256)."""
    return hashlib.sha256(data).digest()[:size]


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def block_crcs(payload: bytes) -> list[int]:
    view = memoryview(payload)
    return [crc32(view[i : i + PAYLOAD_BLOCK]) for i in range(0, len(payload), PAYLOAD_BLOCK)]


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
            raise FormatError(f"truncated or corrupt {self.what} at byte {self.pos}")
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
                raise FormatError(f"corrupt {self.what} at byte {self.pos}: varint too long")

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
    checksum: bytes  # of the original; empty where the payload's own checksums suffice (stored, zstd, lossy)
    model: str = ""  # registry id of the model ("" for model-free modes and unregistered models)
    fingerprint: bytes = b""  # weights + tokenizer hash; empty when no model is needed
    params: bytes = b""
    version: int = FORMAT_VERSION
    payload_offset: int = 0  # where the payload starts in the file (set by unpack)

    @property
    def lossy(self) -> bool:
        return bool(self.flags & FLAG_LOSSY)


def pack(header: Header, payload: bytes) -> bytes:
    """The container of format 4 and 5 (llmpack reads formats 1-3 too, but writes them no more)."""
    if header.version < 4:
        raise ValueError(f"llmpack writes formats 4 and 5, not {header.version}")
    if header.mode & ~MODE_BITS or header.checksum and len(header.checksum) != CHECKSUM_BYTES:
        raise ValueError("mode or checksum out of range")
    blocks = len(payload) > PAYLOAD_BLOCK
    bits = (header.mode | (BIT_LOSSY if header.lossy else 0) | (BIT_CHECKSUM if header.checksum else 0)
            | (BIT_BLOCKS if blocks else 0))
    w = Writer().raw(MAGIC).u8(header.version).u8(bits).varint(header.original_size).raw(header.checksum)
    _pack_model(w, header)
    w.blob(header.params)
    if blocks:
        w.varint(len(payload))
        for crc in block_crcs(payload):
            w.u32(crc)
        head = w.getvalue()
        return head + struct.pack("<I", crc32(head)) + payload
    head = w.getvalue()
    return head + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head)) & 0xFFFFFFFF) + payload


def _pack_model(w: Writer, header: Header) -> None:
    from ..model.loading import registry_number  # no model is loaded: a table lookup

    if not header.fingerprint:
        if header.model:
            raise ValueError("a model id needs its fingerprint")
        w.varint(MODEL_NONE)
        return
    if len(header.fingerprint) != FINGERPRINT_BYTES:
        raise ValueError("fingerprint must be FINGERPRINT_BYTES long")
    number = registry_number(header.model, header.fingerprint)
    if number is None:
        w.varint(MODEL_FINGERPRINT).raw(header.fingerprint)
    else:
        w.varint(MODEL_REGISTERED + number)


def _model_from(code: int, fingerprint: bytes) -> tuple[str, bytes]:
    from ..model.loading import registered

    if code in (MODEL_NONE, MODEL_FINGERPRINT):
        return "", fingerprint
    found = registered(code - MODEL_REGISTERED)
    if found is None:
        raise FormatError(f"unknown model number {code - MODEL_REGISTERED} (file from a newer llmpack?)")
    return found


def unpack(blob: bytes) -> tuple[Header, bytes]:
    """Split a container into its header and payload, checking magic, version, header CRC,
    the payload's length and its block CRCs. Errors say where the damage is."""
    if len(blob) < len(MAGIC) or bytes(blob[: len(MAGIC)]) != MAGIC:
        raise FormatError("not an llmpack file (bad magic in bytes 0-3)")
    r = Reader(blob)
    r.raw(len(MAGIC))
    version = r.u8()
    if version not in READABLE_VERSIONS:
        readable = ", ".join(map(str, READABLE_VERSIONS))
        raise FormatError(f"unsupported format version {version} at byte 4 (this llmpack reads {readable})")
    if version >= 4:
        return _unpack_v4(blob, r, version)
    mode, flags = r.u8(), r.u8()
    original_size = _original_size(r)
    digest = r.raw(OLD_CHECKSUM_BYTES)
    model = r.text()
    has_model = bool(flags & FLAG_MODEL) if version >= 3 else bool(model)
    fingerprint = r.raw(FINGERPRINT_BYTES) if has_model else b""
    params = r.blob()
    payload_size = crcs = None
    if version >= 3:
        payload_size = r.varint()
        crcs = [r.u32() for _ in range(-(-payload_size // PAYLOAD_BLOCK))]
    head_end = r.pos
    stored_crc = r.u32()
    if crc32(bytes(blob[:head_end])) != stored_crc:
        raise FormatError(f"corrupt header: bytes 0-{head_end - 1} fail their checksum")
    if flags & ~(KNOWN_FLAGS if version >= 3 else FLAG_LOSSY):
        raise FormatError(f"unknown header flags 0x{flags:02x} at byte 6")
    header = Header(mode, flags & ~FLAG_MODEL, original_size, digest, model, fingerprint, params, version, r.pos)
    payload = r.rest()
    if payload_size is not None:
        _check_payload(payload, payload_size, crcs, r.pos - len(payload))
    return header, payload


def _original_size(r: Reader) -> int:
    at, size = r.pos, r.varint()
    if size > MAX_ORIGINAL_SIZE:
        raise FormatError(
            f"corrupt header at byte {at}: an original of {size} bytes (llmpack writes at most {MAX_ORIGINAL_SIZE})"
        )
    return size


def _unpack_v4(blob: bytes, r: Reader, version: int) -> tuple[Header, bytes]:
    bits = r.u8()
    if bits & ~(MODE_BITS | BIT_LOSSY | BIT_CHECKSUM | BIT_BLOCKS):
        raise FormatError(f"unknown header flags 0x{bits:02x} at byte 5")
    original_size = _original_size(r)
    digest = r.raw(CHECKSUM_BYTES) if bits & BIT_CHECKSUM else b""
    model_code = r.varint()
    fingerprint = r.raw(FINGERPRINT_BYTES) if model_code == MODEL_FINGERPRINT else b""
    params = r.blob()
    crcs = None
    if bits & BIT_BLOCKS:
        payload_size = r.varint()
        crcs = [r.u32() for _ in range(-(-payload_size // PAYLOAD_BLOCK))]
    head_end = r.pos
    stored_crc = r.u32()
    payload_at = r.pos
    payload = r.rest()
    if crcs is not None:
        if crc32(bytes(blob[:head_end])) != stored_crc:
            raise FormatError(f"corrupt header: bytes 0-{head_end - 1} fail their checksum")
        _check_payload(payload, payload_size, crcs, payload_at)
    elif len(payload) > PAYLOAD_BLOCK or zlib.crc32(payload, zlib.crc32(bytes(blob[:head_end]))) & 0xFFFFFFFF != stored_crc:
        # one block: the rest of the file, which the header's CRC covers
        raise FormatError(f"corrupt or truncated: bytes 0-{len(blob) - 1} fail their checksum")
    model, fingerprint = _model_from(model_code, fingerprint)  # after the checks: a damaged number is damage
    header = Header(
        bits & MODE_BITS,
        FLAG_LOSSY if bits & BIT_LOSSY else 0,
        original_size,
        digest,
        model,
        fingerprint,
        params,
        version,
        payload_at,
    )
    return header, payload


def _check_payload(payload: bytes, size: int, crcs: list[int], offset: int) -> None:
    if len(payload) < size:
        raise FormatError(f"truncated: the file ends at byte {offset + len(payload)}, its header says {offset + size}")
    if len(payload) > size:
        raise FormatError(f"corrupt: {len(payload) - size} unexpected bytes after the payload, from byte {offset + size}")
    for i, (want, got) in enumerate(zip(crcs, block_crcs(payload))):
        if want != got:
            a = offset + i * PAYLOAD_BLOCK
            b = min(offset + size, a + PAYLOAD_BLOCK) - 1
            raise FormatError(f"corrupt payload: bytes {a}-{b} fail their checksum (block {i + 1} of {len(crcs)})")
