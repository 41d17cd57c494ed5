"""Named constants and tunable defaults, in one place.

Everything that changes the bytes of a container is either recorded in its
header or is a format constant here; tuning a default never breaks old files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# --- container ---------------------------------------------------------------
MAGIC = b"LLMP"  # first four bytes of every container
FORMAT_VERSION = 3  # bumped on any incompatible change to docs/FORMAT.md
# Format 2 brought exact numerics (llmpack.exact). Format 1 files still open where they
# need no model (zstd mode); model-coded ones are refused with a one-line reason.
# Format 3 added the payload's length and block checksums to the header, and names
# models by registry id and fingerprint only (format 2 could hold a local path).
EXACT_FORMAT = 2
READABLE_VERSIONS = (1, 2, 3)
PAYLOAD_BLOCK = 16384  # payload bytes per CRC-32 in the header: 0.025% of the file, and corruption is located to 16 KB
SUFFIX = ".llmp"  # default file suffix, like .gz / .zst
CHECKSUM_BYTES = 8  # truncated SHA-256 of the original: 64 bits is plenty to catch corruption
FINGERPRINT_BYTES = 8  # truncated SHA-256 of weights + tokenizer, stored in the header

# --- baseline / fallback ---------------------------------------------------------
ZSTD_LEVEL = 19  # level for --mode zstd and for per-segment fallback (zstd's strongest non-ultra)


def user_dir() -> Path:
    """Offline user directory (converted weights, fingerprints). LLMPACK_HOME overrides."""
    env = os.environ.get("LLMPACK_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "llmpack"


@dataclass
class ArithmeticConfig:
    """Knobs of the arithmetic codec. Every value that decoding needs goes into the header."""

    # Segments are coded in lockstep as one batch: throughput grows with the batch
    # (weights are read once per step for all rows), compression shrinks as segments
    # get shorter (each restarts with no context). Measured on alice29 (fp32, 2 cores):
    # 16 rows 158 tok/s, 32 rows 217, 64 rows 255, 128 rows 312; and the model's own
    # cross-entropy at 256/512/1024-token segments is 1.23/1.18/1.15 bits per byte.
    max_rows: int = 64  # most segments stepped together in one batch
    min_segment_tokens: int = 256  # don't cut a file finer than this just to fill the batch
    max_segment_tokens: int = 768  # longer segments compress better but attention cost grows with length
    # torch threads; None: torch's default (every core). Speed only: the exact engine's
    # numbers do not depend on it, so it is not recorded.
    threads: int | None = None
    device: str = "auto"  # "auto" (a GPU where there is one), "cpu" or "cuda"; not recorded either
    # Replace CRLF by LF before modelling when that is reversible (no bare LF in the input).
    normalize_newlines: bool = True
    # Per-segment fallback: keep zstd (or raw bytes) where they beat the model.
    fallback: bool = True


@dataclass
class SemanticConfig:
    """Knobs of the semantic (lossless) and summary (lossy) codecs; decoding needs none of
    them except what the header records (numerics, rows, sampling, templates)."""

    # Most tokens the instruction model may spend on one section's reconstruction prompt.
    # Summary files are mostly prompts: this is their size/quality knob.
    prompt_tokens: int = 48
    # Seeds tried per section: 0 is greedy, s > 0 seeded sampling. Each extra seed costs
    # one more regeneration (and residual coding) of the whole input.
    seeds: int = 1
    # Residual coding: "zstd", "lm" (inserted text range-coded under the model), or
    # "auto": whichever is smaller, section by section.
    residual: str = "auto"
    # Section size cap. Regeneration steps all sections of a batch together, so time
    # grows with the longest section, while every section costs one more prompt. At 160
    # tokens a 5 KB input is ~9 sections regenerated in one batch of 160 steps.
    max_section_tokens: int = 128
    max_rows: int = 16  # sections regenerated together in one batch
    temperature: float = 0.7  # seeded sampling (seeds > 0) only
    top_k: int = 40  # seeded sampling (seeds > 0) only
    threads: int | None = None  # as ArithmeticConfig.threads
    device: str = "auto"  # as ArithmeticConfig.device

    # Residual text is range-coded in segments of at least this many tokens, stepped
    # together: inserted text is fragmented anyway, and short segments keep it fast.
    residual_segment_tokens: int = 32

    def arithmetic(self) -> ArithmeticConfig:
        """How residual text is range-coded with --residual lm: the same numerics."""
        return ArithmeticConfig(threads=self.threads, device=self.device, min_segment_tokens=self.residual_segment_tokens)


@dataclass
class SummaryConfig(SemanticConfig):
    """The summary mode stores prompts only, so its size is prompts per byte: fewer,
    longer sections (a 1.5 KB input is one section at 512 tokens)."""

    max_section_tokens: int = 512


@dataclass
class ReportConfig:
    """What `llmpack report` runs. Every row is a real encode + decode of the file."""

    modes: tuple[str, ...] = ("arithmetic", "semantic", "summary")  # llmpack modes measured
    # Summary prompt budgets (tokens per section prompt): the lossy size/quality knob, so
    # the report shows one frontier point per budget. Each budget costs a full summary
    # encode + decode (about 90 s per 5 KB on a 2-core CPU).
    prompt_tokens: tuple[int, ...] = (16, 48)
    # Independent (file, codec, setting) runs in parallel, each in its own process with
    # cpu_count // jobs torch threads. At the small batches of KB-sized inputs one thread
    # steps the model almost as fast as two (the matrix products are too small to split
    # well), so two single-thread jobs get ~1.7x the work done on 2 cores.
    jobs: int = field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 2)))
    max_bytes: int | None = None  # measure only the first N bytes of each file
