"""Follow a file as it grows, like ``tail -F``: across rotation, truncation and absence.

A ``Follower`` hands out the bytes appended to a path since the last call, as complete
lines (a line still being written waits for its newline), each batch with the offset it
starts at in the file it was read from. It survives:

- **rotation** (the file renamed or removed and a new one created at the path): the old
  file is read to its end first, so nothing written to it before the switch is lost, then
  the new one from its start;
- **truncation** (the file shrinks, ``> app.log`` or ``copytruncate``): read again from
  the start;
- **absence**: a path that does not exist yet, or not for a while, is waited for.

It polls (``os.stat`` and ``read``) rather than use inotify: it works the same on every
filesystem, NFS included, and a poll every quarter second costs nothing measurable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Read at most this much in one call: a batch stays small enough to analyse at once.
READ_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Batch:
    """Complete lines read from one file: where they start in it, and whether that file
    is a new one at the path (rotated or truncated: offsets start again from 0)."""

    data: bytes
    offset: int
    generation: int  # 0 for the first file followed, +1 at each rotation or truncation
    identity: tuple[int, int] | None = None  # the file's device and inode


class Follower:
    """The complete lines appended to a file since the last `read` (see the module doc)."""

    def __init__(self, path: Path, from_start: bool = True, max_line_bytes: int = 1 << 20) -> None:
        self.path = path
        self._from_start = from_start
        self._max_line = max_line_bytes
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._position = 0  # bytes of the current file consumed (complete lines handed out)
        self._partial = b""  # the start of a line whose newline has not come yet
        self.generation = 0
        self.events: list[str] = []  # what happened to the file, for the user: rotated, …

    def read(self) -> list[Batch]:
        """The batches of complete lines appended since the last call (maybe none)."""
        batches: list[Batch] = []
        if self._file is None and not self._open(first=True):
            return batches
        assert self._file is not None
        current = _identity_of(self.path)
        if current is not None and current != self._identity:
            # Rotated: finish the old file (a writer may have added to it before the
            # switch), then take the new one from its start.
            batches += self._drain(final=True)
            self._close()
            self.events.append("rotated")
            self.generation += 1
            if self._open(first=False):
                batches += self._drain(final=False)
            return batches
        if current is not None and os.fstat(self._file.fileno()).st_size < self._position:
            self.events.append("truncated")
            self.generation += 1
            self._file.seek(0)
            self._position = 0
            self._partial = b""
        batches += self._drain(final=False)
        return batches

    def close(self) -> None:
        """Stop following: close the file."""
        self._close()

    def resume(self, identity: tuple[int, int], position: int) -> bool:
        """Go on from `position` of the file `identity` (device, inode), as a run before
        this one left it: the file at the path, or, if it was rotated meanwhile, the file of
        that identity beside it (read to its end first, then the path's from its start).
        False when that file is gone (or was truncated): following starts from the start
        of the path's file, and what the old one held past `position` is lost."""
        found = self.path if _identity_of(self.path) == identity else None
        found = found or _sibling_with(self.path, identity)
        if found is None:
            return False
        try:
            handle = found.open("rb")
        except OSError:
            return False
        stat = os.fstat(handle.fileno())
        if (stat.st_dev, stat.st_ino) != identity or stat.st_size < position:
            handle.close()  # replaced or truncated since
            return False
        handle.seek(position)
        self._file, self._identity, self._position, self._partial = handle, identity, position, b""
        return True

    def _open(self, first: bool) -> bool:
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return False
        stat = os.fstat(handle.fileno())
        self._file = handle
        self._identity = (stat.st_dev, stat.st_ino)
        self._position = 0
        self._partial = b""
        if first and not self._from_start:
            # Start at the end, at a line's start: what was there before is not followed.
            handle.seek(stat.st_size)
            self._position = stat.st_size
        return True

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._identity = None

    def _drain(self, final: bool) -> list[Batch]:
        """Read the current file to its end now; hand out its complete lines (and, when
        it is left for good, the last line even without its newline)."""
        assert self._file is not None
        batches = []
        while True:
            data = self._file.read(READ_BYTES)
            if not data:
                break
            data = self._partial + data
            start = self._position
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) > self._max_line:
                cut = len(data)  # a line past any limit: hand it out, it will be rejected
            self._partial = data[cut:]
            if cut:
                batches.append(Batch(data[:cut], start, self.generation, self._identity))
                self._position = start + cut
        if final and self._partial:
            batches.append(
                Batch(self._partial + b"\n", self._position, self.generation, self._identity)
            )
            self._position += len(self._partial)
            self._partial = b""
        return batches


def _identity_of(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _sibling_with(path: Path, identity: tuple[int, int]) -> Path | None:
    """The file beside `path` (a rotated copy: app.log.1, …) that is `identity`, or None."""
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return None
    for entry in entries:
        try:
            stat = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) == identity:
            return Path(entry.path)
    return None
