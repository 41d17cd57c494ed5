"""`arithmetic` mode: the model's next-token probabilities drive a range coder.

Encode: normalise newlines (if reversible) -> cut into segments -> tokenize each
exactly -> step all segments of a batch in lockstep through the model, range-coding
each row's token under its row's distribution -> per segment keep the smallest of
model / zstd / raw. Decode replays the identical lockstep computation.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

from ..config import ArithmeticConfig
from ..config import EXACT_FORMAT
from ..container import Header, Reader, Writer, crc32
from ..errors import FormatError, IntegrityError
from ..exact.numerics import DEFAULT as DEFAULT_NUMERICS, Numerics
from .. import rangecoder, segments as seg
from .base import Codec, Context, Encoded
from .zstd import zstd_compress, zstd_decompress

# Segment storage methods (params table).
MODEL, ZSTD, RAW = 0, 1, 2
METHOD_NAMES = {MODEL: "model", ZSTD: "zstd", RAW: "raw"}
FLAG_CRLF = 0x01  # input had CRLF line ends only; the coded text has LF


@dataclass
class Segment:
    method: int
    n_bytes: int  # not stored for model-coded segments: their decoded tokens give it
    n_tokens: int  # model-coded tokens (0 for zstd/raw)
    payload: bytes
    crc: int


@dataclass
class Params:
    flags: int
    numerics: Numerics  # how the engine computed the probabilities (exact: no machine detail)
    rows: int  # segments the decoder steps together
    start_id: int
    precision: int
    segments: list[Segment]

    def pack(self) -> bytes:
        w = Writer().u8(self.flags).text(self.numerics.tag())
        w.varint(self.rows).varint(self.start_id).u8(self.precision)
        _pack_segments(w, self.segments)
        return w.getvalue()

    @classmethod
    def unpack(cls, raw: bytes) -> tuple["Params", list[int]]:
        """Params, plus each segment's payload length (payloads are filled in later)."""
        r = Reader(raw, "arithmetic header")
        flags, numerics = r.u8(), Numerics.parse(r.text())
        rows, start_id, precision = r.varint(), r.varint(), r.u8()
        segs, lengths = _unpack_segments(r, len(raw))
        if not r.at_end() or not 1 <= rows <= max(1, len(segs)):  # rows size the decoder's KV cache
            raise FormatError("corrupt arithmetic header")
        return cls(flags, numerics, rows, start_id, precision, segs), lengths


def _pack_segments(w: Writer, segments: list[Segment]) -> None:
    w.varint(len(segments))
    for s in segments:
        # Model-coded: token count and payload length in 32-bit words (range coder
        # output is whole words). Others: byte count and payload length in bytes.
        if s.method == MODEL:
            w.u8(s.method).varint(s.n_tokens).varint(len(s.payload) // 4).u32(s.crc)
        else:
            w.u8(s.method).varint(s.n_bytes).varint(len(s.payload)).u32(s.crc)


def _unpack_segments(r: Reader, limit: int) -> tuple[list[Segment], list[int]]:
    count = r.varint()
    if count > limit:  # each entry takes several bytes: a bigger count is corrupt
        raise FormatError("corrupt arithmetic header: segment count")
    segs, lengths = [], []
    for _ in range(count):
        method, size, length, crc = r.u8(), r.varint(), r.varint(), r.u32()
        if method not in METHOD_NAMES:
            raise FormatError(f"unknown segment method {method}")
        if method == MODEL:
            segs.append(Segment(method, 0, size, b"", crc))
            lengths.append(4 * length)
        else:
            segs.append(Segment(method, size, 0, b"", crc))
            lengths.append(length)
    return segs, lengths


def refuse_float_numerics(header: Header) -> None:
    """Files of format 1 carry float numerics that reproduce only on the kind of machine
    that made them: refuse them in one line rather than risk a failed decode."""
    if header.version < EXACT_FORMAT:
        raise FormatError(
            f"made by llmpack 0.1 (format {header.version}) with float numerics tied to the encoding "
            "machine; decode it with llmpack 0.1 on that kind of machine"
        )


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


def _normalize(data: bytes) -> tuple[bytes, int]:
    """CRLF -> LF when every LF is part of a CRLF (so LF -> CRLF restores the input)."""
    if b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n"):
        return data.replace(b"\r\n", b"\n"), FLAG_CRLF
    return data, 0


def _denormalize(data: bytes, flags: int) -> bytes:
    return data.replace(b"\n", b"\r\n") if flags & FLAG_CRLF else data


def _corrupt_message(params: "Params", what: str) -> str:
    # The container's checksums passed, so the bytes are as written: the model's numbers
    # here differ from the encoder's (a bug in the exact engine, or a file from an encoder
    # that did not use numerics tag it claims).
    return (f"{what}: the payload is intact (its checksums pass), so this machine computed other "
            f"probabilities than the encoder's (numerics {params.numerics.tag()}); please report it")


def _batches(items: list, rows: int) -> list[list]:
    return [items[i : i + rows] for i in range(0, len(items), rows)]


class ArithmeticCodec(Codec):
    name = "arithmetic"
    mode = 1
    config_class = ArithmeticConfig

    def __init__(self, config: ArithmeticConfig | None = None) -> None:
        self.config = config or ArithmeticConfig()

    # -- encode ----------------------------------------------------------------
    def encode(self, data: bytes, ctx: Context) -> Encoded:
        lm = ctx.get_model()
        flags, rows, segments = self._code(data, lm, ctx)
        params = Params(flags, DEFAULT_NUMERICS, rows, lm.tokenizer.start_id, rangecoder.PRECISION_BITS, segments)
        return Encoded(params.pack(), b"".join(s.payload for s in segments), model=lm)

    def encode_stream(self, data: bytes, lm, ctx: Context) -> bytes:
        """A self-delimiting coded form to embed in another codec's payload:
        flags u8 | rows varint | segment table | payloads. The embedding codec records
        the numerics and start token and passes them to decode_stream."""
        flags, rows, segments = self._code(data, lm, ctx)
        w = Writer().u8(flags).varint(rows)
        _pack_segments(w, segments)
        return w.getvalue() + b"".join(s.payload for s in segments)

    def decode_stream(self, r: Reader, size_limit: int, lm, numerics: "Params", ctx: Context) -> bytes:
        """Read one encode_stream() form from r; `numerics` gives the numerics, start_id and precision."""
        flags, rows = r.u8(), r.varint()
        segs, lengths = _unpack_segments(r, size_limit)
        if rows < 1:
            raise FormatError("corrupt model-coded stream")
        params = Params(flags, numerics.numerics, rows, numerics.start_id, numerics.precision, segs)
        return self._uncode(params, r.raw(sum(lengths)), lengths, size_limit, lambda: lm, ctx)

    def _code(self, data: bytes, lm, ctx: Context) -> tuple[int, int, list[Segment]]:
        cfg = self.config
        tok = lm.tokenizer
        text, flags = _normalize(data) if cfg.normalize_newlines else (data, 0)
        n_guess = len(tok.encode(text)) if text else 0
        count, rows = seg.plan(n_guess, cfg.max_rows, cfg.min_segment_tokens, cfg.max_segment_tokens)
        pieces = seg.split(text, count)
        tokens = [tok.encode(p) for p in pieces]
        total, done = len(text), 0
        from .. import engine  # torch: imported only when a model runs

        with threads(cfg.threads):
            exact = lm.exact(DEFAULT_NUMERICS, cfg.device)
            inputs = [[tok.start_id] + [tok.model_input(t) for t in toks[:-1]] for toks in tokens]
            encoders = [rangecoder.Encoder() for _ in tokens]
            token_bits: list[list[float]] = [[] for _ in tokens]  # per segment, the model's cost of each token
            for j, start, weights in engine.sequence_weights(exact, inputs, tok.symbol_count):
                symbols = tokens[j][start : start + len(weights)]
                encoders[j].encode_all(symbols, weights)
                token_bits[j] += engine.bits(weights, symbols)
                done += len(tok.decode(symbols))
                ctx.report(done, total)
            payloads = [e.finish() for e in encoders]
        segments = [self._choose(p, toks, pay, cfg.fallback) for p, toks, pay in zip(pieces, tokens, payloads)]
        kept = [i for i, s in enumerate(segments) if s.method == MODEL]
        ctx.stats.update(
            tokens=sum(len(t) for t in tokens),
            model_bits=sum(sum(token_bits[i]) for i in kept),  # the model's cross-entropy on the model-coded segments
            model_payload_bytes=sum(len(segments[i].payload) for i in kept),
            model_segments=len(kept),  # each range-coded stream ends in one flushed 32-bit word
            # (token bytes, bits) over the whole (newline-normalised) text: what `llmpack report` colours
            surprisal=[(lm.tokenizer.table[t], b) for toks, bits in zip(tokens, token_bits) for t, b in zip(toks, bits)],
        )
        return flags, rows, segments

    @staticmethod
    def _choose(piece: bytes, toks: list[int], model_payload: bytes, fallback: bool) -> Segment:
        options = [Segment(MODEL, len(piece), len(toks), model_payload, crc32(piece))]
        if fallback:
            options.append(Segment(ZSTD, len(piece), 0, zstd_compress(piece), crc32(piece)))
            options.append(Segment(RAW, len(piece), 0, piece, crc32(piece)))
        return min(options, key=lambda s: len(s.payload))  # stable: ties keep the model

    # -- decode ----------------------------------------------------------------
    def decode(self, header: Header, payload: bytes, ctx: Context) -> bytes:
        refuse_float_numerics(header)
        params, lengths = Params.unpack(header.params)
        if sum(lengths) != len(payload):
            raise FormatError("truncated or corrupt payload (length does not match the header)")
        get_model = lambda: ctx.get_model(header.model, header.fingerprint)  # noqa: E731
        return self._uncode(params, payload, lengths, header.original_size, get_model, ctx)

    def _uncode(self, params: Params, payload: bytes, lengths: list[int], total: int, get_model, ctx: Context) -> bytes:
        if sum(s.n_bytes + s.n_tokens for s in params.segments) > total:
            # every token is at least one byte; this also bounds what a hostile header can allocate
            raise FormatError("corrupt arithmetic header: segments larger than the original")
        pos = 0
        for s, n in zip(params.segments, lengths):
            s.payload = payload[pos : pos + n]
            pos += n
        pieces: list[bytes | None] = [None] * len(params.segments)
        for i, s in enumerate(params.segments):
            if s.method == ZSTD:
                pieces[i] = zstd_decompress(s.payload, s.n_bytes)
            elif s.method == RAW:
                pieces[i] = s.payload
        done = sum(s.n_bytes for s in params.segments)  # the zstd/raw segments, already known
        if any(s.method == MODEL for s in params.segments):
            lm = get_model()
            with threads(self.config.threads):
                index = list(range(len(params.segments)))
                for batch in _batches(index, params.rows):
                    if all(params.segments[i].method != MODEL for i in batch):
                        continue
                    decoded = self._decode_batch(lm, params, [params.segments[i] for i in batch], [pieces[i] for i in batch], ctx, done, total)
                    for i, piece in zip(batch, decoded):
                        if params.segments[i].method == MODEL:
                            done += len(piece)
                        pieces[i] = piece
        for i, (s, piece) in enumerate(zip(params.segments, pieces)):
            if crc32(piece) != s.crc:
                raise IntegrityError(
                    _corrupt_message(params, f"segment {i} does not match its checksum")
                    if s.method == MODEL
                    else f"segment {i} is corrupt (checksum mismatch)"
                )
        return _denormalize(b"".join(pieces), params.flags)

    def _decode_batch(self, lm, params: Params, segs: list[Segment], known: list, ctx: Context, done: int, total: int):
        tok = lm.tokenizer
        if tok.start_id != params.start_id:
            raise FormatError("header's start token does not match the model's tokenizer")
        # Rows stored with zstd/raw are replayed from their known tokens, so every row of
        # the batch computes exactly what it computed at encode time.
        seqs = [tok.encode(k) if s.method != MODEL else None for s, k in zip(segs, known)]
        lengths = [s.n_tokens if s.method == MODEL else len(q) for s, q in zip(segs, seqs)]
        from .. import engine

        stepper = engine.Lockstep(lm.exact(params.numerics, self.config.device), params.rows, tok.symbol_count, max(lengths, default=0))
        decoders = [rangecoder.Decoder(s.payload) if s.method == MODEL else None for s in segs]
        out: list[list[int]] = [[] for _ in segs]
        inputs = [tok.start_id] * params.rows
        for t in range(max(lengths, default=0)):
            probs = stepper.step(inputs)
            for r, s in enumerate(segs):
                if t >= lengths[r]:
                    inputs[r] = tok.start_id
                    continue
                if decoders[r] is not None:
                    sym = decoders[r].decode(probs[r])
                    if sym >= tok.symbol_count or tok.table[sym] is None:  # e.g. a control token
                        raise IntegrityError(_corrupt_message(params, f"segment of batch row {r} decoded an impossible token"))
                    out[r].append(sym)
                    done += len(tok.table[sym])
                else:
                    sym = seqs[r][t]
                inputs[r] = tok.model_input(sym)
            ctx.report(done, total)
        return [tok.decode(o) if d is not None else k for o, d, k in zip(out, decoders, known)]

    def describe(self, params: bytes) -> dict:
        p, lengths = Params.unpack(params)
        methods = [METHOD_NAMES[s.method] for s in p.segments]
        return {
            "numerics": p.numerics.tag(),
            "rows": p.rows,
            "precision_bits": p.precision,
            "newlines": "crlf" if p.flags & FLAG_CRLF else "as-is",
            "segments": len(p.segments),
            "segment_methods": {m: methods.count(m) for m in sorted(set(methods))},
            "segment_tokens": [s.n_tokens for s in p.segments],
            "segment_payload_bytes": lengths,
        }
