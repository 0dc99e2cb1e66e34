"""Machinery of the upload benchmark: a real server process, the raw copy, CPU accounting.

- `ServerProcess`: `python server.py` on port 0 in its own session, with its own storage
  and database under a folder; it is ready when it listens, its processor is ready and
  the whole process tree has gone quiet (the workers have loaded the engine).
- The raw socket copy, the physical limit of an upload: the sender `socket.sendfile`s the
  file; the receiver, another process (`python -m benchmarks.uploadkit DIR`), `recv_into`s
  1 MiB buffers, writes them to a file in DIR, fsyncs it at the end and answers one byte.
- CPU seconds of a process tree and of the whole machine, so that each figure comes with
  the CPU the other users of this machine took meanwhile.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.proctree import process_tree

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "s3cret"
_LISTENING = re.compile(r"listening on (\S+):(\d+)")
_START_SECONDS = 60.0
_TICK = os.sysconf("SC_CLK_TCK")
_RAW_BUFFER = 1024 * 1024
# A process tree is quiet when it used less than this share of a CPU over QUIET_SECONDS.
_QUIET_SHARE = 0.05
_QUIET_SECONDS = 0.5


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) one process has used so far; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu(root: int) -> float:
    """CPU seconds the live processes of the tree under `root` have used so far."""
    return sum(process_cpu(pid) for pid in process_tree(root))


def machine_cpu() -> float:
    """CPU seconds all CPUs of the machine have been busy (not idle, not waiting for I/O)."""
    with open("/proc/stat") as handle:
        ticks = [int(value) for value in handle.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / _TICK


class ServerProcess:
    """A `python server.py` in its own session, storing under `root`."""

    def __init__(self, root: Path, workers: int) -> None:
        self.root = root
        self.storage = root / "storage"
        self.db_path = root / "loglens.db"
        self.log_path = root / "server.log"
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None
        self.address = ("", 0)

    def start(self) -> ServerProcess:
        """Start it and wait until it listens, its processor is ready and it is quiet;
        a server that does not get there is killed."""
        self.root.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _SERVER_SETTINGS}
        env.update(
            {
                "HOST": "127.0.0.1",
                "PORT": "0",
                "STORAGE_PATH": str(self.storage),
                "DB_PATH": str(self.db_path),
                "AUTH_TOKENS": f"bench:{TOKEN}",
                "WORKERS": str(self.workers),
            }
        )
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "server.py"), "--env-file", os.devnull],
                stdout=log, stderr=log, env=env, cwd=self.root, start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_ready(self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            log_text = self.log()
            match = _LISTENING.search(log_text)
            if match and "processor ready" in log_text:
                self.address = (match.group(1), int(match.group(2)))
                wait_quiet(process.pid, deadline)
                return
            if process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{log_text}")
            time.sleep(0.05)
        raise RuntimeError(f"the server was not ready within {_START_SECONDS:g} s:\n{self.log()}")

    @property
    def pid(self) -> int:
        """The server's main process (the event loop)."""
        assert self.process is not None, "the server is not started"
        return self.process.pid

    def log(self) -> str:
        """What the server has logged so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Kill the server and all its processes (its storage is thrown away anyway) but
        multiprocessing's resource trackers, which then unlink the semaphores the others
        left in /dev/shm and exit by themselves."""
        if self.process is None:
            return
        for pid in process_tree(self.process.pid):
            try:
                if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
            except OSError:  # gone already
                continue
        self.process.wait(10)
        self.process = None


_SERVER_SETTINGS = {
    "HOST", "PORT", "STORAGE_PATH", "DB_PATH", "AUTH_TOKENS", "AUTH_TOKENS_FILE", "WORKERS",
    "MAX_HEADER_BYTES", "MAX_FRAME_BYTES", "MAX_UPLOAD_BYTES", "MAX_DECOMPRESSED_BYTES",
    "MAX_CONNECTIONS", "IDLE_TIMEOUT", "BROKER_URL", "DIRECT_RECEIVE_BYTES",
}  # fmt: skip


def wait_quiet(pid: int, deadline: float) -> None:
    """Wait until the process tree under `pid` stays nearly idle for a moment."""
    before = tree_cpu(pid)
    while time.monotonic() < deadline:
        time.sleep(_QUIET_SECONDS)
        now = tree_cpu(pid)
        if now - before < _QUIET_SHARE * _QUIET_SECONDS:
            return
        before = now


def wait_for_machine(cpus: float, timeout: float) -> float:
    """Wait up to `timeout` s until the machine stays under `cpus` busy CPUs for a second
    (other engineers' tests come in bursts); return the busy CPUs of the last second."""
    deadline = time.monotonic() + timeout
    while True:
        before = machine_cpu()
        time.sleep(1.0)
        busy = machine_cpu() - before
        if busy < cpus or time.monotonic() >= deadline:
            return busy


def raw_copy(path: Path, folder: Path) -> tuple[float, float]:
    """Copy `path` over loopback into `folder` the fastest plain way; return the seconds
    from connect to the receiver's answer (after its fsync) and the receiver's CPU seconds."""
    receiver = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.uploadkit", str(folder)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline())
        start = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as sock, path.open("rb") as handle:
            sock.sendfile(handle)
            sock.shutdown(socket.SHUT_WR)
            answer = sock.recv(1)
            seconds = time.perf_counter() - start
            cpu = process_cpu(receiver.pid)  # it waits for our close: still readable
        if answer != b"k" or receiver.wait(30) != 0:
            raise RuntimeError(f"the raw receiver failed (answer {answer!r})")
        return seconds, cpu
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
        (folder / "raw.copy").unlink(missing_ok=True)


def _receive(folder: Path) -> None:
    """The raw receiver: one connection into `folder/raw.copy`, fsynced, then b"k"."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        conn, _ = listener.accept()
    buffer = bytearray(_RAW_BUFFER)
    view = memoryview(buffer)
    with conn, open(folder / "raw.copy", "wb", buffering=0) as out:
        while count := conn.recv_into(buffer):
            out.write(view[:count])
        os.fsync(out.fileno())
        # Waiting here until the sender has our answer keeps our CPU time readable.
        conn.sendall(b"k")
        conn.recv(1)


if __name__ == "__main__":
    _receive(Path(sys.argv[1]))
