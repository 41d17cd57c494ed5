"""--ray on the command line: the cluster for one command, a driver thread per file in
flight, and one progress bar over every input's bytes (llmpack.cluster does the rest)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

import typer

FILES_IN_FLIGHT = 8  # files read and being coded at once (at least 2 per worker); bounds the driver's memory
DECODE_FILES_PER_WORKER = 16  # decoding: more files in flight, whose segments share lockstep batches (cluster.pool)


def check_workers(ray: Optional[str], workers: Optional[int]) -> None:
    if workers is not None and ray is None:
        raise typer.BadParameter("sizes the local cluster of --ray; give --ray too", param_hint="--workers")


@dataclass
class Cluster:
    pool: object  # llmpack.cluster.Pool
    threads: object  # a ThreadPoolExecutor: one driver thread per file in flight
    counts: list  # [input bytes done, input bytes submitted]
    window: int  # files in flight at most (the commands' _each_file)

    def submit(self, n_bytes: int, job, *args):
        """Run job(pool, *args) in a driver thread for an input of n_bytes; returns its future."""
        self.counts[1] += n_bytes
        return self.threads.submit(job, self.pool, *args)


@contextmanager
def on_cluster(address: Optional[str], workers: Optional[int], device: str, progress, files_per_worker: int = 2):
    """For --ray ADDRESS: a Cluster whose window is files_per_worker per worker (at least
    FILES_IN_FLIGHT), its progress shown through `progress` (a context manager yielding a
    (done, total) callback or None); yields None without --ray."""
    if address is None:
        yield None
        return
    from concurrent.futures import ThreadPoolExecutor

    from ..cluster import connect

    with progress as bar, connect(address, workers, device) as pool:
        counts = [0, 0]

        def advance(n: int) -> None:
            counts[0] += n
            if bar is not None:
                bar(counts[0], counts[1])

        pool.progress = advance
        window = max(FILES_IN_FLIGHT, files_per_worker * pool.workers)
        threads = ThreadPoolExecutor(max_workers=window + 1, thread_name_prefix="llmpack-file")
        try:
            yield Cluster(pool, threads, counts, window)
        finally:
            threads.shutdown(wait=True, cancel_futures=True)
