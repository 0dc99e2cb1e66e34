"""The server's side of the disk: partial uploads, verification, decompression, blobs.

Every function here blocks (file I/O, hashing, fsync): the server calls them in threads.
An upload is written to ``partial/<upload id>.part`` under ``STORAGE_PATH``; once all its
bytes are in, it is fsynced and its SHA-256 checked, a gzip upload is decompressed (with
a cap) into ``partial/<upload id>.content``, and the content is renamed to
``blobs/<sha256[:2]>/<sha256>``, a name the server chooses from the content itself. A
client's file name never becomes a path.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import zlib
from pathlib import Path
from typing import BinaryIO

from loglens.config import RATIO_FREE_BYTES
from loglens.protocol import ErrorCode, PeerError
from loglens.storage.write.streams import STREAMS_FOLDER as STREAMS

GZIP_MAGIC = b"\x1f\x8b"

_READ_BYTES = 1024 * 1024
# The errors of a full disk (or a full quota): the operator's to fix, not a bug.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` says the disk (or the quota) under STORAGE_PATH is full."""
    return isinstance(exc, OSError) and exc.errno in _DISK_FULL


class Storage:
    """The layout of STORAGE_PATH: `partial/` for uploads in progress, `blobs/` for content."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.partial = root / "partial"
        self.blobs = root / "blobs"
        # Uploads being received: their bytes still to come are promised disk space.
        self._receiving: dict[int, PartialFile] = {}

    def create(self) -> None:
        """Create the folders."""
        self.partial.mkdir(parents=True, exist_ok=True)
        self.blobs.mkdir(parents=True, exist_ok=True)
        (self.root / STREAMS).mkdir(parents=True, exist_ok=True)

    def partial_path(self, upload_id: int) -> Path:
        """Where upload `upload_id` is written while it arrives."""
        return self.partial / f"{upload_id}.part"

    def content_path(self, upload_id: int) -> Path:
        """Where the decompressed content of gzip upload `upload_id` is written."""
        return self.partial / f"{upload_id}.content"

    @staticmethod
    def blob_name(sha256: str) -> str:
        """The path of a blob, relative to the storage root."""
        return f"blobs/{sha256[:2]}/{sha256}"

    def resolve(self, name: str) -> Path:
        """The absolute path of a blob name."""
        return self.root / name

    def install(self, source: Path, sha256: str, mtime: float | None = None) -> str:
        """Move verified content into its blob, durably; return the blob's name.

        The same content may already be there (another upload of it finished first):
        blobs are named by their hash, so the copy in hand is simply dropped. `mtime`, the
        original file's modification time, gives year-less timestamps their year.
        """
        name = self.blob_name(sha256)
        target = self.resolve(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            source.unlink(missing_ok=True)
            return name
        if mtime is not None:
            os.utime(source, (mtime, mtime))
        os.replace(source, target)
        _fsync_dir(target.parent)
        return name

    def promised(self) -> int:
        """Bytes still to come of the uploads being received (space already promised)."""
        return sum(max(0, p.expected_size - p.offset) for p in self._receiving.values())

    def reserve(self, upload_id: int, partial: PartialFile) -> None:
        """Promise the rest of an upload its space until `release` (on the loop)."""
        self._receiving[upload_id] = partial

    def release(self, upload_id: int, partial: PartialFile) -> None:
        """Give back what `reserve` promised (only if `partial` still holds it)."""
        if self._receiving.get(upload_id) is partial:
            del self._receiving[upload_id]

    def discard(self, upload_id: int) -> None:
        """Delete whatever an upload left in `partial/`."""
        self.partial_path(upload_id).unlink(missing_ok=True)
        self.content_path(upload_id).unlink(missing_ok=True)


def is_stream_path(name: str) -> bool:
    """Whether a blob name is a stream's file (`streams/<upload id>.log`), not content
    named by its hash."""
    return name.startswith(f"{STREAMS}/")


def sync_size(path: Path) -> int:
    """Fsync a file and return its size: what it durably holds (0 if it does not exist)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return 0
    try:
        os.fsync(fd)
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


class PartialFile:
    """An upload being received: appends bytes and keeps their running SHA-256."""

    def __init__(self, path: Path, expected_size: int) -> None:
        """Open (or reopen, to resume) the partial file and hash what it already holds."""
        self.path = path
        self.expected_size = expected_size
        self._hash = hashlib.sha256()
        # Unbuffered: each frame goes from the receive buffer to the kernel in one write.
        self._file: BinaryIO = open(path, "a+b", buffering=0)  # noqa: SIM115 - closed by close()
        held = self._file.seek(0, os.SEEK_END)
        if held > expected_size:
            # More than the upload's size: not this upload's bytes. Start again.
            self._file.truncate(0)
            held = 0
        self._file.seek(0)
        while chunk := self._file.read(_READ_BYTES):
            self._hash.update(chunk)
        self.offset = held
        os.fsync(self._file.fileno())

    def write(self, data: bytes | memoryview) -> None:
        """Append the next bytes of the upload."""
        view = memoryview(data)
        while view:
            view = view[self._file.write(view) :]
        self._hash.update(data)
        self.offset += len(data)

    def sync(self) -> int:
        """Flush to disk; return the offset now durably held.

        It may run while another thread writes: the offset is read before the fsync, and
        it counts only bytes already written.
        """
        offset = self.offset
        os.fsync(self._file.fileno())
        return offset

    def hexdigest(self) -> str:
        """The SHA-256 of the bytes received so far."""
        return self._hash.hexdigest()

    def close(self) -> None:
        """Close the file (it stays on disk for a resume)."""
        self._file.close()


def decompress(source: Path, target: Path, cap: int, ratio: int) -> tuple[str, int]:
    """Gunzip `source` into `target`, fsynced; return the content's SHA-256 and size.

    Stops as soon as the output passes `cap` bytes, or `ratio` times the gzip's size past
    RATIO_FREE_BYTES, so a gzip bomb costs at most that much disk and one read buffer of
    memory. A gzip inside the gzip is refused: its content would escape both limits.
    """
    digest = hashlib.sha256()
    size = 0
    packed_size = source.stat().st_size
    allowed = min(cap, max(RATIO_FREE_BYTES, ratio * packed_size))
    try:
        with gzip.open(source, "rb") as packed, open(target, "wb") as out:
            while chunk := packed.read(_READ_BYTES):
                if size == 0 and chunk.startswith(GZIP_MAGIC):
                    raise PeerError(
                        ErrorCode.BAD_GZIP,
                        "upload rejected: it is a gzip inside a gzip; send the inner gzip "
                        "as it is (compression none) or its content",
                    )
                size += len(chunk)
                if size > allowed:
                    raise PeerError(
                        ErrorCode.DECOMPRESSED_TOO_LARGE,
                        _too_large(allowed, cap, ratio, packed_size),
                    )
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except (OSError, EOFError, zlib.error) as exc:
        target.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise  # the server's disk, not the client's gzip
        raise PeerError(
            ErrorCode.BAD_GZIP, f"upload rejected: it says gzip but is not valid gzip: {exc}"
        ) from None
    except PeerError:
        target.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size


def _too_large(allowed: int, cap: int, ratio: int, packed_size: int) -> str:
    if allowed < cap:
        return (
            f"upload rejected: its {packed_size:,} bytes of gzip decompress to more than "
            f"{allowed:,} bytes (past {RATIO_FREE_BYTES // 2**20} MiB, a gzip may hold "
            f"MAX_COMPRESSION_RATIO={ratio} times its size): a gzip bomb? Send it "
            "uncompressed, or ask for a higher MAX_COMPRESSION_RATIO"
        )
    return (
        f"upload rejected: it decompresses to more than {cap:,} bytes, the most the server "
        "accepts (MAX_DECOMPRESSED_BYTES)"
    )


def _fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
