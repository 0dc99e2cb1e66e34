"""A big upload's DATA frames, received by one thread straight from the socket.

On the event loop each few hundred kilobytes that arrive cost an iteration of Python (the
selector, the protocol's callbacks) and every frame a hand-over to the thread that writes
and hashes it. Here (measured by benchmarks/bench_upload.py: 1.6-1.7 CPU seconds per GiB
in the server instead of 1.9-2.0, and 10-20 % more MiB/s), once the upload is
accepted, a thread takes the socket over (`Stream.detach`) and reads the frames with
plain blocking reads: a frame's 5-byte head, checked as `read_head` checks it, then its
body straight into one of two buffers while an I/O thread writes and hashes the other,
as on the loop. Every PROGRESS_BYTES an fsync runs in an I/O thread; once it is done, the
loop sends PROGRESS (the last one before the thread returns). At END, or at the first
error, the thread lets the socket go and the loop reads it again.

Everything else stays as on the loop: the limits, the idle time (per frame), the errors
and their words, a resume after a drop. The loop can stop the thread at any time (server
shutdown, a resume taking the upload over): `SocketReader.stop` wakes it from its wait,
and it ends once it has taken in the bytes already there.
"""

from __future__ import annotations

import asyncio
import math
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass
from typing import Any

from loglens.protocol import (
    FRAME_HEAD,
    ErrorCode,
    Frame,
    FrameType,
    PeerError,
    check_head,
    decode_body,
)
from loglens.server.files import PartialFile
from loglens.server.stream import Detached

# Bytes between two PROGRESS frames (each one follows an fsync).
PROGRESS_BYTES = 256 * 1024 * 1024
# Asked to stop, a thread still takes in what has already arrived, for at most this long:
# the bytes of a client that dropped its connection are kept for its resume, and one that
# never lets the socket run dry cannot keep the thread (and a shutdown) waiting.
STOP_DRAIN_SECONDS = 1.0


def idle_error(seconds: float, what: str) -> PeerError:
    """The error of a connection silent for too long (`what`: "during the upload", …)."""
    return PeerError(
        ErrorCode.IDLE_TIMEOUT, f"connection idle for {seconds:g} s {what} (IDLE_TIMEOUT)"
    )


class Stopped(Exception):
    """The loop asked the receiving thread to stop."""


class Oversent(Exception):
    """The client sent more bytes than its header announced (`size`)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"upload rejected: more than the {size:,} bytes the header announced")


class Buffers:
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


class SocketReader:
    """Exact blocking reads of a detached socket, within a deadline, stoppable.

    The socket stays non-blocking (its flags are shared with the loop's transport): a read
    that finds nothing waits in `poll` for the socket or for `stop`.
    """

    def __init__(self, detached: Detached, idle_timeout: float) -> None:
        # A duplicate descriptor: closing it never closes the loop's, nor the reverse.
        self._sock = socket.socket(fileno=os.dup(detached.fileno))
        self._sock.setblocking(False)
        self._unread = memoryview(detached.unread)
        self._idle = idle_timeout
        self._deadline = math.inf
        self._wake_read, self._wake_write = os.pipe()
        self._poll = select.poll()
        self._poll.register(self._sock.fileno(), select.POLLIN)
        self._poll.register(self._wake_read, select.POLLIN)
        self._lock = threading.Lock()
        self._closed = False
        self._stop_by = math.inf  # once asked to stop: the time to stop at the latest

    def start_frame(self) -> None:
        """A frame begins: it must be in within the idle time, as on the loop."""
        self._deadline = time.monotonic() + self._idle

    def leftover(self) -> bytes:
        """The bytes received before the hand-over that no read has taken (the stream's
        again once the thread is done: a client may send its next frame early)."""
        return bytes(self._unread)

    def readexactly(self, n: int) -> bytes:
        """The next `n` bytes."""
        buffer = bytearray(n)
        self.readinto(memoryview(buffer))
        return bytes(buffer)

    def readinto(self, target: memoryview) -> None:
        """Fill `target` with the next bytes; IncompleteReadError if the stream ends first,
        PeerError(idle_timeout) past the frame's deadline, Stopped if asked to stop."""
        filled = min(len(self._unread), len(target))
        if filled:
            target[:filled] = self._unread[:filled]
            self._unread = self._unread[filled:]
        while filled < len(target):
            if time.monotonic() > self._stop_by:
                raise Stopped
            try:
                count = self._sock.recv_into(target[filled:])
            except BlockingIOError:
                if self._stop_by < math.inf:  # stopping, and nothing more has come
                    raise Stopped from None
                self._wait()
                continue
            if count == 0:
                raise asyncio.IncompleteReadError(bytes(target[:filled]), len(target))
            filled += count

    def _wait(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise idle_error(self._idle, "during the upload")
        self._poll.poll(min(left, 3600.0) * 1000)  # the socket, or `stop`, wakes it

    def stop(self) -> None:
        """Have the thread stop once it has taken in what has arrived (STOP_DRAIN_SECONDS
        at most), waking it if it waits (from any thread; harmless once closed)."""
        with self._lock:
            if self._closed or self._stop_by < math.inf:
                return  # gone, or told already (one byte wakes it for good)
            self._stop_by = time.monotonic() + STOP_DRAIN_SECONDS
            os.write(self._wake_write, b"x")

    def close(self) -> None:
        """Let go of the socket and of the wake-up pipe."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._sock.close()
            os.close(self._wake_read)
            os.close(self._wake_write)


@dataclass
class DirectReceive:
    """The DATA phase of one upload, run by `run` in a thread of its own."""

    reader: SocketReader
    partial: PartialFile
    size: int  # the bytes the header announced
    io: Executor  # writes, hashes and fsyncs
    limits: tuple[int, int]  # MAX_HEADER_BYTES, MAX_FRAME_BYTES
    synced: Callable[[int], None]  # told (in this thread) each offset an fsync made durable

    def run(self) -> tuple[Frame, int]:
        """Receive DATA frames until END; return END and the bytes the file then holds.

        Raises what the loop's reading raises (PeerError, IncompleteReadError, OSError),
        Oversent, or Stopped. Whatever happens, the writes and the fsync it started are over
        and the socket is let go of when it returns.
        """
        buffers = Buffers()
        pending: Future[Any] | None = None
        syncing: Future[int] | None = None
        received = self.partial.offset
        next_progress = received + PROGRESS_BYTES
        try:
            while True:
                self.reader.start_frame()
                head = self.reader.readexactly(FRAME_HEAD.size)
                frame_type, length = check_head(head, *self.limits)
                if frame_type is not FrameType.DATA:
                    body = decode_body(frame_type, self.reader.readexactly(length))
                    if frame_type is not FrameType.END:
                        raise PeerError(
                            ErrorCode.UNEXPECTED_FRAME,
                            f"expected DATA or END, got {frame_type.name}",
                        )
                    if pending is not None:
                        pending.result()  # a write that failed fails the upload
                    if syncing is not None:
                        self.synced(syncing.result())
                    return Frame(frame_type, body=body), received
                # The other buffer's write may still run; this one's is over (waited for
                # before the other's was submitted).
                target = buffers.next(length)
                self.reader.readinto(target)
                received += length
                if received > self.size:
                    raise Oversent(self.size)
                if pending is not None:
                    pending.result()
                pending = self.io.submit(self.partial.write, target)
                if syncing is not None and syncing.done():
                    self.synced(syncing.result())  # an fsync that failed fails the upload
                    syncing = None
                if received >= next_progress and syncing is None:
                    syncing = self.io.submit(self.partial.sync)
                    next_progress = received + PROGRESS_BYTES
        finally:
            # Nothing may touch the file or the buffers once this returns.
            wait([running for running in (pending, syncing) if running is not None])
            self.reader.close()
