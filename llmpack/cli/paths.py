"""Which files a command reads and writes, and the checks gzip and zstd make on them.

Inputs: '-' is standard input; a folder is walked with -r; anything but a regular file
(a FIFO, a device) is skipped with a warning unless -f. Outputs: '-' is standard
output; otherwise FILE.llmp, or FILE without .llmp when decoding; an existing output
is kept unless -f, and an output that is the input itself (by any name) is refused.
Every error names the file it is about.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config import SUFFIX

STDIO = "-"
LOSSY_TAG = ".summary"  # decoded lossy files are NAME.summary.EXT: never the original's name


class CliError(Exception):
    """An error to report as `llmpack: NAME: reason`, exit code 1."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason


class Skipped(CliError):
    """A warning: this input is left alone (`llmpack: NAME: reason`); exit code 2 unless an error follows."""


def expand(files: list[str], recursive: bool, decoding: bool) -> list[str | Skipped]:
    """The inputs in order, folders walked when recursive (only .llmp files when decoding,
    none of them when encoding); what cannot be an input becomes a Skipped."""
    out: list[str | Skipped] = []
    for name in files:
        if name != STDIO and os.path.isdir(name):
            if not recursive:
                out.append(Skipped(name, "is a directory; ignored (use -r to walk it)"))
                continue
            for folder, dirs, names in os.walk(name):
                dirs.sort()
                for n in sorted(names):
                    if n.endswith(SUFFIX) == decoding and not n.startswith("."):
                        out.append(os.path.join(folder, n))
        else:
            out.append(name)
    return out


def source_stat(name: str, force: bool) -> os.stat_result | None:
    """stat of an input file (None for stdin); raises Skipped for non-regular files without -f."""
    if name == STDIO:
        return None
    try:
        st = os.stat(name)
    except OSError as exc:
        raise CliError(name, exc.strerror or str(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise CliError(name, "is a directory")
    if not stat.S_ISREG(st.st_mode) and not force:
        raise Skipped(name, "is not a regular file; ignored (use -f to read it)")
    return st


def _terminal(stream) -> bool:
    return stream.isatty()


def read(name: str, decoding: bool, force: bool) -> bytes:
    if name == STDIO:
        if _terminal(sys.stdin) and not force:
            what = "compressed data" if decoding else "data"
            raise CliError("stdin", f"refusing to read {what} from a terminal; give a file or pipe data in (or use -f)")
        return sys.stdin.buffer.read()
    try:
        with open(name, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise CliError(name, exc.strerror or str(exc)) from None


def lossy_name(name: str) -> str:
    """Where a lossy decode goes by default: notes.txt -> notes.summary.txt, README -> README.summary.txt."""
    p = Path(name)
    if p.stem.endswith(LOSSY_TAG):  # notes.summary.txt (e.g. from `llmpack strip`) stays so
        return name
    return str(p.with_name(p.stem + LOSSY_TAG + p.suffix)) if p.suffix else name + LOSSY_TAG + ".txt"


@dataclass
class Plan:
    """One input and where its output goes."""

    src: str
    dest: str  # STDIO or a path

    def check(self, force: bool, binary: bool) -> None:
        """Refuse what gzip/zstd refuse, before any work is done."""
        if self.dest == STDIO:
            if binary and _terminal(sys.stdout) and not force:
                raise CliError("stdout", "refusing to write compressed data to a terminal; use -o, redirect, or -f")
            return
        if self.src != STDIO and os.path.exists(self.dest) and _same_file(self.src, self.dest):
            raise CliError(self.dest, "is the input file; refusing to overwrite it")
        if os.path.lexists(self.dest) and not force:
            raise CliError(self.dest, "already exists; use -f to overwrite")
        parent = os.path.dirname(self.dest) or "."
        if not os.path.isdir(parent):
            raise CliError(self.dest, "No such directory" if not os.path.exists(parent) else "Not a directory")
        if os.path.isdir(self.dest):
            raise CliError(self.dest, "is a directory")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def plan(src: str, output: str | None, stdout: bool, decoding: bool, force: bool = False, lossy: bool = False) -> Plan:
    """Where src's output goes: -o, stdout, or the gzip-style derived name."""
    if stdout or output == STDIO or (output is None and src == STDIO):
        return Plan(src, STDIO)
    if output:
        return Plan(src, output)
    if not decoding:
        if src.endswith(SUFFIX) and not force:
            raise Skipped(src, f"already has the {SUFFIX} suffix; ignored (use -f to compress it again)")
        return Plan(src, src + SUFFIX)
    if not src.endswith(SUFFIX):
        raise Skipped(src, f"unknown suffix (expected {SUFFIX}); ignored (use -o to name the output)")
    base = src[: -len(SUFFIX)]
    return Plan(src, lossy_name(base) if lossy else base)


def write(dest: str, data: bytes, like: os.stat_result | None) -> None:
    """Write atomically, with `like`'s permissions and times (the input's); errors name dest."""
    if dest == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    from ..files import write_atomic

    try:
        write_atomic(Path(dest), data, like)
    except OSError as exc:
        raise CliError(dest, exc.strerror or str(exc)) from None
