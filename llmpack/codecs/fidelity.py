"""`fidelity` (lossy): the text, with the tokens the model finds hardest replaced by its
own guesses wherever the meaning survives, range-coded as in the arithmetic mode.

Encode: one pass of the arithmetic mode's coder over the text gives each token's cost
and the coder's likeliest token at that position. Tokens are ranked by what replacing
them saves (their cost minus the guess's), and the longest prefix of that ranking is
replaced for which the whole text keeps a MiniLM similarity of at least `fidelity` to
the original (bisection over the count; each test is one similarity, no model pass).
Each approximation the bisection accepted, and the original, is coded exactly by the
arithmetic mode, and the smallest is kept. A replacement changes the context of what
follows it, so the estimate of its saving is often wrong: this version rarely beats the
exact coding (README, fidelity section), which a stepped, context-true choice would.

Params: similarity u8 (as semantic's) | the approximation's size varint | its 4-byte
checksum | the arithmetic mode's params. Payload: the arithmetic mode's. Decoding is the arithmetic
mode's, checked against the approximation's checksum.
"""

from __future__ import annotations

from ..config import CHECKSUM_BYTES, FidelityConfig
from ..container import Header, Reader, Writer, checksum
from ..errors import FormatError, LLMPackError
from .. import profiles
from .arithmetic import ArithmeticCodec, _denormalize, _prime, threads
from .base import Codec, Context, Encoded
from .semantic_params import similarity_byte, similarity_of


def _approximation(tokens: list[list[int]], ranked: list[tuple[int, int, int]], k: int, tok) -> bytes:
    """The text with the first k of `ranked` (piece, position, guess) replaced."""
    changed = [list(t) for t in tokens]
    for j, i, guess in ranked[:k]:
        changed[j][i] = guess
    return b"".join(tok.decode(t) for t in changed)


class FidelityCodec(Codec):
    name = "fidelity"
    mode = 5
    lossy = True
    config_class = FidelityConfig

    def __init__(self, config: FidelityConfig | None = None) -> None:
        self.config = config or FidelityConfig()
        if not -1.0 <= self.config.fidelity <= 1.0:
            raise LLMPackError("--fidelity must be between -1 and 1 (a MiniLM cosine similarity)")

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
        _, approx, reached, inner = min(options, key=lambda o: o[0])
        ctx.stats.update(similarity=reached, approximation_size=len(approx))
        params = Writer().u8(similarity_byte(reached)).varint(len(approx))
        params.raw(checksum(approx)).raw(inner.params)
        return Encoded(params.getvalue(), inner.payload, model=lm)

    def approximations(self, data: bytes, lm, ctx: Context) -> list[tuple[bytes, float]]:
        """Candidate approximations with their similarity to data (at least the fidelity):
        the original, and each one the bisection found."""
        from ..similarity import similarity

        cfg = self.config
        coder = self._coder()
        tok = lm.tokenizer
        # The tokens the arithmetic mode will code: CRLF line ends as LF where reversible
        # (a replaced CR would cost the approximation that normalisation).
        pieces, flags = coder.segments_of(data, tok)
        profile = profiles.get(coder.config.settings()[3])
        guesses: list = []
        with threads(cfg.threads):
            exact = lm.exact(profile.numerics, cfg.device)
            prefix, primed = _prime(exact, tok, profile, None)
            _, tokens, bits = ArithmeticCodec.code_pieces(exact, tok, profile, pieces, [prefix] * len(pieces), primed,
                                                          ctx, guesses=guesses)
        # Candidates: tokens whose guess is another token with bytes, by bits saved.
        ranked = sorted(
            ((bits[j][i] - guesses[j][1][i], j, i, guesses[j][0][i])
             for j in range(len(tokens)) for i in range(len(tokens[j]))
             if guesses[j][0][i] != tokens[j][i] and guesses[j][0][i] < tok.vocab_size
             and tok.table[guesses[j][0][i]] is not None and b"\r" not in tok.table[guesses[j][0][i]]
             and bits[j][i] > guesses[j][1][i]),
            key=lambda c: (-c[0], c[1], c[2]))
        ranked3 = [(j, i, g) for _, j, i, g in ranked]
        lo, hi, found = 0, len(ranked3), [(data, 1.0)]
        while lo < hi:  # the largest k found with similarity >= fidelity
            k = (lo + hi + 1) // 2
            approx = _denormalize(_approximation(tokens, ranked3, k, tok), flags)
            s = similarity(data, approx)
            if s >= cfg.fidelity:
                lo = k
                found.append((approx, s))
            else:
                hi = k - 1
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
