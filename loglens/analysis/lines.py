"""Turn a newline-aligned block of bytes into lines, and sort out the lines that are no text.

Rejection reasons decided here, before any format is applied:
- `empty`: nothing but white space;
- `binary`: a NUL byte, or at least one byte in ten is a control character (TAB, CR, LF,
  VT and FF do not count; ANSI colour sequences are removed first, they are not garbage);

A line that is readable but not valid UTF-8 (a stray Latin-1 byte, say) is *repaired*, not
rejected: it stays an entry, its undecodable bytes shown as `\\xNN`, and is counted as
`invalid_encoding` among the repaired lines. One byte must not cost an on-call engineer
the ERROR entry it sits in. A line where a third or more of the bytes are undecodable is
`binary`.

Continuation lines (stack-trace frames, `Caused by:`, Python tracebacks) are recognised by
their shape alone, so the same test can be made on one line when a file is split.
"""

from __future__ import annotations

import re

import polars as pl

EMPTY = "empty"
BINARY = "binary"
INVALID_ENCODING = "invalid_encoding"  # a repair, not a rejection

# C0 controls except TAB LF VT FF CR, and DEL. ESC is here: colour codes are removed first.
CONTROL_CLASS = r"[\x00-\x08\x0e-\x1f\x7f]"
_CONTROL_BYTES = re.compile(CONTROL_CLASS.encode())
_ANSI_ESCAPE = r"\x1b\[[0-9;?]*[ -/]*[@-~]"
_BINARY_SHARE = 10  # a line is binary when controls * _BINARY_SHARE >= its length
_UNDECODABLE_SHARE = 3  # ... or when undecodable bytes * _UNDECODABLE_SHARE >= its length

INDENTED = r"^[ \t]+\S"
# Lines that only ever follow an entry: Java and Python stack traces and their chains,
# and the closing brackets of pretty-printed structures.
_CONTINUATION_MARKERS = (
    r"^(?:at [A-Za-z_$]|Caused by: |Suppressed: |Traceback \(most recent call last\)"
    r"|During handling of the above exception|The above exception was the direct cause"
    r"|Exception in thread \"|\.\.\. \d+ (?:more|common frames omitted)"
    r"|[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*(?:Exception|Error|Throwable)(?::|$)"
    r"|[\]})],?$)"
)
CONTINUATION = rf"{INDENTED}|{_CONTINUATION_MARKERS}"
_CONTINUATION_RE = re.compile(CONTINUATION)


def looks_like_continuation(line: str) -> bool:
    """Tell whether one line has the shape of a continuation line (used at split points)."""
    return _CONTINUATION_RE.match(line) is not None


def split_block(data: bytes) -> list[bytes]:
    """Split a block into lines without their terminators; a final newline ends no line."""
    if not data:
        return []
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    return parts


def decode_lines(parts: list[bytes], has_controls: bool) -> tuple[pl.Series, pl.Series, int]:
    """Decode lines to text and name the ones that are not text.

    Returns the text (null where the line is rejected), the rejection reason (null where
    the line is text) and the number of lines repaired from invalid UTF-8. `has_controls`
    says whether the block holds any control byte at all, which lets the common clean
    block skip the per-line control count.
    """
    reason = pl.Series("reason", [None] * len(parts), dtype=pl.String)
    undecodable = _undecodable(parts)
    repaired = 0
    if undecodable:
        parts = parts.copy()
        binary = []
        for index in undecodable:
            if _is_binary(parts[index]):
                binary.append(index)
                parts[index] = b""
            else:
                text_of = parts[index].decode("utf-8", "backslashreplace")
                parts[index] = text_of.encode("utf-8")
                repaired += 1
        if binary:
            reason = reason.scatter(binary, pl.Series([BINARY] * len(binary), dtype=pl.String))
    raw = pl.Series("raw", parts, dtype=pl.Binary)
    text = raw.cast(pl.String).str.strip_suffix("\r")
    frame = pl.DataFrame({"text": text, "reason": reason})
    if has_controls:
        frame = frame.with_columns(pl.col("text").str.replace_all(_ANSI_ESCAPE, ""))
        controls = pl.col("text").str.count_matches(CONTROL_CLASS)
        is_binary = pl.col("text").str.contains("\x00", literal=True) | (
            controls * _BINARY_SHARE >= pl.col("text").str.len_bytes()
        ) & (controls > 0)
        frame = frame.with_columns(
            reason=pl.when(is_binary).then(pl.lit(BINARY)).otherwise(pl.col("reason"))
        )
    is_empty = ~pl.col("text").str.contains(r"\S")
    frame = frame.with_columns(
        reason=pl.when(pl.col("reason").is_null() & is_empty)
        .then(pl.lit(EMPTY))
        .otherwise(pl.col("reason"))
    ).with_columns(
        text=pl.when(pl.col("reason").is_null()).then(pl.col("text")),
    )
    return frame["text"], frame["reason"], repaired


def block_has_controls(data: bytes) -> bool:
    """Tell whether a block holds any control byte that could make a line binary."""
    return _CONTROL_BYTES.search(data) is not None


def printable(raw: bytes | str, limit: int = 200) -> str:
    """Return a printable, bounded rendering of a line for samples and messages."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "backslashreplace")
    shown = "".join(ch if ch.isprintable() or ch == "\t" else f"\\x{ord(ch):02x}" for ch in raw)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _undecodable(parts: list[bytes]) -> list[int]:
    """Indices of the lines that are not valid UTF-8 (one C-speed check when there are none)."""
    try:
        b"\n".join(parts).decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return []
    bad = []
    for index, line in enumerate(parts):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(index)
    return bad


def _is_binary(line: bytes) -> bool:
    """Tell whether a line that is not UTF-8 is garbage rather than text in another encoding."""
    line = line.removesuffix(b"\r")
    size = max(len(line), 1)
    controls = len(_CONTROL_BYTES.findall(line))
    undecodable = line.decode("utf-8", "replace").count("\ufffd")
    return (
        b"\x00" in line
        or controls * _BINARY_SHARE >= size
        or undecodable * _UNDECODABLE_SHARE >= size
    )
