"""Command line: `llmpack encode|decode|info|strip|report|select|models|doctor|version`, and
gzip-style `llmpack [-d] FILE...`. app.py has the commands, group.py the gzip-style
front and one-line usage errors, paths.py the input and output checks, cluster.py what
--ray adds (a driver thread per file, one progress bar)."""

import signal
import sys


def _interrupted_while_starting(signum, frame):  # Ctrl-C before the commands are ready
    sys.stderr.write("llmpack: interrupted\n")
    raise SystemExit(130)


try:
    _previous = signal.signal(signal.SIGINT, _interrupted_while_starting)
except ValueError:  # not the main thread: leave signals alone
    _previous = None

from ..environment import prepare_process  # noqa: E402
from .app import app  # noqa: E402

if _previous is not None:
    signal.signal(signal.SIGINT, _previous)


def main() -> None:
    prepare_process()  # before anything loads torch
    try:
        app(prog_name="llmpack")
    except KeyboardInterrupt:
        sys.stderr.write("llmpack: interrupted\n")
        sys.exit(130)


def unllmpack() -> None:
    """`unllmpack FILE.llmp...` = `llmpack -d FILE.llmp...` (as gunzip)."""
    sys.argv[1:1] = ["-d"]
    main()


def llmcat() -> None:
    """`llmcat FILE.llmp...` = `llmpack -dc FILE.llmp...` (as zcat)."""
    sys.argv[1:1] = ["-dc"]
    main()


__all__ = ["app", "main", "unllmpack", "llmcat"]
