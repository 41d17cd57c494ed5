"""The command group: gzip-style invocations on top of the subcommands, and errors on one line.

    llmpack FILE...           = llmpack encode FILE...
    llmpack -d FILE.llmp...   = llmpack decode FILE.llmp...   (-z forces encode)
    llmpack -dc F.llmp        short flags combine, as in gzip
    llmpack -V | --version    = llmpack version
    llmpack -9 FILE           = llmpack encode --level 9 FILE (levels -1 .. -9, also in -9k)
    llmpack --ray FILE        = llmpack encode --ray=local FILE (a bare --ray takes no address)

Usage errors print `llmpack: reason (try 'llmpack CMD --help')` and exit 2; Ctrl-C at any
point prints `llmpack: interrupted` and exits 130.
"""

from __future__ import annotations

import re
import sys

from typer.core import TyperGroup

import typer

try:  # typer 0.2x carries its own copy of click; older versions use click itself
    from typer._click import exceptions as click
except ImportError:  # pragma: no cover
    import click
Abort = getattr(click, "Abort", None) or typer.exceptions.Abort  # Ctrl-C at a prompt (typer keeps its own)

DECODE_FLAGS = ("-d", "--decompress", "--uncompress")
ENCODE_FLAGS = ("-z", "--compress")
VERSION_FLAGS = ("-V", "--version")
SHORT_FLAGS = set("dzkcfqvrV")  # the boolean short options, which may be combined (-dc, -kv)
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _split_flags(args: list[str]) -> list[str]:
    """-dc -> -d -c; -9 -> --level 9 (before any `--`: the rest are file names)."""
    out: list[str] = []
    for i, a in enumerate(args):
        if a == "--":
            out.extend(args[i:])
            break
        flags = a[1:]
        digits = [c for c in flags if c.isdigit()]
        if a.startswith("-") and len(flags) >= 1 and not a.startswith("--") and len(digits) <= 1 \
                and set(flags) - set(digits) <= SHORT_FLAGS and (digits or len(flags) >= 2) and "0" not in digits:
            out.extend("-" + c for c in flags if not c.isdigit())
            out.extend(["--level", digits[0]] if digits else [])
        else:
            out.append(a)
    return out


RAY_FLAG = "--ray"
RAY_LOCAL = "local"  # what a bare --ray means (llmpack.cluster.LOCAL)
_ADDRESS = re.compile(r"(auto|local|ray://\S+|[\w.-]+:\d+)")


def _bare_ray(args: list[str]) -> list[str]:
    """--ray takes an optional address: a bare --ray (next comes an option, a file or
    nothing) becomes --ray=local, so `--ray FILE` never reads FILE as an address."""
    out: list[str] = []
    for i, a in enumerate(args):
        if a == "--":
            return out + args[i:]
        following = args[i + 1] if i + 1 < len(args) else None
        bare = a == RAY_FLAG and (following is None or not _ADDRESS.fullmatch(following))
        out.append(f"{RAY_FLAG}={RAY_LOCAL}" if bare else a)
    return out


def gzip_args(args: list[str], commands) -> list[str]:
    """Rewrite a gzip-style command line into subcommand form; subcommand lines pass as
    they are, except that short flags are split and -N becomes --level N."""
    if not args or args[0] in ("-h", "--help"):
        return args
    args = _bare_ray(args)
    if args[0] in commands:
        return args[:1] + _split_flags(args[1:])
    out = _split_flags(args)
    head = out[: out.index("--")] if "--" in out else out
    if any(a in VERSION_FLAGS for a in head):
        return ["version"]
    decoding = any(a in DECODE_FLAGS for a in head)
    dropped = set(DECODE_FLAGS + ENCODE_FLAGS)
    rest = [a for a in head if a not in dropped] + out[len(head) :]
    return ["decode" if decoding else "encode"] + rest


class Group(TyperGroup):
    def parse_args(self, ctx, args: list[str]) -> list[str]:
        return super().parse_args(ctx, gzip_args(list(args), self.commands))

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "llmpack"
            typer.echo(f"llmpack: {exc.format_message()} (try '{where} --help')", err=True)
            code = EXIT_USAGE
        except (Abort, KeyboardInterrupt):
            typer.echo("llmpack: interrupted", err=True)
            code = EXIT_INTERRUPTED
        except click.ClickException as exc:
            typer.echo(f"llmpack: {exc.format_message()}", err=True)
            code = exc.exit_code
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code
