"""Logs whose entries are JSON records in another framing, read as JSON lines.

A file is told by its first bytes (``sniff_framing``) to be one of:

- ``export``: the systemd journal's export format (``journalctl -o export``): each entry a
  run of fields ended by an empty line; a field is ``NAME=value`` on one line or, when its
  value is binary or holds a newline, the name on its own line, the value's length as
  64-bit little-endian, the value and a newline (https://systemd.io/JOURNAL_EXPORT_FORMATS/);
- ``verbose``: ``journalctl -o verbose``: a line with the entry's time and cursor, then its
  fields indented, ``    NAME=value``; the cursor's ``t=`` is the time in hex microseconds;
- ``pretty``: pretty-printed JSON objects (``journalctl -o json-pretty``, ``jq .``), each from
  a line ``{`` to a line ``}``;
- ``prefixed``: one JSON object a line behind a marker: an RS byte (JSON text sequences,
  RFC 7464, ``json-seq``) or ``data:`` (server-sent events, ``json-sse``).

Each entry becomes one JSON object (for the journal the one ``journalctl -o json`` writes:
``__REALTIME_TIMESTAMP``, ``PRIORITY``, ``MESSAGE``, …) so that the JSON layout reads its
time, level and message. The object stands on the line where its entry starts, and as many
empty lines as the entry had follow it: line numbers stay those of the file, and evidence
points at the right place. What does not read as a record passes through unchanged.
"""

from __future__ import annotations

import itertools
import json
import re
import struct
from typing import Protocol

from loglens.errors import InputError

EXPORT = "export"
VERBOSE = "verbose"
PRETTY = "pretty"
PREFIXED = "prefixed"

# What each framing's files start with.
_EXPORT_OPENINGS = (b"__CURSOR=", b"__REALTIME_TIMESTAMP=")
_VERBOSE_HEADER = re.compile(
    rb"[A-Z][a-z]{2} [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]{8,15} [^ \n]+ \[s=[0-9a-f]+;i=[0-9a-f]+;"
    rb"[^\]\n]*\]\r?\n    [A-Za-z_][A-Za-z0-9_]*="
)
_PRETTY_OPENING = re.compile(rb"\{\r?\n[ \t]+\"")
_PREFIXES = (b"\x1e", b"data: ", b"data:")

# The line that closes a pretty-printed object: a brace at the start of a line.
_PRETTY_CLOSE = re.compile(rb"\n\}[ \t]*\r?\n")
_PRETTY_LAST_CLOSE = re.compile(rb"\n\}[ \t]*\r?$")
_LENGTH = struct.Struct("<Q")
_READ_BYTES = 1 << 20
_CURSOR_TIME = re.compile(r"(?:^|;)t=([0-9a-f]+)(?:;|$)")


def sniff_framing(head: bytes) -> str | None:
    """The framing of a file from its first bytes, or None for plain lines."""
    if head.startswith(_EXPORT_OPENINGS):
        return EXPORT
    if _VERBOSE_HEADER.match(head):
        return VERBOSE
    if _PRETTY_OPENING.match(head):
        return PRETTY
    if any(head.startswith(prefix + b"{") for prefix in _PREFIXES):
        return PREFIXED
    return None


def describe(framing: str) -> str:
    """What a framing is, for the report's format layout."""
    return {
        EXPORT: "systemd journal export (journalctl -o export), read as JSON",
        VERBOSE: "systemd journal, verbose (journalctl -o verbose), read as JSON",
        PRETTY: "pretty-printed JSON objects, read one an entry",
        PREFIXED: "JSON records behind a marker (RS: JSON text sequences; data: server-sent "
        "events), read as JSON lines",
    }[framing]


class _Stream(Protocol):
    def read(self, size: int, /) -> bytes: ...
    def close(self) -> None: ...


class Reframed:
    """A readable stream of JSON lines made from a stream in another framing."""

    def __init__(self, stream: _Stream, name: str, framing: str, max_line_bytes: int) -> None:
        self._stream = stream
        self._name = name
        self._convert = {
            EXPORT: self._export,
            VERBOSE: self._verbose,
            PRETTY: self._pretty,
            PREFIXED: self._prefixed,
        }[framing]
        self._max = max_line_bytes
        self._pending = b""  # input not yet made into records
        self._out = bytearray()  # JSON lines made, not yet read
        self._ended = False

    def read(self, size: int, /) -> bytes:
        """Read up to `size` bytes of JSON lines; b"" at the end."""
        while len(self._out) < size and not self._ended:
            data = self._stream.read(_READ_BYTES)
            if not data:
                self._ended = True
                if self._pending:
                    self._out += self._convert(self._pending, True)  # the rest, as it is
                self._pending = b""
                break
            self._pending = self._convert(self._pending + data, False)
            if len(self._pending) > self._max + _READ_BYTES:
                raise InputError(
                    f"{self._name}: a record of more than {self._max:,} bytes "
                    f"(MAX_LINE_BYTES={self._max:,})"
                )
        out = bytes(self._out[:size])
        del self._out[:size]
        return out

    def close(self) -> None:
        """Close the stream below."""
        self._stream.close()

    def _emit(self, record: dict[str, object] | None, raw: bytes) -> None:
        """One JSON line for the record that was `raw`, and an empty line for each more line
        it took; a record that could not be read keeps its lines."""
        if record is None:
            self._out += raw
            return
        self._out += json.dumps(record, ensure_ascii=False).encode()
        self._out += b"\n" * raw.count(b"\n")

    # -- the framings: each turns the complete records at the start of `data` into JSON
    # lines and returns the rest; at the end (`final`) it takes what it can.

    def _export(self, data: bytes, final: bool) -> bytes:
        if final and not data.endswith(b"\n\n"):
            data += b"\n" if data.endswith(b"\n") else b"\n\n"
        position = 0
        while position < len(data):
            entry = self._export_entry(data, position)
            if entry is None:
                if final:
                    raise InputError(f"{self._name}: journal export cut inside a binary field")
                break
            fields, end = entry
            self._emit(fields or None, data[position:end])
            position = end
        return data[position:]

    def _export_entry(self, data: bytes, start: int) -> tuple[dict[str, object], int] | None:
        fields: dict[str, object] = {}
        position = start
        while True:
            line_end = data.find(b"\n", position)
            if line_end < 0:
                return None
            if line_end == position:
                return fields, line_end + 1  # the empty line that ends the entry
            name, equals, value = data[position:line_end].partition(b"=")
            if equals:
                fields[_text(name)] = _text(value)
                position = line_end + 1
                continue
            value_start = line_end + 1 + _LENGTH.size  # a binary field: length, value, \n
            if len(data) < value_start:
                return None
            (length,) = _LENGTH.unpack_from(data, line_end + 1)
            if length > self._max:
                raise InputError(
                    f"{self._name}: journal export field {_text(name)!r} holds {length:,} "
                    f"bytes, more than MAX_LINE_BYTES={self._max:,}"
                )
            if len(data) < value_start + length + 1:
                return None
            fields[_text(name)] = _text(data[value_start : value_start + length])
            position = value_start + length + 1

    def _verbose(self, data: bytes, final: bool) -> bytes:
        end = len(data) if final else data.rfind(b"\n") + 1
        lines = data[:end].splitlines(keepends=True)
        starts = [i for i, line in enumerate(lines) if not line[:1].isspace()]
        # The last entry may go on in the data to come: it waits, unless this is the end.
        done = len(lines) if final else (starts[-1] if starts else 0)
        bounds = [i for i in starts if i < done] + [done]
        self._out += b"".join(lines[: bounds[0]])  # indented lines before any entry
        for first, after in itertools.pairwise(bounds):
            entry = lines[first:after]
            self._emit(_verbose_entry(entry), b"".join(entry))
        return b"".join(lines[done:]) + data[end:]

    def _pretty(self, data: bytes, final: bool) -> bytes:
        position = 0
        while position < len(data):
            if not data.startswith(b"{", position):
                line_end = data.find(b"\n", position)
                if line_end < 0:
                    break
                self._out += data[position : line_end + 1]  # no object: as it is
                position = line_end + 1
                continue
            close = _PRETTY_CLOSE.search(data, position) or (
                _PRETTY_LAST_CLOSE.search(data, position) if final else None
            )
            if close is None:
                break
            raw = data[position : close.end()]
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            self._emit(record if isinstance(record, dict) else None, raw)
            position = close.end()
        if final:
            self._out += data[position:]
            return b""
        return data[position:]

    def _prefixed(self, data: bytes, final: bool) -> bytes:
        cut = len(data) if final else data.rfind(b"\n") + 1
        lines = b"\n" + data[:cut]
        for prefix in _PREFIXES:
            lines = lines.replace(b"\n" + prefix, b"\n")
        self._out += lines[1:]
        return data[cut:]


def _verbose_entry(lines: list[bytes]) -> dict[str, object] | None:
    """The fields of one verbose entry: its header line, then `    NAME=value` lines (a line
    without a name goes on the value above)."""
    header = _text(lines[0]).rstrip("\r\n")
    opening = header.rfind(" [")
    if opening < 0 or not header.endswith("]"):
        return None
    cursor = header[opening + 2 : -1]
    fields: dict[str, object] = {"__CURSOR": cursor}
    found = _CURSOR_TIME.search(cursor)
    if found:
        fields["__REALTIME_TIMESTAMP"] = str(int(found.group(1), 16))
    name = ""
    for line in lines[1:]:
        text = _text(line).strip()
        key, equals, value = text.partition("=")
        if equals and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            name = key
            fields[name] = value
        elif name:
            fields[name] = f"{fields[name]}\n{text}"
    return fields


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")
