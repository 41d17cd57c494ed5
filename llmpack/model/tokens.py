"""Byte-exact tokenization.

The coder needs a bijection between byte strings and token sequences. A Hugging Face
tokenizer is not one: it may normalise text, parse special-token text, or fail on
invalid UTF-8. So we (1) build a table id -> exact bytes, (2) tokenize each valid
UTF-8 run with special-token parsing off, (3) check that the table reproduces the run,
and (4) fall back to single-byte tokens for anything that does not (invalid UTF-8,
normalised text). Decoding is then a table lookup and never calls the tokenizer.

Some vocabularies lack a few single-byte tokens (SmolLM2 has no token for 21 bytes,
e.g. 0x04 or 0xFF, and its tokenizer silently drops them). Such bytes get *virtual*
symbols numbered after the vocabulary: the model gives them probability 0, the range
coder's floor probability makes them codable anyway (about 24 bits each), and the
model is shown `start_id` in their place.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache

from ..config import MAX_TOKEN_BYTES
from ..errors import ModelError

# Valid UTF-8 decodes normally; each invalid byte becomes one lone surrogate U+DC80..U+DCFF.
_INVALID_RUN = re.compile("[\udc80-\udcff]+")
_SPM_BYTE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


class TokenizationError(Exception):
    """A token id that maps to no bytes was met while decoding."""


@lru_cache(maxsize=1)
def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's reversible byte <-> printable-unicode map, as char -> byte."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def _token_bytes_table(hf_tokenizer) -> list[bytes | None]:
    """Exact bytes of every token id, or None for ids text can never produce (specials)."""
    backend = hf_tokenizer.backend_tokenizer
    spec = json.loads(backend.to_str())
    byte_level = "ByteLevel" in json.dumps(spec.get("pre_tokenizer")) or "ByteLevel" in json.dumps(spec.get("decoder"))
    alphabet = _byte_level_alphabet()
    vocab = backend.get_vocab(with_added_tokens=True)
    size = max(vocab.values()) + 1
    table: list[bytes | None] = [None] * size
    special = {t.content for t in backend.get_added_tokens_decoder().values() if t.special}
    for token, idx in vocab.items():
        if token in special:
            continue
        if byte_level:
            try:
                table[idx] = bytes(alphabet[ch] for ch in token)
            except KeyError:  # an added token stored as plain text
                table[idx] = token.encode("utf-8")
        else:  # SentencePiece style: "▁" is a space, "<0xAB>" is a raw byte
            m = _SPM_BYTE.match(token)
            table[idx] = bytes([int(m.group(1), 16)]) if m else token.replace("\u2581", " ").encode("utf-8")
    return table


class ByteTokenizer:
    """Maps bytes <-> token ids exactly, using a Hugging Face tokenizer for the segmentation."""

    def __init__(self, hf_tokenizer) -> None:
        # Tokens longer than MAX_TOKEN_BYTES are not used (headers' sizes are bounded by it).
        self.table = [t if t is None or len(t) <= MAX_TOKEN_BYTES else None for t in _token_bytes_table(hf_tokenizer)]
        # Literal "<|im_start|>" in a user's file must stay text, not become a control token.
        self._backend = copy.deepcopy(hf_tokenizer.backend_tokenizer)
        self._backend.encode_special_tokens = True
        self._backend.no_truncation()
        self._backend.no_padding()
        self.vocab_size = len(self.table)  # ids the model scores
        byte_ids: dict[int, int] = {}
        for idx, raw in enumerate(self.table):
            if raw is not None and len(raw) == 1:
                byte_ids.setdefault(raw[0], idx)
        for b in range(256):  # virtual symbols for bytes the vocabulary cannot express
            if b not in byte_ids:
                byte_ids[b] = len(self.table)
                self.table.append(bytes([b]))
        self.byte_ids = [byte_ids[b] for b in range(256)]
        # The BOS token (else EOS) is the context every segment starts from.
        bos = hf_tokenizer.bos_token_id
        eos = hf_tokenizer.eos_token_id
        self.start_id = bos if bos is not None else eos
        if self.start_id is None:
            raise ModelError("tokenizer has neither a BOS nor an EOS token to start segments with")

    @property
    def symbol_count(self) -> int:
        """Size of the coder's alphabet: the vocabulary plus the virtual byte symbols."""
        return len(self.table)

    def model_input(self, idx: int) -> int:
        """The id to feed the model after symbol `idx` (virtual symbols are not model tokens)."""
        return idx if idx < self.vocab_size else self.start_id

    def _bytes_fallback(self, data: bytes) -> list[int]:
        return [self.byte_ids[b] for b in data]

    def encode(self, data: bytes) -> list[int]:
        """Token ids whose table bytes concatenate to exactly `data`."""
        text = data.decode("utf-8", errors="surrogateescape")
        ids: list[int] = []
        pos = 0
        for m in _INVALID_RUN.finditer(text):
            ids += self._encode_text(text[pos : m.start()])
            ids += self._bytes_fallback(m.group().encode("utf-8", errors="surrogateescape"))
            pos = m.end()
        ids += self._encode_text(text[pos:])
        return ids

    def _encode_text(self, text: str) -> list[int]:
        if not text:
            return []
        ids = self._backend.encode(text, add_special_tokens=False).ids
        raw = text.encode("utf-8")
        if self.decode(ids, strict=False) != raw:
            return self._bytes_fallback(raw)
        return ids

    def decode(self, ids, strict: bool = True) -> bytes:
        parts = []
        for i in ids:
            raw = self.table[i] if 0 <= i < len(self.table) else None
            if raw is None:
                if strict:
                    raise TokenizationError(f"token id {i} has no byte representation")
                return b"\x00invalid"  # cannot equal any input: forces the caller's fallback
            parts.append(raw)
        return b"".join(parts)
