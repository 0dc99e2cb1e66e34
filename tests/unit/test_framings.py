"""Records in other framings (journal export and verbose, pretty JSON, RS or data: markers)
read as JSON lines, one per entry, on the file's lines."""

from __future__ import annotations

import io
import json
import struct

import pytest

from loglens.errors import InputError
from loglens.processor import framings
from loglens.processor.framings import PREFIXED, PRETTY, VERBOSE, Reframed, sniff_framing


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


EXPORT_LOG = _entry(0, "started") + _entry(1, b"two\nlines\x00", 3) + _entry(2, "caf\u00e9 open", 4)


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


def _convert(
    data: bytes, piece: int = 1 << 20, max_field: int = 1 << 20, framing: str = framings.EXPORT
) -> bytes:
    stream = Reframed(_Pieces(data, piece), "j.export", framing, max_field)
    out = b""
    while chunk := stream.read(7):
        out += chunk
    return out


@pytest.mark.parametrize("piece", [1, 2, 3, 8, 9, 64, 1 << 20])
def test_each_entry_is_one_json_line_where_it_starts(piece: int) -> None:
    out = _convert(EXPORT_LOG, piece)
    assert out.count(b"\n") == EXPORT_LOG.count(b"\n")  # the file's line numbers stay
    lines = out.split(b"\n")
    starts = [i for i, line in enumerate(lines) if line]
    # Where the file's entries start (the binary length 10 is itself a newline byte).
    assert starts == [
        i for i, line in enumerate(EXPORT_LOG.split(b"\n")) if line.startswith(b"__C")
    ]
    assert starts == [0, 7, 17]
    objects = [json.loads(lines[i]) for i in starts]
    assert [o["MESSAGE"] for o in objects] == ["started", "two\nlines\x00", "caf\u00e9 open"]
    assert [o["PRIORITY"] for o in objects] == ["6", "3", "4"]
    assert objects[0]["__REALTIME_TIMESTAMP"] == "1700000000000000"


def test_a_last_entry_without_its_empty_line_is_read() -> None:
    out = _convert(EXPORT_LOG[:-1])
    assert json.loads(out.split(b"\n")[17])["MESSAGE"] == "caf\u00e9 open"


def test_an_export_cut_inside_a_binary_field_is_an_error_naming_it() -> None:
    cut = EXPORT_LOG[: EXPORT_LOG.index(b"two\nlines") + 3]
    with pytest.raises(InputError, match="cut inside a binary field"):
        _convert(cut)


def test_a_field_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(InputError, match="MAX_LINE_BYTES"):
        _convert(_entry(0, b"x" * 5000), max_field=4096)


def test_closing_closes_the_stream_below() -> None:
    below = _Pieces(EXPORT_LOG, 100)
    Reframed(below, "j.export", framings.EXPORT, 1024).close()
    assert below.closed


def test_each_framing_is_told_by_its_first_bytes() -> None:
    assert sniff_framing(EXPORT_LOG) == framings.EXPORT
    assert sniff_framing(b"__REALTIME_TIMESTAMP=1700000000000000\nMESSAGE=x\n\n") == framings.EXPORT
    assert sniff_framing(VERBOSE_LOG) == VERBOSE
    assert sniff_framing(b'{\n    "MESSAGE": "x"\n}\n') == PRETTY
    assert sniff_framing(b'\x1e{"MESSAGE": "x"}\n') == PREFIXED
    assert sniff_framing(b'data: {"MESSAGE": "x"}\n\n') == PREFIXED
    for plain in (b'{"__CURSOR": "s=1"}\n', b"2024-01-01 INFO __CURSOR=1\n", b"{\n", b"data: x\n"):
        assert sniff_framing(plain) is None


VERBOSE_LOG = (
    b"Mon 2026-12-07 09:23:47.123456 UTC [s=8f3;i=0;b=b1;m=0;t=66207c86cb100;x=9]\n"
    b"    PRIORITY=3\n"
    b"    MESSAGE=disk failing\n"
    b"      on sda\n"
    b"    _PID=7\n"
    b"Mon 2026-12-07 09:23:48.123456 UTC [s=8f3;i=1;b=b1;m=1;t=66207c86da340;x=9]\n"
    b"    PRIORITY=6\n"
    b"    MESSAGE=ok\n"
)


@pytest.mark.parametrize("piece", [1, 5, 64, 1 << 20])
def test_verbose_entries_take_their_time_from_the_cursor(piece: int) -> None:
    out = _convert(VERBOSE_LOG, piece, framing=VERBOSE)
    lines = out.split(b"\n")
    assert out.count(b"\n") == VERBOSE_LOG.count(b"\n")
    assert [i for i, line in enumerate(lines) if line] == [0, 5]
    first, second = json.loads(lines[0]), json.loads(lines[5])
    assert first["MESSAGE"] == "disk failing\non sda"
    assert first["PRIORITY"] == "3"
    assert first["__REALTIME_TIMESTAMP"] == str(0x66207C86CB100)
    assert second["MESSAGE"] == "ok"


PRETTY_LOG = (
    b'{\n    "level": "error",\n    "msg": "a",\n    "ctx": {\n        "n": 1\n    }\n}\n'
    b"not json\n"
    b'{\n    "level": "info",\n    "msg": "b"\n}'
)


@pytest.mark.parametrize("piece", [1, 7, 1 << 20])
def test_pretty_objects_become_one_line_each(piece: int) -> None:
    out = _convert(PRETTY_LOG, piece, framing=PRETTY)
    lines = out.split(b"\n")
    assert json.loads(lines[0]) == {"level": "error", "msg": "a", "ctx": {"n": 1}}
    assert lines[1:7] == [b""] * 6
    assert lines[7] == b"not json"  # what is no object passes through
    assert json.loads(lines[8]) == {"level": "info", "msg": "b"}


@pytest.mark.parametrize("piece", [1, 3, 1 << 20])
def test_markers_before_json_lines_are_dropped(piece: int) -> None:
    seq = b'\x1e{"m": 1}\n\x1e{"m": 2}\n'
    assert _convert(seq, piece, framing=PREFIXED) == b'{"m": 1}\n{"m": 2}\n'
    sse = b'data: {"m": 1}\n\ndata:{"m": 2}\n\n'
    assert _convert(sse, piece, framing=PREFIXED) == b'{"m": 1}\n\n{"m": 2}\n\n'
