"""Inputs: finding log files and cutting them into blocks at safe boundaries."""

from __future__ import annotations

import gzip
import io
import itertools
import random
from pathlib import Path

import pytest

from loglens.analysis.lines import looks_like_continuation
from loglens.config import ANALYSIS_SETTINGS, RATIO_FREE_BYTES, Config, load_config
from loglens.errors import ConfigError, InputError
from loglens.processor.inputs import (
    Limits,
    LineCutter,
    Source,
    expand_paths,
    file_ranges,
    first_boundary,
    last_boundary,
    open_stream,
    read_blocks,
    read_range,
)
from loglens.processor.options import options_from_config

TRACE = (
    b"2024-01-01 00:00:00 ERROR boom\n"
    b"java.lang.IllegalStateException: bad\n"
    b"\tat a.B.c(B.java:1)\n"
    b"\tat a.B.d(B.java:2)\n"
)


def sample_log(entries: int) -> bytes:
    out = []
    for i in range(entries):
        out.append(f"2024-01-01 00:00:{i % 60:02d} INFO entry number {i}\n".encode())
        if i % 7 == 0:
            out.append(TRACE)
    return b"".join(out)


def assert_good_cut(data: bytes, cut: int) -> None:
    assert data[cut - 1 : cut] == b"\n"
    line = data[cut:].split(b"\n", 1)[0].decode()
    assert not looks_like_continuation(line)


def test_expand_paths_files_dirs_globs_and_problems(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("x\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.log.1").write_text("y\n")
    (tmp_path / "sub" / "notes.json").write_text("{}\n")
    (tmp_path / ".hidden.log").write_text("z\n")
    (tmp_path / "empty").mkdir()
    sources, problems = expand_paths(
        [
            str(tmp_path),
            str(tmp_path / "*.log"),
            str(tmp_path / "missing.log"),
            str(tmp_path / "empty"),
        ]
    )
    names = sorted(Path(s.name).name for s in sources)
    assert names == ["a.log", "b.log.1"]  # the glob's a.log is not counted twice
    messages = sorted(str(p) for p in problems)
    assert any("missing.log: no such file" in m for m in messages)
    assert any("empty: directory holds no log files" in m for m in messages)


def test_expand_paths_recognises_gzip_by_content(tmp_path: Path) -> None:
    packed = tmp_path / "app.log.gz"
    packed.write_bytes(gzip.compress(b"line\n"))
    disguised = tmp_path / "other.log"
    disguised.write_bytes(gzip.compress(b"line\n"))
    sources, problems = expand_paths([str(packed), str(disguised)])
    assert not problems
    assert [s.gzip for s in sources] == [True, True]


def test_unmatched_glob_is_a_problem(tmp_path: Path) -> None:
    sources, problems = expand_paths([str(tmp_path / "*.nothing")])
    assert not sources and "no file matches" in str(problems[0])


def test_boundaries_never_split_a_stack_trace() -> None:
    data = sample_log(50)
    cut = last_boundary(data)
    assert 0 < cut < len(data)
    assert_good_cut(data, cut)
    first = first_boundary(data[100:])
    assert_good_cut(data, 100 + first)


def test_no_boundary_in_a_single_line_or_only_continuations() -> None:
    assert last_boundary(b"no newline at all") == 0
    assert last_boundary(b"\tat a\n\tat b\n\tat c\n") == 0


@pytest.mark.parametrize("block", [64, 200, 1000, 4096])
def test_file_ranges_cover_the_file_exactly_at_good_cuts(tmp_path: Path, block: int) -> None:
    data = sample_log(300)
    path = tmp_path / "big.log"
    path.write_bytes(data)
    ranges = file_ranges(path, len(data), block)
    assert ranges[0][0] == 0
    assert sum(length for _, length in ranges) == len(data)
    for (offset, length), (following, _) in itertools.pairwise(ranges):
        assert offset + length == following
        assert_good_cut(data, following)
    assert len(ranges) > 1


@pytest.mark.parametrize("block", [64, 333, 4096])
def test_read_blocks_covers_a_stream_exactly_at_good_cuts(block: int) -> None:
    data = sample_log(300)
    blocks = list(read_blocks(io.BytesIO(data), block))
    assert b"".join(b for _, _, b in blocks) == data
    offset = 0
    for start, length, chunk in blocks:
        assert start == offset and length == len(chunk)
        offset += len(chunk)
        if start:
            assert_good_cut(data, start)


def assert_cut_alike(data: bytes, out: bytes, limit: int, piece: int) -> None:
    """Each line of `out` is its line of `data`, or (when that is over `limit` bytes) its
    first `limit` + 1 bytes; only a line read within one piece may stay longer."""
    given, kept = data.split(b"\n"), out.split(b"\n")
    assert len(kept) == len(given)
    for line, cut in zip(given, kept, strict=True):
        assert cut == line or (len(cut) == limit + 1 and line.startswith(cut))
        assert (len(cut) > limit) == (len(line) > limit)  # too long stays too long
        assert len(cut) <= max(limit + 1, piece)


def _mixed_lines(seed: int, count: int) -> bytes:
    """Lines of random lengths, a few of them far over 1,000 bytes."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        length = rng.choice([0, 5, 40, 999, 1000, 1001, 1002, 3000, 25_000])
        lines.append(f"{i:06d} ".encode() + b"x" * length)
    return b"\n".join(lines) + rng.choice([b"", b"\n"])


@pytest.mark.parametrize("piece", [1, 7, 999, 1002, 4096, 100_000])
def test_line_cutter_keeps_short_lines_and_the_start_of_long_ones(piece: int) -> None:
    data = _mixed_lines(piece, 300)
    cutter = LineCutter(1000)
    out = b"".join(cutter.cut(data[i : i + piece]) for i in range(0, len(data), piece))
    assert_cut_alike(data, out, 1000, piece)
    if piece <= 1001:
        assert out.split(b"\n") == [line[:1001] for line in data.split(b"\n")]
    assert sum(n for _at, n in cutter.skips) == len(data) - len(out)


def test_a_line_without_end_never_holds_more_than_the_limit() -> None:
    cutter = LineCutter(1000)
    out = b"".join(cutter.cut(b"y" * 65536) for _ in range(800))  # 50 MiB, no newline
    assert out == b"y" * 1001
    assert sum(n for _at, n in cutter.skips) == 800 * 65536 - 1001


@pytest.mark.parametrize("block", [64, 1000, 4096])
def test_read_blocks_cut_long_lines_and_still_cover_the_stream(block: int) -> None:
    data = _mixed_lines(block, 400)
    blocks = list(read_blocks(io.BytesIO(data), block, max_line_bytes=1000))
    assert_cut_alike(data, b"".join(b for _, _, b in blocks), 1000, block)
    offset = 0
    for start, length, chunk in blocks:
        assert start == offset  # offsets are the stream's, skipped bytes included
        offset += length
        # The block starts where the stream has that line, and holds no more than a
        # block and one (cut) line.
        assert data[start : start + 7] == chunk[:7]
        assert len(chunk) <= block + 1001 + 25_007
    assert offset == len(data)


def test_read_blocks_of_one_endless_line_hold_only_its_start() -> None:
    data = b"z" * (50 * 1024 * 1024)
    blocks = list(read_blocks(io.BytesIO(data), 64 * 1024, max_line_bytes=4096))
    assert blocks == [(0, len(data), b"z" * 4097)]


def test_ranges_of_a_long_line_are_read_cut_short(tmp_path: Path) -> None:
    data = sample_log(200) + b"2024-01-01 00:00:00 ERROR " + b"q" * 3_000_000 + b"\n"
    data += sample_log(200)
    path = tmp_path / "long.log"
    path.write_bytes(data)
    ranges = file_ranges(path, len(data), 4096)
    assert sum(length for _, length in ranges) == len(data)
    read = [read_range(path, offset, length, 2048, whole_bytes=4096) for offset, length in ranges]
    assert max(len(chunk) for chunk in read) <= 4096 + 2049 + 4096
    assert_cut_alike(data, b"".join(read), 2048, 1024 * 1024)
    assert len(b"".join(read)) < len(sample_log(400)) + 2049 + 1


def test_ranges_settle_for_a_newline_in_an_endless_stack_trace(tmp_path: Path) -> None:
    # Only continuation lines: there is no good place to cut; ranges must not grow with
    # the file (before, this was one range of the whole file).
    data = b"2024-01-01 00:00:00 ERROR boom\n" + b"\tat a.B.c(B.java:1)\n" * 600_000
    path = tmp_path / "trace.log"
    path.write_bytes(data)
    ranges = file_ranges(path, len(data), 64 * 1024)
    assert sum(length for _, length in ranges) == len(data)
    assert len(ranges) > 1
    assert max(length for _, length in ranges) <= 64 * 1024 + 4 * 1024 * 1024 + 64 * 1024 + 100
    assert all(data[offset - 1 : offset] == b"\n" for offset, _ in ranges[1:])


REPEATED = b"2024-01-01 00:00:00 INFO the same line again\n"


def _gzip_source(tmp_path: Path, content: bytes) -> Source:
    path = tmp_path / "packed.log.gz"
    path.write_bytes(gzip.compress(content, compresslevel=9))
    sources, problems = expand_paths([str(path)])
    assert not problems and sources[0].gzip
    return sources[0]


def _read_all(source: Source, limits: Limits) -> bytes:
    stream = open_stream(source, limits)
    try:
        return b"".join(iter(lambda: stream.read(1 << 20), b""))
    finally:
        stream.close()


def test_a_gzip_within_its_limits_reads_whole(tmp_path: Path) -> None:
    content = REPEATED * 10_000  # over 100 times its gzip, but under RATIO_FREE_BYTES
    source = _gzip_source(tmp_path, content)
    assert len(content) > 100 * source.size
    assert _read_all(source, Limits()) == content


def test_a_gzip_bomb_stops_at_the_ratio_limit(tmp_path: Path) -> None:
    content = REPEATED * (RATIO_FREE_BYTES // len(REPEATED) + 1000)
    source = _gzip_source(tmp_path, content)
    with pytest.raises(InputError) as raised:
        _read_all(source, Limits(max_compression_ratio=100))
    message = str(raised.value)
    allowed = max(RATIO_FREE_BYTES, 100 * source.size)
    assert f"its {source.size:,} bytes of gzip decompress to more than {allowed:,}" in message
    assert "MAX_COMPRESSION_RATIO=100" in message
    # A ratio high enough lets it through.
    assert _read_all(source, Limits(max_compression_ratio=2000)) == content


def test_a_gzip_stops_at_the_decompressed_cap(tmp_path: Path) -> None:
    source = _gzip_source(tmp_path, sample_log(20_000))
    cap = r"more than 100,000 bytes.*MAX_DECOMPRESSED_BYTES=100,000"
    with pytest.raises(InputError, match=cap):
        _read_all(source, Limits(max_decompressed_bytes=100_000))
    assert _read_all(source, Limits(max_decompressed_bytes=10**7)) == sample_log(20_000)


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_bad_gzip_is_an_input_error(tmp_path: Path, damage: str) -> None:
    source = _gzip_source(tmp_path, sample_log(2000))
    assert source.path is not None
    packed = source.path.read_bytes()
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    else:
        packed = packed[:20] + bytes(b ^ 0x55 for b in packed[20:200]) + packed[200:]
    source.path.write_bytes(packed)
    with pytest.raises(InputError, match="not valid gzip"):
        _read_all(source, Limits())


def test_the_limits_are_settings_of_the_analysis() -> None:
    env = {"MAX_LINE_BYTES": "64KiB", "MAX_COMPRESSION_RATIO": "250",
           "MAX_DECOMPRESSED_BYTES": "1GiB", "PORT": "ignored by an analysis"}  # fmt: skip
    options = options_from_config(load_config(env, ANALYSIS_SETTINGS))
    assert options.limits == Limits(1024**3, 250, 64 * 1024)
    assert options_from_config(load_config({})).limits == Limits()
    # By default a gzip may hold as much as the biggest plain upload, no more.
    assert Limits().max_decompressed_bytes == Config().max_upload_bytes == 16 * 1024**3
    for name, value in (("MAX_LINE_BYTES", "100"), ("MAX_COMPRESSION_RATIO", "0")):
        with pytest.raises(ConfigError, match=f"{name}=.* too small"):
            load_config({name: value}, ANALYSIS_SETTINGS)
