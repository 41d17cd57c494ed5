"""`fidelity` (lossy): the text with its costliest sentences and lines replaced by the
model's own text, or dropped, wherever the meaning survives; range-coded as in the
arithmetic mode.

Encode: the edit search (fidelity_search) rewrites the text in rounds while the whole
text keeps a MiniLM similarity of at least `fidelity` to the original. The original
and the text after each round are coded exactly by the arithmetic mode, and the
smallest is kept (each round saves bits as measured on short rows; the real coder,
with the whole context and the online models, is the judge).

Params: similarity u8 (as semantic's) | the approximation's size varint | its 4-byte
checksum | the arithmetic mode's params. Payload: the arithmetic mode's. Decoding is the
arithmetic mode's, checked against the approximation's checksum: it runs no search, and
decodes on any machine as the arithmetic mode does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import CHECKSUM_BYTES, FidelityConfig
from ..coding.container import Header, Reader, Writer, checksum
from ..errors import FormatError
from ..coding import profiles
from ..coding.modelcoder import denormalize, threads
from .arithmetic import ArithmeticCodec
from .base import Codec, Context, Encoded
from .semantic_params import similarity_byte, similarity_of

if TYPE_CHECKING:  # annotations only: no model code is imported for them
    from ..model.loading import LoadedModel


class FidelityCodec(Codec):
    name = "fidelity"
    mode = 5
    lossy = True
    config_class = FidelityConfig

    def __init__(self, config: FidelityConfig | None = None) -> None:
        self.config = config or FidelityConfig()
        self.config.check()

    def _coder(self) -> ArithmeticCodec:
        return ArithmeticCodec(self.config.arithmetic())

    def encode(self, data: bytes, ctx: Context) -> Encoded:
        lm = ctx.get_model()
        # Of the approximations that keep the similarity (the original among them), the
        # one that codes smallest: a replacement changes the context of the tokens after
        # it, so more replacements are not always fewer bytes.
        options = []
        for approx, reached in self.approximations(data, lm, ctx):
            inner = self._coder().encode(approx, Context(model=lm))
            options.append((len(inner.params) + len(inner.payload), approx, reached, inner))
        ctx.report(len(data), len(data))
        _, approx, reached, inner = min(options, key=lambda o: o[0])
        ctx.stats.update(similarity=reached, approximation_size=len(approx))
        params = Writer().u8(similarity_byte(reached)).varint(len(approx))
        params.raw(checksum(approx)).raw(inner.params)
        return Encoded(params.getvalue(), inner.payload, model=lm)

    def approximations(self, data: bytes, lm: LoadedModel, ctx: Context) -> list[tuple[bytes, float]]:
        """Candidate approximations with their similarity to data (at least the fidelity):
        the original, then the text after each round of the edit search."""
        from ..semantic.similarity import local_similarities, similarity
        from .fidelity_search import ROUNDS, Search

        cfg = self.config
        coder = self._coder()
        tok = lm.tokenizer
        # The pieces the arithmetic mode will code: CRLF line ends as LF where reversible
        # (a replaced CR would cost the approximation that normalisation).
        pieces, flags = coder.segments_of(data, tok)
        profile = profiles.get(coder.config.settings().profile)
        found = [(data, 1.0)]
        if cfg.fidelity >= 1.0:
            return found
        # Progress: the search's rounds, then the coding of each candidate, as shares of
        # the input's bytes (the search ends early when a round finds no edit).
        steps = ROUNDS + 1
        ctx.report(0, len(data))
        with threads(cfg.threads):
            search = Search(lm.exact(profile.numerics, cfg.device), tok, profile.window, similarity, local_similarities)
            text_of = lambda ps: denormalize(b"".join(tok.decode(p) for p in ps), flags)  # noqa: E731
            for k, (_, text, reached) in enumerate(search.run(data, [tok.encode(p) for p in pieces], text_of, cfg.fidelity)):
                found.append((text, reached))
                ctx.report(len(data) * (k + 1) // steps, len(data))
        ctx.report(len(data) * ROUNDS // steps, len(data))
        return found

    def decode(self, header: Header, payload: bytes, ctx: Context) -> bytes:
        similarity, size, digest, rest = _unpack(header.params)
        if size > 64 * header.original_size + 64:
            raise FormatError("corrupt fidelity header: approximation size")
        # The arithmetic mode's decode, which checks the approximation's size and checksum.
        inner = Header(ArithmeticCodec.mode, 0, size, digest, header.model, header.fingerprint, rest, header.version)
        return self._coder().decode(inner, payload, ctx)

    def describe(self, header: Header, payload: bytes) -> dict:
        similarity, size, _, rest = _unpack(header.params)
        inner = Header(ArithmeticCodec.mode, 0, size, b"", header.model, header.fingerprint, rest, header.version)
        return {"similarity": round(similarity, 4), "approximation_size": size, **self._coder().describe(inner, payload)}


def _unpack(raw: bytes) -> tuple[float, int, bytes, bytes]:
    r = Reader(raw, "fidelity header")
    similarity = similarity_of(r.u8())
    size = r.varint()
    return similarity, size, r.raw(CHECKSUM_BYTES), r.rest()
