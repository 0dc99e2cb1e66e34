"""A bare protocol peer for tests: sends exactly the bytes a test wants, good or bad."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any

from loglens.protocol import (
    HANDSHAKE,
    HANDSHAKE_SIZE,
    Frame,
    FrameType,
    UploadHeader,
    encode,
    read_frame,
)

TIMEOUT = 60


@dataclass
class Peer:
    """One connection to the server."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def connect(cls, address: str, handshake: bytes = HANDSHAKE) -> Peer:
        """Connect and send `handshake` (read the server's answer with `handshake_reply`)."""
        host, port = address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(handshake)
        await writer.drain()
        return cls(reader, writer)

    async def handshake_reply(self) -> bytes:
        """The server's 5 handshake bytes."""
        return await asyncio.wait_for(self.reader.readexactly(HANDSHAKE_SIZE), TIMEOUT)

    async def send(self, data: bytes) -> None:
        """Send raw bytes."""
        self.writer.write(data)
        await self.writer.drain()

    async def frame(self) -> Frame:
        """Read the next frame from the server."""
        return await asyncio.wait_for(read_frame(self.reader, 2**30, 2**30), TIMEOUT)

    async def closed(self) -> bool:
        """Whether the server closed the connection (nothing more to read)."""
        return await asyncio.wait_for(self.reader.read(1), TIMEOUT) == b""

    async def close(self) -> None:
        """Close our end."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def header(token: str, data: bytes, /, **fields: Any) -> dict[str, Any]:
    """An UPLOAD body describing `data`; `fields` override any key."""
    body = UploadHeader(token, "app.log", len(data), sha256_of(data)).to_json()
    body.update(fields)
    return body


def sha256_of(data: bytes) -> str:
    """The SHA-256 of `data`, as the protocol writes it."""
    return hashlib.sha256(data).hexdigest()


async def upload(
    address: str,
    token: str,
    data: bytes,
    /,
    *,
    chunk: int = 256 * 1024,
    stop_at: int | None = None,
    end: dict[str, Any] | None = None,
    **fields: Any,
) -> list[Frame]:
    """Upload `data` and return every frame the server sent, up to STORED/PROCESSED or
    ERROR. With `stop_at`, drop the connection after sending that many bytes. `end` is
    the END body (by default `{}`, or `{"sha256": …}` when the header's sha256 is null)."""
    peer = await Peer.connect(address)
    frames: list[Frame] = []
    try:
        assert await peer.handshake_reply() == HANDSHAKE
        body = header(token, data, **fields)
        await peer.send(encode(FrameType.UPLOAD, body))
        first = await peer.frame()
        frames.append(first)
        if first.type is not FrameType.ACCEPTED:
            return frames
        offset = int(first.field("offset"))
        last = len(data) if stop_at is None else stop_at
        while offset < last:
            piece = data[offset : min(offset + chunk, last)]
            await peer.send(encode(FrameType.DATA, piece))
            offset += len(piece)
        if stop_at is not None:
            return frames
        if end is None:
            end = {} if body.get("sha256") is not None else {"sha256": sha256_of(data)}
        await peer.send(encode(FrameType.END, end))
        while True:
            frame = await peer.frame()
            frames.append(frame)
            done = FrameType.PROCESSED if body.get("wait") else FrameType.STORED
            if frame.type in (done, FrameType.ERROR):
                return frames
    finally:
        await peer.close()
