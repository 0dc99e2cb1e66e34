"""The processor process for real: spawned, fed over a Pipe, writing a real database."""

from __future__ import annotations

import asyncio
import gzip
import json
import multiprocessing
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pytest

from loglens import messages
from loglens.config import load_config
from loglens.processor.service import MAX_ATTEMPTS, run_processor
from loglens.storage import Database, Job
from tests.conftest import MakeLog, run_cli

TIMEOUT = 60.0


@dataclass
class Processor:
    """A running processor process and the server's end of its pipe."""

    process: BaseProcess
    conn: Connection
    db_path: Path

    def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next message from the processor."""
        assert self.conn.poll(timeout), "the processor sent nothing"
        message: dict[str, Any] = self.conn.recv()
        return message

    def run(self, job_id: int, path: Path | str, name: str) -> None:
        """Send a job."""
        self.conn.send(messages.job(job_id, str(path), name))

    def states(self, count: int) -> list[tuple[int, str, str | None]]:
        """The next `count` state messages, as (job_id, state, error)."""
        got = [self.receive() for _ in range(count)]
        assert all(m["type"] == "state" for m in got), got
        return [(m["job_id"], m["state"], m["error"]) for m in got]

    def workers(self) -> list[int]:
        """Pids of the pool's worker processes (Linux /proc)."""
        pid = self.process.pid
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid and b"spawn_main" in command:
                found.append(int(entry.name))
        return found


@pytest.fixture
def processor(tmp_path: Path) -> Iterator[Processor]:
    """A processor with two workers on a new database, ready."""
    config = load_config({"DB_PATH": str(tmp_path / "loglens.db"), "WORKERS": "2"})
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=run_processor, args=(theirs, config), name="processor")
    process.start()
    theirs.close()
    started = Processor(process, ours, config.db_path)
    assert started.receive() == {"type": "ready", "workers": 2}
    yield started
    ours.close()
    process.join(TIMEOUT)
    if process.is_alive():
        process.kill()
        pytest.fail("the processor did not exit when its pipe closed")


def queue_job(db_path: Path | str, name: str, content: str) -> int:
    """Record a stored upload (and its queued job) as the server does; return the job id."""

    async def queue() -> int:
        async with await Database.open(db_path) as db:
            upload_id = await db.create_upload("alice", name, 1, "0" * 64, "none")
            stored = await db.store_upload(upload_id, content.ljust(64, "0"), 1, name)
            return stored.job_id

    return asyncio.run(queue())


def read_job(db_path: Path | str, job_id: int) -> tuple[Job | None, dict[str, Any] | None]:
    """A job's row and its stored report."""

    async def read() -> tuple[Job | None, dict[str, Any] | None]:
        async with await Database.open(db_path) as db:
            return await db.job(job_id), await db.job_report(job_id)

    return asyncio.run(read())


def without_files(value: Any) -> Any:
    """A report with every file name taken out."""
    if isinstance(value, dict):
        return {k: without_files(v) for k, v in value.items() if k != "file"}
    if isinstance(value, list):
        return [without_files(v) for v in value]
    return value


def test_jobs_store_what_processor_py_reports(processor: Processor, make_log: MakeLog) -> None:
    logs = [make_log("log4j", lines=3000), make_log("python", lines=800)]
    jobs = {queue_job(processor.db_path, f"upload-{n}.log", f"c{n}"): path
            for n, (path, _truth) in enumerate(logs)}  # fmt: skip
    for job_id, path in jobs.items():
        processor.run(job_id, path, f"shown-{job_id}.log")
    states = processor.states(4)
    for job_id in jobs:
        mine = [state for j, state, _error in states if j == job_id]
        assert mine == ["running", "done"]
    for job_id, path in jobs.items():
        job, report = read_job(processor.db_path, job_id)
        assert job is not None and (job.state, job.attempts, job.error) == ("done", 1, None)
        assert job.runner and job.finished_at
        assert report is not None
        assert {f["file"] for f in report["formats"]} == {f"shown-{job_id}.log"}
        cli = run_cli(str(path), "--json", "--quiet")
        assert cli.code == 0, cli.err
        expected = json.loads(cli.out)
        assert expected["formats"][0]["file"] == str(path)
        assert without_files(report) == without_files(expected)
        assert report["entries"] > 0 and report["top_errors"]

    # The same job again (a duplicate message) is skipped: the next message is about another.
    first = next(iter(jobs))
    processor.run(first, jobs[first], "again.log")
    path, _ = make_log("zookeeper", lines=200)
    other = queue_job(processor.db_path, "other.log", "c9")
    processor.run(other, path, "other.log")
    assert processor.states(2) == [(other, "running", None), (other, "done", None)]
    job, _report = read_job(processor.db_path, first)
    assert job is not None and job.attempts == 1


def test_a_failed_job_does_not_stop_the_next(
    processor: Processor, make_log: MakeLog, tmp_path: Path
) -> None:
    binary = tmp_path / "image.png"
    binary.write_bytes(bytes(range(256)) * 400)
    missing = tmp_path / "gone.log"
    good, _ = make_log("hdfs", lines=400)
    bad_ids = [queue_job(processor.db_path, n, n) for n in ("bin", "gone")]
    good_id = queue_job(processor.db_path, "good.log", "good")
    processor.run(bad_ids[0], binary, "holiday.png")
    assert processor.states(2) == [
        (bad_ids[0], "running", None),
        (bad_ids[0], "failed", "holiday.png: binary file, not a text log"),
    ]
    for nonsense in ({"type": "job", "job_id": "x"}, {"type": "dance"}, "hello", None):
        processor.conn.send(nonsense)  # ignored, and logged
    processor.run(bad_ids[1], missing, "gone.log")
    processor.run(good_id, good, "good.log")
    states = processor.states(4)
    failed = [(j, s, e) for j, s, e in states if j == bad_ids[1] and s == "failed"]
    assert len(failed) == 1 and failed[0][2] is not None
    assert failed[0][2].startswith("gone.log: cannot read") and "No such file" in failed[0][2]
    assert (good_id, "done", None) in states
    job, _ = read_job(processor.db_path, bad_ids[0])
    assert job is not None
    assert (job.state, job.error) == ("failed", "holiday.png: binary file, not a text log")
    job, report = read_job(processor.db_path, good_id)
    assert job is not None and job.state == "done" and report is not None


def test_a_job_that_never_finishes_is_given_up(processor: Processor, make_log: MakeLog) -> None:
    path, _ = make_log("logfmt", lines=100)
    job_id = queue_job(processor.db_path, "crash.log", "crash")
    with sqlite3.connect(processor.db_path) as conn:  # three processors died under it
        conn.execute("UPDATE jobs SET attempts = ? WHERE id = ?", (MAX_ATTEMPTS, job_id))
    processor.run(job_id, path, "crash.log")
    ((got, state, error),) = processor.states(1)
    assert (got, state) == (job_id, "failed")
    assert error is not None and f"started {MAX_ATTEMPTS} times" in error
    job, _ = read_job(processor.db_path, job_id)
    assert job is not None and (job.state, job.attempts) == ("failed", MAX_ATTEMPTS + 1)


def test_empty_and_gzip_files(processor: Processor, make_log: MakeLog, tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.touch()
    plain, _ = make_log("nginx_error", lines=500)
    packed = tmp_path / "packed"  # a stored blob has no telling name
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    os.utime(packed, (plain.stat().st_mtime, plain.stat().st_mtime))
    ids = [queue_job(processor.db_path, n, n) for n in ("empty", "plain", "packed")]
    for job_id, path in zip(ids, (empty, plain, packed), strict=True):
        processor.run(job_id, path, "app.log")
    states = processor.states(6)
    assert sorted((j, s) for j, s, _e in states if s != "running") == [
        (job_id, "done") for job_id in ids
    ]
    reports = [read_job(processor.db_path, job_id)[1] for job_id in ids]
    assert reports[0] is not None and reports[0]["entries"] == reports[0]["lines"] == 0
    assert reports[1] is not None and reports[1]["entries"] > 0
    assert reports[1] == reports[2]


def test_a_dead_worker_is_replaced(processor: Processor, make_log: MakeLog) -> None:
    workers = _wait_for(processor.workers, 2)
    os.kill(workers[0], 9)
    path, _ = make_log("spark", lines=500)
    job_id = queue_job(processor.db_path, "spark.log", "spark")
    processor.run(job_id, path, "spark.log")
    assert processor.states(2) == [(job_id, "running", None), (job_id, "done", None)]
    replaced = _wait_for(processor.workers, 2)
    assert workers[0] not in replaced


def test_stop_finishes_running_jobs_and_leaves_the_rest_queued(
    processor: Processor, make_log: MakeLog
) -> None:
    path, _ = make_log("log4j", lines=2000)
    running = queue_job(processor.db_path, "a.log", "a")
    late = queue_job(processor.db_path, "b.log", "b")
    processor.run(running, path, "a.log")
    assert processor.receive() == messages.state(running, "running")
    processor.conn.send({"type": "stop"})
    processor.run(late, path, "b.log")
    assert processor.receive() == messages.state(running, "done")
    processor.process.join(TIMEOUT)
    assert processor.process.exitcode == 0
    job, _ = read_job(processor.db_path, late)
    assert job is not None and job.state == "queued"


def test_the_processor_and_its_workers_exit_when_the_pipe_closes(
    processor: Processor, make_log: MakeLog
) -> None:
    workers = _wait_for(processor.workers, 2)
    path, _ = make_log("log4j", lines=20_000)
    job_id = queue_job(processor.db_path, "big.log", "big")
    processor.run(job_id, path, "big.log")
    assert processor.receive() == messages.state(job_id, "running")
    processor.conn.close()  # the server died
    started = time.monotonic()
    processor.process.join(TIMEOUT)
    assert processor.process.exitcode is not None
    assert time.monotonic() - started < 10
    _wait_for(lambda: [pid for pid in workers if _alive(pid)], 0)
    job, _ = read_job(processor.db_path, job_id)
    # Left for the server's restart to requeue (or done, if it was quicker than the close).
    assert job is not None and job.state in ("running", "done")


def _wait_for(probe: Any, count: int, timeout: float = TIMEOUT) -> list[int]:
    """Poll `probe()` until it returns `count` items."""
    deadline = time.monotonic() + timeout
    while True:
        found: list[int] = probe()
        if len(found) == count or time.monotonic() > deadline:
            assert len(found) == count, found
            return found
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def service_log(path: Path, errors: int) -> Path:
    """An hour of a Python service; `errors` of its entries say a disk is full."""
    lines = []
    for n in range(1_200):
        stamp = f"2025-05-06 10:{n // 20:02d}:{n % 20 * 3:02d},000"
        if n % 100 == 50 and errors:
            lines.append(f"{stamp} - disk - ERROR - Disk sdb{n % 7} is full")
            errors -= 1
        elif n % 40 == 0:
            lines.append(f"{stamp} - db - WARNING - Slow query on shard {n % 9}")
        else:
            lines.append(f"{stamp} - web - INFO - Handled request {n * 7919 % 10007}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_templates_an_earlier_upload_of_the_source_never_had_are_new(
    processor: Processor, tmp_path: Path
) -> None:
    before = service_log(tmp_path / "monday.log", errors=0)
    after = service_log(tmp_path / "tuesday.log", errors=5)
    first = queue_job(processor.db_path, "app.log", "monday")
    processor.run(first, before, "app.log")
    assert processor.states(2) == [(first, "running", None), (first, "done", None)]
    second = queue_job(processor.db_path, "app.log", "tuesday")
    processor.run(second, after, "app.log")
    assert processor.states(2) == [(second, "running", None), (second, "done", None)]
    _, report = read_job(processor.db_path, second)
    assert report is not None
    new = [a for a in report["anomalies"] if a["kind"] == "new_template"]
    assert len(new) == 1, report["anomalies"]
    assert "Disk <*> is full" in new[0]["explanation"]
    assert "never seen in earlier uploads of this source" in new[0]["explanation"]
    # The same content under another name has no history: nothing is new there.
    other = queue_job(processor.db_path, "db.log", "tuesday-again")
    processor.run(other, after, "db.log")
    assert processor.states(2) == [(other, "running", None), (other, "done", None)]
    _, alone = read_job(processor.db_path, other)
    assert alone is not None
    assert not [a for a in alone["anomalies"] if "earlier uploads" in a["explanation"]]
