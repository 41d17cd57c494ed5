from hypothesis import given, strategies as st

from llmpack.coding import segments


@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=40))
def test_split_is_a_partition(data, count):
    pieces = segments.split(data, count)
    assert b"".join(pieces) == data
    assert all(pieces)
    assert len(pieces) <= max(1, count)


@given(st.text(max_size=2000), st.integers(min_value=1, max_value=30))
def test_split_never_cuts_a_utf8_character(text, count):
    for piece in segments.split(text.encode(), count):
        piece.decode("utf-8")  # raises if a character was cut


def test_split_prefers_line_ends():
    data = b"".join(b"line number %d of the file\n" % i for i in range(200))
    pieces = segments.split(data, 7)
    assert len(pieces) == 7
    assert all(p.endswith(b"\n") for p in pieces)


def test_plan_respects_limits():
    assert segments.plan(0, 64, 256, 768) == (0, 1)
    assert segments.plan(100, 64, 256, 768) == (1, 1)  # too short to cut
    count, rows = segments.plan(39_000, 64, 256, 768)
    assert (count, rows) == (64, 64)  # one full batch; each segment ~610 tokens
    count, rows = segments.plan(200_000, 64, 256, 768)
    assert count * 768 >= 200_000 and rows <= 64
