"""Named constants and tunable defaults, in one place.

Everything that changes the bytes of a container is either recorded in its
header or is a format constant here; tuning a default never breaks old files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar, NamedTuple

from . import environment
from .errors import LLMPackError

# --- container ---------------------------------------------------------------
MAGIC = b"LLMP"  # first four bytes of every container
FORMAT_VERSION = 6  # bumped on any incompatible change to docs/FORMAT.md
# Format 2 brought exact numerics (llmpack.model.exact). Format 1 files still open where they
# need no model (zstd mode); model-coded ones are refused with a one-line reason.
# Format 3 added the payload's length and block checksums to the header, and names
# models by registry id and fingerprint only (format 2 could hold a local path).
EXACT_FORMAT = 2
# Format 4 made headers compact (small files): a 4-byte checksum only where a model
# decodes, a registered model by number, one CRC for header and payload up to one block.
# Format 5 gave semantic and summary files a compact base layer (model-coded prompts,
# recipes by number) and semantic files a residual coded under the model; the header and
# the other modes are as in format 4.
# Format 6 lets an arithmetic file coded after a dictionary name parts of it moved to the
# end (coding.dictionary); all else is as in format 5.
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6)
PAYLOAD_BLOCK = 16384  # payload bytes per CRC-32 in the header: 0.025% of the file, and corruption is located to 16 KB
SUFFIX = ".llmp"  # default file suffix, like .gz / .zst
# Truncated SHA-256 of the original, checked after a model decodes: it catches a decoder
# that computed other numbers (the payload's CRCs catch damage), so 32 bits suffice.
CHECKSUM_BYTES = 4
OLD_CHECKSUM_BYTES = 8  # formats 1-3
FINGERPRINT_BYTES = 8  # truncated SHA-256 of weights + tokenizer, stored in the header

# --- bounds on what a header may claim (a hostile file costs bounded time and memory) ----
# Every count in a header is checked against what its payload can carry before anything
# is allocated or a model steps: model-coded tokens by rangecoder.max_tokens, bytes by these.
MAX_ORIGINAL_SIZE = 1 << 40  # llmpack holds an input in memory: a bigger original was never written
MAX_TOKEN_BYTES = 1024  # longest token a tokenizer may decode to (SmolLM2's: 81); longer ones are not used
ZSTD_MAX_EXPANSION = 1 << 15  # a zstd frame yields at most 128 KiB per 4-byte RLE block
MAX_SECTION_TOKENS = 16384  # semantic/summary sections (the encoder cuts at max_section_tokens <= half this)

# --- baseline / fallback ---------------------------------------------------------
ZSTD_LEVEL = 19  # level for --mode zstd and for per-segment fallback (zstd's strongest non-ultra)


def user_dir() -> Path:
    """Offline user directory (converted weights, fingerprints). LLMPACK_HOME overrides."""
    env = environment.home()
    if env:
        return Path(env)
    base = environment.cache_home() or Path.home() / ".cache"
    return Path(base) / "llmpack"


@dataclass(frozen=True)
class Level:
    """What a compression level (-1 .. -9) sets. Only the profile is recorded in files;
    the rest is the encoder's choice, so levels can be retuned without breaking files."""

    segment_tokens: int  # target tokens per segment; a shorter input is one segment
    profile: int  # coding profile (profiles.PROFILES): window and online models
    max_rows: int = 64  # most segments one encoder batch plans for (the decoder sizes its own)


# Segments are decoded in lockstep, one token per step for all rows: decode time grows
# with segment length (context), compression improves with it. The default is the
# level with the best ratio that encodes and decodes alice29 at 3 KB/s or more on the
# 2-core machine with the compiled core (eval/levels.py; docs/BENCHMARKS.md): level 4,
# 896-token segments, 1.141 bits/byte, 3.0-3.4 KB/s each way (decoding 2.75 under host
# load); level 5 (1280) gives 1.110 at about 2.7 KB/s decoding, bound by memory traffic
# (weights and KV caches).
LEVELS: dict[int, Level] = {
    1: Level(256, 4),
    2: Level(512, 4),
    3: Level(768, 4),  # format 3's default
    4: Level(896, 5),  # the default
    5: Level(1280, 5),
    6: Level(2048, 5),
    7: Level(4096, 6),
    8: Level(8192, 6),
    9: Level(16384, 6),
}
DEFAULT_LEVEL = 4


# --- options: each codec's config declares its knobs (its fields) and checks them in
# check(), on construction, before any model loads; the API, the command line and the
# report all go through these classes.
DEVICES = ("auto", "cpu", "cuda")  # where the model runs; the bits are the same on each
RESIDUALS = ("auto", "model", "diff", "lm", "zstd")  # semantic's residual codings ("zstd": diff's old name)
MAX_CANDIDATES = 128  # --seeds at most: a file's candidates per chunk (the base of its seed digits)


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise LLMPackError(message)


def _check_common(cfg) -> None:
    _need(cfg.threads is None or (isinstance(cfg.threads, int) and cfg.threads >= 1), "threads must be at least 1")
    _need(cfg.device in DEVICES, f"unknown device {cfg.device!r} (choose from: {', '.join(DEVICES)})")


def option_names(config_class) -> tuple[str, ...]:
    """The options a config declares: its fields, less those its class marks as not its
    own (`not_options`: a summary has no residual)."""
    if config_class is None:
        return ()
    hidden = getattr(config_class, "not_options", ())
    return tuple(f.name for f in fields(config_class) if f.name not in hidden)


class Settings(NamedTuple):
    """What an ArithmeticConfig comes to after its level."""

    max_rows: int
    min_segment_tokens: int
    max_segment_tokens: int
    profile: int


@dataclass
class ArithmeticConfig:
    """Knobs of the arithmetic codec: a level, and optional overrides of what it sets.
    Decoding needs none of them: the header records the profile and the segments."""

    level: int = DEFAULT_LEVEL
    # Overrides of the level (None: the level's value). Segments are cut between
    # min_segment_tokens and max_segment_tokens, as many as max_rows allows.
    max_rows: int | None = None
    min_segment_tokens: int | None = None
    max_segment_tokens: int | None = None
    profile: int | None = None
    # torch threads; None: torch's default (every core). Speed only: the exact engine's
    # numbers do not depend on it, so it is not recorded.
    threads: int | None = None
    device: str = "auto"  # "auto" (the CPU: faster than a GPU for this engine), "cpu" or "cuda"; not recorded either
    # Replace CRLF by LF before modelling when that is reversible (no bare LF in the input).
    normalize_newlines: bool = True
    # Per-segment fallback: keep zstd (or raw bytes) where they beat the model.
    fallback: bool = True
    # A priming text run through the model (and the online models) before every segment,
    # like a zstd dictionary; the header records its hash, and decoding needs it too.
    dictionary: bytes | None = None

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse impossible settings (an LLMPackError), before any model loads."""
        _need(self.level in LEVELS, f"level must be one of {min(LEVELS)}..{max(LEVELS)} (got {self.level!r})")
        s = self.settings()
        _need(s.max_rows >= 1 and 1 <= s.min_segment_tokens <= s.max_segment_tokens,
              "segment tokens must be 1 <= min <= max, and rows at least 1")
        _check_common(self)

    def settings(self) -> Settings:
        """The level's settings, with this config's overrides."""
        lv = LEVELS[self.level]
        pick = lambda value, default: default if value is None else value  # noqa: E731
        return Settings(pick(self.max_rows, lv.max_rows), pick(self.min_segment_tokens, lv.segment_tokens),
                        pick(self.max_segment_tokens, lv.segment_tokens), pick(self.profile, lv.profile))


PROMPT_RATIO = 32  # semantic's automatic prompt budget: a prompt token per 32 text tokens ...
PROMPT_TOKENS_AUTO = (8, 48)  # ... but at least 8 and at most 48


@dataclass
class SemanticConfig:
    """Knobs of the semantic (lossless) and summary (lossy) codecs. Decoding needs none of
    them: the header records the profile, the recipe (templates, sampling) and the sections.
    A semantic file stripped of its residual equals the summary file made with the same
    values of the knobs that shape the base layer (prompt_tokens, seeds,
    max_section_tokens, recipe)."""

    # Most tokens the instruction model may spend on one section's reconstruction prompt.
    # Summary files are mostly prompts: this is their size/quality knob. None: one prompt
    # token per PROMPT_RATIO text tokens, within PROMPT_TOKENS_AUTO (semantic's default:
    # measured on 1.5 KB inputs, a 12-token prompt costs 5-11 bytes and saves 2-7 on the
    # text coded after it; a 48-token one costs 20-30 and saves 3-20).
    prompt_tokens: int | None = None
    # Candidates per choice (recipe 2, the default for seeds > 1): every section is
    # regenerated from its greedy prompt by N rows at once, row k sampling with seed k (0:
    # greedy); after each 32-token chunk all rows continue from the one whose text so far
    # is most like the original section (MiniLM), and the file records that row's seed
    # per chunk (log2 N bits each). A greedy regeneration runs beside them and is kept
    # where it comes out more similar. Recipe 1 (recipe=1): N whole-section candidates,
    # a prompt sampled with seed k regenerated with seed k, the most similar kept.
    seeds: int = 1
    # Residual coding: "model" (the text range-coded under the model, after its prompt or
    # not, per section), "diff" (an edit script from the regeneration, zstd-packed), "lm"
    # (that script's inserted text range-coded), or "auto": whichever is smallest.
    residual: str = "auto"
    # Section size cap. Each section costs a prompt and restarts the residual's context,
    # so the lossless mode wants long ones: as long as the arithmetic mode's default segments.
    max_section_tokens: int = 1280
    max_rows: int = 16  # sections generated together in one batch (speed only)
    # Recipe (codecs.semantic_params.RECIPES): templates, sampling and the coding profile
    # of the model-coded prompts and residual (recipes 1 and 2: the arithmetic default's
    # profile 5). None: recipe 1 for one seed, 2 (a seed per chunk) for more.
    recipe: int | None = None
    threads: int | None = None  # as ArithmeticConfig.threads
    device: str = "auto"  # as ArithmeticConfig.device

    # Lossless semantic files fall back to zstd or stored bytes where those are smaller.
    fallback: bool = True

    # With --residual lm, the inserted text is range-coded in segments of at least this
    # many tokens, stepped together: inserted text is fragmented anyway.
    residual_segment_tokens: int = 32

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse impossible settings (an LLMPackError), before any model loads. (The
        recipe number is checked by the codec, which holds the recipes.)"""
        _need(1 <= self.seeds <= MAX_CANDIDATES, f"--seeds must be between 1 and {MAX_CANDIDATES}")
        _need(self.prompt_tokens is None or self.prompt_tokens >= 1, "--prompt-tokens must be at least 1")
        _need(self.residual in RESIDUALS, f"unknown residual coding {self.residual!r} (choose from: auto, model, diff, lm)")
        _need(1 <= self.max_section_tokens <= MAX_SECTION_TOKENS // 2,
              f"max_section_tokens must be between 1 and {MAX_SECTION_TOKENS // 2}")
        _need(self.max_rows >= 1 and self.residual_segment_tokens >= 1, "rows and segment tokens must be at least 1")
        _check_common(self)

    def recipe_number(self) -> int:
        return self.recipe if self.recipe is not None else (1 if self.seeds == 1 else 2)

    def prompt_budget(self, section_tokens: int) -> int:
        """Most prompt tokens for a section of this many tokens."""
        if self.prompt_tokens is not None:
            return self.prompt_tokens
        low, high = PROMPT_TOKENS_AUTO
        return max(low, min(high, section_tokens // PROMPT_RATIO))

    def lm_residual(self) -> dict:
        """ArithmeticConfig settings for --residual lm's embedded stream."""
        return {"min_segment_tokens": self.residual_segment_tokens, "max_segment_tokens": 768, "profile": 4}


@dataclass
class SummaryConfig(SemanticConfig):
    """The summary mode stores prompts only, so its size is prompts per byte; its sections
    are shorter than semantic's, so that each prompt describes less text (a 1.5 KB input is
    one section at 512 tokens)."""

    max_section_tokens: int = 512
    prompt_tokens: int | None = 48
    # A summary has no residual layer and never falls back (it is lossy).
    not_options: ClassVar[tuple[str, ...]] = ("residual", "residual_segment_tokens", "fallback")


@dataclass
class FidelityConfig:
    """Knobs of the fidelity (lossy) codec: the similarity to keep, and the arithmetic
    mode's level that codes the approximation. Decoding needs none of them."""

    # The costliest sentences and lines are replaced by the model's own text, or dropped,
    # while the whole text keeps at least this MiniLM similarity to the original (1.0:
    # nothing is replaced).
    fidelity: float = 0.95
    level: int = DEFAULT_LEVEL
    threads: int | None = None  # as ArithmeticConfig.threads
    device: str = "auto"  # as ArithmeticConfig.device

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse impossible settings (an LLMPackError), before any model loads."""
        _need(-1.0 <= self.fidelity <= 1.0, "--fidelity must be between -1 and 1 (a MiniLM cosine similarity)")
        self.arithmetic()  # its level and the rest

    def arithmetic(self) -> ArithmeticConfig:
        return ArithmeticConfig(level=self.level, threads=self.threads, device=self.device, fallback=False)


@dataclass
class ReportConfig:
    """What `llmpack report` runs. Every row is a real encode + decode of the file."""

    modes: tuple[str, ...] = ("arithmetic", "semantic", "summary", "fidelity")  # llmpack modes measured
    # Summary prompt budgets (tokens per section prompt) and seed counts: the lossy
    # size/quality knobs, so the report shows one frontier point per (budget, seeds): a
    # curve per seed count. Each costs a full summary encode + decode (about 90 s per 5 KB
    # on a 2-core CPU, times the seeds).
    prompt_tokens: tuple[int, ...] = (16, 48)
    seeds: tuple[int, ...] = (1, 4)
    # Fidelity levels: the curve from summary up to exact (1.0 = arithmetic).
    fidelity: tuple[float, ...] = (0.8, 0.9, 0.95, 0.99)
    # Independent (file, codec, setting) runs in parallel, each in its own process with
    # cpu_count // jobs torch threads. At the small batches of KB-sized inputs one thread
    # steps the model almost as fast as two (the matrix products are too small to split
    # well), so two single-thread jobs get ~1.7x the work done on 2 cores.
    jobs: int = field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 2)))
    max_bytes: int | None = None  # measure only the first N bytes of each file
