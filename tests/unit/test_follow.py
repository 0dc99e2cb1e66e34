"""Following a file like tail -F: appends, partial lines, rotation, truncation, absence."""

from __future__ import annotations

import os
from pathlib import Path

from loglens.follow import Batch, Follower


def _text(batches: list[Batch]) -> bytes:
    return b"".join(batch.data for batch in batches)


def test_appended_lines_are_handed_out_once_and_a_partial_line_waits(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntwo\nthr")
    follower = Follower(path)
    first = follower.read()
    assert _text(first) == b"one\ntwo\n" and first[0].offset == 0
    assert follower.read() == []
    with path.open("ab") as handle:
        handle.write(b"ee\nfour\n")
    second = follower.read()
    assert _text(second) == b"three\nfour\n"
    assert second[0].offset == 8  # where "three" starts in the file


def test_a_file_that_does_not_exist_yet_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    follower = Follower(path)
    assert follower.read() == []
    path.write_bytes(b"now\n")
    assert _text(follower.read()) == b"now\n"


def test_rotation_reads_the_old_file_to_its_end_then_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"a\n")
    follower = Follower(path)
    assert _text(follower.read()) == b"a\n"
    with path.open("ab") as handle:
        handle.write(b"b\nc-without-newline")  # written just before the rename
    os.rename(path, tmp_path / "app.log.1")
    path.write_bytes(b"d\n")
    batches = follower.read()
    assert _text(batches) == b"b\nc-without-newline\nd\n"
    assert [batch.generation for batch in batches] == [0, 0, 1]
    assert batches[-1].offset == 0
    assert follower.events == ["rotated"]


def test_removed_then_created_again(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"a\n")
    follower = Follower(path)
    follower.read()
    path.unlink()
    assert follower.read() == []  # gone: wait
    path.write_bytes(b"b\n")
    assert _text(follower.read()) == b"b\n"


def test_truncation_starts_again_from_the_top(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"first line\nsecond line\n")
    follower = Follower(path)
    follower.read()
    with path.open("r+b") as handle:  # copytruncate: same file, emptied
        handle.truncate(0)
    path.write_bytes(b"x\n")
    batches = follower.read()
    assert _text(batches) == b"x\n"
    assert batches[0].offset == 0 and batches[0].generation == 1
    assert follower.events == ["truncated"]


def test_from_the_end_skips_what_was_there(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"old\n")
    follower = Follower(path, from_start=False)
    assert follower.read() == []
    with path.open("ab") as handle:
        handle.write(b"new\n")
    assert _text(follower.read()) == b"new\n"


def test_a_line_past_the_limit_is_handed_out_rather_than_held(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"x" * 5000)
    follower = Follower(path, max_line_bytes=1000)
    assert len(_text(follower.read())) == 5000


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def test_resume_goes_on_from_a_position_of_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntwo\nthree\n")
    follower = Follower(path)
    assert follower.resume(_identity(path), 4)
    batches = follower.read()
    assert _text(batches) == b"two\nthree\n"
    assert batches[0].offset == 4 and batches[0].identity == _identity(path)


def test_resume_finds_a_file_rotated_meanwhile_and_reads_it_to_its_end_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntwo\n")
    old = _identity(path)
    os.rename(path, tmp_path / "app.log.1")  # rotated while nobody followed
    path.write_bytes(b"three\n")
    follower = Follower(path)
    assert follower.resume(old, 4)
    batches = follower.read()
    assert _text(batches) == b"two\nthree\n"
    assert [(batch.identity, batch.offset) for batch in batches] == [
        (old, 4), (_identity(path), 0)
    ]  # fmt: skip


def test_resume_refuses_a_file_gone_or_shorter_than_the_position(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntwo\n")
    follower = Follower(path)
    assert not follower.resume(_identity(path), 100)  # truncated since
    gone = (_identity(path)[0], _identity(path)[1] + 12345)
    assert not follower.resume(gone, 0)
    assert _text(follower.read()) == b"one\ntwo\n"  # then it follows the path from its start
