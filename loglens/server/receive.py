"""The bytes of one upload: into its partial file, verified, decompressed and stored.

The frames are read while the previous frame is written and hashed in a thread of the
server's I/O pool: on the event loop, or, for a big upload over plain TCP, by a thread
that reads the socket itself (see `loglens.server.direct`). Whatever ends the upload (the
end, an error, a cancelled session), the file is closed only once no thread works on it
any more.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from typing import Any

from loglens.protocol import (
    ErrorCode,
    Frame,
    FrameType,
    PeerError,
    UploadHeader,
    encode,
    end_sha256,
)
from loglens.server.contracts import SessionSide
from loglens.server.direct import (
    PROGRESS_BYTES,
    Buffers,
    DirectReceive,
    Oversent,
    SocketReader,
)
from loglens.server.files import PartialFile, decompress, is_disk_full
from loglens.server.stream import Detached
from loglens.storage import Stored

logger = logging.getLogger(__name__)


class Receiver:
    """Receive one upload for a session that holds it."""

    def __init__(self, session: SessionSide, upload_id: int, header: UploadHeader) -> None:
        self.session = session
        self.server = session.server
        self.upload_id = upload_id
        self.header = header
        # Operations on the upload's file still running in threads, if any.
        self._file_ops: list[concurrent.futures.Future[Any]] = []
        self._doing = "receiving it"  # what a full disk interrupted, for the messages

    async def run(self) -> tuple[Stored, str, tuple[str, int]]:
        """Receive the bytes into the partial file, verify and store them; return what
        was recorded, the verified SHA-256 of the bytes, and the content's SHA-256 and
        size. Out of disk space, the upload fails and its bytes are deleted, so that the
        space comes back: PeerError(insufficient_storage), which a client may retry."""
        try:
            return await self._run()
        except PeerError as exc:
            if exc.code is ErrorCode.INSUFFICIENT_STORAGE:
                await self._fail(self.upload_id, exc.message)
            raise
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            await self._fail(self.upload_id, f"disk full: {exc.strerror}")
            raise await self._disk_full(exc) from None

    async def _run(self) -> tuple[Stored, str, tuple[str, int]]:
        """`run`, but for what a full disk leaves behind."""
        storage, loop = self.server.storage, asyncio.get_running_loop()
        upload_id, header = self.upload_id, self.header
        path = storage.partial_path(upload_id)
        partial = await asyncio.to_thread(PartialFile, path, header.size)
        try:
            await self._reserve_space(partial)
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
                storage.release(upload_id, partial)
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
            self._doing = "decompressing it"
            try:
                config = self.server.config
                content_sha, content_size = await loop.run_in_executor(
                    None,
                    decompress,
                    path,
                    source,
                    config.max_decompressed_bytes,
                    config.max_compression_ratio,
                )
            except PeerError as exc:
                await self._fail(upload_id, exc.message)
                raise
        self._doing = "storing it"
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
        header's, or END's): in a thread of its own for a big upload while one is free,
        else on the loop."""
        server, detached = self.server, None
        if (
            self.header.size - partial.offset >= server.config.direct_receive_bytes
            and server.take_direct_slot()
        ):
            detached = self.session.stream.detach()
            if detached is None:
                server.give_back_direct_slot()
        try:
            if detached is not None:
                return await self._receive_direct(partial, detached)
            return await self._receive_looped(partial)
        except Oversent as exc:
            await self._fail(self.upload_id, "more bytes than announced")
            raise PeerError(ErrorCode.SIZE_MISMATCH, str(exc)) from None

    async def _receive_direct(self, partial: PartialFile, detached: Detached) -> str:
        """`_receive_data` by a thread that reads the socket (see `direct`), in one of the
        server's direct slots, which this gives back once the thread has ended."""
        loop = asyncio.get_running_loop()
        stream, config = self.session.stream, self.server.config

        def on_loop(callback: Callable[..., None], *args: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
                loop.call_soon_threadsafe(callback, *args)

        def synced(offset: int) -> None:
            on_loop(self._progress, offset)

        def let_go(unread: bytes = b"") -> None:
            # The loop reads the socket again, and the slot is free, once no thread reads.
            stream.reattach(unread)
            self.server.give_back_direct_slot()

        def ended(_: concurrent.futures.Future[Any]) -> None:
            # Also when the job was cancelled before it began (its own `finally` never ran).
            assert reader is not None
            reader.close()
            on_loop(let_go, reader.leftover())

        reader: SocketReader | None = None
        try:
            reader = SocketReader(detached, config.idle_timeout)
            job = DirectReceive(
                reader,
                partial,
                self.header.size,
                self.server.io,
                (config.max_header_bytes, config.max_frame_bytes),
                synced,
            )
            running = self.server.direct.submit(job.run)
        except BaseException:  # out of descriptors, or shutting down (no more threads)
            if reader is not None:
                reader.close()
            let_go()
            raise
        running.add_done_callback(ended)
        self._file_ops.append(running)
        logger.info("upload %d: its bytes are received by a thread of its own", self.upload_id)
        try:
            end, received = await asyncio.wrap_future(running)
        except asyncio.CancelledError:
            reader.stop()
            raise
        return self._end_sha256(end, received)

    def _progress(self, offset: int) -> None:
        """Tell the client that `offset` bytes are durable (from the loop)."""
        if not self.session.stream.is_closing():
            self.session.stream.write(encode(FrameType.PROGRESS, {"offset": offset}))

    def _end_sha256(self, end: Frame, received: int) -> str:
        """The SHA-256 END or the header gives, once all the announced bytes are in."""
        sha256 = end_sha256(self.header, end)
        if received != self.header.size:
            raise PeerError(
                ErrorCode.SIZE_MISMATCH,
                f"upload incomplete: END after {received:,} of {self.header.size:,} bytes; "
                f"resume upload {self.upload_id} to send the rest",
            )
        return sha256

    async def _receive_looped(self, partial: PartialFile) -> str:
        """`_receive_data` on the loop. The write of one frame overlaps the read of the next.

        Each body is received straight into one of two buffers (see `Stream.readinto`):
        one is filled from the socket while a thread writes and hashes the other. Every
        PROGRESS_BYTES an fsync runs in a thread too, and PROGRESS follows once it is done,
        while the bytes keep coming.
        """
        header = self.header
        buffers = Buffers()
        pending: asyncio.Future[Any] | None = None
        syncing: asyncio.Future[Any] | None = None
        next_progress = partial.offset + PROGRESS_BYTES
        received = partial.offset
        while True:
            frame = await self.session.next_frame(buffer_for=buffers.next)
            if frame.type is FrameType.END:
                break
            if frame.type is not FrameType.DATA:
                raise PeerError(
                    ErrorCode.UNEXPECTED_FRAME, f"expected DATA or END, got {frame.type.name}"
                )
            received += len(frame.data)
            if received > header.size:
                await self._settle(pending)
                raise Oversent(header.size)
            # The previous frame's buffer is free once its write is done; this frame is
            # written and hashed in a thread while the loop reads the next into the other.
            # (Writing and hashing in two threads at once cost more than it gained.)
            await self._settle(pending)
            pending = self._submit(partial.write, frame.data)
            if syncing is not None and syncing.done():
                self._progress(syncing.result())
                syncing = None
            if received >= next_progress and syncing is None:
                syncing = self._submit(partial.sync)
                next_progress = received + PROGRESS_BYTES
        await self._settle(pending)
        if syncing is not None:
            self._progress(await syncing)
        return self._end_sha256(frame, received)

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
        does not stop a thread, so this waits on the threads' own futures, without ever
        blocking the loop (a receiving thread may need an fsync to end): cancelled again
        meanwhile (a second resume, then shutdown), it still waits, then is cancelled."""
        running = [f for f in self._file_ops if not f.done()]
        if not running:
            return
        ended = asyncio.ensure_future(asyncio.to_thread(concurrent.futures.wait, running))
        cancelled = False
        while not ended.done():
            try:
                await asyncio.shield(ended)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError

    async def _reserve_space(self, partial: PartialFile) -> None:
        """Promise the rest of the upload its disk space, counting what is promised to the
        other uploads in progress; PeerError(insufficient_storage) when it is not there."""
        storage = self.server.storage
        needed = self.header.size - partial.offset
        free = (await asyncio.to_thread(shutil.disk_usage, storage.root)).free
        # Checked and promised with no await between: no other upload can slip in.
        promised = storage.promised()
        if needed > free - promised:
            logger.warning(
                "upload %d refused: it needs %s more bytes, STORAGE_PATH %s has %s free and "
                "%s of them are promised to uploads in progress; free some disk space",
                self.upload_id, f"{needed:,}", storage.root, f"{free:,}", f"{promised:,}",
            )  # fmt: skip
            raise PeerError(
                ErrorCode.INSUFFICIENT_STORAGE,
                f"upload refused: it needs {needed:,} more bytes and the server has "
                f"{free:,} free, {promised:,} of them promised to uploads in progress; "
                "try again later",
            )
        storage.reserve(self.upload_id, partial)

    async def _disk_full(self, exc: OSError) -> PeerError:
        """Tell the operator that the disk filled up under this upload (its bytes are
        deleted by now); the error for the client."""
        storage = self.server.storage
        free = (await asyncio.to_thread(shutil.disk_usage, storage.root)).free
        logger.warning(
            "upload %d failed: STORAGE_PATH %s filled up while %s (%s); the upload is %s "
            "bytes, %s are free now that its partial files are deleted; free some disk space",
            self.upload_id, storage.root, self._doing, exc.strerror, f"{self.header.size:,}",
            f"{free:,}",
        )  # fmt: skip
        return PeerError(
            ErrorCode.INSUFFICIENT_STORAGE,
            f"upload failed: the server's disk filled up while {self._doing} "
            f"({self.header.size:,} bytes; {free:,} are free now); what it held of this "
            "upload was deleted; try again later",
        )

    async def _fail(self, upload_id: int, why: str) -> None:
        """Record a failed upload and delete its bytes: nothing half-written stays."""
        await asyncio.to_thread(self.server.storage.discard, upload_id)
        await self.server.db.fail_upload(upload_id, why)
