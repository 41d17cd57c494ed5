"""The arithmetic codec's mechanics on the tiny random model."""


import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

import llmpack
from llmpack.codecs.arithmetic import Params
from llmpack.config import FORMAT_VERSION, ArithmeticConfig
from llmpack.model.exact import DEFAULT
from llmpack.errors import FormatError, IntegrityError, ModelError

from conftest import build_tiny_model

SMALL = ArithmeticConfig(max_rows=4, min_segment_tokens=8, max_segment_tokens=64)


def _round_trip(lm, data, config=SMALL):
    blob = llmpack.Compressor(model=lm, config=config).compress(data)
    assert llmpack.Decompressor(model=lm).decompress(blob) == data
    return blob


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_round_trip_random_bytes(tiny_model, data):
    _round_trip(tiny_model, data)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_round_trip_random_unicode(tiny_model, text):
    _round_trip(tiny_model, text.encode("utf-8", errors="surrogatepass"))


@pytest.mark.parametrize(
    "data",
    [b"", b"a", b"\r\n", b"one\r\ntwo\r\n", b"mixed\r\nends\nhere\r", b"\x00\xff" * 40, "αβγ 🙂\n".encode() * 30],
    ids=["empty", "one-byte", "crlf-only", "crlf", "mixed-newlines", "binary", "unicode"],
)
def test_round_trip_edge_cases(tiny_model, data):
    _round_trip(tiny_model, data)


def test_virtual_byte_symbols_round_trip():
    lm = build_tiny_model(full_alphabet=False)
    _round_trip(lm, bytes(range(256)) * 2 + b"Alice was beginning to get very tired")


def test_segments_are_recorded_and_decoded_in_any_batches(tiny_model, monkeypatch):
    """The decoder batches segments as it likes (rows never change each other's numbers)."""
    from llmpack.coding import modelcoder

    data = b"".join(b"Alice was beginning to get very tired, line %d.\n" % i for i in range(60))
    blob = _round_trip(
        tiny_model, data, ArithmeticConfig(max_rows=4, min_segment_tokens=16, max_segment_tokens=64, fallback=False)
    )
    info = llmpack.inspect(blob)
    assert info["segments"] > 4
    assert sum(info["segment_sizes"]) <= len(data) and all(n > 0 for n in info["segment_sizes"])
    assert sum(info["segment_payload_bytes"]) < info["compressed_size"]
    assert info["segment_methods"] == {"model": info["segments"]}
    for rows in (1, 3):
        monkeypatch.setattr(modelcoder, "DECODE_ROWS", rows)
        assert llmpack.decompress(blob, model=tiny_model) == data


@pytest.mark.parametrize("threads", [1, 3])
def test_worker_processes_decode_the_same_bytes(tiny_model, monkeypatch, threads):
    """The decoder splits segments between forked processes, one per torch thread (on
    Linux): the same bytes, and progress counts every decoded byte once."""
    from llmpack.coding import workers

    data = b"".join(b"Line %d: the cat sat on the mat.\n" % i for i in range(40))
    config = ArithmeticConfig(max_rows=4, min_segment_tokens=16, max_segment_tokens=48, fallback=False)
    blob = llmpack.Compressor(model=tiny_model, config=config).compress(data)
    segments = llmpack.inspect(blob)["segments"]
    assert segments > 3
    calls, seen = [], []
    real = workers.run
    monkeypatch.setattr(workers, "run", lambda tasks, *a: calls.append(len(tasks)) or real(tasks, *a))
    monkeypatch.setattr(workers, "ONE_PROCESS_ROWS", 1)  # fork even for these few segments
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        back = llmpack.Decompressor(model=tiny_model, progress=lambda done, total: seen.append(done)).decompress(blob)
    finally:
        torch.set_num_threads(before)
    assert back == data
    assert calls == [threads if workers.can_fork("cpu") else 1]
    assert seen[-1] == len(data) and seen == sorted(seen)


def test_a_worker_error_is_raised_once_every_worker_stopped(tiny_model, monkeypatch):
    from llmpack.coding import rangecoder, workers

    if not workers.can_fork("cpu"):
        pytest.skip("decoding forks workers on Linux only")
    data = b"".join(b"Line %d: the cat sat on the mat.\n" % i for i in range(40))
    config = ArithmeticConfig(max_rows=4, min_segment_tokens=16, max_segment_tokens=48, fallback=False)
    blob = llmpack.Compressor(model=tiny_model, config=config).compress(data)

    def fail(self, probs):
        raise IntegrityError("this row went wrong")

    monkeypatch.setattr(rangecoder.Decoder, "decode", fail)  # in the forked workers too
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(IntegrityError, match="this row went wrong"):
            llmpack.Decompressor(model=tiny_model).decompress(blob)
    finally:
        torch.set_num_threads(before)


def test_workers_failing_together_raise_the_first_error(monkeypatch):
    """Two workers that fail at once: their pipes are ready in the same wait(); the first
    error is raised, not a lookup error from reading the second after stopping them."""
    import multiprocessing.connection
    import time

    from llmpack.coding import workers

    if not workers.can_fork("cpu"):
        pytest.skip("workers fork on Linux only")
    real_wait = multiprocessing.connection.wait

    def late_wait(conns, timeout=None):
        time.sleep(0.5)  # both workers have failed by now
        return real_wait(conns, timeout)

    def task(i):
        def run(report):
            raise IntegrityError(f"worker {i} went wrong")

        return run

    monkeypatch.setattr(multiprocessing.connection, "wait", late_wait)
    with pytest.raises(IntegrityError, match="worker [01] went wrong"):
        workers.run([task(0), task(1)], lambda n: None)


def test_workers_run_keeps_order_and_reports_progress():
    from llmpack.coding import workers

    def task(i):
        def run(report):
            report(i)
            return i * i

        return run

    got = []
    assert workers.run([task(i) for i in range(4)], got.append, fork=workers.can_fork("cpu")) == [0, 1, 4, 9]
    assert sorted(got) == [0, 1, 2, 3]
    k = workers.ONE_PROCESS_ROWS
    assert workers.count(k + 3, 8) == (k + 3, 8 // (k + 3)) and workers.count(20, 2) == (2, 1) and workers.count(9, 1) == (1, 1)
    assert workers.count(k, 2) == (1, 2) and workers.count(2, 8) == (1, 8)  # few rows: one process, all its threads


def test_workers_die_with_their_parent(tmp_path):
    """A killed decoder (timeout, out of memory) leaves no worker computing for no one."""
    import subprocess
    import sys
    import time

    from llmpack.coding import workers

    if not workers.can_fork("cpu"):
        pytest.skip("decoding forks workers on Linux only")
    script = (
        "import os, sys, time\nfrom llmpack.coding import workers\n"
        "def task(report):\n"
        f"    open(os.path.join({str(tmp_path)!r}, 'pid-%d' % os.getpid()), 'w').close()\n"
        "    time.sleep(120)\n"
        "workers.run([task, task], lambda n: None)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while len(list(tmp_path.glob("pid-*"))) < 2 and time.time() < deadline:
        time.sleep(0.1)
    pids = [int(p.name[4:]) for p in tmp_path.glob("pid-*")]
    assert len(pids) == 2
    parent.kill()
    parent.wait()

    def running(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except FileNotFoundError:
            return False

    deadline = time.time() + 10
    while any(running(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(running(p) for p in pids)


def test_fallback_keeps_zstd_where_it_beats_the_model(tiny_model):
    # A random model alone is bad at this and zstd is excellent (profile 4: no online
    # models; the match model would learn the repeats and win).
    data = b"0123456789" * 300
    blob = _round_trip(tiny_model, data, ArithmeticConfig(max_rows=4, min_segment_tokens=8, max_segment_tokens=64, profile=4))
    assert set(llmpack.inspect(blob)["segment_methods"]) == {"zstd"}
    without = llmpack.Compressor(
        model=tiny_model,
        config=ArithmeticConfig(max_rows=4, min_segment_tokens=8, max_segment_tokens=64, profile=4, fallback=False),
    ).compress(data)
    assert len(blob) < len(without)
    matched = _round_trip(
        tiny_model, data, ArithmeticConfig(max_rows=4, min_segment_tokens=8, max_segment_tokens=64, profile=5, fallback=False)
    )
    assert len(matched) < len(without) / 2  # the match model learns the repeats


def test_fallback_keeps_the_model_where_it_wins():
    lm = build_tiny_model(seed=3)
    # Make the model predict "a" or "b", each about half the time: zero the final norm so the
    # hidden state is 0, and give the output layer a bias that favours those two tokens.
    ids = lm.tokenizer.encode(b"ab")
    with torch.no_grad():
        lm.model.model.norm.weight.zero_()
        bias = torch.full((lm.model.config.vocab_size,), -20.0)
        bias[ids] = 0.0
        lm.model.lm_head.bias = torch.nn.Parameter(bias)
    rng = __import__("random").Random(0)
    data = bytes(rng.choice(b"ab") for _ in range(4000))  # ~1 bit per byte for the model, more for zstd
    blob = _round_trip(lm, data)
    assert "model" in llmpack.inspect(blob)["segment_methods"]


def test_decode_with_another_model_is_refused(tiny_model):
    blob = llmpack.Compressor(model=tiny_model, config=SMALL).compress(b"hello world, hello world")
    other = build_tiny_model(seed=1)
    with pytest.raises(ModelError, match="fingerprint"):
        llmpack.Decompressor(model=other).decompress(blob)


def test_changed_numbers_are_detected_not_written(tiny_model):
    """Same fingerprint, different numbers (weights changed under the same name): a clear error, never wrong bytes."""
    lm = build_tiny_model(seed=5)
    data = b"Alice was beginning to get very tired of sitting by her sister on the bank." * 4
    blob = llmpack.Compressor(
        model=lm, config=ArithmeticConfig(max_rows=2, min_segment_tokens=8, max_segment_tokens=64, fallback=False)
    ).compress(data)
    with torch.no_grad():
        for p in lm.model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    lm.__dict__.pop("_engines")  # the engine is built from the weights once; rebuild it from the changed ones
    with pytest.raises(IntegrityError, match="computed other probabilities"):
        llmpack.Decompressor(model=lm).decompress(blob)


def test_header_records_numerics_not_threads(tiny_model):
    data = b"Some text that will be coded with three threads. " * 10
    blob = _round_trip(tiny_model, data, ArithmeticConfig(threads=3, max_rows=2, min_segment_tokens=8, max_segment_tokens=64))
    info = llmpack.inspect(blob)
    assert info["numerics"] == DEFAULT.tag()
    assert "threads" not in info and "dtype" not in info
    # decoding with another thread count gives the same bytes
    assert llmpack.Decompressor(model=tiny_model).decompress(blob) == data


def test_format_1_files_are_refused_in_one_line(tiny_model):
    """Files of llmpack 0.1 carry machine-bound float numerics: refused, never decoded to wrong bytes."""
    from formats import pack_old
    from llmpack.coding import container

    blob = llmpack.Compressor(model=tiny_model, config=SMALL).compress(b"old file " * 10)
    header, payload = container.unpack(blob)
    header.version, header.checksum = 1, container.checksum(b"old file " * 10, 8)
    with pytest.raises(FormatError, match="llmpack 0.1"):
        llmpack.Decompressor(model=tiny_model).decompress(pack_old(header, payload))


@pytest.mark.parametrize("where", ["payload", "params"])
def test_corruption_is_an_error(tiny_model, where):
    data = b"The quick brown fox jumps over the lazy dog. " * 20
    blob = bytearray(llmpack.Compressor(model=tiny_model, config=SMALL).compress(data))
    if where == "payload":
        blob[-3] ^= 0x41
    else:
        blob[30] ^= 0x41
    with pytest.raises(FormatError, match="fail their checksum"):  # found by the container, before the model runs
        llmpack.Decompressor(model=tiny_model).decompress(bytes(blob))


def test_truncated_payload_is_an_error(tiny_model):
    blob = llmpack.Compressor(model=tiny_model, config=SMALL).compress(b"The quick brown fox. " * 20)
    for cut in (1, 4, len(blob) // 2):
        with pytest.raises(FormatError):
            llmpack.Decompressor(model=tiny_model).decompress(blob[:-cut])


def test_hostile_segment_sizes_are_refused_before_allocating(tiny_model):
    """A header whose CRC is valid but whose segment sizes exceed the original size."""
    from llmpack.coding import container

    cfg = ArithmeticConfig(max_rows=4, min_segment_tokens=8, max_segment_tokens=64, fallback=False)
    blob = llmpack.Compressor(model=tiny_model, config=cfg).compress(b"The quick brown fox. " * 20)
    header, payload = container.unpack(blob)
    params = Params.unpack(header.params, header.original_size, payload, header.version)
    assert len(params.segments) > 1
    params.segments[0].n_tokens = 10**12
    header.params = params.pack()
    with pytest.raises(FormatError, match="more tokens than its payload can hold"):
        llmpack.Decompressor(model=tiny_model).decompress(container.pack(header, payload))
    params.segments[0].n_tokens = 3
    header.params = params.pack()  # fewer tokens than in truth: the sizes no longer add up
    header.original_size = 10**12
    with pytest.raises(FormatError, match="segment sizes do not add up"):
        llmpack.Decompressor(model=tiny_model).decompress(container.pack(header, payload))


@pytest.mark.parametrize(
    "raw", [b"", b"\x80", b"\x00\x01", b"\x00\x01\x05", b"\x04\x01\x01", b"\x00\x01\x01\x00", b"\x00\x01\x00"]
)
def test_params_reject_garbage(raw):
    with pytest.raises(FormatError):
        Params.unpack(raw, 100, b"x" * 8, FORMAT_VERSION)


# -- levels, sliding windows, online models, dictionaries ------------------------------
LONG = b"".join(b"Line %d: Alice was beginning to get very tired of sitting by her sister.\n" % (i % 7) for i in range(12))


@pytest.mark.parametrize("level", range(1, 10))
def test_every_level_round_trips(tiny_model, level, monkeypatch):
    """Each level's coding profile (numerics, online models) over several segments, in
    encoder batches of two rows, with windows that slide: the level's window is shrunk to 24
    tokens (sliding by 7) so that a test-sized segment outgrows it, and the segments
    are kept short so that there are several."""
    import dataclasses

    from llmpack.coding import profiles
    from llmpack.config import LEVELS

    number = LEVELS[level].profile
    monkeypatch.setitem(profiles.PROFILES, number, dataclasses.replace(profiles.PROFILES[number], window=profiles.Window(24, 7)))
    config = ArithmeticConfig(level=level, min_segment_tokens=30, max_segment_tokens=60, max_rows=2, fallback=False)
    blob = _round_trip(tiny_model, LONG, config)
    info = llmpack.inspect(blob)
    assert info["profile"] == number and info["window"].startswith("24 tokens")
    assert info["segments"] >= 3 and max(info["segment_sizes"]) > 24  # several segments, two rows a batch; windows slide
    assert info["segment_methods"] == {"model": info["segments"]}
    assert llmpack.inspect(llmpack.compress(LONG[:300], model=tiny_model, level=level, fallback=False))["segments"] == 1


@pytest.fixture
def small_window(monkeypatch):
    """A test profile whose window slides every few tokens, with both online models."""
    from llmpack.coding import profiles
    from llmpack.coding.online import OnlineSpec

    profile = profiles.Profile(DEFAULT, 24, profiles.Window(24, 7), OnlineSpec(bias_rate=0.2, match_order=3))
    monkeypatch.setitem(profiles.PROFILES, 99, profile)
    return ArithmeticConfig(profile=99, min_segment_tokens=60, max_segment_tokens=200, max_rows=2, fallback=False)


def test_sliding_window_and_online_models_round_trip(tiny_model, small_window):
    """Segments several windows long, the online models learning as they go: the decoder's
    steps (re-encoding at each slide) give the encoder's weights, in batches of any size."""
    from llmpack.coding import modelcoder

    blob = _round_trip(tiny_model, LONG, small_window)
    info = llmpack.inspect(blob)
    assert info["profile"] == 99 and info["segments"] > 1 and max(info["segment_sizes"]) > 3 * 24
    assert "match model" in info["online_models"] and "sliding by 7" in info["window"]
    without = llmpack.Compressor(
        model=tiny_model,
        config=ArithmeticConfig(profile=4, min_segment_tokens=60, max_segment_tokens=200, max_rows=4, fallback=False),
    ).compress(LONG)
    assert without != blob
    modelcoder.DECODE_ROWS, before = 1, modelcoder.DECODE_ROWS
    try:
        assert llmpack.decompress(blob, model=tiny_model) == LONG
    finally:
        modelcoder.DECODE_ROWS = before


def test_dictionary_round_trip_and_errors(tiny_model, small_window):
    from dataclasses import replace

    from llmpack.errors import LLMPackError

    primer = LONG[:200]
    record = LONG[200:330]
    cfg = replace(small_window, dictionary=primer)
    c = llmpack.Compressor(model=tiny_model, config=cfg)
    blob = c.compress(record)
    assert c.stats["dictionary_used"]  # the match model finds the record's lines in it
    assert llmpack.decompress(blob, model=tiny_model, dictionary=primer) == record
    plain = llmpack.Compressor(model=tiny_model, config=small_window).compress(record)
    assert len(blob) < len(plain) and llmpack.inspect(blob)["dictionary"]
    with pytest.raises(LLMPackError, match="compressed with a dictionary.*-D"):
        llmpack.decompress(blob, model=tiny_model)
    with pytest.raises(LLMPackError, match="wrong dictionary"):
        llmpack.decompress(blob, model=tiny_model, dictionary=primer + b"!")
    # a file made without one decodes whether or not -D is given (as zstd's frames without a dict ID)
    assert llmpack.decompress(plain, model=tiny_model, dictionary=primer) == record


def test_a_dictionary_that_does_not_help_is_left_out(tiny_model, small_window):
    """A dictionary of another kind of text would cost bytes: the file is coded without it,
    byte for byte the file made without -D, and decodes with or without it."""
    from dataclasses import replace

    record = LONG[200:330]
    unrelated = bytes(range(256)) * 2
    c = llmpack.Compressor(model=tiny_model, config=replace(small_window, dictionary=unrelated))
    blob = c.compress(record)
    assert not c.stats["dictionary_used"] and not llmpack.inspect(blob)["dictionary"]
    assert blob == llmpack.Compressor(model=tiny_model, config=small_window).compress(record)
    assert llmpack.decompress(blob, model=tiny_model) == record
    assert llmpack.decompress(blob, model=tiny_model, dictionary=unrelated) == record


@pytest.mark.parametrize("rows", [1, 2, 3])
def test_segments_of_unequal_lengths_refill_rows(tiny_model, small_window, monkeypatch, rows):
    """Segments whose token counts differ a lot (prose beside digits), fewer decoder rows
    than segments: rows take the next segment as theirs end, with a dictionary prefix and
    windows sliding at different steps, then idle rows are dropped. Exact at every size."""
    from dataclasses import replace

    from llmpack.coding import modelcoder

    digits = b"".join(b"%d,%d;" % (i * 7919 % 1000, i * 104729 % 997) for i in range(40)) + b"\n"
    data = LONG[:300] + digits + LONG[300:500] + digits[:90] + b"\n" + LONG[500:]
    cfg = replace(small_window, dictionary=LONG[:120], min_segment_tokens=40, max_segment_tokens=120, max_rows=8)
    blob = llmpack.Compressor(model=tiny_model, config=cfg).compress(data)
    assert llmpack.inspect(blob)["segments"] > rows
    monkeypatch.setattr(modelcoder, "DECODE_ROWS", rows)
    assert llmpack.decompress(blob, model=tiny_model, dictionary=LONG[:120]) == data


@pytest.mark.parametrize("rows", [1, 3])
def test_own_prefixes_of_unequal_lengths(tiny_model, small_window, monkeypatch, rows):
    """Segments coded each after its own prefix (as the semantic mode's residual is): of
    unequal lengths, one of them longer than the window; a row's prefix is prefilled when
    it takes a segment. Decoded exactly with fewer rows than segments or not."""
    from llmpack.coding import modelcoder
    from llmpack.coding import profiles
    from llmpack.codecs.base import Context

    lm, profile = tiny_model, profiles.get(small_window.profile)
    tok, exact = lm.tokenizer, lm.exact(profile.numerics)
    ids = [tok.model_input(t) for t in tok.encode(LONG[:400])]
    prefixes = [
        [tok.start_id],
        [tok.start_id] + ids[:5],
        [tok.start_id] + ids[: profile.window.size + 9],
        [tok.start_id] + ids[40:45],
    ]
    assert len(prefixes[2]) > profile.window.size
    pieces = [LONG[500:620], LONG[620:700], LONG[700:760], LONG[760:900]]
    _, primed = modelcoder.prime(exact, tok, profile, None)
    coded, _, _ = modelcoder.ModelCoder.code_pieces(exact, tok, profile, pieces, prefixes, primed)
    monkeypatch.setattr(modelcoder, "DECODE_ROWS", rows)
    codec = modelcoder.ModelCoder()
    back = codec.uncode(profile, coded, sum(map(len, pieces)), lambda: lm, Context(), prefixes=prefixes)
    assert back == pieces
    try:  # the prefixes count: without them, another text or an impossible token
        alike = codec.uncode(profile, coded, sum(map(len, pieces)), lambda: lm, Context(), prefixes=[prefixes[0]] * 4)
    except IntegrityError:
        alike = None
    assert alike != pieces


@pytest.mark.fallback
def test_whole_file_fallback(tiny_model):
    """The random tiny model loses to zstd on repetitive text and to storing on random
    bytes: the file is then a zstd or stored one, decodable without any model."""
    import random

    from llmpack.coding import container

    assert len(llmpack.compress(b"", model=tiny_model)) == 13
    text = LONG * 4
    blob = llmpack.compress(text, model=tiny_model)
    header, _ = container.unpack(blob)
    assert llmpack.inspect(blob)["mode"] == "zstd" and not header.fingerprint
    assert llmpack.decompress(blob) == text
    rng = random.Random(5)
    noise = bytes(rng.randrange(256) for _ in range(1024))
    blob = llmpack.compress(noise, model=tiny_model)
    assert llmpack.inspect(blob)["mode"] == "stored" and len(blob) <= len(noise) + 16
    assert llmpack.decompress(blob) == noise


def test_the_dictionary_part_most_like_the_file_is_moved_where_the_model_reads_it(tiny_model, small_window, monkeypatch):
    """A dictionary of parts (records joined by blank lines) whose part like the file is
    not its last: the file is coded after the dictionary with that part moved to the end
    (format 6 records which), no bigger than after the dictionary as given, and decodes
    only with the dictionary."""
    from dataclasses import replace

    from llmpack.codecs import arithmetic
    from llmpack.coding.dictionary import SEPARATOR

    record = b"zq xv zq jk xv zq jk zq xv jk\n" * 3  # rare tokens: the tiny model's online bias learns them
    others = [b"Weather for %d: rain, %d mm; wind from the west." % (i, i * 3) for i in range(6)]
    dictionary = SEPARATOR.join(others[:2] + [record[:-9]] + others[2:])
    cfg = replace(small_window, dictionary=dictionary)
    c = llmpack.Compressor(model=tiny_model, config=cfg)
    blob = c.compress(record)
    assert c.stats["dictionary_used"] and c.stats["dictionary_parts"] == [2]
    info = llmpack.inspect(blob)
    assert info["format_version"] == 6 and info["dictionary_parts"] == c.stats["dictionary_parts"]
    assert llmpack.decompress(blob, model=tiny_model, dictionary=dictionary) == record
    with pytest.raises(llmpack.LLMPackError, match="compressed with a dictionary"):
        llmpack.decompress(blob, model=tiny_model)
    monkeypatch.setattr(arithmetic, "relevant", lambda d, data: [])
    assert len(blob) <= len(llmpack.Compressor(model=tiny_model, config=cfg).compress(record))


def test_dictionary_parts_in_a_format_5_file_or_out_of_range_are_refused():
    from llmpack.codecs.arithmetic import FLAG_DICT, FLAG_PARTS, Params
    from llmpack.coding.dictionary import arrange
    from llmpack.coding.modelcoder import MODEL, Segment

    raw = Params(0, 5, b"abcd", [Segment(MODEL, 0, 3, b"\0" * 8)], [2, 0]).pack()
    assert raw[0] == FLAG_DICT | FLAG_PARTS and Params.unpack(raw, 10, b"\0" * 8, 6).parts == [2, 0]
    with pytest.raises(llmpack.FormatError, match="unknown flags"):
        Params.unpack(raw, 10, b"\0" * 8, 5)
    assert arrange(b"a\n\nb\n\nc", [2, 0]) == b"b\n\nc\n\na"
    for bad in ([3], [1, 1]):
        with pytest.raises(llmpack.FormatError, match="dictionary parts"):
            arrange(b"a\n\nb\n\nc", bad)
