"""`python client.py --follow FILE...`: send growing logs to the server as streams.

Each followed file (or standard input, `-`) is one stream (docs/protocol.md, *A stream*)
over a connection of its own. The file is read like `tail -F` (`loglens.follow`):
through rotation, truncation and a file that does not exist yet. Complete lines are
appended to an in-memory buffer of what the server has not acknowledged; the connection
sends the buffer as DATA frames and drops its front as PROGRESS frames say the server
holds it on disk. A connection that drops (the server restarted, the network cut) is
made again, for as long as it takes, and the stream resumes at the offset the server
names: nothing is lost and nothing sent twice. The buffer holds at most `BUFFER_BYTES`;
past that the file waits on disk (standard input waits in its pipe).

**A later run goes on where this one stopped.** For a file, the client keeps a small
record under `LOGLENS_RESUME_DIR` (per server, operator and path): the stream's id and
its *runs*, where the stream's bytes came from — stream offset, the file's device and
inode, and the file offset — written before the first byte of each run is sent. The same
command, run again, resumes the stream, maps the server's offset back to a file and a
position (a file rotated meanwhile is found beside the path by its inode), and follows on
from there. Standard input cannot be read again: a run over it is a stream of its own,
which ends (END) when the input does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import ssl as ssl_module
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loglens.client.inbox import Inbox
from loglens.client.models import INPUT_ERROR, UploadOptions
from loglens.client.resume import write_record
from loglens.client.upload import (
    AttemptFailure,
    connect,
    handshake,
    lost_connection,
    where_of,
)
from loglens.follow import Batch, Follower
from loglens.protocol import ErrorCode, FrameType, PeerError, UploadHeader, encode

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2  # how often a quiet file is looked at
HEARTBEAT_SECONDS = 15.0  # an empty DATA frame this often keeps a quiet stream open
BUFFER_BYTES = 64 * 1024 * 1024  # unacknowledged bytes held at most
STDIN_READ_BYTES = 1024 * 1024
_KEEP_RUNS = 16


@dataclass(frozen=True)
class Run:
    """Stream bytes from `start` on come from the file `identity`, from its `position`."""

    start: int
    identity: tuple[int, int]
    position: int


class StreamRecord:
    """The record of one followed file's stream, kept across runs (module docstring)."""

    def __init__(self, directory: Path, server: str, token: str, path: Path) -> None:
        self.directory = directory
        operator = hashlib.sha256(b"loglens-operator\0" + token.encode()).hexdigest()
        self.key = {"server": server, "operator": operator, "follow": str(path.resolve())}
        name = hashlib.sha256(json.dumps(self.key, sort_keys=True).encode()).hexdigest()
        self.path = directory / f"stream-{name[:32]}.json"

    def load(self) -> tuple[int, list[Run]] | None:
        """The stream id and runs recorded for this file, or None."""
        try:
            record: Any = json.loads(self.path.read_bytes())
            if {name: record.get(name) for name in self.key} != self.key:
                return None
            stream_id = int(record["stream_id"])
            runs = [Run(int(s), (int(d), int(i)), int(p)) for s, d, i, p in record["runs"]]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning("ignoring the unreadable stream record %s: %s", self.path, exc)
            return None
        return stream_id, runs

    def save(self, stream_id: int, runs: list[Run]) -> None:
        """Record the stream atomically (a temporary file renamed over the record)."""
        record = {
            **self.key,
            "stream_id": stream_id,
            "runs": [[run.start, *run.identity, run.position] for run in runs],
        }
        write_record(self.path, record)

    def forget(self) -> None:
        """Delete the record."""
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


class FollowFailed(Exception):
    """Following cannot go on (a refusal that no retry changes)."""


class Streamer:
    """Follow one source and send it as one stream, reconnecting as needed."""

    def __init__(
        self,
        name: str,
        path: Path | None,
        address: tuple[str, int],
        token: str,
        options: UploadOptions,
        say: Callable[[str], None],
    ) -> None:
        self.name = name
        self._path = path  # None: standard input
        self._host, self._port = address
        self._where = where_of(self._host, self._port)
        self._token = token
        self._options = options
        self._say = say
        self._record = (
            StreamRecord(options.resume_dir, self._where, token, path)
            if path is not None and options.resume_dir is not None
            else None
        )
        self.stream_id: int | None = None
        self._runs: list[Run] = []
        self._buffer = bytearray()  # stream bytes from `_base` on, not yet acknowledged
        self._base = 0
        self.end = 0  # the stream offset after the last byte read
        self.acked = 0  # bytes the server said it holds on disk
        self._ended = False  # the source ended (standard input closed)
        self._more = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._follower = Follower(path) if path is not None else None
        self._stdin_partial = b""  # the start of a line of standard input still coming
        self._unreadable: str | None = None  # why the source could not be read

    async def run(self) -> None:
        """Follow until the source ends (standard input) or the task is cancelled;
        FollowFailed when the server refuses the stream for good."""
        if self._record is not None:
            loaded = await asyncio.to_thread(self._record.load)
            if loaded is not None:
                self.stream_id, self._runs = loaded
        failures = 0
        try:
            while True:
                progress_before = self.acked
                try:
                    await self._connection()
                    return
                except PeerError as exc:
                    failure = self._refused(exc)
                except AttemptFailure as exc:
                    failure = exc
                except (OSError, EOFError, TimeoutError) as exc:
                    failure = lost_connection(exc, self._where, self._options.timeout)
                if failure.restart:
                    continue
                if not failure.retryable:
                    raise FollowFailed(f"{self.name}: {failure.message}")
                failures = 1 if self.acked > progress_before else failures + 1
                delay = min(self._options.max_backoff, self._options.backoff * 2 ** (failures - 1))
                delay *= random.uniform(0.5, 1.0)
                self._say(f"{self.name}: {failure.message}; reconnecting in {delay:.1f} s")
                await asyncio.sleep(delay)
        finally:
            if self._reader is not None:
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader
            if self._follower is not None:
                self._follower.close()

    def _refused(self, exc: PeerError) -> AttemptFailure:
        """Classify the server's ERROR. A stream it cannot resume (gone, or the database
        was replaced) starts again as a new stream, from the start of the file."""
        if exc.code is ErrorCode.NOT_RESUMABLE and self._reader is None:
            self._say(f"{self.name}: {exc.message}; starting a new stream")
            self.stream_id, self._runs = None, []
            return AttemptFailure(exc.code.value, exc.message, True, restart=True)
        return AttemptFailure(exc.code.value, exc.message, exc.code.retryable)

    async def _connection(self) -> None:
        """One connection: the stream header, then what is buffered, as it comes."""
        reader, writer = await connect(self._host, self._port, self._options, True)
        inbox: Inbox | None = None
        try:
            await handshake(reader, writer, self._host, self._port, self._options)
            inbox = Inbox(reader, self._options.timeout)
            header = UploadHeader(
                self._token, self.name, 0, None, resume=self.stream_id, kind="stream"
            )
            writer.write(encode(FrameType.UPLOAD, header.to_json()))
            await inbox.guard(writer.drain())
            accepted = await inbox.expect(FrameType.ACCEPTED)
            offset = await self._accepted(accepted.body or {})
            await self._send_from(offset, writer, inbox)
        finally:
            if inbox is not None:
                self._acknowledged(inbox.durable)
                inbox.close()
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, ssl_module.SSLError):
                async with asyncio.timeout(2):
                    await writer.wait_closed()

    async def _accepted(self, body: dict[str, Any]) -> int:
        """Take ACCEPTED's stream id and offset; on the first one, start reading the
        source from the place that offset maps to."""
        stream_id, offset = body.get("upload_id"), body.get("offset")
        if not _is_count(stream_id) or not _is_count(offset):
            raise PeerError(ErrorCode.MALFORMED_FRAME, f"ACCEPTED is not a stream's: {body!r}")
        assert isinstance(stream_id, int) and isinstance(offset, int)
        if self._reader is None:  # the first connection of this run
            if self.stream_id is None:
                self._say(f"{self.name}: following as stream {stream_id}")
            else:
                self._say(f"{self.name}: stream {stream_id} resumed at byte {offset:,}")
            self.stream_id = stream_id
            await asyncio.to_thread(self._position, offset)
            self._base = self.end = self.acked = offset
            self._reader = asyncio.create_task(self._read_forever())
            return offset
        if stream_id != self.stream_id or not self._base <= offset <= self.end:
            raise AttemptFailure(
                "stream_mismatch",
                f"the server holds {offset:,} bytes of stream {stream_id}; this client sent "
                f"{self.end:,} of stream {self.stream_id} and still holds those from "
                f"{self._base:,}",
                False,
            )
        self._acknowledged(offset)
        return offset

    def _position(self, offset: int) -> None:
        """Point the follower at the file and position stream byte `offset` came from
        (in a thread); save the record of a new stream."""
        if self._follower is None or self._record is None:
            return
        self._runs = [run for run in self._runs if run.start <= offset]
        if self._runs:
            run = self._runs[-1]
            position = run.position + offset - run.start
            if not self._follower.resume(run.identity, position):
                self._say(
                    f"{self.name}: the file stream byte {offset:,} came from was replaced "
                    "while the client was stopped; what it held after that is lost"
                )
                self._runs = []
        elif offset:
            self._say(f"{self.name}: no record of where the stream's {offset:,} bytes "
                      "came from: following the file from its start")  # fmt: skip
        assert self.stream_id is not None
        self._save()

    def _save(self) -> None:
        if self._record is not None and self.stream_id is not None:
            try:
                self._record.save(self.stream_id, self._runs[-_KEEP_RUNS:])
            except OSError as exc:
                logger.warning(
                    "cannot record stream %s in %s (%s): a later run will not resume it",
                    self.stream_id, self._record.directory, exc,
                )  # fmt: skip

    async def _read_forever(self) -> None:
        """Read the source into the buffer until it ends."""
        source: Callable[[], Awaitable[list[Batch]]]
        source = self._read_stdin if self._follower is None else self._read_file
        while not self._ended:
            if len(self._buffer) >= BUFFER_BYTES:
                await asyncio.sleep(POLL_SECONDS)  # the server is behind, or away
                continue
            try:
                batches = await source()
            except OSError as exc:  # unreadable: following cannot go on
                self._unreadable = f"cannot read {self.name}: {exc.strerror or exc}"
                self._more.set()
                return
            for batch in batches:
                await self._take(batch)
            if batches:
                self._more.set()
            elif not self._ended:
                await asyncio.sleep(POLL_SECONDS)
        self._more.set()

    async def _read_file(self) -> list[Batch]:
        assert self._follower is not None
        batches = await asyncio.to_thread(self._follower.read)
        for event in self._follower.events:
            self._say(f"{self.name}: {event}: following the new file from its start")
        self._follower.events.clear()
        return batches

    async def _read_stdin(self) -> list[Batch]:
        data = await asyncio.to_thread(os.read, 0, STDIN_READ_BYTES)
        if not data:
            self._ended = True
            rest, self._stdin_partial = self._stdin_partial, b""
            return [Batch(rest, 0, 0)] if rest else []  # sent as it is: the last line
        data = self._stdin_partial + data
        cut = data.rfind(b"\n") + 1
        self._stdin_partial = data[cut:]
        return [Batch(data[:cut], 0, 0)] if cut else []

    async def _take(self, batch: Batch) -> None:
        """Append a batch to the buffer; a new run (another file, or another place in
        it) is recorded first, so that a later run can map any offset to its file."""
        if batch.identity is not None:
            last = self._runs[-1] if self._runs else None
            continues = (
                last is not None
                and last.identity == batch.identity
                and last.position + (self.end - last.start) == batch.offset
            )
            if not continues:
                self._runs.append(Run(self.end, batch.identity, batch.offset))
                self._runs = [
                    run for i, run in enumerate(self._runs)
                    if i + 1 == len(self._runs) or self._runs[i + 1].start > self.acked
                ]  # fmt: skip
                await asyncio.to_thread(self._save)
        self._buffer += batch.data
        self.end += len(batch.data)

    async def _send_from(self, offset: int, writer: asyncio.StreamWriter, inbox: Inbox) -> None:
        """Send the buffer from `offset`, then what is read as it comes; END once the
        source ended and all is sent, and wait for STORED."""
        sent, frame = offset, self._options.frame_bytes
        quiet_since = asyncio.get_running_loop().time()
        while True:
            self._more.clear()
            while sent < self.end:
                start = sent - self._base
                chunk = bytes(self._buffer[start : start + frame])
                writer.write(encode(FrameType.DATA, chunk))
                sent += len(chunk)
                await inbox.guard(writer.drain())
                self._acknowledged(inbox.durable)
                quiet_since = asyncio.get_running_loop().time()
            if self._ended and sent == self.end:
                writer.write(encode(FrameType.END))
                await inbox.guard(writer.drain())
                stored = await inbox.expect(FrameType.STORED)
                body = stored.body or {}
                self._acknowledged(self.end)
                self._say(f"{self.name}: stream {self.stream_id} ended: "
                          f"{body.get('size', self.end):,} bytes stored")  # fmt: skip
                return
            inbox.check()
            self._acknowledged(inbox.durable)
            if self._unreadable is not None:
                raise AttemptFailure(INPUT_ERROR, self._unreadable, False)
            idle = asyncio.get_running_loop().time() - quiet_since
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._more.wait(), max(0.0, HEARTBEAT_SECONDS - idle))
            if not self._more.is_set():
                writer.write(encode(FrameType.DATA, b""))  # keeps the quiet stream open
                await inbox.guard(writer.drain())
                quiet_since = asyncio.get_running_loop().time()

    def _acknowledged(self, offset: int) -> None:
        """The server holds the stream up to `offset`: forget the buffer before it."""
        if offset <= self._base:
            return
        offset = min(offset, self.end)
        del self._buffer[: offset - self._base]
        self._base = self.acked = offset


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


async def follow_all(
    sources: list[tuple[str, Path | None]],
    address: tuple[str, int],
    token: str,
    options: UploadOptions,
    say: Callable[[str], None],
) -> list[str]:
    """Follow every source at once until each ends or the task is cancelled; the errors
    of those that failed for good (one line each)."""
    streamers = [Streamer(name, path, address, token, options, say) for name, path in sources]

    async def one(streamer: Streamer) -> str | None:
        try:
            await streamer.run()
        except FollowFailed as exc:
            return str(exc)
        return None

    errors = await asyncio.gather(*(one(streamer) for streamer in streamers))
    return [error for error in errors if error is not None]
