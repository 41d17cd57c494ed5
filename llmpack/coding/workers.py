"""Run independent pieces of decoding in forked processes, one torch thread each.

The decoder's steps are many small operations. On two cores, two single-thread
processes each stepping half the rows get more done than one process whose OpenMP
threads are woken for every op, and they also run their rows' online models and range
decoders in parallel (eval/step_cost.py --workers). Rows never change each other's
numbers (exact engine), so how rows are split between processes changes speed only.

Workers are forked after the model is loaded, so they share its weights copy-on-write
and start at once. Forking is used only on Linux and for CPU decoding (a CUDA context
does not survive a fork); elsewhere `run` calls the tasks in this process, in order.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, Callable

from ..errors import LLMPackError

# A task is called with a report(n) callback for progress (n: input bytes just decoded)
# and returns a picklable result.
Task = Callable[[Callable[[int], None]], Any]
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Up to this many segments decode in one process whose threads share each step
# (eval/workers_or_threads.py, 2 cores, default level, one process against two workers:
# 1.22-1.27x as fast with 2 segments, 1.07-1.15x with 4, 0.92-1.08x with 5, 0.94x with 7;
# docs/BENCHMARKS.md, "Workers or threads").
ONE_PROCESS_ROWS = 4


def can_fork(device: str) -> bool:
    return sys.platform.startswith("linux") and device == "cpu"


def count(items: int, threads: int) -> tuple[int, int]:
    """(workers, torch threads each) for `items` independent rows and `threads` torch
    threads in all: a thread per worker, never more workers than rows; up to
    ONE_PROCESS_ROWS rows run in one process with all the threads (a step of few rows is
    bound by reading the weights, which one process's threads share, where each worker
    would read all of them)."""
    n = 1 if items <= ONE_PROCESS_ROWS else max(1, min(items, threads))
    return n, max(1, threads // n)


def deal(count: int, n: int) -> list[list[int]]:
    """Indices 0..count-1 dealt round-robin into n groups (the decoder deals its segments
    longest first, so the groups get about equal work)."""
    return [list(range(count))[w::n] for w in range(n)]


def undeal(groups: list[list[int]], results: list[list]) -> list:
    """Each group's results put back at their indices: the inverse of deal()."""
    out: list = [None] * sum(map(len, groups))
    for group, values in zip(groups, results):
        for i, value in zip(group, values):
            out[i] = value
    return out


def run(tasks: list[Task], report: Callable[[int], None], fork: bool = True, threads_each: int = 1) -> list[Any]:
    """Each task's result, in order. With fork and more than one task, each runs in its
    own forked process with `threads_each` torch threads; a task's exception is raised
    here once every worker has stopped (the first one to fail)."""
    if not fork or len(tasks) < 2:
        return [task(report) for task in tasks]
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("fork")
    sys.stdout.flush()
    sys.stderr.flush()  # a child must not write out the parent's buffered output again
    procs, conns = [], []
    try:
        for task in tasks:
            parent, child = context.Pipe(duplex=False)
            proc = context.Process(target=_child, args=(task, child, threads_each, os.getpid()), daemon=True)
            proc.start()
            child.close()
            procs.append(proc)
            conns.append(parent)
        results: list[Any] = [None] * len(tasks)
        failure: BaseException | None = None
        open_ = {id(c): i for i, c in enumerate(conns)}
        while open_:
            for conn in wait([conns[i] for i in open_.values()]):
                i = open_[id(conn)]
                try:
                    kind, value = conn.recv()
                except EOFError:  # killed (e.g. out of memory) before it could say why
                    kind, value = "error", LLMPackError(f"a decoding worker stopped unexpectedly (exit code {procs[i].exitcode})")
                if kind == "progress":
                    report(value)
                    continue
                del open_[id(conn)]
                if kind == "done":
                    results[i] = value
                else:
                    failure = value
                    for p in procs:  # the others' work is wasted: stop them now
                        p.terminate()
                    open_.clear()
                    break  # (wait() may have returned other workers' pipes too: not read)
        if failure is not None:
            raise failure
        return results
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
        for c in conns:
            c.close()


def _die_with(parent: int) -> None:
    """Ask Linux to kill this worker when its parent dies (killed, out of memory): its work
    is then for no one, and it must not keep the cores busy."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _child(task: Task, conn, threads: int, parent: int) -> None:
    _die_with(parent)
    import torch

    torch.set_num_threads(threads)
    try:
        result = task(lambda n: conn.send(("progress", n)))
        conn.send(("done", result))
    except BaseException as exc:  # sent to the parent, which raises it
        try:
            conn.send(("error", exc))
        except Exception:  # not picklable: keep its class name and message
            conn.send(("error", LLMPackError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()
