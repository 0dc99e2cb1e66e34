"""One upload over as many connections as it takes: handshake, header, DATA, END, resume."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import random
import socket
import ssl as ssl_module
from pathlib import Path
from typing import Any

from loglens.client.answers import stored_result, with_analysis
from loglens.client.inbox import Inbox
from loglens.client.models import (
    CONNECTION_LOST,
    FILE_CHANGED,
    INPUT_ERROR,
    NOT_A_SERVER,
    TIMEOUT,
    TLS_FAILED,
    UNREACHABLE,
    ProgressCallback,
    Stage,
    UploadError,
    UploadEvent,
    UploadOptions,
    UploadResult,
)
from loglens.client.resume import ResumeRecord
from loglens.client.sources import (
    DEFER_HASH_BYTES,
    Payload,
    changed_since,
    hash_file,
    parse_server,
    prepare_file,
    printable,
)
from loglens.client.tls import closed_by_tls, tls_failure
from loglens.errors import InputError
from loglens.protocol import (
    FRAME_HEAD,
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
    join_report,
    raise_if_error,
    read_frame,
)

logger = logging.getLogger(__name__)

# Errors of a connection that are no ConnectionError: the network or the peer went away
# (ETIMEDOUT: TCP gave up retransmitting), which a later attempt may get past.
_NETWORK_ERRNOS = frozenset(
    {
        errno.ENOTCONN, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.EHOSTDOWN,
        errno.ENETUNREACH, errno.ENETDOWN, errno.ENETRESET,
    }
)  # fmt: skip


# Final failures that leave the upload resumable by a later run: the server was not
# reached, or the file could not be read; its record is kept.
_KEEP_RECORD = frozenset({UNREACHABLE, TLS_FAILED, NOT_A_SERVER, INPUT_ERROR, TIMEOUT})


class AttemptFailure(Exception):
    """An attempt failed: why, and whether another attempt may succeed."""

    def __init__(self, code: str, message: str, retryable: bool, *, restart: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.restart = restart  # the upload named is gone: a new one starts at once


async def upload_file(
    path: str | Path,
    address: str | tuple[str, int],
    token: str,
    *,
    name: str | None = None,
    wait: bool = False,
    retries: int = 5,
    timeout: float = 60.0,
    ssl: ssl_module.SSLContext | None = None,
    server_hostname: str | None = None,
    resume: int | None = None,
    progress: ProgressCallback | None = None,
    defer_hash_bytes: int = DEFER_HASH_BYTES,
) -> UploadResult:
    """Hash and upload one file to `address` ("HOST:PORT"); UploadError if it fails.

    A file of at least `defer_hash_bytes` is hashed while it is sent, a smaller one first.

    `ssl` wraps the connection in TLS (`server_hostname` is the name to check the
    certificate against, by default the host). `resume` takes over an earlier upload by
    its id; otherwise the server still resumes this operator's unfinished upload of the
    same bytes (for a file hashed while sent, only `UploadOptions.resume_dir`, where the
    CLI remembers upload ids, lets a later run resume it). Dropped connections and
    retryable server errors are retried `retries` times with a growing delay.
    """
    file = Path(path)
    try:
        payload = await prepare_file(file, printable(name or file.name), progress, defer_hash_bytes)
    except InputError as exc:
        raise UploadError(INPUT_ERROR, str(exc)) from exc
    options = UploadOptions(
        wait=wait, retries=retries, timeout=timeout, ssl=ssl, server_hostname=server_hostname
    )
    return await upload(payload, address, token, options, resume=resume, progress=progress)


async def upload(
    payload: Payload,
    address: str | tuple[str, int],
    token: str,
    options: UploadOptions | None = None,
    *,
    resume: int | None = None,
    progress: ProgressCallback | None = None,
) -> UploadResult:
    """Upload a described file, reconnecting and resuming as needed; UploadError if it fails."""
    host, port = parse_server(address) if isinstance(address, str) else address
    session = _Session(payload, host, port, token, options or UploadOptions(), resume, progress)
    return await session.run()


class _Session:
    """The state one upload keeps across its connections."""

    def __init__(
        self,
        payload: Payload,
        host: str,
        port: int,
        token: str,
        options: UploadOptions,
        resume: int | None,
        progress: ProgressCallback | None,
    ) -> None:
        self.payload = payload
        self.host, self.port = host, port
        self.where = where_of(host, port)
        self.token = token
        self.options = options
        self.upload_id = resume
        self.progress = progress
        self.durable = 0  # the most bytes the server has said it durably holds
        self.attempts = 0
        self.bytes_sent = 0
        self.offsets: list[int] = []
        self.connected = False
        self.restarted = False
        self.sha256 = payload.sha256  # known once hashed, before or while sending
        self._hashing: asyncio.Future[tuple[int, str]] | None = None
        # A file hashed while sent can be resumed by a later run only by its upload id,
        # remembered here (a file hashed first is found again by its hash).
        self.record: ResumeRecord | None = None
        if payload.sha256 is None and options.resume_dir is not None:
            self.record = ResumeRecord(options.resume_dir, self.where, token, payload)
        self._recorded: int | None = None  # the upload id the record holds

    def emit(self, stage: Stage, done: int, note: str = "") -> None:
        """Report progress to the callback, if any."""
        if self.progress is not None:
            event = UploadEvent(
                self.payload.name, stage, done, self.payload.size, self.upload_id, note
            )
            self.progress(event)

    async def run(self) -> UploadResult:
        """Make attempts until one succeeds, a failure is final, or retries run out."""
        if self.record is not None and self.upload_id is None:
            self.upload_id = self._recorded = await asyncio.to_thread(self.record.load)
            if self.upload_id is not None:
                logger.info(
                    "%s: resuming upload %d of an earlier run", self.payload.name, self.upload_id
                )
        if self.sha256 is None:
            # Hashed in a thread while the attempts send the file; END carries the hash.
            self._hashing = asyncio.ensure_future(asyncio.to_thread(hash_file, self.payload.path))
        try:
            return await self._attempts()
        finally:
            if self._hashing is not None:
                self._hashing.cancel()  # a thread already running ends on its own
                if self._hashing.done() and not self._hashing.cancelled():
                    self._hashing.exception()  # failed: the attempts reported why, or not needed

    async def _attempts(self) -> UploadResult:
        failures = 0
        while True:
            self.attempts += 1
            durable_before = self.durable
            try:
                return await self._attempt()
            except PeerError as exc:
                failure = await self._refused(exc)
            except AttemptFailure as exc:
                failure = exc
            except (OSError, EOFError, TimeoutError) as exc:
                failure = self._lost(exc)
            if failure.restart:
                logger.info("%s: %s", self.payload.name, failure.message)
                continue  # not a failure to count or wait after: nothing is held any more
            if not failure.retryable:
                if failure.code not in _KEEP_RECORD:  # the upload can never finish
                    await self._forget()
                raise UploadError(failure.code, failure.message, self.upload_id) from failure
            failures = 1 if self.durable > durable_before else failures + 1
            if failures > self.options.retries:
                raise UploadError(
                    failure.code,
                    f"{failure.message}; gave up after {self.attempts} attempts "
                    f"(retries: {self.options.retries})",
                    self.upload_id,
                ) from failure
            changed = await asyncio.to_thread(changed_since, self.payload, self.sha256)
            if changed:
                raise UploadError(
                    FILE_CHANGED,
                    f"the file changed while it was being uploaded: {changed}; upload it again",
                    self.upload_id,
                )
            delay = min(self.options.max_backoff, self.options.backoff * 2 ** (failures - 1))
            delay *= random.uniform(0.5, 1.0)  # spread the reconnections of many clients
            logger.warning(
                "%s: %s; reconnecting in %.1f s (retry %d of %d)",
                self.payload.name, failure.message, delay, failures, self.options.retries,
            )  # fmt: skip
            self.emit("retrying", self.durable, f"{failure.message}; retrying in {delay:.0f} s")
            await asyncio.sleep(delay)

    async def _refused(self, exc: PeerError) -> AttemptFailure:
        """Classify an ERROR from the server (or a broken frame from it)."""
        message = exc.message
        if exc.code in (ErrorCode.HASH_MISMATCH, ErrorCode.SIZE_MISMATCH):
            changed = await asyncio.to_thread(changed_since, self.payload, self.sha256)
            if changed:
                return AttemptFailure(
                    FILE_CHANGED,
                    f"the file changed while it was being uploaded: {changed}; upload it again",
                    retryable=False,
                )
        if exc.code is ErrorCode.FRAME_TOO_LARGE:
            message += "; set MAX_FRAME_BYTES for this client to the server's limit"
        if (
            exc.code is ErrorCode.NOT_RESUMABLE
            and self.upload_id is not None
            and not self.restarted
        ):
            # The partial upload is gone (or not ours to take over): send it all again.
            self.restarted = True
            self.upload_id = None
            return AttemptFailure(
                exc.code.value, f"{message}; starting the upload again", True, restart=True
            )
        if exc.code is ErrorCode.INSUFFICIENT_STORAGE:
            # The server deleted what it held of the upload: a retry starts a new one.
            self.upload_id = None
        return AttemptFailure(exc.code.value, message, exc.code.retryable)

    def _lost(self, exc: BaseException) -> AttemptFailure:
        """Classify a dropped or silent connection."""
        return lost_connection(exc, self.where, self.options.timeout)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open the connection; a server that was never reached fails at once."""
        self.emit("connecting", self.durable)
        return await connect(self.host, self.port, self.options, self.connected)

    async def _attempt(self) -> UploadResult:
        """One connection: handshake, header, the missing bytes, END, and the answers."""
        reader, writer = await self._connect()
        self.connected = True
        writer.transport.set_write_buffer_limits(high=4 * self.options.frame_bytes)
        inbox: Inbox | None = None
        try:
            await handshake(reader, writer, self.host, self.port, self.options)
            inbox = Inbox(reader, self.options.timeout)
            # A busy server answers the handshake with an ERROR at once: read it before our
            # header meets its closed socket (a reset would hide the ERROR from us).
            await asyncio.sleep(0)
            inbox.check()
            header = UploadHeader(
                self.token, self.payload.name, self.payload.size, self.payload.sha256,
                self.payload.compression, self.options.wait, self.upload_id, self.payload.mtime,
            )  # fmt: skip
            writer.write(encode(FrameType.UPLOAD, header.to_json()))
            await inbox.guard(writer.drain())
            accepted = await inbox.expect(FrameType.ACCEPTED)
            offset, duplicate = self._accepted(accepted)
            if self.record is not None and self._recorded != self.upload_id:
                assert self.upload_id is not None
                await asyncio.to_thread(self.record.save, self.upload_id)
                self._recorded = self.upload_id
            await self._send_from(offset, writer, inbox)
            if self.payload.sha256 is None:
                writer.write(encode(FrameType.END, {"sha256": await self._digest()}))
            else:
                writer.write(encode(FrameType.END))
            self.emit("verifying", self.payload.size)
            await inbox.guard(writer.drain())
            stored = await inbox.expect(FrameType.STORED)
            await self._forget()
            assert self.sha256 is not None
            result = stored_result(
                self.payload, stored.body or {}, duplicate, sha256=self.sha256,
                attempts=self.attempts, bytes_sent=self.bytes_sent, offsets=tuple(self.offsets),
            )  # fmt: skip
            if not self.options.wait:
                return result
            self.emit("analysing", self.payload.size)
            return with_analysis(result, await _analysis(inbox))
        finally:
            self.durable = max(self.durable, inbox.durable if inbox else 0)
            if inbox is not None:
                inbox.close()
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, ssl_module.SSLError):
                async with asyncio.timeout(2):
                    await writer.wait_closed()

    async def _forget(self) -> None:
        """Delete the record of this upload, if there is one."""
        if self.record is not None and self._recorded is not None:
            await asyncio.to_thread(self.record.forget)
            self._recorded = None

    async def _digest(self) -> str:
        """The file's SHA-256, hashed while it was sent; AttemptFailure if the file changed."""
        assert self._hashing is not None
        try:
            size, sha256 = await self._hashing
        except InputError as exc:
            raise AttemptFailure(INPUT_ERROR, str(exc), False) from exc
        if size != self.payload.size:
            raise AttemptFailure(
                FILE_CHANGED,
                f"the file changed while it was being uploaded: it was {self.payload.size:,} "
                f"bytes, {size:,} were hashed; upload it again",
                retryable=False,
            )
        self.sha256 = sha256
        return sha256

    def _accepted(self, accepted: Frame) -> tuple[int, bool]:
        """Check ACCEPTED: remember the upload id, return the offset to send from."""
        upload_id, offset = accepted.field("upload_id"), accepted.field("offset")
        duplicate = bool((accepted.body or {}).get("duplicate", False))
        if not _is_int(upload_id) or not _is_int(offset) or not 0 <= offset <= self.payload.size:
            raise PeerError(
                ErrorCode.MALFORMED_FRAME,
                f"ACCEPTED names upload {upload_id!r} at offset {offset!r} "
                f"of a {self.payload.size:,}-byte file",
            )
        assert isinstance(upload_id, int) and isinstance(offset, int)
        if duplicate:
            logger.info("%s: the server already has this content", self.payload.name)
        elif self.upload_id is not None and upload_id != self.upload_id:
            logger.info("%s: continued as upload %d", self.payload.name, upload_id)
        elif offset:
            logger.info("%s: resuming upload %d at byte %d", self.payload.name, upload_id, offset)
        self.upload_id = upload_id
        self.durable = max(self.durable, offset)
        self.offsets.append(offset)
        return offset, duplicate

    async def _send_from(self, offset: int, writer: asyncio.StreamWriter, inbox: Inbox) -> None:
        """Send the file's bytes from `offset` in DATA frames.

        Each frame's body goes from the page cache to the socket with `sendfile` (no copy
        through Python); over TLS asyncio falls back to reading and writing.
        """
        size, frame = self.payload.size, self.options.frame_bytes
        self.emit("sending", offset)
        if offset >= size:
            return
        try:
            handle = self.payload.path.open("rb")
        except OSError as exc:
            raise _unreadable(self.payload, exc) from exc
        loop = asyncio.get_running_loop()
        with handle:
            position = offset
            while position < size:
                length = min(frame, size - position)
                writer.write(FRAME_HEAD.pack(FrameType.DATA, length))
                try:
                    sent = await inbox.guard(
                        loop.sendfile(writer.transport, handle, position, length)
                    )
                except RuntimeError as exc:
                    # The connection broke after the previous frame went out (a write or
                    # read met the reset): sendfile refuses the closing transport.
                    if not writer.transport.is_closing():
                        raise  # not a dropped connection: a bug, to be seen
                    await inbox.explain()  # the server's ERROR, if it sent one
                    raise AttemptFailure(
                        CONNECTION_LOST, f"connection to {self.where} lost while sending", True
                    ) from exc
                except OSError as exc:
                    if exc.errno is None or _is_network_error(exc):
                        raise  # classified by _lost: retried
                    raise _unreadable(self.payload, exc) from exc
                if sent < length:
                    why = await asyncio.to_thread(changed_since, self.payload)
                    raise AttemptFailure(
                        FILE_CHANGED,
                        f"the file changed while it was being uploaded: {why or 'it shrank'}; "
                        "upload it again",
                        retryable=False,
                    )
                position += length
                self.bytes_sent += length
                self.emit("sending", position)


async def connect(
    host: str, port: int, options: UploadOptions, reached_before: bool = False
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a connection to the server; AttemptFailure if it cannot be reached (retryable
    only if it was reached before: a server never reached is a wrong address)."""
    where = where_of(host, port)
    tls: dict[str, Any] = {}
    if options.ssl is not None:
        tls = {"ssl": options.ssl, "server_hostname": options.server_hostname}
    try:
        async with asyncio.timeout(options.timeout):
            return await asyncio.open_connection(host, port, **tls)
    except socket.gaierror as exc:
        raise AttemptFailure(
            UNREACHABLE, f"cannot resolve the server's host {host!r}: {exc.strerror}", False
        ) from exc
    except ssl_module.SSLError as exc:
        raise AttemptFailure(TLS_FAILED, tls_failure(exc, where), False) from exc
    except (OSError, TimeoutError) as exc:
        if isinstance(exc, TimeoutError):
            detail = f"no answer within {options.timeout:g} s"
        else:
            detail = _os_reason(exc)
        hint = "" if reached_before else " (is the server running? see --server)"
        raise AttemptFailure(
            UNREACHABLE, f"cannot connect to {where}: {detail}{hint}", reached_before
        ) from exc


async def handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    options: UploadOptions,
) -> None:
    """Exchange versions; a peer that is no loglens server fails at once."""
    where = where_of(host, port)
    writer.write(HANDSHAKE)
    async with asyncio.timeout(options.timeout):
        try:
            await writer.drain()
            hello = await reader.readexactly(HANDSHAKE_SIZE)
        except (EOFError, ConnectionError) as exc:
            # Closed without a word: a TLS mismatch is no reason to retry.
            why = await closed_by_tls(host, port, options)
            if why is not None:
                raise AttemptFailure(TLS_FAILED, why, retryable=False) from exc
            raise
        try:
            version = check_handshake(hello)
        except PeerError:
            raise AttemptFailure(
                NOT_A_SERVER, f"{where} is not a loglens server: it answered {hello!r}",
                retryable=False,
            ) from None  # fmt: skip
        if version != VERSION:
            raise_if_error(await read_frame(reader))  # it explains, then closes
            raise PeerError(
                ErrorCode.UNSUPPORTED_VERSION,
                f"the server speaks protocol version {version}, this client {VERSION}",
            )


def lost_connection(exc: BaseException, where: str, timeout: float) -> AttemptFailure:
    """Classify a dropped or silent connection (`where` is the server, for the message)."""
    if isinstance(exc, TimeoutError) and exc.errno is None:  # ours, not the kernel's
        return AttemptFailure(TIMEOUT, f"no answer from {where} within {timeout:g} s", True)
    if isinstance(exc, ssl_module.SSLError):
        return AttemptFailure(TLS_FAILED, tls_failure(exc, where), False)
    if isinstance(exc, asyncio.IncompleteReadError):
        return AttemptFailure(CONNECTION_LOST, f"{where} closed the connection", True)
    detail = _os_reason(exc) if isinstance(exc, OSError) else str(exc)
    return AttemptFailure(CONNECTION_LOST, f"connection to {where} lost: {detail}", True)


def where_of(host: str, port: int) -> str:
    """HOST:PORT for messages ([HOST]:PORT for an IPv6 address)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _analysis(inbox: Inbox) -> dict[str, Any]:
    """The body of the PROCESSED answer, with the report joined from the REPORT_PART frames
    that come before it when it is too big for one frame."""
    parts: list[bytes] = []
    while True:
        frame = await inbox.expect(FrameType.REPORT_PART, FrameType.PROCESSED, forever=True)
        if frame.type is FrameType.PROCESSED:
            return join_report(parts, frame)
        parts.append(bytes(frame.data))


def _unreadable(payload: Payload, exc: OSError) -> AttemptFailure:
    return AttemptFailure(INPUT_ERROR, f"{payload.name}: cannot read: {_os_reason(exc)}", False)


def _is_network_error(exc: OSError) -> bool:
    """Whether an OSError from sendfile is the connection's (retried), not the file's."""
    return isinstance(exc, ConnectionError) or exc.errno in _NETWORK_ERRNOS


def _os_reason(exc: OSError) -> str:
    """The system's words for an OSError ("Connection refused"), not asyncio's wrapping."""
    return os.strerror(exc.errno) if exc.errno else (exc.strerror or str(exc) or type(exc).__name__)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
