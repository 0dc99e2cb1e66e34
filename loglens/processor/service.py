"""The processor process: runs the server's jobs on one worker pool and stores the results.

The server starts it as a `multiprocessing` (spawn) Process with `run_processor` as its
target and talks to it only through the messages of `loglens.messages` and the database.
Jobs run `config.worker_count` at a time, each in a thread (the analysis blocks), all
sharing one pool of worker processes that lives as long as the process.

When the server goes away (the pipe closes) the process exits at once: its running jobs
stay 'running' in the database and run again when the server restarts.

A database server that cannot be reached (PostgreSQL restarting, a network cut) makes a
job wait for it, its analysis kept in memory, and go on where it was once it is back (see
`waiting_for_database`): it does not fail, and its results are stored once.

The process and its workers ignore SIGINT: a Ctrl-C in the server's terminal reaches the
whole process group, and the server alone decides what it means (it sends "stop", and the
processor finishes its running jobs and exits).

A job fails without being analysed once the processor has died under it MAX_ATTEMPTS
times while the server ran (`Job.counted_attempts`): the file is taken to be what kills
the processor. Starts that a stop or kill of the server interrupted do not count: the
server marks them `interrupted` when it requeues its unfinished jobs at start.

This module loads no polars when it is imported: the engine is imported only after
`configure_process` has tuned the allocator.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from loglens import messages
from loglens.config import Config
from loglens.errors import DatabaseUnavailable, InputError, LoglensError
from loglens.processor.streams import StreamJob
from loglens.processor.workers import configure_process, ignore_ctrl_c, limit_threads
from loglens.storage import Database, Job, Results

if TYPE_CHECKING:
    from loglens.analysis.anomalies import History
    from loglens.distributed.dispatch import Dispatcher
    from loglens.processor.alerting import Alerting
    from loglens.processor.inputs import Source
    from loglens.processor.local import Analysis, Options

logger = logging.getLogger(__name__)

LOG_FORMAT = "processor %(asctime)s %(levelname)s %(name)s: %(message)s"
# A job the processor died under this many times while the server ran fails instead of
# taking the next processor down too (restarts of the server do not count).
MAX_ATTEMPTS = 3
# Pauses between tries while the database cannot be reached: doubling, up to this long.
DATABASE_PAUSE_SECONDS = 10.0
_T = TypeVar("_T")
_EOF = object()  # the pipe closed: the server is gone
_JOB_ENDED = object()  # a job task ended: the main loop looks again whether it may exit


def run_processor(conn: Connection, config: Config) -> None:
    """Serve jobs from the server at the other end of `conn` until it says stop or goes."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr, force=True)
    configure_process()
    ignore_ctrl_c()
    try:
        asyncio.run(_main(conn, config))
    except LoglensError as exc:
        logger.error("cannot run: %s", exc)
        sys.exit(1)


async def _main(conn: Connection, config: Config) -> None:
    """Open the database and the pool, serve, and close both."""
    from loglens.processor.alerting import Alerting
    from loglens.processor.options import options_from_config

    options = options_from_config(config)
    remote = _start_dispatcher(config)  # None without BROKER_URL
    try:
        db = await Database.open(config.database)
        try:
            alerting = await Alerting.open(config)  # None without alert rules and webhook
            processor = _Processor(conn, config, options, db, remote)
            processor.alerting = alerting
            try:
                await processor.serve()
            finally:
                processor.close()
                if alerting is not None:
                    await alerting.close()
        finally:
            await db.close()
    finally:
        if remote is not None:
            remote.close()


def _start_dispatcher(config: Config) -> Dispatcher | None:
    """With BROKER_URL set, the dispatcher that runs the jobs' blocks on Celery workers
    (BrokerUnavailable, naming BROKER_URL, when its broker is down); else None."""
    if not config.broker_url:
        return None
    from loglens.distributed.dispatch import Dispatcher

    return Dispatcher.start(config)


class _Processor:
    """The job loop of one processor process."""

    def __init__(
        self,
        conn: Connection,
        config: Config,
        options: Options,
        db: Database,
        remote: Dispatcher | None = None,
    ):
        self.runner = uuid.uuid4().hex
        self._conn = conn
        self._config = config
        self._options = options
        self._db = db
        self._workers = config.worker_count
        self._slots = asyncio.Semaphore(self._workers)
        self._threads = ThreadPoolExecutor(self._workers, thread_name_prefix="job")
        # Streams' analyses have threads of their own: a file's job holds its thread for as
        # long as it runs, and a stream must not wait behind it.
        self._stream_threads = ThreadPoolExecutor(self._workers, thread_name_prefix="stream")
        self._pool_lock = threading.Lock()
        # Blocks run on Celery workers (remote), or on a local pool of worker processes.
        self._remote = remote
        self._pool = None if remote is not None else _start_pool(self._workers)
        self._tasks: set[asyncio.Task[None]] = set()
        self._jobs_here: set[int] = set()  # the ids of the jobs those tasks run
        self._analysing = 0
        self._stopping = False
        self._inbox: asyncio.Queue[object] = asyncio.Queue()
        self.alerting: Alerting | None = None
        self._streams: dict[int, StreamJob] = {}  # the stream jobs followed here

    # What stream jobs use (StreamHost) ---------------------------------------------------

    @property
    def db(self) -> Database:
        """The processor's database."""
        return self._db

    @property
    def options(self) -> Options:
        """The analysis options."""
        return self._options

    @property
    def threads(self) -> ThreadPoolExecutor:
        """The threads streams are analysed in."""
        return self._stream_threads

    @property
    def top_n(self) -> int:
        """How many error templates a report lists."""
        return self._config.top_n

    @property
    def stopping(self) -> bool:
        """Whether the processor is stopping."""
        return self._stopping

    async def serve(self) -> None:
        """Take messages until stop (then finish the running jobs) or the pipe closes."""
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=_read_pipe, args=(self._conn, loop, self._inbox), name="pipe", daemon=True
        ).start()
        logger.info("runner %s ready with %d workers", self.runner, self._workers)
        self.send({"type": "ready", "workers": self._workers})
        while not (self._stopping and not self._tasks):
            message = await self._inbox.get()
            if message is _EOF:
                self._abandon()
                return
            if message is _JOB_ENDED:
                continue
            self._dispatch(message)
        logger.info("stopped: running jobs finished, queued jobs stay queued")

    def close(self) -> None:
        """Stop the threads and the worker pool, and wait for them."""
        self._threads.shutdown(wait=True, cancel_futures=True)
        self._stream_threads.shutdown(wait=True, cancel_futures=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _dispatch(self, message: object) -> None:
        """Act on one message of the server."""
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "stop":
            logger.info("stop asked: finishing %d running jobs", len(self._tasks))
            self._stopping = True
            for stream in self._streams.values():
                stream.wake()
        elif kind == "stream" and isinstance(message, dict):
            self._stream(message)
        elif kind == "job" and isinstance(message, dict):
            if self._stopping:
                logger.info("job %s arrived after stop: it stays queued", message.get("job_id"))
                return
            try:
                job_id, path, name = int(message["job_id"]), message["path"], message["name"]
            except (KeyError, TypeError, ValueError):
                logger.warning("ignored a malformed job message: %.200r", message)
                return
            task = asyncio.create_task(self._run_job(job_id, str(path), str(name)))
            self._tasks.add(task)
            task.add_done_callback(self._ended)
        else:
            logger.warning("ignored a message this processor does not know: %.200r", message)

    def _stream(self, message: dict[str, Any]) -> None:
        """A stream's file is durable further: its job follows it (started if new here)."""
        if self._stopping:
            return  # its job stays running, and is handed over again at the next start
        try:
            job_id, path, name = int(message["job_id"]), str(message["path"]), str(message["name"])
            offset, final = int(message["offset"]), bool(message["final"])
        except (KeyError, TypeError, ValueError):
            logger.warning("ignored a malformed stream message: %.200r", message)
            return
        stream = self._streams.get(job_id)
        if stream is None:
            stream = self._streams[job_id] = StreamJob(self, job_id, path, name)
            task = asyncio.create_task(self._follow(stream))
            self._tasks.add(task)
            task.add_done_callback(self._ended)
        stream.update(offset, final)

    async def _follow(self, stream: StreamJob) -> None:
        try:
            await stream.run()
        finally:
            self._streams.pop(stream.job_id, None)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("job task failed", exc_info=task.exception())
        self._inbox.put_nowait(_JOB_ENDED)

    async def _run_job(self, job_id: int, path: str, name: str) -> None:
        """Run one job, unless it already runs here (the server handed it over twice)."""
        if job_id in self._jobs_here:
            logger.info("job %d already runs here: skipped", job_id)
            return
        self._jobs_here.add(job_id)
        try:
            await self._run_job_here(job_id, path, name)
        finally:
            self._jobs_here.discard(job_id)

    async def _run_job_here(self, job_id: int, path: str, name: str) -> None:
        """Run one job: take it, analyse its file, store the results or why it failed."""
        async with self._slots:
            if self._stopping:
                return  # not started: it stays queued in the database
            try:
                job = await self.waiting_for_database(
                    f"job {job_id}: start", lambda: self._db.start_job(job_id, self.runner)
                )
                if job is None:  # or started by a try whose answer the network lost
                    job = await self._mine(job_id, "running")
            except LoglensError as exc:
                logger.error("job %d: cannot start it, it stays queued: %s", job_id, exc)
                return
            if job is None:
                logger.info("job %d is not queued (done, failed or taken): skipped", job_id)
                return
            if job.counted_attempts > MAX_ATTEMPTS:
                await self.fail(
                    job,
                    f"{name}: not analysed: it was started {MAX_ATTEMPTS} times and the "
                    "processor died under it each time while the server ran (look for a "
                    "crash in the processor's log; `python -m loglens jobs retry "
                    f"{job_id}` runs it again)",
                )
                return
            started = time.monotonic()
            loop = asyncio.get_running_loop()
            self._analysing += 1
            try:
                history = await self.waiting_for_database(
                    f"job {job_id}: history", lambda: self._db.source_history(job.blob_id)
                )
                self.send(messages.state(job_id, "running"))
                results = await loop.run_in_executor(
                    self._threads, self._analyse, job_id, path, name, history
                )
            except Exception as exc:
                await self.fail(job, describe_failure(name, exc))
                return
            finally:
                self._analysing -= 1
            try:
                finished = await self.waiting_for_database(
                    f"job {job_id}: store results",
                    lambda: self._db.finish_job(job_id, self.runner, results),
                )
                # A try whose COMMIT went through though its answer was lost: stored once.
                finished = finished or await self._mine(job_id, "done") is not None
            except LoglensError as exc:
                await self.fail(job, f"{name}: results not stored: {exc}")
                return
            if not finished:
                logger.warning(
                    "job %d was taken from this runner meanwhile: results dropped", job_id
                )
                return
            logger.info(
                "job %d (%s): done in %.2f s, %d entries",
                job_id, name, time.monotonic() - started, results.entries,
            )  # fmt: skip
            if self.alerting is not None:
                await self.alerting.after_job(job.blob_id)
            self.send(messages.state(job_id, "done"))

    async def fail(self, job: Job, error: str) -> None:
        """Record that a job failed, and say so."""
        logger.warning("job %d failed: %s", job.id, error)
        try:
            recorded = await self.waiting_for_database(
                f"job {job.id}: record failure",
                lambda: self._db.fail_job(job.id, self.runner, error),
            )
        except LoglensError as exc:
            logger.error("job %d: cannot record its failure: %s", job.id, exc)
            recorded = True  # the server should still hear of it
        if recorded:
            self.send(messages.state(job.id, "failed", error))

    async def waiting_for_database(self, what: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        """Run a database operation; while the database cannot be reached, wait for it and
        try again (each operation is one transaction: a try that failed wrote nothing)."""
        pause, failing = 0.5, 0
        while True:
            try:
                return await operation()
            except DatabaseUnavailable as exc:
                if failing % 10 == 0:  # the first time, then every 10th try
                    logger.error("%s: waiting for the database (try %d): %s", what, failing + 1,
                                 exc)  # fmt: skip
                failing += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, DATABASE_PAUSE_SECONDS)

    async def _mine(self, job_id: int, state: str) -> Job | None:
        """The job if it is in `state` under this runner (a try whose answer was lost)."""
        job = await self.waiting_for_database(f"job {job_id}: read", lambda: self._db.job(job_id))
        if job is not None and job.state == state and job.runner == self.runner:
            return job
        return None

    def _analyse(
        self,
        job_id: int,
        path: str,
        name: str,
        history: tuple[frozenset[str], int, int] | None,
    ) -> Results:
        """Analyse one stored file (in a thread) and turn it into the rows to store;
        `history` is what earlier uploads of the same source tell (see anomalies)."""
        from loglens.analysis.anomalies import History
        from loglens.analysis.report import build_report
        from loglens.processor.options import file_source
        from loglens.storage.write.results import results_from_analysis

        source = file_source(Path(path), name)
        known = None if history is None else History(*history)
        if self._remote is not None:
            analysis = self._analyse_remotely(self._remote, job_id, Path(path), source, known)
        else:
            analysis = self._analyse_here(name, source, known)
        if analysis.problems:
            raise InputError("; ".join(str(problem) for problem in analysis.problems))
        if not analysis.summary.files:
            raise InputError(f"{name}: nothing could be analysed")
        report = build_report(
            analysis.summary, analysis.templates, self._config.top_n, analysis.findings
        )
        return results_from_analysis(
            analysis.summary, analysis.templates, report, analysis.findings
        )

    def _analyse_here(self, name: str, source: Source, known: History | None) -> Analysis:
        """Analyse a file on the pool; once more on a new pool if a worker died."""
        from loglens.processor.local import analyse

        for attempt in range(2):
            pool = self._pool
            assert pool is not None  # there is a pool when there is no dispatcher
            analysis = analyse([source], self._options, pool=pool, history=known)
            if not analysis.pool_broken:
                break
            # A worker died: of this job, or of another one sharing the pool, or while the
            # pool was idle. Once more on a new pool tells them apart.
            self._replace_pool(pool)
            if attempt == 0:
                logger.warning("%s: a worker died during its analysis: trying once more", name)
        return analysis

    def _analyse_remotely(
        self, remote: Dispatcher, job_id: int, path: Path, source: Source, known: History | None
    ) -> Analysis:
        """Analyse a stored file on the Celery workers (see loglens.distributed)."""
        from loglens.processor.local import analyse

        options = replace(self._options, in_flight=self._config.broker_in_flight)
        with remote.job(job_id, path) as executor:
            return analyse([source], options, pool=executor, history=known)

    def _replace_pool(self, broken: ProcessPoolExecutor) -> None:
        """Put a new pool in place of a broken one (once, whichever job saw it first)."""
        with self._pool_lock:
            if self._pool is not broken:
                return
            logger.error("a worker process died: starting a new pool of %d", self._workers)
            from loglens.processor.local import discard_broken_pool

            discard_broken_pool(broken)
            self._pool = _start_pool(self._workers)

    def send(self, message: Any) -> None:
        """Send a message to the server; a closed pipe means the server is gone."""
        try:
            self._conn.send(message)
        except (OSError, ValueError) as exc:
            logger.warning("cannot reach the server (%s)", exc)
            self._inbox.put_nowait(_EOF)

    def _abandon(self) -> None:
        """The server is gone: stop now, leaving running jobs 'running' for its restart."""
        logger.warning(
            "the server is gone: exiting; %d running jobs run again when it restarts",
            self._analysing,
        )
        self._stopping = True  # jobs waiting for a slot stay queued
        if self._analysing:
            # Their threads cannot be stopped, and would keep the process alive: leave now.
            # The workers exit with us (see _init_worker); SQLite rolls back any open
            # transaction.
            logging.shutdown()
            os._exit(0)
        # Else `close` shuts the pool down and waits for its workers: a pool shut down
        # without waiting can hang the exit of a multiprocessing child (its queue's feeder
        # thread is stopped before the workers are told to stop).


def _read_pipe(
    conn: Connection, loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue[object]
) -> None:
    """Forward the server's messages to the event loop (in a thread: recv blocks)."""
    while True:
        try:
            message: object = conn.recv()
        except (EOFError, OSError):
            message = _EOF
        try:
            loop.call_soon_threadsafe(inbox.put_nowait, message)
        except RuntimeError:  # the loop is closed: nobody listens any more
            return
        if message is _EOF:
            return


def describe_failure(name: str, exc: Exception) -> str:
    """Why a job failed, for the database and the server; a bug is also logged."""
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, LoglensError | OSError):
        return f"{name}: analysis failed: {exc}"
    logger.error("analysis of %s failed", name, exc_info=exc)
    return f"{name}: analysis failed: {type(exc).__name__}: {exc}"


def _start_pool(workers: int) -> ProcessPoolExecutor:
    """A worker pool whose processes are started now (each loads the engine meanwhile)."""
    from loglens.processor.local import worker_pool

    pool = worker_pool(workers, initializer=_init_worker)
    for _ in range(workers):  # no worker is idle yet, so each submit starts one
        pool.submit(_warm_up).add_done_callback(_warmed_up)
    return pool


def _init_worker() -> None:
    """Initialise a pool worker: `limit_threads`, SIGINT ignored (it is from the start,
    inherited from the processor, until polars is imported), and exit when this process
    exits."""
    limit_threads()
    ignore_ctrl_c()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    """Exit once the parent process has (a killed processor must not leave workers)."""
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _warm_up() -> int:
    """Load the engine in a worker; return its pid."""
    import loglens.processor.local  # noqa: F401

    return os.getpid()


def _warmed_up(future: Future[int]) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        logger.warning("a worker did not start: %s", error)
    else:
        logger.debug("worker %d ready", future.result())
