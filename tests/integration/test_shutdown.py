"""Ctrl-C on the server, as a terminal sends it: SIGINT to the whole process group (the
server, the processor and every worker). The server decides: no process prints a
traceback, the running job finishes (or goes back to the queue uncounted), and a client
waiting for it gets its result or a retryable answer that names the shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, MakeLog
from tests.integration.conftest import SERVER_SETTINGS, ServerFactory, ServerHandle, rows
from tests.integration.test_job_retries import big_log, job_state, send
from tests.integration.test_jobs import wait_until

_NOISE = ("Traceback", "KeyboardInterrupt", "CancelledError")


def ctrl_c(server: ServerHandle) -> int:
    """SIGINT the server's whole process group, as Ctrl-C in its terminal does; wait for
    the server to exit and return its exit status."""
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGINT)
    return server.process.wait(60)


def assert_job_kept(server: ServerHandle) -> None:
    """The job was not failed by the stop: it is done with its results, or queued again
    with its interrupted start not counted against it."""
    [(state, error, attempts, interrupted)] = rows(
        server, "SELECT state, error, attempts, interrupted FROM jobs"
    )
    assert state in ("done", "queued"), (state, error)
    if state == "done":
        assert rows(server, "SELECT count(*) FROM results") == [(1,)]
    else:
        assert (attempts, interrupted) == (1, 1)


def test_ctrl_c_lets_the_running_job_finish_and_prints_no_traceback(
    server_factory: ServerFactory, make_log: MakeLog, tmp_path: Path
) -> None:
    server = server_factory(WORKERS="1", CHUNK_BYTES="1MiB")
    send(server, big_log(make_log, tmp_path))
    wait_until(lambda: job_state(server)[0] != "queued", 120, "the job to start")
    assert job_state(server) == ("running", 1)

    assert ctrl_c(server) == 0
    log = server.log()
    for noise in _NOISE:
        assert noise not in log, log
    assert_job_kept(server)
    assert "server stopped" in log


def test_ctrl_c_gives_a_waiting_client_the_result_or_a_retryable_reason(
    server_factory: ServerFactory, make_log: MakeLog, tmp_path: Path
) -> None:
    server = server_factory(WORKERS="1", CHUNK_BYTES="1MiB")
    big = big_log(make_log, tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
    env.update(LOGLENS_SERVER=server.address, LOGLENS_TOKEN="s3cret")
    # Its own process group: the Ctrl-C is the server's terminal's, not the client's.
    client = subprocess.Popen(
        [sys.executable, str(ROOT / "client.py"), str(big), "--wait", "--retries", "0",
         "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: rows(server, "SELECT state FROM jobs") == [("running",)], 120, "a job")
        assert ctrl_c(server) == 0
        out, err = client.communicate(timeout=120)
    finally:
        client.kill()
    log = server.log()
    for noise in _NOISE:
        assert noise not in log, log
    assert_job_kept(server)
    state = job_state(server)[0]
    if state == "done":
        assert client.returncode == 0, err.decode()
        assert out.strip(), "the client printed no result"
    else:
        assert client.returncode != 0
        assert b"shutting down" in err, err.decode()
