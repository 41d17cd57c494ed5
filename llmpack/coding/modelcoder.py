"""Coding token streams under the model: what the arithmetic, semantic and fidelity codecs
and the cluster's tasks share.

A text is coded as segments (`Segment`): range-coded under the model after a prefix
(the start token and a dictionary's last tokens, or the caller's own prefix), or stored
as zstd or raw bytes where those are smaller. `ModelCoder` runs the model's side: the
encoder's full-sequence passes with the range coding of each block in a helper thread
(`code_pieces`), and the decoder's lockstep over many segments, one token per row and
step, in forked workers where that pays (`decode_segments`, `uncode`). Both sides call
`prime` for the dictionary and compute the same numbers on any machine (the exact engine).

A cluster (llmpack.cluster.Pool) offers the same two jobs on its workers (`ModelPool`).
"""

from __future__ import annotations

import copy
import functools
import itertools
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Protocol, TYPE_CHECKING

from ..errors import FormatError, IntegrityError
from . import rangecoder, workers
from .container import crc32
from .online import Online
from .profiles import Profile
from .zstdframe import zstd_decompress

if TYPE_CHECKING:  # annotations only: no model code is imported for them
    from ..model.tokens import ByteTokenizer
    from ..model.exact.model import ExactLM
    from ..model.loading import LoadedModel

# Segment storage methods (the arithmetic params' table, semantic's residual).
MODEL, ZSTD, RAW = 0, 1, 2
METHOD_NAMES = {MODEL: "model", ZSTD: "zstd", RAW: "raw"}
FLAG_CRLF = 0x01  # input had CRLF line ends only; the coded text has LF
DICT_TOKENS = 1024  # the dictionary's last tokens that prime each segment (at most half a window)
# The decoder steps at most this many segments together, and keeps their KV caches
# within KV_BUDGET bytes (a 2048-token window costs 37 MB per row for SmolLM2-135M
# with the compact cache of llmpack.model.exact.kernels, 95 MB in float32).
DECODE_ROWS = 64
KV_BUDGET = 3 << 30

Progress = Callable[[int, int], None]  # (done, total) in input bytes


@dataclass
class Segment:
    method: int
    n_bytes: int  # zstd/raw segments (model-coded ones: their decoded tokens give it)
    n_tokens: int  # model-coded tokens (0 for zstd/raw)
    payload: bytes
    crc: int | None = None  # format 3's table only
    trimmed: bool = False  # a range-coded payload with a trimmed seal (rangecoder.Encoder.finish)


# What coding pieces returns: the model-coded segments, each piece's tokens, their costs in bits.
Coded = tuple[list["Segment"], list[list[int]], list[list[float]]]


class ModelPool(Protocol):
    """What a cluster offers the coder (llmpack.cluster.Pool): the same results as
    ModelCoder.model_pass and decode_segments, computed on its workers."""

    def code_pieces(self, job: "Job", lm: LoadedModel, coder: "ModelCoder", profile: Profile, pieces: list[bytes],
                    dictionary: bytes | None) -> Coded: ...

    def decode_segments(self, job: "Job", lm: LoadedModel, coder: "ModelCoder", profile: Profile, segments: list[Segment],
                        dictionary: bytes | None) -> list[bytes]: ...


class Job(Protocol):
    """What the coder reads of its caller's context (codecs.base.Context): progress, and
    where the model work may run."""

    model_name: str | None  # the model as the user named it (a cluster's workers load it so)
    pool: ModelPool | None

    def report(self, done: int, total: int) -> None: ...


@contextmanager
def threads(n: int | None):
    """torch threads for a block (None: leave torch's default). Speed only."""
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def normalize(data: bytes) -> tuple[bytes, int]:
    """CRLF -> LF when every LF is part of a CRLF (so LF -> CRLF restores the input)."""
    if b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n"):
        return data.replace(b"\r\n", b"\n"), FLAG_CRLF
    return data, 0


def denormalize(data: bytes, flags: int) -> bytes:
    return data.replace(b"\n", b"\r\n") if flags & FLAG_CRLF else data


def corrupt_message(profile: Profile, what: str) -> str:
    # The container's checksums passed, so the bytes are as written: the model's numbers
    # here differ from the encoder's (a bug in the exact engine, or a file from an encoder
    # that did not use numerics tag it claims).
    return (f"{what}: the payload is intact (its checksums pass), so this machine computed other "
            f"probabilities than the encoder's (numerics {profile.numerics.tag()}); please report it")


def decode_rows(exact: ExactLM, capacity: int, workers: int = 1) -> int:
    """Rows each of `workers` decoding processes steps together: DECODE_ROWS, fewer where
    all their KV caches would exceed KV_BUDGET (speed and memory only: rows never change
    each other's numbers)."""
    per_row = exact.cache_bytes(capacity, stepping=True)
    return max(1, min(DECODE_ROWS, KV_BUDGET // workers // max(1, per_row)))



@dataclass(frozen=True)
class ModelCoder:
    """Runs the model's side of coding. Its settings are speed only: the bits are the
    same for any thread count or device."""

    threads: int | None = None  # torch threads; None: torch's default
    device: str = "auto"  # where the exact engine runs ("auto": the CPU)

    def model_pass(self, lm: LoadedModel, profile: Profile, pieces: list[bytes], dictionary: bytes | None,
                   progress: Progress | None = None) -> Coded:
        """code_pieces() in this process, each piece after the dictionary (what a cluster
        worker runs on its share of the pieces)."""
        tok = lm.tokenizer
        with threads(self.threads):
            exact = lm.exact(profile.numerics, self.device)
            prefix, primed = prime(exact, tok, profile, dictionary)
            return self.code_pieces(exact, tok, profile, pieces, [prefix] * len(pieces), primed, progress)

    @staticmethod
    def code_pieces(exact: ExactLM, tok: ByteTokenizer, profile: Profile, pieces: list[bytes], prefixes: list[list[int]],
                    primed: Online | None, progress: Progress | None = None, trim: bool = False) -> Coded:
        """Range-code each piece after its prefix (model ids, start token first; not coded),
        each with its own copy of the online models `primed` (trim: with trimmed seals).
        Returns the model-coded segments, each piece's tokens and their costs in bits.
        progress(done, total) counts bytes."""
        from ..model import engine  # torch: imported only when a model runs

        tokens = [tok.encode(p) for p in pieces]
        total, done = sum(len(p) for p in pieces), 0
        inputs = [pre + [tok.model_input(t) for t in toks[:-1]] for pre, toks in zip(prefixes, tokens)]
        online = [copy.deepcopy(primed) for _ in tokens] if primed is not None else None
        encoders = [rangecoder.Encoder() for _ in tokens]
        token_bits: list[list[float]] = [[] for _ in tokens]  # per piece, the model's cost of each token
        skips = [len(pre) - 1 for pre in prefixes]

        def code(j: int, start: int, weights) -> int:
            """The per-token work of one block of positions: online models, range coding."""
            symbols = tokens[j][start : start + len(weights)]
            if online is not None:
                online[j].learn(weights, symbols)
            encoders[j].encode_all(symbols, weights)
            token_bits[j] += engine.bits(weights, symbols)
            return len(tok.decode(symbols))

        # One helper thread codes each block while the model computes the next (the
        # model's work runs in C or torch without the GIL); blocks are coded in order,
        # so the bits are those of coding them one after the other.
        blocks = engine.sequence_weights(exact, inputs, tok.symbol_count, profile.window, skips, keep=2)
        with ThreadPoolExecutor(max_workers=1) as helper:
            pending = None
            for item in itertools.chain(blocks, [None]):  # None: the last block's turn to finish
                if pending is not None:
                    done += pending.result()
                    if progress is not None:
                        progress(done, total)
                pending = helper.submit(code, *item) if item is not None else None
        coded = [Segment(MODEL, len(p), len(t), e.finish(trim), crc32(p), trim) for p, t, e in zip(pieces, tokens, encoders)]
        return coded, tokens, token_bits

    def uncode(
        self,
        profile: Profile,
        segments: list[Segment],
        total: int,
        get_model,
        job: Job,
        dictionary: bytes | None = None,
        start_id: int | None = None,
        prefixes: list[list[int]] | None = None,
    ) -> list[bytes]:
        """Each segment's text. Model-coded segments follow the dictionary's prefix, or
        their own prefix (`prefixes`, one per segment, as given to code_pieces)."""
        pieces: list[bytes | None] = [None] * len(segments)
        for i, s in enumerate(segments):
            if s.method == ZSTD:
                pieces[i] = zstd_decompress(s.payload, s.n_bytes)
            elif s.method == RAW:
                if len(s.payload) != s.n_bytes:
                    raise FormatError(f"segment {i} is corrupt (stored length)")
                pieces[i] = s.payload
        coded = [i for i, s in enumerate(segments) if s.method == MODEL]
        done = sum(s.n_bytes for s in segments if s.method != MODEL)  # known already
        if coded:
            lm = get_model()
            if start_id is not None and lm.tokenizer.start_id != start_id:
                raise FormatError("header's start token does not match the model's tokenizer")
            for i in coded:  # the bound of this model's alphabet, before any step
                if segments[i].n_tokens > rangecoder.max_tokens(len(segments[i].payload), lm.tokenizer.symbol_count):
                    raise FormatError(f"corrupt header: segment {i} claims more tokens than its payload can hold")
            progress = [done]

            def report(n_bytes: int) -> None:
                progress[0] += n_bytes
                job.report(progress[0], total)

            segs = [segments[i] for i in coded]
            if job.pool is not None and prefixes is None:  # groups of segments on cluster workers
                decoded = job.pool.decode_segments(job, lm, self, profile, segs, dictionary)
            else:
                own = [prefixes[i] for i in coded] if prefixes else None
                decoded = self.decode_segments(lm, profile, segs, dictionary, own, report)
            for i, piece in zip(coded, decoded):
                pieces[i] = piece
        return pieces

    def decode_segments(self, lm: LoadedModel, profile: Profile, segs: list[Segment], dictionary: bytes | None,
                        prefixes: list[list[int]] | None, report: Callable[[int], None]) -> list[bytes]:
        """The text of model-coded segments, decoded in this process (in forked workers
        where that pays), each after its prefix or, if None, the dictionary's. A cluster
        worker runs this on its group of segments."""
        tok = lm.tokenizer
        with threads(self.threads):
            exact = lm.exact(profile.numerics, self.device)
            prefix, primed = prime(exact, tok, profile, dictionary)
            prefixes = prefixes or [prefix] * len(segs)
            steps = max(len(p) + s.n_tokens for p, s in zip(prefixes, segs))
            capacity = min(steps, profile.window.size) if profile.window.size else steps
            import torch

            fork = workers.can_fork(exact.device.type)
            n, each = workers.count(len(segs), torch.get_num_threads()) if fork else (1, 0)
            rows = decode_rows(exact, capacity, n)

            def decode_group(group: list[int], report) -> list[bytes]:
                return self._decode_queue(
                    exact, tok, profile, [segs[i] for i in group], [prefixes[i] for i in group], primed, rows, report
                )

            # longest first, dealt round-robin: the workers get about equal work
            order = sorted(range(len(segs)), key=lambda i: len(prefixes[i]) + segs[i].n_tokens, reverse=True)
            groups = [[order[k] for k in g] for g in workers.deal(len(segs), n)]
            tasks = [functools.partial(decode_group, g) for g in groups]
            return workers.undeal(groups, workers.run(tasks, report, fork, each))

    def _decode_queue(self, exact: ExactLM, tok: ByteTokenizer, profile: Profile, segs: list[Segment],
                      prefixes: list[list[int]], primed: Online | None, rows: int, report: Callable[[int], None]) -> list[bytes]:
        """Decode model-coded segments, each after its prefix, on at most `rows` rows
        stepped together; report(n) after each step with the bytes it decoded. Segments
        are taken in the order given (longest first keeps the last steps full): a row
        that ends its segment takes the next one at once (its prefix prefilled into that
        row), and once none are left the batch drops its idle rows whenever they are half
        of it."""
        from ..model import engine

        rows = min(rows, len(segs))
        steps = max(len(p) + s.n_tokens for p, s in zip(prefixes, segs))
        stepper = engine.Lockstep(exact, rows, tok.symbol_count, steps, profile.window)
        slot: list[int | None] = [None] * rows  # the segment on each row (None: idle)
        inputs, decoders = [0] * rows, [None] * rows
        budget = [0.0] * rows  # information a row's payload has left (rangecoder.Budget)
        online = [None] * rows if primed is not None else None
        out: list[list[int]] = [[] for _ in segs]
        waiting = iter(range(len(segs)))

        def take(free: list[int]) -> None:
            """Rows `free` take the next segments; idle ones step from the start token."""
            nxt = [next(waiting, None) for _ in free]
            start = [prefixes[i] if i is not None else [tok.start_id] for i in nxt]
            stepper.restart(free, [p[:-1] for p in start])
            for r, i, p in zip(free, nxt, start):
                slot[r], inputs[r] = i, p[-1]
                if i is not None:
                    decoders[r] = rangecoder.Decoder(segs[i].payload, segs[i].trimmed)
                    budget[r] = rangecoder.payload_bits(len(segs[i].payload))
                    if online is not None:
                        online[r] = copy.deepcopy(primed)

        take(list(range(rows)))
        while stepper.rows:
            probs = stepper.step(inputs)
            stepped, done = 0, []
            for r, i in enumerate(slot):
                if i is None:
                    continue
                w = probs[r]
                if online is not None:
                    online[r].adjust(w)
                sym = decoders[r].decode(w)
                if sym >= tok.symbol_count or tok.table[sym] is None:  # e.g. a control token
                    raise IntegrityError(corrupt_message(profile, f"segment of batch row {r} decoded an impossible token"))
                budget[r] -= rangecoder.least_cost(w, sym, online[r].mass if online is not None else None)
                if budget[r] < 0:  # more information decoded than the payload holds: more tokens than were coded
                    raise FormatError(f"corrupt file: a segment claims more tokens than its {len(segs[i].payload)} bytes hold")
                if online is not None:
                    online[r].update(sym)
                out[i].append(sym)
                stepped += len(tok.table[sym])
                if len(out[i]) < segs[i].n_tokens:
                    inputs[r] = tok.model_input(sym)
                else:
                    done.append(r)
            report(stepped)
            if done:
                take(done)
            busy = [r for r, i in enumerate(slot) if i is not None]
            if 2 * len(busy) <= stepper.rows:  # no segments wait: step only the busy rows
                stepper.keep(busy)
                slot, inputs, decoders, budget = ([x[r] for r in busy] for x in (slot, inputs, decoders, budget))
                online = [online[r] for r in busy] if online is not None else None
        return [tok.decode(o) for o in out]


def prime(exact: ExactLM, tok: ByteTokenizer, profile: Profile, dictionary: bytes | None) -> tuple[list[int], Online | None]:
    """The inputs every segment starts with ([start] and the dictionary's last tokens) and
    the online models' state after learning the dictionary: the match model's history
    holds all of it, and both models learn its last tokens as if coding them. None when
    the profile runs no online models. Encoder and decoder both call this."""
    prefix = [tok.start_id]
    online = Online(profile.online, tok.vocab_size) if profile.online.active else None
    if dictionary:
        limit = min(DICT_TOKENS, profile.window.size // 2) if profile.window.size else DICT_TOKENS
        every = tok.encode(dictionary)
        dict_tokens = every[-limit:]
        prefix += [tok.model_input(t) for t in dict_tokens]
        if online is not None:
            from ..model import engine

            online.observe(every[: len(every) - len(dict_tokens)])  # the match model sees all of it

            for _, start, weights in engine.sequence_weights(exact, [prefix[:-1]], tok.symbol_count, profile.window):
                online.learn(weights, dict_tokens[start : start + len(weights)])
    return prefix, online
