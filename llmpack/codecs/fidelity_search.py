"""The fidelity encoder's search: edits that make the text cheaper to code and keep its
meaning (MiniLM similarity to the original of at least F).

An edit replaces one sentence or line of the text by the model's own text (its greedy
continuation of what precedes it, up to the first sentence or line end) or by nothing.
An edit is worth what it saves on the span itself minus what it costs the text that
must now follow it: both are measured by the model on short rows (CONTEXT_TOKENS
before the span, LOOKAHEAD_TOKENS after it), the original row against each edited one.
(Replacing single tokens by the model's guesses in their original context, the first
design, made files larger: a guess that starts a different word leaves the rest of the
old word, or a sentence that no longer fits, to code; word-level edits measured this
way saved 15% at F = 0.95 for ten times the time of these.)

The search runs in rounds. Each round measures every candidate in the current text,
ranks the edits by bits saved per meaning lost (the MiniLM similarity of the words
around the edit, before and after it), keeps edits at least LOOKAHEAD_TOKENS apart
(each was measured with the others absent), and applies the longest prefix of that
ranking for which the whole text keeps similarity F (bisection). The next round starts
from the edited text, so edits next to earlier ones are measured in their real
context. Only the encoder searches: the decoder reads the arithmetic-coded result, and
the search's floats (MiniLM) never reach the coder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass, replace

import numpy as np

if TYPE_CHECKING:  # annotations only: no model code is imported for them
    from ..model.tokens import ByteTokenizer
    from ..model.exact.model import ExactLM

CONTEXT_TOKENS = 32  # tokens before a span that its measurement and continuation see (short rows keep a round fast)
LOOKAHEAD_TOKENS = 12  # tokens after a span whose cost an edit changes: an edit that fits badly shows here
MIN_SPAN_BITS = 16.0  # sentences and lines that cost at least this many bits may go whole
MIN_GAIN_BITS = 0.5  # an edit must save at least this much to be applied
MEANING_TOKENS = 80  # tokens on each side of an edit embedded with it to estimate the meaning it loses
MEANING_FLOOR = 1e-3  # the loss assumed for an edit MiniLM does not see
GENERATE_ROWS = 32  # spans whose continuations are generated together
ROUNDS = 6  # rounds of edits at most; each measures the text afresh


@dataclass(frozen=True)
class Edit:
    piece: int  # which piece of the text (the arithmetic mode's segments)
    start: int  # the span's first token
    end: int  # one past its last token
    tokens: tuple[int, ...]  # what replaces it (empty: it goes)
    gain: float = 0.0  # bits saved, measured on the edit's row
    loss: float = 0.0  # meaning lost around it (1 - local similarity)


def _ends_sentence(raw: bytes) -> bool:
    """A token that ends a sentence: . ! or ?, perhaps before closing quotes or brackets."""
    return raw.rstrip(b"'\"`)").endswith((b".", b"!", b"?"))


class Search:
    """One text's edit search. `pieces` are token lists; `text_of(pieces)` gives the
    full text they stand for (newlines restored); `similarity(a, b)` is MiniLM's."""

    def __init__(self, exact: ExactLM, tok: ByteTokenizer, window, similarity, texts_similarity) -> None:
        self.exact, self.tok, self.window = exact, tok, window
        self.similarity = similarity  # (original bytes, text bytes) -> float
        self.texts_similarity = texts_similarity  # [(a, b), ...] -> [float]: local meaning

    # -- the model's view ---------------------------------------------------------------
    def _row_costs(self, rows: list[list[int]], skips: list[int]) -> list[list[float]]:
        """Each row's token costs in bits from position skips[r] on (the row's first
        tokens are its context), in full-sequence passes."""
        from ..model import engine

        tok = self.tok
        inputs = [[tok.start_id] + [tok.model_input(t) for t in r[:-1]] for r in rows]
        out: list[list[float]] = [[] for _ in rows]
        for j, start, w in engine.sequence_weights(self.exact, inputs, tok.symbol_count, self.window, skips):
            out[j] += engine.bits(w, rows[j][skips[j] + start : skips[j] + start + len(w)])
        return out

    # -- candidates ---------------------------------------------------------------------
    def _spans(self, piece: list[int]):
        """(start, end) of each sentence (up to . ! or ? before a space) and each line."""
        table = self.tok.table
        starts = {0}
        for k in range(1, len(piece)):
            prev, cur = table[piece[k - 1]] or b"", table[piece[k]] or b""
            if prev.endswith(b"\n") or (_ends_sentence(prev) and cur[:1].isspace()
                                         and cur[:1] != b"\n"):  # a line end stays with its line
                starts.add(k)
        starts = sorted(starts) + [len(piece)]
        return list(zip(starts, starts[1:]))

    def _continuations(self, pieces: list[list[int]], spans: list[tuple[int, int, int]]) -> list[list[int]]:
        """The model's own text in place of each span: its greedy continuation of the
        span's context, as many tokens as the span at most, cut after its first line or
        sentence end."""
        from ..semantic.generate import generate

        tok = self.tok
        table = tok.table
        allowed = np.array([t is not None and b"\r" not in t for t in table[: tok.vocab_size]], dtype=bool)
        out: list[list[int]] = []
        for a in range(0, len(spans), GENERATE_ROWS):
            batch = spans[a : a + GENERATE_ROWS]
            prompts = [[tok.start_id] + [tok.model_input(t) for t in pieces[j][max(0, i - CONTEXT_TOKENS) : i]]
                       for j, i, _ in batch]
            for ids in generate(self.exact, prompts, [e - i for _, i, e in batch], [0] * len(batch), allowed, tok.start_id):
                ends = [k for k, t in enumerate(ids) if table[t].endswith(b"\n") or _ends_sentence(table[t])]
                out.append(ids[: ends[0] + 1] if ends else ids)
        return out

    def _candidates(self, pieces: list[list[int]]) -> list[Edit]:
        """Every measured edit of a costly sentence or line that saves bits, with its gain."""
        costs = self._row_costs(pieces, [0] * len(pieces))
        rows, skips, what, spans = [], [], [], []
        for j, piece in enumerate(pieces):
            for i, e in self._spans(piece):
                if e - i > 1 and sum(costs[j][i:e]) >= MIN_SPAN_BITS:
                    spans.append((j, i, e))
        for (j, i, e), guess in zip(spans, self._continuations(pieces, spans)):
            piece = pieces[j]
            context = piece[max(0, i - CONTEXT_TOKENS) : i]
            after = piece[e : e + LOOKAHEAD_TOKENS]
            rows.append(context + piece[i:e] + after)
            skips.append(len(context))
            what.append((j, i, e, None))
            for alt in ((), tuple(guess)):
                if (context or after) and (context or alt):
                    rows.append(context + list(alt) + after)
                    skips.append(len(context))
                    what.append((j, i, e, alt))
        if not rows:
            return []
        edits, base = [], 0.0
        for (j, i, e, alt), c in zip(what, self._row_costs(rows, skips)):
            if alt is None:
                base = sum(c)
            elif base - sum(c) >= MIN_GAIN_BITS:
                edits.append(Edit(j, i, e, alt, gain=base - sum(c)))
        return edits

    def _with_losses(self, pieces: list[list[int]], edits: list[Edit]) -> list[Edit]:
        tok = self.tok
        pairs = []
        for d in edits:
            p = pieces[d.piece]
            before = tok.decode(p[max(0, d.start - MEANING_TOKENS) : d.start])
            after = tok.decode(p[d.end : d.end + MEANING_TOKENS])
            old = before + tok.decode(p[d.start : d.end]) + after
            new = before + tok.decode(list(d.tokens)) + after
            pairs.append((old, new))
        sims = self.texts_similarity(pairs)
        return [replace(d, loss=max(0.0, 1.0 - s)) for d, s in zip(edits, sims)]

    # -- rounds -------------------------------------------------------------------------
    @staticmethod
    def apply(pieces: list[list[int]], edits: list[Edit]) -> list[list[int]]:
        out = [list(p) for p in pieces]
        for d in sorted(edits, key=lambda d: (d.piece, -d.start)):  # later first: positions stay valid
            out[d.piece][d.start : d.end] = list(d.tokens)
        return out

    @staticmethod
    def _spaced(ranked: list[Edit]) -> list[Edit]:
        kept: list[Edit] = []
        for d in ranked:
            if all(k.piece != d.piece or d.end + LOOKAHEAD_TOKENS <= k.start or k.end + LOOKAHEAD_TOKENS <= d.start
                   for k in kept):
                kept.append(d)
        return kept

    def run(self, original: bytes, pieces: list[list[int]], text_of, fidelity: float):
        """Yield (pieces, text, similarity) after each round that applied edits."""
        for _ in range(ROUNDS):
            edits = self._with_losses(pieces, self._candidates(pieces))
            ranked = self._spaced(sorted(edits, key=lambda d: (-d.gain / max(d.loss, MEANING_FLOOR), d.piece, d.start)))
            lo, hi, found = 0, len(ranked), None
            while lo < hi:  # the longest prefix that keeps the similarity
                k = (lo + hi + 1) // 2
                text = text_of(self.apply(pieces, ranked[:k]))
                s = self.similarity(original, text)
                if s >= fidelity:
                    lo, found = k, (text, s)
                else:
                    hi = k - 1
            if not lo:
                return
            pieces = self.apply(pieces, ranked[:lo])
            yield pieces, found[0], found[1]
