"""The packed weights' arena (llmpack/model/exact/memory.py): aligned, zeroed arrays, and on
Linux memory advised for huge pages."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from llmpack.model.exact.memory import ALIGN, HUGE_PAGE, MIN_BYTES, Arena


def _vma_flags(address: int) -> list[str]:
    """The VmFlags of this process's mapping that holds `address` (Linux)."""
    flags, inside = [], False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            lo, hi = (int(x, 16) for x in head.split("-"))
            inside = lo <= address < hi
        elif inside and line.startswith("VmFlags:"):
            flags = line.split()[1:]
    return flags


@pytest.mark.parametrize("rows", [1, 5000], ids=["ordinary memory", "huge-page arena"])
def test_arrays_are_zeroed_aligned_and_separate(rows):
    shapes = [(rows, 3, 5), (7,), (rows, 100, 3)]
    room = Arena.room(shapes, 4)
    assert (room >= MIN_BYTES) == (rows > 1)
    arena = Arena(room)  # exactly the room they need
    arrays = [arena.array(s, np.int32) for s in shapes]
    for a, s in zip(arrays, shapes):
        assert a.shape == s and a.dtype == np.int32 and a.ctypes.data % ALIGN == 0 and not a.any()
        a[...] = 7
    assert all((a == 7).all() for a in arrays)  # writing one never touched another
    assert arrays[0].ctypes.data % (HUGE_PAGE if room >= MIN_BYTES else ALIGN) == 0
    with pytest.raises(MemoryError):
        arena.array((1,), np.int8)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise and /proc are Linux's")
def test_a_large_arena_is_private_memory_advised_for_huge_pages():
    arena = Arena(4 * HUGE_PAGE)
    a = arena.array((4 * HUGE_PAGE,), np.uint8)
    a[:] = 1
    flags = _vma_flags(a.ctypes.data)
    assert "hg" in flags  # MADV_HUGEPAGE took
    assert "sh" not in flags  # private: a shared mapping would be backed without huge pages
