"""What the server's parts need of each other, as protocols: the import graph stays one way.

`app` (the Server) runs `session`s, a session runs a `receive.Receiver`; each part names
what it uses of the one above it here, not the module, so none imports the one above it
(not even for type checking).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from loglens.config import Config
from loglens.protocol import ErrorCode, Frame, FrameType
from loglens.server.admission import FailedLogins
from loglens.server.files import Storage
from loglens.server.stream import Stream
from loglens.storage import Database


class SessionSide(Protocol):
    """What the server and a receiver use of a connection's session."""

    @property
    def server(self) -> ServerSide:
        """The server the session runs in."""
        ...

    @property
    def stream(self) -> Stream:
        """The session's connection."""
        ...

    @property
    def address(self) -> str:
        """The address the connection is counted under (see `admission.address_key`)."""
        ...

    @property
    def peer(self) -> str:
        """The peer's address and port, for the log."""
        ...

    def take_over(self) -> None:
        """Stop the session: a new connection resumes its upload."""
        ...

    def stop(self, code: ErrorCode, message: str) -> None:
        """Stop the session: the client hears `code` and `message`."""
        ...

    async def take(self, upload_id: int) -> None:
        """Make this session the one receiving `upload_id`, ending any older one."""
        ...

    def release(self, upload_id: int) -> None:
        """This session no longer receives `upload_id`."""
        ...

    async def next_frame(
        self, first: bool = False, buffer_for: Callable[[int], memoryview] | None = None
    ) -> Frame:
        """Read the next frame within the idle time."""
        ...

    async def send_json(self, frame_type: FrameType, body: dict[str, Any]) -> None:
        """Send a control frame."""
        ...


@dataclass
class Receiving:
    """An upload this server is receiving right now; a resume may take it over."""

    session: SessionSide
    done: asyncio.Event


class ServerSide(Protocol):
    """What a session and a receiver use of the server."""

    config: Config
    storage: Storage
    receiving: dict[int, Receiving]
    logins: FailedLogins
    io: ThreadPoolExecutor
    direct: ThreadPoolExecutor

    @property
    def db(self) -> Database:
        """The server's connection to the results database."""
        ...

    def take_direct_slot(self) -> bool:
        """Reserve a direct-receive thread for an upload, if one is free."""
        ...

    def give_back_direct_slot(self) -> None:
        """Free a slot `take_direct_slot` gave."""
        ...

    def handshake_over(self, session: SessionSide) -> None:
        """A session authenticated (or ended): it leaves the handshakes."""
        ...

    def submit_job(self, job_id: int, path: str, name: str) -> None:
        """Hand a job to the processor."""
        ...

    def submit_stream(self, job_id: int, path: str, name: str, offset: int, final: bool) -> None:
        """Tell the processor a stream's file is durable up to `offset` (and, if `final`,
        that it ends there)."""
        ...

    async def wait_for_job(self, job_id: int) -> tuple[str, str | None]:
        """Wait until a job is done or failed; its state and error."""
        ...
