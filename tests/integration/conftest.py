"""A real `python server.py` in a subprocess, on port 0, with its own storage and database."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from loglens import config
from tests.conftest import ROOT, SETTINGS
from tests.integration.proxy import Proxy

TOKENS = {"alice": "s3cret", "bob": "hunter2"}
DISK_BYTES = 8 * 1024 * 1024  # the size of `small_disk`
_LISTENING = re.compile(r"listening on (\S+):(\d+)")
_START_SECONDS = 60
# Everything the server, the API and the client read from the environment: tests set their own.
SERVER_SETTINGS = (
    *SETTINGS,
    *sorted(config.SERVER_SETTINGS - set(SETTINGS)),
    "API_HOST",
    "API_PORT",
    "LOGLENS_SERVER",
    "LOGLENS_TOKEN",
)


@dataclass
class ServerHandle:
    """A running server process and where it keeps things."""

    root: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    host: str = ""
    port: int = 0
    tokens: dict[str, str] = field(default_factory=lambda: dict(TOKENS))
    starts: int = 0

    @property
    def address(self) -> str:
        """HOST:PORT to connect to."""
        return f"{self.host}:{self.port}"

    @property
    def db_path(self) -> Path:
        """The server's SQLite database."""
        return self.root / "loglens.db"

    @property
    def storage_path(self) -> Path:
        """The server's STORAGE_PATH."""
        return self.root / "storage"

    @property
    def log_path(self) -> Path:
        """What the current server process wrote to stderr."""
        return self.root / f"server-{self.starts}.log"

    def log(self) -> str:
        """The current server process's log so far."""
        return self.log_path.read_text(errors="replace")

    def start(self) -> ServerHandle:
        """Start the server and wait until it listens."""
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
        env.update(
            {
                "HOST": "127.0.0.1",
                "PORT": "0",
                "STORAGE_PATH": str(self.storage_path),
                "DB_PATH": str(self.db_path),
                "AUTH_TOKENS": ",".join(f"{op}:{tok}" for op, tok in self.tokens.items()),
                "WORKERS": "2",
            }
        )
        env.update(self.env)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "server.py"), "--env-file", os.devnull],
                stdout=log, stderr=log, env=env, cwd=self.root, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log())
            if match:
                self.host, self.port = match.group(1), int(match.group(2))
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{self.log()}")
            time.sleep(0.05)
        raise RuntimeError(f"the server did not listen within {_START_SECONDS} s:\n{self.log()}")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM the server and wait for its graceful exit; return its exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the server process alone (its processor must notice and exit)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def cleanup(self) -> None:
        """Kill whatever is left of every process this server started, but multiprocessing's
        resource trackers: once the processes they served are gone, each one unlinks the
        semaphores those left and exits by itself (killed with them, it left the semaphores
        in /dev/shm)."""
        if self.process is None:
            return
        for pid, command in _process_group(self.process.pid).items():
            if b"resource_tracker" not in command:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.process.wait(10)


def _process_group(group: int) -> dict[int, bytes]:
    """The live processes of a process group, with their command lines."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found[int(entry)] = command
    return found


ServerFactory = Callable[..., ServerHandle]


# How the servers receive an upload's DATA frames: "event loop" (the default for uploads
# under DIRECT_RECEIVE_BYTES, so for every test file), or "direct thread" (every upload
# by a thread reading the socket). Test modules about receiving override
# `receive_path` with both.
RECEIVE_PATHS = {"event loop": {}, "direct thread": {"DIRECT_RECEIVE_BYTES": "0"}}


@pytest.fixture
def receive_path(request: pytest.FixtureRequest) -> str:
    """How the servers receive DATA frames (see RECEIVE_PATHS): "event loop", unless a
    module asks for both with `BOTH_RECEIVE_PATHS`."""
    return str(getattr(request, "param", "event loop"))


# `pytestmark = BOTH_RECEIVE_PATHS` runs every test of a module on both receive paths.
BOTH_RECEIVE_PATHS = pytest.mark.parametrize("receive_path", list(RECEIVE_PATHS), indirect=True)


@pytest.fixture
def server_factory(tmp_path: Path, receive_path: str) -> Iterator[ServerFactory]:
    """Make servers with extra settings: `server_factory(IDLE_TIMEOUT="1")`."""
    handles: list[ServerHandle] = []

    def make(**env: str) -> ServerHandle:
        root = tmp_path / f"server{len(handles)}"
        root.mkdir()
        handle = ServerHandle(root, {**RECEIVE_PATHS[receive_path], **env})
        handles.append(handle)
        return handle.start()

    yield make
    for handle in handles:
        handle.cleanup()


@pytest.fixture
def loglens_server(server_factory: ServerFactory) -> ServerHandle:
    """A server with the default settings and the operators alice and bob."""
    return server_factory()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of DISK_BYTES mounted in tmp_path (needs root)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(disk)],
        capture_output=True, text=True,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"mount of a tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], check=True)


def rows(server: ServerHandle, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Query the server's database, as anyone may while it runs."""
    with sqlite3.connect(server.db_path) as db:
        return db.execute(sql, args).fetchall()


def make_version_5(conn: sqlite3.Connection) -> None:
    """Make a SQLite database what loglens wrote before version 6: no stream columns."""
    conn.execute("ALTER TABLE uploads DROP COLUMN ended_at")
    conn.execute("ALTER TABLE uploads DROP COLUMN kind")
    conn.execute("PRAGMA user_version = 5")


def stored_files(server: ServerHandle) -> list[Path]:
    """Every file under STORAGE_PATH."""
    return sorted(p for p in server.storage_path.rglob("*") if p.is_file())


def blob(server: ServerHandle, data: bytes) -> Path:
    """Where the server keeps content `data`."""
    sha = hashlib.sha256(data).hexdigest()
    return server.storage_path / "blobs" / sha[:2] / sha


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A DATABASE_URL of the test PostgreSQL, in an empty schema of this test alone."""
    from tests.integration.postgres import fresh_schema

    with fresh_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """Where a test's results database goes: a SQLite file, then an empty PostgreSQL
    schema (the same test runs on both, and must give the same answers)."""
    if request.param == "sqlite":
        yield tmp_path / "loglens.db"
        return
    from tests.integration.postgres import fresh_schema

    with fresh_schema() as url:
        yield url


@pytest.fixture
def proxy_to() -> Iterator[Callable[[int], Proxy]]:
    """Make TCP proxies a test can cut (`proxy_to(5672)`), all closed at its end."""
    made: list[Proxy] = []

    def make(target: int) -> Proxy:
        made.append(Proxy(target))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()
