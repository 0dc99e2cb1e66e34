"""One client connection: handshake, authentication, and its uploads, frame by frame.

A session is a firewall: whatever the client sends, it gets an ERROR frame with a code
and a message and the connection is closed; a bug is logged and the server goes on.
Nothing a client sends is stored before its token is checked, and nothing is recorded
as stored before its bytes are fsynced and their SHA-256 verified. Until its token is
checked a connection is in its handshake (see `admission`): HANDSHAKE_TIMEOUT in all,
and wrong tokens count against its address.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import logging
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from loglens.errors import StorageError
from loglens.protocol import (
    HANDSHAKE,
    HANDSHAKE_SIZE,
    VERSION,
    ErrorCode,
    Frame,
    FrameType,
    PeerError,
    UploadHeader,
    check_handshake,
    encode,
    encode_error,
    encode_processed,
    end_sha256,
    read_frame,
    read_frame_into,
)
from loglens.server.admission import address_key
from loglens.server.contracts import Receiving, ServerSide
from loglens.server.direct import idle_error
from loglens.server.receive import Receiver
from loglens.server.stream import Stream
from loglens.server.streaming import StreamReceiver
from loglens.server.text import shown
from loglens.storage import Stored
from loglens.storage.write.possession import blob_stored_by

logger = logging.getLogger(__name__)

# Seconds a closing connection gets to read its last frame (see close_gently).
CLOSE_SECONDS = 2.0


class Session:
    """Serve one connection until the client closes it or breaks the protocol."""

    def __init__(self, server: ServerSide, stream: Stream) -> None:
        self.server = server
        self.config = server.config
        self.stream = stream
        self.peer = str(stream.get_extra_info("peername"))
        self.address = address_key(stream.get_extra_info("peername"))
        self.task: asyncio.Task[Any] | None = None
        self.busy = False  # inside an upload (shutdown lets it finish)
        self.authenticated = False  # a token was checked: the handshake is over
        # When the handshake must be over, on the loop's clock.
        self._handshake_by = asyncio.get_running_loop().time() + self.config.handshake_timeout
        # Why the session was stopped from outside (`stop`); None: the server shuts down.
        self._stopped: tuple[ErrorCode, str] | None = None

    async def run(self) -> None:
        """Handshake, then serve uploads one after the other."""
        try:
            await self._handshake()
            while True:
                try:
                    frame = await self.next_frame(first=True)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        logger.info("%s: connection closed inside a frame", self.peer)
                    return
                if frame.type is not FrameType.UPLOAD:
                    raise PeerError(
                        ErrorCode.UNEXPECTED_FRAME,
                        f"expected an UPLOAD frame, got {frame.type.name}",
                    )
                header = UploadHeader.from_json(frame.body or {})
                if header.is_stream:
                    # Never "in flight" for a shutdown to wait for: a stream does not end
                    # by itself. It hears `shutting_down`, and resumes after the restart.
                    await self._stream(header)
                    continue
                self.busy = True
                await self._upload(header)
                self.busy = False
        except PeerError as exc:
            logger.info("%s: %s: %s", self.peer, exc.code, exc.message)
            await self._send(encode_error(exc.code, exc.message))
        except asyncio.IncompleteReadError:
            logger.info("%s: connection lost in the middle of an upload", self.peer)
        except (ConnectionError, TimeoutError) as exc:
            logger.info("%s: connection lost: %s", self.peer, exc)
        except asyncio.CancelledError:
            code, message = self._stopped or (
                ErrorCode.SHUTTING_DOWN,
                "the server is shutting down; reconnect later to resume the upload",
            )
            await self._send(encode_error(code, message))
            raise
        except StorageError as exc:
            logger.error("%s: %s", self.peer, exc)
            await self._send(encode_error(ErrorCode.INTERNAL, f"server storage error: {exc}"))
        except Exception:
            logger.exception("%s: bug while serving the connection", self.peer)
            await self._send(encode_error(ErrorCode.INTERNAL, "internal server error"))
        finally:
            # Ending: no longer a connection in its handshake (none to push out).
            self.server.handshake_over(self)
            await self._close()

    def take_over(self) -> None:
        """Stop this session because a new connection resumes its upload."""
        self.stop(ErrorCode.NOT_RESUMABLE, "another connection resumed this upload")

    def stop(self, code: ErrorCode, message: str) -> None:
        """Stop this session: the client hears `code` and `message`."""
        self._stopped = (code, message)
        if self.task is not None:
            self.task.cancel()

    def _handshake_timeout(self) -> PeerError:
        seconds = self.config.handshake_timeout
        return PeerError(
            ErrorCode.HANDSHAKE_TIMEOUT,
            f"no handshake and UPLOAD with a valid token within {seconds:g} s of connecting "
            "(HANDSHAKE_TIMEOUT)",
        )

    async def _handshake(self) -> None:
        try:
            async with asyncio.timeout_at(self._handshake_by):
                hello = await self.stream.readexactly(HANDSHAKE_SIZE)
        except TimeoutError:
            raise self._handshake_timeout() from None
        version = check_handshake(hello)
        await self._send(HANDSHAKE)
        if version != VERSION:
            raise PeerError(
                ErrorCode.UNSUPPORTED_VERSION,
                f"protocol version {version} is not supported: this server speaks {VERSION}",
            )

    async def next_frame(
        self, first: bool = False, buffer_for: Callable[[int], memoryview] | None = None
    ) -> Frame:
        """Read a frame within the idle time; the limits are checked before the body.

        With `buffer_for`, a DATA body is received straight into the buffer it returns
        for the body's length (see `read_frame_into`).
        """
        limits = (self.config.max_header_bytes, self.config.max_frame_bytes)
        idle_by = asyncio.get_running_loop().time() + self.config.idle_timeout
        # Before its token is checked a connection has the rest of its handshake time, in
        # all: dripping a byte now and then does not keep it alive.
        handshake = not self.authenticated and self._handshake_by < idle_by
        try:
            async with asyncio.timeout_at(self._handshake_by if handshake else idle_by):
                if buffer_for is not None:
                    return await read_frame_into(self.stream, buffer_for, *limits)
                return await read_frame(self.stream, *limits)
        except TimeoutError:
            if handshake:
                raise self._handshake_timeout() from None
            what = "between uploads" if first else "during the upload"
            raise idle_error(self.config.idle_timeout, what) from None

    async def _send(self, data: bytes) -> None:
        if self.stream.is_closing():
            return
        try:
            self.stream.write(data)
            async with asyncio.timeout(self.config.idle_timeout):
                await self.stream.drain()
        except (ConnectionError, TimeoutError):
            pass

    async def send_json(self, frame_type: FrameType, body: dict[str, Any]) -> None:
        await self._send(encode(frame_type, body))

    async def _close(self) -> None:
        await close_gently(self.stream)

    def _operator(self, token: str) -> str:
        """The operator whose token this is; PeerError(unauthorized) for any other token,
        PeerError(too_many_failures) for any token from an address locked out."""
        logins = self.server.logins
        if locked := logins.locked_for(self.address):
            raise PeerError(ErrorCode.TOO_MANY_FAILURES, lockout_message(self.address, locked))
        found = None
        for operator, known in self.config.auth_tokens:
            # Compare every token, in constant time, so timing tells nothing.
            if hmac.compare_digest(token.encode(), known.encode()):
                found = operator
        if found is None:
            failures = logins.failed(self.address)
            logger.warning(
                "%s: wrong upload token (%d of %d from %s within %g s, AUTH_FAILURE_LIMIT)",
                self.peer, failures, logins.limit, self.address, logins.seconds,
            )  # fmt: skip
            if locked := logins.locked_for(self.address):
                logger.warning(
                    "%s: locked out for %g s after %d wrong tokens (AUTH_LOCKOUT_SECONDS)",
                    self.address, logins.seconds, failures,
                )  # fmt: skip
                raise PeerError(ErrorCode.TOO_MANY_FAILURES, lockout_message(self.address, locked))
            why = "no token" if not token else "the token is not valid"
            if not self.config.auth_tokens:
                why += " (this server has no AUTH_TOKENS configured)"
            raise PeerError(ErrorCode.UNAUTHORIZED, f"upload refused: {why}")
        if not self.authenticated:
            self.authenticated = True
            self.server.handshake_over(self)
        return found

    async def _upload(self, header: UploadHeader) -> None:
        """Receive one upload, store it, and answer STORED (and PROCESSED if asked)."""
        operator = self._operator(header.token)
        if header.size > self.config.max_upload_bytes:
            raise PeerError(
                ErrorCode.UPLOAD_TOO_LARGE,
                f"upload rejected: {header.name or 'the file'} is {header.size:,} bytes, the "
                f"server accepts at most {self.config.max_upload_bytes:,} (MAX_UPLOAD_BYTES)",
            )
        db = self.server.db
        if header.resume is not None and await self._already_stored(operator, header):
            return
        # Content this operator already stored is known by the header's SHA-256. Content
        # only others stored is not (a hash is no proof of holding the bytes, and the
        # answers tell what the content says): the bytes are sent and recognised when
        # they are installed, as for a header that defers its hash.
        known = None
        if header.sha256 is not None:
            known = await blob_stored_by(
                db, operator, header.sha256, header.size, header.compression
            )
        if known is not None and self.server.storage.resolve(known.path).is_file():
            upload_id = await db.create_upload(
                operator, header.name, header.size, header.sha256 or "", header.compression
            )
            await self.send_json(
                FrameType.ACCEPTED,
                {"upload_id": upload_id, "offset": header.size, "duplicate": True},
            )
            sha256 = await self._expect_end(header)
            content = (known.sha256, known.size)
            stored = await db.store_upload(upload_id, *content, known.path)
        else:
            upload_id = await self._claim(operator, header)
            stored, sha256, content = await self._receive(upload_id, header)
        logger.info(
            "upload %d by %s stored: %s, %s bytes, sha256 %s%s",
            upload_id, operator, shown(header.name) or "(no name)", f"{header.size:,}",
            sha256[:12], " (duplicate content)" if stored.duplicate else "",
        )  # fmt: skip
        if stored.job_created or stored.job_requeued:
            self.server.submit_job(stored.job_id, stored.blob_path, header.name)
        await self._answer(upload_id, header, stored, sha256, content)

    async def _stream(self, header: UploadHeader) -> None:
        """Receive a stream until its END; answer STORED (and PROCESSED if asked)."""
        operator = self._operator(header.token)
        record = await StreamReceiver(self, operator, header).run()
        stream = await self.server.db.upload(record.upload_id)
        assert stream is not None
        stored = Stored(record.blob_id, record.job_id, False, False, record.path)
        await self._answer(
            record.upload_id, replace(header, size=stream.size), stored, stream.sha256,
            (stream.sha256, stream.size),
        )  # fmt: skip

    async def _answer(
        self,
        upload_id: int,
        header: UploadHeader,
        stored: Stored,
        sha256: str,
        content: tuple[str, int],
    ) -> None:
        """Send STORED, and PROCESSED once the analysis ended if the client waits for it."""
        await self.send_json(
            FrameType.STORED,
            {
                "upload_id": upload_id,
                "sha256": sha256,
                "size": header.size,
                "content_sha256": content[0],
                "content_size": content[1],
                "job_id": stored.job_id,
                "duplicate": stored.duplicate,
            },
        )
        if header.wait:
            # A report over MAX_HEADER_BYTES goes in REPORT_PART frames before PROCESSED.
            await self._send(encode_processed(await self._processed(upload_id, stored)))

    async def _already_stored(self, operator: str, header: UploadHeader) -> bool:
        """Answer the resume of an upload that was stored meanwhile (the connection dropped
        after its last bytes): nothing to send, nothing new to record."""
        db = self.server.db
        upload = await db.upload(header.resume or 0)
        if (
            upload is None
            or upload.status != "stored"
            or upload.operator != operator
            or upload.kind != "file"
            or (upload.sha256, upload.size, upload.compression)
            != (header.sha256 or upload.sha256, header.size, header.compression)
        ):
            return False
        job = await db.job_for_upload(upload.id)
        blob = await db.blob(upload.blob_id) if upload.blob_id is not None else None
        if job is None or blob is None:
            return False
        await self.send_json(
            FrameType.ACCEPTED,
            {"upload_id": upload.id, "offset": header.size, "duplicate": upload.duplicate},
        )
        sha256 = await self._expect_end(header)
        if sha256 != upload.sha256:
            raise PeerError(
                ErrorCode.HASH_MISMATCH,
                f"upload {upload.id} is stored with SHA-256 {upload.sha256}, END said "
                f"{sha256}; nothing new was recorded",
            )
        stored = Stored(blob.id, job.id, False, upload.duplicate, blob.path)
        await self._answer(upload.id, header, stored, sha256, (blob.sha256, blob.size))
        return True

    async def _processed(self, upload_id: int, stored: Stored) -> dict[str, Any]:
        """Wait for the job of an upload to end; the body of the PROCESSED frame."""
        state, error = await self.server.wait_for_job(stored.job_id)
        report = await self.server.db.job_report(stored.job_id) if state == "done" else None
        return {
            "upload_id": upload_id,
            "job_id": stored.job_id,
            "state": state,
            "report": report,
            "error": error,
        }

    async def _claim(self, operator: str, header: UploadHeader) -> int:
        """The upload to receive into: the one named by `resume`, an idle unfinished one
        of the same bytes, or a new one."""
        db = self.server.db
        if header.resume is not None:
            upload = await db.upload(header.resume)
            # A deferred SHA-256 is recorded as "" until END: only a header that defers it
            # too describes the same upload.
            if (
                upload is None
                or upload.operator != operator
                or upload.status != "receiving"
                or (upload.sha256, upload.size, upload.compression)
                != (header.sha256 or "", header.size, header.compression)
            ):
                raise PeerError(
                    ErrorCode.NOT_RESUMABLE,
                    f"upload {header.resume} cannot be resumed: it is not an unfinished upload "
                    "of these bytes by this operator; start a new upload",
                )
            await self.take(upload.id)
            return upload.id
        if header.sha256 is not None:  # "the same bytes" needs their hash
            for upload in await db.resumable_uploads(
                operator, header.sha256, header.size, header.compression
            ):
                if upload.id not in self.server.receiving:
                    await self.take(upload.id)
                    return upload.id
        upload_id = await db.create_upload(
            operator, header.name, header.size, header.sha256 or "", header.compression
        )
        await self.take(upload_id)
        return upload_id

    async def take(self, upload_id: int) -> None:
        """Make this session the one receiving `upload_id`, ending any older one."""
        while (holder := self.server.receiving.get(upload_id)) is not None:
            holder.session.take_over()
            await holder.done.wait()
        self.server.receiving[upload_id] = Receiving(self, asyncio.Event())

    def release(self, upload_id: int) -> None:
        """This session no longer receives `upload_id`."""
        holder = self.server.receiving.get(upload_id)
        if holder is not None and holder.session is self:
            del self.server.receiving[upload_id]
            holder.done.set()

    async def _receive(
        self, upload_id: int, header: UploadHeader
    ) -> tuple[Stored, str, tuple[str, int]]:
        """Receive the bytes of an upload this session holds, verify and store them."""
        try:
            return await Receiver(self, upload_id, header).run()
        finally:
            self.release(upload_id)

    async def _expect_end(self, header: UploadHeader) -> str:
        """Read the END of an upload whose bytes the server holds; return its SHA-256."""
        frame = await self.next_frame()
        if frame.type is not FrameType.END:
            raise PeerError(
                ErrorCode.UNEXPECTED_FRAME,
                f"the server already holds this content: expected END, got {frame.type.name}",
            )
        return end_sha256(header, frame)


async def close_gently(stream: Stream, seconds: float = CLOSE_SECONDS) -> None:
    """Close a connection so that the peer reads what was sent last (an error frame).

    Closing a socket with unread bytes makes the kernel reset it, and a reset can discard
    what the peer had not read yet; so: half-close, drain what the peer still sends for
    a moment, then close. Cancelled meanwhile, it still closes the connection.
    """
    try:
        with contextlib.suppress(ConnectionError, TimeoutError, RuntimeError):
            async with asyncio.timeout(seconds):
                await stream.drain()
                if stream.can_write_eof():
                    _write_eof(stream)
                while await stream.read(64 * 1024):
                    pass
    finally:
        stream.close()
    with contextlib.suppress(ConnectionError, TimeoutError):
        async with asyncio.timeout(seconds):
            await stream.wait_closed()


def _write_eof(stream: Stream) -> None:
    """Half-close; a connection the peer has reset already is a ConnectionResetError."""
    try:
        stream.write_eof()
    except OSError as exc:
        # After the peer's end of stream the transport stops reading, so a reset that
        # follows goes unseen: shutdown() then fails with ENOTCONN, no ConnectionError.
        if exc.errno != errno.ENOTCONN:
            raise
        raise ConnectionResetError(errno.ENOTCONN, "the peer reset the connection") from exc


def lockout_message(address: str, seconds: float) -> str:
    """The error for a connection from an address locked out after wrong tokens."""
    return (
        f"too many failed logins from {address}; try again in {math.ceil(seconds)} s "
        "(AUTH_FAILURE_LIMIT, AUTH_LOCKOUT_SECONDS)"
    )
