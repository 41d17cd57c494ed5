import pytest
from hypothesis import given, settings, strategies as st

from conftest import build_tiny_model


@pytest.fixture(scope="module")
def tok(tiny_model):
    return tiny_model.tokenizer


@pytest.fixture(scope="module")
def sparse_tok():
    return build_tiny_model(full_alphabet=False).tokenizer


@settings(max_examples=200)
@given(st.binary(max_size=500))
def test_any_bytes_round_trip(tok, data):
    assert tok.decode(tok.encode(data)) == data


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_any_text_round_trip(tok, text):
    data = text.encode("utf-8", errors="surrogatepass")
    assert tok.decode(tok.encode(data)) == data


@given(st.binary(max_size=300))
def test_missing_vocabulary_bytes_use_virtual_symbols(sparse_tok, data):
    ids = sparse_tok.encode(data)
    assert sparse_tok.decode(ids) == data
    assert all(0 <= i < sparse_tok.symbol_count for i in ids)
    assert all(sparse_tok.model_input(i) < sparse_tok.vocab_size for i in ids)


def test_special_token_text_stays_text(tok):
    data = b"<|im_start|>user\nhello<|im_end|>"
    ids = tok.encode(data)
    assert tok.decode(ids) == data
    assert 1 not in ids and 2 not in ids  # the control-token ids of <|im_start|>/<|im_end|>


def test_invalid_utf8_and_crlf(tok):
    data = b"caf\xc3\xa9 \xff\xfe broken \xc3 line\r\nnext\r\n"
    assert tok.decode(tok.encode(data)) == data


def test_common_text_uses_merges(tok):
    data = b"The quick brown fox jumps over the lazy dog."
    assert len(tok.encode(data)) < len(data) / 2
