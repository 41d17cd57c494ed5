"""Prompt templates (prompts/*.txt): loading, hashing and rendering to model input ids.

A template is named by its file stem (e.g. "regenerate-v1"). Containers store the id
and a hash of the file's bytes; decoding refuses a template whose hash changed, since
any edit would regenerate different text. Released templates are never edited: a new
wording gets a new id.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import environment
from ..errors import FormatError, LLMPackError

CONDENSE = "condense-v1"  # writes the reconstruction prompt from a section (encoder only)
REGENERATE = "regenerate-v1"  # turns a stored prompt back into text (encoder and decoder)
# Every template id a file may name, with the hash of its released text. A file's id is
# looked up here, never joined onto a path: a header cannot make llmpack read a file.
RELEASED = {CONDENSE: 0x496910BA, REGENERATE: 0x714A8783}


def prompts_dirs() -> list[Path]:
    """Where templates are looked up: $LLMPACK_PROMPTS, the source tree, then an installed copy."""
    dirs = [Path(environment.prompts_folder())] if environment.prompts_folder() else []
    dirs.append(Path(__file__).resolve().parents[2] / "prompts")
    dirs.append(Path(sys.prefix) / "share" / "llmpack" / "prompts")
    return dirs


@dataclass(frozen=True)
class Template:
    id: str
    system: str
    user: str
    digest: int  # u32 hash of the file's bytes, stored in containers

    def messages(self, **fields) -> list[dict]:
        return [
            {"role": "system", "content": self.system.format(**fields)},
            {"role": "user", "content": self.user.format(**fields)},
        ]

    def render(self, hf_tokenizer, **fields) -> list[int]:
        """Model input ids: the chat template when the tokenizer has one, else plain text."""
        msgs = self.messages(**fields)
        if getattr(hf_tokenizer, "chat_template", None):
            text = hf_tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        else:
            text = "\n\n".join(m["content"] for m in msgs) + "\n\n"
        return list(hf_tokenizer.encode(text, add_special_tokens=False))


def digest(raw: bytes) -> int:
    return int.from_bytes(hashlib.sha256(raw).digest()[:4], "little")


def parse(template_id: str, raw: bytes) -> Template:
    parts: dict[str, list[str]] = {}
    current = None
    for line in raw.decode("utf-8").splitlines():
        if line.startswith("#") and current is None:
            continue
        if line.strip() in ("[system]", "[user]"):
            current = line.strip()[1:-1]
            parts[current] = []
        elif current is not None:
            parts[current].append(line)
    if set(parts) != {"system", "user"}:
        raise LLMPackError(f"prompt template '{template_id}' needs a [system] and a [user] part")
    return Template(template_id, "\n".join(parts["system"]).strip(), "\n".join(parts["user"]).strip(), digest(raw))


def load(template_id: str, expected_digest: int | None = None) -> Template:
    """The released template with this id; with expected_digest, refuse one whose text has changed."""
    if template_id not in RELEASED:
        raise FormatError(f"unknown prompt template {template_id!r} (known: {', '.join(RELEASED)})")
    for folder in prompts_dirs():
        path = folder / f"{template_id}.txt"
        if path.is_file():
            template = parse(template_id, path.read_bytes())
            break
    else:
        raise FormatError(f"prompt template '{template_id}' not found (looked in {', '.join(map(str, prompts_dirs()))})")
    if expected_digest is not None and template.digest != expected_digest:
        raise FormatError(
            f"prompt template '{template_id}' has changed since this file was made "
            f"(hash {template.digest:08x}, file expects {expected_digest:08x})"
        )
    return template
