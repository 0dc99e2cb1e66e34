"""The bytes of one upload: into its partial file, verified, decompressed and stored.

The frames are read while the previous frame is written and hashed in a thread of the
server's I/O pool. Whatever ends the upload (the end, an error, a cancelled session), the
file is closed only once no thread works on it any more.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from loglens.protocol import ErrorCode, FrameType, PeerError, UploadHeader, end_sha256
from loglens.server.files import PartialFile, decompress
from loglens.storage import Stored

if TYPE_CHECKING:
    from loglens.server.session import Session

# Bytes between two PROGRESS frames (each one follows an fsync).
PROGRESS_BYTES = 256 * 1024 * 1024


class Receiver:
    """Receive one upload for a session that holds it."""

    def __init__(self, session: Session, upload_id: int, header: UploadHeader) -> None:
        self.session = session
        self.server = session.server
        self.upload_id = upload_id
        self.header = header
        # Operations on the upload's file still running in threads, if any.
        self._file_ops: list[concurrent.futures.Future[Any]] = []

    async def run(self) -> tuple[Stored, str, tuple[str, int]]:
        """Receive the bytes into the partial file, verify and store them; return what
        was recorded, the verified SHA-256 of the bytes, and the content's SHA-256 and
        size."""
        storage, loop = self.server.storage, asyncio.get_running_loop()
        upload_id, header = self.upload_id, self.header
        path = storage.partial_path(upload_id)
        partial = await asyncio.to_thread(PartialFile, path, header.size)
        try:
            await self._check_space(header.size - partial.offset)
            await self.session.send_json(
                FrameType.ACCEPTED,
                {"upload_id": upload_id, "offset": partial.offset, "duplicate": False},
            )
            sha256 = await self._receive_data(partial)
            await self._file_op(partial.sync)
        finally:
            # A write may still run in its thread (the session was cancelled while
            # awaiting it): let it end before the file is closed and handed over.
            try:
                await self._file_ops_ended()
            finally:
                partial.close()
        if partial.hexdigest() != sha256:
            await self._fail(upload_id, "hash mismatch")
            said = "the header" if header.sha256 is not None else "END"
            raise PeerError(
                ErrorCode.HASH_MISMATCH,
                f"upload rejected: the bytes received hash to {partial.hexdigest()}, "
                f"{said} said {sha256}; nothing was stored",
            )
        content_sha, content_size, source = sha256, header.size, path
        if header.compression == "gzip":
            source = storage.content_path(upload_id)
            try:
                content_sha, content_size = await loop.run_in_executor(
                    None, decompress, path, source, self.server.config.max_decompressed_bytes
                )
            except PeerError as exc:
                await self._fail(upload_id, exc.message)
                raise
        name = await asyncio.to_thread(storage.install, source, content_sha, header.mtime)
        if source != path:
            path.unlink(missing_ok=True)
        # Content already stored (known only now when the header deferred the hash) is
        # recognised here: its blob and job are reused, this upload recorded beside them.
        stored = await self.server.db.store_upload(
            upload_id, content_sha, content_size, name, sha256=sha256
        )
        return stored, sha256, (content_sha, content_size)

    async def _receive_data(self, partial: PartialFile) -> str:
        """Write DATA frames until END; return the SHA-256 the bytes must have (the
        header's, or END's). The write of one frame overlaps the read of the next.

        Each body is received straight into one of two buffers (see `Stream.readinto`):
        one is filled from the socket while a thread writes and hashes the other. Every
        PROGRESS_BYTES an fsync runs in a thread too, and PROGRESS follows once it is done,
        while the bytes keep coming.
        """
        header, upload_id = self.header, self.upload_id
        buffers = _Buffers()
        pending: asyncio.Future[Any] | None = None
        syncing: asyncio.Future[Any] | None = None
        next_progress = partial.offset + PROGRESS_BYTES
        received = partial.offset
        while True:
            frame = await self.session.next_frame(buffer_for=buffers.next)
            if frame.type is FrameType.END:
                sha256 = end_sha256(header, frame)
                break
            if frame.type is not FrameType.DATA:
                raise PeerError(
                    ErrorCode.UNEXPECTED_FRAME, f"expected DATA or END, got {frame.type.name}"
                )
            received += len(frame.data)
            if received > header.size:
                await self._settle(pending)
                await self._fail(upload_id, "more bytes than announced")
                raise PeerError(
                    ErrorCode.SIZE_MISMATCH,
                    f"upload rejected: more than the {header.size:,} bytes the header announced",
                )
            # The previous frame's buffer is free once its write is done; this frame is
            # written and hashed in a thread while the loop reads the next into the other.
            # (Writing and hashing in two threads at once cost more than it gained.)
            await self._settle(pending)
            pending = self._submit(partial.write, frame.data)
            if syncing is not None and syncing.done():
                await self.session.send_json(FrameType.PROGRESS, {"offset": syncing.result()})
                syncing = None
            if received >= next_progress and syncing is None:
                syncing = self._submit(partial.sync)
                next_progress = received + PROGRESS_BYTES
        await self._settle(pending)
        await self._settle(syncing)
        if received != header.size:
            raise PeerError(
                ErrorCode.SIZE_MISMATCH,
                f"upload incomplete: END after {received:,} of {header.size:,} bytes; "
                f"resume upload {upload_id} to send the rest",
            )
        return sha256

    @staticmethod
    async def _settle(pending: Awaitable[Any] | None) -> None:
        if pending is not None:
            await pending

    async def _file_op(self, op: Callable[[], Any]) -> Any:
        """Run one blocking operation on the upload's file in a thread; return its result."""
        return await self._submit(op)

    def _submit(self, op: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run a blocking operation on the upload's file in a thread of the server's I/O
        pool; it is remembered so that the file is never closed under it."""
        running = self.server.io.submit(op, *args)
        self._file_ops = [f for f in self._file_ops if not f.done()] + [running]
        return asyncio.wrap_future(running)

    async def _file_ops_ended(self) -> None:
        """Wait until no operation on the upload's file runs any more. A cancelled await
        does not stop a thread, so this waits on the threads' own futures."""
        running = [f for f in self._file_ops if not f.done()]
        if not running:
            return
        try:
            await asyncio.shield(asyncio.to_thread(concurrent.futures.wait, running))
        except asyncio.CancelledError:
            concurrent.futures.wait(running)  # cancelled again: a frame's write is short
            raise

    async def _check_space(self, needed: int) -> None:
        free = (await asyncio.to_thread(shutil.disk_usage, self.server.storage.root)).free
        if needed > free:
            raise PeerError(
                ErrorCode.INSUFFICIENT_STORAGE,
                f"upload refused: it needs {needed:,} more bytes and the server has "
                f"{free:,} free; try again later",
            )

    async def _fail(self, upload_id: int, why: str) -> None:
        """Record a failed upload and delete its bytes: nothing half-written stays."""
        await asyncio.to_thread(self.server.storage.discard, upload_id)
        await self.server.db.fail_upload(upload_id, why)


class _Buffers:
    """Two receive buffers used in turn, each as large as the largest frame so far."""

    def __init__(self) -> None:
        self._buffers = [bytearray(), bytearray()]
        self._turn = 0

    def next(self, length: int) -> memoryview:
        """The other buffer, `length` bytes of it."""
        self._turn ^= 1
        buffer = self._buffers[self._turn]
        if len(buffer) < length:
            buffer = self._buffers[self._turn] = bytearray(length)
        return memoryview(buffer)[:length]
