"""`python client.py --follow`: logs followed into a real server as streams, through
rotation, truncation, a file that is not there yet, and the client or the server killed.

Each step writes lines, then waits (a generous deadline, never a fixed sleep) until the
database counts every line so far; a count above the lines written fails at once. The
end state must count every line written exactly once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import (
    DISK_BYTES,
    SERVER_SETTINGS,
    ServerFactory,
    ServerHandle,
    rows,
)
from tests.integration.test_follow_cli import RULES
from tests.integration.webhook import Webhook

DEADLINE = 60.0


def _lines(start: int, count: int) -> str:
    """Lines numbered from `start`, one a second of log time; every tenth is an ERROR."""
    return "".join(
        f"2026-12-07 10:{n // 60 % 60:02d}:{n % 60:02d},123 "
        f"{'ERROR' if n % 10 == 0 else 'INFO'} [db.pool] request {n} took {n % 97} ms\n"
        for n in range(start, start + count)
    )


class _Client:
    """A real `client.py --follow` subprocess; what it says goes to a file."""

    def __init__(
        self, server: ServerHandle, root: Path, *args: str, stdin: int | None = None
    ) -> None:
        env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
        env.update(
            LOGLENS_SERVER=server.address,
            LOGLENS_TOKEN=server.tokens["alice"],
            LOGLENS_RESUME_DIR=str(root / "records"),
        )
        self.said = root / f"client-{time.monotonic_ns()}.err"
        with self.said.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "client.py"), "--follow", *args],
                stdin=stdin, stdout=err, stderr=err, env=env, cwd=root,
            )  # fmt: skip

    def text(self) -> str:
        return self.said.read_text(errors="replace")

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(DEADLINE)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(DEADLINE)


def counted(server: ServerHandle, name: str) -> tuple[int, dict[str, int]]:
    """Entries and entries per level of the stream named `name` (0 before its results)."""
    found = rows(
        server,
        "SELECT l.level, l.count FROM uploads AS u JOIN level_counts AS l"
        " ON l.blob_id = u.blob_id WHERE u.original_name = ? AND u.kind = 'stream'",
        name,
    )
    levels = {str(level): int(count) for level, count in found}
    return sum(levels.values()), levels


def wait_for_count(server: ServerHandle, name: str, expected: int, client: _Client) -> None:
    """Wait until the stream counts `expected` entries; more is a failure at once."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        entries, _levels = counted(server, name)
        assert entries <= expected, f"{entries} entries counted of {expected} written"
        if entries == expected:
            return
        assert client.process.poll() is None, client.text()
        time.sleep(0.05)
    raise AssertionError(f"{counted(server, name)[0]} of {expected} within {DEADLINE} s\n"
                         f"{client.text()}\n{server.log()[-3000:]}")  # fmt: skip


def test_rotation_truncation_and_a_file_not_there_yet(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    server, path = loglens_server, tmp_path / "app.log"
    client = _Client(server, tmp_path, "app.log")
    try:
        time.sleep(0.5)  # the client waits for a file that does not exist yet
        path.write_text(_lines(0, 300))
        wait_for_count(server, "app.log", 300, client)
        # Rotation: a last line lands in the old file after the rename, then a new file.
        os.rename(path, tmp_path / "app.log.1")
        with (tmp_path / "app.log.1").open("a") as handle:
            handle.write(_lines(300, 1))
        path.write_text(_lines(301, 199))
        wait_for_count(server, "app.log", 500, client)
        # Truncation (copytruncate): emptied, then written again.
        with path.open("r+") as handle:
            handle.truncate(0)
        path.write_text(_lines(500, 50))
        wait_for_count(server, "app.log", 550, client)
    finally:
        status = client.stop()
    assert status == 130, client.text()
    assert "stopped following" in client.text()
    assert counted(server, "app.log") == (550, {"INFO": 495, "ERROR": 55})
    # Stopped, the stream stays open (the same command goes on); its job keeps running.
    assert rows(server, "SELECT kind, ended_at FROM uploads") == [("stream", None)]


def test_a_client_killed_mid_transfer_goes_on_where_the_server_holds_it(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    server, path = loglens_server, tmp_path / "big.log"
    path.write_text(_lines(0, 400_000))  # ~26 MB: still being sent when killed
    client = _Client(server, tmp_path, "big.log")
    deadline = time.monotonic() + DEADLINE
    stream = server.storage_path / "streams" / "1.log"
    while not (stream.exists() and stream.stat().st_size > 0):
        assert time.monotonic() < deadline, client.text()
        time.sleep(0.01)
    client.kill()  # SIGKILL: no goodbye, some bytes sent but not acknowledged
    held = stream.stat().st_size
    # Meanwhile the file goes on, and rotates.
    with path.open("a") as handle:
        handle.write(_lines(400_000, 500))
    os.rename(path, tmp_path / "big.log.1")
    path.write_text(_lines(400_500, 500))
    again = _Client(server, tmp_path, "big.log")
    try:
        wait_for_count(server, "big.log", 401_000, again)
    finally:
        again.stop()
    assert "stream 1 resumed at byte" in again.text(), again.text()
    assert held < len(_lines(0, 400_000)), "the kill came too late to test a resume"
    assert counted(server, "big.log") == (401_000, {"INFO": 360_900, "ERROR": 40_100})
    expected = _lines(0, 401_000).encode()
    assert stream.read_bytes() == expected  # the stream is the file's lines, once each


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_server_killed_and_restarted_loses_and_doubles_nothing(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(PORT=str(_free_port()))
    path = tmp_path / "app.log"
    path.write_text(_lines(0, 400))
    client = _Client(server, tmp_path, "app.log")
    try:
        wait_for_count(server, "app.log", 400, client)
        server.kill()  # SIGKILL; its processor follows it
        with path.open("a") as handle:
            handle.write(_lines(400, 300))  # written while the server is down
        server.start()  # the same port, storage and database
        with path.open("a") as handle:
            handle.write(_lines(700, 300))
        wait_for_count(server, "app.log", 1000, client)
        assert "reconnecting" in client.text()
    finally:
        client.stop()
    assert counted(server, "app.log") == (1000, {"INFO": 900, "ERROR": 100})


def test_a_server_stopped_does_not_wait_for_its_streams_and_they_go_on_after(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(PORT=str(_free_port()))
    path = tmp_path / "app.log"
    path.write_text(_lines(0, 200))
    client = _Client(server, tmp_path, "app.log")
    try:
        wait_for_count(server, "app.log", 200, client)
        assert server.stop() == 0  # SIGTERM: a graceful stop
        # A stream never ends by itself: the stop does not wait for it as for an upload.
        assert "waiting up to" not in server.log()
        assert "stream job 1: stopping" in server.log()
        with path.open("a") as handle:
            handle.write(_lines(200, 100))
        server.start()
        wait_for_count(server, "app.log", 300, client)
    finally:
        client.stop()
    assert counted(server, "app.log") == (300, {"INFO": 270, "ERROR": 30})


def test_a_full_disk_pauses_a_stream_until_there_is_room(
    small_disk: Path, server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(STORAGE_PATH=str(small_disk))
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * (DISK_BYTES - 2 * 1024 * 1024))
    path = tmp_path / "app.log"
    path.write_text(_lines(0, 100))
    client = _Client(server, tmp_path, "app.log")
    try:
        wait_for_count(server, "app.log", 100, client)
        with path.open("a") as handle:  # ~2.6 MB: more than the disk has left
            handle.write(_lines(100, 40_000))
        deadline = time.monotonic() + DEADLINE
        while "disk full" not in client.text():
            assert time.monotonic() < deadline and client.process.poll() is None, client.text()
            time.sleep(0.05)
        ballast.unlink()  # the operator makes room: the stream goes on by itself
        wait_for_count(server, "app.log", 40_100, client)
    finally:
        client.stop()
    assert counted(server, "app.log") == (40_100, {"INFO": 36_090, "ERROR": 4_010})


def test_standard_input_is_one_stream_that_ends_with_the_input(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    server = loglens_server
    source = tmp_path / "journal.txt"
    source.write_text(_lines(0, 250) + "a last line without a newline")
    with source.open("rb") as stdin:
        client = _Client(server, tmp_path, "-", "--name", "journal", stdin=stdin.fileno())
        assert client.process.wait(DEADLINE) == 0, client.text()
    assert "ended" in client.text()
    deadline = time.monotonic() + DEADLINE
    while rows(server, "SELECT state FROM jobs") != [("done",)]:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    [(size, ended, lines)] = rows(
        server,
        "SELECT u.size, u.ended_at, r.lines FROM uploads AS u"
        " JOIN results AS r ON r.blob_id = u.blob_id",
    )
    assert size == source.stat().st_size and ended is not None and lines == 251


def test_a_followed_path_that_cannot_be_read_ends_the_follow_with_a_named_error(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    client = _Client(loglens_server, tmp_path, "app.log")
    try:
        time.sleep(0.5)  # not there yet: waited for
        (tmp_path / "app.log").mkdir()  # then something that is no file
        assert client.process.wait(DEADLINE) == 1
    finally:
        client.stop()
    assert "error: app.log: cannot read app.log: Is a directory" in client.text(), client.text()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--follow", "--wait", "a.log"), "--wait and --json are for files sent whole"),
        (("--follow", "a.log", "a.log"), "a file is given twice"),
        (("--follow", "."), "is a directory"),
        (("--follow", "old.log.gz"), "is gzip, which does not grow line by line"),
    ],
)
def test_bad_follow_flags_are_usage_errors(
    tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "client.py"), *args],
        capture_output=True, cwd=tmp_path, timeout=DEADLINE,
        env={**os.environ, "LOGLENS_TOKEN": "t"},
    )  # fmt: skip
    assert done.returncode == 2 and words in done.stderr.decode(), done.stderr


def test_alerts_fire_on_a_stream_once_per_incident(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    hook = Webhook()
    server = server_factory(ALERT_RULES_FILE=str(rules), ALERT_WEBHOOK_URL=hook.url)
    path = tmp_path / "app.log"
    quiet = "".join(
        f"2026-12-07 10:{n // 60:02d}:{n % 60:02d},000 INFO [app.web] request {n} served\n"
        for n in range(300)
    )
    path.write_text(quiet)
    client = _Client(server, tmp_path, "app.log")
    try:
        wait_for_count(server, "app.log", 300, client)
        assert hook.received.empty()
        burst = "".join(
            f"2026-12-07 10:05:{n % 60:02d},500 ERROR [db.pool] connection to db-{n % 3} lost\n"
            for n in range(60)
        )
        for part in range(3):  # the burst arrives over several stores of the results
            with path.open("a") as handle:
                handle.write(burst[part * len(burst) // 3 : (part + 1) * len(burst) // 3])
            time.sleep(0.5)
        wait_for_count(server, "app.log", 360, client)
        _came, fired = hook.received.get(timeout=DEADLINE)
        assert (fired["event"], fired["rule"]) == ("firing", "error burst")
        more = "".join(
            f"2026-12-07 10:06:{n % 60:02d},000 INFO [app.web] request {n} served\n"
            for n in range(30)
        )
        with path.open("a") as handle:
            handle.write(more)
        wait_for_count(server, "app.log", 390, client)
    finally:
        client.stop()
        hook.close()
    # The same incident stays one alert, however often the stream's results were stored.
    assert rows(server, "SELECT COUNT(*) FROM alerts WHERE rule = 'error burst'") == [(1,)]
    assert hook.received.empty()
