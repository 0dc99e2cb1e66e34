"""Turn a newline-aligned block of bytes into lines, and sort out the lines that are no text.

Rejection reasons decided here, before any format is applied:
- `empty`: nothing but white space;
- `binary`: a NUL byte, or at least one byte in ten is a control character (TAB, CR, LF,
  VT and FF do not count; ANSI colour sequences are removed first, they are not garbage);
- `too_long`: more than MAX_LINE_BYTES bytes, not counting the newline. The whole line is
  rejected (its start is its sample): a line that long is a dump (a payload, base64, a
  file without newlines), and parsing part of it as an entry would count what it is not.
  Whoever reads the input holds only its first MAX_LINE_BYTES + 1 bytes (see
  `processor.inputs`); lines are measured all at once, from the block's line lengths.

A line that is readable but not valid UTF-8 (a stray Latin-1 byte, say) is *repaired*, not
rejected: it stays an entry, its undecodable bytes shown as `\\xNN`, and is counted as
`invalid_encoding` among the repaired lines. One byte must not cost an on-call engineer
the ERROR entry it sits in. A line where a third or more of the bytes are undecodable is
`binary`.

Continuation lines (stack-trace frames, `Caused by:`, Python tracebacks) are recognised by
their shape alone, so the same test can be made on one line when a file is split.

Comment lines start with `#`. Where one stands decides what it is (see `chunk`): a
directive or comment of the file (W3C `#Fields:`, Zeek `#types`, `# a note`) or a line of
the entry it follows (`# Query_time:` in a MySQL slow log). Lines shaped like the header
directives of W3C extended logs and Zeek logs (`DIRECTIVE`) are directives wherever they
stand: servers write their header block again when they restart, Zeek ends with `#close`.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import polars as pl

EMPTY = "empty"
BINARY = "binary"
TOO_LONG = "too_long"
INVALID_ENCODING = "invalid_encoding"  # a repair, not a rejection

# C0 controls except TAB LF VT FF CR, and DEL. ESC is here: colour codes are removed first.
CONTROL_CLASS = r"[\x00-\x08\x0e-\x1f\x7f]"
_CONTROL_BYTES = re.compile(CONTROL_CLASS.encode())
_CONTROL_SET = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
# bytes.translate runs at memory speed, Python's re scans a char class ~20x slower:
# mapping every control byte to NUL lets bytes.find (memchr) locate them.
_CONTROLS_TO_NUL = bytes.maketrans(_CONTROL_SET, bytes(len(_CONTROL_SET)))
_ANSI_ESCAPE = r"\x1b\[[0-9;?]*[ -/]*[@-~]"
_ANSI_ESCAPE_RE = re.compile(_ANSI_ESCAPE)
_MANY_SUSPECTS = 2000  # beyond this many lines with control bytes, work vectorised
_BINARY_SHARE = 10  # a line is binary when controls * _BINARY_SHARE >= its length
_DECODE_WINDOW = 1 << 16  # decoding a window, not the rest of the block, at each error
_UNDECODABLE_SHARE = 3  # ... or when undecodable bytes * _UNDECODABLE_SHARE >= its length
_SAMPLE_BYTES = 1024  # what is kept of an over-long line, to show as its sample

INDENTED = r"^[ \t]+\S"
# Lines that only ever follow an entry, each shape very unlikely to start one in any format:
# Java, Python, PHP and Go stack traces and their chains, the closing tags and declarations
# of XML bodies, and lines that only close a structure (`}`, `"}`, `]);`) or elide a part.
# Not `panic: ` (it starts a Go panic report) nor opening tags (XML-record logs such as
# log4j's XMLLayout start their entries with one).
_GO_FRAME = (
    # main.main(), net/http.(*conn).serve(0xc0000a8000, {0x6c7e38, 0x1}), pkg.F[...](...)
    r"(?:[\w.\-/]*\w\.(?:\(\*?[\w.\[\]]+\)\.)?[\w.\[\]]*\w|panic)"
    r"\((?:\.\.\.|\{?0x[0-9a-f].*)?\)$"
)
_CONTINUATION_MARKERS = (
    r"^(?:at [A-Za-z_$]|Caused by: |Suppressed: |Traceback \(most recent call last\)"
    r"|During handling of the above exception|The above exception was the direct cause"
    r"|Exception in thread \"|\.\.\. \d+ (?:more|common frames omitted)"
    r"|[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*(?:Exception|Error|Throwable)(?::|$)"
    r"|File \"[^\"]+\", line \d+(?:, in \S.*)?$"  # a Python frame that lost its indentation
    # PHP: the trace of an exception (#0 /app/a.php(12): f(), #1 {main}) and Laravel's marks
    r"|Stack trace:$|\[stacktrace\]$|\[previous exception\] "
    r"|#\d+ (?:\{main\}$|\[internal function\]: |.+\(\d+\): )"
    # Go: a goroutine's header, its frames, who created it, the signal of a crash
    rf"|goroutine \d+ \[[^\]]+\]:$|{_GO_FRAME}|created by [^\s.]+\.\S+(?: in goroutine \d+)?$"
    r"|\[signal SIG[A-Z]+: "
    r"|</[A-Za-z][\w:.\-]*>|<\?xml[ ?]|<!(?:--|\[CDATA\[|DOCTYPE )"
    r"|[\]})\"']*[\]})][\]})\"',;]*\s*$|\.\.\.\s*$"
    r")"
)
CONTINUATION = rf"{INDENTED}|{_CONTINUATION_MARKERS}"
_CONTINUATION_RE = re.compile(CONTINUATION)
# Comment lines, and among them the header directives of W3C extended logs (`#Fields: …`,
# `#Software: …`) and Zeek logs (`#fields\t…`, `#separator \x09`); see the module docstring.
COMMENT = r"^#"
DIRECTIVE = r"^#[A-Za-z][\w\-]*(?:[:\t ]|$)"


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


@dataclass(frozen=True)
class Decoded:
    """A block as lines: text (null where rejected), reason (null where text), and raw
    bytes to show as the samples of rejected lines (binary lines whole, over-long lines
    their first `_SAMPLE_BYTES`)."""

    text: pl.Series
    reason: pl.Series
    repaired: int
    raw_samples: dict[int, bytes]


def decode_block(data: bytes, max_line_bytes: int | None = None) -> Decoded:
    """Split a block into lines, decode them, and name the ones that are not text (with
    `max_line_bytes`, also those longer than that).

    The clean common case costs a split, one UTF-8 validation in Rust and one scan for
    blank lines; lines with control bytes or invalid UTF-8 are handled one by one, since
    they are few (a block full of colour codes goes the vectorised way instead).
    """
    raw = split_block(data)
    reasons: dict[int, str] = {}
    samples: dict[int, bytes] = {}
    repaired = 0
    binary = pl.Series("text", raw, dtype=pl.Binary)
    sizes: list[pl.Series] = []

    def line_sizes() -> pl.Series:
        """The length of each line, measured once (before any line is blanked out)."""
        if not sizes:
            sizes.append(binary.bin.size())
        return sizes[0]

    def lines_at(positions: list[int]) -> list[int]:
        """The indices of the lines at these byte positions."""
        if not positions:
            return []
        return _line_indices((line_sizes() + 1).cum_sum(), positions)  # past each newline

    if max_line_bytes is not None and len(data) > max_line_bytes:
        too_long = (line_sizes() > max_line_bytes).arg_true()
        if len(too_long):
            # Blanked out, so that no later step scans them; rejected as too_long.
            for index in too_long.to_list():
                reasons[index] = TOO_LONG
                samples[index] = raw[index][:_SAMPLE_BYTES]
            blank = pl.repeat(b"", len(too_long), dtype=pl.Binary, eager=True)
            binary = binary.scatter(too_long, blank)  # in place: the sizes are measured
    try:
        text = binary.cast(pl.String)  # validates UTF-8 in Rust
    except pl.exceptions.PolarsError:
        fixes: dict[int, bytes] = {}
        for index in lines_at(_undecodable(data)):
            if index in reasons:
                continue  # too long: rejected already
            if _is_binary(raw[index]):
                reasons[index] = BINARY
                fixes[index] = b""
            else:
                fixes[index] = raw[index].decode("utf-8", "backslashreplace").encode()
                repaired += 1
        fixed = pl.Series(list(fixes.values()), dtype=pl.Binary)
        text = binary.clone().scatter(list(fixes), fixed).cast(pl.String)  # scatter is in place
    if b"\r" in data:
        text = text.str.strip_suffix("\r")
    marked = data.translate(_CONTROLS_TO_NUL)
    if b"\0" in marked:
        text = _clean_controls(text, lines_at(_control_positions(data, marked)), reasons)
    reason = pl.repeat(None, len(raw), dtype=pl.String, eager=True).alias("reason")
    if reasons:
        reason = reason.scatter(list(reasons), pl.Series(list(reasons.values()), dtype=pl.String))
    frame = pl.DataFrame({"text": text, "reason": reason}).with_columns(
        reason=pl.when(pl.col("reason").is_null() & ~pl.col("text").str.contains(r"\S"))
        .then(pl.lit(EMPTY))
        .otherwise(pl.col("reason"))
    )
    text = frame.select(pl.when(pl.col("reason").is_null()).then(pl.col("text")))["text"]
    samples.update({i: raw[i] for i, why in reasons.items() if why == BINARY})
    return Decoded(text, frame["reason"], repaired, samples)


def _clean_controls(text: pl.Series, suspects: list[int], reasons: dict[int, str]) -> pl.Series:
    """Remove colour codes and mark lines that are mostly control bytes as binary."""
    if len(suspects) > _MANY_SUSPECTS:
        cleaned = text.str.replace_all(_ANSI_ESCAPE, "")
        controls = cleaned.str.count_matches(CONTROL_CLASS)
        binary = cleaned.str.contains("\x00", literal=True) | (
            (controls > 0) & (controls * _BINARY_SHARE >= cleaned.str.len_bytes())
        )
        reasons.update(dict.fromkeys(binary.arg_true().to_list(), BINARY))
        return cleaned
    fixes: dict[int, str] = {}
    for index, line in zip(suspects, text.gather(suspects).to_list(), strict=True):
        clean = _ANSI_ESCAPE_RE.sub("", line)
        if _is_binary(clean.encode()):
            reasons[index] = BINARY
        elif clean != line:
            fixes[index] = clean
    if fixes:
        text = text.scatter(list(fixes), pl.Series(list(fixes.values()), dtype=pl.String))
    return text


def printable(raw: bytes | str, limit: int = 200) -> str:
    """Return a printable, bounded rendering of a line for samples and messages."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "backslashreplace")
    if raw.isprintable():
        return raw if len(raw) <= limit else raw[: limit - 1] + "…"
    shown = "".join(ch if ch.isprintable() or ch == "\t" else f"\\x{ord(ch):02x}" for ch in raw)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _control_positions(data: bytes, marked: bytes) -> list[int]:
    """Where the lines holding a control byte have one: the first in each such line.

    `marked` is `data` with every control byte turned to NUL, so that bytes.find (memchr)
    does the scanning. Stops after `_MANY_SUSPECTS` + 1 lines: then a vectorised pass over
    every line is cheaper than handling them one by one.
    """
    positions: list[int] = []
    at = marked.find(b"\0")
    while at >= 0 and len(positions) <= _MANY_SUSPECTS:
        positions.append(at)
        line_end = data.find(b"\n", at)
        if line_end < 0:
            break
        at = marked.find(b"\0", line_end)
    return positions


def _line_indices(ends: pl.Series, positions: list[int]) -> list[int]:
    """The indices of the lines that end at ``ends`` (past their newline) at these positions."""
    found = ends.search_sorted(pl.Series(positions, dtype=ends.dtype), side="right")
    return found.to_list()


def _undecodable(block: bytes) -> list[int]:
    """Byte positions of the first undecodable byte of each line that is not valid UTF-8.

    The block is decoded once, window by window; each error names a line, and decoding
    resumes after that line, so the cost stays one pass whatever the number of bad lines.
    """
    view = memoryview(block)
    bad: list[int] = []
    position = 0
    while position < len(block):
        end = min(position + _DECODE_WINDOW, len(block))
        try:
            _, consumed = codecs.utf_8_decode(view[position:end], "strict", end == len(block))
        except UnicodeDecodeError as exc:
            error_at = position + exc.start
        else:
            position += consumed
            continue
        bad.append(error_at)
        line_end = block.find(b"\n", error_at)
        position = len(block) if line_end < 0 else line_end + 1
    return bad


def _is_binary(line: bytes) -> bool:
    """Tell whether a line is garbage: a NUL, or too many control or undecodable bytes."""
    line = line.removesuffix(b"\r")
    size = max(len(line), 1)
    controls = len(_CONTROL_BYTES.findall(line))
    undecodable = line.decode("utf-8", "replace").count("\ufffd")
    return (
        b"\x00" in line
        or controls * _BINARY_SHARE >= size
        or undecodable * _UNDECODABLE_SHARE >= size
    )
