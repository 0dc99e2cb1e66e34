"""A stream: bytes appended to one stored file for as long as its client follows a log.

The client sends UPLOAD with `"kind": "stream"` (see docs/protocol.md, *A stream*); the
server records the stream (`StreamStore.create_stream`) or takes over the one named by
`resume`, answers ACCEPTED with the offset it durably holds, and appends each DATA frame
to `streams/<upload id>.log`. Every `SYNC_SECONDS` while bytes come it fsyncs the file,
tells the client the durable offset (PROGRESS: the client may forget what lies before it)
and tells the processor, which analyses the stream up to there (never further: what is
counted is on disk, so a crash counts nothing twice). END fsyncs, records the stream's
size and SHA-256 and answers STORED; the processor then finishes its analysis as a job's.

A connection that drops leaves the stream open: the client resumes it at the durable
offset. A full disk fails the connection (`insufficient_storage`, retryable), never the
stream: what was written stays, and the client resumes when there is room.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from loglens.protocol import ErrorCode, FrameType, PeerError, UploadHeader
from loglens.server.contracts import SessionSide
from loglens.server.files import PartialFile, is_disk_full
from loglens.server.text import shown
from loglens.storage.write.streams import StreamRecord

logger = logging.getLogger(__name__)

# How often the bytes received are made durable, acknowledged and handed to the analysis.
SYNC_SECONDS = 0.2
_T = TypeVar("_T")


class StreamReceiver:
    """Receive one stream for a session (see the module docstring)."""

    def __init__(self, session: SessionSide, operator: str, header: UploadHeader) -> None:
        self.session = session
        self.server = session.server
        self.operator = operator
        self.header = header
        self._ops: list[concurrent.futures.Future[Any]] = []

    async def run(self) -> StreamRecord:
        """Receive the stream until END (its record, ended) or the connection ends."""
        record = await self._claim()
        try:
            return await self._receive(record)
        finally:
            self.session.release(record.upload_id)

    async def _claim(self) -> StreamRecord:
        """A new stream, or the open stream of this operator that `resume` names."""
        db, resume = self.server.db, self.header.resume
        if resume is None:
            created = await db.create_stream(self.operator, self.header.name)
            logger.info(
                "stream %d opened by %s: %s",
                created.upload_id, self.operator, shown(self.header.name) or "(no name)",
            )  # fmt: skip
            await self.session.take(created.upload_id)
            return created
        upload = await db.upload(resume)
        record = await db.stream(resume)
        if upload is None or record is None or upload.operator != self.operator or record.ended:
            raise PeerError(
                ErrorCode.NOT_RESUMABLE,
                f"stream {resume} cannot be resumed: it is not an open stream of this "
                "operator; start a new stream",
            )
        await self.session.take(resume)
        return record

    async def _receive(self, record: StreamRecord) -> StreamRecord:
        path = self.server.storage.resolve(record.path)
        try:
            stream = await self._op(_open_stream_file, path, self.server.config.max_upload_bytes)
        except OSError as exc:
            if is_disk_full(exc):
                raise PeerError(*_stop_reason(exc)) from exc
            raise
        synced = stream.offset
        syncer: asyncio.Task[None] | None = None
        try:
            await self.session.send_json(
                FrameType.ACCEPTED,
                {"upload_id": record.upload_id, "offset": synced, "duplicate": False},
            )
            self._analyse(record, synced, final=False)
            syncer = asyncio.create_task(self._sync_forever(record, stream))
            await self._receive_data(stream)
            syncer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await syncer
            size = await self._op(stream.sync)
            await self.server.db.end_stream(record.upload_id, size, stream.hexdigest())
            logger.info("stream %d ended at byte %d", record.upload_id, size)
            self._analyse(record, size, final=True)
            return StreamRecord(record.upload_id, record.blob_id, record.job_id, record.path, True)
        except OSError as exc:
            if is_disk_full(exc):
                raise PeerError(*_stop_reason(exc)) from exc
            raise
        finally:
            if syncer is not None:
                syncer.cancel()
            await self._ops_ended()
            with contextlib.suppress(OSError):
                # What came before the connection ended is analysed too (once on disk).
                size = await asyncio.to_thread(stream.sync)
                if size > synced:
                    self._analyse(record, size, final=False)
            stream.close()

    async def _receive_data(self, stream: PartialFile) -> None:
        """Append DATA frames until END; an empty DATA frame only keeps a quiet stream alive."""
        limit = self.server.config.max_upload_bytes
        while True:
            frame = await self.session.next_frame()
            if frame.type is FrameType.END:
                return
            if frame.type is not FrameType.DATA:
                raise PeerError(
                    ErrorCode.UNEXPECTED_FRAME,
                    f"expected DATA or END in a stream, got {frame.type.name}",
                )
            if not frame.data:
                continue
            if stream.offset + len(frame.data) > limit:
                raise PeerError(
                    ErrorCode.UPLOAD_TOO_LARGE,
                    f"stream {self.header.name or ''} would pass {limit:,} bytes "
                    "(MAX_UPLOAD_BYTES): end it and start a new one",
                )
            await self._op(stream.write, frame.data)

    async def _sync_forever(self, record: StreamRecord, stream: PartialFile) -> None:
        """Every SYNC_SECONDS with new bytes: fsync, acknowledge, hand them to the analysis."""
        synced = stream.offset
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            if stream.offset == synced:
                continue
            try:
                synced = await self._op(stream.sync)
            except OSError as exc:
                self.session.stop(*_stop_reason(exc))
                return
            await self.session.send_json(FrameType.PROGRESS, {"offset": synced})
            self._analyse(record, synced, final=False)

    def _analyse(self, record: StreamRecord, offset: int, final: bool) -> None:
        self.server.submit_stream(record.job_id, record.path, self.header.name, offset, final)

    async def _op(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run a file operation in the server's I/O pool; it is waited for before the file
        closes, even when the session is cancelled meanwhile."""
        future = self.server.io.submit(function, *args)
        self._ops.append(future)
        try:
            return await asyncio.wrap_future(future)
        finally:
            if future.done():
                self._ops.remove(future)

    async def _ops_ended(self) -> None:
        for future in list(self._ops):
            with contextlib.suppress(BaseException):
                await asyncio.wrap_future(future)
        self._ops.clear()


def _open_stream_file(path: Any, limit: int) -> PartialFile:
    path.parent.mkdir(parents=True, exist_ok=True)
    return PartialFile(path, limit)


def _stop_reason(exc: OSError) -> tuple[ErrorCode, str]:
    """What the client hears when the stream's file cannot be written or synced."""
    if is_disk_full(exc):
        return (
            ErrorCode.INSUFFICIENT_STORAGE,
            f"disk full on the server ({exc.strerror}): the stream is kept up to the last "
            "byte acknowledged; resume it when there is room",
        )
    return ErrorCode.INTERNAL, f"server storage error: {exc}"
