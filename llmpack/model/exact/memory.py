"""An arena for the packed weights a decoding step streams through, in huge pages.

Every decoding step reads all the packed int8 weights (134 MB for SmolLM2-135M) from
memory. With 4 KB pages that stream misses the TLB every 4 KB; Linux backs private
anonymous memory advised with MADV_HUGEPAGE by 2 MB pages (its default mode,
"madvise", does so only where advised). Measured on the 2-core AMD EPYC (docs/DESIGN.md,
"Weights in huge pages"): the engine's products over weights read from memory ran at
2.16 G vpdpbusd/s, at 2.50 in huge pages.

Only speed: the bytes are the same. Where there is no madvise (another OS) or the kernel
declines, the arena is ordinary memory.
"""

from __future__ import annotations

import math
import mmap

import numpy as np

HUGE_PAGE = 2 << 20  # x86-64's transparent huge page
ALIGN = 64  # each array starts on a cache line
MIN_BYTES = HUGE_PAGE  # below a huge page an arena is ordinary memory: nothing to gain


class Arena:
    """`nbytes` of zeroed memory, handed out in order as numpy arrays, each cache-line
    aligned. The arrays keep the arena's memory alive."""

    def __init__(self, nbytes: int) -> None:
        self.size, self.used = max(0, nbytes), 0
        if self.size >= MIN_BYTES:
            # private anonymous memory, with room to align to a huge page (Python's mmap with
            # fd -1 is otherwise a shared mapping, which the kernel backs without huge pages)
            flags = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)
            extra = {"flags": flags} if flags else {}
            self._map = mmap.mmap(-1, self.size + HUGE_PAGE, **extra)
            if hasattr(mmap, "MADV_HUGEPAGE"):
                try:
                    self._map.madvise(mmap.MADV_HUGEPAGE)
                except OSError:  # huge pages off or unsupported: ordinary pages
                    pass
            raw, align = np.frombuffer(self._map, dtype=np.uint8), HUGE_PAGE
        else:
            raw, align = np.zeros(self.size + ALIGN, dtype=np.uint8), ALIGN
        start = (-raw.ctypes.data) % align
        self._bytes = raw[start : start + self.size]

    @staticmethod
    def room(shapes: list[tuple[int, ...]], itemsize: int = 1) -> int:
        """Bytes an arena needs for arrays of these shapes."""
        return sum(_lines(math.prod(s) * itemsize) for s in shapes)

    def array(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        """The next zeroed array of this shape."""
        dtype = np.dtype(dtype)
        n = math.prod(shape) * dtype.itemsize
        if self.used + n > self.size:
            raise MemoryError("arena exhausted")
        out = self._bytes[self.used : self.used + n].view(dtype).reshape(shape)
        self.used += _lines(n)
        return out


def _lines(nbytes: int) -> int:
    """nbytes rounded up to whole cache lines: what an array takes of an arena."""
    return -(-nbytes // ALIGN) * ALIGN
