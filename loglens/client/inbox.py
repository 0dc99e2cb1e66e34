"""The server's frames, read in the background so that an ERROR is seen while sending."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TypeVar

from loglens.protocol import ErrorCode, Frame, FrameType, PeerError, raise_if_error, read_frame

T = TypeVar("T")

logger = logging.getLogger(__name__)

# How long a broken write waits for the reader to see the ERROR frame that explains it.
_GRACE_SECONDS = 2.0


class Inbox:
    """Frames from one connection; PROGRESS only updates `durable`."""

    def __init__(self, reader: asyncio.StreamReader, timeout: float) -> None:
        self.timeout = timeout
        self.durable = 0
        self._loop = asyncio.get_running_loop()
        self._last_heard = self._loop.time()
        self._queue: asyncio.Queue[Frame | Exception] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump(reader))

    async def _pump(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                frame = await read_frame(reader)
                self._last_heard = self._loop.time()
                if frame.type is FrameType.PROGRESS:
                    offset = (frame.body or {}).get("offset")
                    if isinstance(offset, int) and not isinstance(offset, bool):
                        self.durable = max(self.durable, offset)
                    continue
                self._queue.put_nowait(frame)
                if frame.type is FrameType.ERROR:
                    return  # the server closes after an ERROR
        except Exception as exc:  # relayed: raised to whoever waits for the next frame
            self._queue.put_nowait(exc)

    async def expect(self, *frame_types: FrameType, forever: bool = False) -> Frame:
        """The next frame, which must be one of `frame_types`; an ERROR raises PeerError.

        The timeout counts from the last frame heard, so PROGRESS frames keep a slow
        verification alive; `forever` waits as long as the connection lives.
        """
        frame = raise_if_error(await self._next(None if forever else self.timeout))
        if frame.type not in frame_types:
            wanted = " or ".join(frame_type.name for frame_type in frame_types)
            raise PeerError(
                ErrorCode.UNEXPECTED_FRAME,
                f"the server sent {frame.type.name} where {wanted} was expected",
            )
        return frame

    async def _next(self, timeout: float | None) -> Frame:
        while True:
            remaining = None if timeout is None else self._last_heard + timeout - self._loop.time()
            try:
                async with asyncio.timeout(remaining):
                    item = await self._queue.get()
            except TimeoutError:
                assert timeout is not None
                if self._loop.time() - self._last_heard >= timeout:
                    raise
                continue
            if isinstance(item, Exception):
                self._queue.put_nowait(item)  # the connection stays broken for later calls
                raise item
            return item

    def check(self) -> None:
        """Raise now if the server has sent an ERROR (or anything at all) or the stream broke."""
        if self._queue.empty():
            return
        item = self._queue.get_nowait()
        if isinstance(item, Exception):
            self._queue.put_nowait(item)
            raise item
        frame = raise_if_error(item)
        raise PeerError(
            ErrorCode.UNEXPECTED_FRAME, f"the server sent {frame.type.name} during the upload"
        )

    async def guard(self, write: Awaitable[T]) -> T:
        """Await a drain (or a sendfile) within the timeout; when it breaks, prefer the
        server's reason."""
        try:
            async with asyncio.timeout(self.timeout):
                result = await write
        except (OSError, TimeoutError):
            await self.explain()
            raise
        self.check()
        return result

    async def explain(self) -> None:
        """After a broken write, raise the server's ERROR if it sent one: wait a moment for
        the reader to reach it (or the end of the stream)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_GRACE_SECONDS):
                await asyncio.shield(self._task)
        self.check()

    def close(self) -> None:
        """Stop reading."""
        self._task.cancel()
