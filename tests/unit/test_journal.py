"""The journal's export format read as JSON lines, one per entry, the file's lines kept."""

from __future__ import annotations

import io
import json
import struct

import pytest

from loglens.errors import InputError
from loglens.processor.journal import JournalExport, is_journal_export


def _entry(number: int, message: bytes | str, priority: int = 6) -> bytes:
    head = (
        f"__CURSOR=s=1;i={number:x}\n__REALTIME_TIMESTAMP={1_700_000_000_000_000 + number}\n"
        f"PRIORITY={priority}\nSYSLOG_IDENTIFIER=app\n"
    ).encode()
    if isinstance(message, str):
        field = f"MESSAGE={message}\n".encode()
    else:  # binary form: the name, the length, the value, a newline
        field = b"MESSAGE\n" + struct.pack("<Q", len(message)) + message + b"\n"
    return head + field + b"_PID=42\n\n"


EXPORT = _entry(0, "started") + _entry(1, b"two\nlines\x00", 3) + _entry(2, "caf\u00e9 open", 4)


class _Pieces:
    """A stream that gives at most `size` bytes a read, to cut entries anywhere."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data = io.BytesIO(data)
        self._size = size
        self.closed = False

    def read(self, size: int, /) -> bytes:
        return self._data.read(min(size, self._size))

    def close(self) -> None:
        self.closed = True


def _convert(data: bytes, piece: int = 1 << 20, max_field: int = 1 << 20) -> bytes:
    stream = JournalExport(_Pieces(data, piece), "j.export", max_field)
    out = b""
    while chunk := stream.read(7):
        out += chunk
    return out


@pytest.mark.parametrize("piece", [1, 2, 3, 8, 9, 64, 1 << 20])
def test_each_entry_is_one_json_line_where_it_starts(piece: int) -> None:
    out = _convert(EXPORT, piece)
    assert out.count(b"\n") == EXPORT.count(b"\n")  # the file's line numbers stay
    lines = out.split(b"\n")
    starts = [i for i, line in enumerate(lines) if line]
    # Where the file's entries start (the binary length 10 is itself a newline byte).
    assert starts == [i for i, line in enumerate(EXPORT.split(b"\n")) if line.startswith(b"__C")]
    assert starts == [0, 7, 17]
    objects = [json.loads(lines[i]) for i in starts]
    assert [o["MESSAGE"] for o in objects] == ["started", "two\nlines\x00", "caf\u00e9 open"]
    assert [o["PRIORITY"] for o in objects] == ["6", "3", "4"]
    assert objects[0]["__REALTIME_TIMESTAMP"] == "1700000000000000"


def test_a_last_entry_without_its_empty_line_is_read() -> None:
    out = _convert(EXPORT[:-1])
    assert json.loads(out.split(b"\n")[17])["MESSAGE"] == "caf\u00e9 open"


def test_an_export_cut_inside_a_binary_field_is_an_error_naming_it() -> None:
    cut = EXPORT[: EXPORT.index(b"two\nlines") + 3]
    with pytest.raises(InputError, match="cut inside a binary field"):
        _convert(cut)


def test_a_field_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(InputError, match="MAX_LINE_BYTES"):
        _convert(_entry(0, b"x" * 5000), max_field=4096)


def test_closing_closes_the_stream_below() -> None:
    below = _Pieces(EXPORT, 100)
    JournalExport(below, "j.export", 1024).close()
    assert below.closed


def test_only_an_export_is_taken_for_one() -> None:
    assert is_journal_export(EXPORT)
    assert is_journal_export(b"__REALTIME_TIMESTAMP=1700000000000000\nMESSAGE=x\n\n")
    assert not is_journal_export(b'{"__CURSOR": "s=1"}\n')
    assert not is_journal_export(b"2024-01-01 INFO __CURSOR=1\n")
