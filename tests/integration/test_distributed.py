"""Scale-out on Celery for real: RabbitMQ at 127.0.0.1:5672 and Redis at 127.0.0.1:6379,
`python -m loglens worker` subprocesses, the processor process fed over its Pipe.

Each test has its own queue (and, on Redis, its own database number), so tests do not
take each other's tasks.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pytest

from loglens import messages
from loglens.config import Config, load_config
from loglens.distributed.app import make_app
from loglens.distributed.tasks import TASK_NAME
from loglens.distributed.wire import PARTIALS, is_partial_of, write_lease
from loglens.processor.service import run_processor
from tests.conftest import ROOT, MakeLog
from tests.integration.postgres import sql_rows
from tests.integration.proxy import Proxy
from tests.integration.test_processor_service import queue_job, read_job

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
REDIS = "redis://127.0.0.1:6379/{db}"
TIMEOUT = 120.0
_RECEIVED = re.compile(r"Task loglens\.analyse_blocks\[([^\]]+)\] received")
# The tables a job's results go to (docs/schema.md).
RESULT_TABLES = (
    "results",
    "level_counts",
    "templates",
    "timeline",
    "rejected",
    "rejected_samples",
    "repaired",
    "filtered",
    "category_counts",
    "template_categories",
    "anomalies",
    "template_series",
    "formats",
    "incidents",
    "incident_findings",
)
_SUCCEEDED = re.compile(r"Task loglens\.analyse_blocks\[([^\]]+)\] succeeded")


@dataclass
class Broker:
    """The settings of one test's broker: its URL, its own queue, the shared storage."""

    url: str
    queue: str
    storage: Path

    def env(self) -> dict[str, str]:
        """The settings a worker gets."""
        return {
            "BROKER_URL": self.url,
            "BROKER_QUEUE": self.queue,
            "STORAGE_PATH": str(self.storage),
        }


@dataclass
class Worker:
    """A `python -m loglens worker` subprocess and its log."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def log(self) -> str:
        """What it logged so far."""
        return self.log_path.read_text(errors="replace")

    def received(self) -> list[str]:
        """Ids of the tasks it took."""
        return _RECEIVED.findall(self.log)

    def succeeded(self) -> list[str]:
        """Ids of the tasks it finished."""
        return _SUCCEEDED.findall(self.log)

    def held(self) -> list[str]:
        """Ids of the tasks it took and has not finished."""
        done = set(self.succeeded())
        return [task for task in self.received() if task not in done]

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes (a machine that dies)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(TIMEOUT)


@dataclass
class Workers:
    """Starts workers on one broker and stops them at the end of the test."""

    broker: Broker
    folder: Path
    started: list[Worker] = field(default_factory=list)

    def start(self, name: str, *flags: str) -> Worker:
        """Start a worker with one pool process; return once it is ready."""
        log_path = self.folder / f"worker-{name}.log"
        env = {**os.environ, **self.broker.env()}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "loglens", "worker", "--hostname", f"{name}@%h",
                 "--concurrency", "1", "--without-gossip", "--without-mingle", *flags],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                start_new_session=True,
            )  # fmt: skip
        worker = Worker(name, process, log_path)
        self.started.append(worker)
        wait_for(lambda: " ready." in worker.log or process.poll() is not None)
        assert process.poll() is None, worker.log
        return worker

    def stop(self) -> None:
        """A warm shutdown (SIGTERM), a kill if that does not end them."""
        for worker in self.started:
            if worker.process.poll() is None:
                os.killpg(worker.process.pid, signal.SIGTERM)
        for worker in self.started:
            try:
                worker.process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(worker.process.pid, signal.SIGKILL)
                worker.process.wait(TIMEOUT)


@dataclass
class Processor:
    """A processor process and the server's end of its pipe."""

    process: BaseProcess
    conn: Connection
    config: Config

    def analyse(self, job_id: int, path: Path, name: str) -> tuple[str, str | None]:
        """Run one job to its end; return its last state and error."""
        self.conn.send(messages.job(job_id, str(path), name))
        while True:
            assert self.conn.poll(TIMEOUT * 2), "the processor sent nothing"
            message: dict[str, Any] = self.conn.recv()
            if message["type"] == "state" and message["state"] in ("done", "failed"):
                assert message["job_id"] == job_id
                return message["state"], message["error"]


def wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait until `condition` holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture(params=["rabbitmq", "redis"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Broker:
    """A broker with a queue of this test's own, and the storage workers share."""
    storage = tmp_path / "storage"
    storage.mkdir()
    queue = f"loglens-test-{uuid.uuid4().hex[:12]}"
    if request.param == "rabbitmq":
        return Broker(RABBITMQ, queue, storage)
    return Broker(REDIS.format(db=1 + int(queue[-4:], 16) % 15), queue, storage)


@pytest.fixture
def rabbitmq(tmp_path: Path) -> Broker:
    """RabbitMQ with a queue of this test's own, and the storage workers share."""
    storage = tmp_path / "storage"
    storage.mkdir()
    return Broker(RABBITMQ, f"loglens-test-{uuid.uuid4().hex[:12]}", storage)


def _workers(broker: Broker, tmp_path: Path) -> Iterator[Workers]:
    workers = Workers(broker, tmp_path)
    try:
        yield workers
    finally:
        workers.stop()


@pytest.fixture
def workers(broker: Broker, tmp_path: Path) -> Iterator[Workers]:
    """Workers on the parametrised broker, stopped at the end."""
    yield from _workers(broker, tmp_path)


@pytest.fixture
def rabbit_workers(rabbitmq: Broker, tmp_path: Path) -> Iterator[Workers]:
    """Workers on RabbitMQ, stopped at the end."""
    yield from _workers(rabbitmq, tmp_path)


def start_processor(env: dict[str, str]) -> Iterator[Processor]:
    """A processor with two local workers (or none: with BROKER_URL, Celery's)."""
    config = load_config({"WORKERS": "2", **env})
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=run_processor, args=(theirs, config), name="processor")
    process.start()
    theirs.close()
    try:
        assert ours.poll(TIMEOUT), "the processor did not start"
        assert ours.recv()["type"] == "ready"
        yield Processor(process, ours, config)
    finally:
        ours.close()
        process.join(TIMEOUT)
        if process.is_alive():
            process.kill()


def table_rows(db: Path | str, table: str, columns: str = "*") -> list[tuple[Any, ...]]:
    """Every row of a table, in a stable order."""
    return sorted(sql_rows(db, f"SELECT {columns} FROM {table}"), key=repr)


def columns_of(db: Path, table: str) -> str:
    """The columns of a SQLite table, in its order (PostgreSQL's order may differ)."""
    return ", ".join(str(row[1]) for row in sql_rows(db, f"PRAGMA table_info({table})"))


def store(storage: Path, source: Path) -> Path:
    """Put a log where the server puts uploads: a blob inside STORAGE_PATH."""
    blob = storage / "ab" / f"blob-{source.name}"
    blob.parent.mkdir(exist_ok=True)
    blob.write_bytes(source.read_bytes())
    os.utime(blob, (source.stat().st_mtime, source.stat().st_mtime))
    return blob


def analyse_embedded(tmp_path: Path, logs: list[Path], chunk: str) -> list[dict[str, Any]]:
    """The reports of the embedded processor (its own pool), one job a log."""
    db = tmp_path / "embedded.db"
    reports = []
    for processor in start_processor({"DB_PATH": str(db), "CHUNK_BYTES": chunk}):
        for number, path in enumerate(logs):
            job_id = queue_job(db, f"u{number}.log", f"e{number}")
            assert processor.analyse(job_id, path, path.name) == ("done", None)
            report = read_job(db, job_id)[1]
            assert report is not None
            reports.append(report)
    return reports


def analyse_distributed(
    tmp_path: Path, broker: Broker, blobs: list[Path], chunk: str, db: Path | str = ""
) -> tuple[Path | str, list[int]]:
    """Jobs of the distributed processor on `blobs`; return its database (a SQLite file
    unless `db` names a PostgreSQL URL) and job ids."""
    db = db or tmp_path / "distributed.db"
    where = {"DATABASE_URL": db} if isinstance(db, str) else {"DB_PATH": str(db)}
    env = {**broker.env(), **where, "CHUNK_BYTES": chunk}
    ids = []
    for processor in start_processor(env):
        for number, path in enumerate(blobs):
            job_id = queue_job(db, f"u{number}.log", f"d{number}")
            assert processor.analyse(job_id, path, path.name.removeprefix("blob-")) == (
                "done",
                None,
            )
            ids.append(job_id)
    return db, ids


def test_distributed_results_are_the_embedded_ones(
    broker: Broker, workers: Workers, tmp_path: Path, make_log: MakeLog
) -> None:
    logs = [
        make_log("log4j", lines=6000, name="app.log"),
        make_log("python", lines=3000, name="py.log"),
        make_log("syslog", lines=4000, name="sys.log"),
    ]
    paths = [path for path, _truth in logs]
    blobs = [store(broker.storage, path) for path in paths]
    workers.start("one")
    workers.start("two")
    # Small blocks: every file is many tasks, merged in order from answers in any order.
    embedded = analyse_embedded(tmp_path, paths, "64KiB")
    db, ids = analyse_distributed(tmp_path, broker, blobs, "64KiB")
    for job_id, expected in zip(ids, embedded, strict=True):
        job, report = read_job(db, job_id)
        assert job is not None and (job.state, job.attempts) == ("done", 1)
        assert report is not None and expected is not None
        assert report["entries"] > 1000 and report["top_errors"]
        assert report == expected  # levels, templates and ids, timeline, anomalies...
    # Every row stored for them, in every table of results, is the embedded mode's.
    for table in RESULT_TABLES:
        assert table_rows(db, table) == table_rows(tmp_path / "embedded.db", table), table
    # The jobs' leases and partial summaries are gone with them.
    assert not list((broker.storage / PARTIALS).iterdir())


def test_distributed_results_in_postgresql_are_the_embedded_ones(
    rabbitmq: Broker,
    rabbit_workers: Workers,
    postgres_url: str,
    tmp_path: Path,
    make_log: MakeLog,
) -> None:
    logs = [make_log("python", lines=5000, name="py.log"), make_log("jsonl", lines=3000)]
    paths = [path for path, _truth in logs]
    blobs = [store(rabbitmq.storage, path) for path in paths]
    rabbit_workers.start("one")
    rabbit_workers.start("two")
    embedded = analyse_embedded(tmp_path, paths, "64KiB")
    db, ids = analyse_distributed(tmp_path, rabbitmq, blobs, "64KiB", db=postgres_url)
    for job_id, expected in zip(ids, embedded, strict=True):
        job, report = read_job(db, job_id)
        assert job is not None and (job.state, job.attempts) == ("done", 1)
        assert report is not None and report["entries"] > 1000
        assert report == expected
    embedded_db = tmp_path / "embedded.db"
    for table in RESULT_TABLES:
        columns = columns_of(embedded_db, table)
        assert table_rows(db, table, columns) == table_rows(embedded_db, table, columns), table


def test_two_workers_share_one_big_file(
    rabbitmq: Broker, rabbit_workers: Workers, tmp_path: Path, make_log: MakeLog
) -> None:
    path, _truth = make_log("log4j", lines=60_000, name="big.log")
    blob = store(rabbitmq.storage, path)
    one, two = rabbit_workers.start("one"), rabbit_workers.start("two")
    db, (job_id,) = analyse_distributed(tmp_path, rabbitmq, [blob], "64KiB")
    tasks = path.stat().st_size // (2 * 64 * 1024)
    assert tasks > 20
    done_by = [len(re.findall(rf"job {job_id} task \d+ \(big\.log", w.log)) for w in (one, two)]
    assert all(done_by), done_by  # both worked on it
    assert sum(done_by) >= tasks
    expected = analyse_embedded(tmp_path, [path], "64KiB")
    assert read_job(db, job_id)[1] == expected[0]


def test_a_worker_killed_mid_task_loses_nothing(
    rabbitmq: Broker, rabbit_workers: Workers, tmp_path: Path, make_log: MakeLog
) -> None:
    path, _truth = make_log("log4j", lines=150_000, name="big.log")
    blob = store(rabbitmq.storage, path)
    victim, survivor = rabbit_workers.start("victim"), rabbit_workers.start("survivor")
    db = tmp_path / "distributed.db"
    env = {**rabbitmq.env(), "DB_PATH": str(db), "CHUNK_BYTES": "256KiB"}
    for processor in start_processor(env):
        job_id = queue_job(db, "big.log", "big")
        processor.conn.send(messages.job(job_id, str(blob), "big.log"))
        # Once the victim has finished a task and taken the next one, it dies with it.
        wait_for(lambda: bool(victim.succeeded() and victim.held()))
        victim.kill()
        held = victim.held()
        assert held, "the victim held no task when it died"
        while True:
            assert processor.conn.poll(TIMEOUT * 2)
            message = processor.conn.recv()
            if message["type"] == "state" and message["state"] != "running":
                assert (message["job_id"], message["state"]) == (job_id, "done"), message
                break
    # The task it held was given to the survivor, which ran it.
    assert set(held) <= set(survivor.succeeded())
    job, report = read_job(db, job_id)
    assert job is not None and (job.state, job.attempts) == ("done", 1)
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "SELECT count(*) FROM results WHERE job_id = ?", (job_id,)
        ).fetchone() == (1,)
    expected = analyse_embedded(tmp_path, [path], "256KiB")
    assert report == expected[0]  # every entry counted once


@dataclass
class PrivateRedis:
    """A redis-server of this test's own (the shared one is not ours to stop)."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it on its port, empty (it keeps nothing on disk); wait until it answers."""
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers)

    def kill(self) -> None:
        """SIGKILL it: whatever it held (queued tasks, results) is lost."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(TIMEOUT)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of this test's own, on a free port, stopped at the end."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = PrivateRedis(port, tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


def test_a_redis_lost_mid_job_is_resumed(
    private_redis: PrivateRedis, tmp_path: Path, make_log: MakeLog
) -> None:
    # Redis SIGKILLed and started again, empty: queued tasks and answers are lost with it.
    def outage() -> None:
        private_redis.kill()
        private_redis.start()

    url = f"redis://127.0.0.1:{private_redis.port}/0"
    job_across_an_outage(url, outage, tmp_path, make_log, {"BROKER_RESEND_SECONDS": "5"})


def test_rabbitmq_lost_mid_job_is_resumed(
    proxy_to: Callable[[int], Proxy], tmp_path: Path, make_log: MakeLog
) -> None:
    # The processor and the workers reach RabbitMQ through a proxy, cut for a few seconds
    # mid-job: every connection drops (the answers on their way with them), then it is back.
    proxy = proxy_to(5672)

    def outage() -> None:
        proxy.cut()
        time.sleep(3)
        proxy.restore()

    url = f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
    job_across_an_outage(url, outage, tmp_path, make_log)
    assert proxy.connections > 4  # the clients connected again


def job_across_an_outage(
    url: str,
    outage: Callable[[], None],
    tmp_path: Path,
    make_log: MakeLog,
    settings: dict[str, str] | None = None,
) -> None:
    """Run a big job on two workers over the broker at `url`, with `outage` while it runs;
    check that it ends once, done, with the embedded mode's results."""
    storage = tmp_path / "storage"
    storage.mkdir()
    broker = Broker(url, f"loglens-test-{uuid.uuid4().hex[:12]}", storage)
    path, _truth = make_log("log4j", lines=150_000, name="big.log")
    blob = store(storage, path)
    workers = Workers(broker, tmp_path)
    try:
        one, two = workers.start("one"), workers.start("two")
        db = tmp_path / "distributed.db"
        env = {**broker.env(), "DB_PATH": str(db), "CHUNK_BYTES": "256KiB", **(settings or {})}
        for processor in start_processor(env):
            job_id = queue_job(db, "big.log", "big")
            processor.conn.send(messages.job(job_id, str(blob), "big.log"))
            wait_for(lambda: len(one.succeeded()) + len(two.succeeded()) >= 4)
            before = len(one.succeeded()) + len(two.succeeded())
            outage()
            assert last_state(processor, job_id) == ("done", None)
    finally:
        workers.stop()
    assert before < path.stat().st_size // (256 * 1024 * 2)  # the outage came mid-job
    job, report = read_job(db, job_id)
    assert job is not None and (job.state, job.attempts) == ("done", 1)
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "SELECT count(*) FROM results WHERE job_id = ?", (job_id,)
        ).fetchone() == (1,)
    assert report == analyse_embedded(tmp_path, [path], "256KiB")[0]


def test_a_database_lost_mid_job_is_waited_for(
    proxy_to: Callable[[int], Proxy], postgres_url: str, tmp_path: Path, make_log: MakeLog
) -> None:
    # The processor reaches PostgreSQL through a proxy, cut twice: before a job starts,
    # and while a job is analysed (its results wait to be stored).
    proxy = proxy_to(5432)
    proxied = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}", 1)
    assert proxied != postgres_url
    path, _truth = make_log("log4j", lines=150_000, name="big.log")
    env = {"DATABASE_URL": proxied, "CHUNK_BYTES": "256KiB"}
    for processor in start_processor(env):
        jobs = [queue_job(postgres_url, f"{n}.log", f"c{n}") for n in range(2)]
        proxy.cut()
        processor.conn.send(messages.job(jobs[0], str(path), "big.log"))
        time.sleep(3)
        assert not processor.conn.poll(0)  # not started without its database
        proxy.restore()
        assert last_state(processor, jobs[0]) == ("done", None)
        processor.conn.send(messages.job(jobs[1], str(path), "big.log"))
        assert processor.conn.poll(TIMEOUT) and processor.conn.recv()["state"] == "running"
        proxy.cut()  # mid-analysis: the results are ready before the database is back
        time.sleep(6)
        assert not processor.conn.poll(0)  # neither done nor failed
        proxy.restore()
        assert last_state(processor, jobs[1]) == ("done", None)
    expected = analyse_embedded(tmp_path, [path], "256KiB")[0]
    for job_id in jobs:
        job, report = read_job(postgres_url, job_id)
        assert job is not None and (job.state, job.attempts) == ("done", 1)
        assert report == expected
    assert sql_rows(postgres_url, "SELECT count(*) FROM results") == [(2,)]


def last_state(processor: Processor, job_id: int) -> tuple[str, str | None]:
    """Wait for a job's last state message; return its state and error."""
    while True:
        assert processor.conn.poll(TIMEOUT * 2), "the processor said nothing more"
        message = processor.conn.recv()
        if message["type"] == "state" and message["state"] != "running":
            assert message["job_id"] == job_id, message
            return message["state"], message["error"]


def test_hostile_task_messages_are_refused(
    rabbitmq: Broker, rabbit_workers: Workers, tmp_path: Path
) -> None:
    worker = rabbit_workers.start("guard")
    secret = tmp_path / "secret.log"
    secret.write_text("2024-01-01 00:00:00 ERROR password=hunter2\n")
    inside = rabbitmq.storage / "ab" / "blob"
    inside.parent.mkdir()
    inside.write_text("2024-01-01 00:00:00 INFO hello\n")
    (rabbitmq.storage / "ab" / "link").symlink_to(secret)
    nonce = write_lease(rabbitmq.storage, 7, "ab/blob")
    app = make_app(load_config(rabbitmq.env()))

    def send(message: dict[str, Any]) -> dict[str, Any]:
        result = app.send_task(TASK_NAME, args=[message], queue=rabbitmq.queue)
        answer: dict[str, Any] = result.get(timeout=TIMEOUT)
        return answer

    good = _message(7, nonce, "ab/blob")
    try:
        cases = {
            "outside": ({**good, "blob": "../../secret.log"}, "is not a path inside"),
            "absolute": ({**good, "blob": str(secret)}, "is not a path inside"),
            "symlink": ({**good, "blob": "ab/link"}, "leads outside STORAGE_PATH"),
            "unknown job": ({**good, "job": 8}, "job 8 is unknown here"),
            "wrong nonce": ({**good, "nonce": "0" * 32}, "nonce is not the job's"),
            "not a job id": ({**good, "job": "../7"}, "is not a job id"),
            "malformed": ({"job": 7, "nonce": nonce}, "malformed"),
        }
        for case, (message, why) in cases.items():
            answer = send(message)
            assert why in answer.get("refused", ""), (case, answer)
        assert not list((rabbitmq.storage / PARTIALS / "7").glob("*.summary"))
        assert "hunter2" not in worker.log
        answer = send(good)  # the worker still runs, and runs a good message
        assert is_partial_of(answer["partial"], 7, 0) and answer["worker"].startswith("guard@")
        assert (rabbitmq.storage / answer["partial"]).is_file()
    finally:
        app.close()


def test_worker_ping_and_broker_errors(
    rabbitmq: Broker, rabbit_workers: Workers, tmp_path: Path
) -> None:
    env = {**os.environ, **rabbitmq.env()}

    def worker_cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "loglens", "worker", *args],
            capture_output=True, text=True, env={**env, **extra}, cwd=ROOT, timeout=TIMEOUT,
        )  # fmt: skip

    assert worker_cli("--ping", "--timeout", "1").returncode == 1  # none yet
    rabbit_workers.start("pinged")
    ping = worker_cli("--ping", "--hostname", "pinged@%h", "--timeout", "10")
    assert ping.returncode == 0 and "pinged@" in ping.stdout, ping.stderr
    down = worker_cli(BROKER_URL="amqp://guest:guest@127.0.0.1:1//")
    assert down.returncode == 1
    assert "cannot reach the broker at BROKER_URL=amqp://guest:**@127.0.0.1:1//" in down.stderr
    # The processor says the same and stops, rather than run without its workers.
    config = load_config({**rabbitmq.env(), "BROKER_URL": "amqp://guest:guest@127.0.0.1:1//",
                          "DB_PATH": str(tmp_path / "x.db")})  # fmt: skip
    context = multiprocessing.get_context("spawn")
    _ours, theirs = context.Pipe()
    process = context.Process(target=run_processor, args=(theirs, config))
    process.start()
    process.join(TIMEOUT)
    assert process.exitcode == 1


def _message(job_id: int, nonce: str, blob: str) -> dict[str, Any]:
    """A well-formed task message for the first block of a small blob."""
    return {
        "job": job_id,
        "nonce": nonce,
        "index": 0,
        "source": 0,
        "file": "blob.log",
        "blob": blob,
        "format": json.loads(json.dumps(_generic_format())),
        "confidence": 1.0,
        "tz": "UTC",
        "reference": "2024-06-01T00:00:00+00:00",
        "drop_levels": [],
        "drop_regex": "",
        "blocks": [[0, 31]],
        "data": None,
        "max_line_bytes": 1 << 20,
        "whole_bytes": 1 << 22,
    }


def _generic_format() -> dict[str, Any]:
    from dataclasses import asdict

    from loglens.analysis.formats import GENERIC_FORMAT

    return asdict(GENERIC_FORMAT)
