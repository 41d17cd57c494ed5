"""`llmpack report`: size, speed and meaning kept, for every codec on every file.

    build(["a.txt", "b.md"], Path("out"), ReportConfig(max_bytes=5000))

writes out/report.json, report.md, bpb.png, frontier.png, throughput.png and
surprisal.html. Every figure comes from a real encode and decode (llmpack.report.measure, the
same path eval/bench.py uses); nothing is estimated.
"""

from __future__ import annotations

import io
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

from ..config import ReportConfig
from ..errors import ReportError
from ..files import write_atomic
from .measure import BASELINES, Row
from ..model.loading import DEFAULT_MODEL, LoadedModel
from . import plots, surprisal, tables
from .run import MODES, Plan, run, threads_per_job

OUTPUTS = ("report.json", "report.md", *plots.PLOTS, "surprisal.html")


def read_inputs(paths: list[str], max_bytes: int | None) -> dict[str, bytes]:
    """Label -> bytes. Labels are file names, or the paths as given when two names clash."""
    names = [Path(p).name for p in paths]
    inputs: dict[str, bytes] = {}
    for path, name in zip(paths, names):
        label = name if names.count(name) == 1 else path
        p = Path(path)
        if p.is_dir():
            raise ReportError(f"{path}: is a directory")
        try:
            data = p.read_bytes()[:max_bytes] if max_bytes else p.read_bytes()
        except OSError as exc:
            raise ReportError(f"{path}: {exc.strerror or exc}") from None
        if not data:
            raise ReportError(f"{path}: empty file, nothing to measure")
        if label in inputs:
            raise ReportError(f"{path}: given twice")
        inputs[label] = data
    return inputs


def check_outputs(out_dir: Path, force: bool) -> None:
    """Refuse (before any work) to overwrite earlier results without force."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"{out_dir}: exists and is not a directory")
    existing = [name for name in OUTPUTS if (out_dir / name).exists()]
    if existing and not force:
        raise ReportError(f"{out_dir / existing[0]}: already exists; use -f to overwrite")


def build(paths: list[str], out_dir: Path, config: ReportConfig | None = None, model: str | LoadedModel | None = None,
          force: bool = False, progress: Callable[[int, int], None] | None = None) -> list[Row]:
    config = config or ReportConfig()
    unknown = [m for m in config.modes if m not in MODES]
    if unknown:
        raise ReportError(f"unknown mode '{unknown[0]}' (choose from: {', '.join(MODES)})")
    if "summary" in config.modes and not (config.prompt_tokens and config.seeds):
        raise ReportError("summary mode needs at least one prompt budget and one seed count")
    if "fidelity" in config.modes and not config.fidelity:
        raise ReportError("fidelity mode needs at least one fidelity")
    check_outputs(out_dir, force)
    inputs = read_inputs(paths, config.max_bytes)
    plan = Plan.build(inputs, list(BASELINES), list(config.modes), list(config.prompt_tokens), list(config.seeds),
                      list(config.fidelity))
    started = time.perf_counter()
    results = run(plan, model, config.jobs, progress)
    rows = [r.row for r in results]
    model_name = model.name if isinstance(model, LoadedModel) else (model or DEFAULT_MODEL)
    meta = {
        "model": model_name,
        "inputs": ", ".join(f"{k} ({len(v):,} bytes)" for k, v in inputs.items())
        + (f"; first {config.max_bytes:,} bytes of each file" if config.max_bytes else ""),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores; {config.jobs} job(s) at a time, "
                   f"{threads_per_job(config.jobs) or 'default'} torch thread(s) each",
        "wall time": f"{time.perf_counter() - started:.0f} s for {plan.size} measurements",
        "made": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    _write(out_dir, rows, results, meta, model_name)
    return rows


def _write(out_dir: Path, rows: list[Row], results, meta: dict, model_name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "report.json", (json.dumps(tables.json_rows(rows), indent=2) + "\n").encode())
    images = []
    for name, (title, draw) in plots.PLOTS.items():
        png = io.BytesIO()
        draw(rows, png)
        write_atomic(out_dir / name, png.getvalue())
        images.append((title, name))
    costs = {r.row.file: r.surprisal for r in results if r.surprisal is not None}
    if costs:
        write_atomic(out_dir / "surprisal.html", surprisal.render(costs, model_name).encode("utf-8"))
        images_note = "[surprisal.html](surprisal.html): each file's text coloured by the bits each token cost."
    else:
        images_note = "surprisal.html needs the arithmetic mode, which this report did not run."
    text = tables.markdown(rows, meta, images) + "\n" + images_note + "\n"
    write_atomic(out_dir / "report.md", text.encode("utf-8"))
