"""Writing output files so that a failure never leaves a partial one: temp file, then rename.

The temporary file is created with at most the final permissions (never wider, even for
a moment: a 0600 input never passes through a world-readable copy), then given exactly
those permissions and, when asked, another file's modification time, as gzip and zstd do.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(target: Path, data: bytes, like: os.stat_result | None = None) -> None:
    """Write data to target via a temporary file in the same folder, renamed into place.

    like: a file's stat whose permission bits and times the output takes (gzip/zstd keep
    the input's); None gives a new file's usual mode (0666 less the umask) and the time now."""
    target = Path(target)
    mode = stat.S_IMODE(like.st_mode) & 0o777 if like is not None else 0o666 & ~_umask()  # never setuid bits
    folder = target.parent if str(target.parent) else Path(".")
    while True:
        tmp = folder / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o700)  # owner bits at most, until written
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
        if like is not None:
            os.utime(tmp, ns=(like.st_atime_ns, like.st_mtime_ns))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def untrusted(path: Path) -> str | None:
    """Why a file or folder llmpack would load code or data from (the compiled core, a
    converted model, the fingerprint memo) cannot be trusted, or None: it must belong to
    this user (or root) and be writable by no one else (a group write bit is allowed for
    the user's own primary group, as umask 002 with per-user groups leaves it), and so
    must its folder."""
    for p in (Path(path), Path(path).parent):
        try:
            st = os.stat(p)
        except OSError as exc:
            return f"{p}: {exc.strerror}"
        if st.st_uid not in (os.geteuid(), 0):
            return f"{p} belongs to another user"
        if st.st_mode & stat.S_IWOTH or st.st_mode & stat.S_IWGRP and st.st_gid != os.getegid():
            return f"{p} is writable by others"
    return None
