"""The systemd journal's export format (``journalctl -o export``), read as JSON lines.

An export is a series of entries, each a run of fields ended by an empty line. A field is
``NAME=value`` on one line, or, when its value is binary or holds a newline, the name on its
own line, then the value's length as 64-bit little-endian and the value itself, then a
newline (https://systemd.io/JOURNAL_EXPORT_FORMATS/). Each entry becomes one JSON object,
the same one ``journalctl -o json`` writes (``__REALTIME_TIMESTAMP``, ``PRIORITY``,
``MESSAGE``, …), so the JSON layout reads its time, level and message.

The object stands on the line where its entry starts, and as many empty lines as the entry
had follow it: line numbers stay those of the file, so evidence points at the right place.
"""

from __future__ import annotations

import json
import struct
from typing import Protocol

from loglens.errors import InputError

# The fields an export entry opens with: journalctl writes the cursor first, the time next.
EXPORT_OPENINGS = (b"__CURSOR=", b"__REALTIME_TIMESTAMP=")
_LENGTH = struct.Struct("<Q")
_READ_BYTES = 1 << 20


def is_journal_export(head: bytes) -> bool:
    """Tell whether bytes at the start of a file are a journal export."""
    return head.startswith(EXPORT_OPENINGS)


class _Stream(Protocol):
    def read(self, size: int, /) -> bytes: ...
    def close(self) -> None: ...


class JournalExport:
    """A readable stream of JSON lines made from a stream of a journal export."""

    def __init__(self, stream: _Stream, name: str, max_field_bytes: int) -> None:
        self._stream = stream
        self._name = name
        self._max_field = max_field_bytes
        self._pending = b""  # input not yet made into entries
        self._out = bytearray()  # JSON lines made, not yet read
        self._ended = False

    def read(self, size: int, /) -> bytes:
        """Read up to `size` bytes of JSON lines; b"" at the end."""
        while len(self._out) < size and not self._ended:
            data = self._stream.read(_READ_BYTES)
            if not data:
                self._ended = True
                if self._pending.strip(b"\n"):
                    # The last entry lacks its empty line: a file cut short, or written so.
                    self._convert(self._pending + b"\n\n", final=True)
                self._pending = b""
                break
            self._pending = self._convert(self._pending + data, final=False)
        out = bytes(self._out[:size])
        del self._out[:size]
        return out

    def close(self) -> None:
        """Close the export's stream."""
        self._stream.close()

    def _convert(self, data: bytes, *, final: bool) -> bytes:
        """Turn the complete entries at the start of `data` into JSON lines; return the rest."""
        position = 0
        while True:
            entry = self._entry(data, position)
            if entry is None:
                if final and position < len(data) and data[position:].strip(b"\n"):
                    raise InputError(f"{self._name}: journal export cut inside a binary field")
                return data[position:]
            fields, end = entry
            newlines = data.count(b"\n", position, end)
            if fields:
                self._out += json.dumps(fields, ensure_ascii=False).encode()
            self._out += b"\n" * newlines
            position = end

    def _entry(self, data: bytes, start: int) -> tuple[dict[str, str], int] | None:
        """The fields of the entry at `start` and where it ends, or None if it is not all
        in `data` yet."""
        fields: dict[str, str] = {}
        position = start
        while True:
            line_end = data.find(b"\n", position)
            if line_end < 0:
                if len(data) - position > self._max_field:
                    raise InputError(f"{self._name}: journal export field past MAX_LINE_BYTES")
                return None
            if line_end == position:
                return fields, line_end + 1  # the empty line that ends the entry
            line = data[position:line_end]
            name, equals, value = line.partition(b"=")
            if equals:
                fields[_text(name)] = _text(value[: self._max_field])
                position = line_end + 1
                continue
            # A binary field: the length, the value, a newline.
            value_start = line_end + 1 + _LENGTH.size
            if len(data) < value_start:
                return None
            (length,) = _LENGTH.unpack_from(data, line_end + 1)
            if length > self._max_field:
                raise InputError(
                    f"{self._name}: journal export field {_text(name)!r} holds {length:,} "
                    f"bytes, more than MAX_LINE_BYTES={self._max_field:,}"
                )
            value_end = value_start + length
            if len(data) < value_end + 1:
                return None
            fields[_text(name)] = _text(data[value_start:value_end])
            position = value_end + 1


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")
