"""Inputs: finding log files and cutting them into blocks at safe boundaries."""

from __future__ import annotations

import gzip
import io
import itertools
from pathlib import Path

import pytest

from loglens.analysis.lines import looks_like_continuation
from loglens.processor.inputs import (
    expand_paths,
    file_ranges,
    first_boundary,
    last_boundary,
    read_blocks,
)

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
    assert b"".join(b for _, b in blocks) == data
    offset = 0
    for start, chunk in blocks:
        assert start == offset
        offset += len(chunk)
        if start:
            assert_good_cut(data, start)


def test_read_blocks_splits_a_monstrous_line_rather_than_hold_it() -> None:
    data = b"x" * 10_000 + b"\nend\n"
    blocks = list(read_blocks(io.BytesIO(data), 1000))
    assert b"".join(b for _, b in blocks) == data
    assert max(len(b) for _, b in blocks) <= 5000
