"""Compress and decompress on a Ray cluster (an optional extra: pip install 'llmpack[ray]').

    with llmpack.cluster.connect("local", workers=2) as pool:
        blob = llmpack.Compressor(pool=pool).compress(data)  # the bytes of a local run

A large file is spread by its segments, many files by file (llmpack.cluster.jobs); the
driver cuts and assembles every container, so outputs are byte-identical to local ones,
and any mix of CPU and GPU workers computes the same bits (exact numerics). docs/SCALE.md
has the measured throughput and what a corpus of 1 GB or 1 TB would take.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager

from .. import environment
from ..errors import LLMPackError
from .pool import TASK_CPUS, Pool

LOCAL = "local"  # --ray with no address: a cluster on this machine, for this job only
OBJECT_STORE_BYTES = 512 << 20  # a local cluster's shared memory for inputs and results (Ray spills past it)
INSTALL_HINT = "pip install 'llmpack[ray]'"


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


@contextmanager
def _stderr_muted():
    """Send file descriptor 2 (which C++ code writes to) to /dev/null for a block."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _quiet_driver() -> None:
    """Ray's driver prints cluster events ("a worker died; the task will be retried") on
    standard output, where they would mix with `-c`'s data. llmpack reports what fails in
    its own line, so they are dropped (LLMPACK_DEBUG=1: shown on standard error)."""
    try:
        from ray._private import worker as ray_worker
    except ImportError:  # another Ray layout: leave it
        return
    original = getattr(ray_worker, "print_to_stdstream", None)
    if original is None or getattr(original, "llmpack_quiet", False):
        return

    def print_to_stdstream(data, *args, **kwargs):
        if data.get("pid") != "raylet":
            return original(data, *args, **kwargs)
        if environment.debug():
            return original(dict(data, is_err=True), *args, **kwargs)

    print_to_stdstream.llmpack_quiet = True
    ray_worker.print_to_stdstream = print_to_stdstream


def _start_or_join(ray, address: str, workers: int | None) -> None:
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        with _stderr_muted():  # Ray's C++ side logs its retries to stderr; we say it in one line
            if address == LOCAL:
                ray.init(num_cpus=(workers or os.cpu_count() or 1) * TASK_CPUS, include_dashboard=False,
                         object_store_memory=OBJECT_STORE_BYTES, **quiet)
            else:
                ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        ray.shutdown()
        lines = str(exc).strip().splitlines()
        raise LLMPackError(
            f"cannot start or join the Ray cluster '{address}': {lines[0] if lines else type(exc).__name__}"
        ) from None


@contextmanager
def connect(address: str = LOCAL, workers: int | None = None, device: str = "auto"):
    """A Pool on a Ray cluster: LOCAL starts one on this machine with `workers`
    single-CPU workers (default: one per core) and stops it afterwards; "auto" joins the
    cluster this machine belongs to (`ray start`); "HOST:PORT" or "ray://HOST:PORT" joins
    that one. Nothing of a joined cluster is stopped. Where this process has initialised
    Ray already, that connection is used as it is (and left open)."""
    try:
        import ray
    except ImportError:
        raise LLMPackError(f"--ray needs Ray, an optional extra: {INSTALL_HINT}") from None
    owned = not ray.is_initialized()  # a program that set up Ray itself keeps it as it is
    if owned:
        _start_or_join(ray, address, workers)
    _quiet_driver()
    try:
        kind = "GPU" if device == "cuda" else "CPU"
        slots = int(ray.cluster_resources().get(kind, 0) // (1 if kind == "GPU" else TASK_CPUS))
        if slots < 1:
            raise LLMPackError(f"the Ray cluster '{address}' has no {kind} for llmpack's tasks")
        yield Pool(ray, min(slots, workers) if workers else slots, device)
    finally:
        if owned:
            ray.shutdown()


__all__ = ["LOCAL", "Pool", "available", "connect"]
