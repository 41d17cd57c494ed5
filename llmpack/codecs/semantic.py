"""`semantic` (lossless) and `summary` (lossy): prompts that regenerate the text, and
(semantic) a residual that makes it exact.

A file has two layers:

* the **base layer** (the params; all a summary file holds): the input cut into sections
  at paragraph ends; per section the reconstruction prompt the instruction model writes
  (the recipe's `condense` template), the seeds that regenerate it, its length in tokens
  and a CRC of the regeneration; and the similarity of the whole regeneration to the
  original. One seed: the greedy prompt regenerated greedily (recipe 1). N seeds (recipe
  2): the search of `_search`, a seed per 32-token chunk, each the best of N by MiniLM
  similarity to the original section (recipe 1 with N seeds: N whole-section candidates,
  prompts sampled with seed k regenerated with seed k). The prompts are range-coded
  under the model as one text, a prompt per line, after the condense template's
  instruction: a 48-token prompt costs about 20 bytes (zstd: 140).
* the **residual layer** (semantic's payload), whichever of these is smallest:
  - `model`: each section range-coded under the model, after its prompt (in the
    regeneration template, or as a plain-text heading: the model reads what the text is
    about) or after nothing, whichever codes that section smaller (zstd or the bytes
    where they win). Decoding needs no regeneration.
  - `diff`: a diff-match-patch edit script from the regeneration to the original, packed
    with zstd; `lm`: the same script with its inserted text range-coded under the model.

Decoding a summary regenerates every section with its seed and checks each against its
CRC (another library version may render the template differently: that is an error, up
to the CRC's strength: 16 bits per section in format 5). `strip()` drops a semantic file's residual layer: what
remains is, byte for byte, the summary file of the same text at the same settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..coding import container, profiles
from ..semantic import residual as rsd
from ..semantic import sections as sec
from ..semantic import templates
from ..config import MAX_SECTION_TOKENS, ArithmeticConfig, SemanticConfig, SummaryConfig
from ..coding.container import Header, Reader, Writer
from ..errors import FormatError, IntegrityError, LLMPackError
from ..coding.modelcoder import MODEL, RAW, ZSTD, ModelCoder, Segment, prime, threads
from .arithmetic import ArithmeticCodec, ParamsV3, refuse_float_numerics
from .base import Codec, Context, Encoded
from .semantic_params import (
    P_MODEL, RECIPES, Params, Section, clean_prompt, pack_small_v4, unpack_small_v4,
)
from ..coding.zstdframe import zstd_compress, zstd_decompress

if TYPE_CHECKING:  # annotations only: no model code is imported for them
    from ..model.tokens import ByteTokenizer
    from ..model.exact.model import ExactLM
    from ..model.loading import LoadedModel

# The residual layer: one byte per section saying how it is stored, or K_EDITS and an
# edit script (format 4 files have only the edit script, without that byte).
C_PLAIN, C_TEMPLATE, C_HEADING, C_ZSTD, C_RAW = 0, 1, 2, 3, 4
CONTEXT_NAMES = {C_PLAIN: "model", C_TEMPLATE: "model after template+prompt", C_HEADING: "model after prompt heading",
                 C_ZSTD: "zstd", C_RAW: "raw"}
MODEL_CONTEXTS = (C_PLAIN, C_TEMPLATE, C_HEADING)  # the range-coded ones
K_EDITS = 0xFF
# K_EDITS: how the edit script's inserted bytes are stored (format 4's methods).
R_RAW, R_ZSTD, R_LM = 0, 1, 2
# --residual: which codings the encoder tries (the smallest wins). "zstd" is diff's old name.
RESIDUAL_CHOICES = {
    "auto": ("model", R_RAW, R_ZSTD, R_LM),
    "model": ("model",),
    "diff": (R_RAW, R_ZSTD),
    "zstd": (R_RAW, R_ZSTD),
    "lm": (R_LM,),
}
WORDS_PER_TOKEN = 0.75  # tells the regeneration prompt roughly how long the section is


def _batches(n: int, rows: int) -> list[range]:
    return [range(i, min(n, i + rows)) for i in range(0, n, rows)]


def _pad_id(hf, tok: ByteTokenizer) -> int:
    return hf.pad_token_id if hf.pad_token_id is not None else tok.start_id


def _vocab(lm: LoadedModel):
    """Tokens generation may emit (those with bytes), and the control tokens that end a prompt."""
    import numpy as np

    tok = lm.tokenizer
    allowed = np.array([t is not None for t in tok.table[: tok.vocab_size]], dtype=bool)
    stops = frozenset(i for i in range(tok.vocab_size) if tok.table[i] is None)
    return allowed, stops


def _regeneration_input(lm: LoadedModel, template, s: Section) -> list[int]:
    """The regeneration template with a section's prompt: what regeneration continues, and
    what the residual may code the section after."""
    return template.render(lm.hf_tokenizer, prompt=s.prompt.decode("utf-8", "replace"),
                           words=round(s.n_tokens * WORDS_PER_TOKEN))


def _residual_prefix(lm: LoadedModel, recipe, regenerate, s: Section, context: int) -> list[int]:
    """What the residual codes a section after, in each model context."""
    tok = lm.tokenizer
    if context == C_TEMPLATE:
        return [tok.start_id] + _regeneration_input(lm, regenerate, s)
    if context == C_HEADING:
        return [tok.start_id] + [tok.model_input(t) for t in tok.encode(recipe.heading.replace(b"{prompt}", s.prompt))]
    return [tok.start_id]


def _prompt_prefix(lm: LoadedModel, condense) -> list[int]:
    """What the joined prompts are range-coded after: the condense instruction, without a text."""
    return [lm.tokenizer.start_id] + condense.render(lm.hf_tokenizer, text="", words=0)


def _phase(ctx: Context, base: int, total: int) -> Context:
    """A Context for one pass over the input, reporting into the whole job's progress."""
    return Context(model=ctx.model, progress=lambda done, _: ctx.report(base + done, total))


class SemanticCodec(Codec):
    name = "semantic"
    mode = 2
    lossy = False
    config_class = SemanticConfig

    def __init__(self, config: SemanticConfig | None = None) -> None:
        self.config = config or self.config_class()
        cfg = self.config
        cfg.check()
        if cfg.recipe_number() not in RECIPES:
            raise LLMPackError(f"unknown recipe {cfg.recipe_number()} (known: {', '.join(map(str, RECIPES))})")

    def _model_coder(self) -> ModelCoder:
        return ModelCoder(self.config.threads, self.config.device)

    def _coder(self, **overrides) -> ArithmeticCodec:
        return ArithmeticCodec(ArithmeticConfig(threads=self.config.threads, device=self.config.device, **overrides))

    # -- encode ----------------------------------------------------------------
    def encode(self, data: bytes, ctx: Context) -> Encoded:
        cfg = self.config
        lm = ctx.get_model()
        tok = lm.tokenizer
        number = cfg.recipe_number()
        recipe = RECIPES[number]
        condense, regenerate = templates.load(*recipe.condense), templates.load(*recipe.regenerate)
        pieces = sec.split(data, lambda b: len(tok.encode(b)), cfg.max_section_tokens)
        params = Params(recipe, 1.0, recipe_number=number, candidates=cfg.seeds if recipe.chunk_tokens else 1)
        # Progress in bytes of work: prompts and a regeneration per candidate (chunked
        # recipes: once), then the residual (a pass per model context).
        rounds = 1 if recipe.chunk_tokens else cfg.seeds
        base = len(data) * 2 * rounds
        total = base + len(data) * (0 if self.lossy else len(MODEL_CONTEXTS))
        with threads(cfg.threads):
            exact = lm.exact(params.numerics, cfg.device)
            counts = [len(tok.encode(p)) for p in pieces]
            if max(counts, default=0) > MAX_SECTION_TOKENS:  # a paragraph the cut at spaces could not split
                raise LLMPackError(f"a section of {max(counts)} tokens: more than a file may hold ({MAX_SECTION_TOKENS})")
            if recipe.chunk_tokens:
                prompts = self._condense(exact, lm, condense, pieces, counts, _phase(ctx, 0, total))
                params.sections = [Section(n, 0, 0, q) for n, q in zip(counts, prompts)]
                chosen = self._search(exact, lm, params, regenerate, pieces, _phase(ctx, len(data), total))
            else:
                trials = []  # per candidate k: its prompts (greedy for k = 0, else sampled with seed k) and regeneration
                for k in range(cfg.seeds):
                    prompts = self._condense(exact, lm, condense, pieces, counts, _phase(ctx, 2 * k * len(data), total), seed=k)
                    candidate = Params(recipe, 1.0, [Section(n, 0, 0, q) for n, q in zip(counts, prompts)])
                    trials.append((prompts, self._regenerate(exact, lm, candidate, regenerate, [k] * len(pieces),
                                                             _phase(ctx, (2 * k + 1) * len(data), total))))
                params.sections = [Section(n, 0, 0, b"") for n in counts]
                chosen = self._choose_seeds(params, pieces, trials)
            from ..semantic.similarity import similarity

            params.similarity = similarity(data, b"".join(chosen)) if data else 1.0
            self._code_prompts(params, exact, lm, condense)
            payload = b"" if self.lossy else self._residual(
                params, exact, lm, regenerate, pieces, chosen, ctx, _phase(ctx, base, total))
        ctx.stats.update(
            sections=len(params.sections),
            prompt_bytes=len(params.prompt_coded),
            seeds_used=[params.schedule(s) for s in params.sections],
            similarity=params.similarity,
        )
        return Encoded(params.pack(), payload, model=lm)

    def _condense(self, exact: ExactLM, lm: LoadedModel, template, pieces: list[bytes], counts: list[int], ctx: Context,
                  seed: int = 0) -> list[bytes]:
        """The instruction model writes one reconstruction prompt per section (seed 0:
        greedy; else sampled as the configured recipe's regeneration); counts: each
        section's tokens (its prompt budget follows from them)."""
        from ..semantic.generate import Sampling, generate  # torch: imported only when a model runs

        tok, hf = lm.tokenizer, lm.hf_tokenizer
        allowed, stops = _vocab(lm)
        allowed[list(stops)] = True
        recipe = RECIPES[self.config.recipe_number()]
        sampling = Sampling(recipe.temperature, recipe.top_k)
        sizes = [len(p) for p in pieces]
        out: list[bytes] = []
        for batch in _batches(len(pieces), self.config.max_rows):
            inputs = [template.render(hf, text=pieces[i].decode("utf-8", "replace"), words=len(pieces[i].split())) for i in batch]
            done = sum(sizes[: batch.start])
            budgets = [self.config.prompt_budget(counts[i]) for i in batch]
            ids = generate(exact, inputs, budgets, [seed] * len(batch), allowed, _pad_id(hf, tok),
                           sampling if seed else Sampling(), stop_ids=stops,
                           on_step=lambda t, n, b=batch, d=done: ctx.report(d + sum(sizes[i] for i in b) * t // n, 0))
            out += [clean_prompt(tok.decode(x)) for x in ids]
        return out

    def _code_prompts(self, params: Params, exact: ExactLM, lm: LoadedModel, condense) -> None:
        """Store the prompts as text or zstd, or range-coded under the model where smaller."""
        text = params.store_prompts_plain()
        if not text:
            return
        tok = lm.tokenizer
        profile = profiles.get(params.profile)
        coded, tokens, _ = ModelCoder.code_pieces(
            exact, tok, profile, [text], [_prompt_prefix(lm, condense)], prime(exact, tok, profile, None)[1], trim=True)
        if len(coded[0].payload) < len(params.prompt_coded):
            params.prompt_method, params.prompt_coded, params.prompt_tokens_coded = P_MODEL, coded[0].payload, len(tokens[0])

    def _prompts(self, params: Params, lm: LoadedModel) -> None:
        """Fill in model-coded prompts (a format 5 file's base layer)."""
        if params.prompt_method != P_MODEL or not params.sections:
            return
        condense = templates.load(*params.recipe.condense)
        segment = Segment(MODEL, 0, params.prompt_tokens_coded, params.prompt_coded, trimmed=True)
        text = self._model_coder().uncode(profiles.get(params.profile), [segment], 0, lambda: lm, Context(),
                                     prefixes=[_prompt_prefix(lm, condense)])[0]
        params.set_prompts(text)

    def _regenerate(self, exact: ExactLM, lm: LoadedModel, params: Params, template, seeds: list, ctx: Context) -> list[bytes]:
        """Regenerate every section with its seed or schedule (Params.schedule; batches
        change no row's numbers)."""
        from ..semantic.generate import Sampling, generate

        tok, hf = lm.tokenizer, lm.hf_tokenizer
        allowed, _ = _vocab(lm)
        sampling = Sampling(params.recipe.temperature, params.recipe.top_k)
        sizes = [s.n_tokens for s in params.sections]
        out: list[bytes] = []
        for batch in _batches(len(params.sections), self.config.max_rows):
            secs = [params.sections[i] for i in batch]
            done = sum(sizes[: batch.start])
            ids = generate(exact, [_regeneration_input(lm, template, s) for s in secs], [s.n_tokens for s in secs],
                           [seeds[i] for i in batch], allowed, _pad_id(hf, tok), sampling,
                           on_step=lambda t, n, b=batch, d=done: ctx.report(d + sum(sizes[i] for i in b) * t // n, 0),
                           chunk=params.recipe.chunk_tokens)
            out += [tok.decode(x) for x in ids]
        return out

    def _search(self, exact: ExactLM, lm: LoadedModel, params: Params, template, pieces: list[bytes],
                ctx: Context) -> list[bytes]:
        """A chunked recipe's regeneration: each section is regenerated by N rows, row k
        sampling with seed k (0: greedy); after every chunk all N continue from the row
        whose text so far is most similar to the original section (ties: the lower k),
        and k is that chunk's seed. A greedy row runs beside them and is kept where the
        whole section comes out more similar so. Sets each section's seeds and CRC;
        returns the regenerations."""
        from ..semantic.generate import Sampling, generate
        from ..semantic.similarity import similarities

        tok, hf = lm.tokenizer, lm.hf_tokenizer
        allowed, _ = _vocab(lm)
        n, chunk = params.candidates, params.recipe.chunk_tokens
        width = n + 1  # rows per section: the N searching, then the greedy one
        sampling = Sampling(params.recipe.temperature, params.recipe.top_k)
        sizes = [s.n_tokens for s in params.sections]
        out: list[bytes] = []
        for batch in _batches(len(params.sections), max(1, self.config.max_rows // width)):
            secs = [params.sections[i] for i in batch]
            digits: list[list[int]] = [[] for _ in batch]

            def on_chunk(ids, secs=secs, digits=digits, batch=batch) -> list[int]:
                src = list(range(len(ids)))
                for g, s in enumerate(secs):
                    first = g * width
                    made = len(ids[first])
                    if len(digits[g]) * chunk >= made or (made % chunk and made < s.n_tokens):
                        continue  # this chunk was chosen already, or is not complete
                    scores = similarities(pieces[batch[g]], [tok.decode(ids[first + k]) for k in range(n)])
                    best = max(range(n), key=lambda k: (scores[k], -k))
                    digits[g].append(best)
                    src[first : first + n] = [first + best] * n
                return src

            done = sum(sizes[: batch.start])
            inputs = [_regeneration_input(lm, template, s) for s in secs for _ in range(width)]
            ids = generate(exact, inputs, [s.n_tokens for s in secs for _ in range(width)],
                           [k for _ in secs for k in [*range(n), 0]], allowed, _pad_id(hf, tok), sampling,
                           on_step=lambda t, m, b=batch, d=done: ctx.report(d + sum(sizes[i] for i in b) * t // m, 0),
                           chunk=chunk, on_chunk=on_chunk)
            for g, s in enumerate(secs):
                found, greedy = tok.decode(ids[g * width]), tok.decode(ids[g * width + n])
                score, plain = similarities(pieces[batch[g]], [found, greedy])
                if plain >= score:
                    found, digits[g] = greedy, [0] * params.chunks(s)
                params.set_schedule(s, digits[g])
                s.crc = params.crc_of(found)
                out.append(found)
        return out

    def _choose_seeds(self, params: Params, pieces: list[bytes], trials: list[tuple[list[bytes], list[bytes]]]) -> list[bytes]:
        """Recipe 1: each section keeps its candidate (prompt and seed k) whose
        regeneration is most similar (ties: the lower k); the base layer records the
        prompts, seeds and CRCs. Returns the regenerations kept."""
        from ..semantic.similarity import similarity

        chosen = []
        for i, s in enumerate(params.sections):
            scores = [similarity(pieces[i], regen[i]) for _, regen in trials] if len(trials) > 1 else [1.0]
            s.seed = max(range(len(scores)), key=lambda k: (scores[k], -k))
            s.prompt = trials[s.seed][0][i]
            s.crc = params.crc_of(trials[s.seed][1][i])
            chosen.append(trials[s.seed][1][i])
        return chosen

    def _residual(self, params: Params, exact: ExactLM, lm: LoadedModel, regenerate, pieces: list[bytes], regens: list[bytes],
                  ctx: Context, phase: Context) -> bytes:
        """The smallest residual layer the --residual choice allows."""
        tried = RESIDUAL_CHOICES[self.config.residual]
        options: list[tuple[str, bytes]] = []
        if "model" in tried:
            options.append(("model", self._model_residual(params, exact, lm, regenerate, pieces, phase)))
        methods = [m for m in tried if m != "model"]
        if methods:
            diffs = [rsd.diff(text, piece) for text, piece in zip(regens, pieces)]
            options += self._edit_residuals(diffs, lm, methods, params)
        name, payload = min(options, key=lambda o: len(o[1]))
        ctx.stats.update(residual_method=name, residual_bytes=len(payload))
        return payload

    def _model_residual(self, params: Params, exact: ExactLM, lm: LoadedModel, regenerate, pieces: list[bytes],
                        ctx: Context) -> bytes:
        """Per section its coding u8 | per zstd/raw section its size | per section but the
        last its stream's length | the streams. Each section is range-coded in every model
        context, and keeps the smallest."""
        tok = lm.tokenizer
        profile = profiles.get(params.profile)
        n = len(pieces)
        prefixes = [_residual_prefix(lm, params.recipe, regenerate, s, c) for c in MODEL_CONTEXTS for s in params.sections]
        coded, _, _ = ModelCoder.code_pieces(exact, tok, profile, pieces * len(MODEL_CONTEXTS), prefixes,
                                               prime(exact, tok, profile, None)[1], ctx.report, trim=True)
        choices, bodies = [], []
        for i, piece in enumerate(pieces):
            options = [(c, coded[k * n + i].payload) for k, c in enumerate(MODEL_CONTEXTS)]
            if self.config.fallback:
                options += [(C_ZSTD, zstd_compress(piece)), (C_RAW, piece)]
            choice, body = min(options, key=lambda o: len(o[1]))  # stable: ties keep the plainer coding
            choices.append(choice)
            bodies.append(body)
        w = Writer()
        for c in choices:
            w.u8(c)
        for c, piece in zip(choices, pieces):
            if c in (C_ZSTD, C_RAW):
                w.varint(len(piece))
        for body in bodies[:-1]:
            w.varint(len(body))
        return w.getvalue() + b"".join(bodies)

    def _edit_residuals(self, diffs: list[rsd.Residual], lm: LoadedModel, methods, params: Params) -> list[tuple[str, bytes]]:
        """K_EDITS | block of each section's ops and insert length | u8 method | all inserted
        bytes, coded (format 4's payload after the kind byte)."""
        table = Writer()
        for d in diffs:
            table.blob(d.pack_ops()).varint(len(d.inserts))
        head = Writer().u8(K_EDITS)
        pack_small_v4(head, table.getvalue())
        inserts = b"".join(d.inserts for d in diffs)
        out = []
        if R_RAW in methods:
            out.append(("diff", head.getvalue() + bytes([R_RAW]) + inserts))
        if R_ZSTD in methods:
            size = Writer().varint(len(inserts)).getvalue()
            out.append(("diff", head.getvalue() + bytes([R_ZSTD]) + size + zstd_compress(inserts)))
        if R_LM in methods:
            coder = self._coder(**self.config.lm_residual())
            out.append(("lm", head.getvalue() + bytes([R_LM]) + coder.encode_stream(inserts, lm, Context(model=lm))))
        return out

    # -- decode ----------------------------------------------------------------
    def decode(self, header: Header, payload: bytes, ctx: Context) -> bytes:
        refuse_float_numerics(header)
        params = Params.unpack(header.params, header.version, header.original_size)
        if self.lossy and payload:
            raise FormatError("corrupt summary file: unexpected payload")
        lm = ctx.get_model(header.model, header.fingerprint)
        with threads(self.config.threads):
            self._prompts(params, lm)
            r = Reader(payload, "semantic payload")
            if not self.lossy and header.version >= 5:
                if payload[:1] != bytes([K_EDITS]):
                    return self._decode_model(r, params, lm, header.original_size, ctx)
                r.u8()
            diffs = [] if self.lossy else self._unpack_edits(r, params, lm, header.original_size)
            regens = self._regenerate_checked(params, lm, ctx)
        if self.lossy:
            return b"".join(regens)
        return b"".join(rsd.apply(text, d) for text, d in zip(regens, diffs))

    def _regenerate_checked(self, params: Params, lm: LoadedModel, ctx: Context) -> list[bytes]:
        template = templates.load(*params.recipe.regenerate)
        exact = lm.exact(params.numerics, self.config.device)
        total = sum(s.n_tokens for s in params.sections)
        regens = self._regenerate(
            exact,
            lm,
            params,
            template,
            [params.schedule(s) for s in params.sections],
            Context(progress=lambda done, _: ctx.report(done, total)),
        )
        for i, (s, text) in enumerate(zip(params.sections, regens)):
            if params.crc_of(text) != s.crc:
                raise IntegrityError(f"section {i}: regeneration differs from the one at encode time: the file is corrupt")
        return regens

    def _decode_model(self, r: Reader, params: Params, lm: LoadedModel, limit: int, ctx: Context) -> bytes:
        n = len(params.sections)
        choices = [r.u8() for _ in range(n)]
        if any(c not in CONTEXT_NAMES for c in choices):
            raise FormatError("corrupt semantic payload: unknown section coding")
        sizes = {i: r.varint() for i, c in enumerate(choices) if c in (C_ZSTD, C_RAW)}
        lengths = [r.varint() for _ in range(n - 1)]
        rest = r.rest()
        if n:
            lengths.append(len(rest) - sum(lengths))
        if any(k < 0 for k in lengths) or sum(sizes.values()) > limit:
            raise FormatError("corrupt semantic payload: section sizes")
        regenerate = templates.load(*params.recipe.regenerate)
        segments, prefixes, pos = [], [], 0
        for i, (c, s, k) in enumerate(zip(choices, params.sections, lengths)):
            body = rest[pos : pos + k]
            pos += k
            if c in MODEL_CONTEXTS:
                segments.append(Segment(MODEL, 0, s.n_tokens, body, trimmed=True))
            else:
                segments.append(Segment(ZSTD if c == C_ZSTD else RAW, sizes[i], 0, body))
            prefixes.append(_residual_prefix(lm, params.recipe, regenerate, s, c))
        pieces = self._model_coder().uncode(profiles.get(params.profile), segments, limit, lambda: lm, ctx, prefixes=prefixes)
        return b"".join(pieces)

    def _unpack_edits(self, r: Reader, params: Params, lm: LoadedModel, limit: int) -> list[rsd.Residual]:
        tr = Reader(unpack_small_v4(r, 16 * limit + 1024), "semantic residual table")
        ops, lengths = [], []
        for _ in params.sections:
            ops.append(rsd.Residual.unpack_ops(tr.blob()))
            lengths.append(tr.varint())
        if not tr.at_end() or sum(lengths) > limit:
            raise FormatError("corrupt semantic payload: residual table")
        method = r.u8()
        if method == R_RAW:
            inserts = r.rest()
        elif method == R_ZSTD:
            size = r.varint()
            if size > limit:
                raise FormatError("corrupt semantic payload: residual size")
            inserts = zstd_decompress(r.rest(), size)
        elif method == R_LM:
            stream = ParamsV3(0, params.numerics, 1, lm.tokenizer.start_id, profiles.PRECISION_BITS, [])
            inserts = self._coder(**self.config.lm_residual()).decode_stream(r, limit, lm, stream, Context(model=lm))
        else:
            raise FormatError(f"unknown residual method {method}")
        if not r.at_end() or len(inserts) != sum(lengths):
            raise FormatError("corrupt semantic payload: residual length")
        out, pos = [], 0
        for o, n in zip(ops, lengths):
            out.append(rsd.Residual(o, inserts[pos : pos + n]))
            pos += n
        return out

    # -- info ------------------------------------------------------------------
    def describe(self, header: Header, payload: bytes, lm=None) -> dict:
        """The base layer; the prompts too where they are stored as text, or where `lm`
        (the file's model) is given to decode them."""
        p = Params.unpack(header.params, header.version, header.original_size)
        if lm is not None:
            self._prompts(p, lm)
        known = p.prompt_method != P_MODEL or lm is not None or not p.sections
        storage = {P_MODEL: "model", 1: "zstd", 2: "raw"}.get(p.prompt_method, "?")
        info = {
            "sections": len(p.sections),
            "section_tokens": [s.n_tokens for s in p.sections],
            "seeds": [p.schedule(s) for s in p.sections],
            "prompts": [s.prompt.decode("utf-8", "replace") for s in p.sections] if known else None,
            "prompt_storage": f"{storage}, {len(p.prompt_coded)} bytes"
            + ("" if known else " (llmpack info --prompts decodes them)"),
            "similarity": round(p.similarity, 4),
            "templates": {"condense": "%s (%08x)" % p.recipe.condense, "regenerate": "%s (%08x)" % p.recipe.regenerate},
            "sampling": {"temperature": p.recipe.temperature, "top_k": p.recipe.top_k},
            "numerics": p.numerics.tag(),
        }
        if header.version >= 5:
            info["recipe"] = p.recipe_number
            if p.recipe.chunk_tokens:
                info["candidates"] = p.candidates
                info["chunk_tokens"] = p.recipe.chunk_tokens
            info["profile"] = p.profile
        if not self.lossy:
            info["residual"] = _describe_residual(payload, header.version, len(p.sections))
            info["residual_bytes"] = len(payload)
        return info


def _describe_residual(payload: bytes, version: int, count: int) -> str:
    if version >= 5 and payload[:1] != bytes([K_EDITS]):
        kinds = [CONTEXT_NAMES.get(c, "?") for c in payload[:count]]
        return "per section: " + ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
    return "edit script"


class SummaryCodec(SemanticCodec):
    """Lossy: the base layer only (prompts, seeds, section lengths)."""

    name = "summary"
    mode = 3
    lossy = True
    config_class = SummaryConfig


def strip(blob: bytes) -> bytes:
    """A semantic file without its residual layer: the summary file of the same text at
    the same settings. Runs no model."""
    header, _ = container.unpack(bytes(blob))
    if header.mode != SemanticCodec.mode:
        from . import BY_MODE

        kind = BY_MODE[header.mode].name if header.mode in BY_MODE else f"mode {header.mode}"
        raise LLMPackError(f"only semantic files have a residual layer to strip; this is a {kind} file")
    if header.version < 5:
        raise LLMPackError(f"a format {header.version} semantic file has no summary layer to keep; re-encode it")
    summary = Header(
        SummaryCodec.mode, container.FLAG_LOSSY, header.original_size, b"", header.model, header.fingerprint, header.params
    )
    return container.pack(summary, b"")
