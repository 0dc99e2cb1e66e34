"""Faults around a connection: a server killed mid-upload, a peer that resets at the close."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from loglens.server.session import close_gently
from loglens.server.stream import Stream
from tests.conftest import ROOT, MakeLog
from tests.integration.conftest import SERVER_SETTINGS, ServerFactory, ServerHandle, rows

_MIB = 1024 * 1024
_TCP_CLOSE = 7  # tcpi_state, the first byte of Linux's struct tcp_info


def write_big_log(path: Path, mebibytes: int) -> None:
    """A log of `mebibytes` MiB of distinct lines, written a MiB at a time."""
    line = b"2024-05-01 10:00:00,000 INFO [worker-%03d] request %07d served in 12 ms\n"
    with path.open("wb") as out:
        for block in range(mebibytes):
            lines = b"".join(line % (block % 1000, n) for n in range(_MIB // len(line % (0, 0))))
            out.write(lines.ljust(_MIB, b"\n"))


def received(server: ServerHandle) -> int:
    """The bytes of the unfinished uploads the server has written so far."""
    total = 0
    for part in server.storage_path.glob("partial/*.part"):
        with contextlib.suppress(FileNotFoundError):  # stored (renamed) meanwhile
            total += part.stat().st_size
    return total


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition()` until it is true, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def test_the_client_resumes_after_the_server_is_killed_mid_upload(
    server_factory: ServerFactory, make_log: MakeLog, tmp_path: Path
) -> None:
    server = server_factory()
    big = tmp_path / "big.log"
    write_big_log(big, 200)
    size = big.stat().st_size
    small, _ = make_log("log4j", lines=200)
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
    env.update(LOGLENS_SERVER=server.address, LOGLENS_TOKEN="s3cret")
    # One file at a time: the small file is sent only after the big one is stored.
    client = subprocess.Popen(
        [sys.executable, str(ROOT / "client.py"), str(big), str(small),
         "--parallel", "1", "--retries", "10", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        wait_until(lambda: received(server) >= 16 * _MIB, 60, "16 MiB to reach the server")
        # Stopped first, so that the upload is certainly unfinished when it is killed:
        # the client is still sending, with 180 MiB left that no socket buffer holds.
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSTOP)
        held = received(server)
        assert 16 * _MIB <= held < size
        server.kill()
        server.env["PORT"] = str(server.port)  # the same port, storage and database
        server.start()
        out, err = client.communicate(timeout=120)
    finally:
        client.kill()
    assert client.returncode == 0, err.decode()
    assert b"reconnecting" in err  # it did lose the connection (logged as a warning)
    stored = rows(
        server,
        "SELECT u.original_name, u.status, b.path FROM uploads u "
        "LEFT JOIN blobs b ON b.id = u.blob_id ORDER BY u.id",
    )
    assert [(name, status) for name, status, _ in stored] == [
        (str(big), "stored"),
        (str(small), "stored"),
    ]
    digest = hashlib.sha256()
    with (server.storage_path / stored[0][2]).open("rb") as blob:
        while chunk := blob.read(_MIB):
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(big.read_bytes()).hexdigest()
    assert (server.storage_path / stored[1][2]).read_bytes() == small.read_bytes()
    assert f"{big}: stored as upload" in out.decode()


def tcp_state(sock: socket.socket) -> int:
    """The kernel's TCP state of a socket (Linux)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


async def test_closing_a_connection_the_peer_has_reset_raises_nothing() -> None:
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[Stream] = loop.create_future()

    async def serve(stream: Stream) -> None:
        accepted.set_result(stream)

    listener = await loop.create_server(lambda: Stream(serve), "127.0.0.1", 0)
    try:
        port = listener.sockets[0].getsockname()[1]
        peer = await loop.run_in_executor(None, socket.create_connection, ("127.0.0.1", port))
        stream = await asyncio.wait_for(accepted, 10)
        # FIN, then RST: after the end of the stream a server's transport stops reading,
        # so the reset goes unseen and shutdown() meets a closed socket (ENOTCONN).
        peer.shutdown(socket.SHUT_WR)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()
        ours = stream.get_extra_info("socket")
        deadline = time.monotonic() + 10
        while tcp_state(ours) != _TCP_CLOSE:  # the loop does not run: nothing reads it
            assert time.monotonic() < deadline, "the reset never arrived"
            time.sleep(0.001)
        await close_gently(stream, seconds=5)
        assert stream.is_closing()
    finally:
        listener.close()
        await listener.wait_closed()
