"""Choosing a dictionary's parts most like a file (coding.dictionary)."""

from __future__ import annotations

from llmpack.coding.dictionary import RELEVANT_MAX_INPUT, SEPARATOR, arrange, relevant

PARTS = [b"the cat sat on the mat and purred at the morning sun",
         b'{"id": 7, "name": "tea", "price": 4.25, "stock": 120}',
         b"SELECT name, price FROM items WHERE stock > 100 ORDER BY price",
         b"lorem ipsum dolor sit amet, consectetur adipiscing elit"]
DICTIONARY = SEPARATOR.join(PARTS)


def test_the_parts_that_share_the_most_text_go_last_most_relevant_last():
    data = b'{"id": 9, "name": "coffee", "price": 6.5, "stock": 80}\n{"id": 7, "name": "tea", "price": 4.25}\n' \
        b"SELECT name, price FROM items"
    chosen = relevant(DICTIONARY, data, most=2)
    assert chosen == [2, 1]
    arranged = arrange(DICTIONARY, chosen)
    assert arranged.endswith(PARTS[1]) and sorted(arranged.split(SEPARATOR)) == sorted(PARTS)


def test_nothing_to_arrange():
    assert relevant(PARTS[0], PARTS[0]) == []  # one part
    assert relevant(DICTIONARY, PARTS[3] * 2, most=1) == []  # the best part is the last already
    assert relevant(DICTIONARY, b"x" * (RELEVANT_MAX_INPUT + 1)) == []  # large files skip the search
    assert relevant(DICTIONARY, bytes(range(256))) == []  # nothing in common: no part saves zlib a byte
