"""Find the log files named on a command line and read them in newline-aligned blocks.

A path may be a file, a directory (its files with log-like names, recursively; hidden
ones skipped), a glob, or `-` for standard input. Gzip files are recognised by their
magic bytes, whatever their name. A block boundary is always put before a line that does
not look like a continuation line, so a stack trace is never cut between two blocks.
"""

from __future__ import annotations

import glob
import gzip
import itertools
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from loglens.analysis.lines import looks_like_continuation
from loglens.errors import InputError

STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"
_LOG_NAME = re.compile(
    r"(\.(log|txt|out|err|jsonl|ndjson|gz)|\.log\.\d+(\.gz)?|^[^.]+)$", re.IGNORECASE
)
_GLOB_CHARS = re.compile(r"[*?\[]")
# A boundary search gives up after this much continuation-looking text and splits anyway.
_MAX_ALIGN_BYTES = 4 * 1024 * 1024


class Readable(Protocol):
    """Anything with a binary `read(size)`: files, gzip streams, stdin."""

    def read(self, size: int, /) -> bytes:
        """Read up to `size` bytes; b"" at the end."""
        ...


@dataclass(frozen=True)
class Source:
    """One input: the name shown to the user, where to read it, and how."""

    name: str
    path: Path | None
    gzip: bool
    size: int


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
        with path.open("rb") as handle:
            magic = handle.read(2)
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror}") from exc
    return Source(shown, path, gzip=magic == GZIP_MAGIC, size=size)


def open_stream(source: Source) -> BinaryIO:
    """Open a source for sequential reading of its (decompressed) bytes."""
    if source.path is None:
        return sys.stdin.buffer
    try:
        if source.gzip:
            return gzip.open(source.path, "rb")  # type: ignore[return-value]
        return source.path.open("rb")
    except OSError as exc:
        raise InputError(f"{source.name}: cannot read: {exc.strerror}") from exc


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


def read_blocks(stream: Readable, block_bytes: int) -> Iterator[tuple[int, bytes]]:
    """Yield (offset, block) pairs that cover a stream, cut at good boundaries."""
    pending = b""
    offset = 0
    while more := stream.read(block_bytes):
        pending += more
        if len(pending) < block_bytes:
            continue
        cut = last_boundary(pending)
        if cut == 0 and len(pending) > 4 * block_bytes:
            cut = len(pending)  # one monstrous line: split it rather than hold it all
        if cut:
            yield offset, pending[:cut]
            offset += cut
            pending = pending[cut:]
    if pending:
        yield offset, pending


def file_ranges(path: Path, size: int, block_bytes: int) -> list[tuple[int, int]]:
    """Split a plain file into (offset, length) ranges cut at good boundaries."""
    cuts = [0]
    window_bytes = min(block_bytes, _MAX_ALIGN_BYTES)
    with path.open("rb") as handle:
        target = block_bytes
        while target < size:
            handle.seek(target - 1)
            window = handle.read(window_bytes)
            cut = first_boundary(window)
            if cut:
                cuts.append(target - 1 + cut)
                target = cuts[-1] + block_bytes
            else:
                target += window_bytes
    cuts.append(size)
    return [(a, b - a) for a, b in itertools.pairwise(cuts) if b > a]


def read_range(path: Path, offset: int, length: int) -> bytes:
    """Read `length` bytes of a file from `offset`."""
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(length)
