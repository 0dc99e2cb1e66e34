"""Stream jobs in the processor: analyse a stream's file as the server makes it durable.

The server sends a `stream` message each time a stream's file is fsynced further (see
`loglens.server.streaming`). A `StreamJob` per stream reads the new bytes up to that
offset — complete lines only, the last line waits for its newline until the stream ends —
and absorbs them into a `LiveAnalysis` (the summaries merge exactly: the results at any
moment are the analysis of the stream as far as it is durable). Its results replace the
blob's in the database at most every `STORE_SECONDS`, and no more often than `STORE_SHARE`
times what storing them costs (a big stream's templates and findings take longer to
rebuild), and the alert rules are evaluated on them each time (one alert per incident, as
for files). The job stays `running` while the stream is open; the final message ends it
as `done` with the results of the whole stream.

A stream job that hears nothing for `IDLE_SECONDS` (its client stopped) stores its results
and leaves memory; its job stays running under this processor, and the next message reads
the stream again from its start. A processor that stops or dies leaves it running too: the
server queues it again at its restart and hands it over with the offset its file holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from loglens import messages
from loglens.storage import Database, Job, Results

if TYPE_CHECKING:
    from loglens.processor.alerting import Alerting
    from loglens.processor.live import LiveAnalysis
    from loglens.processor.local import Options

logger = logging.getLogger(__name__)

STORE_SECONDS = 0.25  # at most this often
STORE_SHARE = 4  # and at least this many times what the last store cost apart
IDLE_SECONDS = 300.0
READ_BYTES = 4 * 1024 * 1024  # read and absorbed at once
_T = TypeVar("_T")


class StreamHost(Protocol):
    """What a stream job uses of the processor that runs it."""

    runner: str
    alerting: Alerting | None

    @property
    def db(self) -> Database:
        """The processor's database."""
        ...

    @property
    def options(self) -> Options:
        """The analysis options."""
        ...

    @property
    def threads(self) -> ThreadPoolExecutor:
        """Where a stream's analysis runs (it blocks), apart from files' jobs."""
        ...

    @property
    def top_n(self) -> int:
        """How many error templates a report lists."""
        ...

    @property
    def stopping(self) -> bool:
        """The processor is stopping."""
        ...

    def send(self, message: Any) -> None:
        """Send a message to the server."""
        ...

    async def waiting_for_database(self, what: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        """Run a database operation, waiting for the database while it is away."""
        ...

    async def fail(self, job: Job, error: str) -> None:
        """Record that a job failed."""
        ...


class StreamJob:
    """The analysis of one stream while it grows (see the module docstring)."""

    def __init__(self, host: StreamHost, job_id: int, path: str, name: str) -> None:
        self._host = host
        self.job_id = job_id
        self._path = Path(path)
        self._name = name
        self._target = 0  # durable bytes of the stream, as far as the server said
        self._final = False
        self._wake = asyncio.Event()
        self._heard = time.monotonic()

    def update(self, offset: int, final: bool) -> None:
        """The server says the stream is durable up to `offset` (and ends there if final)."""
        self._target = max(self._target, offset)
        self._final = self._final or final
        self._heard = time.monotonic()
        self._wake.set()

    def wake(self) -> None:
        """Look again now (the processor is stopping)."""
        self._wake.set()

    async def run(self) -> None:
        """Take the job, follow the stream until it ends (or goes quiet, or the processor
        stops), store its results as it goes."""
        host = self._host
        job = await self._take()
        if job is None:
            return
        from loglens.processor.live import LiveAnalysis

        analysis = LiveAnalysis(self._name, host.options, host.top_n)
        reader = _Reader(self._path, host.options.limits.max_line_bytes)
        loop = asyncio.get_running_loop()
        stored_at, cost, dirty = 0.0, 0.0, False
        try:
            while True:
                if reader.position < self._target:
                    batch = await loop.run_in_executor(
                        host.threads, reader.read, self._target, self._final
                    )
                    await loop.run_in_executor(host.threads, analysis.feed, batch)
                    dirty = dirty or bool(batch)
                    if reader.position < self._target and not host.stopping:
                        continue  # more to read: store only once caught up (or below)
                ended = self._final and reader.position >= self._target
                if ended:
                    await loop.run_in_executor(host.threads, analysis.flush)
                    await self._finish(job, analysis, reader.position)
                    return
                due = stored_at + max(STORE_SECONDS, STORE_SHARE * cost)
                if dirty and time.monotonic() >= due:
                    started = time.monotonic()
                    if await self._store(job, analysis, reader.position):
                        dirty = False
                    stored_at, cost = time.monotonic(), time.monotonic() - started
                if host.stopping or time.monotonic() - self._heard > IDLE_SECONDS:
                    if dirty:
                        await self._store(job, analysis, reader.position)
                    logger.info(
                        "stream job %d: %s at byte %d; it stays running",
                        self.job_id, "stopping" if host.stopping else "quiet", reader.position,
                    )  # fmt: skip
                    return
                self._wake.clear()
                wait = max(0.0, due - time.monotonic()) if dirty else STORE_SECONDS * 4
                if analysis.detection is None and analysis.summary.lines == 0:
                    wait = min(wait, 0.25)  # the format waits for lines or a second
                    await loop.run_in_executor(host.threads, analysis.feed, [])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
        except Exception as exc:
            from loglens.processor.service import describe_failure

            await host.fail(job, describe_failure(self._name, exc))

    async def _take(self) -> Job | None:
        """Start the job; or go on with it if it runs here already (after a quiet spell)."""
        host = self._host
        job = await host.waiting_for_database(
            f"stream job {self.job_id}: start", lambda: host.db.start_job(self.job_id, host.runner)
        )
        if job is None:
            job = await host.waiting_for_database(
                f"stream job {self.job_id}: read", lambda: host.db.job(self.job_id)
            )
            if job is None or job.state != "running" or job.runner != host.runner:
                logger.info("stream job %d is not queued (done, failed or taken)", self.job_id)
                return None
        host.send(messages.state(self.job_id, "running"))
        return job

    async def _results(self, analysis: LiveAnalysis) -> Results | None:
        """The rows of the analysis so far (None before the format is known)."""
        if analysis.detection is None:
            return None
        return await asyncio.get_running_loop().run_in_executor(
            self._host.threads, _results, analysis, self._host.top_n
        )

    async def _store(self, job: Job, analysis: LiveAnalysis, size: int) -> bool:
        """Replace the stream's results with the analysis so far; evaluate the alerts."""
        host = self._host
        results = await self._results(analysis)
        if results is None:
            return False
        stored = await host.waiting_for_database(
            f"stream job {self.job_id}: store results",
            lambda: host.db.store_live_results(self.job_id, host.runner, results, size),
        )
        if stored and host.alerting is not None:
            await host.alerting.after_job(job.blob_id)
        return stored

    async def _finish(self, job: Job, analysis: LiveAnalysis, size: int) -> None:
        """The stream ended and all of it is analysed: store the results, end the job."""
        host = self._host
        results = await self._results(analysis)
        if results is None or not analysis.summary.files:
            await host.fail(job, f"{self._name}: the stream ended with nothing to analyse")
            return
        finished = await host.waiting_for_database(
            f"stream job {self.job_id}: finish",
            lambda: host.db.finish_job(self.job_id, host.runner, results),
        )
        if not finished:
            logger.warning("stream job %d was taken from this runner: results dropped", job.id)
            return
        logger.info("stream job %d (%s): ended at byte %d, %d entries",
                    job.id, self._name, size, results.entries)  # fmt: skip
        if host.alerting is not None:
            await host.alerting.after_job(job.blob_id)
        host.send(messages.state(self.job_id, "done"))


class _Reader:
    """Reads a stream's file forward in complete lines (in a thread)."""

    def __init__(self, path: Path, max_line_bytes: int) -> None:
        self._path = path
        self._max_line = max_line_bytes
        self.position = 0  # bytes of the file read
        self._partial = b""  # the start of a line whose newline has not come yet

    def read(self, target: int, final: bool) -> list[Any]:
        """The complete lines between the last read and `target` (at most READ_BYTES of
        them), as batches for `LiveAnalysis.feed`; with `final`, the last line too."""
        from loglens.follow import Batch

        with self._path.open("rb") as handle:
            handle.seek(self.position)
            chunk = handle.read(min(READ_BYTES, target - self.position))
        start = self.position - len(self._partial)
        self.position += len(chunk)
        data = self._partial + chunk
        if final and self.position >= target:
            cut = len(data)
        else:
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) > self._max_line:
                cut = len(data)  # a line past any limit: hand it out, it is rejected
        block, self._partial = data[:cut], data[cut:]
        if block and not block.endswith(b"\n"):
            block += b"\n"  # the stream's last line, which has no newline
        return [Batch(block, start, 0)] if block else []


def _results(analysis: LiveAnalysis, top_n: int) -> Results:
    """The rows to store of a live analysis (in a thread: it rebuilds the templates)."""
    from loglens.analysis.report import build_report
    from loglens.storage.write.results import results_from_analysis

    summary, templates, findings = analysis.snapshot()
    report = build_report(summary, templates, top_n, findings)
    return results_from_analysis(summary, templates, report, findings)
