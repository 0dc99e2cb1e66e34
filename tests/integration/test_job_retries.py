"""Which unfinished starts count against a job, and how a failed job runs again: restarts
of the server do not count, a processor that dies under a job does; `loglens jobs retry`
and a re-upload of the content queue a failed job again."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from loglens.protocol import FrameType
from loglens.storage import SCHEMA_VERSION, Database
from tests.conftest import ROOT, MakeLog, Run
from tests.integration.conftest import ServerFactory, ServerHandle, blob, make_version_5, rows
from tests.integration.test_jobs import _PROCESSOR_PID, alive, descendants, mtime, wait_until
from tests.integration.test_storage import query, stored_upload
from tests.integration.wire import upload

# The processor died under a job this many times while the server ran: the job fails.
MAX_ATTEMPTS = 3


def jobs_cli(server: ServerHandle, *args: str) -> Run:
    """Run `python -m loglens jobs ARGS` on the server's database."""
    done = subprocess.run(
        [sys.executable, "-m", "loglens", "jobs", *args, "--db", str(server.db_path),
         "--env-file", os.devnull],
        capture_output=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


def big_log(make_log: MakeLog, tmp_path: Path) -> Path:
    """A log long enough for its job to be caught running."""
    sample, _ = make_log("log4j", lines=3000)
    big = tmp_path / "big.log"
    big.write_bytes(sample.read_bytes() * 60)
    os.utime(big, (sample.stat().st_mtime,) * 2)
    return big


def send(server: ServerHandle, path: Path, *, wait: bool = False) -> list[FrameType]:
    """Upload a file; the types of the frames the server answered."""
    frames = asyncio.run(
        upload(server.address, "s3cret", path.read_bytes(), name=path.name, mtime=mtime(path),
               wait=wait)
    )  # fmt: skip
    assert frames[-1].type is not FrameType.ERROR, frames[-1].body
    return [frame.type for frame in frames]


def job_state(server: ServerHandle) -> tuple[str, int]:
    """The state and attempts of the server's only job."""
    [(state, attempts)] = rows(server, "SELECT state, attempts FROM jobs")
    return str(state), int(attempts)


def wait_for_start(server: ServerHandle, attempt: int) -> None:
    """Wait until the job is started for the `attempt`th time (or has ended): running."""
    wait_until(
        lambda: (
            job_state(server)[0] in ("done", "failed") or job_state(server) == ("running", attempt)
        ),
        120,
        f"start {attempt} of the job",
    )
    assert job_state(server) == ("running", attempt), rows(server, "SELECT error FROM jobs")


def kill_processor(server: ServerHandle) -> list[int]:
    """SIGKILL the server's processor and its workers; their pids."""
    processor = int(_PROCESSOR_PID.findall(server.log())[-1])
    tree = [processor, *descendants(processor)]
    for pid in tree:
        os.kill(pid, signal.SIGKILL)
    return tree


def test_restarts_of_the_server_do_not_fail_the_job_they_interrupt(
    server_factory: ServerFactory, make_log: MakeLog, tmp_path: Path
) -> None:
    server = server_factory(WORKERS="1", CHUNK_BYTES="1MiB")
    send(server, big_log(make_log, tmp_path))
    for kill in range(MAX_ATTEMPTS + 1):
        wait_for_start(server, kill + 1)
        processor = int(_PROCESSOR_PID.findall(server.log())[-1])
        tree = [processor, *descendants(processor)]
        server.kill()
        if kill % 2:  # the whole tree at once, as a machine's crash or an OOM of the group
            for pid in tree:
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda t=tree: not any(alive(pid) for pid in t), 30, "the processor to exit")
        server.start()

    wait_until(lambda: job_state(server)[0] in ("done", "failed"), 120, "the job to end")
    assert rows(server, "SELECT state, error, attempts, interrupted FROM jobs") == [
        ("done", None, MAX_ATTEMPTS + 2, MAX_ATTEMPTS + 1)
    ]
    assert rows(server, "SELECT count(*) FROM results") == [(1,)]


def test_a_job_the_processor_died_under_fails_and_jobs_retry_runs_it_again(
    server_factory: ServerFactory, make_log: MakeLog, tmp_path: Path
) -> None:
    server = server_factory(WORKERS="1", CHUNK_BYTES="1MiB")
    send(server, big_log(make_log, tmp_path))
    # The processor dies under the job each time, the server up: as a file that kills it.
    for attempt in range(1, MAX_ATTEMPTS + 1):
        wait_for_start(server, attempt)
        kill_processor(server)
    wait_until(lambda: job_state(server)[0] in ("done", "failed"), 120, "the job to be given up")
    [(job_id, state, error)] = rows(server, "SELECT id, state, error FROM jobs")
    assert state == "failed" and f"started {MAX_ATTEMPTS} times" in error

    listed = jobs_cli(server, "list", "--state", "failed")
    assert listed.code == 0, listed.err
    assert listed.out.split("\n")[1].split()[:2] == [str(job_id), "failed"]
    assert jobs_cli(server, "list", "--state", "done").out == "no jobs\n"

    retried = jobs_cli(server, "retry", str(job_id))
    assert retried.code == 0, retried.err
    assert f"job {job_id} (big.log) queued again" in retried.out
    # The running server picks it up, with its attempts counted afresh.
    wait_until(lambda: job_state(server)[0] in ("done", "failed"), 120, "the retried job")
    assert rows(server, "SELECT state, error, attempts FROM jobs") == [("done", None, 1)]
    assert rows(server, "SELECT count(*) FROM results") == [(1,)]

    again = jobs_cli(server, "retry", str(job_id))
    assert (again.code, again.out) == (1, "")
    assert f"job {job_id} (big.log) is done: only a failed job can be retried" in again.err
    unknown = jobs_cli(server, "retry", "999")
    assert unknown.code == 1 and "there is no job 999" in unknown.err
    assert jobs_cli(server, "retry", "one").code == 2
    assert jobs_cli(server, "list", "--state", "lost").code == 2
    assert jobs_cli(server, "retry").code == 2


def test_a_reupload_of_failed_content_runs_its_job_again(
    server_factory: ServerFactory, make_log: MakeLog
) -> None:
    server = server_factory()
    log, _ = make_log("syslog", lines=800)
    # A real failure: the processor, held still, finds the file gone when it runs the job.
    wait_until(lambda: "processor ready" in server.log(), 60, "the processor")
    processor = int(_PROCESSOR_PID.findall(server.log())[-1])
    frozen = [processor, *descendants(processor)]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    send(server, log)
    stored = blob(server, log.read_bytes())
    hidden = stored.rename(stored.with_name("hidden"))
    for pid in frozen:
        os.kill(pid, signal.SIGCONT)
    wait_until(lambda: job_state(server)[0] == "failed", 60, "the job to fail")
    hidden.rename(stored)

    frames = asyncio.run(
        upload(server.address, "hunter2", log.read_bytes(), name=log.name, mtime=mtime(log),
               wait=True)
    )  # fmt: skip
    # The content is stored once (bob sends the bytes: only alice stored them; issue 13).
    assert frames[1].field("duplicate") is True
    assert frames[-1].type is FrameType.PROCESSED
    assert (frames[-1].field("state"), frames[-1].field("error")) == ("done", None)
    assert frames[-1].field("report")["entries"] > 0
    assert rows(server, "SELECT state, error, attempts FROM jobs") == [("done", None, 1)]
    assert rows(server, "SELECT status, duplicate FROM uploads ORDER BY id") == [
        ("stored", 0),
        ("stored", 1),
    ]
    assert rows(server, "SELECT count(*) FROM results") == [(1,)]


async def test_a_version_3_database_is_upgraded_with_no_start_interrupted(tmp_path: Path) -> None:
    db_path = tmp_path / "db"
    async with await Database.open(db_path) as db:
        upload_id = await stored_upload(db, "alice", "e" * 64)
        job = await db.job_for_upload(upload_id)
        assert job is not None and await db.start_job(job.id, "r") is not None
    with sqlite3.connect(db_path) as conn:  # what loglens wrote before version 4
        make_version_5(conn)
        conn.execute("ALTER TABLE jobs DROP COLUMN interrupted")
        conn.execute("PRAGMA user_version = 3")
    async with await Database.open(db_path) as db:
        [requeued] = await db.requeue_unfinished()  # the server starts, after the upgrade
        assert (requeued.attempts, requeued.interrupted, requeued.counted_attempts) == (1, 1, 0)
    assert query(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert query(db_path, "SELECT state, attempts, interrupted FROM jobs") == [("queued", 1, 1)]
