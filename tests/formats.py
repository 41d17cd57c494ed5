"""Writers of the container formats llmpack no longer writes (1-3) but still reads: what
tests make old files with. (The package writes formats 4 and 5 only.)"""

import struct

from llmpack.coding import container
from llmpack.coding.container import Header


def pack_old(header: Header, payload: bytes) -> bytes:
    """A container of format 1, 2 or 3 (header.version), as those versions wrote it."""
    if header.version == 3:
        return _pack_v3(header, payload)
    w = container.Writer().raw(container.MAGIC).u8(header.version).u8(header.mode).u8(header.flags & container.FLAG_LOSSY)
    w.varint(header.original_size).raw(header.checksum).text(header.model)
    if header.model:
        w.raw(header.fingerprint)
    head = w.blob(header.params).getvalue()
    return head + struct.pack("<I", container.crc32(head)) + payload


def _pack_v3(header: Header, payload: bytes) -> bytes:
    flags = header.flags & ~container.FLAG_MODEL | (container.FLAG_MODEL if header.fingerprint else 0)
    w = container.Writer().raw(container.MAGIC).u8(3).u8(header.mode).u8(flags)
    w.varint(header.original_size).raw(header.checksum).text(header.model)
    if header.fingerprint:
        w.raw(header.fingerprint)
    w.blob(header.params).varint(len(payload))
    for crc in container.block_crcs(payload):
        w.u32(crc)
    head = w.getvalue()
    return head + struct.pack("<I", container.crc32(head)) + payload
