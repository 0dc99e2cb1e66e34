"""Find the log files named on a command line and read them in newline-aligned blocks.

A path may be a file, a directory (its files with log-like names, recursively; hidden
ones skipped), a glob, or `-` for standard input. Gzip files are recognised by their
magic bytes, whatever their name. A block boundary is always put before a line that does
not look like a continuation line, so a stack trace is never cut between two blocks
(unless it runs on for more than `_MAX_ALIGN_BYTES`).

What is read stays within `Limits`, whatever the input:
- a gzip file is decompressed to at most `max_decompressed_bytes`, and past its first
  `RATIO_FREE_BYTES` to at most `max_compression_ratio` times its own size; past either
  limit reading fails with an InputError that names the setting and the figures (the
  file is not analysed: nothing is silently truncated). This holds for every gzip the
  analysis opens, whatever said it was one: a stored upload that is itself a gzip (sent
  as plain, or a gzip inside the gzip the server unpacked) is held to the same limits.
- a line longer than `max_line_bytes` (not counting its newline) is kept only up to its
  first `max_line_bytes` + 1 bytes: the rest is skipped as it is read, so memory stays
  about a block plus one line however long the line runs. The line is then rejected as
  `too_long` when the block is decoded (see `analysis.lines`), its start as the sample.
"""

from __future__ import annotations

import collections
import glob
import gzip
import itertools
import os
import re
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from loglens.analysis.lines import looks_like_continuation
from loglens.config import RATIO_FREE_BYTES, Config
from loglens.errors import InputError
from loglens.processor.framings import Reframed, sniff_framing

STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 256  # what tells a file's kind from its start
_LOG_NAME = re.compile(
    r"(\.(log|txt|out|err|jsonl|ndjson|gz)|\.log\.\d+(\.gz)?|^[^.]+)$", re.IGNORECASE
)
_GLOB_CHARS = re.compile(r"[*?\[]")
# A boundary search gives up after this much continuation-looking text and splits anyway.
_MAX_ALIGN_BYTES = 4 * 1024 * 1024
# A range read piece by piece (to cut its over-long lines) is read this much at a time.
_PIECE_BYTES = 1024 * 1024


class Readable(Protocol):
    """Anything with a binary `read(size)`: files, gzip streams, stdin."""

    def read(self, size: int, /) -> bytes:
        """Read up to `size` bytes; b"" at the end."""
        ...


class Stream(Readable, Protocol):
    """A readable source that must be closed."""

    def close(self) -> None:
        """Release what the stream holds."""
        ...


@dataclass(frozen=True)
class Limits:
    """The most the analysis reads of an input (see the module docstring)."""

    max_decompressed_bytes: int = Config.max_decompressed_bytes
    max_compression_ratio: int = Config.max_compression_ratio
    max_line_bytes: int = Config.max_line_bytes


@dataclass(frozen=True)
class Source:
    """One input: the name shown to the user, where to read it, and how."""

    name: str
    path: Path | None
    gzip: bool
    size: int
    framing: str | None = None  # records read as JSON lines (see ``framings``)


def expand_paths(paths: Sequence[str]) -> tuple[list[Source], list[InputError]]:
    """Turn command-line paths into sources; problems are returned, not raised."""
    sources: list[Source] = []
    problems: list[InputError] = []
    seen: set[Path] = set()

    def add(path: Path, shown: str) -> None:
        resolved = path.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        try:
            sources.append(_open_source(path, shown))
        except InputError as exc:
            problems.append(exc)

    for given in paths:
        if given == STDIN:
            sources.append(Source(STDIN, None, gzip=False, size=0))
            continue
        path = Path(given)
        if path.is_dir():
            found = sorted(_log_files(path))
            if not found:
                problems.append(
                    InputError(f"{given}: directory holds no log files (*.log, *.gz, *.txt, …)")
                )
            for file in found:
                add(file, str(file))
        elif path.is_file():
            add(path, given)
        elif _GLOB_CHARS.search(given):
            matches = sorted(Path(m) for m in glob.glob(given, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                problems.append(InputError(f"{given}: no file matches this pattern"))
            for file in files:
                add(file, str(file))
        elif path.exists():
            problems.append(InputError(f"{given}: not a regular file"))
        else:
            problems.append(InputError(f"{given}: no such file or directory"))
    return sources, problems


def _log_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and _LOG_NAME.search(name):
                yield Path(dirpath, name)


def _open_source(path: Path, shown: str) -> Source:
    try:
        return sniff_source(path, shown)
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror}") from exc


def sniff_source(path: Path, name: str) -> Source:
    """The file at `path` as a source, told by its first bytes: plain or gzip, and its
    framing (see ``framings``); OSError if it cannot be read."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
        size = handle.seek(0, os.SEEK_END)
    packed = head.startswith(GZIP_MAGIC)
    if packed:
        try:
            with gzip.open(path, "rb") as unpacked:
                head = unpacked.read(_SNIFF_BYTES)
        except (EOFError, zlib.error, gzip.BadGzipFile):
            head = b""  # reading it says what is wrong
    return Source(name, path, gzip=packed, size=size, framing=sniff_framing(head))


def open_stream(source: Source, limits: Limits | None = None) -> Stream:
    """Open a source for sequential reading of its bytes, a gzip's decompressed within
    `limits` (reading past them raises InputError), records of a framing as JSON lines."""
    if source.path is None:
        return sys.stdin.buffer
    limits = limits or Limits()
    try:
        stream: Stream = _Gunzipped(source, limits) if source.gzip else source.path.open("rb")
    except OSError as exc:
        raise InputError(f"{source.name}: cannot read: {exc.strerror}") from exc
    if source.framing is not None:
        return Reframed(stream, source.name, source.framing, limits.max_line_bytes)
    return stream


class _Gunzipped:
    """The decompressed bytes of a gzip file, never more than its limits allow."""

    def __init__(self, source: Source, limits: Limits) -> None:
        assert source.path is not None
        self._name = source.name
        self._packed = source.size
        self._ratio = limits.max_compression_ratio
        self._cap = limits.max_decompressed_bytes
        by_ratio = max(RATIO_FREE_BYTES, self._ratio * source.size)
        self._ratio_binds = by_ratio < self._cap
        self._allowed = min(self._cap, by_ratio)
        self._read = 0
        self._file = gzip.GzipFile(source.path, "rb")

    def read(self, size: int, /) -> bytes:
        """Read up to `size` decompressed bytes; InputError past the limits or on bad gzip."""
        # One byte past the allowance, at most: enough to know it is passed.
        want = min(size, self._allowed + 1 - self._read)
        try:
            data = self._file.read(want)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InputError(f"{self._name}: not valid gzip: {exc}") from exc
        except OSError as exc:
            raise InputError(f"{self._name}: cannot read: {exc}") from exc
        self._read += len(data)
        if self._read > self._allowed:
            raise InputError(self._refusal())
        return data

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def _refusal(self) -> str:
        if self._ratio_binds:
            return (
                f"{self._name}: not analysed: its {self._packed:,} bytes of gzip decompress "
                f"to more than {self._allowed:,} bytes (past {RATIO_FREE_BYTES // 2**20} MiB, "
                f"a gzip may hold MAX_COMPRESSION_RATIO={self._ratio} times its size): a "
                "gzip bomb? If not, raise MAX_COMPRESSION_RATIO"
            )
        return (
            f"{self._name}: not analysed: it decompresses to more than {self._cap:,} bytes, "
            f"the most allowed (MAX_DECOMPRESSED_BYTES={self._cap:,})"
        )


def last_boundary(data: bytes) -> int:
    """Return the last good place to cut `data`, or 0 when it holds none.

    A good place follows a newline and precedes a complete line that does not look like a
    continuation line. After `_MAX_ALIGN_BYTES` of continuation lines it settles for the
    last newline: a giant trace may be cut, and the summaries still merge exactly.
    """
    last_newline = data.rfind(b"\n")
    if last_newline < 0:
        return 0
    line_end = last_newline
    while True:
        start = data.rfind(b"\n", 0, line_end) + 1
        if start == 0:
            return 0
        if not looks_like_continuation(data[start:line_end].decode("utf-8", "replace")):
            return start
        if last_newline - start > _MAX_ALIGN_BYTES:
            return last_newline + 1
        line_end = start - 1


def first_boundary(window: bytes) -> int:
    """Return the first good place to cut in `window` (after its first newline), or 0."""
    start = window.find(b"\n") + 1
    while 0 < start < len(window):
        line_end = window.find(b"\n", start)
        if line_end < 0:
            return 0
        if not looks_like_continuation(window[start:line_end].decode("utf-8", "replace")):
            return start
        start = line_end + 1
    return 0


class LineCutter:
    """Cuts the lines of a stream that run past `max_line_bytes` as its pieces go by.

    Each piece is passed on but for the bytes of an over-long line past its first
    `max_line_bytes` + 1 (one more than allowed: the decoder then knows the line is too
    long). Only the line still open at the end of a piece is measured, with bytes.rfind:
    a complete line inside one piece is no longer than the piece, and the decoder
    rejects it by its length. `skips` lists (position in the output, bytes skipped there).
    """

    def __init__(self, max_line_bytes: int) -> None:
        self._keep = max_line_bytes + 1
        self._open = 0  # bytes passed on of the line still open
        self._skipping = False
        self._out = 0  # bytes passed on so far
        self.skips: collections.deque[tuple[int, int]] = collections.deque()

    def cut(self, piece: bytes) -> bytes:
        """Return what to keep of the next piece of the stream."""
        kept: list[bytes] = []
        at = 0  # where the lines that start in this piece start
        if self._skipping or self._open:
            # The line open before this piece: it runs to the first newline, if any.
            end = piece.find(b"\n")
            stop = len(piece) if end < 0 else end
            room = 0 if self._skipping else self._keep - self._open
            if self._skipping or stop > room:
                self._pass(kept, piece[:room])
                self._skip(stop - room)
                self._skipping = end < 0
                if self._skipping:
                    return b"".join(kept)
                self._open, at = 0, end
        last_newline = piece.rfind(b"\n", at)
        if last_newline >= 0:
            line_start, before = last_newline + 1, 0
        else:
            line_start, before = at, self._open
        self._open = before + len(piece) - line_start
        if self._open > self._keep:  # the line left open is too long: keep its start
            cut = line_start + self._keep - before
            self._pass(kept, piece[at:cut])
            self._skip(len(piece) - cut)
            self._skipping = True
        else:
            self._pass(kept, piece[at:] if at else piece)
        return kept[0] if len(kept) == 1 else b"".join(kept)

    def _pass(self, kept: list[bytes], part: bytes) -> None:
        kept.append(part)
        self._out += len(part)

    def _skip(self, count: int) -> None:
        if count:
            self.skips.append((self._out, count))


def read_blocks(
    stream: Readable, block_bytes: int, max_line_bytes: int = Config.max_line_bytes
) -> Iterator[tuple[int, int, bytes]]:
    """Yield (offset, length, block) triples that cover a stream, cut at good boundaries.

    `length` is what a block covers of the stream: more than the block where over-long
    lines were cut (see `LineCutter`). A block holds about `block_bytes` plus one line of
    at most `max_line_bytes` + 1 bytes (and up to `_MAX_ALIGN_BYTES` of a stack trace).
    """
    cutter = LineCutter(max_line_bytes)
    pending = b""
    offset = 0  # where pending starts, in the stream
    kept = 0  # where pending starts, in the cutter's output

    def take(cut: int) -> tuple[int, int, bytes]:
        """The first `cut` bytes of pending as a block, with the bytes skipped in them: a
        skip lies inside its line, so it is the block's if it comes before the cut."""
        nonlocal pending, offset, kept
        skipped = 0
        last = cut == len(pending)  # a skip at the very end is the last line's
        while cutter.skips and (last or cutter.skips[0][0] < kept + cut):
            skipped += cutter.skips.popleft()[1]
        block = (offset, cut + skipped, pending[:cut])
        pending = pending[cut:]
        offset += cut + skipped
        kept += cut
        return block

    while more := stream.read(block_bytes):
        pending += cutter.cut(more)
        if len(pending) < block_bytes:
            continue
        # No good place (0) means one line, cut short by now if it is too long, or less
        # than _MAX_ALIGN_BYTES of continuation lines: a bounded wait.
        cut = last_boundary(pending)
        if cut:
            yield take(cut)
    if pending or cutter.skips:
        yield take(len(pending))


def file_ranges(path: Path, size: int, block_bytes: int) -> list[tuple[int, int]]:
    """Split a plain file into (offset, length) ranges cut at good boundaries.

    A range runs on past an over-long line, which `read_range` cuts as it reads it; and
    past at most `_MAX_ALIGN_BYTES` of continuation lines, then it settles for a newline.
    """
    cuts = [0]
    window_bytes = min(block_bytes, _MAX_ALIGN_BYTES)
    with path.open("rb") as handle:
        target = aim = block_bytes
        while target < size:
            handle.seek(target - 1)
            window = handle.read(window_bytes)
            cut = first_boundary(window)
            if not cut and target - aim > _MAX_ALIGN_BYTES:
                cut = window.find(b"\n") + 1  # a giant trace: cut it (summaries still merge)
            if cut:
                cuts.append(target - 1 + cut)
                target = aim = cuts[-1] + block_bytes
            else:
                target += window_bytes
    cuts.append(size)
    return [(a, b - a) for a, b in itertools.pairwise(cuts) if b > a]


def read_range(
    path: Path,
    offset: int,
    length: int,
    max_line_bytes: int = Config.max_line_bytes,
    whole_bytes: int = 0,
) -> bytes:
    """Read `length` bytes of a file from `offset`: at once if they are no more than
    `whole_bytes` (the fast way for a range of ordinary lines), else piece by piece,
    cutting its over-long lines (see `LineCutter`)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        if length <= max(whole_bytes, _PIECE_BYTES):
            return handle.read(length)
        cutter = LineCutter(max_line_bytes)
        kept: list[bytes] = []
        left = length
        while left > 0 and (piece := handle.read(min(_PIECE_BYTES, left))):
            left -= len(piece)
            kept.append(cutter.cut(piece))
        return b"".join(kept)
