"""`arithmetic` mode: the model's next-token probabilities drive a range coder.

Encode: normalise newlines (if reversible) -> cut into segments (as long as the level
says; a small input is one) -> tokenize each exactly -> compute each segment's
next-token weights in full passes over its context window (after the dictionary, if
any), adjusted by the online models -> range-code each segment -> per segment keep the
smallest of model / zstd / raw. Decode steps the model-coded segments in lockstep, one
token per row and step, and computes the same weights on any machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass, field

import hashlib

from ..config import EXACT_FORMAT, MAX_TOKEN_BYTES, ArithmeticConfig
from ..coding.container import Header, Reader, Writer, checksum, crc32
from ..errors import FormatError, IntegrityError, LLMPackError
from ..model.exact.numerics import DEFAULT as DEFAULT_NUMERICS, Numerics
from ..coding import profiles, rangecoder, segments as seg
from ..coding.modelcoder import (
    FLAG_CRLF, METHOD_NAMES, MODEL, RAW, ZSTD, ModelCoder, Segment, corrupt_message, denormalize, normalize,
)
from ..coding.dictionary import arrange, relevant
from ..coding.online import OFF
from ..coding.profiles import Profile
from ..model.window import UNLIMITED
from ..coding.zstdframe import zstd_compress, zstd_max_output
from .base import Codec, Context, Encoded

if TYPE_CHECKING:  # annotations only: no model code is imported for them
    from ..model.tokens import ByteTokenizer
    from ..model.loading import LoadedModel

FLAG_DICT = 0x02  # format 4: coded after a dictionary, whose id follows
FLAG_PARTS = 0x04  # format 6: ... with some of its parts moved to the end (coding.dictionary), listed after the id
PARTS_FORMAT = 6  # the first format whose files may carry FLAG_PARTS
DICT_ID_BYTES = 4  # truncated SHA-256 of the dictionary: tells a wrong one apart (the checksum of the original backs it)


def dictionary_id(dictionary: bytes) -> bytes:
    return hashlib.sha256(dictionary).digest()[:DICT_ID_BYTES]


@dataclass
class Params:
    """Format 4: flags u8 | profile varint | dictionary id if FLAG_DICT | (format 6) if
    FLAG_PARTS, a count varint and that many part indices varint | segment count varint
    | per segment a method u8 (none for a single segment: it is model-coded) | per
    segment its size (tokens if model-coded, else bytes) | per segment but the last, its
    payload length (the last one's is what remains)."""

    flags: int
    profile: int
    dictionary: bytes  # the dictionary's id, or b""
    segments: list[Segment]
    parts: list[int] = field(default_factory=list)  # the dictionary's parts moved to the end (dictionary.arrange)

    def pack(self) -> bytes:
        flags = self.flags | (FLAG_DICT if self.dictionary else 0) | (FLAG_PARTS if self.parts else 0)
        w = Writer().u8(flags).varint(self.profile).raw(self.dictionary)
        if self.parts:
            w.varint(len(self.parts))
            for i in self.parts:
                w.varint(i)
        w.varint(len(self.segments))
        if len(self.segments) > 1:
            for s in self.segments:
                w.u8(s.method)
        for s in self.segments:
            w.varint(s.n_tokens if s.method == MODEL else s.n_bytes)
        for s in self.segments[:-1]:
            w.varint(len(s.payload))
        return w.getvalue()

    @classmethod
    def unpack(cls, raw: bytes, original_size: int, payload: bytes, version: int) -> "Params":
        """The params of a format-`version` file, with each segment's payload cut from
        `payload`. Sizes are checked against the original's before anything is allocated
        (a token is at least a byte)."""
        r = Reader(raw, "arithmetic header")
        flags = r.u8()
        known = FLAG_CRLF | FLAG_DICT | (FLAG_PARTS if version >= PARTS_FORMAT else 0)
        if flags & ~known or flags & FLAG_PARTS and not flags & FLAG_DICT:
            raise FormatError("corrupt arithmetic header: unknown flags")
        profile = r.varint()
        dictionary = r.raw(DICT_ID_BYTES) if flags & FLAG_DICT else b""
        parts = []
        if flags & FLAG_PARTS:
            n = r.varint()
            if not 1 <= n <= len(raw):
                raise FormatError("corrupt arithmetic header: dictionary parts")
            parts = [r.varint() for _ in range(n)]
        count = r.varint()
        if count > len(raw) or (count == 0) != (original_size == 0):
            raise FormatError("corrupt arithmetic header: segment count")
        methods = [r.u8() for _ in range(count)] if count > 1 else [MODEL] * count
        if any(m not in METHOD_NAMES for m in methods):
            raise FormatError("corrupt arithmetic header: unknown segment method")
        sizes = [r.varint() for _ in range(count)]
        lengths = [r.varint() for _ in range(count - 1)]
        if not r.at_end():
            raise FormatError("corrupt arithmetic header")
        if count:
            lengths.append(len(payload) - sum(lengths))
        if any(n <= 0 for n in sizes) or any(k < 0 for k in lengths):
            raise FormatError("corrupt arithmetic header: segment sizes")
        segs, pos = [], 0
        for m, n, k in zip(methods, sizes, lengths):
            segs.append(Segment(m, 0 if m == MODEL else n, n if m == MODEL else 0, payload[pos : pos + k]))
            pos += k
        check_sizes(segs, original_size, flags & FLAG_CRLF)
        return cls(flags & FLAG_CRLF, profile, dictionary, segs, parts)


def check_sizes(segments: list[Segment], original_size: int, crlf: int, exact: bool = True) -> None:
    """Refuse sizes the payloads cannot carry, before anything is allocated or a model
    steps: a token is at least a byte and at most MAX_TOKEN_BYTES; a model-coded payload
    holds at most rangecoder.max_tokens tokens (over the smallest alphabet: the model's
    own bound is checked once it is loaded); a zstd one expands at most ZSTD_MAX_EXPANSION
    times; CRLF restoring at most doubles the text. exact=False: original_size is only an
    upper limit (a stream embedded in another codec's payload)."""
    least = most = 0
    for i, s in enumerate(segments):
        if s.method == MODEL:
            if s.n_tokens > rangecoder.max_tokens(len(s.payload)):
                raise FormatError(f"corrupt arithmetic header: segment {i} claims more tokens than its payload can hold")
            least, most = least + s.n_tokens, most + s.n_tokens * MAX_TOKEN_BYTES
        else:
            cap = len(s.payload) if s.method == RAW else zstd_max_output(len(s.payload))
            if s.n_bytes > cap:
                raise FormatError(f"corrupt arithmetic header: segment {i} claims more bytes than its payload can hold")
            least, most = least + s.n_bytes, most + s.n_bytes
    if least > original_size or exact and original_size > (2 if crlf else 1) * most:
        raise FormatError("corrupt arithmetic header: segment sizes do not add up to the original's")


@dataclass
class ParamsV3:
    """Format 3's params (still read): flags u8 | numerics text | rows varint | start id
    varint | precision u8 | segment table (_pack_segments)."""

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
    def unpack(cls, raw: bytes) -> tuple["ParamsV3", list[int]]:
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


def _legacy_profile(numerics: Numerics, precision: int) -> Profile:
    """Format 3 and embedded streams: the model alone, each segment one window."""
    return Profile(numerics, precision, UNLIMITED, OFF)


class ArithmeticCodec(Codec):
    name = "arithmetic"
    mode = 1
    config_class = ArithmeticConfig

    def __init__(self, config: ArithmeticConfig | None = None) -> None:
        self.config = config or ArithmeticConfig()
        self.config.check()  # options are checked before any model loads
        profile = self.config.settings().profile
        if profile not in profiles.PROFILES:
            raise LLMPackError(f"unknown coding profile {profile}")
        self.coder = ModelCoder(self.config.threads, self.config.device)

    # -- encode ----------------------------------------------------------------
    def encode(self, data: bytes, ctx: Context) -> Encoded:
        """The file coded after the dictionary, if any, and after the dictionary with the
        parts most like the file moved to its end (coding.dictionary); where coding without
        it is smaller (a dictionary of another kind of text), without it: a dictionary
        never costs bytes. (Decoding a file that did without it needs no -D, as zstd's
        frames without a dict ID.)"""
        lm = ctx.get_model()
        number = self.config.settings().profile
        dictionary = self.config.dictionary
        tries: list[tuple[bytes | None, list[int]]] = [(None, [])]
        if dictionary:
            parts = relevant(dictionary, data)
            tries = ([(dictionary, parts)] if parts else []) + [(dictionary, []), *tries]
        best = None  # (size, encoded, stats)
        for d, parts in tries:
            before, ctx.stats = ctx.stats, dict(ctx.stats)
            flags, segments = self._code(data, lm, ctx, profiles.get(number), arrange(d, parts) if parts else d)
            params = Params(flags, number, dictionary_id(d) if d else b"", segments, parts)
            encoded = Encoded(params.pack(), b"".join(s.payload for s in segments), model=lm)
            size = len(encoded.params) + len(encoded.payload)
            if best is None or size < best[0]:  # ties keep the dictionary
                best = (size, encoded, {**ctx.stats, "dictionary_used": d is not None, "dictionary_parts": parts})
            ctx.stats = before
        ctx.stats.update(best[2])
        return best[1]

    def encode_stream(self, data: bytes, lm: LoadedModel, ctx: Context) -> bytes:
        """A self-delimiting coded form to embed in another codec's payload (format 3's
        segment table): flags u8 | rows varint | segment table | payloads. The embedding
        codec records the numerics and passes them to decode_stream."""
        flags, segments = self._code(data, lm, ctx, _legacy_profile(DEFAULT_NUMERICS, rangecoder.PRECISION_BITS), None)
        w = Writer().u8(flags).varint(1)
        _pack_segments(w, segments)
        return w.getvalue() + b"".join(s.payload for s in segments)

    def decode_stream(self, r: Reader, size_limit: int, lm: LoadedModel, numerics: "ParamsV3", ctx: Context) -> bytes:
        """Read one encode_stream() form from r; `numerics` gives the numerics, start_id and precision."""
        flags, rows = r.u8(), r.varint()
        segs, lengths = _unpack_segments(r, size_limit)
        if rows < 1:
            raise FormatError("corrupt model-coded stream")
        params = ParamsV3(flags, numerics.numerics, rows, numerics.start_id, numerics.precision, segs)
        return self._uncode_v3(params, r.raw(sum(lengths)), lengths, size_limit, lambda: lm, ctx, exact=False)

    def segments_of(self, data: bytes, tok: ByteTokenizer) -> tuple[list[bytes], int]:
        """The pieces this codec codes data in (newlines normalised where the config says
        so and reversible), and the newline flags."""
        max_rows, min_tokens, max_tokens, _ = self.config.settings()
        text, flags = normalize(data) if self.config.normalize_newlines else (data, 0)
        n_guess = len(tok.encode(text)) if text else 0
        count, _ = seg.plan(n_guess, max_rows, min_tokens, max_tokens)
        return seg.split(text, count), flags

    def _code(self, data: bytes, lm: LoadedModel, ctx: Context, profile: Profile,
              dictionary: bytes | None) -> tuple[int, list[Segment]]:
        cfg = self.config
        pieces, flags = self.segments_of(data, lm.tokenizer)
        if ctx.pool is not None and pieces:  # each piece on a cluster worker: the same segments
            coded, tokens, token_bits = ctx.pool.code_pieces(ctx, lm, self.coder, profile, pieces, dictionary)
        else:
            coded, tokens, token_bits = self.coder.model_pass(lm, profile, pieces, dictionary, ctx.report)
        fallback = cfg.fallback and len(pieces) > 1  # a single segment's fallback is the whole file's
        segments = [self._choose(p, s, fallback) for p, s in zip(pieces, coded)]
        kept = [i for i, s in enumerate(segments) if s.method == MODEL]
        ctx.stats.update(
            tokens=sum(len(t) for t in tokens),
            model_bits=sum(sum(token_bits[i]) for i in kept),  # the coder's cross-entropy on the model-coded segments
            model_payload_bytes=sum(len(segments[i].payload) for i in kept),
            model_segments=len(kept),  # each range-coded stream ends in one flushed 32-bit word
            # (token bytes, bits) over the whole (newline-normalised) text: what `llmpack report` colours
            surprisal=[(lm.tokenizer.table[t], b) for toks, bits in zip(tokens, token_bits) for t, b in zip(toks, bits)],
        )
        return flags, segments

    @staticmethod
    def _choose(piece: bytes, model: Segment, fallback: bool) -> Segment:
        crc = model.crc  # recorded by format 3's segment table (embedded streams)
        options = [model]
        if fallback:
            options.append(Segment(ZSTD, len(piece), 0, zstd_compress(piece), crc))
            options.append(Segment(RAW, len(piece), 0, piece, crc))
        return min(options, key=lambda s: len(s.payload))  # stable: ties keep the model

    # -- decode ----------------------------------------------------------------
    def decode(self, header: Header, payload: bytes, ctx: Context) -> bytes:
        refuse_float_numerics(header)
        get_model = lambda: ctx.get_model(header.model, header.fingerprint)  # noqa: E731
        if header.version < 4:
            params3, lengths = ParamsV3.unpack(header.params)
            if sum(lengths) != len(payload):
                raise FormatError("truncated or corrupt payload (length does not match the header)")
            return self._uncode_v3(params3, payload, lengths, header.original_size, get_model, ctx)
        params = Params.unpack(header.params, header.original_size, payload, header.version)
        profile = profiles.get(params.profile)
        dictionary = self.config.dictionary
        if params.dictionary:
            if dictionary is None:
                raise LLMPackError(f"this file was compressed with a dictionary (id {params.dictionary.hex()}); "
                                   "give it with -D FILE")
            if dictionary_id(dictionary) != params.dictionary:
                raise LLMPackError(
                    f"wrong dictionary: this file needs id {params.dictionary.hex()}, "
                    f"the one given has {dictionary_id(dictionary).hex()}"
                )
            if params.parts:
                dictionary = arrange(dictionary, params.parts)
        else:  # made without one (or it did not help this file): a -D given is not needed, as with zstd
            dictionary = None
        pieces = self.coder.uncode(profile, params.segments, header.original_size, get_model, ctx, dictionary)
        data = denormalize(b"".join(pieces), params.flags)
        if len(data) != header.original_size or checksum(data, len(header.checksum)) != header.checksum:
            raise IntegrityError(corrupt_message(profile, "the decoded text does not match the original's checksum"))
        return data

    # -- format 3 --------------------------------------------------------------
    def _uncode_v3(
        self, params: ParamsV3, payload: bytes, lengths: list[int], total: int, get_model, ctx: Context, exact: bool = True
    ) -> bytes:
        pos = 0
        for s, n in zip(params.segments, lengths):
            s.payload = payload[pos : pos + n]
            pos += n
        check_sizes(params.segments, total, params.flags & FLAG_CRLF, exact)
        profile = _legacy_profile(params.numerics, params.precision)
        pieces = self.coder.uncode(profile, params.segments, total, get_model, ctx, start_id=params.start_id)
        for i, (s, piece) in enumerate(zip(params.segments, pieces)):
            if crc32(piece) != s.crc:
                raise IntegrityError(
                    corrupt_message(profile, f"segment {i} does not match its checksum")
                    if s.method == MODEL
                    else f"segment {i} is corrupt (checksum mismatch)"
                )
        return denormalize(b"".join(pieces), params.flags)

    def describe(self, header: Header, payload: bytes) -> dict:
        if header.version < 4:
            return self._describe_v3(header.params)
        p = Params.unpack(header.params, header.original_size, payload, header.version)
        profile = profiles.get(p.profile)
        methods = [METHOD_NAMES[s.method] for s in p.segments]
        return {
            "profile": p.profile,
            "numerics": profile.numerics.tag(),
            "window": f"{profile.window.size} tokens, sliding by {profile.window.slide}",
            "online_models": _online_text(profile),
            "precision_bits": profile.precision,
            "dictionary": p.dictionary.hex() or None,
            "dictionary_parts": p.parts or None,
            "newlines": "crlf" if p.flags & FLAG_CRLF else "as-is",
            "segments": len(p.segments),
            "segment_methods": {m: methods.count(m) for m in sorted(set(methods))},
            "segment_sizes": [s.n_tokens or s.n_bytes for s in p.segments],  # tokens if model-coded, else bytes
            "segment_payload_bytes": [len(s.payload) for s in p.segments],
        }

    def _describe_v3(self, params: bytes) -> dict:
        p, lengths = ParamsV3.unpack(params)
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


def _online_text(profile: Profile) -> str:
    spec = profile.online
    parts = ([f"adaptive bias (rate {spec.bias_rate})"] if spec.bias_rate else []) + (
        [f"match model (order {spec.match_order})"] if spec.match_order else []
    )
    return ", ".join(parts) or "none"
