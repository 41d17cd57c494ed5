"""Running the measurements of a report: every (file, codec, setting) is one task.

Baselines run in this process (milliseconds). llmpack tasks run through the shared
measuring path (llmpack.report.measure), either here (jobs=1) or in worker processes that
each load the model once, before any clock starts. Results come back in a fixed order
whatever order the tasks finished in.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

from ..codecs import CODECS
from .measure import Row, measure_baseline, measure_llmpack
from ..model.loading import LoadedModel

# The model-driven modes (those with options: zstd and stored are measured as baselines).
MODES = tuple(name for name, codec in CODECS.items() if codec.config_class is not None)
# Rough cost of one task relative to others, so the slowest start first and the
# workers finish together (summary regenerates its text twice, at encode and decode).
_COST = {"summary": 3, "semantic": 3, "fidelity": 2, "arithmetic": 1}


@dataclass(frozen=True)
class Task:
    index: int  # position in the report's row order
    file: str  # label of the input
    mode: str  # llmpack mode
    options: tuple[tuple[str, int | float], ...] = ()  # codec settings, e.g. (("prompt_tokens", 16), ("seeds", 4))

    @property
    def setting(self) -> str:
        return ", ".join(str(v) if k == self.mode else f"{k}={v}" for k, v in self.options)  # "fidelity 0.9"


@dataclass
class Result:
    row: Row
    surprisal: list[tuple[bytes, float]] | None = None  # per-token model cost, arithmetic rows only


@dataclass
class Plan:
    """Inputs and what to run on them."""

    inputs: dict[str, bytes]  # label -> bytes, in report order
    baselines: list[tuple[int, str, str]] = field(default_factory=list)  # (row index, file, BASELINES key)
    tasks: list[Task] = field(default_factory=list)

    @classmethod
    def build(cls, inputs: dict[str, bytes], baselines: list[str], modes: list[str], prompt_tokens: list[int],
              seeds: list[int] = (1,), fidelity: list[float] = ()) -> "Plan":
        plan = cls(inputs)
        n = 0
        settings = {"summary": [(("prompt_tokens", p), ("seeds", s)) for s in seeds for p in prompt_tokens],
                    "fidelity": [(("fidelity", f),) for f in fidelity]}
        for name in inputs:
            for label in baselines:  # baseline rows come first for each file
                plan.baselines.append((n, name, label))
                n += 1
            for mode in modes:
                for options in settings.get(mode, [()]):
                    plan.tasks.append(Task(n, name, mode, options))
                    n += 1
        return plan

    @property
    def size(self) -> int:
        return len(self.baselines) + len(self.tasks)


def threads_per_job(jobs: int) -> int | None:
    """torch threads of each worker process; None (the codec default) when running in-process."""
    return max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None


def _load(model: str | None, threads: int | None) -> LoadedModel:
    """Load (on first use, convert) the model and run it once, outside any timing."""
    import llmpack

    warm = llmpack.Compressor(model=model, **({"threads": threads} if threads else {}))
    warm.compress(b"warm up")
    return warm.ctx.model


def _measure(task: Task, data: bytes, model: str | LoadedModel | None, threads: int | None) -> Result:
    import llmpack

    options = dict(task.options)
    if threads:
        options["threads"] = threads
    compressor = llmpack.Compressor(mode=task.mode, model=model, **options)
    decompressor = llmpack.Decompressor(model=model)
    row = measure_llmpack(task.file, data, compressor, decompressor, task.setting)
    surprisal = compressor.stats.get("surprisal") if task.mode == "arithmetic" else None
    return Result(row, surprisal)


# -- worker processes ------------------------------------------------------------
_WORKER: dict = {}


def _worker_init(model: str | None, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER.update(model=_load(model, threads), threads=threads)


def _worker_run(task: Task, data: bytes) -> Result:
    return _measure(task, data, _WORKER["model"], _WORKER["threads"])


def run(
    plan: Plan, model: str | LoadedModel | None, jobs: int, progress: Callable[[int, int], None] | None = None
) -> list[Result]:
    """Measure everything in the plan; returns results in report order. progress(done, total) after each."""
    results: dict[int, Result] = {}

    def done() -> None:
        if progress is not None:
            progress(len(results), plan.size)

    for index, name, label in plan.baselines:
        results[index] = Result(measure_baseline(name, label, plan.inputs[name]))
        done()
    ordered = sorted(
        plan.tasks,
        key=lambda t: (-_COST[t.mode] * dict(t.options).get("seeds", 1), -dict(t.options).get("prompt_tokens", 0), t.index),
    )
    if jobs <= 1 or len(ordered) <= 1 or isinstance(model, LoadedModel):
        lm = model if isinstance(model, LoadedModel) or not ordered else _load(model, None)
        for task in ordered:
            results[task.index] = _measure(task, plan.inputs[task.file], lm, None)
            done()
    else:
        threads = threads_per_job(jobs)
        context = multiprocessing.get_context("spawn")  # no fork after torch has started its threads
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init, initargs=(model, threads)) as pool:
            pending = {pool.submit(_worker_run, t, plan.inputs[t.file]): t for t in ordered}
            try:
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        task = pending.pop(future)
                        results[task.index] = future.result()
                        done()
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    return [results[i] for i in sorted(results)]
