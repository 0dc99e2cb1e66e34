"""The upload server: one asyncio loop, many connections, one processor process.

The server accepts connections (plain TCP, or TLS when given an `ssl.SSLContext`), runs a
`Session` for each, records uploads and jobs in the database, and hands jobs to the
processor process over a `multiprocessing.Pipe`. It never imports the processor: it is
given the function to run in that process, and the pipe messages (`loglens.messages`) and
the database rows are the whole contract. Jobs are rows, so a job the processor did not
finish (it died, or the server was killed) runs again when the processor or the server
starts again.

Which of those unfinished starts count against the job's file: a processor that died
while this server ran and was not stopping (nor was it stopped by SIGINT, SIGTERM or
SIGHUP, signals meant for the whole tree) died of its jobs, and their starts count; a job
the server finds running when it starts was interrupted by the server's own stop or kill,
and its start does not count (see `processor.service.MAX_ATTEMPTS`).

On SIGINT or SIGTERM (`shutdown`) the server stops accepting and tells the processor to
stop: it finishes its running jobs, meanwhile uploads in flight get SHUTDOWN_GRACE to
end, and clients waiting for a job get its result, or, when it did not end in this run,
the retryable `shutting_down` error. A processor that does not finish its running jobs
within PROCESSOR_GRACE is killed and they are queued again, not counted. The processor
starts with SIGINT blocked (and then ignores it): a Ctrl-C reaches the whole process
group, and only the server acts on it.

The server looks for queued jobs it has not handed over every `QUEUE_POLL_SECONDS`, so a
job queued by another process (`python -m loglens jobs retry ID`) runs without a restart.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import multiprocessing
import signal
import ssl as ssl_module
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from loglens import messages
from loglens.config import Config
from loglens.errors import StorageError
from loglens.protocol import HANDSHAKE, ErrorCode, encode_error
from loglens.server.admission import FailedLogins, address_key, reserve_for_authenticated
from loglens.server.contracts import Receiving, SessionSide
from loglens.server.files import Storage, is_stream_path, sync_size
from loglens.server.session import Session, close_gently, lockout_message
from loglens.server.stream import Stream
from loglens.storage import Database
from loglens.storage.schema import format_time

logger = logging.getLogger(__name__)

# Run in the processor process, which starts with SIGINT blocked (see `_ProcessorLink.start`).
ProcessorTarget = Callable[[Connection, Config], None]
# Seconds in-flight uploads get to finish when the server is asked to stop.
SHUTDOWN_GRACE = 10.0
# Seconds the processor gets to finish its running jobs when the server stops.
PROCESSOR_GRACE = 10.0
_SWEEP_SECONDS = 3600.0
# Seconds between looks for queued jobs the processor was not given (queued by the CLI).
QUEUE_POLL_SECONDS = 2.0
# Seconds a dead processor's jobs wait before they are requeued: a signal to the whole
# process tree (Ctrl-C) reaches the server too, and its stop must not count them.
SETTLE_SECONDS = 1.0
# Exit codes (-signal) of a processor stopped by someone, not by its jobs.
_STOPPED_BY_SIGNAL = frozenset(-s for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
IO_THREADS = 8
# Big uploads received at once by threads of their own (see `direct`); more wait their
# turn on the event loop.
DIRECT_THREADS = 4


class Server:
    """The upload server; `start`, then `shutdown`."""

    def __init__(
        self,
        config: Config,
        processor: ProcessorTarget | None,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.storage = Storage(config.storage_path)
        self.receiving: dict[int, Receiving] = {}
        self._processor_target = processor
        self._ssl = ssl
        self._db: Database | None = None
        self._listener: asyncio.Server | None = None
        self._sessions: dict[Session, asyncio.Task[None]] = {}
        # Sessions still in their handshake, oldest first, and how many per address (see
        # `admission`); sessions pushed out of it that have not ended yet.
        self._handshaking: dict[SessionSide, None] = {}
        self._handshakes_from: collections.Counter[str] = collections.Counter()
        self._pushed_out: set[SessionSide] = set()
        self.logins = FailedLogins(config.auth_failure_limit, config.auth_lockout_seconds)
        self._waiters: dict[int, list[asyncio.Future[tuple[str, str | None]]]] = {}
        # Tasks of the sessions inside `wait_for_job`: at shutdown they wait for the
        # processor's running jobs, not for SHUTDOWN_GRACE.
        self._waiting: set[asyncio.Task[Any]] = set()
        self._processor: _ProcessorLink | None = None
        self._closing = False
        self._sweeper: asyncio.Task[None] | None = None
        self._queue_watcher: asyncio.Task[None] | None = None
        # Jobs handed to the current processor that have not ended: the others queued in
        # the database are handed over by `_watch_queue`.
        self._submitted: set[int] = set()
        self._resubmitting: set[asyncio.Task[None]] = set()  # stream jobs handed over again
        # Threads for the uploads' file writes, hashing and fsyncs (hashlib and file I/O
        # release the GIL, so they run beside the event loop).
        self.io = ThreadPoolExecutor(IO_THREADS, thread_name_prefix="upload-io")
        # Threads that receive a big upload each, straight from its socket.
        self.direct = ThreadPoolExecutor(DIRECT_THREADS, thread_name_prefix="upload-direct")
        self._direct_free = DIRECT_THREADS

    def take_direct_slot(self) -> bool:
        """Reserve a direct-receive thread for an upload, if one is free (on the loop)."""
        if self._direct_free == 0 or self._closing:
            return False
        self._direct_free -= 1
        return True

    def give_back_direct_slot(self) -> None:
        """Free a slot `take_direct_slot` gave (once its thread has ended)."""
        self._direct_free += 1

    @property
    def db(self) -> Database:
        """The server's connection to the results database."""
        assert self._db is not None, "the server is not started"
        return self._db

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the server listens on (the real port when PORT is 0)."""
        assert self._listener is not None, "the server is not started"
        host, port = self._listener.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def start(self) -> None:
        """Create the storage and database, start the processor, and listen."""
        await asyncio.to_thread(self.storage.create)
        self._db = await Database.open(self.config.database)
        # Jobs still running were interrupted by this server's stop or kill: not counted.
        queued = await self._db.requeue_unfinished(interrupted=True)
        if self._processor_target is not None:
            self._processor = _ProcessorLink(self._processor_target, self.config, self)
            self._processor.start()
            for job in queued:
                self.submit_job(job.id, job.path, job.name)
            if queued:
                logger.info("%d unfinished jobs queued again", len(queued))
            self._queue_watcher = asyncio.create_task(self._watch_queue())
        await self._sweep_once()
        self._sweeper = asyncio.create_task(self._sweep_partials())
        self._listener = await asyncio.get_running_loop().create_server(
            lambda: Stream(self._accept),
            self.config.host,
            self.config.port,
            ssl=self._ssl,
            # A peer stalled inside the TLS handshake has the same deadline as any other.
            ssl_handshake_timeout=self.config.handshake_timeout if self._ssl else None,
        )
        host, port = self.address
        logger.info("loglens server listening on %s:%d", host, port)

    async def shutdown(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop accepting, let uploads in flight end (or leave them resumable), stop the
        processor after its running jobs, and close the database. Queued jobs stay queued."""
        self._closing = True
        if self._listener is not None:
            self._listener.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._queue_watcher is not None:
            self._queue_watcher.cancel()
        for task in list(self._resubmitting):
            task.cancel()
        # The processor finishes its running jobs (and starts no other) meanwhile.
        processor_stopped = asyncio.create_task(self._stop_processor())
        idle = [task for session, task in self._sessions.items() if not session.busy]
        for task in idle:
            task.cancel()
        busy = [task for session, task in self._sessions.items() if session.busy]
        if busy:
            logger.info("waiting up to %g s for %d uploads in flight", grace, len(busy))
            _done, late = await asyncio.wait(busy, timeout=grace)
            for task in late:
                if task not in self._waiting:  # those wait for the processor, below
                    task.cancel()
        await processor_stopped
        # Their jobs did not end in this run: they hear `shutting_down` (retryable).
        for task in self._waiting:
            task.cancel()
        answering = list(self._sessions.values())  # with the results of jobs that ended
        if answering:
            _done, late = await asyncio.wait(answering, timeout=grace)
            for task in late:
                task.cancel()
        await asyncio.gather(*self._sessions.values(), return_exceptions=True)
        if self._db is not None:
            await self._db.close()
        await asyncio.to_thread(self.direct.shutdown, wait=True)
        await asyncio.to_thread(self.io.shutdown, wait=True)
        logger.info("server stopped")

    async def _stop_processor(self) -> None:
        """Stop the processor after its running jobs; queue again those it did not finish
        within PROCESSOR_GRACE, their start not counted (the server's stop cut it short)."""
        if self._processor is None or await self._processor.stop(PROCESSOR_GRACE):
            return
        if self._db is not None:
            try:
                await self._db.requeue_unfinished(interrupted=True)
            except StorageError as exc:  # the next start queues them again anyway
                logger.error("cannot queue the unfinished jobs again: %s", exc)

    async def _watch_queue(self) -> None:
        """Hand the processor the queued jobs it was not given (queued by another process,
        such as `loglens jobs retry`), every QUEUE_POLL_SECONDS."""
        while True:
            await asyncio.sleep(QUEUE_POLL_SECONDS)
            try:
                queued = await self.db.queued_jobs()
            except StorageError as exc:
                logger.error("cannot look for queued jobs: %s", exc)
                continue
            for job in queued:
                if job.id not in self._submitted and not self._closing:
                    logger.info("job %d was queued from outside: handing it over", job.id)
                    self.submit_job(job.id, job.path, job.name)

    async def _sweep_partials(self) -> None:
        """Every hour, sweep unfinished uploads (the first sweep runs in `start`)."""
        while True:
            await asyncio.sleep(_SWEEP_SECONDS)
            await self._sweep_once()

    async def _sweep_once(self) -> None:
        """Give up uploads unfinished for PARTIAL_TTL, and delete their bytes."""
        before = datetime.now(UTC) - timedelta(seconds=self.config.partial_ttl)
        try:
            stale = await self.db.abandon_uploads(format_time(before), set(self.receiving))
            for upload_id in stale:
                await asyncio.to_thread(self.storage.discard, upload_id)
        except (StorageError, OSError) as exc:
            logger.error("cannot clean up unfinished uploads: %s", exc)
            return
        if stale:
            logger.info("%d uploads unfinished for too long: given up", len(stale))

    async def _accept(self, stream: Stream) -> None:
        address = address_key(stream.get_extra_info("peername"))
        refused = self._refusal(address)
        if refused is not None:
            logger.info("connection from %s refused: %s: %s", address, *refused)
            await _refuse(stream, encode_error(*refused))
            return
        session = Session(self, stream)
        task = asyncio.current_task()
        assert task is not None
        session.task = task
        self._sessions[session] = task
        self._handshaking[session] = None
        self._handshakes_from[address] += 1
        try:
            await session.run()
        finally:
            self.handshake_over(session)
            self._pushed_out.discard(session)
            del self._sessions[session]

    def _refusal(self, address: str) -> tuple[ErrorCode, str] | None:
        """Why a new connection from `address` is refused, or None to serve it (pushing
        out the oldest connection in its handshake when their share is full)."""
        config = self.config
        if self._closing:
            return ErrorCode.SHUTTING_DOWN, "the server is shutting down"
        if locked := self.logins.locked_for(address):
            return ErrorCode.TOO_MANY_FAILURES, lockout_message(address, locked)
        if self._handshakes_from[address] >= config.max_handshakes_per_address:
            return ErrorCode.SERVER_BUSY, (
                f"{address} has {config.max_handshakes_per_address} connections that have "
                "not authenticated yet, the most the server allows from one address "
                "(MAX_HANDSHAKES_PER_ADDRESS); try again shortly"
            )
        share = config.max_connections - reserve_for_authenticated(config.max_connections)
        serving = len(self._sessions) - len(self._pushed_out)
        if len(self._handshaking) >= share or serving >= config.max_connections:
            if not self._handshaking:
                return ErrorCode.SERVER_BUSY, (
                    f"the server is serving its maximum of {config.max_connections} "
                    "connections (MAX_CONNECTIONS); try again shortly"
                )
            self._push_out_oldest_handshake()
        return None

    def _push_out_oldest_handshake(self) -> None:
        """Make room for a new connection: stop the oldest one still in its handshake."""
        oldest = next(iter(self._handshaking))
        self.handshake_over(oldest)
        self._pushed_out.add(oldest)
        logger.info("%s: pushed out of its handshake to make room", oldest.peer)
        oldest.stop(
            ErrorCode.SERVER_BUSY,
            "the server is full of connections that have not authenticated, and this one "
            "was the oldest (MAX_CONNECTIONS, HANDSHAKE_TIMEOUT); try again",
        )

    def handshake_over(self, session: SessionSide) -> None:
        """A session authenticated, ended or was pushed out: it leaves the handshakes."""
        if self._handshaking.pop(session, 0) is None:
            self._handshakes_from[session.address] -= 1
            if self._handshakes_from[session.address] <= 0:
                del self._handshakes_from[session.address]

    def submit_job(self, job_id: int, path: str, name: str) -> None:
        """Hand a job to the processor (its row is already queued)."""
        if self._processor is None:
            logger.warning("job %d stays queued: this server runs no processor", job_id)
            return
        self._submitted.add(job_id)
        if is_stream_path(path):  # a stream's job: analysed as far as its file is durable
            task = asyncio.get_running_loop().create_task(self._resubmit_stream(job_id, path, name))
            self._resubmitting.add(task)
            task.add_done_callback(self._resubmitting.discard)
            return
        self._processor.send(messages.job(job_id, str(self.storage.resolve(path)), name))

    def submit_stream(self, job_id: int, path: str, name: str, offset: int, final: bool) -> None:
        """Tell the processor a stream's file is durable up to `offset` (see streaming)."""
        if self._processor is None:
            return
        self._submitted.add(job_id)
        full = str(self.storage.resolve(path))
        self._processor.send(messages.stream(job_id, full, name, offset, final))

    async def _resubmit_stream(self, job_id: int, path: str, name: str) -> None:
        """Hand over a stream's job again (a restart): up to what its file durably holds,
        and final if the stream has ended."""
        try:
            job = await self.db.job(job_id)
            record = None if job is None else await self.db.stream_of_blob(job.blob_id)
            size = await asyncio.to_thread(sync_size, self.storage.resolve(path))
        except (StorageError, OSError) as exc:
            logger.error("stream job %d: cannot hand it over: %s", job_id, exc)
            return
        if record is not None:
            self.submit_stream(job_id, path, name, size, record.ended)

    async def wait_for_job(self, job_id: int) -> tuple[str, str | None]:
        """Wait until job `job_id` is done or failed; return its state and error."""
        future: asyncio.Future[tuple[str, str | None]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(job_id, []).append(future)
        task = asyncio.current_task()
        if task is not None:
            self._waiting.add(task)
        try:
            job = await self.db.job(job_id)
            if job is not None and job.state in ("done", "failed"):
                return job.state, job.error
            return await future
        finally:
            if task is not None:
                self._waiting.discard(task)
            waiting = self._waiters.get(job_id, [])
            if future in waiting:
                waiting.remove(future)
            if not waiting:
                self._waiters.pop(job_id, None)

    def job_changed(self, message: messages.StateMessage) -> None:
        """The processor says a job changed state: wake whoever waits for its end."""
        if message["state"] not in ("done", "failed"):
            return
        self._submitted.discard(message["job_id"])
        for future in self._waiters.get(message["job_id"], []):
            if not future.done():
                future.set_result((message["state"], message["error"]))

    async def processor_died(self, exitcode: int | None) -> None:
        """Start a new processor and give it every unfinished job again; count their start
        against them unless the processor was stopped (by a signal, or with the server)."""
        await asyncio.sleep(SETTLE_SECONDS)  # a signal to the whole tree stops us meanwhile
        if self._closing or self._processor is None:
            return
        stopped = exitcode in _STOPPED_BY_SIGNAL
        queued = await self.db.requeue_unfinished(interrupted=stopped)
        self._submitted.clear()
        self._processor.start()
        for job in queued:
            self.submit_job(job.id, job.path, job.name)


async def _refuse(stream: Stream, error: bytes) -> None:
    """Answer a connection the server will not serve, and close it."""
    stream.write(HANDSHAKE + error)
    await close_gently(stream)


class _ProcessorLink:
    """The processor process and the server's end of its pipe."""

    def __init__(self, target: ProcessorTarget, config: Config, server: Server) -> None:
        self._target = target
        self._config = config
        self._server = server
        self._process: Any = None
        self._conn: Connection | None = None
        self._outbox: list[Any] = []
        self._ready = False
        self._restart: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the process; messages wait in an outbox until it says it is ready."""
        context = multiprocessing.get_context("spawn")  # polars' threads do not survive fork
        ours, theirs = context.Pipe()
        self._process = context.Process(
            target=self._target, args=(theirs, self._config), name="loglens-processor"
        )
        # Born with SIGINT blocked (a signal mask survives fork and exec) until its target
        # ignores it: a Ctrl-C while it starts must not stop it either. Blocked here, a
        # SIGINT for the server waits, it is not lost.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        theirs.close()
        self._conn, self._ready = ours, False
        asyncio.get_running_loop().add_reader(ours.fileno(), self._readable)
        logger.info("processor started (pid %d)", self._process.pid)

    def send(self, message: Any) -> None:
        """Send a message to the processor, or keep it until the processor is ready."""
        if not self._ready or self._conn is None:
            self._outbox.append(message)
            return
        try:
            self._conn.send(message)
        except OSError:
            self._outbox.append(message)  # the processor died: it is restarted with all jobs

    def _readable(self) -> None:
        conn = self._conn
        assert conn is not None
        try:
            while conn.poll():
                message = conn.recv()
                if message["type"] == "ready":
                    self._ready = True
                    logger.info("processor ready with %d workers", message["workers"])
                    outbox, self._outbox = self._outbox, []
                    for queued in outbox:
                        self.send(queued)
                elif message["type"] == "state":
                    self._server.job_changed(message)
        except (EOFError, OSError):
            self._lost()

    def _lost(self) -> None:
        conn = self._conn
        if conn is None:
            return
        asyncio.get_running_loop().remove_reader(conn.fileno())
        conn.close()
        self._conn, self._ready, self._outbox = None, False, []
        if self._process is not None:
            self._process.join(timeout=5)
        if self._server._closing:
            return
        exitcode = self._process.exitcode if self._process is not None else None
        logger.error(
            "the processor exited unexpectedly (exit code %s); starting a new one", exitcode
        )
        self._restart = asyncio.get_running_loop().create_task(
            self._server.processor_died(exitcode)
        )

    async def stop(self, grace: float) -> bool:
        """Ask the processor to finish its running jobs and exit, reading what it says of
        them meanwhile; kill it after `grace` s. Whether it finished them."""
        process = self._process
        if process is None:
            return True
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send({"type": "stop"})
        await asyncio.to_thread(process.join, grace)
        finished = not process.is_alive()
        if not finished:
            logger.warning(
                "the processor did not finish its running jobs within %g s: terminating it; "
                "they stay queued for the next start",
                grace,
            )
            process.terminate()
            await asyncio.to_thread(process.join, 5)
        if self._conn is not None:
            self._readable()  # its last messages, up to the end of the pipe (`_lost`)
        if self._conn is not None:  # still alive: it ignored even SIGTERM
            asyncio.get_running_loop().remove_reader(self._conn.fileno())
            self._conn.close()
            self._conn = None
        return finished
