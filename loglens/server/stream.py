"""One connection's bytes with as few copies as possible: a buffered protocol with stream calls.

`asyncio.StreamReader` copies every received byte three times (a new `bytes` per `recv`,
into its buffer, out of it) before the server writes it. A `Stream` is an
`asyncio.BufferedProtocol`: the transport receives straight into the memory the reader
names (`readinto`: the buffer a DATA frame's body is written from), or, when nobody is
reading, into a small buffer of its own that the next read empties first. It offers the
few calls of a `StreamReader`/`StreamWriter` pair that the server uses, with their errors
(`asyncio.IncompleteReadError` at the end of the stream, `ConnectionResetError` once the
connection is lost); plain TCP and TLS transports alike.

A plain TCP stream can also hand its reading over to a thread (`detach`, `reattach`): the
server receives a big upload's DATA frames that way, with blocking reads in one thread
instead of a loop iteration per few hundred kilobytes (see `loglens.server.direct`).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

# Bytes kept when they arrive while nobody reads; beyond that the transport stops reading
# (the kernel's socket buffer and TCP flow control hold the rest).
BUFFER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Detached:
    """A stream's reading, handed over: its socket's file descriptor (non-blocking; the
    stream still owns it) and the bytes it had received that nobody had read yet."""

    fileno: int
    unread: bytes


class Stream(asyncio.BufferedProtocol):
    """A connection: read exactly, read into a buffer, write and drain, close gently."""

    def __init__(self, on_connect: Callable[[Stream], Coroutine[Any, Any, None]]) -> None:
        self._on_connect = on_connect
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray(BUFFER_BYTES)
        self._view = memoryview(self._buffer)
        self._start = self._end = 0  # the unread bytes of the buffer
        self._target: memoryview | None = None  # where a `readinto` wants its bytes
        self._filled = 0  # bytes of the target filled so far
        self._waiter: asyncio.Future[None] | None = None
        self._eof = False
        self._error: BaseException | None = None
        self._reading_paused = False
        self._detached = False  # a thread reads the socket: the transport must not
        self._writing_paused = False
        self._drain_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        # The task serving the connection (held here: the loop keeps only weak references).
        self.task: asyncio.Task[None] | None = None

    # -- the transport's side ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start serving the connection."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.task = self._loop.create_task(self._on_connect(self))

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the transport puts the next bytes: the reader's target, or our buffer."""
        if self._target is not None:
            return self._target[self._filled :]
        if self._end == len(self._buffer):
            unread = self._end - self._start
            if unread == len(self._buffer):
                # Full, yet asked for more (a TLS transport may ask once after a pause):
                # a bigger buffer; the pause still bounds what it holds.
                bigger = bytearray(2 * len(self._buffer))
                bigger[:unread] = self._buffer
                self._buffer, self._view = bigger, memoryview(bigger)
            else:
                # Move the unread bytes to the front (rare: reads empty the buffer).
                self._view[:unread] = self._view[self._start : self._end]
                self._start, self._end = 0, unread
        return self._view[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        """The transport put `nbytes` where `get_buffer` said."""
        if self._target is not None:
            self._filled += nbytes
            if self._filled == len(self._target):
                # Full: what comes next goes to our buffer until the reader runs again.
                self._target = None
                self._wake()
            return
        self._end += nbytes
        if self._end == len(self._buffer) and self._start == 0:
            self._pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        """The peer will send nothing more; keep the connection open to answer it (not
        possible over TLS)."""
        self._eof = True
        self._wake()
        return self._transport is not None and self._transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: wake every reader and writer."""
        self._eof = True
        if exc is not None:
            self._error = exc
        self._wake()
        while self._drain_waiters:
            waiter = self._drain_waiters.popleft()
            if not waiter.done():
                waiter.set_exception(exc or ConnectionResetError("Connection lost"))
        if not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        """The transport's write buffer is full: `drain` waits."""
        self._writing_paused = True

    def resume_writing(self) -> None:
        """The write buffer has room again."""
        self._writing_paused = False
        while self._drain_waiters:
            waiter = self._drain_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    # -- reading -------------------------------------------------------------------------

    async def readexactly(self, n: int) -> bytes:
        """Read exactly `n` bytes; IncompleteReadError if the stream ends first."""
        if self._end - self._start >= n:  # the common case: a frame head already here
            data = bytes(self._view[self._start : self._start + n])
            self._consumed(n)
            return data
        buffer = bytearray(n)
        await self.readinto(memoryview(buffer))
        return bytes(buffer)

    async def readinto(self, target: memoryview) -> None:
        """Fill `target` exactly with the next bytes; IncompleteReadError if the stream ends
        first. The transport writes into `target` itself: keep it alive until this returns."""
        have = min(self._end - self._start, len(target))
        if have:
            target[:have] = self._view[self._start : self._start + have]
            self._consumed(have)
        if have == len(target):
            return
        self._target, self._filled = target, have
        try:
            self._resume_reading()
            while self._filled < len(target):
                if self._error is not None:
                    raise self._error
                if self._eof:
                    partial = bytes(target[: self._filled])
                    raise asyncio.IncompleteReadError(partial, len(target))
                await self._wait()
        finally:
            # From here on the transport must not touch `target`: it is the caller's again.
            self._target = None

    async def read(self, n: int) -> bytes:
        """Read up to `n` bytes, at least one; b"" at the end of the stream."""
        while self._start == self._end:
            if self._error is not None:
                raise self._error
            if self._eof:
                return b""
            self._resume_reading()
            await self._wait()
        count = min(n, self._end - self._start)
        data = bytes(self._view[self._start : self._start + count])
        self._consumed(count)
        return data

    def _consumed(self, n: int) -> None:
        self._start += n
        if self._start == self._end:
            self._start = self._end = 0
        self._resume_reading()

    async def _wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _pause_reading(self) -> None:
        if not self._reading_paused and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._detached:
            return
        if self._reading_paused and self._transport is not None and not self._eof:
            self._reading_paused = False
            self._transport.resume_reading()

    # -- handing the reading over to a thread ---------------------------------------------

    def detach(self) -> Detached | None:
        """Stop the transport reading and hand the socket over, or None where that cannot
        be (TLS, a connection ending or lost, a reader waiting). Until `reattach`, only the
        new owner reads the socket; writing is unchanged."""
        transport = self._transport
        if (
            transport is None
            or self._detached
            or self._eof
            or self._error is not None
            or self._target is not None
            or transport.is_closing()
            or transport.get_extra_info("sslcontext") is not None
        ):
            return None
        sock = transport.get_extra_info("socket")
        if sock is None:
            return None
        self._pause_reading()
        self._detached = True
        unread = bytes(self._view[self._start : self._end])
        self._start = self._end = 0
        return Detached(sock.fileno(), unread)

    def reattach(self, unread: bytes = b"") -> None:
        """Take the reading back (the thread no longer reads the socket), with the bytes
        the thread received but did not use: they are the next ones read."""
        if not self._detached:
            return
        self._detached = False
        if unread:
            self._give_back(memoryview(unread))
        if self._end - self._start < len(self._buffer):  # else reads resume it
            self._resume_reading()

    def _give_back(self, data: memoryview) -> None:
        """Put bytes received elsewhere before anything the transport receives next."""
        if self._target is not None:  # a reader waits: its target first
            count = min(len(data), len(self._target) - self._filled)
            self._target[self._filled : self._filled + count] = data[:count]
            self.buffer_updated(count)
            data = data[count:]
        if not data:
            return
        unread = self._end - self._start
        if unread + len(data) > len(self._buffer):
            bigger = bytearray(unread + len(data))
            bigger[:unread] = self._view[self._start : self._end]
            self._buffer, self._view = bigger, memoryview(bigger)
        else:
            self._view[:unread] = self._view[self._start : self._end]
        self._view[unread : unread + len(data)] = data
        self._start, self._end = 0, unread + len(data)
        self._wake()

    # -- writing and closing -------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue bytes to send."""
        assert self._transport is not None
        self._transport.write(data)

    async def drain(self) -> None:
        """Wait until the bytes written so far are handed to the kernel (or nearly)."""
        if self._error is not None:
            raise self._error
        if self._closed.done():
            raise ConnectionResetError("Connection lost")
        if not self._writing_paused:
            return
        waiter = self._loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def can_write_eof(self) -> bool:
        """Whether the transport can half-close (not over TLS)."""
        return self._transport is not None and self._transport.can_write_eof()

    def write_eof(self) -> None:
        """Half-close: send what is queued, then the end of the stream."""
        assert self._transport is not None
        self._transport.write_eof()

    def is_closing(self) -> bool:
        """Whether the connection is closed or closing."""
        return self._transport is None or self._transport.is_closing()

    def close(self) -> None:
        """Close the connection (what is queued is still sent)."""
        if self._transport is not None:
            self._transport.close()

    async def wait_closed(self) -> None:
        """Wait until the connection is closed."""
        await asyncio.shield(self._closed)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's information (`peername`, `sslcontext`, …)."""
        if self._transport is None:
            return default
        return self._transport.get_extra_info(name, default)
