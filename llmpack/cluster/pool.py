"""The driver's side of a Ray cluster: shares of a job sent as tasks, results in order.

A Pool is what codecs see as `Context.pool`: a coding.modelcoder.ModelPool. The arithmetic codec hands it a file's
pieces (one task each) when encoding and groups of segments when decoding; the driver
still cuts the file, chooses each segment's method and assembles the container, so the
file is byte-identical to a local encode. Other modes run a whole file per task.

Several driver threads (one per file) may use a Pool at once. Everything a driver thread
does outside a wait runs under one lock (`turn`), so the driver's tokenizer and model
are never used by two threads together; waiting for tasks releases it.
"""

from __future__ import annotations

import dataclasses
import pickle
import threading
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, Callable, TYPE_CHECKING

from ..coding import workers
from ..coding.modelcoder import Job, ModelCoder, Segment
from ..coding.profiles import Profile
from ..errors import LLMPackError
from . import tasks
from .tasks import ModelRef

if TYPE_CHECKING:  # annotations only: no model code is imported for them
    from ..model.loading import LoadedModel

TASK_CPUS = 1  # CPUs (= torch threads) per task: measured, single-thread workers beat shared OpenMP pools on small CPUs
MAX_RETRIES = 3  # a task whose worker process dies (killed, out of memory, node lost) reruns this often
BATCH_WAIT_S = 0.25  # decode: how long a file's segments wait for other files' to share their tasks
SCORE_TASKS_PER_WORKER = 4  # select: a batch of candidates is cut into this many tasks per worker (balance)


class Pool:
    def __init__(self, ray, workers: int, device: str = "auto") -> None:
        self.ray = ray
        self.workers = max(1, workers)  # tasks that run at once
        self.device = device
        self.progress: Callable[[int], None] | None = None  # called with input bytes done, from any driver thread
        self._lock = threading.Lock()  # guards the progress callback
        self._turn = threading.Lock()
        self._holder: int | None = None
        self._remote: dict[str, Any] = {}
        self._batches: dict[bytes, list] = {}  # decode requests waiting to share tasks, by model/coder/profile
        self._batch_lock = threading.Lock()

    # -- driver threads ----------------------------------------------------------------
    @contextmanager
    def turn(self):
        """Run a driver thread's own work (cutting, packing) while no other one does."""
        self._turn.acquire()
        self._holder = threading.get_ident()
        try:
            yield
        finally:
            self._holder = None
            self._turn.release()

    @contextmanager
    def _waiting(self):
        held = self._holder == threading.get_ident()
        if held:
            self._holder = None
            self._turn.release()
        try:
            yield
        finally:
            if held:
                self._turn.acquire()
                self._holder = threading.get_ident()

    def advance(self, n: int) -> None:
        if self.progress is not None and n:
            with self._lock:
                self.progress(n)

    # -- tasks ----------------------------------------------------------------------------
    def _function(self, name: str):
        if name not in self._remote:
            options = {"num_cpus": TASK_CPUS, "max_retries": MAX_RETRIES, "retry_exceptions": False}
            if self.device == "cuda":
                options["num_gpus"] = 1
            self._remote[name] = self.ray.remote(**options)(getattr(tasks, name))
        return self._remote[name]

    def run(self, name: str, calls: list[tuple], done: Callable[[int, Any], int]) -> list:
        """Run tasks.<name>(*args, TASK_CPUS) for each args in calls; return their results
        in order. done(i, result) says how many input bytes call i finished (progress).
        The first failure cancels the rest and is raised as an LLMPackError."""
        fn = self._function(name)
        refs = [fn.remote(*args, TASK_CPUS) for args in calls]
        index = {r: i for i, r in enumerate(refs)}
        pending = list(refs)
        with self._waiting():
            try:
                while pending:
                    ready, pending = self.ray.wait(pending, num_returns=1)
                    for r in ready:
                        self.advance(done(index[r], self.ray.get(r)))
            except self.ray.exceptions.RayError as exc:
                for r in pending:
                    self.ray.cancel(r)
                raise failure(exc) from None
            return self.ray.get(refs)

    def _shared(self, value):
        """A large argument sent to every task once (the object store), not once per task."""
        return self.ray.put(value) if value else value

    # -- what codecs and commands ask for --------------------------------------------------
    def code_pieces(self, job: Job, lm: LoadedModel, coder: ModelCoder, profile: Profile, pieces: list[bytes],
                    dictionary: bytes | None) -> tuple[list[Segment], list[list[int]], list[list[float]]]:
        """ModelCoder.model_pass over pieces, one task each: (segments, tokens, bits)."""
        ref, coder = ModelRef.of(job, lm), _portable(coder)
        shared = self._shared(dictionary)
        results = self.run("code_pieces", [(ref, coder, profile, [p], shared) for p in pieces],
                           lambda i, _: len(pieces[i]))
        return tuple([r[k][0] for r in results] for k in range(3))

    def decode_segments(self, job: Job, lm: LoadedModel, coder: ModelCoder, profile: Profile, segments: list[Segment],
                        dictionary: bytes | None) -> list[bytes]:
        """ModelCoder.decode_segments for one file's model-coded segments. Decoding
        steps a task's segments together, one token per step, and a step of many rows
        costs little more than a step of one: so the segments of files that arrive within
        BATCH_WAIT_S of each other (driver threads decoding many files) are decoded
        in the same tasks, one group per worker."""
        ref, coder = ModelRef.of(job, lm), _portable(coder)
        if dictionary is not None:  # rare: a dictionary travels with its own tasks
            return self._decode_groups(ref, coder, profile, segments, dictionary)
        key = pickle.dumps((ref, coder, profile))
        request: Future = Future()
        with self._batch_lock:
            waiting = self._batches.setdefault(key, [])
            if not waiting:
                timer = threading.Timer(BATCH_WAIT_S, self._decode_batch, (key, ref, coder, profile))
                timer.daemon = True
                timer.start()
            waiting.append((segments, request))
        with self._waiting():
            return request.result()

    def _decode_batch(self, key: bytes, ref: ModelRef, coder: ModelCoder, profile) -> None:
        """Decode every request waiting under key together; if that fails, each alone, so
        that a bad file fails alone."""
        with self._batch_lock:
            requests = self._batches.pop(key)
        try:
            pieces = self._decode_groups(ref, coder, profile, [s for segs, _ in requests for s in segs], None)
        except BaseException as exc:
            if len(requests) == 1:
                requests[0][1].set_exception(exc)
                return
            for segs, request in requests:
                try:
                    request.set_result(self._decode_groups(ref, coder, profile, segs, None))
                except BaseException as alone:
                    request.set_exception(alone)
            return
        at = 0
        for segs, request in requests:
            request.set_result(pieces[at : at + len(segs)])
            at += len(segs)

    def _decode_groups(self, ref: ModelRef, coder: ModelCoder, profile, segments: list, dictionary: bytes | None) -> list[bytes]:
        """Segments decoded in one group per worker (fewer, larger groups decode faster)."""
        groups = workers.deal(len(segments), min(len(segments), self.workers))
        shared = self._shared(dictionary)
        results = self.run("decode_segments", [(ref, coder, profile, [segments[i] for i in g], shared) for g in groups],
                           lambda i, pieces: sum(map(len, pieces)))
        return workers.undeal(groups, results)

    def compress(self, model_name: str | None, mode: str, options: dict, data: bytes) -> bytes:
        return self.run("compress", [(model_name, mode, options, data)], lambda i, _: len(data))[0]

    def decompress(self, ref: ModelRef | None, device: str, dictionary: bytes | None, blob: bytes) -> bytes:
        return self.run("decompress", [(ref, device, dictionary, blob)], lambda i, data: len(data))[0]

    def cross_entropy(self, model_name: str | None, context: bytes, texts: list[bytes], context_tokens: int) -> list[float]:
        """select's LM scorer over a batch of candidates, cut into tasks."""
        n = max(1, min(len(texts), SCORE_TASKS_PER_WORKER * self.workers))
        bounds = [round(len(texts) * k / n) for k in range(n + 1)]
        shared = self._shared(context)
        chunks = [texts[a:b] for a, b in zip(bounds, bounds[1:])]
        results = self.run("cross_entropy", [(ModelRef(model_name), shared, c, context_tokens) for c in chunks],
                           lambda i, _: len(chunks[i]))
        return [b for r in results for b in r]


def _portable(coder: ModelCoder) -> ModelCoder:
    """The coder as workers run it: the thread count is the task's own."""
    return dataclasses.replace(coder, threads=None)


def failure(exc: Exception) -> LLMPackError:
    """One line for a task that failed for good."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, LLMPackError):
        return cause
    if isinstance(cause, BaseException):
        lines = str(cause).strip().splitlines()
        return LLMPackError(f"a cluster worker failed: {type(cause).__name__}: {lines[0] if lines else ''}")
    lines = str(exc).strip().splitlines()
    return LLMPackError(f"the cluster could not finish it ({type(exc).__name__}, after up to {MAX_RETRIES} retries): "
                        f"{lines[0] if lines else ''}")
