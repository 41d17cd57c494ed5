"""Command line: `llmpack encode|decode|info|report|select|models|doctor`, following gzip/zstd conventions.

Exit codes: 0 success, 1 error, 2 usage. Errors are one line, `llmpack: FILE: reason`;
LLMPACK_DEBUG=1 shows the traceback. Outputs are written to a temporary file in the
target directory and renamed into place, so a failure never leaves a partial file.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from .config import SUFFIX

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Compress text with a small language model (lossless by default).",
    context_settings={"help_option_names": ["-h", "--help"]},
)

STDIO = "-"
EXIT_SIGPIPE = 141  # 128 + SIGPIPE: what a shell reports for cat killed by a closed pipe


class CliError(Exception):
    """An error to report as `llmpack: NAME: reason` with exit code 1."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason


def _fail(name: str, exc: BaseException) -> None:
    if os.environ.get("LLMPACK_DEBUG"):
        traceback.print_exc()
    reason = exc.reason if isinstance(exc, CliError) else (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
    typer.echo(f"llmpack: {name}: {reason}", err=True)
    raise typer.Exit(1)


@contextmanager
def _errors(name: str):
    """Turn every expected failure into one line on stderr and exit code 1."""
    from .errors import LLMPackError

    try:
        yield
    except typer.Exit:
        raise
    except CliError as exc:
        _fail(exc.name, exc)
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): stop quietly, as cat and gzip do.
        # Point stdout at /dev/null so that the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_SIGPIPE)
    except (LLMPackError, OSError, MemoryError) as exc:
        _fail(name, exc)
    except KeyboardInterrupt:
        typer.echo("llmpack: interrupted", err=True)
        raise typer.Exit(130)
    except Exception as exc:  # an llmpack bug: still one line, but say so
        _fail(name, RuntimeError(f"internal error: {type(exc).__name__}: {exc} (set LLMPACK_DEBUG=1 for details)"))


def _read(path: str) -> bytes:
    if path == STDIO:
        return sys.stdin.buffer.read()
    p = Path(path)
    if p.is_dir():
        raise CliError(path, "is a directory")
    return p.read_bytes()


def _output_path(src: str, out: Optional[str], stdout: bool, decoding: bool) -> str:
    """Where to write: explicit -o, stdout, or the gzip-style derived name."""
    if stdout or out == STDIO:
        return STDIO
    if out:
        return out
    if src == STDIO:
        return STDIO
    if decoding:
        if not src.endswith(SUFFIX):
            raise CliError(src, f"unknown suffix (expected {SUFFIX}); use -o to name the output")
        return src[: -len(SUFFIX)]
    return src + SUFFIX


def _write(dest: str, data: bytes, force: bool, binary: bool) -> None:
    if dest == STDIO:
        if binary and sys.stdout.isatty() and not force:
            raise CliError("stdout", "refusing to write compressed data to a terminal; use -o, redirect, or -f")
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(dest)
    if target.exists() and not force:
        raise CliError(dest, "already exists; use -f to overwrite")
    from .files import write_atomic

    write_atomic(target, data)


@contextmanager
def _progress(label: str, quiet: bool, unit: str = "bytes"):
    """A rich progress bar on stderr when stderr is a terminal; yields a (done, total) callback."""
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield None
        return
    if unit == "bytes":
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    else:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


FileArg = typer.Argument("-", help="Input file; '-' (default) reads standard input.", show_default=False)
OutOpt = typer.Option(None, "-o", "--output", help="Output file ('-' for standard output).")
StdoutOpt = typer.Option(False, "-c", "--stdout", help="Write to standard output, keep the input.")
ForceOpt = typer.Option(False, "-f", "--force", help="Overwrite existing output; allow binary output to a terminal.")
QuietOpt = typer.Option(False, "-q", "--quiet", help="No progress bar.")
ModelOpt = typer.Option(None, "-m", "--model", help="Model id or alias, a Hugging Face folder, or a .gguf file.")
DEVICES = ("auto", "cpu", "cuda")


def _check_device(device: str) -> None:
    if device not in DEVICES:
        raise typer.BadParameter(f"'{device}' is not one of: {', '.join(DEVICES)}", param_hint="--device")


DeviceOpt = typer.Option("auto", "--device", help="Where the model runs: auto (the GPU if there is one), cpu or cuda. Files are the same either way.")


@app.command()
def encode(
    file: str = FileArg,
    output: Optional[str] = OutOpt,
    mode: str = typer.Option(
        "arithmetic", "--mode", help="arithmetic (lossless, default), semantic (lossless), summary (lossy) or zstd."
    ),
    model: Optional[str] = ModelOpt,
    prompt_tokens: Optional[int] = typer.Option(None, "--prompt-tokens", min=1, help="semantic/summary: most tokens per section prompt [48]."),
    seeds: Optional[int] = typer.Option(None, "--seeds", min=1, max=128, help="semantic/summary: seeds tried per section [1]."),
    residual: Optional[str] = typer.Option(None, "--residual", help="semantic: residual coding, zstd, lm or auto [auto]."),
    device: str = DeviceOpt,
    stdout: bool = StdoutOpt,
    force: bool = ForceOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Compress FILE to FILE.llmp (the input is kept)."""
    from .codecs import CODECS

    if mode not in CODECS:
        raise typer.BadParameter(f"'{mode}' is not one of: {', '.join(CODECS)}", param_hint="--mode")
    options = {k: v for k, v in (("prompt_tokens", prompt_tokens), ("seeds", seeds), ("residual", residual)) if v is not None}
    if options and mode not in ("semantic", "summary"):
        flags = ", ".join("--" + k.replace("_", "-") for k in options)
        raise typer.BadParameter(f"{flags} only apply to --mode semantic or summary", param_hint="--mode")
    if residual is not None and (mode != "semantic" or residual not in ("zstd", "lm", "auto")):
        raise typer.BadParameter("use zstd, lm or auto, with --mode semantic", param_hint="--residual")
    _check_device(device)
    if device != "auto" and CODECS[mode].config_class is not None:
        options["device"] = device
    with _errors(file):
        if file != STDIO and file.endswith(SUFFIX) and not force:
            raise CliError(file, f"already has {SUFFIX} suffix; use -f to compress it again")
        dest = _output_path(file, output, stdout, decoding=False)
        if dest != STDIO and Path(dest).exists() and not force:
            raise CliError(dest, "already exists; use -f to overwrite")
        if dest == STDIO and sys.stdout.isatty() and not force:
            raise CliError("stdout", "refusing to write compressed data to a terminal; use -o, redirect, or -f")
        data = _read(file)
        from .api import Compressor

        with _progress("encoding", quiet) as progress:
            blob = Compressor(mode=mode, model=model, progress=progress, **options).compress(data)
        _write(dest, blob, force, binary=True)


@app.command()
def decode(
    file: str = FileArg,
    output: Optional[str] = OutOpt,
    model: Optional[str] = ModelOpt,
    device: str = DeviceOpt,
    stdout: bool = StdoutOpt,
    force: bool = ForceOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Decompress FILE.llmp to FILE (the input is kept)."""
    _check_device(device)
    with _errors(file):
        dest = _output_path(file, output, stdout, decoding=True)
        if dest != STDIO and Path(dest).exists() and not force:
            raise CliError(dest, "already exists; use -f to overwrite")
        blob = _read(file)
        from .api import Decompressor

        with _progress("decoding", quiet) as progress:
            decompressor = Decompressor(model=model, progress=progress, device=device)
            data = decompressor.decompress(blob)
        _write(dest, data, force, binary=False)
        if decompressor.header.lossy:
            from .api import inspect

            similarity = inspect(blob).get("similarity")
            note = f" (similarity {similarity:.3f} to the original)" if similarity is not None else ""
            typer.echo(f"llmpack: {file}: lossy file: the output only approximates the original{note}", err=True)


@app.command()
def info(
    file: str = typer.Argument(..., help="A .llmp file ('-' for standard input)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show a file's header without decoding it (no model is loaded)."""
    with _errors(file):
        from .api import inspect

        details = inspect(_read(file))
        if as_json:
            typer.echo(json.dumps(details, indent=2))
            return
        for key, value in details.items():
            if isinstance(value, list) and len(value) > 8:
                value = f"[{', '.join(map(str, value[:8]))}, ... ({len(value)} items)]"
            typer.echo(f"{key + ':':<24}{value}")


@app.command("select")
def select_cmd(
    pool: str = typer.Argument(..., help="ShareGPT pool: a JSON list of {id, conversations: [{from, value}], source}."),
    budget: int = typer.Option(..., "--budget", "-n", help="How many samples to select."),
    k1: int = typer.Option(10000, "--k1", min=1, help="Stage 1: candidates with the lowest global scores."),
    k2: int = typer.Option(200, "--k2", min=1, help="Stage 2: kept after re-scoring against the selection."),
    k3: int = typer.Option(100, "--k3", min=1, help="Stage 3: chosen greedily per round."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Output JSON file (default: standard output)."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Parallel scoring threads."),
    scorer: str = typer.Option("zlib", "--scorer", help="zlib (as published), zstd, or lm (the model's bits per byte)."),
    model: Optional[str] = ModelOpt,
    force: bool = ForceOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Entropy-Law ZIP data selection: pick the least redundant samples by compression ratio."""
    from .select import SCORERS

    if scorer not in SCORERS:
        raise typer.BadParameter(f"'{scorer}' is not one of: {', '.join(SCORERS)}", param_hint="--scorer")
    with _errors(pool):
        from . import select as zip_select

        dest = output or STDIO
        if dest != STDIO and Path(dest).exists() and not force:
            raise CliError(dest, "already exists; use -f to overwrite")
        samples = zip_select.load_pool(pool) if pool != STDIO else _pool_from_stdin()
        texts = [zip_select.sample_bytes(s) for s in samples]
        chosen_scorer = zip_select.LMScorer(texts, jobs, model) if scorer == "lm" else zip_select.SCORERS[scorer](texts, jobs)
        with _progress("selecting", quiet, unit="samples") as progress:
            picked = zip_select.select(samples, budget, k1, k2, k3, chosen_scorer, jobs, progress)
        out = json.dumps([samples[i] for i in picked], ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
        _write(dest, out, force, binary=False)


def _pool_from_stdin() -> list:
    from .errors import PoolError
    from .select import validate_pool

    try:
        pool = json.loads(sys.stdin.buffer.read())
    except ValueError as exc:
        raise PoolError(f"invalid JSON: {exc}") from None
    validate_pool(pool)
    return pool


def _int_list(text: str, param: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise typer.BadParameter(f"expected a comma list of positive integers, got '{text}'", param_hint=param)
    return values


@app.command("report")
def report_cmd(
    files: list[str] = typer.Argument(..., help="Text files to measure."),
    output: str = typer.Option("report", "-o", "--output", help="Folder for report.md, report.json, PNGs and surprisal.html."),
    modes: str = typer.Option("arithmetic,semantic,summary", "--modes", help="llmpack modes to run (baselines always run)."),
    prompt_tokens: str = typer.Option("16,48", "--prompt-tokens", help="summary: comma list of prompt budgets, one row each."),
    max_bytes: Optional[int] = typer.Option(None, "--max-bytes", min=1, help="Measure only the first N bytes of each file."),
    jobs: Optional[int] = typer.Option(None, "-j", "--jobs", min=1, help="Measurements run at a time [2 on 2+ cores]."),
    model: Optional[str] = ModelOpt,
    force: bool = ForceOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Size, speed and meaning kept for every codec on every file, against gzip, bz2, xz, zstd and brotli."""
    from .config import ReportConfig
    from .report.run import MODES

    mode_list = tuple(m.strip() for m in modes.split(",") if m.strip())
    bad = [m for m in mode_list if m not in MODES]
    if bad or not mode_list:
        raise typer.BadParameter(f"'{bad[0] if bad else modes}' is not one of: {', '.join(MODES)}", param_hint="--modes")
    budgets = _int_list(prompt_tokens, "--prompt-tokens")
    config = ReportConfig(modes=mode_list, prompt_tokens=budgets, max_bytes=max_bytes)
    if jobs is not None:
        config.jobs = jobs
    with _errors("report"):  # messages name the file or folder at fault themselves
        from . import report

        with _progress("measuring", quiet, unit="runs") as progress:
            rows = report.build(files, Path(output), config, model, force, progress)
        if not quiet:
            from .report.tables import findings

            for line in findings(rows):
                typer.echo(line.replace("`", "").replace("**", ""), err=True)
            typer.echo(f"llmpack: report written to {output}/report.md", err=True)


@app.command("models")
def list_models() -> None:
    """List the registered models and whether each is installed."""
    from .errors import ModelError
    from .models import DEFAULT_MODEL, REGISTRY, resolve

    for spec in REGISTRY.values():
        try:
            resolve(spec.id)
            state = "installed"
        except ModelError:
            state = f"not installed: {spec.pip}"
        default = " (default)" if spec.id == DEFAULT_MODEL else ""
        aliases = f" aliases: {', '.join(spec.aliases)}" if spec.aliases else ""
        typer.echo(f"{spec.id}{default}: {spec.description}; {state}.{aliases}")


@app.command("doctor")
def doctor(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model id or alias, a Hugging Face folder, or a .gguf file."),
) -> None:
    """Show how this machine computes: CPU, threads, the exact engine's backend and numerics."""
    with _errors("doctor"):
        import platform

        import torch

        from .exact import DEFAULT
        from .models import load

        lm = load(model)
        exact = lm.exact()
        typer.echo(f"machine: {platform.machine()}, torch {torch.__version__}, "
                   f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads")
        typer.echo(f"model: {lm.name} ({lm.fingerprint.hex()})")
        typer.echo(f"numerics: {DEFAULT.tag()} (files made here decode on any machine)")
        typer.echo(f"backend: {exact.backend.name}")
        for note in exact.backend_notes:
            typer.echo(f"  {note}")


def main() -> None:
    app(prog_name="llmpack")


if __name__ == "__main__":
    main()
