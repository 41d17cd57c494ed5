"""One measuring path for eval/ scripts and `llmpack report`: real encode and decode, timed.

Baselines are functions bytes -> bytes at their strongest common settings. llmpack
codecs are measured through a Compressor/Decompressor pair whose model is loaded
before the clock starts, so the figures are throughput "once the model is loaded".
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import zstandard

Pair = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]


def _baselines() -> dict[str, Pair]:
    table: dict[str, Pair] = {
        "gzip -9": (lambda d: gzip.compress(d, 9, mtime=0), gzip.decompress),
        "bz2 -9": (lambda d: bz2.compress(d, 9), bz2.decompress),
        "xz -9e": (lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME), lzma.decompress),
        "zstd -19": (
            lambda d: zstandard.ZstdCompressor(level=19).compress(d),
            lambda b: zstandard.ZstdDecompressor().decompress(b),
        ),
    }
    try:
        import brotli

        table["brotli 11"] = (lambda d: brotli.compress(d, quality=11), brotli.decompress)
    except ImportError:  # optional: brotli is not a dependency
        pass
    return table


BASELINES = _baselines()


@dataclass
class Row:
    """One file x codec (x setting) measurement."""

    file: str
    codec: str  # "gzip", "arithmetic", "summary", ...
    original_bytes: int
    compressed_bytes: int
    encode_s: float
    decode_s: float
    exact: bool
    similarity: float = 1.0  # all-MiniLM-L6-v2 cosine of original and decoded; 1.0 when exact
    setting: str = ""  # "-9" for gzip -9, "prompt_tokens=16" for a summary budget, "" for defaults
    extra: dict = field(default_factory=dict)  # codec-reported figures (e.g. model cross-entropy)

    @property
    def label(self) -> str:
        return f"{self.codec} {self.setting}".strip()

    @property
    def bpb(self) -> float:
        return 8 * self.compressed_bytes / self.original_bytes if self.original_bytes else 0.0

    @property
    def ratio(self) -> float:
        return self.original_bytes / self.compressed_bytes if self.compressed_bytes else 0.0

    def kbps(self, seconds: float) -> float:
        return self.original_bytes / 1000 / seconds if seconds > 0 else float("inf")

    def as_dict(self) -> dict:
        return {**asdict(self), "bpb": self.bpb, "ratio": self.ratio}


def time_pair(
    name: str,
    codec: str,
    setting: str,
    data: bytes,
    encode: Callable[[bytes], bytes],
    decode: Callable[[bytes], bytes],
    extra: Callable[[], dict] | None = None,
) -> Row:
    t0 = time.perf_counter()
    blob = encode(data)
    t1 = time.perf_counter()
    back = decode(blob)
    t2 = time.perf_counter()
    exact = back == data
    if exact:
        sim = 1.0
    else:
        from ..semantic.similarity import similarity

        sim = similarity(data, back)
    return Row(name, codec, len(data), len(blob), t1 - t0, t2 - t1, exact, sim, setting, extra() if extra else {})


def measure_baseline(name: str, label: str, data: bytes) -> Row:
    """label is a BASELINES key: "zstd -19" gives codec "zstd", setting "-19"."""
    encode, decode = BASELINES[label]
    codec, _, setting = label.partition(" ")
    return time_pair(name, codec, setting, data, encode, decode)


def measure_llmpack(name: str, data: bytes, compressor, decompressor, setting: str = "") -> Row:
    """Encode and decode with llmpack objects that already hold their model.

    The codec's own figures (compressor.stats) land in Row.extra, lists and bytes left out."""

    def extra() -> dict:
        stats = {k: v for k, v in compressor.stats.items() if not isinstance(v, (bytes, list))}
        if stats.get("model_bits"):
            stats["coder_overhead"] = 8 * stats["model_payload_bytes"] / stats["model_bits"] - 1
        return stats

    return time_pair(name, compressor.codec.name, setting, data, compressor.compress, decompressor.decompress, extra)
