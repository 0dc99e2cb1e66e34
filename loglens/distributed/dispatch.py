"""The processor's side: send a job's block tasks to Celery, hand back their summaries.

`Dispatcher` owns the Celery app and one thread that does all its talking (Celery's
clients are not meant to be shared between threads): it publishes the tasks the job
threads submit and collects their answers in the order they were sent, which is the
order `_OrderedMerge` takes them in anyway. `Dispatcher.job` gives a job an Executor
whose `submit(run_task, task)` returns a Future like the local pool's, so
`loglens.processor.local.analyse` merges remote results with the very same code.

An answer names a partial summary file and its SHA-256 (see `partials`); the name is
checked to be the one of that job and task, and the file's hash against the answer's.

A broker that goes away while tasks are out: an error of the connection makes the
thread retry with a growing pause and, once the broker is back, send every unanswered
task again (a task is keyed by job and index: one run twice writes the same partial, and
only the first answer is taken). After BROKER_RETRY_SECONDS without a broker the tasks
fail with an error naming BROKER_URL, and so does their job, which `python -m loglens
jobs retry ID` queues again. Celery's clients often reconnect by themselves, and a broker
that restarted empty (Redis keeps nothing on disk) has lost the tasks without an error:
when no task has answered for BROKER_RESEND_SECONDS and none waits in the queue, the
unanswered ones are taken for lost and sent again.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from loglens.config import Config
from loglens.distributed.app import BrokerUnavailable, check_broker, make_app, shown_url
from loglens.distributed.tasks import TASK_NAME
from loglens.distributed.wire import (
    is_partial_of,
    job_folder,
    relative_blob,
    task_message,
    write_lease,
)
from loglens.errors import InputError

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_POLL_SECONDS = 0.01  # how long the thread waits for an answer before it looks for work
# After this long without an answer, the oldest task's stored state is read directly.
_DIRECT_CHECK_SECONDS = 1.0
BROKER_RETRY_SECONDS = 300.0
_STOP = object()


@dataclass
class _Sent:
    """A task out on the broker and the Future its answer resolves."""

    task_id: str
    job_id: int
    index: int
    file: str
    message: dict[str, Any]
    future: Future[Any]
    result: Any = None  # Celery's AsyncResult
    sent_at: float = 0.0


@dataclass
class TaskStats:
    """What the dispatcher measured: tasks answered, and where their time went."""

    tasks: int = 0
    round_trip: float = 0.0  # seconds from publishing to the answer, summed
    loading: float = 0.0  # seconds reading and checking partial files, summed
    workers: dict[str, int] | None = None  # tasks answered per worker


class Dispatcher:
    """Runs the block tasks of the processor's jobs on Celery workers."""

    def __init__(self, config: Config, app: Any) -> None:
        self._config = config
        self._storage = config.storage_path
        self._app = app
        self._inbox: queue.Queue[object] = queue.Queue()
        self._sent: dict[str, _Sent] = {}  # in the order sent
        self._progress = time.monotonic()  # when a task last answered (or the first went)
        self._checked = 0.0  # when an answer's stored state was last read directly
        self._broken: tuple[type[BaseException], ...] = ()  # the transport's errors
        # The thread's own producer on a connection of its own: one that broke is dropped
        # and the next task opens another (the app's pool would hand the dead one back).
        self._producer: Any = None
        self.stats = TaskStats(workers={})
        self._thread = threading.Thread(target=self._serve, name="celery", daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, config: Config) -> Dispatcher:
        """A dispatcher on BROKER_URL; BrokerUnavailable if the broker cannot be reached."""
        app = make_app(config)
        check_broker(app, config.broker_url)
        logger.info(
            "analysis tasks go to Celery at %s, queue %s",
            shown_url(config.broker_url), config.broker_queue,
        )  # fmt: skip
        return cls(config, app)

    def close(self) -> None:
        """Stop the thread (unanswered tasks fail) and close the app's connections."""
        self._inbox.put(_STOP)
        self._thread.join(30)
        self._app.close()

    @contextlib.contextmanager
    def job(self, job_id: int, path: Path) -> Iterator[JobExecutor]:
        """An Executor for the tasks of one job on the stored blob at `path`: its lease is
        open while the block is, and its partial files go when it ends."""
        blob = relative_blob(self._storage, path)
        folder = job_folder(self._storage, job_id)
        nonce = write_lease(self._storage, job_id, blob)
        executor = JobExecutor(self, job_id, nonce, blob)
        try:
            yield executor
        finally:
            executor.shutdown(cancel_futures=True)
            shutil.rmtree(folder, ignore_errors=True)

    def submit(self, sent: _Sent) -> None:
        """Hand a task to the thread (from any thread)."""
        self._inbox.put(sent)

    def forget(self, job_id: int) -> None:
        """Stop waiting for the tasks of a job (from any thread)."""
        self._inbox.put(("forget", job_id))

    # Below: the thread's own work.

    def _serve(self) -> None:
        """Publish tasks and collect answers until told to stop."""
        broken = self._broken = _broker_errors(self._app)
        failing_since: float | None = None
        pause = 0.5
        while True:
            try:
                if not self._take_inbox(block=not self._sent):
                    break
                if failing_since is not None:
                    logger.warning("the broker is back: sending %d tasks again", len(self._sent))
                    self._send_again()
                    failing_since, pause = None, 0.5
                self._collect_head()
                self._resend_if_lost()
            except broken as exc:
                self._drop_producer()
                now = time.monotonic()
                if failing_since is None:
                    failing_since = now
                    logger.error(
                        "lost the broker at BROKER_URL=%s (%s): %d tasks wait for it",
                        shown_url(self._config.broker_url), exc, len(self._sent),
                    )  # fmt: skip
                if now - failing_since > BROKER_RETRY_SECONDS:
                    self._fail_all(
                        BrokerUnavailable(
                            f"the broker at BROKER_URL={shown_url(self._config.broker_url)} "
                            f"was unreachable for {BROKER_RETRY_SECONDS:.0f} s ({exc})"
                        )
                    )
                    failing_since = None
                time.sleep(pause)
                pause = min(pause * 2, 10.0)
            except Exception as exc:  # a bug: its jobs fail and say so, the thread goes on
                logger.exception("the Celery dispatcher failed")
                self._fail_all(InputError(f"not analysed: the Celery dispatcher failed: {exc!r}"))
        self._fail_all(InputError("not analysed: the processor stopped"))
        self._drop_producer()

    def _take_inbox(self, block: bool) -> bool:
        """Publish what was submitted meanwhile; False once told to stop."""
        while True:
            try:
                item = self._inbox.get(block=block, timeout=None if block else 0)
            except queue.Empty:
                return True
            block = False
            if item is _STOP:
                return False
            if isinstance(item, tuple):
                _kind, job_id = item
                for task_id in [t for t, s in self._sent.items() if s.job_id == job_id]:
                    self._sent.pop(task_id).future.cancel()
            elif isinstance(item, _Sent) and item.future.set_running_or_notify_cancel():
                if not self._sent:
                    self._progress = time.monotonic()
                self._sent[item.task_id] = item
                self._publish(item)

    def _publish(self, sent: _Sent) -> None:
        if self._producer is None:
            self._producer = self._app.connection_for_write().Producer()
        sent.sent_at = time.monotonic()
        sent.result = self._app.send_task(
            TASK_NAME,
            args=[sent.message],
            task_id=sent.task_id,
            queue=self._config.broker_queue,
            producer=self._producer,
            retry=False,  # the thread retries itself, and sends again what is unanswered
        )

    def _drop_producer(self) -> None:
        """Close the producer's connection (broken, or at the end)."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):  # it may be broken: closing only frees it
                producer.connection.close()

    def _send_again(self) -> None:
        """The broker is back: send every unanswered task again (answers sent to the
        connection that was lost are lost with it)."""
        for sent in self._sent.values():
            self._publish(sent)

    def _collect_head(self) -> None:
        """Wait a moment for the answer of the oldest task; resolve its Future."""
        if not self._sent:
            return
        from celery.exceptions import TimeoutError as CeleryTimeout

        sent = next(iter(self._sent.values()))
        try:
            answer = sent.result.get(timeout=_POLL_SECONDS, propagate=False)
        except CeleryTimeout:
            if not self._answered_unheard(sent):
                return
            answer = sent.result.get(timeout=_POLL_SECONDS, propagate=False)
        if isinstance(answer, self._broken):
            # The connection to the results broke, not the task (a task answers with data):
            # the broker is looked for again, and unanswered tasks sent again.
            raise answer
        del self._sent[sent.task_id]
        self._progress = time.monotonic()
        self.stats.tasks += 1
        self.stats.round_trip += time.monotonic() - sent.sent_at
        sent.result.forget()
        started = time.monotonic()
        try:
            sent.future.set_result(self._summary(sent, answer))
        except Exception as exc:  # the Future carries it to the job, which says what it was
            sent.future.set_exception(exc)
        self.stats.loading += time.monotonic() - started

    def _answered_unheard(self, sent: _Sent) -> bool:
        """Whether the oldest task's answer is stored though no word of it came: Redis
        tells answers over pub/sub, and a subscription lost with a restarted broker stays
        silent. Its stored state is read directly, at most once a second of silence."""
        now = time.monotonic()
        if now - self._progress < _DIRECT_CHECK_SECONDS or now - self._checked < 1.0:
            return False
        self._checked = now
        return bool(sent.result.ready())

    def _resend_if_lost(self) -> None:
        """Send the unanswered tasks again if none answered for BROKER_RESEND_SECONDS and
        none waits in the queue (see the module docstring)."""
        silent = time.monotonic() - self._progress
        if not self._sent or silent < self._config.broker_resend_seconds:
            return
        self._progress = time.monotonic()
        waiting = self._queued()
        if waiting:
            logger.info(
                "no task answered for %.0f s; %d wait in queue %s for a worker",
                silent, waiting, self._config.broker_queue,
            )  # fmt: skip
            return
        logger.warning(
            "no task answered for %.0f s and none waits in queue %s: %d unanswered tasks "
            "were lost (a broker restarted?): sending them again",
            silent, self._config.broker_queue, len(self._sent),
        )  # fmt: skip
        self._send_again()

    def _queued(self) -> int:
        """How many messages wait in the task queue (0 if the broker does not know it)."""
        with self._app.connection_for_write() as connection:
            try:
                declared = connection.default_channel.queue_declare(
                    queue=self._config.broker_queue, passive=True
                )
            except connection.channel_errors:
                return 0  # no such queue: a broker that restarted empty
        return int(declared.message_count)

    def _summary(self, sent: _Sent, answer: object) -> Any:
        """The Summary an answer points at; InputError says why there is none."""
        from loglens.distributed.partials import read_partial

        if isinstance(answer, BaseException):
            raise InputError(f"{sent.file}: analysis failed on a worker: {answer!r}")
        if not isinstance(answer, dict):
            raise InputError(f"{sent.file}: a worker answered {answer!r:.200}, not a partial")
        worker = str(answer.get("worker", "?"))
        if "refused" in answer or "error" in answer:
            why = answer.get("refused") or answer.get("error")
            raise InputError(f"{sent.file}: worker {worker}: {why}")
        named = answer.get("partial")
        if not is_partial_of(named, sent.job_id, sent.index):
            raise InputError(f"{sent.file}: worker {worker} named {named!r}")
        summary, _written_by = read_partial(self._storage / str(named), str(answer.get("sha256")))
        assert self.stats.workers is not None
        self.stats.workers[worker] = self.stats.workers.get(worker, 0) + 1
        return summary

    def _fail_all(self, error: Exception) -> None:
        for sent in self._sent.values():
            sent.future.set_exception(error)
        self._sent.clear()


class JobExecutor(Executor):
    """The Executor of one job's tasks: `submit(run_task, task)` runs it on a worker."""

    def __init__(self, dispatcher: Dispatcher, job_id: int, nonce: str, blob: str) -> None:
        self._dispatcher = dispatcher
        self._job_id = job_id
        self._nonce = nonce
        self._blob = blob
        self._closed = False

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        """Send `run_task(task)` to the workers; the Future resolves to its Summary."""
        from loglens.processor.local import run_task

        if fn is not run_task or len(args) != 1 or kwargs:
            raise TypeError("a remote executor runs run_task(task) only")
        if self._closed:
            raise RuntimeError("cannot submit to a job that has ended")
        task = args[0]
        future: Future[_T] = Future()
        message = task_message(self._job_id, self._nonce, self._blob, task)
        task_id = f"loglens-{self._job_id}-{self._nonce[:8]}-{task.index}"
        self._dispatcher.submit(
            _Sent(task_id, self._job_id, task.index, task.file, message, future)
        )
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Submit nothing more; with `cancel_futures`, stop waiting for the rest."""
        self._closed = True
        if cancel_futures:
            self._dispatcher.forget(self._job_id)


def _broker_errors(app: Any) -> tuple[type[BaseException], ...]:
    """The errors kombu and the broker's transport raise when the connection breaks."""
    from celery.exceptions import BackendError
    from kombu.exceptions import OperationalError

    with app.connection_for_write() as connection:  # not connected: only asked its errors
        transport = (
            *connection.connection_errors,
            *connection.recoverable_connection_errors,
            *connection.channel_errors,  # a channel of a connection that broke
        )
    return (OSError, OperationalError, BackendError, *transport)
